"""Pooling, identity and global pooling ops, described without torch."""

from __future__ import annotations

from typing import Any

from .opspec import (
    PADDINGS,
    OpSpec,
    Shape,
    check_choice,
    check_float,
    check_int,
    check_kernel,
    conv_macs,
    conv_params,
    pool_out_size,
    register_op,
)


def widened_channels(c_in: int, mult: float) -> int:
    """Channels after an ImmuNeCS pool with channel multiplier ``mult`` (Table 1)."""
    return max(1, int(round(c_in * mult)))


@register_op
class Pool(OpSpec):
    """Max or average pooling; ``channel_mult`` != 1 appends a bias-free 1x1 conv.

    ImmuNeCS (sec. 3.3, Table 1) makes pooling the only layer that widens, by a channel
    multiplier in {1, 4/3, 5/3, 2}; the paper does not say how, so a pointwise
    convolution without BN or activation widens the pooled tensor. ``stride: null`` means
    stride = kernel. 'same' padding pads ``(kernel - 1) // 2`` on each side (PyTorch
    pools have no asymmetric padding), so a stride-1 pool with an even kernel shrinks by one.
    Average pooling ignores padded zeros.
    """

    name = "pool"
    defaults: dict[str, Any] = {
        "type": "max",
        "kernel": 3,
        "stride": 2,
        "padding": "same",
        "channel_mult": 1.0,
    }

    def check(self, p: dict[str, Any]) -> None:
        check_choice(p, "type", ("max", "avg"))
        check_kernel(p)
        check_int(p, "stride", allow_none=True)
        check_choice(p, "padding", PADDINGS)
        check_float(p, "channel_mult", 0.0, 64.0, lo_open=True)

    def stride(self, p: dict[str, Any]) -> tuple[int, int]:
        return p["kernel"] if p["stride"] is None else (p["stride"], p["stride"])

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        (kh, kw), (sh, sw) = p["kernel"], self.stride(p)
        h = pool_out_size(s[1], kh, sh, p["padding"])
        w = pool_out_size(s[2], kw, sw, p["padding"])
        return (widened_channels(s[0], p["channel_mult"]), h, w)

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        c_out = widened_channels(s[0], p["channel_mult"])
        return 0 if c_out == s[0] else conv_params(s[0], c_out, 1, 1, bias=False)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        c_out, h, w = self.out_shape(s, p)
        return 0 if c_out == s[0] else conv_macs(s[0], c_out, 1, 1, (h, w))  # the widening 1x1


@register_op
class Identity(OpSpec):
    """Identity: ImmuNeCS uses it to neutralise a layer; EIGEN and NASGEP use it as a
    plain merge node (a concatenation or sum of its inputs)."""

    name = "identity"
    defaults: dict[str, Any] = {}

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        return s

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        return 0

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        return 0


@register_op
class GlobalPool(OpSpec):
    """Global pooling to 1x1: average, max, or their concatenation (ImmuNeCS's
    "adaptive concatenated pooling", which doubles the channels)."""

    name = "global_pool"
    defaults: dict[str, Any] = {"type": "avg"}

    def check(self, p: dict[str, Any]) -> None:
        check_choice(p, "type", ("avg", "max", "avgmax"))

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        return (2 * s[0] if p["type"] == "avgmax" else s[0], 1, 1)

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        return 0

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        return 0
