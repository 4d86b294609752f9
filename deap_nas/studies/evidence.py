"""The evidence of a comparison study (``study: search_vs_random``): per budget point, every
run cut at equal trained networks and at equal wall time (:mod:`.budget`), the arm
statistics against the baseline (:mod:`.compare`), the plots (best so far against trained
networks and against wall time, the distribution of sampled candidates) and
``results.md`` (:mod:`.results_md`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .budget import BudgetCurve, budget_curve, equal_budget
from .compare import compare_arms
from .results_md import render_results_md, study_command

__all__ = ["DEFINITIONS", "headline", "study_evidence"]

DEFINITIONS = (
    "Optimizer iterations (shown when every run's logbook has an iterations column): the sum of that "
    "column over the run's generations, mean over runs.",
    "Trained network: a search record with status ok that is not a cache hit (invalid, too_large, "
    "failed trainings and cache hits are not counted; each repeat counts once), in request (eval_id) order.",
    "Equal trained networks: every run cut at the smallest trained-network count among the runs of the "
    "budget point; equal wall time: cut at the smallest run wall time (run.json usage.seconds).",
    "Time axis of a run: each record's finished time since the run was created, capped at the run's wall "
    "time; cumulative training time (time_total) when timestamps are missing or include a resume's pause.",
    "Final test accuracy: the run's best architecture retrained with final_training on fresh seeds "
    "(final seed = final_seed_offset + run seed) and measured once on the test split; the search never "
    "loads the test split.",
    "Statistics: mean ± sample std over runs; two-sided Mann-Whitney U; A12 = P(a run of the arm beats a "
    "run of the baseline), ties one half; difference of means with a percentile bootstrap 95% CI "
    "(arms resampled independently, seed 0); seeds won: runs paired by seed.",
    "Plots: mean line with a mean ± std band over runs; the time curves are each run's best-so-far step "
    "function sampled on a common grid up to the arm's shortest run.",
)


def _curve(run_dir: str) -> BudgetCurve:
    from ..analysis.report import load_run

    run = load_run(run_dir)
    return budget_curve(run.journal, run.run, run=str(run_dir))


def _setup(rows: Mapping[str, Sequence[Mapping[str, Any]]], p: Any) -> list[str]:
    """One line per arm from its first run's config: algorithm, space, data, training, budget."""
    from ..analysis.report import load_run

    lines = []
    for arm, rs in rows.items():
        cfg = load_run(rs[0]["run"]).config
        data, ft = cfg.get("data") or {}, cfg.get("final_training") or {}
        subsets = ", ".join(f"{k} {data[k]}" for k in ("train_subset", "val_per_class", "val_subset") if data.get(k))
        budget = {k: v for k, v in (cfg.get("budget") or {}).items() if v is not None}
        lines.append(
            f"{arm}{' (baseline)' if arm == p.baseline else ''}: algorithm {(cfg.get('algorithm') or {}).get('name')}, "
            f"space {(cfg.get('space') or {}).get('name')}, data {data.get('name')}"
            f"{f' ({subsets})' if subsets else ''}, {(cfg.get('training') or {}).get('epochs')} epochs per candidate, "
            f"budget {budget}, seeds {[r['seed'] for r in rs]}; final training "
            f"{(ft.get('training') or {}).get('epochs')} epochs (train_subset {ft.get('train_subset')})"
        )  # fmt: skip
    return lines


def _plots(study: Any, point: int, suffix: str, curves: Mapping[str, Sequence[BudgetCurve]],
           cut: Mapping[str, Any]) -> list[tuple[str, str]]:  # fmt: skip
    from .plots import plot_band_curves, plot_candidate_distribution

    folder = study.path / "plots"
    trained = {}
    for arm, cs in curves.items():
        n = min(c.total_trained for c in cs)
        trained[arm] = (list(range(1, n + 1)), [c.trained_curve()[:n] for c in cs])
    plot_band_curves(trained, folder / f"curves_trained{suffix}.png", "trained networks",
                     "Best validation accuracy against trained networks", cut=cut["trained_cut"],
                     cut_label=f"equal budget: {cut['trained_cut']} trained")  # fmt: skip
    tmax = max(c.wall_seconds for cs in curves.values() for c in cs)
    grid = np.linspace(0.0, tmax, 200)
    timed = {}
    for arm, cs in curves.items():
        g = grid[grid <= min(c.wall_seconds for c in cs)]
        timed[arm] = (g.tolist(), [c.time_curve(g) for c in cs])
    plot_band_curves(timed, folder / f"curves_time{suffix}.png", "wall time (s)",
                     "Best validation accuracy against wall time", cut=cut["time_cut"],
                     cut_label=f"equal budget: {cut['time_cut']:.0f} s")  # fmt: skip
    plot_candidate_distribution({arm: [a for c in cs for a in c.sampled()] for arm, cs in curves.items()},
                                folder / f"candidates{suffix}.png")  # fmt: skip
    return [("best so far against trained networks", f"plots/curves_trained{suffix}.png"),
            ("best so far against wall time", f"plots/curves_time{suffix}.png"),
            ("validation accuracy of every sampled candidate", f"plots/candidates{suffix}.png")]  # fmt: skip


