"""Pareto tools of the multi-objective loops (torch-free; docs/objectives.md).

- :class:`Axis`: one objective as a loop sees it: name, direction, the hypervolume
  reference point and the ideal value (``toolbox.objective_axes`` lists them in fitness
  order; the runtime builds them from the config's ``objectives:``).
- Feasibility (Deb's constraint-domination, as NSGA-II handles constraints): a candidate
  whose evaluation failed (``result["status"]`` not ``ok``: a broken hard constraint,
  an invalid network, a crash) is *infeasible*; every feasible one beats every infeasible
  one, and among infeasible ones a smaller constraint ``violation`` wins. Infeasible
  candidates never enter a front, a hypervolume or a non-dominated sort.
- :func:`sel_nsga2` / :func:`sel_spea2`: DEAP's ``selNSGA2`` / ``selSPEA2`` (Deb et al.
  2002; Zitzler et al. 2001) on the feasible candidates, infeasible ones after them.
- :func:`sel_pareto_tournament`: tournaments won by the lower non-domination rank, then
  the larger crowding distance (NSGA-II's crowded-comparison operator, sec. III-C); the
  binary tournament of NSGA-II and the Pareto-rank tournament of aging evolution.
- :func:`hypervolume`: the normalised hypervolume of a set of objective vectors.
- :class:`FeasibleFront`: DEAP's ``ParetoFront`` that admits feasible candidates only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from deap import tools

from .common import is_ok

__all__ = [
    "Axis",
    "FeasibleFront",
    "feasible",
    "hypervolume",
    "nondominated",
    "pareto_ranks",
    "pareto_record",
    "sel_nsga2",
    "sel_pareto_tournament",
    "sel_spea2",
    "violation",
]


@dataclass(frozen=True)
class Axis:
    """One objective: ``direction`` ``max`` or ``min``; ``reference``: the hypervolume
    reference point (a value worse than any candidate worth counting); ``ideal``: the best
    value possible (accuracy 1.0, a cost 0.0), which scales the axis so the hypervolume is
    the fraction of the box between ideal and reference that the front dominates."""

    name: str
    direction: str
    reference: float
    ideal: float = 0.0

    def __post_init__(self) -> None:
        if self.direction not in ("max", "min"):
            raise ValueError(f"axis {self.name}: direction must be max or min, got {self.direction!r}")
        if not (math.isfinite(self.reference) and math.isfinite(self.ideal)):
            raise ValueError(f"axis {self.name}: reference and ideal must be finite numbers")
        worse = self.reference < self.ideal if self.direction == "max" else self.reference > self.ideal
        if not worse:
            rel = "below" if self.direction == "max" else "above"
            raise ValueError(f"axis {self.name}: the reference point {self.reference} must lie {rel} the ideal "
                             f"{self.ideal} (objective {'maximised' if self.direction == 'max' else 'minimised'})")

    @property
    def weight(self) -> float:
        return 1.0 if self.direction == "max" else -1.0

    def scaled(self, value: float) -> float:
        """0 at the ideal, 1 at the reference point (smaller is better)."""
        return (value - self.ideal) / (self.reference - self.ideal)


def axis_weights(axes: Sequence[Axis]) -> tuple[float, ...]:
    """DEAP fitness weights of ``axes``."""
    return tuple(a.weight for a in axes)


def feasible(ind: Any) -> bool:
    """Evaluated, not failed (``result["status"]`` ok when recorded) and every value finite."""
    return ind.fitness.valid and is_ok(ind) and all(math.isfinite(v) for v in ind.fitness.values)


def violation(ind: Any) -> float:
    """How far an infeasible candidate is from feasible: 0 for a feasible one; the relative
    excess of a broken hard constraint (``result["violation"]``); infinity otherwise."""
    if feasible(ind):
        return 0.0
    v = (getattr(ind, "result", None) or {}).get("violation")
    return float(v) if isinstance(v, (int, float)) else math.inf


def _split(individuals: Iterable[Any]) -> tuple[list, list]:
    ok, bad = [], []
    for ind in individuals:
        (ok if feasible(ind) else bad).append(ind)
    return ok, sorted(bad, key=violation)  # stable: equal violations keep their order


def sel_nsga2(individuals: Sequence[Any], k: int, nd: str = "standard") -> list:
    """NSGA-II environmental selection (``tools.selNSGA2``) on the feasible candidates,
    then the least violating infeasible ones when fewer than ``k`` are feasible."""
    ok, bad = _split(individuals)
    if len(ok) >= k:
        return tools.selNSGA2(ok, k, nd=nd)
    return ok + bad[: k - len(ok)]


def sel_spea2(individuals: Sequence[Any], k: int) -> list:
    """SPEA2 environmental selection (``tools.selSPEA2``) on the feasible candidates, then
    the least violating infeasible ones."""
    ok, bad = _split(individuals)
    if len(ok) > k:
        # DEAP's selSPEA2 finds k-th smallest distances by a randomised partition on the global
        # ``random``; the values found do not depend on the draws, and the state is put back,
        # so a loop stays reproducible from its own seed
        state = random.getstate()
        try:
            return tools.selSPEA2(ok, k)
        finally:
            random.setstate(state)
    return ok + bad[: k - len(ok)]


def pareto_ranks(individuals: Sequence[Any]) -> dict[int, tuple[float, float]]:
    """``id(ind) -> (rank, -crowding distance)`` (smaller is better): the non-domination
    rank (0 = first front) and the crowding distance within its front, computed afresh
    (nothing is read from or left on the individuals); infeasible: ``(inf, violation)``."""
    ok, bad = _split(individuals)
    out: dict[int, tuple[float, float]] = {}
    if ok:
        for rank, front in enumerate(tools.sortNondominated(ok, len(ok))):
            for ind, dist in zip(front, _crowding(front), strict=True):
                out[id(ind)] = (float(rank), -dist)
    for ind in bad:
        out[id(ind)] = (math.inf, violation(ind))
    return out


def _crowding(front: Sequence[Any]) -> list[float]:
    """Crowding distances of one front (Deb et al. 2002, sec. III-B), in front order."""
    n = len(front)
    dist = [0.0] * n
    if n == 0:
        return dist
    for m in range(len(front[0].fitness.values)):
        order = sorted(range(n), key=lambda i: front[i].fitness.values[m])
        dist[order[0]] = dist[order[-1]] = math.inf
        span = front[order[-1]].fitness.values[m] - front[order[0]].fitness.values[m]
        if span == 0:
            continue
        for j in range(1, n - 1):
            gap = front[order[j + 1]].fitness.values[m] - front[order[j - 1]].fitness.values[m]
            dist[order[j]] += gap / span
    return dist


def sel_pareto_tournament(individuals: Sequence[Any], k: int, tournsize: int = 2,
                          rng: random.Random | Any = random) -> list:
    """``k`` winners of tournaments of ``tournsize`` drawn with replacement: the lower
    non-domination rank wins, then the larger crowding distance (infeasible: the smaller
    violation), then the earlier drawn (:func:`pareto_ranks`)."""
    if not individuals:
        raise ValueError("sel_pareto_tournament: no individuals to select from")
    ranks = pareto_ranks(individuals)
    winners = []
    for _ in range(k):
        drawn = [rng.choice(individuals) for _ in range(tournsize)]
        winners.append(min(drawn, key=lambda i: ranks[id(i)]))
    return winners


def nondominated(individuals: Iterable[Any]) -> list:
    """The feasible candidates no other feasible candidate dominates (duplicates kept)."""
    ok, _ = _split(individuals)
    return tools.sortNondominated(ok, len(ok), first_front_only=True) if ok else []


def hypervolume(points: Iterable[Sequence[float]], axes: Sequence[Axis]) -> float:
    """The normalised hypervolume of objective vectors ``points`` (in objective units, the
    axes' order): each axis scaled by :meth:`Axis.scaled` (ideal 0, reference 1), the
    volume dominated within the unit box; 1.0 is a single candidate at the ideal point.
    Points not better than the reference on every axis add nothing."""
    scaled = [[a.scaled(v) for a, v in zip(axes, p, strict=True)] for p in points]
    inside = [p for p in scaled if all(x < 1.0 for x in p)]
    if not inside:
        return 0.0
    import moocore  # DEAP's own hypervolume backend (a DEAP dependency)
    import numpy as np

    return float(moocore.hypervolume(np.array(inside, dtype=float), ref=np.ones(len(axes))))


class FeasibleFront(tools.ParetoFront):
    """``tools.ParetoFront`` that admits feasible candidates only (:func:`feasible`): the
    non-dominated set of everything a run evaluated successfully."""

    def update(self, population: Iterable[Any]) -> None:
        super().update([ind for ind in population if feasible(ind)])


def pareto_record(population: Sequence[Any], front: Sequence[Any], axes: Sequence[Axis]) -> dict[str, Any]:
    """Logbook columns of a multi-objective loop: ``hypervolume`` of the run's ``front``,
    its size (``front``), the population's ``failed`` count and, per axis, the best value
    on the front (``best_<name>``)."""
    row: dict[str, Any] = {
        "hypervolume": hypervolume([ind.fitness.values for ind in front], axes),
        "front": len(front),
        "failed": sum(1 for ind in population if ind.fitness.valid and not feasible(ind)),
    }
    for m, a in enumerate(axes):
        values = [ind.fitness.values[m] for ind in front]
        row[f"best_{a.name}"] = (max(values) if a.direction == "max" else min(values)) if values else math.nan
    return row
