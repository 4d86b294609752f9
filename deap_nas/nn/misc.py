"""Torch modules of :mod:`deap_nas.arch.misc_ops` (zero padding, BN + activation)."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..arch import Shape
from .layers import activation
from .registry import named, register_module


@register_module("zero_pad")
def make_zero_pad(s: Shape, p: dict[str, Any]) -> nn.Module:
    return nn.ZeroPad2d(p["pad"])


@register_module("bn_act")
def make_bn_act(s: Shape, p: dict[str, Any]) -> nn.Module:
    layers: dict[str, nn.Module] = {}
    if p["bn"]:
        layers["bn"] = nn.BatchNorm2d(s[0])
    act = activation(p["act"])
    if act is not None:
        layers["act"] = act
    return named(layers) if layers else nn.Identity()
