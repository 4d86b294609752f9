"""Plots of a run: fitness per generation, accuracy against parameter count, best-so-far
accuracy against evaluations (several runs / labels, with the accuracies' empirical CDF)
and against wall-clock and device hours, and, for the ``neat`` macro space, a frequency
view of all evolved genomes. The plots of a run directory name the run under their title
(:func:`run_title`: directory, method, data set) and say on the axes what the fitness is
(:func:`fitness_label`). Every ``plot_*`` function returns its matplotlib ``Figure`` and
saves it as a PNG unless its path is None.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, safe in
worker processes). Empty or all-NaN data give a figure that says so instead of an error.

The macro-NAS plots follow Kyriakides & Margaritis, "Regularized Evolution for Macro
Neural Architecture Search" (AIAI 2020), sec. 4.2: Fig. 3 (best architecture so far for
evolution and random search, and the empirical CDFs of their accuracies) is
:func:`plot_best_so_far`; Fig. 4 (every evolved genome overlaid with alpha 1/400, so that
dominant patterns show) is :func:`plot_neat_genomes`, drawn as frequencies instead of an
overlay: how many valid genomes hold each (layer -> layer) edge on their live path, how
often each layer choice is live, and the live node count (the paper: 5.5 ± 1.1).

:func:`write_plots` draws every plot registered with :func:`register_plot` that applies to
the run: the general ones (no ``space`` / ``algorithm`` given) for every run, paper- or
space-specific ones only for runs whose config names that space (``space.name``) or
algorithm (``algorithm.name``). Registered here: ``fitness``, ``accuracy_vs_params``,
``best_so_far`` and ``best_so_far_time`` for every run, ``genomes`` for the ``neat`` space (Fig. 4 above) and
``best_generation`` for ``minigen`` (MiniGen's Fig. 3 / 4, when the logbook has
``best_birth``), and, for multi-objective runs only, ``pareto_front`` and ``hypervolume``
(:mod:`deap_nas.analysis.pareto_plots`). A new plot is one decorated function of the loaded run
(:class:`~deap_nas.analysis.report.RunSummary`) and the PNG path to write; it returns
``False`` when it has nothing to draw for this run (no file, no path returned)::

    @register_plot("my_figure", algorithm="my_algorithm")  # plots/my_figure.png
    def _my_figure(run: RunSummary, path: Path) -> None:
        ...  # draw from run.journal / run.logbook / run.config, save a PNG at path

Plots are drawn in registration order; a name (the file ``plots/<name>.png``) is
registered once.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..registry import Registry
from ..spaces.neat import INPUT_ID, LAYER_CHOICES, OUTPUT_ID, enabled_path_nodes
from .report import RunSummary, load_run
from .time_axes import device_seconds, finished_seconds, timestamp

__all__ = [
    "PLOTS",
    "RegisteredPlot",
    "aggregate_curves",
    "best_so_far",
    "best_so_far_by_time",
    "final_best",
    "fitness_label",
    "mann_whitney_u",
    "mann_whitney_u_normal",
    "neat_frequencies",
    "pareto_front",
    "plot_accuracy_vs_params",
    "plot_best_generation",
    "plot_best_so_far",
    "plot_best_so_far_time",
    "plot_fitness",
    "plot_neat_genomes",
    "register_plot",
    "run_label",
    "run_title",
    "search_records",
    "write_plots",
]


def _num(value: Any) -> float:
    """A finite float, or nan (lists, e.g. multi-objective fitness: their first value)."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def _figure() -> tuple[Figure, Any]:
    fig = Figure(figsize=(7.5, 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig: Figure, path: str | Path | None) -> Figure:
    """Save ``fig`` as a PNG at ``path`` (nothing when None); returns it."""
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, format="png")
    return fig


