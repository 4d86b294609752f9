"""Search against random search as evidence: equal-budget cuts on synthetic journals, the
whole study with the fake trainer (results.json, results.md, plots, a rerun reuses
everything, the results page), and a reduced real study on fashion_mnist_mini (slow)."""

from __future__ import annotations

import math
from pathlib import Path

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


# ---------------------------------------------------------------------- the whole study, fake trainer
FAKE = {
    "data": {"name": "fashion_mnist_mini", "train_subset": 10, "val_per_class": 5},
    "space": {"name": "sequential", "stem_channels": 8, "max_depth": 3, "max_channels": 16},
    "algorithm": {"name": "random_search", "population_size": 3},
    "training": {"epochs": 1},
    "evaluation": {"trainer": "deap_nas.testing:fake_trainer", "save_weights": False},
    "budget": {"evaluations": 6},
    "parallel": {"threads": 1, "device": "cpu"},
    "output": {"progress": False, "plots": False},
}
GA = {**FAKE, "algorithm": {"name": "simple_ga", "population_size": 3, "tournament_size": 2},
      "operators": {"mutate": {"name": "mut_sequential"}, "mate": {"name": "cx_one_point"}}}  # fmt: skip


def _fake_train_final(calls: list):
    """Stands in for real final training: records its call and writes final/results.json
    with a test accuracy that depends on the run and the seed."""
    import json
    import zlib

    def train_final(run_dir, top_k=None, epochs=None, log=print, overrides=()):
        (seeds,) = [json.loads(o.split("=", 1)[1]) for o in overrides if o.startswith("final_training.seeds=")]
        calls.append((str(run_dir), seeds))
        base = zlib.crc32("/".join(Path(run_dir).parts[-2:]).encode()) % 100 / 1000
        models = [{"rank": 1, "arch_hash": "h", "seed": s, "test_acc": 0.8 + base + s % 7 / 1000, "seconds": 0.0}
                  for s in seeds]  # fmt: skip
        (Path(run_dir) / "final").mkdir(exist_ok=True)
        (Path(run_dir) / "final" / "results.json").write_text(json.dumps({"models": models}))

    return train_final


def _study(tmp: Path, plots: bool = True):
    from deap_nas.studies.base import parse_study_config

    params = {"seeds": [0, 1, 2], "metric": "test", "bootstrap": 500,
              "methods": {"ga": {"run": GA, "points": [{"budget.evaluations": 6}]},
                          "random": {"run": FAKE, "points": [{"budget.evaluations": 5}]}}}  # fmt: skip
    return parse_study_config({"study": "search_vs_random", "params": params,
                               "output": {"progress": False, "plots": plots}}, where=tmp)  # fmt: skip


