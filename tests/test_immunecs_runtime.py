"""ImmuNeCS through the runtime (subprocesses, fashion_mnist_mini): a serial run stopped by
its generation budget and resumed with a larger one equals an uninterrupted run, with
per-generation data resampling and weight inheritance on; then the committee command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .run_helpers import check, cli, snapshot

CONFIG: dict[str, Any] = {
    "seed": 0,
    "data": {"name": "fashion_mnist_mini", "train_subset": 10, "val_per_class": 5, "resample": True},
    "space": {"name": "immunecs_fashion", "stem_channels": 8, "max_initial_layers": 2},
    "algorithm": {"name": "immunecs", "population_size": 3, "n_clones": 1, "n_augment": 1, "n_insert": 1,
                  "patience": 1, "tau": 0.0},
    "training": {"epochs": 1, "batch_size": 32, "optimizer": "adam", "lr": 0.001},
    "evaluation": {"save_weights": True},
    "final_training": {"train_subset": 10, "top_k": 2, "candidates": 2, "training": {"epochs": 1, "batch_size": 32}},
    "budget": {"generations": 3},
    "parallel": {"threads": 1},
    "output": {"plots": False, "progress": True, "keep_snapshots": 10},
}


def search_state(snap: dict[str, Any]) -> str:
    keys = ("generation", "next_eval_id", "population", "hall_of_fame", "logbook", "evaluator", "algorithm")
    return json.dumps({k: snap[k] for k in keys}, sort_keys=True)


def test_resume_with_a_larger_budget_equals_an_uninterrupted_run_and_committee(tmp_path: Path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    check(cli("run", "c.yaml", "--run-dir", "full", cwd=tmp_path, timeout=300))
    check(cli("run", "c.yaml", "--run-dir", "part", "--set", "budget.generations=1", cwd=tmp_path, timeout=300))
    check(cli("resume", "part", "--set", "budget.generations=3", cwd=tmp_path, timeout=300))
    full, part = snapshot(tmp_path / "full"), snapshot(tmp_path / "part")
    assert full["generation"] == 3
    assert search_state(part) == search_state(full)
    records = [json.loads(line) for line in (tmp_path / "full" / "journal.jsonl").read_text().splitlines()]
    assert any(r.get("inherited") for r in records), "no child inherited its parent's weights"
    assert [r["mean_affinity"] for r in full["logbook"]]

    r = cli("committee", "full", "--epochs", "1", "--device", "cpu", cwd=tmp_path, timeout=300)
    check(r)
    assert "committee test accuracy" in r.stdout
    out = json.loads((tmp_path / "full" / "final" / "committee.json").read_text())
    assert out["committee_test_acc"] is not None and out["top_k"] == 2
    selected = full["population"][: full["algorithm"]["selected"]]  # never insertions or augmented copies
    best = sorted(selected, key=lambda p: -p["fitness"][0])[:2]
    assert out["member_affinity"] == [p["fitness"][0] for p in best]
    assert (tmp_path / "full" / "final" / "committee.pt").is_file()