def _no_data(ax: Any, title: str, message: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=13, color="0.35", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _titled(what: str, run_name: str | None) -> str:
    """A plot title: what it shows, and on a second line the run it shows it for."""
    return f"{what}\n{run_name}" if run_name else what


def fitness_label(config: Mapping[str, Any]) -> str:
    """What a run's fitness is, for axis labels, from its config mapping: the validation
    accuracy of the best epoch or of the last (``training.score``)."""
    training = config.get("training") if isinstance(config, Mapping) else None
    score = training.get("score", "best") if isinstance(training, Mapping) else "best"
    return f"validation accuracy (fitness, {score} epoch)" if score in ("best", "last") else \
        "validation accuracy (fitness)"


def run_title(run: RunSummary) -> str:
    """The run a plot is of: directory name, method (:func:`run_label`) and data set."""
    data = run.config.get("data") if isinstance(run.config, Mapping) else None
    name = data.get("name") if isinstance(data, Mapping) else None
    return f"{run.path.name}: {run_label(run.config)} on {name or 'unknown data'}"


def plot_fitness(logbook: Sequence[Mapping[str, Any]], path: str | Path | None, run_name: str | None = None,
                 fitness: str | None = None) -> Figure:
    """Best and mean fitness per generation (mean ± std shaded, worst dotted, failed
    evaluations per generation as bars on a second axis); saved as a PNG at ``path``
    (unless None). ``run_name`` goes under the title, ``fitness`` (what the fitness is,
    :func:`fitness_label`) on the y axis. Returns the figure."""
    title = _titled("Fitness per generation", run_name)
    rows = sorted(
        (r for r in logbook if math.isfinite(_num(r.get("gen")))), key=lambda r: _num(r.get("gen"))
    )
    gens = [_num(r.get("gen")) for r in rows]
    best = [_num(r.get("best", r.get("max"))) for r in rows]
    mean = [_num(r.get("mean", r.get("avg"))) for r in rows]
    std = [_num(r.get("std")) for r in rows]
    worst = [_num(r.get("worst", r.get("min"))) for r in rows]
    fig, ax = _figure()
    if not any(math.isfinite(v) for v in best + mean):
        _no_data(ax, title, "no data: no generation with a finite fitness")
        return _save(fig, path)

    def finite(ys: list[float]) -> tuple[list[float], list[float]]:
        pts = [(x, y) for x, y in zip(gens, ys, strict=True) if math.isfinite(y)]
        return [p[0] for p in pts], [p[1] for p in pts]

    band = [
        (g, m - s, m + s) for g, m, s in zip(gens, mean, std, strict=True) if math.isfinite(m) and math.isfinite(s)
    ]
    if band:
        ax.fill_between(
            [b[0] for b in band], [b[1] for b in band], [b[2] for b in band],
            color="tab:blue", alpha=0.18, linewidth=0, label="mean ± std",
        )  # fmt: skip
    ax.plot(*finite(mean), color="tab:blue", marker=".", label="mean")
    ax.plot(*finite(best), color="tab:green", marker="o", markersize=4, label="best")
    if any(math.isfinite(w) for w in worst):
        ax.plot(*finite(worst), color="0.5", linestyle=":", linewidth=1, label="worst")
    failed = [_num(r.get("failed")) for r in rows]
    handles, labels = ax.get_legend_handles_labels()
    if any(math.isfinite(f) and f > 0 for f in failed):
        ax2 = ax.twinx()
        ax2.bar(*finite(failed), width=0.6, color="tab:red", alpha=0.25, label="failed evaluations")
        ax2.set_ylabel("failed evaluations", color="tab:red")
        ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax2.set_ylim(0, max(f for f in failed if math.isfinite(f)) * 3)  # keep bars low
        ax.set_zorder(ax2.get_zorder() + 1)
        ax.patch.set_visible(False)
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), frameon=False)
    ax.set_title(title)
    ax.set_xlabel("generation")
    ax.set_ylabel(fitness or "fitness")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_best_generation(logbook: Sequence[Mapping[str, Any]], path: str | Path | None,
                         run_name: str | None = None) -> Figure:
    """MiniGen's Fig. 3 / 4: per generation, the birth generation of the highest-accuracy
    network (``best_birth``, left axis) and its accuracy (``best``, right axis)."""
    title = _titled("Best network's birth generation and accuracy", run_name)
    rows = sorted((r for r in logbook if math.isfinite(_num(r.get("gen"))) and math.isfinite(_num(r.get("best_birth")))),
                  key=lambda r: _num(r.get("gen")))
    fig, ax = _figure()
    if not rows:
        _no_data(ax, title, "no data: the logbook has no best_birth")
        return _save(fig, path)
    gens = [_num(r.get("gen")) for r in rows]
    ax.step(gens, [_num(r.get("best_birth")) for r in rows], where="mid", color="tab:red", label="birth generation")
    ax.set_ylabel("birth generation of the best network", color="tab:red")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax2 = ax.twinx()
    ax2.plot(gens, [_num(r.get("best")) for r in rows], color="tab:green", marker=".", label="accuracy")
    ax2.set_ylabel("best accuracy", color="tab:green")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    ax.set_title(title)
    ax.set_xlabel("generation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return _save(fig, path)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the (params, accuracy) points not dominated by any other (fewer or equal
    params and higher or equal accuracy, one strictly), ordered by params."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best_acc = -math.inf
    for i in order:
        if points[i][1] > best_acc:
            front.append(i)
            best_acc = points[i][1]
    return front


