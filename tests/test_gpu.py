"""CUDA paths of the engine (bf16 autocast, channels_last, device-resident data).

Marked ``gpu`` (deselected by default, run with ``pytest -m gpu``) and skipped without a
CUDA device.
"""

import pytest
import torch

from deap_nas.arch import sequential
from deap_nas.evaluation import TrainConfig, prepare_data, train_architecture

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]

ARCH = sequential([("conv", {"channels": 32}), ("pool", {"channel_mult": 2.0}), ("sep_conv", {"kernel": 5})])


def test_training_on_cuda_uses_the_device_and_learns():
    data = prepare_data("fashion_mnist_mini", seed=0, device="cuda")
    assert data.train.images.is_cuda and data.train.images.dtype == torch.uint8
    result = train_architecture(ARCH, data, TrainConfig(epochs=3, optimizer="adamw", lr=3e-3), head="concat_pool")
    assert result.status == "ok", result.message
    assert result.device.startswith("cuda")
    assert result.best_acc > 0.5


def test_deterministic_mode_on_cuda_repeats_exactly():
    data = prepare_data("fashion_mnist_mini", seed=0, device="cuda", train_subset=50)
    config = TrainConfig(epochs=2, deterministic=True, amp="off", keep_best_state=True)
    a = train_architecture(ARCH, data, config, seed=3)
    b = train_architecture(ARCH, data, config, seed=3)
    assert [h["val_acc"] for h in a.history] == [h["val_acc"] for h in b.history]
    assert all(torch.equal(a.best_state[k], b.best_state[k]) for k in a.best_state)


def test_a_parameter_limit_ends_with_too_large_on_cuda():
    data = prepare_data("fashion_mnist_mini", seed=0, device="cuda", train_subset=20)
    small = train_architecture(ARCH, data, TrainConfig(epochs=1, max_params=10))
    assert small.status == "too_large"


def test_measured_objectives_on_cuda(tmp_path):
    """A multi-objective NSGA-II run on CUDA records peak training memory and forward
    latency for every trained candidate, and its front uses them."""
    import json

    from deap_nas.runtime.config import parse_config
    from deap_nas.runtime.search import start_run

    config = {"seed": 1, "data": {"name": "fashion_mnist_mini", "train_subset": 20},
              "space": {"name": "sequential", "max_depth": 4},
              "algorithm": {"name": "nsga2", "population_size": 3},
              "operators": {"mutate": {"name": "mut_sequential"}, "mate": {"name": "cx_one_point"}},
              "objectives": [{"name": "accuracy"}, {"name": "latency", "reference": 1.0},
                             {"name": "peak_memory", "reference": 4e9}],
              "training": {"epochs": 1, "batch_size": 32}, "budget": {"evaluations": 6},
              "parallel": {"backend": "serial", "device": "cuda"}, "output": {"plots": False, "progress": False}}
    start_run(parse_config(config), tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "journal.jsonl").read_text().splitlines()]
    trained = [r for r in records if r["status"] == "ok" and not r.get("cached")]
    assert trained
    for r in trained:
        assert r["device"].startswith("cuda")
        assert r["peak_memory"] > 0 and 0 < r["latency"] < 1.0
        assert r["fitness"] == [r["accuracy"], r["latency"], r["peak_memory"]]


# ---------------------------------------------------------------------- CUDA graph (training.cuda_graph)
GRAPH_CONFIG = {"epochs": 2, "batch_size": 64, "optimizer": "adamw", "lr": 3e-3, "amp": "off", "deterministic": True}


def _graph_data():
    return prepare_data("fashion_mnist_mini", seed=0, device="cuda", train_subset=64, val_subset=20)  # per class: 640 and 200 images


def test_a_captured_step_trains_as_the_eager_step():
    data = _graph_data()
    graphed = train_architecture(ARCH, data, TrainConfig(**GRAPH_CONFIG), seed=5)
    eager = train_architecture(ARCH, data, TrainConfig(**GRAPH_CONFIG, cuda_graph="off"), seed=5)
    assert graphed.status == eager.status == "ok", (graphed.message, eager.message)
    assert graphed.cuda_graph == "captured" and eager.cuda_graph == ""
    assert graphed.iterations == eager.iterations
    for g, e in zip(graphed.history, eager.history, strict=True):
        assert g["lr"] == pytest.approx(e["lr"])
        assert g["train_loss"] == pytest.approx(e["train_loss"], rel=1e-2)
        assert abs(g["val_acc"] - e["val_acc"]) <= 0.05


def test_a_captured_step_with_augmentation_and_sgd_runs_and_learns():
    data = _graph_data()
    config = TrainConfig(**{**GRAPH_CONFIG, "optimizer": "sgd", "lr": 0.05, "epochs": 3,
                            "augment": {"pad": 2, "flip": True}})
    r = train_architecture(ARCH, data, config, seed=1)
    assert r.status == "ok" and r.cuda_graph == "captured", (r.message, r.cuda_graph)
    losses = [h["train_loss"] for h in r.history]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]


def test_uneven_batches_stay_eager_and_say_why():
    data = _graph_data()
    r = train_architecture(ARCH, data, TrainConfig(**GRAPH_CONFIG, drop_last=False, batch_size=100), seed=1)
    assert r.status == "ok" and r.cuda_graph.startswith("eager: the last batch is smaller")


def test_a_paused_captured_training_resumes_with_a_numeric_learning_rate():
    data = _graph_data()
    config = TrainConfig(**GRAPH_CONFIG)
    first = train_architecture(ARCH, data, config, seed=2, stop_iteration=12, keep_train_state=True)
    assert first.cuda_graph == "captured" and first.train_state is not None
    assert all(isinstance(g["lr"], float) for g in first.train_state["optimizer"]["param_groups"])
    rest = train_architecture(ARCH, data, config, seed=2, resume_state=first.train_state)
    assert rest.status == "ok" and rest.iterations == 2 * (640 // 64)
