"""Statistics of arms (a search method and its random-search baseline, or more), one value
per run for each metric: per arm n, mean and std; per non-baseline arm against the
baseline, the seeds it won (runs paired by seed), the two-sided Mann-Whitney U p, the
Vargha-Delaney A12 (the chance that a run of the arm beats a run of the baseline, ties one
half) and the difference of means with a seeded bootstrap 95% interval."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .stats import bootstrap_mean_diff, format_p, mann_whitney, summarize, vargha_delaney_a12

__all__ = ["METRIC_NAMES", "compare_arms", "comparison_sentence"]

#: the metrics compared, in table order, with their names in tables and sentences
METRIC_NAMES = {
    "test": "final test accuracy",
    "at_trained": "best validation accuracy at equal trained networks",
    "at_time": "best validation accuracy at equal wall time",
    "best_val": "best validation accuracy of the whole run",
}


def _paired_wins(x: Sequence[float], y: Sequence[float], seeds_x: Sequence[Any],
                 seeds_y: Sequence[Any]) -> tuple[int, int, int]:  # fmt: skip
    """(wins, ties, pairs) of x over y among the seeds both have with finite values."""
    by_seed = {s: v for s, v in zip(seeds_y, y, strict=True)}
    wins = ties = pairs = 0
    for s, v in zip(seeds_x, x, strict=True):
        w = by_seed.get(s)
        if w is None or not (math.isfinite(v) and math.isfinite(w)):
            continue
        pairs += 1
        wins += v > w
        ties += v == w
    return wins, ties, pairs


def compare_arms(values: Mapping[str, Mapping[str, Sequence[float]]], seeds: Mapping[str, Sequence[Any]],
                 baseline: str, alpha: float = 0.05, n_boot: int = 10_000, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """``values[arm][metric]``: one value per run (``seeds[arm]`` in the same order).
    Returns ``{"baseline", "alpha", "arms": {arm: {metric: summary}}, "comparisons":
    [{"arm", "baseline", "metric", "n", "mean", "std", "baseline_mean", "baseline_std",
    "wins", "ties", "pairs", "mann_whitney_p", "mann_whitney_u", "a12", "diff",
    "diff_low", "diff_high", "significant"}]}``; metrics without a finite value in
    both arms are left out of the comparisons."""
    if baseline not in values:
        raise ValueError(f"baseline: no arm {baseline!r}; arms: {', '.join(values)}")
    arms = {arm: {m: summarize(v) for m, v in per.items()} for arm, per in values.items()}
    comparisons: list[dict[str, Any]] = []
    base = values[baseline]
    for arm, per in values.items():
        if arm == baseline:
            continue
        for metric in METRIC_NAMES:
            x, y = list(per.get(metric, [])), list(base.get(metric, []))
            sx, sy = summarize(x), summarize(y)
            if not sx["n"] or not sy["n"]:
                continue
            mw = mann_whitney(x, y)
            diff = bootstrap_mean_diff(x, y, n_boot=n_boot, seed=seed)
            wins, ties, pairs = _paired_wins(x, y, seeds[arm], seeds[baseline])
            comparisons.append({
                "arm": arm, "baseline": baseline, "metric": metric, "n": sx["n"], "baseline_n": sy["n"],
                "mean": sx["mean"], "std": sx["std"], "baseline_mean": sy["mean"], "baseline_std": sy["std"],
                "wins": wins, "ties": ties, "pairs": pairs, "mann_whitney_u": mw.statistic, "mann_whitney_p": mw.p,
                "a12": vargha_delaney_a12(x, y), "diff": diff["diff"], "diff_low": diff["low"],
                "diff_high": diff["high"], "significant": bool(math.isfinite(mw.p) and mw.p < alpha),
            })  # fmt: skip
    return {"baseline": baseline, "alpha": alpha, "arms": arms, "comparisons": comparisons}


def comparison_sentence(c: Mapping[str, Any], alpha: float = 0.05) -> str:
    """One comparison in plain words, e.g. ``ga beat random on final test accuracy in 4 of
    5 seeds, mean 0.871 ± 0.004 vs 0.866 ± 0.006, Mann-Whitney p = 0.31, A12 = 0.68,
    difference +0.005 (95% CI -0.001 to +0.011): not significant at 0.05.``"""
    ties = f" ({c['ties']} tied)" if c["ties"] else ""
    p = format_p(c["mann_whitney_p"]).replace("p = ", "")
    verdict = "not significant"
    if c["significant"]:
        better = c["arm"] if c["diff"] > 0 else c["baseline"]
        verdict = f"significant ({better} higher)"
    ci = ("n/a" if not math.isfinite(c["diff_low"])
          else f"{c['diff_low']:+.4f} to {c['diff_high']:+.4f}")  # fmt: skip
    a12 = f"{c['a12']:.2f}" if math.isfinite(c["a12"]) else "n/a"
    return (f"{c['arm']} beat {c['baseline']} on {METRIC_NAMES[c['metric']]} in {c['wins']} of {c['pairs']} "
            f"seeds{ties}, mean {c['mean']:.4f} ± {c['std']:.4f} (n = {c['n']}) vs {c['baseline_mean']:.4f} ± "
            f"{c['baseline_std']:.4f} (n = {c['baseline_n']}), Mann-Whitney p = {p}, A12 = {a12}, difference of "
            f"means {c['diff']:+.4f} (95% bootstrap CI {ci}): {verdict} at {alpha:g}.")  # fmt: skip