def plot_accuracy_vs_params(journal: Sequence[Mapping[str, Any]], path: str | Path | None,
                            run_name: str | None = None, fitness: str | None = None) -> Figure:
    """Validation accuracy against parameter count (log x) of every trained, successful
    evaluation (coloured by generation), the Pareto front (max accuracy, min params) and
    the best marked; failed evaluations are counted in the legend. Saved at ``path``
    (unless None); ``run_name`` under the title, ``fitness`` on the y axis."""
    title = "Accuracy vs parameters"
    fresh = [e for e in journal if not e.get("cached")]
    ok = [
        e
        for e in fresh
        if e.get("status") == "ok" and math.isfinite(_num(e.get("accuracy"))) and _num(e.get("params")) > 0
    ]
    failed: dict[str, int] = {}
    for e in fresh:
        if e.get("status") != "ok":
            failed[str(e.get("status"))] = failed.get(str(e.get("status")), 0) + 1
    n_failed = sum(failed.values())
    failed_label = f"failed: {n_failed}" + (
        f" ({', '.join(f'{k} {v}' for k, v in sorted(failed.items()))})" if failed else ""
    )
    fig, ax = _figure()
    if not ok:
        _no_data(ax, _titled(title, run_name), f"no data: no successful evaluation\n{failed_label}")
        return _save(fig, path)

    params = [_num(e["params"]) for e in ok]
    acc = [_num(e["accuracy"]) for e in ok]
    gens = [_num(e.get("generation")) for e in ok]
    gens = [g if math.isfinite(g) else 0.0 for g in gens]
    if len(set(gens)) > 1:
        sc = ax.scatter(params, acc, c=gens, cmap="viridis", s=22, alpha=0.75, label=f"trained ({len(ok)})")
        bar = fig.colorbar(sc, ax=ax, label="generation")
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    else:
        ax.scatter(params, acc, color="tab:blue", s=22, alpha=0.75, label=f"trained ({len(ok)})")

    front = pareto_front(list(zip(params, acc, strict=True)))
    fx, fy = [params[i] for i in front], [acc[i] for i in front]
    ax.step(fx, fy, where="post", color="tab:red", linewidth=1.2, alpha=0.8)
    ax.scatter(fx, fy, s=60, facecolors="none", edgecolors="tab:red", linewidths=1.4,
               label=f"Pareto front ({len(front)})")  # fmt: skip
    b = max(range(len(ok)), key=lambda i: (acc[i], -params[i]))
    ax.scatter([params[b]], [acc[b]], marker="*", s=220, color="gold", edgecolors="black", zorder=5,
               label=f"best {acc[b]:.4f} ({str(ok[b].get('arch_hash', ''))[:8]})")  # fmt: skip
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], linestyle="none", marker="x", color="0.4"))
    labels.append(failed_label)
    ax.legend(handles, labels, loc="best", fontsize=8, framealpha=0.85)
    ax.set_xscale("log")
    n_cached = len(journal) - len(fresh)
    ax.set_title(_titled(f"{title} ({len(ok)} trained, {n_failed} failed, {n_cached} cached)", run_name))
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel(fitness or "validation accuracy")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)


# ---------------------------------------------------------------------- best so far (Fig. 3)
def _generation(entry: Mapping[str, Any]) -> float:
    g = entry.get("generation")
    return float(g) if isinstance(g, (int, float)) and not isinstance(g, bool) else math.nan


