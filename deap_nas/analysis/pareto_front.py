"""The Pareto front of a multi-objective run, read from its journal (torch-free).

Works on running and finished runs alike: only ``config.yaml`` and ``journal.jsonl`` are
read (docs/objectives.md, "Results of a multi-objective run").

- :func:`run_objectives`: the run's ``objectives:`` section (empty: single-objective).
- :func:`journal_front`: the non-dominated architectures among the successful records
  (optionally up to a generation), one :class:`FrontMember` per architecture with its
  objective values (the mean over repeats, as the search's fitness), best first by the
  first objective.
- :func:`front_hypervolume` / :func:`hypervolume_curve`: the normalised hypervolume
  (:func:`deap_nas.algorithms.pareto.hypervolume`) of the front, and of the front so far
  after each evaluation, against evaluations and wall-clock hours.
- :func:`format_value` / :func:`column_title`: objective values in units that read well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..evaluation.objectives import Objective, mean_vector, objective_vector, parse_objectives
from .report import by_eval_id, rank_architectures
from .time_axes import finished_seconds, timestamp

__all__ = [
    "FrontMember",
    "column_title",
    "display_value",
    "dominates",
    "format_value",
    "front_hypervolume",
    "hypervolume_curve",
    "chosen_member",
    "journal_front",
    "reference_text",
    "run_objectives",
]


@dataclass(frozen=True)
class FrontMember:
    """One architecture of the front: ``values`` in the config's objective order, ``row``
    its :func:`~deap_nas.analysis.report.rank_architectures` row (hash, eval ids, weights,
    genome, architecture, mean accuracy)."""

    values: tuple[float, ...]
    row: dict[str, Any]

    @property
    def arch_hash(self) -> str:
        return str(self.row["arch_hash"])

    @property
    def eval_ids(self) -> list[int]:
        return [int(i) for i in self.row["eval_ids"] if isinstance(i, int)]


def run_objectives(config: Mapping[str, Any]) -> tuple[Objective, ...]:
    """The objectives of a run's config mapping (``config.yaml``); empty without the section."""
    section = config.get("objectives") if isinstance(config, Mapping) else None
    return parse_objectives(section) if section else ()


def dominates(a: Sequence[float], b: Sequence[float], objectives: Sequence[Objective]) -> bool:
    """Whether vector ``a`` is at least as good as ``b`` on every objective and better on one."""
    better = False
    for x, y, o in zip(a, b, objectives, strict=True):
        gain = x - y if o.kind.direction == "max" else y - x
        if gain < 0:
            return False
        better = better or gain > 0
    return better


def _sort_key(values: Sequence[float], objectives: Sequence[Objective]) -> tuple[float, ...]:
    """Best first on the first objective, ties by the next ones."""
    return tuple(-v if o.kind.direction == "max" else v for v, o in zip(values, objectives, strict=True))


def _nondominated(members: list[FrontMember], objectives: Sequence[Objective]) -> list[FrontMember]:
    keep = [m for m in members if not any(dominates(o.values, m.values, objectives) for o in members)]
    return sorted(keep, key=lambda m: (_sort_key(m.values, objectives), m.arch_hash))


def journal_front(journal: Sequence[Mapping[str, Any]], objectives: Sequence[Objective],
                  max_generation: int | None = None) -> list[FrontMember]:
    """The non-dominated architectures of the successful search records (``generation``
    >= 0, up to ``max_generation`` when given), best first on the first objective (ties by
    the next objectives, then hash). Each architecture's vector is the mean over the
    repeats :func:`rank_architectures` averages; failed records (a broken hard constraint
    included) never enter."""
    records = [e for e in journal if _generation(e) >= 0
               and (max_generation is None or _generation(e) <= max_generation)]  # fmt: skip
    by_id = {e.get("eval_id"): e for e in records}
    members = []
    for row in rank_architectures(records):
        recs = [by_id[i] for i in row["eval_ids"] if i in by_id]
        values = mean_vector(recs, objectives)
        if all(math.isfinite(v) for v in values):
            members.append(FrontMember(values, row))
    return _nondominated(members, objectives)


def _generation(entry: Mapping[str, Any]) -> float:
    g = entry.get("generation")
    return float(g) if isinstance(g, (int, float)) and not isinstance(g, bool) else 0.0


def front_hypervolume(points: Sequence[Sequence[float]], objectives: Sequence[Objective]) -> float:
    """The normalised hypervolume of ``points`` (the logbook's ``hypervolume``)."""
    from ..algorithms.pareto import hypervolume

    return hypervolume(points, [o.axis() for o in objectives])


