"""Ops of hand-designed reference networks (Wide-ResNet, DenseNet), described without torch.

These build the strong networks a distillation teacher is made of (:mod:`deap_nas.arch.zoo`);
no search space uses them. The formulas mirror :mod:`deap_nas.nn.reference` line by line.

- ``wrn_block``: the pre-activation basic block of Wide-ResNet (Zagoruyko and Komodakis
  2016, sec. 2): BN-ReLU-conv3x3(stride)-BN-ReLU-dropout-conv3x3, added to the input; when
  the shape changes, the shortcut is a bias-free 1x1 conv (stride) on the pre-activated
  input. Convolutions have no bias.
- ``dense_transition``: the DenseNet transition layer (Huang et al. 2017, sec. 3):
  BN-ReLU-conv1x1 to ``floor(compression * C)`` channels, then 2x2 average pooling
  (``compression`` 1 = DenseNet, 0.5 = DenseNet-C). The dense block itself is
  ``dense_block`` / ``dense_bottleneck_block`` with ``transition: false``.
"""

from __future__ import annotations

import math
from typing import Any

from .opspec import (
    OpSpec,
    Shape,
    bn_params,
    check_float,
    check_int,
    conv_macs,
    conv_out_size,
    conv_params,
    pool_out_size,
    register_op,
)


@register_op
class WrnBlock(OpSpec):
    name = "wrn_block"
    doc = "Wide-ResNet block: BN-ReLU-conv3x3-BN-ReLU-dropout-conv3x3 + (1x1 conv) shortcut."
    defaults: dict[str, Any] = {"channels": None, "stride": 1, "dropout": 0.0}

    def check(self, p: dict[str, Any]) -> None:
        check_int(p, "channels", allow_none=True)
        check_int(p, "stride")
        check_float(p, "dropout", 0.0, 1.0)

    def c_out(self, s: Shape, p: dict[str, Any]) -> int:
        return s[0] if p["channels"] is None else int(p["channels"])

    def projects(self, s: Shape, p: dict[str, Any]) -> bool:
        """Whether the shortcut is a 1x1 convolution (the shape changes)."""
        return p["stride"] != 1 or self.c_out(s, p) != s[0]

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        st = p["stride"]
        return (self.c_out(s, p), conv_out_size(s[1], 3, st, 1, "same"), conv_out_size(s[2], 3, st, 1, "same"))

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        c = self.c_out(s, p)
        body = bn_params(s[0]) + conv_params(s[0], c, 3, 3, bias=False) + bn_params(c)
        body += conv_params(c, c, 3, 3, bias=False)
        return body + (conv_params(s[0], c, 1, 1, bias=False) if self.projects(s, p) else 0)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        c, h, w = self.out_shape(s, p)
        body = conv_macs(s[0], c, 3, 3, (h, w)) + conv_macs(c, c, 3, 3, (h, w))
        return body + (conv_macs(s[0], c, 1, 1, (h, w)) if self.projects(s, p) else 0)


def compressed_channels(c: int, compression: float) -> int:
    """``floor(compression * c)``, at least 1 (DenseNet's transition width)."""
    return max(1, math.floor(compression * c + 1e-9))


@register_op
class DenseTransition(OpSpec):
    name = "dense_transition"
    doc = "DenseNet transition: BN-ReLU-conv1x1 to floor(compression*C), 2x2 average pool."
    defaults: dict[str, Any] = {"compression": 1.0}

    def check(self, p: dict[str, Any]) -> None:
        check_float(p, "compression", 0.0, 1.0, lo_open=True)

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        c = compressed_channels(s[0], p["compression"])
        return (c, pool_out_size(s[1], 2, 2, "valid"), pool_out_size(s[2], 2, 2, "valid"))

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        return bn_params(s[0]) + conv_params(s[0], compressed_channels(s[0], p["compression"]), 1, 1, bias=False)

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        c = compressed_channels(s[0], p["compression"])
        return conv_macs(s[0], c, 1, 1, (s[1], s[2]))  # before the 2x2 pool
