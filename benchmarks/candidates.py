"""Benchmark candidates: random architectures of the package's spaces at the sizes of the
shipped configs (quick and paper), with synthetic learnable data of the configs' image
shape, so a benchmark needs nothing but the package and torch.

Used by benchmarks/engine.py and benchmarks/gpu_throughput.py (run as scripts; this folder
is on ``sys.path``).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

#: space family -> (quick config, paper config) among the shipped configs
#: (``sequential`` has only a quick one: its paper size is the same)
SHIPPED: dict[str, tuple[str, str]] = {
    "sequential": ("random_search_quick", "random_search_quick"),
    "neat": ("regevo_fashion_mnist_quick", "regevo_fashion_mnist"),
    "immunecs": ("immunecs_fashion_mnist_quick", "immunecs_fashion_mnist"),
    "minigen": ("minigen_cifar10_quick", "minigen_cifar10"),
    "nasgep": ("nasgep_cifar10_quick", "nasgep_cifar10"),
    "eigen": ("eigen_cifar10_quick", "eigen_cifar10"),
}


@dataclass
class Candidate:
    """One random architecture of a space at a shipped config's size."""

    name: str  # "<family>/<size>"
    arch: Any  # deap_nas.arch.Architecture
    input_shape: tuple[int, int, int]
    num_classes: int
    head: Any
    training: Any  # the config's TrainConfig
    params: int

    def module(self) -> Any:
        """A fresh torch module of the architecture (deap_nas.nn.build)."""
        from deap_nas.nn import build

        return build(self.arch, self.input_shape, self.num_classes, self.head)


def _input_shape(data_name: str) -> tuple[int, int, int]:
    return (3, 32, 32) if "cifar" in data_name else (1, 28, 28)


def candidate(family: str, size: str = "quick", seed: int = 0, tries: int = 50) -> Candidate:
    """The first valid random architecture (``seed``) of ``family``'s shipped ``size``
    ("quick" / "paper") config, with that config's head, image shape and training."""
    from deap_nas.arch import ArchitectureError
    from deap_nas.runtime.config import load_config
    from deap_nas.shipped import resolve_config
    from deap_nas.spaces import SPACES

    cfg = load_config(resolve_config(SHIPPED[family][0 if size == "quick" else 1]))
    space = SPACES[cfg.space.name](cfg.space.params)
    shape = _input_shape(cfg.data.name)
    head = cfg.evaluation.head or space.default_head
    rng = random.Random(seed)
    for _ in range(tries):
        arch = space.decode(space.random_individual(rng))
        try:
            n = arch.num_params(shape, 10, head)
        except ArchitectureError:
            continue
        return Candidate(f"{family}/{size}", arch, shape, 10, head, cfg.training, n)
    raise RuntimeError(f"{family}/{size}: no valid architecture in {tries} draws")


def with_training(c: Candidate, **changes: Any) -> Candidate:
    """``c`` with some TrainConfig fields replaced."""
    return dataclasses.replace(c, training=dataclasses.replace(c.training, **changes))


def synthetic(n: int, shape: tuple[int, int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable uint8 images: class k is noise plus a brightness offset 16 k."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 96, (n, *shape)) + 16 * y[:, None, None, None]
    return x.astype(np.uint8), y.astype(np.int64)
