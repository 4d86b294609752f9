"""An ensemble of networks that outputs the mean of its members' logits.

A distillation teacher made of several networks (``deap-nas train-teacher``,
:mod:`deap_nas.runtime.teacher_ensemble`): ``forward(x)`` is ``(1/M) sum_j z_j(x)``, the
members' logits averaged (Hinton et al. 2015, sec. 2, distil "an ensemble of models" from
the ensemble's soft targets; averaging logits is their geometric-mean option: softmax of
the mean logits at temperature T is the normalised geometric mean of the members'
softened distributions). The members always run in eval mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["LogitEnsemble"]


class LogitEnsemble(nn.Module):
    """Members whose logits are averaged; an inference model (members stay in eval mode)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("members: an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.train(False)

    def train(self, mode: bool = True) -> LogitEnsemble:
        super().train(mode)
        self.members.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x).float() for m in self.members]).mean(0)
