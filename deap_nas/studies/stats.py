"""Statistics of the validation studies: ranks, Spearman, LOESS with a bootstrap band,
paired and two-sample tests, and the mean / std / best summary of several runs.

The statistics themselves (ranks with ties, Spearman's rho, U, W, Welch's t and its
degrees of freedom, the LOESS fit) are computed here with numpy, so tests can check them
against hand computations; only the reference distributions behind the p-values come from
scipy (``t``, Mann-Whitney's and Wilcoxon's exact or normal laws).

- :func:`rankdata`: 1-based ranks, ties get their mean rank ("average" method).
- :func:`spearman`: rho = Pearson correlation of the ranks (so ties are handled), two-sided
  p exact for up to 8 pairs (all orderings), else from Student's t with n - 2 degrees of
  freedom, as ``scipy.stats.spearmanr``.
- :func:`loess` / :func:`loess_band`: local linear regression with tricube weights over the
  nearest ``frac`` of the points (Cleveland 1979, without the robustness iterations; below
  10 points one least-squares line), and a pointwise percentile band from bootstrap resamples of the (x, y) pairs. The papers'
  Figs. 4-6 draw "LOESS regression and its 95% confidence interval"; the paper does not
  say how its interval was made, the bootstrap is our choice.
- :func:`mann_whitney`, :func:`welch_t`, :func:`wilcoxon_signed_rank`: the tests of the
  search-against-random-search and progressive-search studies.
- :func:`vargha_delaney_a12` (effect size: the probability that a value of x beats one of
  y, ties counting one half) and :func:`bootstrap_mean_diff` (difference of means with a
  seeded percentile bootstrap interval).
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "Correlation",
    "TestResult",
    "bootstrap_mean_diff",
    "concordance",
    "loess",
    "loess_band",
    "mann_whitney",
    "rankdata",
    "spearman",
    "summarize",
    "vargha_delaney_a12",
    "welch_t",
    "wilcoxon_signed_rank",
]


def _finite_pairs(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def rankdata(values: Sequence[float]) -> np.ndarray:
    """1-based ranks of ``values``; tied values share the mean of their ranks.

    >>> rankdata([10, 30, 20, 20]).tolist()
    [1.0, 4.0, 2.5, 2.5]
    """
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v), dtype=float)
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


@dataclass
class Correlation:
    """Spearman's rho, its two-sided p-value and the number of finite pairs used."""

    r: float
    p: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        if not math.isfinite(self.r):
            return f"r = n/a (n = {self.n})"
        return f"r = {self.r:+.3f}, {format_p(self.p)} (n = {self.n})"


def format_p(p: float) -> str:
    """``p = 0.0213``, ``p = 3.1e-05``, ``p < 1e-300`` (p underflows to 0), ``p = n/a``."""
    if not math.isfinite(p):
        return "p = n/a"
    if p == 0:
        return "p < 1e-300"
    return f"p = {p:.4f}" if p >= 1e-3 else f"p = {p:.2g}"


#: up to this many pairs, Spearman's p is exact (all n! orderings); above, Student's t
EXACT_SPEARMAN_N = 8


def spearman(x: Sequence[float], y: Sequence[float]) -> Correlation:
    """Spearman rank correlation of the finite pairs of ``x`` and ``y`` (module doc).

    The two-sided p-value is exact for n <= :data:`EXACT_SPEARMAN_N` (the share of the n!
    orderings of y's ranks, ties averaged, with |rho| at least the observed one: the t
    approximation is poor for the few points of a quick study), and from Student's t with
    n - 2 degrees of freedom above, as ``scipy.stats.spearmanr``. Fewer than 3 pairs, or a
    constant sample, give ``r`` = nan and ``p`` = nan.
    """
    a, b = _finite_pairs(x, y)
    n = len(a)
    if n < 3:
        return Correlation(math.nan, math.nan, n)
    ra, rb = rankdata(a), rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = math.sqrt(float((ra * ra).sum()) * float((rb * rb).sum()))
    if denom == 0:
        return Correlation(math.nan, math.nan, n)
    r = max(-1.0, min(1.0, float((ra * rb).sum()) / denom))
    if n <= EXACT_SPEARMAN_N:
        import itertools

        perms = np.array(list(itertools.permutations(range(n))))
        rhos = (rb[perms] * ra).sum(axis=1) / denom
        return Correlation(r, float(np.mean(np.abs(rhos) >= abs(r) - 1e-12)), n)
    if abs(r) == 1.0:
        return Correlation(r, 0.0, n)
    from scipy.stats import t as student_t

    tstat = r * math.sqrt((n - 2) / (1 - r * r))
    return Correlation(r, float(2 * student_t.sf(abs(tstat), n - 2)), n)


