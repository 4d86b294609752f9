"""output.tensorboard: event files of a run (deap_nas/runtime/tensorboard_log.py), read
back with TensorBoard's EventAccumulator; searches use the fake trainer. The tests that
write events skip where the tensorboard extra is missing; the missing-package error is
tested everywhere (absence simulated)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deap_nas.runtime.config import parse_config
from deap_nas.runtime.search import resume_run, start_run
from deap_nas.runtime.tensorboard_log import INSTALL_HINT, purge_steps

from .run_helpers import journal, sga_sequential_config, snapshot, usage_error

CONFIG: dict[str, Any] = sga_sequential_config({"trainer": "deap_nas.testing:fake_trainer"}, 12, tensorboard=True)
COMPARED = ("evaluation/fitness", "evaluation/accuracy", "evaluation/params", "best/accuracy",
            "generation/best", "generation/mean", "generation/nevals")  # fmt: skip


def test_missing_package_is_one_line_error_before_anything_is_written(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    line = usage_error(capsys, ["run", str(tmp_path / "c.yaml"), "--run-dir", str(tmp_path / "run")])
    assert line == f"deap-nas: error: {INSTALL_HINT}"
    assert not (tmp_path / "run").exists()


def test_the_option_is_off_by_default_and_left_out_of_older_configs() -> None:
    off = parse_config({**CONFIG, "output": {"plots": False}})
    assert off.output.tensorboard is False and "tensorboard" not in off.to_dict()["output"]
    assert parse_config(CONFIG).to_dict()["output"]["tensorboard"] is True
    assert off.fingerprint() == parse_config(CONFIG).fingerprint()


def test_purge_steps_start_at_the_snapshot() -> None:
    assert purge_steps(None) == (0, 0)
    snap = {"next_eval_id": 9, "logbook": [{"gen": 1}, {"gen": 2}], "algorithm": {"in_flight_ids": [[7], [8]]}}
    assert purge_steps(snap) == (7, 2)


# ---------------------------------------------------------------------- events (the extra installed)
def _events(run_dir: Path) -> dict[str, Any]:
    """{tag: [(step, value)]} of scalars and {tag: [steps]} of images, both writers."""
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    scalars: dict[str, list[tuple[int, float]]] = {}
    images: dict[str, list[int]] = {}
    for name in ("evaluations", "generations"):
        ea = ea_mod.EventAccumulator(str(run_dir / "tensorboard" / name), size_guidance={"scalars": 0, "images": 0})
        ea.Reload()
        for tag in ea.Tags()["scalars"]:
            scalars[tag] = [(e.step, e.value) for e in ea.Scalars(tag)]
        for tag in ea.Tags()["images"]:
            images[tag] = [e.step for e in ea.Images(tag)]
    return {"scalars": scalars, "images": images}


def _close(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> bool:
    """Same steps, values equal to float32 precision (events store float32)."""
    got, want = sorted(got), sorted(want)
    return [s for s, _ in got] == [s for s, _ in want] and \
        [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    pytest.importorskip("tensorboard")
    d = tmp_path_factory.mktemp("tb") / "reference"
    start_run(parse_config(CONFIG), d)
    return d


def test_events_mirror_the_journal_and_the_logbook(reference) -> None:
    ev = _events(reference)
    s, records = ev["scalars"], journal(reference)
    assert _close(s["evaluation/fitness"], [(r["eval_id"], r["fitness"][0]) for r in records])
    assert [step for step, _ in s["evaluation/params"]] == [r["eval_id"] for r in records]
    best, improved = -1.0, []
    for r in sorted(records, key=lambda r: r["eval_id"]):  # serial: completion order is id order
        if r["status"] == "ok" and r["accuracy"] > best:
            best = r["accuracy"]
            improved.append((r["eval_id"], best))
    assert _close(s["best/accuracy"], improved)
    assert ev["images"]["best/architecture"] == [i for i, _ in improved]
    logbook = snapshot(reference)["logbook"]
    assert _close(s["generation/best"], [(row["gen"], row["best"]) for row in logbook])
    assert s["usage/evaluations"][-1] == (logbook[-1]["gen"], 12.0)
    front = ev["images"]["front/accuracy_vs_params"]
    assert front and set(front) <= {row["gen"] for row in logbook}


def test_resume_shows_every_step_once(reference, tmp_path, monkeypatch) -> None:
    import deap_nas.testing

    real, n = deap_nas.testing.fake_trainer, []

    def interrupted(task: Any) -> dict[str, Any]:
        n.append(1)
        if len(n) == 7:  # mid-generation: evaluations journaled after the snapshot
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(deap_nas.testing, "fake_trainer", interrupted)
    d = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        start_run(parse_config(CONFIG), d)
    assert snapshot(d)["next_eval_id"] <= max(r["eval_id"] for r in journal(d))  # one after the snapshot
    monkeypatch.setattr(deap_nas.testing, "fake_trainer", real)
    resume_run(d)
    got, want = _events(d), _events(reference)
    for tag in COMPARED:
        steps = [step for step, _ in got["scalars"][tag]]
        assert len(steps) == len(set(steps)), f"{tag}: a step shown twice: {steps}"
        assert _close(got["scalars"][tag], want["scalars"][tag]), tag
    assert got["images"]["best/architecture"] == want["images"]["best/architecture"]


def test_switched_on_at_a_resume_logs_the_whole_run(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    d = tmp_path / "run"
    start_run(parse_config({**CONFIG, "output": {**CONFIG["output"], "tensorboard": False},
                            "budget": {"evaluations": 8}}), d)  # fmt: skip
    assert not (d / "tensorboard").exists()
    resume_run(d, ["output.tensorboard=true", "budget.evaluations=12"])
    s = _events(d)["scalars"]
    assert sorted(step for step, _ in s["evaluation/fitness"]) == sorted(r["eval_id"] for r in journal(d))
    assert [step for step, _ in s["generation/best"]] == [row["gen"] for row in snapshot(d)["logbook"]]
