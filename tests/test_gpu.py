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
