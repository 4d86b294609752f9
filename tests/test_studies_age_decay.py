"""MiniGen's age-decay ablation study (Fig. 3): the per-run statistics on a hand-made
logbook, config errors naming the field, and a tiny real study (fashion_mnist_mini, CPU)
whose printed statistics are recomputed from the runs' logbooks."""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path

import pytest
import yaml

from deap_nas.runtime.schema import ConfigError
from deap_nas.studies import run_study
from deap_nas.studies.age_decay import birth_statistics
from deap_nas.studies.base import parse_study_config
from deap_nas.studies.stats import mann_whitney

from .test_minigen_runtime import CONFIG as MINIGEN


def test_birth_statistics_by_hand():
    rows = [{"gen": g, "best_birth": b, "best": a}
            for g, b, a in [(0, 0, 0.2), (1, 1, 0.3), (2, 1, 0.3), (3, 1, 0.3), (4, 4, 0.4)]]  # fmt: skip
    s = birth_statistics(list(reversed(rows)) + [{"gen": 5, "best_birth": None}])  # order and gaps do not matter
    assert s["final_birth"] == 4 and s["changes"] == 2
    assert s["mean_age"] == pytest.approx((0 + 0 + 1 + 2 + 0) / 5)
    assert s["series"][1] == [1.0, 1.0, 0.3]
    empty = birth_statistics([{"gen": 0}])
    assert math.isnan(empty["final_birth"]) and empty["series"] == []


@pytest.mark.parametrize("params,run,message", [
    ({"decays": [0.01]}, None, "params.decays: give at least two values"),
    ({"decays": [0, -1]}, None, "params.decays: each must be a number >= 0"),
    ({"generations": 0}, None, "params.generations"),
    ({}, {"algorithm": {"name": "random_search"}}, "base: the age-decay study needs a minigen run config"),
])
def test_config_errors_name_the_field(tmp_path: Path, params, run, message):
    data = {"study": "age_decay", "run": run or copy.deepcopy(MINIGEN), "params": params}
    with pytest.raises(ConfigError, match=message):
        parse_study_config(data, where=tmp_path)


def test_tiny_study_statistics_match_the_logbooks_and_a_rerun_trains_nothing(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = copy.deepcopy(MINIGEN)
    run["output"] = {"plots": False, "progress": False}
    data = {"study": "age_decay", "run": run, "params": {"decays": [0.0, 0.5], "seeds": [0, 1], "generations": 3},
            "output": {"progress": False, "plots": True}}  # fmt: skip
    res = run_study(parse_study_config(data, where=tmp_path), tmp_path / "s")
    finals: dict[str, list[float]] = {}
    for decay, label in ((0.0, "no decay"), (0.5, "decay 0.5")):
        for seed in (0, 1):
            rd = tmp_path / "s" / f"decay_{decay:g}" / f"seed_{seed}"
            cfg = yaml.safe_load((rd / "config.yaml").read_text())
            assert cfg["algorithm"]["decay"] == decay and cfg["seed"] == seed
            assert cfg["algorithm"]["generations_per_round"] == 4  # one round: no restart
            with open(rd / "logbook.csv") as f:
                book = list(csv.DictReader(f))
            assert [int(r["gen"]) for r in book] == [0, 1, 2, 3]
            births = [float(r["best_birth"]) for r in book]
            assert all(0 <= b <= int(r["gen"]) for b, r in zip(births, book, strict=True))
            finals.setdefault(label, []).append(births[-1])
        assert [r["final_birth"] for r in res["runs"][label]] == finals[label]
    expected = mann_whitney(finals["decay 0.5"], finals["no decay"])
    assert res["tests"]["final_birth"].statistic == expected.statistic
    assert res["tests"]["final_birth"].p == pytest.approx(expected.p)
    assert "final_birth, decay 0.5 vs no decay: Mann-Whitney" in res["summary"]
    assert (tmp_path / "s" / "plots" / "age_decay.png").stat().st_size > 10_000
    journals = sorted((tmp_path / "s").glob("decay_*/seed_*/journal.jsonl"))
    before = [p.read_text() for p in journals]
    again = run_study(parse_study_config(data, where=tmp_path), tmp_path / "s")
    assert [p.read_text() for p in journals] == before  # read, not rerun
    assert again["tests"]["final_birth"].statistic == expected.statistic
