"""The text summary of a multi-objective run: its Pareto front as the result (torch-free).

:func:`front_lines` is what ``deap-nas report`` prints after the run's status lines
instead of the single-objective ranking: one row per front member (its objectives in the
config's order, hash, evaluation ids), best first on the first objective, the final
hypervolume with its reference point, and the failed candidates by status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..evaluation.objectives import Objective
from .pareto_front import (
    column_title,
    format_value,
    front_hypervolume,
    journal_front,
    reference_text,
)

__all__ = ["front_lines", "front_table"]


def front_table(members: Sequence[Any], objectives: Sequence[Objective]) -> list[str]:
    """The rows of the front table (header, rule, one line per member)."""
    titles = [column_title(o) for o in objectives]
    cells = [[format_value(o, v) for o, v in zip(objectives, m.values, strict=True)] for m in members]
    widths = [max(len(t), *(len(c[k]) for c in cells)) for k, t in enumerate(titles)]
    header = f"{'#':>3}  " + "  ".join(f"{t:>{w}}" for t, w in zip(titles, widths, strict=True))
    header += f"  {'hash':<20}  eval ids"
    lines = [header, "-" * len(header)]
    for k, (m, row) in enumerate(zip(members, cells, strict=True)):
        values = "  ".join(f"{c:>{w}}" for c, w in zip(row, widths, strict=True))
        lines.append(f"{k:>3}  {values}  {m.arch_hash:<20}  {', '.join(map(str, m.eval_ids))}")
    return lines


def _failed_line(journal: Sequence[Mapping[str, Any]]) -> str:
    """Candidates without a place on a front: failed fresh evaluations by status."""
    counts: dict[str, int] = {}
    for e in journal:
        if not e.get("cached") and e.get("status") != "ok":
            counts[str(e.get("status"))] = counts.get(str(e.get("status")), 0) + 1
    constraint = counts.get("constraint", 0)
    others = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "constraint")
    return (f"infeasible   {sum(counts.values())} candidates: constraint {constraint} (a hard constraint "
            f"broken, untrained), other failures {sum(counts.values()) - constraint}"
            + (f" ({others})" if others else ""))


def front_lines(journal: Sequence[Mapping[str, Any]], objectives: Sequence[Objective]) -> list[str]:
    """The front of the run's journal as summary lines (module docstring)."""
    members = journal_front(journal, objectives)
    directions = ", ".join(f"{o.name} {o.kind.direction}" for o in objectives)
    if not members:
        return ["no successful evaluation yet: no Pareto front", _failed_line(journal)]
    hv = front_hypervolume([m.values for m in members], objectives)
    lines = [f"Pareto front: {len(members)} architectures, none dominated by another successful one "
             f"({directions}); best {objectives[0].name} first"]
    lines += front_table(members, objectives)
    ideal = ", ".join(f"{o.name} {format_value(o, o.kind.ideal)}" for o in objectives)
    lines += ["", f"hypervolume  {hv:.4f} (fraction of the box from the ideal point {ideal} to the "
                  f"reference point {reference_text(objectives)} that the front dominates)",
              _failed_line(journal)]  # fmt: skip
    return lines
