"""Statistics of the validation studies against hand computations and scipy (no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from deap_nas.studies.locality import clone_statistics
from deap_nas.studies.progressive import gain_statistics, stronger_half
from deap_nas.studies.runs import tabulate_runs
from deap_nas.studies.stats import (
    bootstrap_mean_diff,
    concordance,
    format_p,
    loess,
    loess_band,
    mann_whitney,
    rankdata,
    spearman,
    summarize,
    vargha_delaney_a12,
    welch_t,
    wilcoxon_signed_rank,
)


def test_ranks_average_ties():
    assert rankdata([10, 30, 20, 20]).tolist() == [1.0, 4.0, 2.5, 2.5]
    assert rankdata([5, 5, 5]).tolist() == [2.0, 2.0, 2.0]


def test_spearman_on_known_ranks_by_hand():
    # d = [-1, 1, -1, 1, 0]: rho = 1 - 6 * 4 / (5 * 24) = 0.8
    c = spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    assert c.r == pytest.approx(0.8)
    assert c.n == 5
    # exact p (n <= 8): of the 120 orderings, sum d^2 <= 4 (|rho| >= 0.8) for the identity,
    # 4 adjacent swaps and 3 pairs of disjoint adjacent swaps, and as many reversed: 16 / 120
    assert c.p == pytest.approx(16 / 120)
    # above 8 pairs: Student's t, as scipy; 9 points, rho = 1 - 6 * 2 / (9 * 80)
    c9 = spearman(list(range(9)), [1, 0, 2, 3, 4, 5, 6, 7, 8])
    r9 = 1 - 12 / 720
    assert c9.r == pytest.approx(r9)
    assert c9.p == pytest.approx(2 * sp.t.sf(r9 * math.sqrt(7 / (1 - r9 * r9)), 7))
    assert spearman([1, 2, 3, 4], [1, 2, 3, 4]).p == pytest.approx(2 / 24)  # only the two extreme orderings


def test_spearman_with_ties_by_hand_and_against_scipy():
    # ranks x [1, 2.5, 2.5, 4], y [1, 3, 2, 4]: sum dx dy = 4.5, sum dx^2 = 4.5, sum dy^2 = 5
    c = spearman([1, 2, 2, 3], [1, 3, 2, 4])
    assert c.r == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.integers(0, 6, 15)  # many ties
        y = x + rng.integers(-3, 4, 15)
        ref = sp.spearmanr(x, y)
        ours = spearman(x.tolist(), y.tolist())
        assert ours.r == pytest.approx(ref.statistic, abs=1e-12)
        assert ours.p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-15)


def test_spearman_ignores_nan_pairs_and_degenerate_input():
    c = spearman([1, 2, float("nan"), 3, 4], [1, 2, 9, 4, 3])
    assert c.n == 4 and c.r == pytest.approx(spearman([1, 2, 3, 4], [1, 2, 4, 3]).r)
    assert math.isnan(spearman([1, 2], [2, 1]).r)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]).r)  # constant sample
    assert spearman([1, 2, 3], [3, 2, 1]).r == -1.0
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2, 3], [1, 2])


def test_mann_whitney_by_hand():
    # pairs with x > y: 3 > 1, 2; 5 > 1, 2, 4; 7 > 1, 2, 4 -> U = 8; exact P(U >= 8) = 2 / 20
    t = mann_whitney([3, 5, 7], [1, 2, 4])
    assert t.statistic == 8
    assert t.p == pytest.approx(0.2)
    assert mann_whitney([3, 5, 7], [1, 2, 4], alternative="greater").p == pytest.approx(0.1)
    assert mann_whitney([1, 1], [1, 1]).p == 1.0


def test_welch_t_by_hand():
    x, y = [1, 2, 3, 4], [2, 4, 6, 8, 10]
    # var(x)/4 = 5/12, var(y)/5 = 2: t = -3.5 / sqrt(29/12), df = (29/12)^2 / ((5/12)^2 / 3 + 4 / 4)
    t = welch_t(x, y)
    assert t.statistic == pytest.approx(-3.5 / math.sqrt(29 / 12))
    assert t.df == pytest.approx((29 / 12) ** 2 / ((5 / 12) ** 2 / 3 + 1.0))
    ref = sp.ttest_ind(x, y, equal_var=False)
    assert t.p == pytest.approx(ref.pvalue)
    assert math.isnan(welch_t([1], [2, 3]).p)


def test_wilcoxon_signed_rank_by_hand():
    # d = [1, 2, 3, -1]: |d| ranks 1.5, 3, 4, 1.5 -> W+ = 1.5 + 3 + 4 = 8.5
    t = wilcoxon_signed_rank([5, 6, 7, 8], [4, 4, 4, 9])
    assert t.statistic == 8.5
    assert t.p == pytest.approx(sp.wilcoxon([1, 2, 3, -1], alternative="greater").pvalue)
    assert wilcoxon_signed_rank([1, 2], [1, 2]).n == (0,)  # no non-zero difference


def test_loess_is_local_and_reproduces_lines():
    x = np.linspace(0, 1, 12)
    assert loess(x, 2 * x + 1, [0.0, 0.33, 1.0], frac=0.5) == pytest.approx([1.0, 1.66, 3.0])
    # a hinge: y = 0 for x = 0..5, y = x - 6 for x = 6..11; frac 0.5 -> the 6 nearest points:
    # at x0 = 0 they are x = 0..5 (all y = 0), at x0 = 11 x = 6..11 (on y = x - 6); a global
    # least-squares line would give -1.15 and 3.65 there
    xh = list(range(12))
    yh = [0.0] * 6 + [float(v - 6) for v in range(6, 12)]
    assert loess(xh, yh, [0.0, 11.0], frac=0.5) == pytest.approx([0.0, 5.0], abs=1e-9)
    # fewer than 10 points: one least-squares line; x = [0, 1, 2], y = [0, 1, 0]: slope 0, mean 1/3
    assert loess([0, 1, 2], [0, 1, 0], [0.0, 2.0], frac=1.0) == pytest.approx([1 / 3, 1 / 3])
    with pytest.raises(ValueError, match="frac"):
        loess([0, 1], [0, 1], [0], frac=0)


def test_loess_band_collapses_on_noiseless_data_and_covers_noisy_fit():
    x = np.linspace(0, 1, 20)
    fit, lo, hi = loess_band(x, 3 * x, x, frac=0.6, n_boot=30, seed=1)
    assert lo == pytest.approx(3 * x, abs=1e-9) and hi == pytest.approx(3 * x, abs=1e-9)
    rng = np.random.default_rng(0)
    y = np.sin(3 * x) + rng.normal(0, 0.2, len(x))
    fit, lo, hi = loess_band(x, y, x, frac=0.6, n_boot=50, seed=1)
    assert np.all(lo <= hi) and np.mean((lo <= fit) & (fit <= hi)) > 0.9 and np.all(hi - lo > 0)
    again = loess_band(x, y, x, frac=0.6, n_boot=50, seed=1)
    assert np.array_equal(again[1], lo)  # seeded: reproducible plots


def test_concordance_and_summaries_by_hand():
    assert concordance([1, 2, 3], [1, 3, 2]) == pytest.approx(2 / 3)
    assert concordance([1, 2, 3], [1, 1, 1]) == pytest.approx(0.5)
    s = summarize([0.9, 0.8, 1.0, float("nan")])
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.9) and s["std"] == pytest.approx(0.1) and s["best"] == 1.0
    assert format_p(0.0) == "p < 1e-300" and format_p(0.02134) == "p = 0.0213" and format_p(3.14e-5) == "p = 3.1e-05"


def test_vargha_delaney_a12_by_hand():
    # pairs won by x: 0.9 beats all 3 (3); each 0.8 ties 0.8 (1/2) and beats 0.6, 0.75 (2.5 twice);
    # 0.7 beats only 0.6 (1): 9 of 12 pairs
    x, y = [0.9, 0.8, 0.8, 0.7], [0.8, 0.6, 0.75]
    assert vargha_delaney_a12(x, y) == pytest.approx(0.75)
    assert vargha_delaney_a12(y, x) == pytest.approx(0.25)
    assert vargha_delaney_a12([1, 1], [1]) == 0.5 and vargha_delaney_a12([2, float("nan")], [1]) == 1.0
    assert math.isnan(vargha_delaney_a12([], [1]))
    # A12 = U / (m n), U the Mann-Whitney statistic
    assert vargha_delaney_a12(x, y) == pytest.approx(mann_whitney(x, y).statistic / 12)


def test_bootstrap_mean_diff_is_seeded_and_brackets_the_difference():
    x, y = [0.86, 0.87, 0.88, 0.90, 0.85], [0.84, 0.86, 0.85, 0.83, 0.87]
    r = bootstrap_mean_diff(x, y, n_boot=2000, seed=3)
    assert r["diff"] == pytest.approx(np.mean(x) - np.mean(y)) and r["level"] == 0.95
    assert r["low"] < r["diff"] < r["high"] and r == bootstrap_mean_diff(x, y, n_boot=2000, seed=3)
    assert r != bootstrap_mean_diff(x, y, n_boot=2000, seed=4)
    # a resample's mean lies between the sample's extremes: the interval is inside max/min differences
    assert min(x) - max(y) <= r["low"] and r["high"] <= max(x) - min(y)
    assert bootstrap_mean_diff([1, 1, 1], [0, 0]) == {"diff": 1.0, "low": 1.0, "high": 1.0, "level": 0.95}
    one = bootstrap_mean_diff([1.0], [0.0, 0.5])
    assert one["diff"] == 0.75 and math.isnan(one["low"]) and math.isnan(bootstrap_mean_diff([], [1])["diff"])


def test_clone_and_gain_statistics_by_hand():
    nan = float("nan")
    pa, mean, std = clone_statistics([0.5, 0.7, nan, 0.9], [[0.4, 0.6], [0.7, nan], [0.1, 0.2], [0.8, 0.9, 1.0]])
    assert pa == [0.5, 0.9]  # parent 2 has 1 successful clone, parent 3 no affinity
    assert mean == pytest.approx([0.5, 0.9]) and std == pytest.approx([math.sqrt(0.02), 0.1])
    g = gain_statistics([0.5, 0.6, 0.7, nan], [0.6, 0.55, 0.9, 0.8])
    assert g["n"] == 3 and g["mean_gain"] == pytest.approx((0.1 - 0.05 + 0.2) / 3)
    assert g["improved"] == pytest.approx(2 / 3)
    assert stronger_half([0.5, 0.6, 0.7, nan], [0, 1, 2, 3]) == [1, 2]


def test_tabulate_runs_by_hand():
    rows = [
        {"run": "/r/seed_0", "seed": 0, "evaluations": 20, "best_val": 0.80, "test": 0.78, "committee": math.nan,
         "wall_seconds": 3600.0, "device_seconds": 1800.0, "device": "CPU"},
        {"run": "/r/seed_1", "seed": 1, "evaluations": 20, "best_val": 0.90, "test": 0.86, "committee": math.nan,
         "wall_seconds": 7200.0, "device_seconds": 5400.0, "device": "GPU"},
    ]  # fmt: skip
    t = tabulate_runs(rows, title="regevo")
    assert t["summary"]["best_val"]["mean"] == pytest.approx(0.85)
    assert t["summary"]["best_val"]["std"] == pytest.approx(math.sqrt(0.005))
    assert t["summary"]["test"]["best"] == 0.86
    assert "committee" not in t["summary"]  # no run has one: no column
    assert t["device"] == "GPU" and t["device_hours"] == pytest.approx(2.0) and t["wall_hours"] == pytest.approx(3.0)
    assert "| seed_1 | 1 | 20 | 0.9000 | 0.8600 | 1.500 | 2.000 |" in t["markdown"]
    assert "GPU-hours" in t["markdown"] and "85.00 ± 7.07 %" in t["line"]
    assert r"$85.00 \pm 7.07$ ($90.00$)" in t["latex"]
