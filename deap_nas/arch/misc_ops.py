"""Small shape-plumbing ops, described without torch: explicit zero padding and BatchNorm and
an activation on their own.

- ``zero_pad``: pads ``pad`` zeros on every side (no parameters). MiniGen (sec. III-B)
  runs its stride-2 input-cell operations on a padded input so that the feature map
  stays 32x32; a ``zero_pad`` node followed by a ``valid`` convolution expresses that.
- ``bn_act``: BatchNorm and/or an activation on their own: MiniGen puts BN and ReLU after
  its pooling operations (Table I), and its identity skip connection is
  ``relu(body(x) + skip(x))`` (a ``bn_act`` without BN after an ``add`` merge); NASGEP
  ends its last cell with BN -> ReLU (Fig. 3).
"""

from __future__ import annotations

from typing import Any

from .opspec import (
    ACTIVATIONS,
    OpSpec,
    Shape,
    bn_params,
    check_bool,
    check_choice,
    check_int,
    register_op,
)


@register_op
class ZeroPad(OpSpec):
    name = "zero_pad"
    doc = "Zero padding of `pad` pixels on every side."
    defaults: dict[str, Any] = {"pad": 1}

    def check(self, p: dict[str, Any]) -> None:
        check_int(p, "pad", lo=0)

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        return (s[0], s[1] + 2 * p["pad"], s[2] + 2 * p["pad"])

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        return 0

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        return 0


@register_op
class BnAct(OpSpec):
    name = "bn_act"
    doc = "BatchNorm (optional) then an activation (optional), on their own."
    defaults: dict[str, Any] = {"bn": True, "act": "relu"}

    def check(self, p: dict[str, Any]) -> None:
        check_bool(p, "bn")
        check_choice(p, "act", ACTIVATIONS)

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        return s

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        return bn_params(s[0]) if p["bn"] else 0

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        return 0  # BatchNorm folds into the preceding convolution at inference
