"""The Markdown section of a comparison of arms (``results.md`` of ``study:
search_vs_random``): title, the command that regenerates it, the setup, per budget point a
table of the arms and a table of the comparisons with the baseline, the results in plain
words and relative links to the plots."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .compare import METRIC_NAMES, comparison_sentence
from .stats import format_p

__all__ = ["render_results_md"]


def _ms(s: Mapping[str, Any]) -> str:
    if not s.get("n"):
        return "-"
    return f"{s['mean']:.4f} ± {s['std']:.4f} (n = {s['n']})"


def _num(v: Any, fmt: str = ".4f") -> str:
    return f"{v:{fmt}}" if isinstance(v, (int, float)) and math.isfinite(v) else "-"


def _arm_table(point: Mapping[str, Any]) -> list[str]:
    cut = point["equal_budget"]
    cols = {"test": "final test acc", "at_trained": f"best val @ {cut['trained_cut']} trained",
            "at_time": f"best val @ {cut['time_cut']:.0f} s", "best_val": "best val (whole run)"}  # fmt: skip
    head = ["arm", "runs", "trained networks", "wall time (s)", *cols.values()]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arm, summ in point["statistics"]["arms"].items():
        budget = cut["arms"][arm]
        trained = sum(budget["trained"]) / max(1, len(budget["trained"]))
        wall = sum(budget["wall_seconds"]) / max(1, len(budget["wall_seconds"]))
        cells = [arm, str(len(budget["trained"])), f"{trained:.1f}", f"{wall:.0f}", *(_ms(summ[m]) for m in cols)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _comparison_table(point: Mapping[str, Any]) -> list[str]:
    comps = point["statistics"]["comparisons"]
    if not comps:
        return ["No comparison: no metric has values in both arms."]
    head = ["arm vs baseline", "metric", "seeds won", "Mann-Whitney p", "A12", "difference of means [95% CI]"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in comps:
        ci = f"[{_num(c['diff_low'], '+.4f')}, {_num(c['diff_high'], '+.4f')}]"
        cells = [f"{c['arm']} vs {c['baseline']}", METRIC_NAMES[c["metric"]], f"{c['wins']}/{c['pairs']}",
                 format_p(c["mann_whitney_p"]).replace("p = ", ""), _num(c["a12"], ".2f"),
                 f"{_num(c['diff'], '+.4f')} {ci}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_results_md(title: str, command: str, setup: Sequence[str], points: Sequence[Mapping[str, Any]],
                      definitions: Sequence[str], alpha: float = 0.05) -> str:  # fmt: skip
    """The section as Markdown. ``points``: per budget point ``{"point", "equal_budget",
    "statistics" (:func:`~deap_nas.studies.compare.compare_arms`), "plots": [(caption,
    relative path), ...]}``; ``setup`` and ``definitions``: bullet lines."""
    out = [f"## {title}", "", "Regenerate (the study directory is reused; finished runs are only read):", "",
           "```bash", command, "```", "", "**Setup.**", "", *(f"- {s}" for s in setup), ""]  # fmt: skip
    for point in points:
        if len(points) > 1:
            out += [f"### Budget point {point['point']}", ""]
        out += _arm_table(point) + [""]
        out += _comparison_table(point) + [""]
        comps = point["statistics"]["comparisons"]
        ordered = sorted(comps, key=lambda c: list(METRIC_NAMES).index(c["metric"]))
        if ordered:
            out += ["**Results.**", ""] + [f"- {comparison_sentence(c, alpha)}" for c in ordered] + [""]
        out += [f"![{caption}]({path})" for caption, path in point.get("plots", [])]
        out += [""]
    out += ["**Definitions.**", "", *(f"- {d}" for d in definitions), ""]
    return "\n".join(out)
