"""Final selection of the macro-NAS paper (sec. 4.2): "the architecture with the best
average performance, out of the architectures sampled at least 5 times", on synthetic run
directories (``final_training.selection: search_samples``; no training involved).

A sample is a successful, non-cached training of the search itself (``generation`` >= 0);
re-evaluations of a final selection (``generation`` -1), cache hits and failed trainings
are not samples. With no architecture sampled often enough the rule falls back to the
most-sampled architectures and says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deap_nas.analysis.selection import select_search_samples
from deap_nas.runtime.config import ConfigError, parse_config
from deap_nas.runtime.journal import append_journal
from deap_nas.runtime.rundir import RunDir

from .run_helpers import check, cli


def _run(tmp_path: Path, samples: dict[str, list[Any]], extra: list[dict[str, Any]] = ()) -> Path:
    """A run directory whose journal holds, per architecture hash, one search record per
    accuracy (None: an invalid evaluation), interleaved by eval id, then ``extra``."""
    run = tmp_path / "run"
    run.mkdir(parents=True)
    RunDir(run).write_meta(status="finished")
    eid, rows = 0, []
    longest = max(len(v) for v in samples.values())
    for k in range(longest):
        for h, accs in samples.items():
            if k < len(accs):
                acc = accs[k]
                rows.append({"eval_id": eid, "generation": eid + 1, "arch_hash": h, "repeat": k, "cached": False,
                             "status": "ok" if acc is not None else "invalid", "accuracy": acc, "params": 100,
                             "genome": {"h": h}, "architecture": {"nodes": []}})
                eid += 1
    for r in [*rows, *({"eval_id": eid + i, **e} for i, e in enumerate(extra))]:
        append_journal(run / "journal.jsonl", r)
    return run


def test_best_mean_among_architectures_trained_at_least_five_times(tmp_path):
    run = _run(tmp_path, {
        "lucky": [0.95, 0.95, 0.95, 0.95],               # the best mean, but only 4 samples
        "steady": [0.90, 0.91, 0.92, 0.90, 0.92],        # 5 samples, mean 0.91
        "often": [0.93, 0.85, 0.86, 0.87, 0.88, 0.89],   # 6 samples, mean 0.88 (best single 0.93)
        "invalid": [None] * 7,                           # never trained successfully
    }, extra=[
        # not samples: a final-selection re-evaluation, a cache hit and a failed training of "lucky"
        {"generation": -1, "arch_hash": "lucky", "cached": False, "status": "ok", "accuracy": 0.95},
        {"generation": 9, "arch_hash": "steady", "cached": True, "status": "ok", "accuracy": 0.10},
        {"generation": 9, "arch_hash": "lucky", "cached": False, "status": "nan", "accuracy": None},
    ])  # fmt: skip
    logs: list[str] = []
    rows = select_search_samples(run, 5, log=logs.append)
    assert [r["arch_hash"] for r in rows] == ["steady", "often"]
    assert [r["count"] for r in rows] == [5, 6]
    assert rows[0]["mean_accuracy"] == pytest.approx(0.91) and rows[0]["rank"] == 1
    written = json.loads((run / "final" / "selection.json").read_text())
    assert written["rule"] == "search_samples" and written["threshold"] == 5 and written["fallback"] is None
    assert [r["arch_hash"] for r in written["ranking"]] == ["steady", "often"]
    assert not any("no architecture" in line for line in logs)


def test_too_few_samples_fall_back_to_the_most_sampled_with_a_message(tmp_path):
    run = _run(tmp_path, {"a": [0.80, 0.82, 0.84], "b": [0.90, 0.70, 0.86], "c": [0.99, 0.99], "d": [0.5]})
    logs: list[str] = []
    rows = select_search_samples(run, 5, log=logs.append)
    assert [r["arch_hash"] for r in rows] == ["a", "b"]  # trained 3 times; c's 0.99 twice does not count
    message = "no architecture was trained 5 times during the search (at most 3); " \
              "selecting the best mean among those trained 3 times"
    assert f"final selection: {message}" in logs
    written = json.loads((run / "final" / "selection.json").read_text())
    assert (written["threshold"], written["fallback"]) == (3, message)
    empty = _run(tmp_path / "x", {"z": [None, None]})
    with pytest.raises(ValueError, match="no successful search evaluation"):
        select_search_samples(empty, 5, log=logs.append)


def test_the_cli_and_the_config_offer_the_rule(tmp_path):
    run = _run(tmp_path, {"a": [0.8] * 5, "b": [0.9] * 4})
    r = cli("select", run, "--k", "5", "--rule", "search_samples", cwd=tmp_path)
    check(r)
    assert "at least 5 times" in r.stdout and " a " in r.stdout and " b " not in r.stdout
    base = {"algorithm": {"name": "random_search"}, "budget": {"evaluations": 5}}
    assert parse_config({**base, "final_training": {"selection": "search_samples"}}).final_training.selection \
        == "search_samples"
    assert parse_config(base).final_training.selection == "reevaluate"
    with pytest.raises(ConfigError, match="final_training.selection: must be 'reevaluate' or 'search_samples'"):
        parse_config({**base, "final_training": {"selection": "sampled"}})


def test_the_paper_config_selects_by_search_samples():
    import yaml

    root = Path(__file__).resolve().parents[1] / "experiments" / "configs"
    for name in ("regevo_fashion_mnist.yaml", "regevo_random_fashion_mnist.yaml"):
        ft = parse_config(yaml.safe_load((root / name).read_text())).final_training
        assert (ft.selection, ft.min_evaluations) == ("search_samples", 5), name
