"""A whole NASGEP run through the runtime on tiny real data: continued training, weight
store, snapshots and the cell drawings."""

from __future__ import annotations

import json

import pytest

from deap_nas.analysis.nasgep_cells import draw_best_cells
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.search import start_run

CONFIG = {
    "seed": 0,
    "data": {"name": "fashion_mnist_mini", "val_per_class": 2, "train_subset": 3},
    "space": {"name": "nasgep", "channels": 2, "cells_per_stage": 1, "input_shape": [1, 28, 28],
              "random_genes": 2},
    "algorithm": {"name": "nasgep", "population_size": 2, "reduction_population": 2, "gene_pool_size": 4,
                  "gene_pool_max": 6, "genes_min": 1, "genes_max": 2, "max_epochs": 2, "max_generations": 1},
    "training": {"epochs": 1, "batch_size": 16, "lr": 0.05, "keep_best_state": True, "max_params": 300000},
    "evaluation": {"cache": False, "save_weights": True, "weight_store": True},
    "budget": {"generations": 1},
    "parallel": {"backend": "serial", "device": "cpu", "threads": 1},
    "output": {"plots": False, "progress": False},
}


@pytest.mark.slow  # ~10 s on an idle CPU, about a minute on the shared one
def test_quick_nasgep_run_continues_training_and_shares_weights(tmp_path):
    outcome = start_run(parse_config(CONFIG), tmp_path / "run")
    run = outcome.run_dir
    records = [json.loads(line) for line in (run / "journal.jsonl").read_text().splitlines()]
    assert all(r["status"] == "ok" for r in records)
    gen0 = [r for r in records if r["generation"] == 0]
    assert len(gen0) == 2 and all(r["request"]["start"]["kind"] == "scratch" for r in gen0)
    # generation 1: the two parents continue from their own last weights, every node and the head
    continued = [r for r in records if r["request"]["start"]["kind"] == "continue"]
    assert continued and all(r["role"] == "continuation" and r["request"]["start"]["until"] == 2 for r in continued)
    for r in continued:
        assert r["inherited"]["head_copied"]
        assert all(reason == "no weights" for reason in r["inherited"]["skipped"].values())
    # the weight store was filled by generation 0 and read by new children of generation 1
    assert any(r.get("store_saved", 0) > 0 for r in gen0)
    assert any(r.get("store_loaded", 0) > 0 for r in records
               if r["generation"] == 1 and r["request"]["start"]["kind"] == "scratch")
    assert list((run / "weight_store").glob("*.pt"))
    snap = json.loads(sorted((run / "snapshots").glob("*.json"))[-1].read_text())
    assert all("loop_state" in ind and "birth" in ind for ind in snap["population"])
    assert set(snap["algorithm"]["genes"]) == {"normal", "reduction"}
    paths = draw_best_cells(run)
    names = {p.name for p in paths}
    assert {"cells_rank01.txt", "normal_cell_rank01.png", "reduction_cell_rank01.dot"} <= names
    text = (run / "best" / "cells_rank01.txt").read_text()
    assert "normal:" in text and "reduction:" in text