def concordance(x: Sequence[float], y: Sequence[float]) -> float:
    """Of the pairs (i, j) with x_i != x_j, the fraction where y orders them the same way
    (a tie in y counts one half): the chance that, of two candidates, the one better on x
    is also better on y. nan without such pairs."""
    a, b = _finite_pairs(x, y)
    agree = total = 0.0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            if a[i] == a[j]:
                continue
            total += 1
            s = (a[i] - a[j]) * (b[i] - b[j])
            agree += 1.0 if s > 0 else 0.5 if s == 0 else 0.0
    return agree / total if total else math.nan


# ---------------------------------------------------------------------- LOESS
MIN_NEIGHBOURS = 5  # fewest points of a local fit (local lines through 2-3 points swing wildly)
LOESS_MIN_POINTS = 10  # below this, one least-squares line over all points instead

def _tricube(d: np.ndarray) -> np.ndarray:
    d = np.clip(np.abs(d), 0.0, 1.0)
    return (1 - d**3) ** 3


def loess(x: Sequence[float], y: Sequence[float], at: Sequence[float], frac: float = 0.75) -> np.ndarray:
    """Local linear LOESS fit of ``y`` on ``x`` evaluated at ``at``.

    At each point x0 the ``q = ceil(frac * n)`` nearest x (at least :data:`MIN_NEIGHBOURS`,
    so tiny samples give no spikes) get tricube weights ``(1 - (|x - x0| / h)^3)^3``, ``h``
    the distance to the q-th nearest (times 1.0001 so the q-th point keeps a small weight),
    and a weighted least-squares line is evaluated at x0.
    Where the weighted x do not vary, the weighted mean is used. With fewer than
    :data:`LOESS_MIN_POINTS` points a local fit is no more than a line through two or three
    of them, so one ordinary least-squares line over all points is returned instead.
    """
    if not 0 < frac <= 1:
        raise ValueError(f"frac: must be in (0, 1], got {frac}")
    xs, ys = _finite_pairs(x, y)
    at_arr = np.asarray(at, dtype=float)
    n = len(xs)
    if n == 0:
        return np.full(len(at_arr), math.nan)
    q = min(n, max(MIN_NEIGHBOURS, math.ceil(frac * n)))
    out = np.empty(len(at_arr))
    for k, x0 in enumerate(at_arr):
        dist = np.abs(xs - x0)
        if n < LOESS_MIN_POINTS:
            w = np.ones(n)
        else:
            h = np.sort(dist)[q - 1] * 1.0001
            w = _tricube(dist / h) if h > 0 else (dist == 0).astype(float)
        sw = w.sum()
        if sw <= 0:
            out[k] = math.nan
            continue
        mx = (w * xs).sum() / sw
        my = (w * ys).sum() / sw
        sxx = (w * (xs - mx) ** 2).sum()
        if sxx <= 1e-15 * max(1.0, mx * mx):
            out[k] = my
        else:
            slope = (w * (xs - mx) * (ys - my)).sum() / sxx
            out[k] = my + slope * (x0 - mx)
    return out