def test_search_vs_random_evidence_with_the_fake_trainer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import json

    import deap_nas.analysis.final as final
    from deap_nas.cli import main
    from deap_nas.studies import run_study
    from deap_nas.studies.stats import mann_whitney, vargha_delaney_a12

    calls: list = []
    monkeypatch.setattr(final, "train_final", _fake_train_final(calls))
    cfg = _study(tmp_path)
    assert cfg.params.baseline == "random"
    run_study(cfg, tmp_path / "svr")
    saved = json.loads((tmp_path / "svr" / "results.json").read_text())
    ev = saved["evidence"]
    assert ev["baseline"] == "random" and ev["final_seed_rule"] == "final seed = 10000 + run seed"
    (point,) = ev["points"]
    # final retraining: fresh seeds, the test split measured once per run, never in the search
    assert sorted(s for _, s in calls) == [[10000], [10000], [10001], [10001], [10002], [10002]]
    for arm in ("ga", "random"):
        for r in point["runs"][arm]:
            assert r["final_seeds"] == [10000 + r["seed"]] and r["test_measurements"] == 1
            assert r["search_used_test"] is False
    # equal budgets recomputed from the journals: trained = ok and not cached, in eval_id order
    trained, best_at = {}, {}
    for arm in ("ga", "random"):
        for r in point["runs"][arm]:
            recs = sorted(journal_of(r["run"]), key=lambda e: e["eval_id"])
            trained[r["run"]] = [e for e in recs if e["status"] == "ok" and not e.get("cached")]
            assert r["trained"] == len(trained[r["run"]])
    cut = point["equal_budget"]
    assert cut["trained_cut"] == min(len(v) for v in trained.values())
    assert cut["time_cut"] == min(r["wall_seconds"] for rs in point["runs"].values() for r in rs)
    for arm in ("ga", "random"):
        got = cut["arms"][arm]["at_trained"]
        for r, g in zip(point["runs"][arm], got, strict=True):
            nth = trained[r["run"]][cut["trained_cut"] - 1]["eval_id"]
            recs = [e for e in journal_of(r["run"]) if e["eval_id"] <= nth and e["status"] == "ok"]
            best_at[r["run"]] = max(e["accuracy"] for e in recs)
            assert g == best_at[r["run"]]
    # statistics of the test metric against the baseline, recomputed
    (comp,) = [c for c in point["statistics"]["comparisons"] if c["metric"] == "test"]
    x = [r["test"] for r in point["runs"]["ga"]]
    y = [r["test"] for r in point["runs"]["random"]]
    assert comp["a12"] == pytest.approx(vargha_delaney_a12(x, y))
    assert comp["mann_whitney_p"] == pytest.approx(mann_whitney(x, y).p)
    assert comp["wins"] == sum(a > b for a, b in zip(x, y, strict=True)) and comp["pairs"] == 3
    assert comp["diff_low"] <= comp["diff"] <= comp["diff_high"]
    assert {c["metric"] for c in point["statistics"]["comparisons"]} == {"test", "at_trained", "at_time", "best_val"}
    plots = tmp_path / "svr" / "plots"
    for name in ("curves_trained", "curves_time", "candidates", "search_vs_random", "best_so_far"):
        assert (plots / f"{name}.png").stat().st_size > 1000
    md = (tmp_path / "svr" / "results.md").read_text()
    assert md.startswith("## ga against random") and "deap-nas study resume" in md
    assert "ga beat random on final test accuracy in" in md and "](plots/curves_time.png)" in md
    assert "budget {'evaluations': 6}" in md and "| random | 3 |" in md

    # a rerun reuses every run and every final training; a lost run is redone alone
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "svr").glob("*/*/journal.jsonl")}
    n_calls = len(calls)
    run_study(_study(tmp_path), tmp_path / "svr")
    assert len(calls) == n_calls and stamps == {p: p.stat().st_mtime_ns for p in stamps}
    import shutil

    shutil.rmtree(tmp_path / "svr" / "ga" / "p0_seed1")
    again = run_study(_study(tmp_path), tmp_path / "svr")
    assert [s for _, s in calls[n_calls:]] == [[10001]]
    assert again["evidence"]["points"][0]["statistics"] == json.loads(
        json.dumps(again["evidence"]["points"][0]["statistics"]))  # plain JSON
    # results from other final seeds are refused, not measured on the test split again
    (tmp_path / "svr" / "random" / "p0_seed2" / "final" / "results.json").write_text(
        json.dumps({"models": [{"rank": 1, "seed": 0, "test_acc": 0.5}]}))
    with pytest.raises(ValueError, match="not the study's"):
        run_study(_study(tmp_path), tmp_path / "svr")

    # the results page: links rewritten, plots copied next to it
    (tmp_path / "svr" / "random" / "p0_seed2" / "final" / "results.json").unlink()
    run_study(_study(tmp_path), tmp_path / "svr")
    docs = tmp_path / "docs"
    assert main(["results", str(tmp_path / "svr"), "--out", str(docs / "results.md"),
                 "--copy-plots", str(docs / "results")]) == 0  # fmt: skip
    page = (docs / "results.md").read_text()
    assert "](results/svr/plots/curves_time.png)" in page
    assert (docs / "results" / "svr" / "plots" / "candidates.png").is_file()
    assert "- [ga against random](#ga-against-random)" in page
    assert main(["results", str(tmp_path / "nowhere"), "--out", str(docs / "x.md")]) == 2
    (tmp_path / "intro.md").write_text("**Summary.** Written by hand.\n")
    assert main(["results", str(tmp_path / "svr"), "--out", str(docs / "results.md"), "--title", "T",
                 "--intro", str(tmp_path / "intro.md")]) == 0  # fmt: skip
    assert (docs / "results.md").read_text().startswith("# T\n\n**Summary.** Written by hand.\n\n- [ga against")


def journal_of(run_dir: str) -> list[dict]:
    import json

    return [json.loads(line) for line in (Path(run_dir) / "journal.jsonl").read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------------- a reduced real study (slow)
@pytest.mark.slow
def test_search_vs_random_evidence_trains_for_real(tmp_path: Path):
    """random_search against simple_ga on the sequential space, 2 seeds, 4 evaluations of
    1 epoch on small subsets of fashion_mnist_mini, and the final retraining with test."""
    import json

    from deap_nas.studies import run_study
    from deap_nas.studies.base import parse_study_config

    real = {**FAKE, "evaluation": {"save_weights": False}, "training": {"epochs": 1, "batch_size": 32},
            "data": {"name": "fashion_mnist_mini", "train_subset": 10, "val_per_class": 5},
            "final_training": {"train_subset": 10, "val_fraction": 0.2,
                               "training": {"epochs": 1, "batch_size": 32}}}  # fmt: skip
    ga = {**real, "algorithm": GA["algorithm"], "operators": GA["operators"]}
    params = {"seeds": [0, 1], "metric": "test", "bootstrap": 200,
              "methods": {"ga": {"run": ga, "points": [{"budget.evaluations": 4}]},
                          "random": {"run": real, "points": [{"budget.evaluations": 4}]}}}  # fmt: skip
    cfg = parse_study_config({"study": "search_vs_random", "params": params,
                              "output": {"progress": False, "plots": True}}, where=tmp_path)  # fmt: skip
    res = run_study(cfg, tmp_path / "svr")
    (point,) = res["evidence"]["points"]
    for arm in ("ga", "random"):
        for r in point["runs"][arm]:
            models = json.loads((Path(r["run"]) / "final" / "results.json").read_text())["models"]
            assert [m["seed"] for m in models] == [10000 + r["seed"]] and models[0]["test_acc"] is not None
            assert r["test"] == models[0]["test_acc"] and r["test_measurements"] == 1
            assert not r["search_used_test"]
    assert {c["metric"] for c in point["statistics"]["comparisons"]} >= {"test", "at_trained", "at_time"}
    assert (tmp_path / "svr" / "results.md").is_file() and (tmp_path / "svr" / "plots" / "curves_time.png").is_file()
    weights = sorted((tmp_path / "svr").glob("*/*/final/*.pt"))
    run_study(cfg, tmp_path / "svr")  # a rerun trains nothing
    assert [w.stat().st_mtime_ns for w in weights] == [w.stat().st_mtime_ns for w in sorted(
        (tmp_path / "svr").glob("*/*/final/*.pt"))]