def search_records(journal: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The search's evaluations in request order (by ``eval_id``, ties in file order):
    records of final-selection re-evaluations (``generation`` < 0, e.g. -1) are left out."""
    rows = [e for e in journal if not _generation(e) < 0]
    return sorted(rows, key=lambda e: _num(e.get("eval_id")) if math.isfinite(_num(e.get("eval_id"))) else math.inf)


def _ok_accuracy(entry: Mapping[str, Any]) -> float:
    """The entry's accuracy when it succeeded and is finite, else nan."""
    return _num(entry.get("accuracy")) if entry.get("status") == "ok" else math.nan


def best_so_far(journal: Sequence[Mapping[str, Any]]) -> list[float]:
    """Best validation accuracy after each evaluation of the search (one value per search
    record, in ``eval_id`` order; final-selection records excluded). Failed evaluations
    count as evaluations but never raise the best; nan until the first success.

    >>> best_so_far([{"eval_id": 1, "generation": 1, "status": "ok", "accuracy": 0.7},
    ...              {"eval_id": 0, "generation": 1, "status": "invalid", "accuracy": None},
    ...              {"eval_id": 2, "generation": 2, "status": "ok", "accuracy": 0.6},
    ...              {"eval_id": 3, "generation": -1, "status": "ok", "accuracy": 0.9}])
    [nan, 0.7, 0.7]
    """
    best, out = math.nan, []
    for e in search_records(journal):
        acc = _ok_accuracy(e)
        if math.isfinite(acc) and not acc <= best:  # nan best: the first success sets it
            best = acc
        out.append(best)
    return out


def final_best(journal: Sequence[Mapping[str, Any]]) -> float:
    """The best validation accuracy of the search (the last best-so-far value), or nan."""
    curve = best_so_far(journal)
    return curve[-1] if curve else math.nan


def run_label(config: Mapping[str, Any]) -> str:
    """Default label of a run from its config mapping: the algorithm name, plus
    ``S=<sample_size>`` for ``aging_evolution`` (S=1 is random search, sec. 4.1)."""
    algo = config.get("algorithm") if isinstance(config, Mapping) else None
    algo = algo if isinstance(algo, Mapping) else {}
    name = str(algo.get("name") or "run")
    if name == "aging_evolution" and algo.get("sample_size") is not None:
        return f"{name} S={algo['sample_size']}"
    return name


def _group(runs: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> dict[str, list[Sequence[Mapping[str, Any]]]]:
    groups: dict[str, list[Sequence[Mapping[str, Any]]]] = {}
    for label, journal in runs:
        groups.setdefault(str(label), []).append(journal)
    return groups


def aggregate_curves(curves: Sequence[Sequence[float]]) -> tuple[list[int], list[float], list[float], list[float]]:
    """``(evaluations, mean, min, max)`` of several best-so-far curves (seeds).

    Drawn over the evaluations every run reached (up to the shortest curve), from the
    first one by which every run had a success, so the mean of monotone curves stays
    monotone. When that leaves nothing (a run without any success, or curves that end
    before all runs have one), each point is taken over the runs with a value there.
    Evaluations are counted from 1. Empty curves are ignored.
    """
    curves = [list(c) for c in curves if len(c)]
    if not curves:
        return [], [], [], []
    xs: list[int] = []
    mean: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def add(k: int, vals: list[float]) -> None:
        xs.append(k + 1)
        mean.append(statistics.fmean(vals))
        lo.append(min(vals))
        hi.append(max(vals))

    for k in range(min(len(c) for c in curves)):
        vals = [c[k] for c in curves]
        if all(math.isfinite(v) for v in vals):
            add(k, vals)
    if not xs:
        for k in range(max(len(c) for c in curves)):
            vals = [c[k] for c in curves if k < len(c) and math.isfinite(c[k])]
            if vals:
                add(k, vals)
    return xs, mean, lo, hi


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def plot_best_so_far(
    runs: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], path: str | Path | None, seeds_band: bool = True,
    run_name: str | None = None, fitness: str | None = None,
) -> Figure:
    """Best-so-far validation accuracy against the number of evaluations, and the
    empirical CDF of all successful accuracies, per label, as a PNG at ``path`` (the
    paper's Fig. 3).

    ``runs`` holds ``(label, journal)`` pairs; runs sharing a label are seeds of one
    setting: their mean curve (see :func:`aggregate_curves`) is drawn with a min-max band
    (``seeds_band``; otherwise each seed as a thin line under the mean). Only search
    records count (see :func:`best_so_far`); the CDF pools the ``ok`` accuracies of all
    runs of a label. ``run_name`` goes under the titles, ``fitness`` (default: validation
    accuracy) into the axis labels. Returns the figure.
    """
    groups = _group(runs)
    colors = _colors(len(groups))
    fig = Figure(figsize=(12, 4.9), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax, ax_cdf = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.35, 1]})
    title, title_cdf = _titled("Best so far", run_name), _titled("Empirical CDF of accuracies", run_name)
    metric = fitness or "validation accuracy"
    drawn = 0
    handles: list[Any] = []
    styles = ["-", "--", "-.", ":"]  # curves of different labels may coincide: dashes keep both visible
    for k_label, ((label, journals), color) in enumerate(zip(groups.items(), colors, strict=True)):
        style = styles[k_label % len(styles)]
        curves = [best_so_far(j) for j in journals]
        xs, mean, lo, hi = aggregate_curves(curves)
        if not xs:
            continue
        drawn += 1
        n = len(journals)
        name = f"{label} ({n} runs)" if n > 1 else label
        if n > 1 and seeds_band:
            ax.fill_between(xs, lo, hi, step="post", color=color, alpha=0.2, linewidth=0)
        elif n > 1:
            for c in curves:
                ax.plot(range(1, len(c) + 1), c, drawstyle="steps-post", color=color, alpha=0.35, linewidth=0.8)
        (line,) = ax.plot(xs, mean, drawstyle="steps-post", color=color, linestyle=style, linewidth=2, label=name)
        handles.append(line)
        accs = sorted(a for j in journals for a in map(_ok_accuracy, search_records(j)) if math.isfinite(a))
        if accs:
            ys = [0.0, *((i + 1) / len(accs) for i in range(len(accs)))]
            ax_cdf.step([accs[0], *accs], ys, where="post", color=color, linestyle=style, linewidth=2)
    if not drawn:
        _no_data(ax, title, "no data: no successful evaluation")
        _no_data(ax_cdf, title_cdf, "no data")
        return _save(fig, path)
    multi = any(len(js) > 1 for js in groups.values())
    ax.set_title(title.replace("Best so far", "Best so far (mean of runs, min-max band)", 1)
                 if multi and seeds_band else title)
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"best so far: {metric}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax_cdf.set_title(title_cdf)
    ax_cdf.set_xlabel(f"{metric} (successful evaluations)")
    ax_cdf.set_ylabel("fraction of evaluations ≤ x")
    ax_cdf.set_ylim(0, 1.02)
    ax_cdf.grid(alpha=0.3)
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), frameon=False)
    return _save(fig, path)


