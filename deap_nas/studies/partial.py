"""Partial evaluation against training to convergence (ImmuNeCS sec. 4.1, Fig. 5).

"We generate random architectures of depths 3 and 9 ... and evaluate them under the
partial evaluation regime. Next, we train them to convergence on the full dataset
(training details in Section 4.2), from the inherited weights. We plot the full-training
test accuracy values against the partial-training validation accuracy values ...
Further experiments have also shown that these correlations are slightly weaker when
weights are not inherited but reinitialized."

Here: ``per_depth`` random genomes per depth are trained with the run config's
partial-evaluation settings (phase ``partial``: validation accuracy), then with its
``final_training`` settings (training, ``train_subset``, ``val_fraction``, head) and the
test split measured once (phases ``full_inherit``, starting from the partial training's
weights, and, with ``scratch``, ``full_scratch`` from a fresh He initialisation with the
same seed). Statistics: Spearman of partial validation accuracy against full-training test
accuracy, overall and per depth, for each full regime. Plot ``plots/partial_evaluation.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import register_study
from .common import (
    attach_records,
    check_depths,
    check_int,
    check_loess,
    correlation_lines,
    draw_architectures,
    grouped_correlations,
    inherit_across_phases,
    ok_value,
    record_value,
)
from .plots import plot_scatter_loess


@dataclass
class PartialParams:
    """``params:`` of ``study: partial_evaluation``."""

    depths: tuple[int, ...] | None = (3, 9)
    per_depth: int = 50
    inherit: bool = True  # full training from the partial training's weights (the paper)
    scratch: bool = True  # also from scratch (the paper's "further experiments")
    loess_frac: float = 0.75
    bootstrap: int = 200

    def __post_init__(self) -> None:
        check_depths(self.depths)
        check_int("per_depth", self.per_depth, 3)
        if not (self.inherit or self.scratch):
            raise ValueError("inherit: at least one of inherit and scratch must be true")
        check_loess(self.loess_frac, self.bootstrap)


def _copies(study: Any, individuals: list[Any], phase: Any | None, target: Any) -> tuple[list[Any], list[Any]]:
    """Fresh copies of ``individuals`` for phase ``target``; with ``phase`` (where they
    were trained) each inherits all its weights from there."""
    out, requests = [], []
    for ind in individuals:
        c = study.space.from_json(study.space.to_json(ind))
        requests.append(inherit_across_phases(c, ind, phase, target) if phase is not None else None)
        out.append(c)
    return out, requests


@register_study("partial_evaluation", PartialParams)
def partial_evaluation(study: Any, p: PartialParams) -> dict[str, Any]:
    drawn = draw_architectures(study, p.depths, p.per_depth)
    groups = [g for g, _ in drawn]
    nets = [ind for _, ind in drawn]
    ev = study.phase("partial")
    study.evaluate(ev, nets, 0, "partial evaluation")
    partial = [ok_value(ind) for ind in nets]

    regimes = [name for name, on in (("inherit", p.inherit), ("scratch", p.scratch)) if on]
    full: dict[str, list[float]] = {}
    for regime in regimes:
        ev_full = study.phase(f"full_{regime}", context=study.final_context(), cache=False)
        copies, requests = _copies(study, nets, ev if regime == "inherit" else None, ev_full)
        study.evaluate(ev_full, copies, 0, f"full training ({'inherited weights' if regime == 'inherit' else 'from scratch'})",
                       requests)
        attach_records(ev_full, copies)
        full[regime] = [record_value(c, "test_accuracy") for c in copies]

    corr = {r: grouped_correlations(groups, partial, full[r]) for r in regimes}
    lines = [f"partial evaluation: {len(nets)} architectures"]
    for r in regimes:
        lines += correlation_lines(f"partial validation accuracy vs full-training test accuracy ({r})", corr[r])
    if study.config.output.plots:
        labels = list(dict.fromkeys(groups))
        sel = {g: [i for i, gi in enumerate(groups) if gi == g] for g in labels}
        panels = [
            {"title": f"full training {'from inherited weights' if r == 'inherit' else 'from scratch'}",
             "xlabel": "partial-training validation accuracy", "ylabel": "full-training test accuracy",
             "groups": {g: ([partial[i] for i in ix], [full[r][i] for i in ix]) for g, ix in sel.items()},
             "corr": corr[r], "identity": True}
            for r in regimes
        ]  # fmt: skip
        path = study.path / "plots" / "partial_evaluation.png"
        plot_scatter_loess(panels, path, p.loess_frac, p.bootstrap, study.config.seed,
                           suptitle="Partial evaluation against training to convergence (ImmuNeCS Fig. 5)")
        lines.append(f"plot: {path}")
    return {
        "summary": "\n".join(lines),
        "spearman": corr,
        "architectures": [{"group": groups[i], "partial_val_acc": partial[i],
                           **{f"full_test_acc_{r}": full[r][i] for r in regimes},
                           "arch_hash": (nets[i].result or {}).get("arch_hash")} for i in range(len(nets))],
    }  # fmt: skip
