"""Torch modules of the conv-family, pooling, identity and global-pooling ops.

Each factory mirrors the formula of the same op in :mod:`deap_nas.arch.conv_ops` and
:mod:`deap_nas.arch.pool_ops`; submodule names (``conv``, ``depthwise``, ``pointwise``,
``bn``, ``act``, ``drop``, ``pool``, ``widen``) make printed models and state dicts readable.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..arch import Shape
from ..arch.conv_ops import out_channels, unit_bias
from ..arch.opspec import same_padding
from ..arch.pool_ops import widened_channels
from .registry import named, register_module


def activation(name: str | None) -> nn.Module | None:
    """ReLU or ReLU6 (never in place: a node's input may feed other nodes too)."""
    if name is None:
        return None
    return nn.ReLU6() if name == "relu6" else nn.ReLU()


def conv_padding(kernel: tuple[int, int], stride: int, dilation: int, padding: str) -> Any:
    """PyTorch's padding argument matching :func:`deap_nas.arch.opspec.conv_out_size`."""
    if padding == "valid":
        return 0
    if stride == 1:
        return "same"
    return (same_padding(kernel[0], dilation), same_padding(kernel[1], dilation))


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` whose 'same' padding of an even kernel is one explicit asymmetric pad.

    PyTorch's own 'same' for even extents pads through an extra copy inside the conv
    call and warns each time; padding once (extra row/column at the bottom/right, as
    PyTorch does) gives the same result and the same parameter names.
    """

    def __init__(self, c_in: int, c_out: int, kernel: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True) -> None:
        k = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
        d = (dilation, dilation) if isinstance(dilation, int) else tuple(dilation)
        self.pad_lrtb: tuple[int, int, int, int] | None = None
        extents = [d[0] * (k[0] - 1), d[1] * (k[1] - 1)]
        if padding == "same" and (extents[0] % 2 or extents[1] % 2):
            h, w = extents
            self.pad_lrtb = (w // 2, w - w // 2, h // 2, h - h // 2)
            padding = 0
        super().__init__(c_in, c_out, k, stride, padding, d, groups, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_lrtb is not None:
            x = F.pad(x, self.pad_lrtb)
        return super().forward(x)


def unit(convs: list[tuple[str, nn.Module]], c_out: int, p: dict[str, Any]) -> nn.Sequential:
    """Assemble conv(s), BN, activation and Dropout2d in the order ``p['order']`` names."""
    bn = [("bn", nn.BatchNorm2d(c_out))] if p["bn"] else []
    act_mod = activation(p["act"])
    act = [("act", act_mod)] if act_mod is not None else []
    order = {
        "conv_bn_act": convs + bn + act,
        "conv_act_bn": convs + act + bn,
        "act_conv_bn": act + convs + bn,
    }[p["order"]]
    if p["dropout"] > 0:
        order.append(("drop", nn.Dropout2d(p["dropout"])))
    return named(dict(order))


@register_module("conv")
def make_conv(s: Shape, p: dict[str, Any]) -> nn.Module:
    c_out = out_channels(s, p)
    pad = conv_padding(p["kernel"], p["stride"], p["dilation"], p["padding"])
    conv = Conv2d(s[0], c_out, p["kernel"], p["stride"], pad, p["dilation"], bias=unit_bias(p))
    return unit([("conv", conv)], c_out, p)


@register_module("sep_conv")
def make_sep_conv(s: Shape, p: dict[str, Any]) -> nn.Module:
    c_in, c_out = s[0], out_channels(s, p)
    pad = conv_padding(p["kernel"], p["stride"], p["dilation"], p["padding"])
    dw = Conv2d(c_in, c_in, p["kernel"], p["stride"], pad, p["dilation"], groups=c_in, bias=False)
    pw = Conv2d(c_in, c_out, 1, bias=unit_bias(p))
    return unit([("depthwise", dw), ("pointwise", pw)], c_out, p)


@register_module("inv_sep_conv")
def make_inv_sep_conv(s: Shape, p: dict[str, Any]) -> nn.Module:
    c_in, c_out = s[0], out_channels(s, p)
    pad = conv_padding(p["kernel"], p["stride"], p["dilation"], p["padding"])
    pw = Conv2d(c_in, c_out, 1, bias=False)
    dw = Conv2d(
        c_out, c_out, p["kernel"], p["stride"], pad, p["dilation"], groups=c_out, bias=unit_bias(p)
    )
    return unit([("pointwise", pw), ("depthwise", dw)], c_out, p)


@register_module("dw_conv")
def make_dw_conv(s: Shape, p: dict[str, Any]) -> nn.Module:
    c = s[0]
    pad = conv_padding(p["kernel"], p["stride"], p["dilation"], p["padding"])
    dw = Conv2d(c, c, p["kernel"], p["stride"], pad, p["dilation"], groups=c, bias=unit_bias(p))
    return unit([("depthwise", dw)], c, p)


@register_module("fact_conv")
def make_fact_conv(s: Shape, p: dict[str, Any]) -> nn.Module:
    c_in, c_out = s[0], out_channels(s, p)
    k, st, d = p["kernel"][0], p["stride"], p["dilation"]
    if p["padding"] == "valid":
        pad_w, pad_h = 0, 0
    elif st == 1:
        pad_w = pad_h = "same"
    else:
        pad_w, pad_h = (0, same_padding(k, d)), (same_padding(k, d), 0)
    first = Conv2d(c_in, c_out, (1, k), (1, st), pad_w, (1, d), bias=False)
    second = Conv2d(c_out, c_out, (k, 1), (st, 1), pad_h, (d, 1), bias=unit_bias(p))
    return unit([("conv_1xk", first), ("conv_kx1", second)], c_out, p)


@register_module("pool")
def make_pool(s: Shape, p: dict[str, Any]) -> nn.Module:
    kernel = p["kernel"]
    stride = kernel if p["stride"] is None else (p["stride"], p["stride"])
    pad = (same_padding(kernel[0]), same_padding(kernel[1])) if p["padding"] == "same" else 0
    if p["type"] == "max":
        pool: nn.Module = nn.MaxPool2d(kernel, stride, pad)
    else:
        pool = nn.AvgPool2d(kernel, stride, pad, count_include_pad=False)
    layers: dict[str, nn.Module] = {"pool": pool}
    c_out = widened_channels(s[0], p["channel_mult"])
    if c_out != s[0]:
        layers["widen"] = nn.Conv2d(s[0], c_out, 1, bias=False)
    return named(layers)


@register_module("identity")
def make_identity(s: Shape, p: dict[str, Any]) -> nn.Module:
    return nn.Identity()


class GlobalPool(nn.Module):
    """Global average, max, or concatenated average+max pooling, kept 4-D (N, C', 1, 1)."""

    def __init__(self, kind: str = "avg") -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "avg":
            return x.mean(dim=(2, 3), keepdim=True)
        if self.kind == "max":
            return x.amax(dim=(2, 3), keepdim=True)
        return torch.cat([x.mean(dim=(2, 3), keepdim=True), x.amax(dim=(2, 3), keepdim=True)], 1)

    def extra_repr(self) -> str:
        return self.kind


@register_module("global_pool")
def make_global_pool(s: Shape, p: dict[str, Any]) -> nn.Module:
    return GlobalPool(p["type"])