def best_so_far_by_time(journal: Sequence[Mapping[str, Any]], run_meta: Mapping[str, Any]) -> dict[str, Any]:
    """Best accuracy so far in completion (file) order against time, for the search
    records (final-selection re-evaluations left out): ``{"best": [...], "wall_hours":
    [...] | None, "device_hours": [...], "paused": bool}``. Wall-clock and device times
    as :mod:`deap_nas.analysis.time_axes` defines them; ``wall_hours`` is None without
    timestamps; ``paused`` when the timestamps span more than the search's own clock
    (run.json ``usage.seconds``, by over 5 % + 10 s): a pause between an interruption
    and its resume is in the wall-clock axis."""
    created = timestamp(run_meta.get("created")) if run_meta.get("created") else None
    wall, device = finished_seconds(journal, created), device_seconds(journal)
    keep = [k for k, e in enumerate(journal) if not _generation(e) < 0]
    best, out = math.nan, []
    for k in keep:
        acc = _ok_accuracy(journal[k])
        if math.isfinite(acc) and not acc <= best:
            best = acc
        out.append(best)
    clock = _num((run_meta.get("usage") or {}).get("seconds"))
    span = max(wall) if wall else 0.0
    return {"best": out, "wall_hours": [wall[k] / 3600 for k in keep] if wall is not None else None,
            "device_hours": [device[k] / 3600 for k in keep],
            "paused": math.isfinite(clock) and clock > 0 and span > 1.05 * clock + 10}  # fmt: skip


def plot_best_so_far_time(journal: Sequence[Mapping[str, Any]], run_meta: Mapping[str, Any], path: str | Path | None,
                          run_name: str | None = None, fitness: str | None = None) -> Figure:
    """Best so far (:func:`best_so_far_by_time`) against wall-clock hours (left) and
    device hours, the training time spent (right); saved at ``path`` unless None."""
    curves = best_so_far_by_time(journal, run_meta)
    metric = fitness or "validation accuracy"
    fig = Figure(figsize=(12, 4.6), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax_wall, ax_dev = fig.subplots(1, 2, sharey=True)
    axes = ((ax_wall, curves["wall_hours"], "Best so far against wall-clock time",
             "wall-clock hours since the run was created" + (" (pauses before resumes included)"
                                                             if curves["paused"] else "")),
            (ax_dev, curves["device_hours"], "Best so far against device time",
             "device hours (sum of the trainings' time_total)"))  # fmt: skip
    for ax, xs, what, xlabel in axes:
        pts = [(x, y) for x, y in zip(xs or [], curves["best"], strict=False) if math.isfinite(y)]
        if not pts:
            _no_data(ax, _titled(what, run_name), "no data: " + ("no finished times" if xs is None
                                                                 else "no successful evaluation"))
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], drawstyle="steps-post", color="tab:green", marker=".",
                markersize=3)  # fmt: skip
        ax.set_title(_titled(what, run_name))
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    ax_wall.set_ylabel(f"best so far: {metric}")
    return _save(fig, path)


