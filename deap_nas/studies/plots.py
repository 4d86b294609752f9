"""Plots of the studies, in the style of :mod:`deap_nas.analysis.plots` (matplotlib's object
API on the Agg canvas; empty data give a figure that says so).

:func:`plot_scatter_loess` draws the papers' Figs. 4-6 (ImmuNeCS): one panel per
quantity, points coloured by group (depth), a dashed LOESS line per group with its
bootstrap 95% band in grey, optionally the identity line; the Spearman statistics go in
the legend. :func:`plot_metric_vs_evaluations` draws Fig. 7 (final accuracy against the
evaluations used, per method). :func:`plot_band_curves` draws best-so-far curves of
several arms (mean line, mean ± std band over seeds) against a budget axis, and
:func:`plot_candidate_distribution` the validation accuracies of every sampled candidate
per arm (box plot with the points).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..analysis.plots import _colors, _no_data, _save
from .budget import mean_band
from .stats import Correlation, loess_band

__all__ = ["Panel", "plot_band_curves", "plot_candidate_distribution", "plot_metric_vs_evaluations",
           "plot_scatter_loess"]


class Panel(dict):
    """``title``, ``xlabel``, ``ylabel``, ``groups`` ({label: (x, y)}), ``corr``
    ({label: Correlation}), ``identity`` (bool)."""


def _finite(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def plot_scatter_loess(panels: Sequence[Mapping[str, Any]], path: str | Path, frac: float = 0.75,
                       n_boot: int = 200, seed: int = 0, suptitle: str | None = None) -> None:  # fmt: skip
    """One scatter panel per entry of ``panels`` (see :class:`Panel`) with LOESS lines and
    bootstrap bands per group, as a PNG at ``path``."""
    n = max(1, len(panels))
    fig = Figure(figsize=(6.2 * n, 5.0), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    if suptitle:
        fig.suptitle(suptitle)
    for ax, panel in zip(axes, panels, strict=False):
        groups: Mapping[str, tuple[Sequence[float], Sequence[float]]] = panel["groups"]
        corr: Mapping[str, Correlation] = panel.get("corr", {})
        pts = {g: _finite(*xy) for g, xy in groups.items()}
        if not any(len(x) for x, _ in pts.values()):
            _no_data(ax, panel["title"], "no data: no successful evaluation")
            continue
        colors = _colors(len(pts))
        lo_all, hi_all = math.inf, -math.inf
        for (g, (x, y)), color in zip(pts.items(), colors, strict=True):
            c = corr.get(g)
            label = f"{g}: {c.text()}" if c is not None else g
            ax.scatter(x, y, s=18, color=color, alpha=0.75, label=label, edgecolors="none")
            if len(x):
                lo_all, hi_all = min(lo_all, x.min(), y.min()), max(hi_all, x.max(), y.max())
            if len(x) >= 3 and np.ptp(x) > 0:
                grid = np.linspace(x.min(), x.max(), 60)
                fit, lo, hi = loess_band(x, y, grid, frac=frac, n_boot=n_boot, seed=seed)
                if np.any(np.isfinite(lo)):
                    ax.fill_between(grid, lo, hi, where=np.isfinite(lo) & np.isfinite(hi), color="0.6", alpha=0.3,
                                    linewidth=0)
                ax.plot(grid, fit, linestyle="--", color=color, linewidth=1.8)
        if panel.get("identity") and math.isfinite(lo_all):
            ax.plot([lo_all, hi_all], [lo_all, hi_all], color="black", linewidth=1, label="identity")
        overall = corr.get("all")
        title = panel["title"] + (f"\noverall Spearman {overall.text()}" if overall is not None and len(pts) > 1 else "")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(panel["xlabel"])
        ax.set_ylabel(panel["ylabel"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    _save(fig, path)


def plot_metric_vs_evaluations(methods: Mapping[str, Sequence[tuple[float, float]]], path: str | Path,
                               metric: str, title: str = "Search against random search") -> None:  # fmt: skip
    """Each run as a point (evaluations used, final metric), one colour and marker per
    method, and a line through the mean metric at each evaluation count (ImmuNeCS Fig. 7)."""
    fig = Figure(figsize=(7.5, 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    pts = {m: [(x, y) for x, y in v if math.isfinite(x) and math.isfinite(y)] for m, v in methods.items()}
    if not any(pts.values()):
        _no_data(ax, title, "no data: no finished run with a result")
        _save(fig, path)
        return
    markers = ["o", "s", "^", "D", "v"]
    for k, ((m, xy), color) in enumerate(zip(pts.items(), _colors(len(pts)), strict=True)):
        if not xy:
            continue
        xs, ys = zip(*xy, strict=True)
        ax.scatter(xs, ys, color=color, s=30, alpha=0.7, marker=markers[k % len(markers)],
                   label=f"{m} ({len(xy)} runs)")
        by_x: dict[float, list[float]] = {}
        for x, y in xy:
            by_x.setdefault(x, []).append(y)
        if len(by_x) > 1:
            keys = sorted(by_x)
            ax.plot(keys, [float(np.mean(by_x[k])) for k in keys], color=color, linewidth=1.2, alpha=0.7)
    ax.set_title(title)
    ax.set_xlabel("evaluations used")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_band_curves(arms: Mapping[str, tuple[Sequence[float], Sequence[Sequence[float]]]], path: str | Path,
                     xlabel: str, title: str, cut: float | None = None, cut_label: str = "equal-budget cut",
                     step: bool = True) -> None:  # fmt: skip
    """Per arm ``(x, curves)`` (one curve per seed, each as long as ``x``): the mean line
    and a mean ± std band (sample std over the seeds with a value there), one colour per
    arm; ``cut`` draws a dashed vertical line there."""
    fig = Figure(figsize=(7.5, 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    drawn = 0
    styles = ["-", "--", "-.", ":"]  # arms may coincide: dashes keep each visible
    for k, ((arm, (x, curves)), color) in enumerate(zip(arms.items(), _colors(len(arms)), strict=True)):
        mean, lo, hi = mean_band(curves)
        if not len(mean) or not np.any(np.isfinite(mean)):
            continue
        drawn += 1
        xs = np.asarray(x, dtype=float)
        kw = {"step": "post"} if step else {}
        ax.fill_between(xs, lo, hi, color=color, alpha=0.2, linewidth=0, **kw)
        ax.plot(xs, mean, color=color, linewidth=2, linestyle=styles[k % len(styles)],
                drawstyle="steps-post" if step else "default",
                label=f"{arm} ({len(curves)} runs)")
    if not drawn:
        _no_data(ax, title, "no data: no successful evaluation")
        _save(fig, path)
        return
    if cut is not None and math.isfinite(cut):
        ax.axvline(cut, color="0.3", linestyle="--", linewidth=1, label=cut_label)
    ax.set_title(title + "\n(mean of runs, band: mean ± std)", fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("best validation accuracy so far")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_candidate_distribution(arms: Mapping[str, Sequence[float]], path: str | Path,
                                title: str = "Validation accuracy of every sampled candidate") -> None:  # fmt: skip
    """One box (quartiles, whiskers at 1.5 IQR) per arm over all its runs' trained
    candidates, every candidate drawn as a jittered point on it (seeded jitter)."""
    fig = Figure(figsize=(max(5.0, 1.8 * len(arms) + 2.5), 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    data = {arm: np.asarray([v for v in vals if math.isfinite(v)], dtype=float) for arm, vals in arms.items()}
    if not any(len(v) for v in data.values()):
        _no_data(ax, title, "no data: no successful evaluation")
        _save(fig, path)
        return
    rng = np.random.default_rng(0)
    labels = [f"{arm}\n(n = {len(v)}, median {np.median(v):.3f})" if len(v) else f"{arm}\n(n = 0)"
              for arm, v in data.items()]  # fmt: skip
    ax.boxplot([v if len(v) else [math.nan] for v in data.values()], showfliers=False, widths=0.5,
               medianprops={"color": "black"})
    for k, (v, color) in enumerate(zip(data.values(), _colors(len(data)), strict=True), start=1):
        ax.scatter(k + rng.uniform(-0.18, 0.18, len(v)), v, s=10, color=color, alpha=0.6, edgecolors="none")
    ax.set_xticks(range(1, len(data) + 1), labels)
    ax.set_title(title + " (all runs pooled)", fontsize=10)
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)
