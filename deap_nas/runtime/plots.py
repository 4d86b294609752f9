"""Plots of a run: fitness per generation and accuracy against parameter count.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, safe in
worker processes). Empty or all-NaN data give a figure that says so instead of an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .report import load_run

__all__ = ["pareto_front", "plot_accuracy_vs_params", "plot_fitness", "write_plots"]


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


def _save(fig: Figure, path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, format="png")


def _no_data(ax: Any, title: str, message: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=13, color="0.35", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_fitness(logbook: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Best and mean fitness per generation (mean ± std shaded, worst dotted, failed
    evaluations per generation as bars on a second axis) as a PNG at ``path``."""
    title = "Fitness per generation"
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
        _save(fig, path)
        return

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
    ax.set_ylabel("fitness")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    _save(fig, path)


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


def plot_accuracy_vs_params(journal: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Validation accuracy against parameter count (log x) of every trained, successful
    evaluation (coloured by generation), the Pareto front (max accuracy, min params) and
    the best marked; failed evaluations are counted in the legend."""
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
        _no_data(ax, title, f"no data: no successful evaluation\n{failed_label}")
        _save(fig, path)
        return

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
    ax.set_title(f"{title} ({len(ok)} trained, {n_failed} failed, {n_cached} cached)")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3, which="both")
    _save(fig, path)


def write_plots(run_dir: str | Path) -> list[Path]:
    """Draw ``plots/fitness.png`` and ``plots/accuracy_vs_params.png`` from the run's
    ``logbook.csv`` (or newest snapshot) and ``journal.jsonl``; returns the paths."""
    run = load_run(run_dir)
    out = run.path / "plots"
    paths = [out / "fitness.png", out / "accuracy_vs_params.png"]
    plot_fitness(run.logbook, paths[0])
    plot_accuracy_vs_params(run.journal, paths[1])
    return paths