# ---------------------------------------------------------------------- Mann-Whitney U
def mann_whitney_u_normal(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """One-sided Mann-Whitney U test, H1: ``x`` tends to be larger than ``y``.

    Returns ``(U, p)``: U counts the pairs with x > y (ties count one half, i.e. U1 from
    midranks) and p comes from the normal approximation with tie correction and continuity
    correction, as ``scipy.stats.mannwhitneyu(x, y, alternative="greater",
    method="asymptotic")``. All values tied: p = 1.
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("mann_whitney_u: both samples must be non-empty")
    values = sorted([(float(v), 0) for v in x] + [(float(v), 1) for v in y])
    n = n1 + n2
    ranks = [0.0] * n
    tie_term = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and values[j + 1][0] == values[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1  # midrank, 1-based
        t = j - i + 1
        tie_term += t**3 - t
        i = j + 1
    r1 = sum(r for r, (_, which) in zip(ranks, values, strict=True) if which == 0)
    u = r1 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))) if n > 1 else 0.0
    if sigma == 0:
        return u, 1.0
    z = (u - mu - 0.5) / sigma
    return u, 0.5 * math.erfc(z / math.sqrt(2))


def mann_whitney_u(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, str]:
    """``(U, p, method)`` of the one-sided test H1: x > y: scipy's ``mannwhitneyu``
    (``alternative="greater"``, its automatic method: exact for small samples without
    ties) when scipy is importable, else :func:`mann_whitney_u_normal`."""
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        u, p = mann_whitney_u_normal(x, y)
        return u, p, "normal approximation"
    res = mannwhitneyu(list(x), list(y), alternative="greater")
    return float(res.statistic), float(res.pvalue), "scipy"


# ---------------------------------------------------------------------- evolved genomes (Fig. 4)
NEAT_SOURCES: tuple[str, ...] = ("INPUT", *LAYER_CHOICES)
NEAT_DESTINATIONS: tuple[str, ...] = (*LAYER_CHOICES, "OUTPUT")


def neat_frequencies(journal: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Edge, layer-choice and size frequencies of the valid evolved ``neat`` genomes.

    Counts search records (generation >= 0) with status ``ok`` and a genome that has an
    enabled input -> output path; each record is one genome (a child the search evaluated,
    cached ones included). Only the live part counts: nodes on an enabled input -> output
    path and the enabled connections between them. Returns::

        {"genomes": valid genomes counted,
         "invalid": search records with status "invalid",
         "failed": other non-ok search records (too_large, nan, oom, timeout, crashed),
         "sources": ("INPUT", *LAYER_CHOICES), "destinations": (*LAYER_CHOICES, "OUTPUT"),
         "edges": {(source label, destination label): genomes holding such an edge},
         "edge_fraction": [[edges / genomes per destination] per source],
         "choices": {choice: live nodes with that layer, over all genomes},
         "node_counts": [live layer nodes (input and output excluded) per genome]}
    """
    edges: dict[tuple[str, str], int] = {}
    choices = dict.fromkeys(LAYER_CHOICES, 0)
    node_counts: list[int] = []
    invalid = failed = 0
    for e in search_records(journal):
        status = e.get("status")
        if status != "ok":
            if status == "invalid":
                invalid += 1
            else:
                failed += 1
            continue
        genome = e.get("genome")
        try:
            live = enabled_path_nodes(genome)
            layers = {n["id"]: n["layer"] for n in genome["nodes"]}
            conns = [(c["src"], c["dst"]) for c in genome["connections"] if c["enabled"]]
        except (TypeError, KeyError, AttributeError):
            continue  # not a neat genome
        if not live:
            continue
        names = {**{i: str(v) for i, v in layers.items()}, INPUT_ID: "INPUT", OUTPUT_ID: "OUTPUT"}
        seen = {(names.get(a, str(a)), names.get(b, str(b))) for a, b in conns if a in live and b in live}
        for key in seen:
            edges[key] = edges.get(key, 0) + 1
        live_layers = [layers[i] for i in live if i in layers]
        for layer in live_layers:
            if layer in choices:
                choices[layer] += 1
        node_counts.append(len(live_layers))
    n = len(node_counts)
    fraction = [[edges.get((s, d), 0) / n if n else 0.0 for d in NEAT_DESTINATIONS] for s in NEAT_SOURCES]
    return {
        "genomes": n,
        "invalid": invalid,
        "failed": failed,
        "sources": NEAT_SOURCES,
        "destinations": NEAT_DESTINATIONS,
        "edges": edges,
        "edge_fraction": fraction,
        "choices": choices,
        "node_counts": node_counts,
    }


def plot_neat_genomes(journal: Sequence[Mapping[str, Any]], path: str | Path | None,
                      run_name: str | None = None) -> Figure:
    """All valid evolved ``neat`` genomes of a journal as frequencies (the paper's Fig. 4),
    as a PNG at ``path``: a heatmap of live edges (row: source layer choice or INPUT,
    column: destination choice or OUTPUT; cell: % of valid genomes holding such an edge),
    the share of live nodes per layer choice (Table 1 order) and a histogram of live node
    counts with mean ± std (``run_name`` under the title). See :func:`neat_frequencies` for
    what is counted."""
    freq = neat_frequencies(journal)
    n = freq["genomes"]
    bad = f"{freq['invalid']} invalid" + (f", {freq['failed']} failed otherwise" if freq["failed"] else "")
    if not n:
        fig, ax = _figure()
        why = f"no valid evolved genome\n({bad})" if freq["invalid"] + freq["failed"] else "no search evaluation"
        _no_data(ax, _titled("Evolved genomes", run_name), f"no data: {why}")
        return _save(fig, path)
    fig = Figure(figsize=(15, 8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 2, width_ratios=[1.25, 1])
    ax_edges = fig.add_subplot(grid[:, 0])
    ax_choices = fig.add_subplot(grid[0, 1])
    ax_nodes = fig.add_subplot(grid[1, 1])
    fig.suptitle(_titled(f"Evolved genomes: {n} valid ({bad})", run_name), fontsize=13)

    pct = [[100 * v for v in row] for row in freq["edge_fraction"]]
    vmax = max(max(row) for row in pct) or 100.0
    im = ax_edges.imshow(pct, cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
    for r, row in enumerate(pct):
        for c, v in enumerate(row):
            if v > 0:
                ax_edges.text(c, r, f"{v:.0f}" if v >= 1 else "<1", ha="center", va="center", fontsize=7,
                              color="white" if v > 0.55 * vmax else "black")  # fmt: skip
    ax_edges.set_xticks(range(len(freq["destinations"])), freq["destinations"], rotation=55, ha="right",
                        rotation_mode="anchor", fontsize=8)  # fmt: skip
    ax_edges.set_yticks(range(len(freq["sources"])), freq["sources"], fontsize=8)
    ax_edges.set_xlabel("destination")
    ax_edges.set_ylabel("source")
    ax_edges.set_title("Live edges: % of valid genomes with such an edge")
    fig.colorbar(im, ax=ax_edges, fraction=0.04, pad=0.02, label="% of valid genomes")

    counts = [freq["choices"][c] for c in LAYER_CHOICES]
    total = sum(counts) or 1
    colors = ["tab:blue" if c.startswith("CONV") else "tab:orange" for c in LAYER_CHOICES]
    bars = ax_choices.bar(range(len(LAYER_CHOICES)), [100 * k / total for k in counts], color=colors)
    for bar, k in zip(bars, counts, strict=True):
        if k:
            ax_choices.annotate(str(k), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                                va="bottom", fontsize=7, xytext=(0, 1), textcoords="offset points")  # fmt: skip
    ax_choices.set_xticks(range(len(LAYER_CHOICES)), LAYER_CHOICES, rotation=40, ha="right",
                          rotation_mode="anchor", fontsize=8)  # fmt: skip
    ax_choices.set_ylabel("% of live nodes")
    ax_choices.set_title(f"Layer choices of live nodes ({sum(counts)} nodes; count on bars)")
    ax_choices.margins(y=0.15)
    ax_choices.grid(alpha=0.3, axis="y")

    sizes = freq["node_counts"]
    mean = statistics.fmean(sizes)
    std = statistics.pstdev(sizes)
    lo, hi = min(sizes), max(sizes)
    heights, _, _ = ax_nodes.hist(sizes, bins=[b - 0.5 for b in range(lo, hi + 2)], color="tab:green", alpha=0.8,
                                  rwidth=0.85)  # fmt: skip
    ax_nodes.set_xlim(lo - 1.5, hi + 1.5)
    ax_nodes.set_ylim(0, max(heights) * 1.2)  # room for the legend
    ax_nodes.axvline(mean, color="black", linestyle="--", linewidth=1, label=f"mean {mean:.2f}")
    ax_nodes.legend(loc="upper right", fontsize=8)
    ax_nodes.set_title(f"Live nodes per valid genome: {mean:.1f} ± {std:.1f} (mean ± std)")
    ax_nodes.set_xlabel("live layer nodes (input and output not counted)")
    ax_nodes.set_ylabel("genomes")
    if hi - lo <= 15:
        ax_nodes.set_xticks(range(lo - 1, hi + 2))
    else:
        ax_nodes.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_nodes.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_nodes.grid(alpha=0.3, axis="y")
    return _save(fig, path)


# ---------------------------------------------------------------------- plots of a run directory
PlotFunction = Callable[[RunSummary, Path], bool | None]


@dataclass(frozen=True)
class RegisteredPlot:
    """A plot :func:`write_plots` draws as ``plots/<name>.png``: ``fn(run, path)`` for the
    runs whose config names ``space`` and ``algorithm`` (each ``None``: any)."""

    name: str
    fn: PlotFunction
    space: str | None = None
    algorithm: str | None = None

    def applies(self, config: Any) -> bool:
        """Whether the run's config mapping matches this plot's space and algorithm."""
        return all(
            want is None or _config_name(config, section) == want
            for section, want in (("space", self.space), ("algorithm", self.algorithm))
        )


#: the registered plots of a run, by name, in registration (= drawing) order
PLOTS: Registry[RegisteredPlot] = Registry("plot")


def _config_name(config: Any, section: str) -> Any:
    """``config[section]["name"]``, or None when the mapping does not have it."""
    part = config.get(section) if isinstance(config, Mapping) else None
    return part.get("name") if isinstance(part, Mapping) else None


def register_plot(
    name: str, *, space: str | None = None, algorithm: str | None = None
) -> Callable[[PlotFunction], PlotFunction]:
    """Decorator: register ``fn(run, path)`` to draw ``plots/<name>.png`` in
    :func:`write_plots` for the runs whose config has ``space.name == space`` and
    ``algorithm.name == algorithm`` (leave one out to match any; both out: every run).
    ``run`` is the loaded :class:`~deap_nas.analysis.report.RunSummary`; ``fn`` returns
    ``False`` to write nothing for this run. Returns ``fn`` unchanged; a name taken already
    (or one that is not a plain file name) is a ValueError."""
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise ValueError(f"register_plot: name must be a plain file name (no directory), got {name!r}")

    def deco(fn: PlotFunction) -> PlotFunction:
        PLOTS.register(name)(RegisteredPlot(name, fn, space, algorithm))
        return fn

    return deco


@register_plot("fitness")
def _fitness_plot(run: RunSummary, path: Path) -> None:
    plot_fitness(run.logbook, path, run_title(run), fitness_label(run.config))


@register_plot("accuracy_vs_params")
def _accuracy_vs_params_plot(run: RunSummary, path: Path) -> None:
    plot_accuracy_vs_params(run.journal, path, run_title(run), fitness_label(run.config))


@register_plot("best_so_far")
def _best_so_far_plot(run: RunSummary, path: Path) -> None:
    plot_best_so_far([(run_label(run.config), run.journal)], path, run_name=run_title(run),
                     fitness=fitness_label(run.config))  # this run alone


@register_plot("best_so_far_time")
def _best_so_far_time_plot(run: RunSummary, path: Path) -> None:
    plot_best_so_far_time(run.journal, run.run, path, run_title(run), fitness_label(run.config))


@register_plot("genomes", space="neat")
def _neat_genomes_plot(run: RunSummary, path: Path) -> None:
    plot_neat_genomes(run.journal, path, run_title(run))  # the macro-NAS paper's Fig. 4


@register_plot("best_generation", algorithm="minigen")
def _best_generation_plot(run: RunSummary, path: Path) -> bool | None:
    if not any("best_birth" in r for r in run.logbook):  # MiniGen's Fig. 3 needs best_birth
        return False
    plot_best_generation(run.logbook, path, run_title(run))
    return None


def write_plots(run_dir: str | Path) -> list[Path]:
    """Draw the registered plots (see :func:`register_plot`) that apply to the run at
    ``RUN_DIR/plots/<name>.png``, from its ``config.yaml``, ``logbook.csv`` (or newest
    snapshot) and ``journal.jsonl``: ``fitness``, ``accuracy_vs_params``,
    ``best_so_far`` (this run alone) and ``best_so_far_time`` always, ``genomes`` for the ``neat`` space and
    ``best_generation`` for MiniGen runs whose logbook has ``best_birth``, ``pareto_front``
    and ``hypervolume`` for multi-objective runs; returns the
    paths written, in registration order."""
    run = load_run(run_dir)
    out = run.path / "plots"
    paths = []
    for plot in PLOTS.values():
        if plot.applies(run.config):
            path = out / f"{plot.name}.png"
            if plot.fn(run, path) is not False:
                paths.append(path)
    return paths


# the multi-objective plots (pareto_front, hypervolume) register themselves on import
from . import pareto_plots as _pareto_plots  # noqa: E402,F401
