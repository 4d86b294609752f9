"""Equal budgets for comparing searches: trained networks and wall time, read from journals.

A **trained network** is a search record (``generation`` >= 0, see
:func:`deap_nas.analysis.plots.search_records`) with ``status: ok`` that is not a cache
hit (``cached`` false). Not counted: cache hits (nothing trained), ``invalid`` and
``too_large`` (refused before training) and failed trainings (``nan``, ``oom``,
``timeout``, ``crashed``: no usable network). Each repeat of ``evaluation.repeats`` is one
training. Records are taken in request order (``eval_id``), as the best-so-far curves of
the run plots.

The **time axis** of a record is when it finished, in seconds since the run was created
(``finished`` minus run.json ``created``; ISO timestamps, whole seconds); a record without
``finished`` (an ``invalid`` record, written at once) takes the time of the record before
it in the file (journal order is completion order). A run's **wall time** is run.json
``usage.seconds`` (the search's clock, kept across resumes). Record times are capped at
that wall time. When the timestamps span more than the wall time (by over 5 % + 10 s: the
run was interrupted and resumed, and the pause is in the timestamps) or a run has no
``finished`` times, the axis is the cumulative ``time_total`` of the records in file
order instead (the training time; equal to wall time for serial runs, more with parallel
workers); :attr:`BudgetCurve.time_axis` says which was used.

The **equal-budget cuts** (:func:`equal_budget`): every run is cut at the smallest number
of trained networks among the runs compared and, separately, at the smallest wall time;
the best validation accuracy reached by then is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..analysis.time_axes import device_seconds as _total_times
from ..analysis.time_axes import finished_seconds as _finished_times
from ..analysis.time_axes import timestamp as _timestamp

__all__ = ["BudgetCurve", "budget_curve", "equal_budget", "is_trained", "mean_band"]


def is_trained(rec: Mapping[str, Any]) -> bool:
    """Whether a journal record trained a network that counts (module doc)."""
    return rec.get("status") == "ok" and not rec.get("cached")


def _accuracy(rec: Mapping[str, Any]) -> float:
    acc = rec.get("accuracy")
    if rec.get("status") != "ok" or isinstance(acc, bool) or not isinstance(acc, (int, float)):
        return math.nan
    return float(acc) if math.isfinite(acc) else math.nan


@dataclass
class BudgetCurve:
    """One run on both budget axes; lists are per search record in ``eval_id`` order."""

    run: str
    trained: list[int]  # trained networks up to and including the record
    seconds: list[float]  # the record's time on the run's time axis
    accuracy: list[float]  # the record's validation accuracy (nan unless ok)
    counted: list[bool]  # whether the record is a trained network
    wall_seconds: float  # run.json usage.seconds
    time_axis: str = "finished"  # or "time_total"
    notes: list[str] = field(default_factory=list)

    @property
    def total_trained(self) -> int:
        return self.trained[-1] if self.trained else 0

    def best_at_trained(self, n: int) -> float:
        """Best validation accuracy of the records up to the ``n``-th trained network
        (cache hits in between included); nan for ``n`` < 1 or no success by then."""
        if n < 1 or n > self.total_trained:
            return math.nan
        stop = self.trained.index(n) + 1
        return _nanmax(self.accuracy[:stop])

    def best_at_time(self, t: float) -> float:
        """Best validation accuracy of the records finished by ``t`` seconds."""
        return _nanmax([a for a, s in zip(self.accuracy, self.seconds, strict=True) if s <= t])

    def trained_curve(self) -> list[float]:
        """Best so far after the 1st, 2nd, ... trained network."""
        return [self.best_at_trained(k) for k in range(1, self.total_trained + 1)]

    def time_curve(self, grid: Sequence[float]) -> list[float]:
        """The best-so-far step function sampled at the times of ``grid``."""
        return [self.best_at_time(t) for t in grid]

    def sampled(self) -> list[float]:
        """Validation accuracies of the trained networks (the candidates the search drew)."""
        return [a for a, c in zip(self.accuracy, self.counted, strict=True) if c and math.isfinite(a)]


def _nanmax(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else math.nan


def budget_curve(journal: Sequence[Mapping[str, Any]], run_meta: Mapping[str, Any], run: str = "") -> BudgetCurve:
    """The :class:`BudgetCurve` of a run from its journal and run.json mapping."""
    from ..analysis.plots import search_records

    usage = run_meta.get("usage") or {}
    wall = float(usage.get("seconds") or 0.0)
    created = _timestamp(run_meta.get("created")) if run_meta.get("created") else None
    times = _finished_times(journal, created)
    axis, notes = "finished", []
    if times is None:
        axis, times = "time_total", _total_times(journal)
        notes.append("no finished timestamps: cumulative time_total used")
    elif wall > 0 and max(times) > 1.05 * wall + 10:
        notes.append(f"timestamps span {max(times):.0f}s > wall time {wall:.0f}s (a resume): "
                     "cumulative time_total used")
        axis, times = "time_total", _total_times(journal)
    if wall <= 0:
        wall = max(times, default=0.0)
    when = {id(rec): min(t, wall) for rec, t in zip(journal, times, strict=True)}
    rows = search_records(journal)
    trained, n = [], 0
    for rec in rows:
        n += is_trained(rec)
        trained.append(n)
    return BudgetCurve(run=run, trained=trained, seconds=[when[id(r)] for r in rows],
                       accuracy=[_accuracy(r) for r in rows], counted=[is_trained(r) for r in rows],
                       wall_seconds=wall, time_axis=axis, notes=notes)  # fmt: skip


def equal_budget(arms: Mapping[str, Sequence[BudgetCurve]]) -> dict[str, Any]:
    """Cut every run of every arm at the smallest trained-network count and, separately,
    at the smallest wall time among them: ``{"trained_cut", "time_cut", "arms": {arm:
    {"at_trained": [...], "at_time": [...], "trained": [...], "wall_seconds": [...],
    "time_axis": [...]}}}``, lists in run order."""
    curves = [c for cs in arms.values() for c in cs]
    if not curves:
        return {"trained_cut": 0, "time_cut": 0.0, "arms": {}}
    n = min(c.total_trained for c in curves)
    t = min(c.wall_seconds for c in curves)
    out = {arm: {"at_trained": [c.best_at_trained(n) for c in cs], "at_time": [c.best_at_time(t) for c in cs],
                 "trained": [c.total_trained for c in cs], "wall_seconds": [c.wall_seconds for c in cs],
                 "time_axis": [c.time_axis for c in cs]}
           for arm, cs in arms.items()}  # fmt: skip
    return {"trained_cut": n, "time_cut": t, "arms": out}


def mean_band(curves: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, low, high)`` per position of equally long curves (seeds): mean ± sample
    std over the finite values there (std 0 with one value; nan with none)."""
    a = np.asarray(curves, dtype=float)
    if a.ndim != 2 or a.shape[1] == 0:
        empty = np.array([])
        return empty, empty, empty
    finite = np.isfinite(a)
    count = finite.sum(axis=0)
    safe = np.where(finite, a, 0.0)
    mean = np.where(count > 0, safe.sum(axis=0) / np.maximum(count, 1), np.nan)
    dev = np.where(finite, (a - mean) ** 2, 0.0).sum(axis=0)
    std = np.where(count > 1, np.sqrt(dev / np.maximum(count - 1, 1)), 0.0)
    return mean, mean - std, mean + std
