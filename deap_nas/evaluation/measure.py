"""Measured objectives of a built network: forward latency and peak training memory.

:func:`forward_latency` times forward passes of a module on its device (eval mode,
``torch.no_grad``, CUDA synchronised around each pass) and returns the median seconds;
:func:`track_peak_memory` runs a function (a training) and returns what
``torch.cuda.max_memory_allocated`` reports after a reset of the peak statistics, on a
CUDA device only. docs/objectives.md says what each measures.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn

T = TypeVar("T")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_latency(
    module: nn.Module,
    input_shape: tuple[int, int, int],
    device: torch.device | str,
    batch_size: int = 1,
    warmup: int = 3,
    repeats: int = 10,
) -> float:
    """Median wall seconds of one forward pass of a ``(batch_size, *input_shape)`` batch of
    zeros on ``device``, after ``warmup`` untimed passes; the module is put in eval mode
    and left on ``device`` (its training mode is restored)."""
    if batch_size < 1 or warmup < 0 or repeats < 1:
        raise ValueError(f"forward_latency: batch_size >= 1, warmup >= 0, repeats >= 1, "
                         f"got {batch_size}, {warmup}, {repeats}")
    dev = torch.device(device)
    was_training = module.training
    module.to(dev).eval()
    x = torch.zeros(batch_size, *input_shape, device=dev)
    times = []
    try:
        with torch.no_grad():
            for i in range(warmup + repeats):
                _sync(dev)
                start = time.perf_counter()
                module(x)
                _sync(dev)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        module.train(was_training)
    return statistics.median(times)


def track_peak_memory(fn: Callable[[], T], device: torch.device | str) -> tuple[T, int | None]:
    """``(fn(), peak bytes allocated on device during fn)``; the peak is None off CUDA
    (the CPU allocator reports no peak)."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return fn(), None
    _sync(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    out = fn()
    _sync(dev)
    return out, int(torch.cuda.max_memory_allocated(dev))


def measured_fields(
    build_module: Callable[[], nn.Module],
    input_shape: tuple[int, int, int],
    device: Any,
    wanted: dict[str, dict[str, int]],
) -> dict[str, float]:
    """Record fields of the requested measurements that need a built module (``latency``:
    a fresh module from ``build_module``, built without touching the global RNG)."""
    out: dict[str, float] = {}
    if "latency" in wanted:
        with torch.random.fork_rng(devices=[]):
            module = build_module()
        out["latency"] = forward_latency(module, input_shape, device, **wanted["latency"])
        del module
    return out
