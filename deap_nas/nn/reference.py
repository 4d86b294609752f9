"""Torch modules of :mod:`deap_nas.arch.reference_ops` (Wide-ResNet block, DenseNet transition)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..arch import OPS, Shape
from ..arch.reference_ops import compressed_channels
from .registry import named, register_module


class WrnBlock(nn.Module):
    """Pre-activation basic block: ``conv2(drop(relu(bn2(conv1(o))))) + shortcut``, with
    ``o = relu(bn1(x))``; the shortcut is ``x`` or a 1x1 conv of ``o`` (shape change)."""

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float, project: bool) -> None:
        super().__init__()
        self.bn1, self.act1 = nn.BatchNorm2d(c_in), nn.ReLU()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2, self.act2 = nn.BatchNorm2d(c_out), nn.ReLU()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False) if project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = self.act1(self.bn1(x))
        y = self.conv2(self.drop(self.act2(self.bn2(self.conv1(o)))))
        return y + (x if self.shortcut is None else self.shortcut(o))


@register_module("wrn_block")
def make_wrn_block(s: Shape, p: dict[str, Any]) -> nn.Module:
    spec = OPS["wrn_block"]
    c = spec.c_out(s, p)  # type: ignore[attr-defined]
    return WrnBlock(s[0], c, p["stride"], p["dropout"], spec.projects(s, p))  # type: ignore[attr-defined]


@register_module("dense_transition")
def make_dense_transition(s: Shape, p: dict[str, Any]) -> nn.Module:
    c = compressed_channels(s[0], p["compression"])
    return named({"bn": nn.BatchNorm2d(s[0]), "act": nn.ReLU(), "conv": nn.Conv2d(s[0], c, 1, bias=False),
                  "pool": nn.AvgPool2d(2, 2)})
