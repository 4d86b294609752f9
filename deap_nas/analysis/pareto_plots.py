"""Plots of multi-objective runs (docs/objectives.md, "Results of a multi-objective run").

- ``plots/pareto_front.png`` (:func:`plot_pareto_fronts`): the front of all successful
  records up to each generation (:func:`~deap_nas.analysis.pareto_front.journal_front`),
  a colour per generation, the final front emphasised; the first two objectives on the
  axes, or one panel per pair with three or more; a log axis for a count that spans
  more than two decades.
- ``plots/hypervolume.png`` (:func:`plot_hypervolume`): the hypervolume of the front so
  far against evaluations and against wall-clock hours, the reference point in the title.
- :func:`plot_hypervolume_compare`: the hypervolume curves of several runs (``deap-nas
  compare`` on multi-objective runs), after :func:`same_objectives` checked that they are
  comparable.

Both run plots are registered with :func:`~deap_nas.analysis.plots.register_plot` and
draw nothing for a single-objective run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, MaxNLocator

from ..evaluation.objectives import Objective
from .pareto_front import (
    column_title,
    display_value,
    hypervolume_curve,
    journal_front,
    reference_text,
    run_objectives,
)
from .plots import (
    _colors,
    _group,
    _no_data,
    _save,
    _titled,
    aggregate_curves,
    register_plot,
    run_title,
)
from .report import RunSummary

__all__ = ["front_generations", "plot_hypervolume", "plot_hypervolume_compare", "plot_pareto_fronts",
           "same_objectives"]

MAX_GENERATIONS_DRAWN = 12  # earlier fronts beyond this are thinned evenly; the final one always drawn


def front_generations(journal: Sequence[Mapping[str, Any]], objectives: Sequence[Objective]
                      ) -> list[tuple[int, list[tuple[float, ...]]]]:
    """``(generation, front values)`` for each generation of the search records, the
    front of everything evaluated up to it, at most :data:`MAX_GENERATIONS_DRAWN` of them
    (evenly thinned, the last kept)."""
    gens = sorted({int(g) for e in journal if isinstance(g := e.get("generation"), int)
                   and not isinstance(g, bool) and g >= 0})  # fmt: skip
    if len(gens) > MAX_GENERATIONS_DRAWN:
        step = (len(gens) - 1) / (MAX_GENERATIONS_DRAWN - 1)
        gens = sorted({gens[round(k * step)] for k in range(MAX_GENERATIONS_DRAWN)})
    out = []
    for g in gens:
        front = [m.values for m in journal_front(journal, objectives, max_generation=g)]
        if front:
            out.append((g, front))
    return out


def _log_scale(objective: Objective, values: Sequence[float]) -> bool:
    """A positive cost that spans more than two decades reads better on a log axis."""
    pos = [v for v in values if v > 0]
    return objective.name != "accuracy" and len(pos) == len(values) and bool(pos) and max(pos) / min(pos) > 100


def _panel(ax: Any, fronts: list[tuple[int, list[tuple[float, ...]]]], objectives: Sequence[Objective],
           i: int, j: int) -> None:
    """One pair of objectives: earlier fronts in generation colours, the final one black."""
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    last = len(fronts) - 1
    for k, (g, front) in enumerate(fronts):
        pts = sorted((display_value(objectives[i], p[i]), display_value(objectives[j], p[j])) for p in front)
        final = k == last
        color = "black" if final else cmap(k / max(1, last))
        style = "steps-post" if len(objectives) == 2 and objectives[j].direction == "max" else "default"
        ax.plot([p[0] for p in pts], [p[1] for p in pts], drawstyle=style, linestyle="-" if len(objectives) == 2
                else "none", marker="o", markersize=6 if final else 3.5, linewidth=2 if final else 0.8,
                color=color, alpha=1.0 if final else 0.7, zorder=3 if final else 2,
                label=f"generation {g}" + (" (final)" if final else ""))  # fmt: skip
    for axis, m in ((ax.xaxis, i), (ax.yaxis, j)):
        values = [p[m] for _, front in fronts for p in front]
        if _log_scale(objectives[m], values):
            (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
        if objectives[m].name in ("params", "macs"):
            axis.set_major_formatter(EngFormatter())  # 100k rather than 100000
    ax.set_xlabel(column_title(objectives[i]) + f" ({objectives[i].direction})")
    ax.set_ylabel(column_title(objectives[j]) + f" ({objectives[j].direction})")
    ax.grid(alpha=0.3)


def plot_pareto_fronts(journal: Sequence[Mapping[str, Any]], objectives: Sequence[Objective],
                       path: str | Path | None, run_name: str | None = None) -> Figure:
    """The fronts of :func:`front_generations`, one panel per pair of objectives (the
    cost on x, accuracy on y when accuracy is in the pair); saved at ``path`` unless None."""
    fronts = front_generations(journal, objectives)
    pairs = [(i, j) if objectives[j].name == "accuracy" or objectives[i].name != "accuracy" else (j, i)
             for i, j in itertools.combinations(range(len(objectives)), 2)]  # fmt: skip
    cols = min(3, len(pairs))
    rows = math.ceil(len(pairs) / cols)
    fig = Figure(figsize=(5.2 * cols + 1.5, 4.4 * rows + 0.6), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    title = _titled("Pareto front of the evaluations up to each generation", run_name)
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    if not fronts:
        _no_data(axes[0], title, "no data: no successful evaluation")
        return _save(fig, path)
    for ax, (i, j) in zip(axes, pairs, strict=False):
        _panel(ax, fronts, objectives, i, j)
    fig.suptitle(title)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", frameon=False, fontsize=8)
    return _save(fig, path)


def plot_hypervolume(journal: Sequence[Mapping[str, Any]], objectives: Sequence[Objective],
                     run_meta: Mapping[str, Any], path: str | Path | None, run_name: str | None = None) -> Figure:
    """Hypervolume of the front so far (:func:`hypervolume_curve`) against evaluations
    (left) and wall-clock hours since the run was created (right)."""
    curve = hypervolume_curve(journal, objectives, run_meta)
    fig = Figure(figsize=(12, 4.6), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax_ev, ax_wall = fig.subplots(1, 2, sharey=True)
    panels = ((ax_ev, curve["evaluations"], curve["hypervolume"], "evaluations"),
              (ax_wall, curve["wall_hours"], curve["hypervolume_time"], "wall-clock hours since the run was created"))
    for ax, xs, ys, xlabel in panels:
        if not xs:
            _no_data(ax, "Hypervolume so far", "no data: " + ("no finished times" if xs is None else "no evaluation"))
            continue
        ax.plot(xs, ys, drawstyle="steps-post", color="tab:purple", marker=".", markersize=3)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    ax_ev.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_ev.set_ylabel("hypervolume (normalised)")
    fig.suptitle(_titled(f"Hypervolume of the front so far; reference point: {reference_text(objectives)}",
                         run_name), fontsize=10)
    return _save(fig, path)


# ---------------------------------------------------------------------- several runs
def same_objectives(configs: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[Objective, ...]:
    """The objectives shared by every ``(run name, config mapping)``; ValueError (one
    line) when the runs differ in objectives, directions or reference points."""
    def key(objs: Sequence[Objective]) -> tuple:
        return tuple((o.name, o.direction, o.reference_point()) for o in objs)

    first_name, first = configs[0][0], run_objectives(configs[0][1])
    for name, config in configs[1:]:
        other = run_objectives(config)
        if key(other) != key(first):
            def show(objs: Sequence[Objective]) -> str:
                return reference_text(objs) if objs else "single objective (accuracy)"

            raise ValueError(f"cannot compare {first_name} ({show(first)}) with {name} ({show(other)}): runs "
                             "must have the same objectives and reference points")
    return first


def plot_hypervolume_compare(runs: Sequence[tuple[str, Sequence[Mapping[str, Any]], Mapping[str, Any]]],
                             objectives: Sequence[Objective], path: str | Path | None) -> Figure:
    """Hypervolume-so-far curves of ``(label, journal, run.json)`` runs: per label the
    mean over its runs with a min-max band against evaluations (left), each run against
    wall-clock hours (right)."""
    groups = _group([(label, (journal, meta)) for label, journal, meta in runs])
    fig = Figure(figsize=(12, 4.9), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax_ev, ax_wall = fig.subplots(1, 2, sharey=True)
    for (label, members), color in zip(groups.items(), _colors(len(groups)), strict=True):
        curves = [hypervolume_curve(j, objectives, m) for j, m in members]
        xs, mean, lo, hi = aggregate_curves([c["hypervolume"] for c in curves])
        if len(members) > 1:
            ax_ev.fill_between(xs, lo, hi, step="post", color=color, alpha=0.2, linewidth=0)
        name = f"{label} ({len(members)} runs)" if len(members) > 1 else label
        ax_ev.plot(xs, mean, drawstyle="steps-post", color=color, linewidth=2, label=name)
        for c in curves:
            if c["wall_hours"]:
                ax_wall.plot(c["wall_hours"], c["hypervolume_time"], drawstyle="steps-post", color=color)
    ax_ev.set_xlabel("evaluations")
    ax_ev.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_ev.set_ylabel("hypervolume of the front so far (normalised)")
    ax_wall.set_xlabel("wall-clock hours since each run was created")
    for ax in (ax_ev, ax_wall):
        ax.grid(alpha=0.3)
    fig.suptitle(f"Hypervolume so far; reference point: {reference_text(objectives)}", fontsize=10)
    fig.legend(loc="outside lower center", ncols=min(len(groups), 4), frameon=False)
    return _save(fig, path)


# ---------------------------------------------------------------------- registered run plots
@register_plot("pareto_front")
def _pareto_front_plot(run: RunSummary, path: Path) -> bool | None:
    objectives = run_objectives(run.config)
    if not objectives:
        return False
    plot_pareto_fronts(run.journal, objectives, path, run_title(run))
    return None


@register_plot("hypervolume")
def _hypervolume_plot(run: RunSummary, path: Path) -> bool | None:
    objectives = run_objectives(run.config)
    if not objectives:
        return False
    plot_hypervolume(run.journal, objectives, run.run, path, run_title(run))
    return None