def _vector(entry: Mapping[str, Any], objectives: Sequence[Objective]) -> tuple[float, ...] | None:
    """A successful search record's objective vector, else None."""
    if entry.get("status") != "ok" or entry.get("role") == "stage" or _generation(entry) < 0:
        return None
    try:
        values = objective_vector(entry, objectives)
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


def _curve(records: Sequence[Mapping[str, Any]], objectives: Sequence[Objective]) -> list[float]:
    """The hypervolume of the non-dominated set of every successful record so far, after
    each record (recomputed only when a record enters the set)."""
    front: list[tuple[float, ...]] = []
    hv, out = 0.0, []
    for e in records:
        v = _vector(e, objectives)
        if v is not None and not any(dominates(p, v, objectives) or p == v for p in front):
            front = [p for p in front if not dominates(v, p, objectives)] + [v]
            hv = front_hypervolume(front, objectives)
        out.append(hv)
    return out


def hypervolume_curve(journal: Sequence[Mapping[str, Any]], objectives: Sequence[Objective],
                      run_meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Hypervolume of the front so far, every successful record counted with its own
    values: ``{"evaluations": [1..n], "hypervolume": [...]}`` in request (``eval_id``)
    order, and ``{"wall_hours": [...] | None, "hypervolume_time": [...]}`` in completion
    (file) order, hours since run.json ``created``
    (:mod:`deap_nas.analysis.time_axes`). Final-selection records (``generation`` < 0)
    are left out."""
    search = [e for e in by_eval_id(journal) if _generation(e) >= 0]
    in_file = [e for e in journal if _generation(e) >= 0]
    created = timestamp((run_meta or {}).get("created")) if (run_meta or {}).get("created") else None
    wall = finished_seconds(in_file, created)
    return {"evaluations": list(range(1, len(search) + 1)), "hypervolume": _curve(search, objectives),
            "wall_hours": [s / 3600 for s in wall] if wall is not None else None,
            "hypervolume_time": _curve(in_file, objectives)}  # fmt: skip


# ---------------------------------------------------------------------- units
_UNITS = {"accuracy": "accuracy", "params": "params", "macs": "MACs", "latency": "latency (ms)",
          "peak_memory": "peak memory (MiB)"}  # fmt: skip


def column_title(objective: Objective) -> str:
    """A table header or axis label for an objective, with its unit."""
    return _UNITS.get(objective.name, objective.name)


def display_value(objective: Objective, value: float) -> float:
    """``value`` in the unit of :func:`column_title` (latency in ms, memory in MiB)."""
    return value * 1000 if objective.name == "latency" else value / 2**20 if objective.name == "peak_memory" else value


def format_value(objective: Objective, value: float) -> str:
    """``value`` as it reads well: accuracy with 4 decimals, counts with thousands
    separators, latency in milliseconds, memory in MiB."""
    if not math.isfinite(value):
        return "-"
    if objective.name == "accuracy":
        return f"{value:.4f}"
    if objective.name == "latency":
        return f"{display_value(objective, value):.3f}"
    if objective.name == "peak_memory":
        return f"{display_value(objective, value):,.1f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def reference_text(objectives: Sequence[Objective]) -> str:
    """The reference point, e.g. ``accuracy 0.0000, params 10,000``."""
    return ", ".join(f"{column_title(o)} {format_value(o, o.reference_point())}" for o in objectives)


# ---------------------------------------------------------------------- choosing a member
def chosen_member(run: Any, rank: int | None, member: int | None) -> tuple[dict[str, Any], int, dict[str, float]] | None:
    """The front member ``member`` of a multi-objective run (``RunSummary``) as
    ``(rank_architectures row, index, {objective: value})``; None for a single-objective
    run (``rank`` chooses). ValueError: ``rank`` given for a multi-objective run, ``member``
    for a single-objective one, or an index outside the front."""
    objectives = run_objectives(run.config)
    if not objectives:
        if member is not None:
            raise ValueError("--member picks a Pareto front member of a multi-objective run; "
                             f"{run.path} has a single objective: use --rank")
        return None
    if rank is not None:
        raise ValueError(f"{run.path} is a multi-objective run: it has no ranking; pick a Pareto front member "
                         "with --member K (the # column of `deap-nas report`)")
    front = journal_front(run.journal, objectives)
    if not front:
        raise ValueError(f"{run.path}: the journal has no successful evaluation to export")
    k = 0 if member is None else member
    if not 0 <= k < len(front):
        raise ValueError(f"--member must be in 0..{len(front) - 1} (the {len(front)} members of the run's "
                         f"Pareto front, `deap-nas report` lists them), got {k}")
    m = front[k]
    return m.row, k, {o.name: v for o, v in zip(objectives, m.values, strict=True)}
