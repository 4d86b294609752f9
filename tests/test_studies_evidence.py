"""Search against random search as evidence: equal-budget cuts on synthetic journals, the
whole study with the fake trainer (results.json, results.md, plots, a rerun reuses
everything, the results page), and a reduced real study on fashion_mnist_mini (slow)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deap_nas.studies.budget import budget_curve, equal_budget, is_trained, mean_band

CREATED = "2026-01-01T00:00:00+00:00"


def _at(seconds: int) -> str:
    return f"2026-01-01T00:00:{seconds:02d}+00:00" if seconds < 60 else f"2026-01-01T00:{seconds // 60:02d}:{seconds % 60:02d}+00:00"


def _rec(eid: int, status: str = "ok", acc: float | None = None, finished: int | None = None, gen: int = 0,
         cached: bool = False, time_total: float = 0.0) -> dict:  # fmt: skip
    r = {"eval_id": eid, "generation": gen, "status": status, "accuracy": acc, "cached": cached,
         "time_total": time_total}  # fmt: skip
    if finished is not None:
        r["finished"] = _at(finished)
    return r


# file order is completion order: evaluation 4 finished before evaluation 3
JOURNAL = [
    _rec(0, acc=0.5, finished=10, time_total=9),
    _rec(1, "invalid"),  # refused at once: no finished time, not trained
    _rec(2, acc=0.5, cached=True),  # a cache hit: nothing trained
    _rec(4, acc=0.7, finished=20, gen=1, time_total=9),
    _rec(3, "crashed", finished=30, gen=1, time_total=8),  # failed: not a trained network
    _rec(5, acc=0.99, finished=40, gen=-1, time_total=9),  # final-selection re-evaluation: not search
]


def test_trained_networks_and_the_finished_time_axis():
    assert [is_trained(r) for r in JOURNAL] == [True, False, False, True, False, True]
    c = budget_curve(JOURNAL, {"created": CREATED, "usage": {"seconds": 35.0}})
    assert c.time_axis == "finished" and c.wall_seconds == 35.0
    assert c.trained == [1, 1, 1, 1, 2] and c.total_trained == 2  # eval_id order 0..4
    assert c.seconds == [10, 10, 10, 30, 20]
    assert c.best_at_trained(1) == 0.5 and c.best_at_trained(2) == 0.7
    assert math.isnan(c.best_at_trained(0)) and math.isnan(c.best_at_trained(3))
    assert math.isnan(c.best_at_time(9.9)) and c.best_at_time(19) == 0.5 and c.best_at_time(20) == 0.7
    assert c.trained_curve() == [0.5, 0.7] and c.sampled() == [0.5, 0.7]
    assert c.time_curve([0, 10, 25]) == pytest.approx([math.nan, 0.5, 0.7], nan_ok=True)


def test_a_resumed_run_falls_back_to_training_time_and_the_cuts_take_the_smallest_budget():
    resumed = [_rec(0, acc=0.6, finished=50, time_total=5), _rec(1, acc=0.65, finished=100, time_total=6)]
    r = budget_curve(resumed, {"created": CREATED, "usage": {"seconds": 12.0}}, run="r0")
    assert r.time_axis == "time_total" and r.seconds == [5, 11] and r.notes
    no_times = budget_curve([_rec(0, acc=0.6, time_total=4)], {"usage": {"seconds": 5.0}})
    assert no_times.time_axis == "time_total" and no_times.seconds == [4]
    m = budget_curve(JOURNAL, {"created": CREATED, "usage": {"seconds": 35.0}})
    cut = equal_budget({"method": [m], "random": [r]})
    assert cut["trained_cut"] == 2 and cut["time_cut"] == 12.0
    assert cut["arms"]["method"]["at_trained"] == [0.7] and cut["arms"]["random"]["at_trained"] == [0.65]
    assert cut["arms"]["method"]["at_time"] == [0.5] and cut["arms"]["random"]["at_time"] == [0.65]
    assert cut["arms"]["random"]["time_axis"] == ["time_total"]
    one = budget_curve(JOURNAL[:1], {"created": CREATED, "usage": {"seconds": 11.0}})
    assert equal_budget({"method": [m], "random": [one]})["arms"]["method"]["at_trained"] == [0.5]


def test_mean_band_is_mean_plus_minus_sample_std_over_finite_values():
    mean, lo, hi = mean_band([[1.0, 2.0, math.nan], [3.0, math.nan, math.nan]])
    assert mean[:2].tolist() == [2.0, 2.0] and math.isnan(mean[2])
    assert lo[0] == pytest.approx(2 - math.sqrt(2)) and hi[0] == pytest.approx(2 + math.sqrt(2))
    assert lo[1] == hi[1] == 2.0
    assert all(len(a) == 0 for a in mean_band(np.zeros((0, 0))))
