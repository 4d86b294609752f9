"""The Markdown section of a comparison of arms (``results.md`` of ``study:
search_vs_random``): title, the command that regenerates it, the setup, per budget point a
table of the arms and a table of the comparisons with the baseline, the results in plain
words and relative links to the plots."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .compare import METRIC_NAMES, comparison_sentence
from .stats import format_p

__all__ = ["render_results_md", "render_study_md", "study_command"]


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
    iterations = _mean_iterations(point)
    shown = any(math.isfinite(v) for v in iterations.values())
    head = ["arm", "runs", "trained networks", *(["optimizer iterations"] if shown else []), "wall time (s)",
            *cols.values()]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arm, summ in point["statistics"]["arms"].items():
        budget = cut["arms"][arm]
        trained = sum(budget["trained"]) / max(1, len(budget["trained"]))
        wall = sum(budget["wall_seconds"]) / max(1, len(budget["wall_seconds"]))
        its = [_num(iterations.get(arm, math.nan), ".0f")] if shown else []
        cells = [arm, str(len(budget["trained"])), f"{trained:.1f}", *its, f"{wall:.0f}", *(_ms(summ[m]) for m in cols)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _mean_iterations(point: Mapping[str, Any]) -> dict[str, float]:
    """Per arm, the mean over runs of the optimizer iterations its logbooks record (NaN
    when a run does not record them)."""
    out = {}
    for arm, runs in (point.get("runs") or {}).items():
        values = [float(r.get("iterations", math.nan)) for r in runs]
        out[arm] = sum(values) / len(values) if values and all(math.isfinite(v) for v in values) else math.nan
    return out


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
                      definitions: Sequence[str], alpha: float = 0.05, reference: str | None = None) -> str:  # fmt: skip
    """The section as Markdown. ``points``: per budget point ``{"point", "equal_budget",
    "statistics" (:func:`~deap_nas.studies.compare.compare_arms`), "plots": [(caption,
    relative path), ...]}``; ``setup`` and ``definitions``: bullet lines."""
    out = [f"## {title}", "", "Regenerate (the study directory is reused; finished runs are only read):", "",
           "```bash", command, "```", "", "**Setup.**", "", *(f"- {s}" for s in setup), ""]  # fmt: skip
    if reference:
        out += ["**Reference.** " + reference.strip(), ""]
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


def study_command(config: Any, path: Path) -> str:
    """The command that regenerates (continues) the study in ``path``."""
    if config.source:
        return f"deap-nas study {config.study} {config.source} --dir {path}"
    return f"deap-nas study resume {path}"


def render_study_md(config: Any, path: Path, summary: str) -> str:
    """``results.md`` of a study without a section of its own: the title
    (``output.title``, default the study name), the command that regenerates it, the
    ``output.reference`` text, the study's summary as printed, and every plot of
    ``plots/`` as an image."""
    title = config.output.title or f"Study {config.study}"
    out = [f"## {title}", "", "Regenerate (the study directory is reused; finished runs are only read):", "",
           "```bash", study_command(config, path), "```", ""]  # fmt: skip
    if config.output.reference:
        out += ["**Reference.** " + config.output.reference.strip(), ""]
    out += ["**Measured.**", "", "```text", summary.strip() or "(no summary)", "```", ""]
    plots = sorted((Path(path) / "plots").glob("*.png")) if (Path(path) / "plots").is_dir() else []
    out += [f"![{png.stem.replace('_', ' ')}](plots/{png.name})" for png in plots]
    return "\n".join(out).rstrip() + "\n"
