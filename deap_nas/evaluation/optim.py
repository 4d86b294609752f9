"""Optimiser construction and learning-rate schedules as pure functions of (fractional) epoch."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from .config import TrainConfig

__all__ = ["implementation", "lr_at", "make_optimizer"]


def implementation(fused: str, device: torch.device) -> dict[str, bool]:
    """The optimiser's implementation keywords for ``fused`` ("auto" / "on" / "off", the
    TrainConfig field) on ``device``: "auto" = ``fused=True`` on CUDA, ``foreach=True``
    elsewhere (bit-identical to the per-parameter loop on CPU, tested); "on" = ``fused=True``
    on every device; "off" = ``foreach=False`` (torch's per-parameter loop). The fused
    kernels read a tensor learning rate on the device, which a CUDA graph needs."""
    if fused == "off":
        return {"foreach": False}
    if fused == "on" or device.type == "cuda":
        return {"fused": True}
    return {"foreach": True}


def make_optimizer(
    params: Iterable[torch.nn.Parameter],
    config: TrainConfig,
    device: torch.device | None = None,
) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), Adam or AdamW with the config's hyper-parameters and the
    implementation :func:`implementation` picks for ``config.fused`` on ``device`` (by
    default the parameters' device)."""
    params = [p for p in params if p.requires_grad]
    if device is None:
        device = params[0].device if params else torch.device("cpu")
    kw = implementation(config.fused, device)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
            **kw,
        )
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay, **kw)


def lr_at(config: TrainConfig, epoch: float, total_epochs: float) -> float:
    """Learning rate at fractional ``epoch`` (0-based) of a run lasting ``total_epochs``.

    cosine: Loshchilov & Hutter 2017 without restarts over ``total_epochs``;
    cosine_restarts: SGDR with periods ``t0``, ``t0 * t_mult``, ...; step / multistep:
    multiply by ``gamma`` at whole-epoch boundaries (as torch's StepLR / MultiStepLR).
    """
    base, low = config.lr, config.eta_min
    s = config.schedule
    if s == "none":
        return base
    if s == "cosine":
        frac = min(max(epoch / total_epochs, 0.0), 1.0) if total_epochs > 0 else 1.0
        return low + (base - low) * (1 + math.cos(math.pi * frac)) / 2
    if s == "cosine_restarts":
        t0, mult = config.t0, config.t_mult
        if mult == 1.0:
            t_cur, t_i = epoch % t0, t0
        else:
            n = math.floor(math.log(epoch / t0 * (mult - 1) + 1, mult))
            t_cur = epoch - t0 * (mult**n - 1) / (mult - 1)
            t_i = t0 * mult**n
        return low + (base - low) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
    whole = math.floor(epoch)
    if s == "step":
        return base * config.gamma ** (whole // config.step_size)
    # multistep
    return base * config.gamma ** sum(1 for m in config.milestones if whole >= m)
