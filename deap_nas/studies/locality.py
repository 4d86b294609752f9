"""Locality of a search space and its mutation operator (ImmuNeCS sec. 4.1, Fig. 4).

"We generate a population of 100 random networks ... half the population has depth 3 and
the other half, depth 9. Each network is evaluated ..., then 10 mutated clones are
generated for each parent, using the mutation operator described in Section 3.4. For each
parent, we compute the mean and standard deviation of its clones' affinity scores and
analyse their correlation to the parent's affinity." Expected: mean positively correlated
(locality), standard deviation negatively (the mutation rate exp(-f / rho) is larger for
weak parents).

Here: ``parents_per_depth`` random genomes per depth (``space.random_genome``; ``depths:
null`` uses the space's own random individuals, e.g. for the ``neat`` space), evaluated
with the run config's partial-evaluation settings (phase ``parents``); ``clones`` clones
of each, mutated by ``mutation`` (default ``mut_hypermutation``, reading the parent's
affinity; one :class:`~deap_nas.ops.immunecs.SeenRegistry` keeps every clone new where the
operator takes ``seen``), evaluated in phase ``clones``. With ``inherit`` (default, as in
the search loop) clones start from their parent's weights except the layers the mutation
changed; the paper does not say which it did. Statistics: Spearman of parent affinity
against the clones' mean and against their standard deviation (sample std, parents with at
least 2 successful clones), overall and per depth. Plot ``plots/locality.png``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from .base import register_study
from .common import (
    check_depths,
    check_int,
    check_loess,
    clone_for_mutation,
    correlation_lines,
    draw_architectures,
    grouped_correlations,
    inherit_across_phases,
    ok_value,
    operator,
)
from .plots import plot_scatter_loess


@dataclass
class LocalityParams:
    """``params:`` of ``study: locality`` (paper values: depths [3, 9], 50 parents each, 10 clones)."""

    depths: tuple[int, ...] | None = (3, 9)
    parents_per_depth: int = 50
    clones: int = 10
    mutation: dict[str, Any] = field(default_factory=lambda: {"name": "mut_hypermutation"})
    inherit: bool = True
    loess_frac: float = 0.75
    bootstrap: int = 200

    def __post_init__(self) -> None:
        check_depths(self.depths)
        check_int("parents_per_depth", self.parents_per_depth, 3)
        check_int("clones", self.clones, 2)
        if "name" not in self.mutation:
            raise ValueError("mutation: give the operator's name, e.g. {name: mut_hypermutation}")
        check_loess(self.loess_frac, self.bootstrap)


def clone_statistics(parents: list[float], clones: list[list[float]]) -> tuple[list[float], list[float], list[float]]:
    """``(parent affinity, clone mean, clone std)`` per parent with a finite affinity and
    at least 2 finite clone affinities (sample standard deviation)."""
    pa, mean, std = [], [], []
    for f, cs in zip(parents, clones, strict=True):
        ok = [c for c in cs if c == c]
        if f == f and len(ok) >= 2:
            pa.append(f)
            mean.append(statistics.fmean(ok))
            std.append(statistics.stdev(ok))
    return pa, mean, std


@register_study("locality", LocalityParams)
def locality(study: Any, p: LocalityParams) -> dict[str, Any]:
    from ..ops.immunecs import SeenRegistry

    space = study.space
    drawn = draw_architectures(study, p.depths, p.parents_per_depth)
    groups = [g for g, _ in drawn]
    parents = [ind for _, ind in drawn]
    ev_parents = study.phase("parents")
    study.evaluate(ev_parents, parents, 0, "locality: parents")

    # one registry of every architecture seen, where the space and operator know it
    seen = SeenRegistry(space) if hasattr(space, "string_encoding") else None
    if seen is not None:
        for ind in parents:
            seen.add(ind)
    mutate = operator(p.mutation, space, "params.mutation", seen=seen)
    ev_clones = study.phase("clones", cache=False)
    clones, owner, requests = [], [], []
    for k, parent in enumerate(parents):
        for _ in range(p.clones):
            c = clone_for_mutation(parent)
            (c,) = mutate(c, study.rng)
            requests.append(inherit_across_phases(c, parent, ev_parents, ev_clones) if p.inherit else None)
            for note in ("changed_layers", "novel"):  # the mutation's annotations
                c.__dict__.pop(note, None)
            clones.append(c)
            owner.append(k)
    study.evaluate(ev_clones, clones, 1, "locality: clones", requests)

    f_parent = [ok_value(ind) for ind in parents]
    per_parent: list[list[float]] = [[] for _ in parents]
    for k, c in zip(owner, clones, strict=True):
        per_parent[k].append(ok_value(c))
    kept = [i for i in range(len(parents)) if f_parent[i] == f_parent[i]
            and sum(1 for v in per_parent[i] if v == v) >= 2]  # fmt: skip
    pa, mean, std = clone_statistics([f_parent[i] for i in kept], [per_parent[i] for i in kept])
    g_kept = [groups[i] for i in kept]
    corr_mean = grouped_correlations(g_kept, pa, mean)
    corr_std = grouped_correlations(g_kept, pa, std)
    lines = [f"locality: {len(parents)} parents, {len(clones)} clones; {len(kept)} parents with affinity and "
             f">= 2 successful clones"]  # fmt: skip
    lines += correlation_lines("(a) parent affinity vs clones' mean affinity (expected: positive)", corr_mean)
    lines += correlation_lines("(b) parent affinity vs clones' std of affinity (expected: negative)", corr_std)
    if study.config.output.plots:
        labels = list(dict.fromkeys(g_kept))
        sel = {g: [i for i, gi in enumerate(g_kept) if gi == g] for g in labels}
        panels = [
            {"title": "(a) mean of clones' affinity", "xlabel": "parent affinity", "ylabel": "clones' mean affinity",
             "groups": {g: ([pa[i] for i in ix], [mean[i] for i in ix]) for g, ix in sel.items()},
             "corr": corr_mean, "identity": True},
            {"title": "(b) std of clones' affinity", "xlabel": "parent affinity", "ylabel": "clones' std of affinity",
             "groups": {g: ([pa[i] for i in ix], [std[i] for i in ix]) for g, ix in sel.items()},
             "corr": corr_std},
        ]  # fmt: skip
        path = study.path / "plots" / "locality.png"
        plot_scatter_loess(panels, path, p.loess_frac, p.bootstrap, study.config.seed,
                           suptitle="Locality of the search space and mutation operator (ImmuNeCS Fig. 4)")
        lines.append(f"plot: {path}")
    return {
        "summary": "\n".join(lines),
        "spearman_mean": corr_mean,
        "spearman_std": corr_std,
        "parents": [{"group": groups[i], "affinity": f_parent[i], "clones": per_parent[i],
                     "arch_hash": (parents[i].result or {}).get("arch_hash")} for i in range(len(parents))],
    }  # fmt: skip

