"""Convolution-family ops of the five papers, described without torch.

Every conv op is one "unit": the convolution(s), optionally BatchNorm and an activation
(ReLU or ReLU6) in one of three orders, and optional Dropout2d:

- ``conv_bn_act``: the usual order (ImmuNeCS Conv, MiniGen, EIGEN);
- ``conv_act_bn``: conv -> ReLU6 -> BN -> Dropout2d (regularized-evolution macro NAS, sec. 3.1);
- ``act_conv_bn``: ReLU -> conv -> BN (NASGEP's and DARTS-style blocks).

``channels: null`` keeps the input's channel count (ImmuNeCS: only pooling widens). A conv
has a bias exactly when it is not followed by BatchNorm, unless ``bias`` says otherwise.
"""

from __future__ import annotations

from typing import Any

from .opspec import (
    ACTIVATIONS,
    CONV_ORDERS,
    PADDINGS,
    OpSpec,
    Shape,
    bn_params,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_kernel,
    conv_macs,
    conv_out_size,
    conv_params,
    register_op,
)

UNIT_DEFAULTS: dict[str, Any] = {
    "channels": None,
    "kernel": 3,
    "stride": 1,
    "dilation": 1,
    "padding": "same",
    "bn": True,
    "act": "relu",
    "order": "conv_bn_act",
    "dropout": 0.0,
    "bias": None,
}


def unit_bias(p: dict[str, Any]) -> bool:
    """Whether the unit's last convolution has a bias (auto: only without BatchNorm)."""
    return (not p["bn"]) if p["bias"] is None else bool(p["bias"])


def out_channels(s: Shape, p: dict[str, Any]) -> int:
    return s[0] if p.get("channels") is None else int(p["channels"])


class ConvUnitSpec(OpSpec):
    """Shared checks and spatial arithmetic of the conv-family ops."""

    defaults = UNIT_DEFAULTS

    def check(self, p: dict[str, Any]) -> None:
        check_int(p, "channels", allow_none=True)
        check_kernel(p)
        check_int(p, "stride")
        check_int(p, "dilation")
        check_choice(p, "padding", PADDINGS)
        check_bool(p, "bn")
        check_choice(p, "act", ACTIVATIONS)
        check_choice(p, "order", CONV_ORDERS)
        check_float(p, "dropout", 0.0, 1.0)
        if p["bias"] is not None:
            check_bool(p, "bias")

    def spatial(self, s: Shape, p: dict[str, Any]) -> tuple[int, int]:
        (kh, kw), st, d, pad = p["kernel"], p["stride"], p["dilation"], p["padding"]
        return conv_out_size(s[1], kh, st, d, pad), conv_out_size(s[2], kw, st, d, pad)

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        return (out_channels(s, p), *self.spatial(s, p))

    def extra(self, c_out: int, p: dict[str, Any]) -> int:
        return bn_params(c_out) if p["bn"] else 0


@register_op
class Conv(ConvUnitSpec):
    name = "conv"
    doc = "Convolution unit; dilation > 1 gives the dilated conv of MiniGen's Table I."

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        c_out = out_channels(s, p)
        kh, kw = p["kernel"]
        return conv_params(s[0], c_out, kh, kw, bias=unit_bias(p)) + self.extra(c_out, p)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        kh, kw = p["kernel"]
        return conv_macs(s[0], out_channels(s, p), kh, kw, self.spatial(s, p))


@register_op
class SepConv(ConvUnitSpec):
    name = "sep_conv"
    doc = "Depthwise-separable conv: depthwise kxk (stride, dilation) then pointwise 1x1."

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        c_in, c_out = s[0], out_channels(s, p)
        kh, kw = p["kernel"]
        depthwise = conv_params(c_in, c_in, kh, kw, groups=c_in, bias=False)
        pointwise = conv_params(c_in, c_out, 1, 1, bias=unit_bias(p))
        return depthwise + pointwise + self.extra(c_out, p)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        c_in, c_out, hw = s[0], out_channels(s, p), self.spatial(s, p)
        kh, kw = p["kernel"]
        return conv_macs(c_in, c_in, kh, kw, hw, groups=c_in) + conv_macs(c_in, c_out, 1, 1, hw)


@register_op
class InvSepConv(ConvUnitSpec):
    name = "inv_sep_conv"
    doc = "Inverse separable conv (NASGEP): pointwise 1x1 first, then depthwise kxk."

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        c_in, c_out = s[0], out_channels(s, p)
        kh, kw = p["kernel"]
        pointwise = conv_params(c_in, c_out, 1, 1, bias=False)
        depthwise = conv_params(c_out, c_out, kh, kw, groups=c_out, bias=unit_bias(p))
        return pointwise + depthwise + self.extra(c_out, p)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        c_in, c_out = s[0], out_channels(s, p)
        kh, kw = p["kernel"]
        pointwise = conv_macs(c_in, c_out, 1, 1, (s[1], s[2]))  # 1x1 at the input's size
        return pointwise + conv_macs(c_out, c_out, kh, kw, self.spatial(s, p), groups=c_out)


@register_op
class DwConv(ConvUnitSpec):
    name = "dw_conv"
    doc = "Depthwise conv (NASGEP): one kxk filter per channel; output channels = input."

    def check(self, p: dict[str, Any]) -> None:
        super().check(p)
        if p["channels"] is not None:
            raise ValueError("parameter 'channels' must be null for dw_conv (it keeps the input's)")

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        kh, kw = p["kernel"]
        return conv_params(s[0], s[0], kh, kw, groups=s[0], bias=unit_bias(p)) + self.extra(s[0], p)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        kh, kw = p["kernel"]
        return conv_macs(s[0], s[0], kh, kw, self.spatial(s, p), groups=s[0])


@register_op
class FactConv(ConvUnitSpec):
    name = "fact_conv"
    doc = "Factorised conv (MiniGen 1x7-7x1): a 1xk conv then a kx1 conv, stride on each axis."
    defaults = {**UNIT_DEFAULTS, "kernel": 7}

    def check(self, p: dict[str, Any]) -> None:
        super().check(p)
        kh, kw = p["kernel"]
        if kh != kw:
            raise ValueError(f"parameter 'kernel' of fact_conv must be square, got {kh}x{kw}")

    def spatial(self, s: Shape, p: dict[str, Any]) -> tuple[int, int]:
        k, st, d, pad = p["kernel"][0], p["stride"], p["dilation"], p["padding"]
        # 1xk acts on the width, kx1 on the height; stride is applied on each axis once.
        return conv_out_size(s[1], k, st, d, pad), conv_out_size(s[2], k, st, d, pad)

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        c_in, c_out = s[0], out_channels(s, p)
        k = p["kernel"][0]
        first = conv_params(c_in, c_out, 1, k, bias=False)
        second = conv_params(c_out, c_out, k, 1, bias=unit_bias(p))
        return first + second + self.extra(c_out, p)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        c_in, c_out, k = s[0], out_channels(s, p), p["kernel"][0]
        h, w = self.spatial(s, p)
        # the 1xk conv keeps the height (stride on the width only), the kx1 conv then strides it
        return conv_macs(c_in, c_out, 1, k, (s[1], w)) + conv_macs(c_out, c_out, k, 1, (h, w))

