"""Helpers shared by the tests that drive whole runs in subprocesses and compare run dirs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from deap_nas.runtime.rundir import RunDir

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def cli(*args: Any, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """``python -m deap_nas.cli ARGS`` in ``cwd``, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "deap_nas.cli", *map(str, args)],
        cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def check(r: subprocess.CompletedProcess, rc: int = 0) -> None:
    assert r.returncode == rc, (
        f"{' '.join(map(str, r.args))}\nexit code {r.returncode}, expected {rc}\n"
        f"--- stdout:\n{r.stdout[-3000:]}\n--- stderr:\n{r.stderr[-6000:]}"
    )


def journal_lines(run: Path) -> list[str]:
    """Complete journal lines (with their newline), in file order."""
    text = (run / "journal.jsonl").read_text()
    return text[: text.rfind("\n") + 1].splitlines(keepends=True)


def journal(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal_lines(run)]


def triples(records: list[dict[str, Any]]) -> list[tuple[int, str, tuple[float, ...]]]:
    return sorted((r["eval_id"], r["arch_hash"], tuple(r["fitness"] or ())) for r in records)


def snapshot(run: Path, generation: int | None = None) -> dict[str, Any]:
    files = RunDir(run).snapshot_files()
    assert files, f"{run} has no snapshot"
    path = files[-1] if generation is None else run / "snapshots" / f"gen_{generation:06d}.json"
    return json.loads(path.read_text())


SLOW_ENV = "DEAP_NAS_TEST_SLOW"  # seconds each evaluation of slow_trainer sleeps (unset: none)
SLOW = "tests.run_helpers:slow_trainer"


def slow_trainer(task: Any) -> dict[str, Any]:
    """``deap_nas.testing.fake_trainer``, after sleeping ``$DEAP_NAS_TEST_SLOW`` seconds:
    a search slow enough to be signalled mid-run, with the fake trainer's results."""
    import time

    from deap_nas.testing import fake_trainer

    time.sleep(float(os.environ.get(SLOW_ENV) or 0))
    return fake_trainer(task)


def usage_error(capsys, argv: list[str]) -> str:
    """Run ``argv``, expect exit code 2 and one line on stderr; return that line."""
    from deap_nas.cli import main

    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deap-nas: error: "), err
    return lines[0]


def sga_sequential_config(evaluation: dict[str, Any], evaluations: int, **output: Any) -> dict[str, Any]:
    """The small run config several fault and logging tests share: simple_ga on the
    sequential space with the embedded data, serial, one thread, no plots or progress;
    ``evaluation`` (the trainer), the evaluation budget and extra ``output`` keys vary."""
    return {
        "seed": 0,
        "data": {"name": "fashion_mnist_mini"},
        "space": {"name": "sequential", "min_depth": 2, "max_depth": 5, "stem_channels": 16, "max_channels": 64,
                  "head": "concat_pool"},
        "algorithm": {"name": "simple_ga", "population_size": 4, "tournament_size": 2, "elites": 1, "mutpb": 1.0},
        "operators": {"mutate": {"name": "mut_sequential"}, "mate": {"name": "cx_one_point"}},
        "training": {"epochs": 1, "batch_size": 32},
        "evaluation": dict(evaluation),
        "budget": {"evaluations": evaluations},
        "parallel": {"backend": "serial", "threads": 1},
        "output": {"plots": False, "progress": False, **output},
    }
