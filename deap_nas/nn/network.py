"""``build(arch, input_shape, num_classes, head) -> Network``: the architecture as a module.

Only live nodes are built, one :class:`NodeModule` each, stored under readable names
``nodes.n{id}_{op}`` (e.g. ``nodes.n3_conv.op.bn.weight``), which is also how weights
are matched when a child inherits from its parent (:mod:`deap_nas.nn.transfer`).
Weights get He (Kaiming) initialisation. Decoding runs on the CPU; the caller moves
the module to its device (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..arch import INPUT, Architecture, HeadSpec, MergePlan, Shape
from .heads import make_head
from .registry import make_module


def node_key(node_id: int, op: str) -> str:
    """The submodule name of a node: ``n{id}_{op}``."""
    return f"n{node_id}_{op}"


class NodeModule(nn.Module):
    """Merge the inputs as planned (resize, 1x1 channel alignment, add or concat), then the op."""

    def __init__(self, merge: str, plan: MergePlan, op: nn.Module) -> None:
        super().__init__()
        self.merge = merge
        self.drop_prob = 0.0  # drop-path on merged branches (training only); see Network.set_drop_path
        self.size = plan.out_shape[1:]
        self.resize = plan.resize
        self.align = nn.ModuleDict(
            {
                str(i): nn.Conv2d(a[0], a[1], 1, bias=False)
                for i, a in enumerate(plan.align_channels)
                if a is not None
            }
        )
        self.op = op

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        if len(inputs) == 1:
            return self.op(inputs[0])
        xs = []
        for i, x in enumerate(inputs):
            if self.resize[i]:
                x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
            if str(i) in self.align:
                x = self.align[str(i)](x)
            if self.drop_prob > 0 and self.training:
                x = drop_path(x, self.drop_prob)
            xs.append(x)
        if self.merge == "concat":
            return self.op(torch.cat(xs, 1))
        merged = xs[0]
        for x in xs[1:]:
            merged = merged + x
        return self.op(merged)


def drop_path(x: torch.Tensor, p: float) -> torch.Tensor:
    """Zero whole samples of a branch with probability ``p`` and scale the kept ones by
    ``1 / (1 - p)`` (FractalNet's drop-path, Larsson et al. 2016, as DARTS applies it)."""
    keep = 1.0 - p
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class Network(nn.Module):
    """A built architecture followed by its classifier head."""

    def __init__(
        self,
        arch: Architecture,
        input_shape: Shape,
        num_classes: int,
        head: str | Mapping[str, Any] | HeadSpec | None = None,
    ) -> None:
        super().__init__()
        info = arch.infer(input_shape)
        params = arch.resolved_params()
        by_id = {n.id: n for n in arch.nodes}
        self.arch = arch.copy()
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.head_spec = HeadSpec.parse(head)
        self.order = list(info)
        self.keys = {i: node_key(i, by_id[i].op) for i in self.order}
        self.inputs = {i: by_id[i].inputs for i in self.order}
        self.output_id = arch.output
        self.nodes = nn.ModuleDict()
        for i, (plan, _) in info.items():
            op = make_module(by_id[i].op, plan.out_shape, params[i])
            self.nodes[self.keys[i]] = NodeModule(by_id[i].merge, plan, op)
        self.head = make_head(self.head_spec, info[arch.output][1], num_classes)
        self._last_use = _last_use(self.order, self.inputs)

    def set_drop_path(self, p: float) -> None:
        """Drop-path with probability ``p`` on every input branch of a node that merges
        several inputs (add or concat), in training mode only; 0 turns it off."""
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop-path probability must be in [0, 1), got {p}")
        for m in self.nodes.values():
            m.drop_prob = float(p)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The output node's feature map (before the head)."""
        values: dict[int, torch.Tensor] = {INPUT: x}
        for step, i in enumerate(self.order):
            values[i] = self.nodes[self.keys[i]]([values[j] for j in self.inputs[i]])
            for j in self._last_use.get(step, ()):
                del values[j]  # free activations no later node reads
        return values[self.output_id]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _last_use(order: list[int], inputs: dict[int, tuple[int, ...]]) -> dict[int, list[int]]:
    """For each step, the tensors (INPUT or node ids) read for the last time there."""
    last: dict[int, int] = {}
    for step, i in enumerate(order):
        for j in inputs[i]:
            last[j] = step
    out: dict[int, list[int]] = {}
    for j, step in last.items():
        out.setdefault(step, []).append(j)
    return out


def init_weights(module: nn.Module) -> None:
    """He (Kaiming) normal initialisation for conv and linear weights, zero biases, BN = (1, 0)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build(
    arch: Architecture,
    input_shape: Shape,
    num_classes: int,
    head: str | Mapping[str, Any] | HeadSpec | None = None,
) -> Network:
    """Validate ``arch`` for ``input_shape`` (ArchitectureError on any problem) and build it
    on the CPU with He-initialised weights."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    net = Network(arch, input_shape, num_classes, head)
    init_weights(net)
    return net
