"""Plots of the studies, in the style of :mod:`deap_nas.analysis.plots` (matplotlib's object
API on the Agg canvas; empty data give a figure that says so).

:func:`plot_scatter_loess` draws the papers' Figs. 4-6 (ImmuNeCS): one panel per
quantity, points coloured by group (depth), a dashed LOESS line per group with its
bootstrap 95% band in grey, optionally the identity line; the Spearman statistics go in
the legend. :func:`plot_metric_vs_evaluations` draws Fig. 7 (final accuracy against the
evaluations used, per method).
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
from .stats import Correlation, loess_band

__all__ = ["Panel", "plot_metric_vs_evaluations", "plot_scatter_loess"]


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
