"""Per-step cost settings: optimiser implementation (``fused``), cuDNN benchmark mode and
the CUDA graph decision and its fallback, on CPU (the CUDA paths: tests/test_gpu.py)."""

from __future__ import annotations

import contextlib

import pytest
import torch

from deap_nas.evaluation import cuda_graph, engine
from deap_nas.evaluation.config import TrainConfig
from deap_nas.evaluation.engine import train
from deap_nas.evaluation.optim import implementation, make_optimizer
from tests.test_engine import curve, data, tiny  # noqa: F401  (data: a fixture)

CUDA = torch.device("cuda")
CPU = torch.device("cpu")


def cfg(**kw) -> TrainConfig:
    base = {"epochs": 2, "batch_size": 64, "lr": 0.1, "schedule": "cosine", "keep_best_state": True}
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("field", ["fused", "cuda_graph"])
def test_modes_are_checked_and_yaml_booleans_read_as_on_off(field: str) -> None:
    assert getattr(TrainConfig(**{field: False}), field) == "off"
    assert TrainConfig(fused=True).fused == "on"
    with pytest.raises(ValueError, match=f"TrainConfig.{field}: must be one of"):
        TrainConfig(**{field: "sometimes"})
    with pytest.raises(ValueError, match="TrainConfig.cuda_graph"):
        TrainConfig(cuda_graph=True)  # "on" is not a cuda_graph mode: auto already captures


def test_auto_modes_are_left_out_of_the_dict_and_others_round_trip() -> None:
    assert "fused" not in TrainConfig().to_dict() and "cuda_graph" not in TrainConfig().to_dict()
    c = TrainConfig(fused="off", cuda_graph="off")
    assert TrainConfig.from_dict(c.to_dict()) == c


def test_implementation_per_mode_and_device() -> None:
    assert implementation("auto", CPU) == {"foreach": True}
    assert implementation("auto", CUDA) == {"fused": True}
    assert implementation("on", CPU) == {"fused": True}
    assert implementation("off", CUDA) == {"foreach": False}
    params = list(tiny().parameters())
    for name in ("sgd", "adam", "adamw"):
        assert make_optimizer(params, cfg(optimizer=name)).defaults["foreach"] is True
        assert make_optimizer(params, cfg(optimizer=name, fused="off")).defaults["foreach"] is False


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_foreach_on_cpu_gives_the_per_parameter_loop_bit_for_bit(data, optimizer: str) -> None:  # noqa: F811
    tr, va = data
    lr = 0.1 if optimizer == "sgd" else 0.01
    a = train(tiny, tr, va, cfg(optimizer=optimizer, lr=lr, weight_decay=1e-3), seed=2)
    b = train(tiny, tr, va, cfg(optimizer=optimizer, lr=lr, weight_decay=1e-3, fused="off"), seed=2)
    assert curve(a) == curve(b)
    assert all(torch.equal(a.best_state[k], b.best_state[k]) for k in a.best_state)


def test_cudnn_benchmark_on_cuda_unless_deterministic_and_restored() -> None:
    cudnn = torch.backends.cudnn
    before = cudnn.benchmark
    cudnn.benchmark = False
    try:
        with engine._kernel_flags(False, CUDA):  # flags only: no device needed
            assert cudnn.benchmark is True
        assert cudnn.benchmark is False
        with engine._kernel_flags(False, CPU):
            assert cudnn.benchmark is False
        with engine._kernel_flags(True, CUDA):
            assert cudnn.benchmark is False and cudnn.deterministic is True
        assert cudnn.benchmark is False
    finally:
        cudnn.benchmark = before


