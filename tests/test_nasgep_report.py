"""The printed top 5 of a NASGEP run (``deap-nas report``): an individual is trained one
epoch per generation, each epoch a ``continuation`` record of the same architecture. Its
row must show the accuracy of its latest continuation (the fitness the loop uses), one
result, not a mean over its successive epochs (issue 14, item 2)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from deap_nas.analysis.report import rank_architectures, summary_table
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.search import start_run

CONFIG = {
    "seed": 0,
    "data": {"name": "fashion_mnist_mini"},
    "space": {"name": "nasgep", "channels": 8, "cells_per_stage": 1, "random_genes": 3, "input_shape": [1, 28, 28]},
    "algorithm": {"name": "nasgep", "population_size": 3, "reduction_population": 3, "gene_pool_size": 8,
                  "gene_pool_max": 12, "genes_min": 2, "genes_max": 3, "max_epochs": 5, "max_generations": 4},
    "training": {"epochs": 1, "batch_size": 32, "max_params": 300000},
    "evaluation": {"trainer": "deap_nas.testing:fake_trainer", "cache": True, "save_weights": True},
    "budget": {"generations": 10},
    "parallel": {"backend": "serial", "threads": 1},
    "output": {"plots": False, "progress": False},
}


def test_top_5_shows_the_latest_continuation_not_a_mean_over_epochs(tmp_path: Path):
    start_run(parse_config(CONFIG), tmp_path / "run")
    records = [json.loads(x) for x in (tmp_path / "run" / "journal.jsonl").read_text().splitlines()]
    trained: dict[str, list[dict]] = {}
    for r in records:
        if r["status"] == "ok" and not r.get("cached"):
            trained.setdefault(r["arch_hash"], []).append(r)
    continued = {h: rs for h, rs in trained.items()
                 if len(rs) >= 2 and any(r["role"] == "continuation" for r in rs)}
    assert continued, "the run should train some networks for several epochs"
    rows = {row["arch_hash"]: row for row in rank_architectures(records)}
    differs = 0
    for h, rs in continued.items():
        latest = max(rs, key=lambda r: r["eval_id"])
        assert latest["role"] == "continuation"
        assert rows[h]["count"] == 1 and rows[h]["eval_ids"] == [latest["eval_id"]]
        assert rows[h]["mean_accuracy"] == latest["accuracy"]
        differs += rows[h]["mean_accuracy"] != statistics.fmean(r["accuracy"] for r in rs)
    assert differs  # the fake trainer's accuracy grows with the epochs: a mean would differ
    # the printed table: the top 5 rows carry these accuracies, n = 1
    table = summary_table(tmp_path / "run", top=5)
    top = rank_architectures(records)[:5]
    lines = [x for x in table.splitlines() if x.strip()[:1].isdigit() and "±" in x]
    assert len(lines) == len(top) == 5
    for line, row in zip(lines, top, strict=True):
        assert row["arch_hash"] in line and f"{row['mean_accuracy']:.4f} ± 0.0000" in line
        assert line.split()[-3] == "1"  # n
    # and the snapshot's population: each individual's fitness is its network's row
    snap = json.loads(sorted((tmp_path / "run" / "snapshots").glob("*.json"))[-1].read_text())
    for ind in snap["population"]:
        h = ind["result"]["arch_hash"]
        if h in continued:
            assert rows[h]["mean_accuracy"] == ind["fitness"][0]
