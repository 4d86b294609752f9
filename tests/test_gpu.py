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