def test_blocker_says_why_a_step_is_not_captured() -> None:
    ok = {"uneven_batches": False, "fused_optimizer": True, "steps_left": 100}
    assert cuda_graph.blocker(cfg(), CUDA, **ok) == ""
    assert cuda_graph.blocker(cfg(), CPU, **ok) == "not a CUDA device"
    assert cuda_graph.blocker(cfg(cuda_graph="off"), CUDA, **ok) == "cuda_graph: off"
    assert "autoaugment" in cuda_graph.blocker(cfg(augment={"autoaugment": True}), CUDA, **ok)
    assert "last batch" in cuda_graph.blocker(cfg(), CUDA, **{**ok, "uneven_batches": True})
    assert "fused: off" in cuda_graph.blocker(cfg(), CUDA, **{**ok, "fused_optimizer": False})
    assert "too few" in cuda_graph.blocker(cfg(), CUDA, **{**ok, "steps_left": cuda_graph.WARMUP_STEPS})


def test_a_cpu_result_carries_no_graph_note(data) -> None:  # noqa: F811
    tr, va = data
    r = train(tiny, tr, va, cfg(epochs=1))
    assert r.cuda_graph == "" and "cuda_graph" not in r.to_dict()


class _NoStreamGraph(cuda_graph.StepGraph):
    """The real capture on CPU (it fails at its device synchronisation, after it has put
    the learning rate in a tensor and cleared the gradients); warm-up without a stream."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.warm, self.graph, self.idx, self.lr = device, 0, None, None, None

    @contextlib.contextmanager
    def warming(self):
        yield
        self.warm += 1


def test_a_failed_capture_falls_back_to_the_eager_step_exactly(data, monkeypatch) -> None:  # noqa: F811
    tr, va = data
    config = cfg(optimizer="adamw", lr=0.01)
    eager = train(tiny, tr, va, config, seed=4)
    monkeypatch.setattr(engine, "blocker", lambda *a, **k: "")
    monkeypatch.setattr(engine, "StepGraph", _NoStreamGraph)
    fallback = train(tiny, tr, va, config, seed=4)
    assert fallback.status == "ok"
    assert fallback.cuda_graph.startswith("failed, eager: ") and "CUDA graph capture" in fallback.cuda_graph
    assert fallback.to_dict()["cuda_graph"] == fallback.cuda_graph
    assert curve(fallback) == curve(eager)
    assert all(torch.equal(eager.best_state[k], fallback.best_state[k]) for k in eager.best_state)


class _EagerReplay(_NoStreamGraph):
    """A stand-in for the graph on CPU: the capture keeps the step's body and its static
    row indices; a replay copies the new rows in, clears the gradients (what the captured
    backward's fresh gradient buffers amount to) and runs the body eagerly."""

    def capture(self, idx, lr, optimizer, generator, body) -> None:
        self.idx, self.lr, self.body, self.optimizer = idx.clone(), lr, body, optimizer
        self.graph, self.replays = object(), 0
        for group in optimizer.param_groups:  # as the real capture's learning-rate tensor
            group["lr"] = lr

    def replay(self, idx, lr) -> None:
        self.idx.copy_(idx)
        if lr is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        self.body(self.idx)
        self.replays += 1


def test_warm_up_capture_and_replays_give_the_eager_training(data, monkeypatch) -> None:  # noqa: F811
    tr, va = data
    config = cfg(optimizer="sgd", augment={"pad": 1, "flip": True})
    eager = train(tiny, tr, va, config, seed=6)
    made: list[_EagerReplay] = []
    monkeypatch.setattr(engine, "blocker", lambda *a, **k: "")
    monkeypatch.setattr(engine, "StepGraph", lambda device: made.append(_EagerReplay(device)) or made[-1])
    replayed = train(tiny, tr, va, config, seed=6)
    assert replayed.cuda_graph == "captured"
    assert made[0].warm == cuda_graph.WARMUP_STEPS
    assert made[0].replays == replayed.iterations - cuda_graph.WARMUP_STEPS
    assert curve(replayed) == curve(eager)
    assert all(torch.equal(eager.best_state[k], replayed.best_state[k]) for k in eager.best_state)
