"""Weight transfer by node id: a child network starts from its parent's trained weights.

A node's weights (parameters and buffers, BatchNorm statistics included) are copied
when the parent has a node with the same id and op and every tensor has the same shape;
otherwise the child keeps its fresh He initialisation. ImmuNeCS (sec. 3.5) also
re-initialises layers the mutation changed even when their shapes survived: pass them
in ``exclude``. The source may be a :class:`Network` or a state dict loaded from disk, so
a child evaluated in another process or on another SCOOP host can inherit from a parent's
saved weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch

from .network import Network


@dataclass
class TransferReport:
    """What :func:`transfer_weights` did: copied node ids, and why the others were not."""

    copied: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    head_copied: bool = False

    def to_dict(self) -> dict:
        return {
            "copied": self.copied,
            "skipped": {str(k): v for k, v in self.skipped.items()},
            "head_copied": self.head_copied,
        }


def _prefixed(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _compatible(src: dict[str, torch.Tensor], dst: dict[str, torch.Tensor]) -> str | None:
    """None when every tensor matches by name and shape, else the first reason."""
    if set(src) != set(dst):
        missing = sorted(set(dst) ^ set(src))[:3]
        return f"different tensors ({', '.join(missing)})"
    for name, t in dst.items():
        if tuple(src[name].shape) != tuple(t.shape):
            return f"shape of {name} changed {tuple(src[name].shape)} -> {tuple(t.shape)}"
    return None


@torch.no_grad()
def transfer_weights(
    source: Network | Mapping[str, torch.Tensor],
    child: Network,
    exclude: Iterable[int] = (),
    include_head: bool = True,
) -> TransferReport:
    """Copy ``source``'s weights into ``child`` node by node; returns what was copied."""
    state = source.state_dict() if isinstance(source, Network) else dict(source)
    child_state = child.state_dict()
    excluded = set(exclude)
    report = TransferReport()
    updates: dict[str, torch.Tensor] = {}
    for i in child.order:
        key = f"nodes.{child.keys[i]}."
        if i in excluded:
            report.skipped[i] = "changed by the mutation"
            continue
        dst = _prefixed(child_state, key)
        if not dst:
            report.skipped[i] = "no weights"
            continue
        src = _prefixed(state, key)
        if not src:
            same_id = any(k.startswith(f"nodes.n{i}_") for k in state)
            report.skipped[i] = "op changed" if same_id else "new node"
            continue
        reason = _compatible(src, dst)
        if reason:
            report.skipped[i] = reason
            continue
        updates.update({key + k: v for k, v in src.items()})
        report.copied.append(i)
    if include_head:
        src, dst = _prefixed(state, "head."), _prefixed(child_state, "head.")
        if src and _compatible(src, dst) is None:
            updates.update({"head." + k: v for k, v in src.items()})
            report.head_copied = True
    for name, value in updates.items():
        child_state[name].copy_(value.to(child_state[name].device, child_state[name].dtype))
    return report
