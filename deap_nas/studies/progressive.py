"""Progressive search: affinity before and after appending one layer (ImmuNeCS sec. 4.1, Fig. 6).

"1) Does adding a layer to a strong candidate, in expectation, yield an even stronger
candidate? 2) Given two candidates, does, in expectation, augmenting the stronger one
yield a stronger candidate than augmenting the weaker one? ... we again generate a
population of random architectures of depths 3 and 9. We train them under the partial
evaluation regime, measure their affinity score (validation accuracy), then augment each
one of them with an additional layer (with inherited weights in all other layers) and
repeat the evaluation process."

Here: ``per_depth`` random genomes per depth (phase ``before``), ``copies`` augmented
copies of each (:func:`~deap_nas.ops.immunecs.augment`: one random layer appended; the
copy inherits every other layer's weights), evaluated with the same settings (phase
``after``). The two questions get statistics, overall, per depth and, for question 1,
for the stronger half of each group too:

1. gain = after - before: mean gain, the share of copies that improved, and a one-sided
   Wilcoxon signed-rank test (H1: after > before);
2. Spearman of before against after, and the pairwise concordance: of two candidates with
   different affinities, how often the stronger one's augmented copy is the stronger copy
   (0.5 = no information).

Plot ``plots/progressive.png`` (after against before, identity line, LOESS bands).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from .base import register_study
from .common import (
    ALL,
    check_depths,
    check_int,
    check_loess,
    draw_architectures,
    grouped_correlations,
    inherit_across_phases,
    ok_value,
)
from .plots import plot_scatter_loess
from .stats import concordance, format_p, wilcoxon_signed_rank


@dataclass
class ProgressiveParams:
    """``params:`` of ``study: progressive``."""

    depths: tuple[int, ...] | None = (3, 9)
    per_depth: int = 50
    copies: int = 1
    inherit: bool = True
    loess_frac: float = 0.75
    bootstrap: int = 200

    def __post_init__(self) -> None:
        check_depths(self.depths)
        check_int("per_depth", self.per_depth, 3)
        check_int("copies", self.copies, 1)
        check_loess(self.loess_frac, self.bootstrap)


def gain_statistics(before: list[float], after: list[float]) -> dict[str, Any]:
    """Question 1 on paired (before, after) values: n, mean gain, share improved, and the
    one-sided Wilcoxon signed-rank test (H1: after > before)."""
    pairs = [(b, a) for b, a in zip(before, after, strict=True) if b == b and a == a]
    if not pairs:
        return {"n": 0, "mean_gain": math.nan, "improved": math.nan, "wilcoxon": None}
    gains = [a - b for b, a in pairs]
    test = wilcoxon_signed_rank([a for _, a in pairs], [b for b, _ in pairs], alternative="greater")
    return {"n": len(pairs), "mean_gain": statistics.fmean(gains),
            "improved": sum(g > 0 for g in gains) / len(gains), "wilcoxon": test}  # fmt: skip


def stronger_half(before: list[float], idx: list[int]) -> list[int]:
    """The indices (of ``idx``) whose ``before`` value is at least the group's median."""
    vals = [before[i] for i in idx if before[i] == before[i]]
    if not vals:
        return []
    med = statistics.median(vals)
    return [i for i in idx if before[i] == before[i] and before[i] >= med]


@register_study("progressive", ProgressiveParams)
def progressive(study: Any, p: ProgressiveParams) -> dict[str, Any]:
    from ..ops.immunecs import augment

    space = study.space
    if not hasattr(space, "random_gene"):
        raise ValueError(f"study progressive: space {study.run_config.space.name} cannot append a layer "
                         "(no random_gene); it needs an ImmuNeCS space")  # fmt: skip
    drawn = draw_architectures(study, p.depths, p.per_depth)
    nets = [ind for _, ind in drawn]
    ev = study.phase("before")
    study.evaluate(ev, nets, 0, "progressive: before augmentation")
    ev_after = study.phase("after", cache=False)
    copies, groups, before, requests = [], [], [], []
    for (g, ind) in drawn:
        for _ in range(p.copies):
            c = augment(ind, space, rng=study.rng)
            requests.append(inherit_across_phases(c, ind, ev, ev_after) if p.inherit else None)
            c.__dict__.pop("changed_layers", None)
            copies.append(c)
            groups.append(g)
            before.append(ok_value(ind))
    study.evaluate(ev_after, copies, 1, "progressive: after appending one layer", requests)
    after = [ok_value(c) for c in copies]

    corr = grouped_correlations(groups, before, after)
    labels = [ALL] + ([g for g in dict.fromkeys(groups)] if set(groups) != {ALL} else [])
    q1: dict[str, Any] = {}
    q2: dict[str, Any] = {}
    for g in labels:
        idx = [i for i in range(len(copies)) if g == ALL or groups[i] == g]
        strong = stronger_half(before, idx)
        q1[g] = {"all": gain_statistics([before[i] for i in idx], [after[i] for i in idx]),
                 "stronger_half": gain_statistics([before[i] for i in strong], [after[i] for i in strong])}
        q2[g] = {"spearman": corr[g], "concordance": concordance([before[i] for i in idx], [after[i] for i in idx])}
    lines = [f"progressive: {len(nets)} networks, {len(copies)} augmented copies"]
    lines.append("Q1: does appending a layer make a candidate stronger? (gain = after - before)")
    for g, d in q1.items():
        for part, s in d.items():
            if s["n"]:
                w = s["wilcoxon"]
                lines.append(f"  {g:<10} {part:<14} n {s['n']:>3}  mean gain {s['mean_gain']:+.4f}  "
                             f"improved {100 * s['improved']:.0f}%  Wilcoxon (after > before) {format_p(w.p)}")
    lines.append("Q2: does augmenting the stronger of two candidates give the stronger copy?")
    for g, d in q2.items():
        c = d["concordance"]
        lines.append(f"  {g:<10} Spearman {d['spearman'].text()}  pairwise concordance "
                     f"{'n/a' if c != c else f'{c:.3f}'} (0.5 = none)")  # fmt: skip
    if study.config.output.plots:
        sel = {g: [i for i, gi in enumerate(groups) if gi == g] for g in dict.fromkeys(groups)}
        panels = [{"title": "affinity after appending one layer", "xlabel": "affinity before",
                   "ylabel": "affinity after augmentation",
                   "groups": {g: ([before[i] for i in ix], [after[i] for i in ix]) for g, ix in sel.items()},
                   "corr": corr, "identity": True}]  # fmt: skip
        path = study.path / "plots" / "progressive.png"
        plot_scatter_loess(panels, path, p.loess_frac, p.bootstrap, study.config.seed,
                           suptitle="Progressive search (ImmuNeCS Fig. 6)")
        lines.append(f"plot: {path}")
    return {"summary": "\n".join(lines), "spearman": corr, "question1": q1, "question2": q2,
            "pairs": [{"group": groups[i], "before": before[i], "after": after[i]} for i in range(len(copies))]}
