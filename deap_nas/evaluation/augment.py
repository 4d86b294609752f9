"""Whole-batch data augmentation on the device, driven by an explicit ``torch.Generator``.

Every function takes a float (normalized) batch ``(B, C, H, W)`` and draws its random
numbers from ``generator`` on the batch's device (never the global RNG), one draw per
sample, with no per-sample Python. Cutout and erasing fill 0 in normalized units (the
channel mean), as the Cutout code and torchvision's RandomErasing (after Normalize) do.
Zero padding fills ``fill``: the engine passes the normalized value of a black (raw 0)
pixel, as torchvision's RandomCrop pads before Normalize; 0 by default.

- pad-and-crop: the standard CIFAR augmentation (He et al. 2016), random offsets per sample.
- horizontal flip: per-sample Bernoulli(0.5).
- cutout: DeVries & Taylor 2017, "Improved Regularization of Convolutional Neural Networks
  with Cutout"; a ``size`` x ``size`` square around a uniform centre, clipped at the border.
- random erasing: Zhong et al. 2020, "Random Erasing Data Augmentation" (AAAI); the
  rectangle is drawn as in torchvision (10 tries of area/log-aspect, first one that fits).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .augment_config import AugmentConfig

__all__ = ["AugmentConfig", "auto_augment", "cutout", "hflip", "pad_crop", "random_erasing"]

_ERASE_TRIES = 10


def _uniform(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=device)


def _box_mask(
    top: torch.Tensor, left: torch.Tensor, h: torch.Tensor, w: torch.Tensor, H: int, W: int
) -> torch.Tensor:
    """(B, 1, H, W) bool mask of rows [top, top+h) x cols [left, left+w), per sample."""
    ys = torch.arange(H, device=top.device)
    xs = torch.arange(W, device=top.device)
    my = (ys >= top[:, None]) & (ys < (top + h)[:, None])
    mx = (xs >= left[:, None]) & (xs < (left + w)[:, None])
    return (my[:, :, None] & mx[:, None, :])[:, None]


def pad_crop(
    x: torch.Tensor,
    pad: int,
    generator: torch.Generator | None = None,
    mode: str = "zero",
    fill: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """Pad by ``pad`` on each side and crop back to (H, W) at a random offset per sample;
    vectorised with two ``gather`` calls. ``mode`` "zero" pads with ``fill`` (a scalar or a
    per-channel tensor broadcastable to (1, C, 1, 1)), "reflect" mirrors the border."""
    if pad == 0:
        return x
    B, C, H, W = x.shape
    if mode == "reflect" and (pad >= H or pad >= W):
        raise ValueError(
            f"AugmentConfig.pad: reflect padding needs pad < image size, got {pad} for {H}x{W}"
        )
    if mode == "reflect":
        xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    elif isinstance(fill, torch.Tensor):  # per-channel constant
        border = torch.ones(1, 1, H + 2 * pad, W + 2 * pad, dtype=torch.bool, device=x.device)
        border[..., pad:-pad, pad:-pad] = False
        xp = torch.where(border, fill.to(x.dtype), F.pad(x, (pad, pad, pad, pad)))
    else:
        xp = F.pad(x, (pad, pad, pad, pad), value=float(fill))
    off = (_uniform((2, B), generator, x.device) * (2 * pad + 1)).long().clamp_(max=2 * pad)
    rows = off[0, :, None] + torch.arange(H, device=x.device)  # (B, H)
    cols = off[1, :, None] + torch.arange(W, device=x.device)  # (B, W)
    Wp = W + 2 * pad
    xp = torch.gather(xp, 2, rows[:, None, :, None].expand(B, C, H, Wp))
    return torch.gather(xp, 3, cols[:, None, None, :].expand(B, C, H, W))


def hflip(
    x: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5
) -> torch.Tensor:
    """Flip each sample left-right with probability ``p``."""
    mask = _uniform((x.shape[0],), generator, x.device) < p
    return torch.where(mask[:, None, None, None], x.flip(3), x)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero a ``size`` x ``size`` square centred at a uniform pixel of each sample
    (DeVries & Taylor 2017); the square is clipped where it crosses the border."""
    if size <= 0:
        return x
    B, _, H, W = x.shape
    u = _uniform((2, B), generator, x.device)
    cy = (u[0] * H).long().clamp_(max=H - 1)
    cx = (u[1] * W).long().clamp_(max=W - 1)
    s = torch.full_like(cy, size)
    mask = _box_mask(cy - size // 2, cx - size // 2, s, s, H, W)
    return x.masked_fill(mask, 0.0)


def random_erasing(
    x: torch.Tensor,
    p: float,
    generator: torch.Generator | None = None,
    scale: tuple[float, float] = (0.02, 0.33),
    ratio: tuple[float, float] = (0.3, 3.3),
    fill: str = "zero",
) -> torch.Tensor:
    """Random Erasing (Zhong et al. 2020): with probability ``p`` per sample, fill a random
    rectangle of area ``scale`` x image area and aspect ``ratio`` (log-uniform) with zeros
    or standard-normal noise (``fill="random"``)."""
    if p <= 0:
        return x
    B, C, H, W = x.shape
    dev = x.device
    u = _uniform((5, B, _ERASE_TRIES), generator, dev)
    area = H * W * (scale[0] + (scale[1] - scale[0]) * u[0])
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[1]
    aspect = torch.exp(log_r)
    h = torch.round(torch.sqrt(area * aspect)).long()
    w = torch.round(torch.sqrt(area / aspect)).long()
    fits = (h < H) & (w < W) & (h > 0) & (w > 0)
    first = fits.int().argmax(dim=1, keepdim=True)  # first try that fits
    h = h.gather(1, first)[:, 0]
    w = w.gather(1, first)[:, 0]
    top = (u[2].gather(1, first)[:, 0] * (H - h + 1)).long()
    left = (u[3].gather(1, first)[:, 0] * (W - w + 1)).long()
    apply = fits.any(dim=1) & (u[4][:, 0] < p)
    mask = _box_mask(top, left, h, w, H, W) & apply[:, None, None, None]
    if fill == "random":
        noise = torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype)
        return torch.where(mask, noise, x)
    return x.masked_fill(mask, 0.0)


_AUTOAUGMENT: Any = None


def auto_augment(x: torch.Tensor) -> torch.Tensor:
    """AutoAugment (Cubuk et al. 2019), torchvision's CIFAR-10 policy
    (``torchvision.transforms.v2.AutoAugment``) on a uint8 batch ``(B, C, H, W)``.

    Each sample draws its own sub-policy, as the paper's policy is defined per image, so
    this is the one transform with a Python loop over samples; torchvision draws from the
    global torch RNG (seeded per training by the engine), not from the batch generator.
    Runs before normalisation and the other transforms (final training)."""
    global _AUTOAUGMENT
    if x.dtype != torch.uint8:
        raise ValueError(f"auto_augment: expects a uint8 batch, got {x.dtype}")
    if _AUTOAUGMENT is None:
        from torchvision.transforms import v2

        _AUTOAUGMENT = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    return torch.stack([_AUTOAUGMENT(img) for img in x])