def loess_band(
    x: Sequence[float],
    y: Sequence[float],
    at: Sequence[float],
    frac: float = 0.75,
    level: float = 0.95,
    n_boot: int = 200,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fit, lower, upper)`` at ``at``: the LOESS fit and the pointwise ``level``
    percentile band of ``n_boot`` fits to bootstrap resamples of the pairs (seeded, so a
    study's plot is reproducible). A resample's fit counts only inside the x range it
    covers (no extrapolation). Fewer than 3 pairs: the band is nan."""
    xs, ys = _finite_pairs(x, y)
    fit = loess(xs, ys, at, frac)
    if len(xs) < 3 or n_boot < 1:
        nan = np.full(len(fit), math.nan)
        return fit, nan, nan.copy()
    rng = np.random.default_rng(seed)
    at_arr = np.asarray(at, dtype=float)
    boots = np.empty((n_boot, len(fit)))
    for b in range(n_boot):
        idx = rng.integers(0, len(xs), len(xs))
        fit_b = loess(xs[idx], ys[idx], at, frac)
        fit_b[(at_arr < xs[idx].min()) | (at_arr > xs[idx].max())] = math.nan
        boots[b] = fit_b
    alpha = (1 - level) / 2
    with warnings.catch_warnings():  # a grid point no resample covers: nan
        warnings.simplefilter("ignore", RuntimeWarning)
        lower = np.nanquantile(boots, alpha, axis=0)
        upper = np.nanquantile(boots, 1 - alpha, axis=0)
    return fit, lower, upper


# ---------------------------------------------------------------------- tests
@dataclass
class TestResult:
    """A test's statistic, p-value, name and the sample sizes."""

    __test__ = False  # not a pytest class

    name: str
    statistic: float
    p: float
    n: tuple[int, ...]
    alternative: str = "two-sided"
    df: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        stat = f"{self.statistic:.4g}" if math.isfinite(self.statistic) else "n/a"
        df = f", df = {self.df:.2f}" if self.df is not None and math.isfinite(self.df) else ""
        sizes = ", ".join(map(str, self.n))
        return f"{self.name} ({self.alternative}): {stat}{df}, {format_p(self.p)} (n = {sizes})"


def _clean(values: Sequence[float]) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return a[np.isfinite(a)]


def mann_whitney(x: Sequence[float], y: Sequence[float], alternative: str = "two-sided") -> TestResult:
    """Mann-Whitney U test of ``x`` against ``y``. U = pairs with x > y, ties counting one
    half; p from ``scipy.stats.mannwhitneyu`` (exact for small samples without ties, else
    the normal approximation with tie and continuity corrections). ``alternative``:
    ``two-sided``, ``greater`` (x tends to be larger) or ``less``."""
    a, b = _clean(x), _clean(y)
    if len(a) == 0 or len(b) == 0:
        return TestResult("Mann-Whitney U", math.nan, math.nan, (len(a), len(b)), alternative)
    u = float(sum((ai > bj) + 0.5 * (ai == bj) for ai in a for bj in b))
    if np.all(np.concatenate([a, b]) == a[0]):
        return TestResult("Mann-Whitney U", u, 1.0, (len(a), len(b)), alternative)
    from scipy.stats import mannwhitneyu

    p = float(mannwhitneyu(a, b, alternative=alternative).pvalue)
    return TestResult("Mann-Whitney U", u, p, (len(a), len(b)), alternative)


def welch_t(x: Sequence[float], y: Sequence[float], alternative: str = "two-sided") -> TestResult:
    """Welch's t test (unequal variances) of mean(x) against mean(y):
    ``t = (mx - my) / sqrt(vx / nx + vy / ny)`` with sample variances, Welch-Satterthwaite
    degrees of freedom, p from Student's t. Needs >= 2 values per sample."""
    a, b = _clean(x), _clean(y)
    if len(a) < 2 or len(b) < 2:
        return TestResult("Welch t", math.nan, math.nan, (len(a), len(b)), alternative)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    diff = float(a.mean() - b.mean())
    if se == 0:
        p = 1.0 if diff == 0 else 0.0
        return TestResult("Welch t", math.copysign(math.inf, diff) if diff else 0.0, p, (len(a), len(b)),
                          alternative)  # fmt: skip
    t = diff / se
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    from scipy.stats import t as student_t

    if alternative == "two-sided":
        p = 2 * student_t.sf(abs(t), df)
    elif alternative == "greater":
        p = student_t.sf(t, df)
    elif alternative == "less":
        p = student_t.cdf(t, df)
    else:
        raise ValueError(f"alternative: two-sided, greater or less, got {alternative!r}")
    return TestResult("Welch t", t, float(p), (len(a), len(b)), alternative, df=float(df))


def wilcoxon_signed_rank(after: Sequence[float], before: Sequence[float], alternative: str = "greater") -> TestResult:
    """Wilcoxon signed-rank test of the paired differences ``after - before``.

    Zero differences are dropped; W+ = the sum of the ranks (of |difference|, ties
    averaged) of the positive differences. ``greater``: H1 after tends to exceed before.
    p from ``scipy.stats.wilcoxon`` on the same differences.
    """
    a, b = _finite_pairs(after, before)
    d = a - b
    d = d[d != 0]
    if len(d) == 0:
        return TestResult("Wilcoxon signed-rank W+", math.nan, math.nan, (0,), alternative)
    ranks = rankdata(np.abs(d))
    w = float(ranks[d > 0].sum())
    from scipy.stats import wilcoxon

    p = float(wilcoxon(d, alternative=alternative).pvalue)
    return TestResult("Wilcoxon signed-rank W+", w, p, (len(d),), alternative)


# ---------------------------------------------------------------------- effect sizes
def vargha_delaney_a12(x: Sequence[float], y: Sequence[float]) -> float:
    """Vargha-Delaney A12: of all pairs (one finite value of ``x``, one of ``y``), the
    fraction where the x value is larger, ties counting one half (0.5: no effect; 1: every
    x beats every y). nan when either sample is empty.

    >>> vargha_delaney_a12([3, 2], [1, 2])
    0.875
    """
    a, b = _clean(x), _clean(y)
    if len(a) == 0 or len(b) == 0:
        return math.nan
    wins = (a[:, None] > b[None, :]).sum() + 0.5 * (a[:, None] == b[None, :]).sum()
    return float(wins) / (len(a) * len(b))


def bootstrap_mean_diff(x: Sequence[float], y: Sequence[float], level: float = 0.95, n_boot: int = 10_000,
                        seed: int = 0) -> dict[str, float]:  # fmt: skip
    """``{"diff", "low", "high", "level"}``: mean(x) - mean(y) of the finite values and its
    percentile bootstrap interval (each sample resampled with replacement on its own,
    ``n_boot`` times, ``numpy.random.default_rng(seed)``: the same inputs give the same
    interval). nan when a sample is empty; the interval is nan with fewer than 2 values in
    a sample."""
    if not 0 < level < 1:
        raise ValueError(f"level: must be in (0, 1), got {level}")
    a, b = _clean(x), _clean(y)
    nan = {"diff": math.nan, "low": math.nan, "high": math.nan, "level": level}
    if len(a) == 0 or len(b) == 0:
        return nan
    diff = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2 or n_boot < 1:
        return {**nan, "diff": diff}
    rng = np.random.default_rng(seed)
    da = a[rng.integers(0, len(a), (n_boot, len(a)))].mean(axis=1)
    db = b[rng.integers(0, len(b), (n_boot, len(b)))].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(da - db, [alpha, 1 - alpha])
    return {"diff": diff, "low": float(low), "high": float(high), "level": level}


# ---------------------------------------------------------------------- summaries
def summarize(values: Sequence[float], higher_is_better: bool = True) -> dict[str, Any]:
    """``{"n", "mean", "std" (sample, ddof 1; 0 for one value), "best", "worst"}`` of the
    finite values; nan fields when there are none."""
    v = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    if not v:
        return {"n": 0, "mean": math.nan, "std": math.nan, "best": math.nan, "worst": math.nan}
    best, worst = (max(v), min(v)) if higher_is_better else (min(v), max(v))
    return {"n": len(v), "mean": statistics.fmean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0,
            "best": best, "worst": worst}  # fmt: skip
