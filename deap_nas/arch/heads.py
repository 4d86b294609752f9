"""Classifier heads: what follows the architecture's output node, without torch.

A head is given as a name or a mapping ``{"name": ..., **params}``:

- ``gap_linear``: global average pooling, linear (NASGEP, MiniGen, EIGEN).
- ``linear``: flatten, linear (after an explicit ``global_pool`` node).
- ``concat_pool``: average and max global pooling concatenated, BatchNorm, dropout,
  linear (ImmuNeCS sec. 3.3; dropout 0.2).
- ``mlp3``: flatten, FC to a quarter of the features, FC to half of that, FC to the
  classes, ReLU between (regularized-evolution macro NAS, sec. 3.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .opspec import Shape

HEAD_DEFAULTS: dict[str, dict[str, Any]] = {
    "gap_linear": {},
    "linear": {},
    "concat_pool": {"dropout": 0.2},
    "mlp3": {"dropout": 0.0},
}



@dataclass(frozen=True)
class HeadSpec:
    """A resolved head: its name and every parameter."""

    name: str = "gap_linear"
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, head: str | Mapping[str, Any] | HeadSpec | None) -> HeadSpec:
        """Accept a name, a mapping with ``name``, a HeadSpec, or None (gap_linear)."""
        if isinstance(head, HeadSpec):
            return head
        if head is None:
            head = "gap_linear"
        if isinstance(head, str):
            name, given = head, {}
        elif isinstance(head, Mapping):
            given = dict(head)
            name = given.pop("name", None)
            if not isinstance(name, str):
                raise ValueError(f"head mapping needs a 'name', got {dict(head)!r}")
        else:
            raise ValueError(f"head must be a name or a mapping, got {head!r}")
        if name not in HEAD_DEFAULTS:
            raise ValueError(f"unknown head '{name}'; known heads: {', '.join(sorted(HEAD_DEFAULTS))}")
        unknown = sorted(set(given) - set(HEAD_DEFAULTS[name]))
        if unknown:
            raise ValueError(f"head '{name}': unknown parameter(s) {unknown}")
        params = {**HEAD_DEFAULTS[name], **given}
        d = params.get("dropout", 0.0)
        if not isinstance(d, (int, float)) or not 0.0 <= d < 1.0:
            raise ValueError(f"head '{name}': dropout must be in [0, 1), got {d!r}")
        return cls(name, params)

    def features(self, s: Shape) -> int:
        """Width of the tensor entering the head's first linear layer."""
        c, h, w = s
        if self.name == "gap_linear":
            return c
        if self.name == "concat_pool":
            return 2 * c
        return c * h * w

    def mlp_widths(self, s: Shape) -> tuple[int, int]:
        """Hidden widths of ``mlp3``: a quarter of the features, then half of that."""
        f1 = max(1, self.features(s) // 4)
        return f1, max(1, f1 // 2)

    def num_params(self, s: Shape, num_classes: int) -> int:
        f = self.features(s)
        if self.name == "concat_pool":
            return 2 * f + f * num_classes + num_classes
        if self.name == "mlp3":
            f1, f2 = self.mlp_widths(s)
            return f * f1 + f1 + f1 * f2 + f2 + f2 * num_classes + num_classes
        return f * num_classes + num_classes

    def macs(self, s: Shape, num_classes: int) -> int:
        """Multiply-accumulates of the head's linear layers for one image (pooling and
        BatchNorm count 0)."""
        f = self.features(s)
        if self.name == "mlp3":
            f1, f2 = self.mlp_widths(s)
            return f * f1 + f1 * f2 + f2 * num_classes
        return f * num_classes

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}