def _point(study: Any, p: Any, point: int, suffix: str, rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict:
    curves = {arm: [_curve(r["run"]) for r in rs] for arm, rs in rows.items()}
    cut = equal_budget(curves)
    values = {arm: {"test": [r["test"] for r in rs], "at_trained": cut["arms"][arm]["at_trained"],
                    "at_time": cut["arms"][arm]["at_time"], "best_val": [r["best_val"] for r in rs]}
              for arm, rs in rows.items()}  # fmt: skip
    seeds = {arm: [r["seed"] for r in rs] for arm, rs in rows.items()}
    stats = compare_arms(values, seeds, p.baseline, alpha=p.alpha, n_boot=p.bootstrap)
    plots = _plots(study, point, suffix, curves, cut) if study.config.output.plots else []
    runs = {arm: [{"run": r["run"], "seed": r["seed"], "final_seeds": r.get("final_seeds", []),
                   "test_measurements": r.get("test_measurements", 0), "search_used_test": r.get("search_used_test"),
                   "test": r["test"], "trained": c.total_trained, "wall_seconds": c.wall_seconds,
                   "time_axis": c.time_axis, "notes": c.notes, "iterations": r.get("iterations", math.nan)}
                  for r, c in zip(rs, curves[arm], strict=True)]
            for arm, rs in rows.items()}  # fmt: skip
    return {"point": point, "equal_budget": cut, "statistics": stats, "plots": plots, "runs": runs}


def study_evidence(study: Any, p: Any, results: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """Evidence of every budget point (module doc); writes ``results.md`` and the plots.
    ``results``: arm -> :func:`~deap_nas.studies.runs.run_metrics` rows with ``point``."""
    from ..runtime.journal import atomic_write_text

    indices = sorted({r["point"] for rs in results.values() for r in rs})
    points = []
    for i in indices:
        rows = {arm: [r for r in rs if r["point"] == i] for arm, rs in results.items()}
        rows = {arm: rs for arm, rs in rows.items() if rs}
        if p.baseline in rows and len(rows) > 1:
            points.append(_point(study, p, i, f"_p{i}" if len(indices) > 1 else "", rows))
    others = [a for a in results if a != p.baseline]
    title = p.title or study.config.output.title or f"{', '.join(others)} against {p.baseline}"
    command = study_command(study.config, study.path)
    setup = _setup({arm: [r for r in rs if r["point"] == indices[-1]] or rs for arm, rs in results.items()}, p)
    md = render_results_md(title, command, setup, points, DEFINITIONS, alpha=p.alpha,
                           reference=study.config.output.reference)
    atomic_write_text(Path(study.path) / "results.md", md)
    return {"title": title, "baseline": p.baseline, "command": command, "setup": setup,
            "final_seed_rule": f"final seed = {p.final_seed_offset} + run seed", "definitions": list(DEFINITIONS),
            "points": points, "results_md": "results.md"}  # fmt: skip


def headline(evidence: Mapping[str, Any]) -> list[str]:
    """Summary lines: per point and comparison, metric, wins, p and A12."""
    lines = []
    for pt in evidence["points"]:
        for c in pt["statistics"]["comparisons"]:
            p = c["mann_whitney_p"]
            lines.append(f"  point {pt['point']}: {c['arm']} vs {c['baseline']}, {c['metric']}: "
                         f"{c['mean']:.4f} vs {c['baseline_mean']:.4f}, won {c['wins']}/{c['pairs']}, "
                         f"p = {p:.3g}, A12 = {c['a12']:.2f}" if math.isfinite(p) else
                         f"  point {pt['point']}: {c['arm']} vs {c['baseline']}, {c['metric']}: p = n/a")  # fmt: skip
    return lines
