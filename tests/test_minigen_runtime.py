"""MiniGen through the runtime (subprocesses, fashion_mnist_mini frozen in a mini file):
a run resumed with a larger budget equals an uninterrupted one (birth generations and
accuracy histories survive the snapshot); the found networks go to train-final, whose
table is sorted by accuracy-to-parameter ratio (Table III)."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .run_helpers import check, cli, snapshot

CONFIG: dict[str, Any] = {
    "seed": 0,
    "data": {"name": "fashion_mnist_mini", "train_subset": 5, "val_per_class": 5, "mini_file": "mini.npz"},
    "space": {"name": "minigen", "channels": [4, 6], "input_channels": [4, 6], "input_shape": [1, 28, 28],
              "keep_resolution": False, "max_actions": 3},
    "algorithm": {"name": "minigen", "population_size": 4, "elite": 2, "generations_per_round": 1,
                  "restart_threshold": 0.0, "target_accuracy": 0.99, "n_found": 2},
    "operators": {"mate": {"name": "cx_cells"}, "mutate": {"name": "mut_minigen"}},
    "training": {"epochs": 1, "batch_size": 25, "optimizer": "adam", "lr": 0.01, "schedule": "none",
                 "deterministic": True, "score": "last", "drop_last": False},
    "evaluation": {"save_weights": False},
    "final_training": {"source": "found", "top_k": 2, "candidates": 2, "sort": "ratio", "train_subset": 5,
                       "training": {"epochs": 1, "batch_size": 25}},
    "budget": {"generations": 3},
    "parallel": {"threads": 1},
    "output": {"plots": False, "progress": True, "keep_snapshots": 10},
}


def search_state(snap: dict[str, Any]) -> str:
    keys = ("generation", "next_eval_id", "population", "hall_of_fame", "logbook", "evaluator", "algorithm")
    return json.dumps({k: snap[k] for k in keys}, sort_keys=True)


def test_in_process_run_freezes_the_mini_set_and_logs_birth_generations(tmp_path: Path, monkeypatch):
    import torch

    from deap_nas.runtime.config import parse_config
    from deap_nas.runtime.search import start_run

    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    config = copy.deepcopy(CONFIG)
    config["budget"]["generations"] = 1
    config["algorithm"].update(population_size=3, elite=1)
    config["output"]["progress"] = False
    try:
        out = start_run(parse_config(config), tmp_path / "run")
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "mini.npz").is_file()
    rows = list(out.state.logbook)
    assert [r["gen"] for r in rows] == [0, 1] and all("best_birth" in r for r in rows)
    assert sorted(ind.birth for ind in out.state.population) == [0, 1, 1]
    journal = [json.loads(x) for x in (tmp_path / "run" / "journal.jsonl").read_text().splitlines()]
    assert len(journal) == 5 and all(r["status"] == "ok" for r in journal)


def test_fig_3_plot_of_the_best_networks_birth_generation(tmp_path: Path):
    from deap_nas.analysis.plots import plot_best_generation

    rows = [{"gen": g, "best": 0.2 + 0.01 * g, "best_birth": g // 2} for g in range(6)]
    plot_best_generation(rows, tmp_path / "a.png")
    plot_best_generation([{"gen": 0, "best": 0.1}], tmp_path / "empty.png")  # no best_birth: a note
    for name in ("a.png", "empty.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_resume_equals_an_uninterrupted_run(tmp_path: Path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    check(cli("run", "c.yaml", "--run-dir", "full", cwd=tmp_path, timeout=300))
    assert (tmp_path / "mini.npz").is_file()  # drawn once, reused by the next runs
    check(cli("run", "c.yaml", "--run-dir", "part", "--set", "budget.generations=1", cwd=tmp_path, timeout=300))
    check(cli("resume", "part", "--set", "budget.generations=3", cwd=tmp_path, timeout=300))
    full, part = snapshot(tmp_path / "full"), snapshot(tmp_path / "part")
    assert full["generation"] == 3
    assert search_state(part) == search_state(full)
    rows = full["logbook"]
    assert [(r["round"], r["round_gen"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert rows[2]["restart"] == "kept" and all("best_birth" in r for r in rows)
    assert all(len(x["acc_history"]) == 1 and "birth" in x for x in full["population"])


@pytest.mark.slow
def test_found_networks_are_trained_and_sorted_by_ratio(tmp_path: Path):
    config = copy.deepcopy(CONFIG)
    config["algorithm"]["target_accuracy"] = 0.0
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    r = cli("run", "c.yaml", "--run-dir", "run", cwd=tmp_path, timeout=300)
    check(r)
    assert "MiniGen: " in r.stdout
    found = snapshot(tmp_path / "run")["algorithm"]["found"]
    assert len(found) >= 2
    r = cli("train-final", "run", "--device", "cpu", cwd=tmp_path, timeout=300)
    check(r)
    assert "acc-to-param ratio" in r.stdout
    with open(tmp_path / "run" / "final" / "table.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(x["rank"]) for x in rows) == [1, 2]
    assert [x["arch_hash"] for x in sorted(rows, key=lambda x: int(x["rank"]))] == found[:2]  # order found
    ratios = [float(x["ratio"]) for x in rows]
    assert ratios == sorted(ratios, reverse=True)
    for x in rows:
        assert float(x["ratio"]) == pytest.approx(float(x["test_acc"]) / (int(x["params"]) / 1e6))
