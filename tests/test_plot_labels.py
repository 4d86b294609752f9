"""Run plots name the run and the fitness; best so far against wall-clock and device hours
(deap_nas/analysis/plots.py, time_axes.py), checked on the returned matplotlib figures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from deap_nas.analysis.plots import (
    best_so_far_by_time,
    fitness_label,
    plot_accuracy_vs_params,
    plot_best_so_far,
    plot_best_so_far_time,
    plot_fitness,
    run_title,
)
from deap_nas.analysis.report import load_run
from deap_nas.cli import main
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.journal import append_journal, write_json, write_logbook_csv

from .test_tensorboard_log import CONFIG

CREATED = "2025-01-01T00:00:00+00:00"


def _rec(eid: int, acc: float | None, seconds: float, minute: int | None, **more: Any) -> dict[str, Any]:
    status = "ok" if acc is not None else "invalid"
    return {"eval_id": eid, "generation": 1, "arch_hash": f"h{eid}", "status": status, "accuracy": acc,
            "fitness": [acc if acc is not None else 0.0], "params": 1000 * (eid + 1), "cached": False,
            "time_total": seconds, "repeat": 0, "role": "repeat",
            **({"finished": f"2025-01-01T00:{minute:02d}:00+00:00"} if minute is not None else {}), **more}


JOURNAL = [_rec(0, 0.5, 360.0, 6), _rec(1, None, 0.0, None), _rec(2, 0.7, 720.0, 18),
           _rec(3, 0.7, 0.0, 18, cached=True), _rec(4, 0.6, 360.0, 24), _rec(5, 0.9, 360.0, 30, generation=-1)]


@pytest.fixture
def run_dir(tmp_path) -> Path:
    d = tmp_path / "ga-run-1"
    d.mkdir()
    (d / "config.yaml").write_text(parse_config({**CONFIG, "training": {"score": "last"}}).to_yaml())
    write_json(d / "run.json", {"status": "finished", "created": CREATED, "stop_reason": "done",
                                "usage": {"evaluations": 5, "seconds": 1800.0, "device_seconds": 1440.0}})
    for rec in JOURNAL:
        append_journal(d / "journal.jsonl", rec)
    write_logbook_csv(d / "logbook.csv", [{"gen": 1, "best": 0.7, "mean": 0.6, "std": 0.1, "worst": 0.5}])
    return d


def test_title_and_fitness_label_come_from_the_run(run_dir) -> None:
    run = load_run(run_dir)
    assert run_title(run) == "ga-run-1: simple_ga on fashion_mnist_mini"
    assert fitness_label(run.config) == "validation accuracy (fitness, last epoch)"
    assert fitness_label({}) == "validation accuracy (fitness, best epoch)"


def test_the_axes_say_which_run_and_what_the_fitness_is(run_dir) -> None:
    run = load_run(run_dir)
    name, fit = run_title(run), fitness_label(run.config)
    figures = [plot_fitness(run.logbook, None, name, fit), plot_accuracy_vs_params(run.journal, None, name, fit),
               plot_best_so_far([("ga", run.journal)], None, run_name=name, fitness=fit),
               plot_best_so_far_time(run.journal, run.run, None, name, fit)]  # fmt: skip
    for fig in figures:
        titled = [ax for ax in fig.axes if ax.get_title()]
        assert titled and all(name in ax.get_title() for ax in titled)
        assert any(fit in ax.get_ylabel() for ax in fig.axes)
    wall, device = plot_best_so_far_time(run.journal, run.run, None, name, fit).axes
    assert "wall-clock hours" in wall.get_xlabel() and "device hours" in device.get_xlabel()
    assert figures[2].axes[0].get_xlabel() == "evaluations"


def test_best_so_far_against_wall_clock_and_device_hours(run_dir) -> None:
    curves = best_so_far_by_time(JOURNAL, {"created": CREATED, "usage": {"seconds": 1800.0}})
    # generation -1 (a final-selection re-evaluation) left out; the invalid record keeps the time before it
    assert curves["best"] == [0.5, 0.5, 0.7, 0.7, 0.7]
    assert curves["wall_hours"] == pytest.approx([0.1, 0.1, 0.3, 0.3, 0.4])
    assert curves["device_hours"] == pytest.approx([0.1, 0.1, 0.3, 0.3, 0.4])  # the cache hit adds nothing
    assert curves["paused"] is False
    paused = best_so_far_by_time(JOURNAL, {"created": CREATED, "usage": {"seconds": 600.0}})
    assert paused["paused"] is True
    bare = best_so_far_by_time(JOURNAL, {})
    assert bare["wall_hours"] is None and not math.isnan(bare["best"][0])
    wall, _ = plot_best_so_far_time(JOURNAL, {}, None).axes
    assert wall.texts and "no finished times" in wall.texts[0].get_text()


def test_report_writes_the_time_plots(run_dir, capsys) -> None:
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    for name in ("fitness", "accuracy_vs_params", "best_so_far", "best_so_far_time"):
        path = run_dir / "plots" / f"{name}.png"
        assert path.is_file() and path.read_bytes()[:4] == b"\x89PNG" and f"plot: {path}" in out


def test_wall_clock_axis_is_monotone_with_cache_hits():
    """A cache hit's record carries the ``finished`` time of the training it reuses (an
    earlier time); the wall-clock axis takes the time of the record before it instead."""
    from deap_nas.analysis.time_axes import finished_seconds, timestamp

    created = timestamp("2026-01-01T00:00:00+00:00")
    journal = [{"eval_id": 0, "finished": "2026-01-01T00:00:10+00:00"},
               {"eval_id": 1, "finished": "2026-01-01T00:00:20+00:00"},
               {"eval_id": 2, "finished": "2026-01-01T00:00:10+00:00", "cached": True},
               {"eval_id": 3, "finished": "2026-01-01T00:00:30+00:00"}]
    assert finished_seconds(journal, created) == [10.0, 20.0, 20.0, 30.0]
