"""Fault injection on run directories: the lock, interruptions, damaged files, file modes.

Searches use the fake trainer (``tests.run_helpers:slow_trainer``: ``fake_trainer``, slowed
by ``$DEAP_NAS_TEST_SLOW`` seconds per evaluation only where a test sets it), so a run
takes a fraction of a second; only the signal tests start a subprocess. One uninterrupted
run (``reference``) is the yardstick for every resume.

| fault | expected outcome |
|---|---|
| `resume` while a live process (a child pid, or this process) holds run.lock | refused: one line naming host, pid and start time, exit 2; nothing written |
| `resume` while a `deap-nas run` of the directory is running | refused (RunLocked naming the run's pid) |
| `select --rule reevaluate` (appends to the journal) while the lock is held | refused (RunLocked); runs once free |
| run.lock of a dead pid on this host | removed with one log line; the resume runs and equals the uninterrupted run |
| run.lock of another host, mtime older than `STALE_AFTER_SECONDS` | removed with one log line; the resume runs |
| run.lock of another host, fresh mtime | refused, exit 2 |
| `resume --break-lock` on a held lock | the lock is taken; the resume runs |
| a run that ends normally, fails (fail_fast), is refused (changed config) or gets Ctrl-C in process | run.lock removed |
| SIGTERM to a running `deap-nas run` | exit 143; last stderr line `deap-nas: interrupted by SIGTERM; continue with: deap-nas resume RUN_DIR`; no traceback; run.json `interrupted` with time and signal; no run.lock; the resume equals the uninterrupted run |
| SIGTERM to a running `deap-nas study` | exit 143; last stderr line `deap-nas: study interrupted by SIGTERM; continue with: deap-nas study resume DIR`; study.json `interrupted`; the resume finishes every run |
| SIGINT (Ctrl-C) to a running `deap-nas run` | the same with exit 130 and SIGINT |
| newest snapshot valid JSON but not a snapshot (another format, a missing field, a malformed RNG state) | reported; the previous snapshot is used; the resume equals the uninterrupted run |
| newest snapshot passes the check but cannot be loaded | refused: one line naming its generation, exit 2 |
| garbled line in the middle of the journal (with `--set`) | refused: one line naming the file and line, exit 2; config.yaml, run.json and journal unchanged |
| journal deleted while the snapshot counts evaluations (with `--set`) | refused: one line, exit 2, config.yaml unchanged; an empty journal.jsonl resumes |
| temporary files of atomic writes left by a kill | removed on resume, with one log line |
| umask 022 / 002 | every file of the run directory (and the lock) is 0644 / 0664 |
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from deap_nas.cli import main
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.evaluator import EvaluationFailed
from deap_nas.runtime.lock import STALE_AFTER_SECONDS, RunLocked, acquire
from deap_nas.runtime.rundir import RunDir, RunDirError
from deap_nas.runtime.search import resume_run, start_run
from deap_nas.testing import calls

from .run_helpers import (
    ENV,
    SLOW,
    SLOW_ENV,
    journal,
    sga_sequential_config,
    snapshot,
    triples,
    usage_error,
)

REPO = Path(__file__).resolve().parents[1]
HOST = socket.gethostname()

CONFIG: dict[str, Any] = sga_sequential_config({"trainer": SLOW, "save_weights": True}, 18, keep_snapshots=1000)


# ---------------------------------------------------------------------- helpers
def start(run_dir: Path, **sections: dict[str, Any]) -> Path:
    config = {**CONFIG, **{k: {**CONFIG.get(k, {}), **v} for k, v in sections.items()}}
    start_run(parse_config(config), run_dir)
    return run_dir


def meta(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "run.json").read_text())


def search_state(run_dir: Path) -> str:
    snap = snapshot(run_dir)
    keys = ("generation", "next_eval_id", "population", "hall_of_fame", "logbook", "evaluator")
    return json.dumps({k: snap[k] for k in keys}, sort_keys=True)


def assert_same_run(got: Path, want: Path) -> None:
    g = journal(got)
    assert len({r["eval_id"] for r in g}) == len(g), f"{got}: an eval_id journaled twice"
    assert triples(g) == triples(journal(want))
    assert search_state(got) == search_state(want)
    assert calls(got) == calls(want), "a training was repeated (or lost)"
    assert meta(got)["status"] == "finished"




def contents(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def write_lock(run_dir: Path, host: str, pid: int, age: float = 0.0) -> Path:
    path = run_dir / "run.lock"
    path.write_text(json.dumps({"host": host, "pid": pid, "started": "2024-05-01T10:00:00+00:00",
                                "command": f"deap-nas resume {run_dir}"}) + "\n")
    if age:
        t = time.time() - age
        os.utime(path, (t, t))
    return path


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    run = start(tmp_path_factory.mktemp("faults") / "ref")
    assert meta(run)["status"] == "finished" and len(RunDir(run).snapshot_files()) >= 4
    return run


@pytest.fixture
def copy(reference, tmp_path) -> Path:
    """The finished reference run, truncated back to its third snapshot (so a resume has
    generations left to run) with the journal records after it kept."""
    run = Path(shutil.copytree(reference, tmp_path / "run"))
    for p in RunDir(run).snapshot_files()[3:]:
        p.unlink()
    meta_ = meta(run)
    meta_["status"] = "running"
    (run / "run.json").write_text(json.dumps(meta_))
    return run


# ---------------------------------------------------------------------- 1. the lock
def test_resume_is_refused_while_a_live_process_holds_the_lock(copy, capsys) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        write_lock(copy, HOST, holder.pid)
        before = contents(copy)
        line = usage_error(capsys, ["resume", str(copy), "--set", "budget.evaluations=30"])
        assert f"is locked by pid {holder.pid} on host {HOST} since 2024-05-01T10:00:00+00:00" in line
        assert "--break-lock" in line
        assert contents(copy) == before  # nothing written: config.yaml, run.json, journal, lock
    finally:
        holder.kill()
        holder.wait()


def test_a_second_resume_in_the_same_process_is_refused(copy) -> None:
    with acquire(copy) as lock:
        with pytest.raises(RunLocked, match=f"pid {os.getpid()} on host {HOST}"):
            resume_run(copy)
        assert lock.owned()
    assert not (copy / "run.lock").exists()


def test_reevaluation_is_refused_while_a_search_holds_the_lock(copy) -> None:
    from deap_nas.analysis.selection import reevaluate_candidates

    before = (copy / "journal.jsonl").read_bytes()
    with acquire(copy), pytest.raises(RunLocked):
        reevaluate_candidates(copy, 3, 2, log=lambda s: None)  # appends to the journal
    assert (copy / "journal.jsonl").read_bytes() == before
    assert len(reevaluate_candidates(copy, 3, 2, log=lambda s: None)) == 2  # unlocked: runs


def test_stale_lock_of_a_dead_process_is_recovered_with_one_line(copy, reference, capsys) -> None:
    pid = dead_pid()
    write_lock(copy, HOST, pid)
    resume_run(copy)
    err = capsys.readouterr().err.strip().splitlines()
    removed = [x for x in err if x.startswith("removed the lock")]
    assert removed == [f"removed the lock of {copy} held by pid {pid} on host {HOST} since "
                       "2024-05-01T10:00:00+00:00: that process is no longer running"], err
    assert not (copy / "run.lock").exists()
    assert_same_run(copy, reference)


def test_lock_of_another_host_is_honoured_until_its_heartbeat_is_stale(copy, reference, capsys) -> None:
    write_lock(copy, "elsewhere", 4242, age=STALE_AFTER_SECONDS / 2)
    line = usage_error(capsys, ["resume", str(copy)])
    assert "locked by pid 4242 on host elsewhere" in line
    write_lock(copy, "elsewhere", 4242, age=STALE_AFTER_SECONDS + 60)
    resume_run(copy)
    assert "held by pid 4242 on host elsewhere since 2024-05-01T10:00:00+00:00: no heartbeat for" in capsys.readouterr().err
    assert not (copy / "run.lock").exists()
    assert_same_run(copy, reference)


def test_break_lock_takes_a_held_lock(copy, reference, capsys) -> None:
    write_lock(copy, "elsewhere", 4242)
    assert main(["resume", str(copy), "--break-lock"]) == 0
    assert "held by pid 4242 on host elsewhere since 2024-05-01T10:00:00+00:00: --break-lock" in capsys.readouterr().err
    assert not (copy / "run.lock").exists()
    assert_same_run(copy, reference)


def test_lock_is_released_on_error_and_on_ctrl_c(tmp_path, copy, monkeypatch) -> None:
    with pytest.raises(RunDirError, match="differs"):  # refused resume
        resume_run(copy, ["training.epochs=3"])
    assert not (copy / "run.lock").exists()

    monkeypatch.setenv(SLOW_ENV, "not a number")  # the trainer raises: a crashed record, fail_fast stops
    with pytest.raises(EvaluationFailed):
        start(tmp_path / "failed", evaluation={"fail_fast": True})
    assert meta(tmp_path / "failed")["status"] == "failed"
    assert not (tmp_path / "failed" / "run.lock").exists()
    monkeypatch.delenv(SLOW_ENV)

    import deap_nas.testing

    real, n = deap_nas.testing.fake_trainer, []

    def interrupted(task: Any) -> dict[str, Any]:
        n.append(1)
        if len(n) == 6:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(deap_nas.testing, "fake_trainer", interrupted)
    d = tmp_path / "ctrl-c"
    with pytest.raises(KeyboardInterrupt) as info:
        start(d)
    assert info.value.run_dir == d  # type: ignore[attr-defined]
    m = meta(d)
    assert (m["status"], m["stop_reason"], m["signal"]) == ("interrupted", "interrupted by the user", "SIGINT")
    assert m["interrupted"].startswith(time.strftime("%Y-", time.gmtime()))
    assert not (d / "run.lock").exists()


# ---------------------------------------------------------------------- 2. signals
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_interrupts_cleanly_and_the_resume_is_exact(tmp_path, reference, monkeypatch, sig) -> None:
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    d = tmp_path / "sig run"  # a space: the printed command must quote it
    env = {**ENV, SLOW_ENV: "0.3", "PYTHONPATH": os.pathsep.join([str(REPO), ENV.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "deap_nas.cli", "run", "c.yaml", "--run-dir", str(d)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored as in a background job
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not ((d / "journal.jsonl").exists() and len(journal(d)) >= 6):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
            time.sleep(0.05)
        with pytest.raises(RunLocked, match=f"pid {proc.pid} on host {HOST}"):
            resume_run(d)  # a resume while the run runs
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    name = sig.name
    assert proc.returncode == 128 + sig, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == f"deap-nas: interrupted by {name}; continue with: deap-nas resume {shlex.quote(str(d))}"
    m = meta(d)
    assert (m["status"], m["signal"]) == ("interrupted", name) and m["interrupted"]
    assert not (d / "run.lock").exists()
    monkeypatch.delenv(SLOW_ENV, raising=False)
    resume_run(d)
    assert_same_run(d, reference)


# ---------------------------------------------------------------------- 3. damaged files
NOT_SNAPSHOTS = {
    "other_format": lambda s: {"generation": s["generation"], "population": []},
    "missing_field": lambda s: {k: v for k, v in s.items() if k != "hall_of_fame"},
    "bad_rng": lambda s: {**s, "rng": {**s["rng"], "numpy": [1, 2]}},
}


@pytest.mark.parametrize("damage", NOT_SNAPSHOTS)
def test_valid_json_that_is_not_a_snapshot_falls_back_to_the_previous_one(copy, reference, damage) -> None:
    files = RunDir(copy).snapshot_files()
    files[-1].write_text(json.dumps(NOT_SNAPSHOTS[damage](json.loads(files[-1].read_text()))))
    warnings: list[str] = []
    found = RunDir(copy).latest_snapshot(warn=warnings.append)
    assert found is not None and found[1] == files[-2]
    assert len(warnings) == 1 and f"snapshot {files[-1].name} is damaged (not a snapshot" in warnings[0], warnings
    resume_run(copy)
    assert_same_run(copy, reference)


def test_a_snapshot_that_cannot_be_loaded_is_refused_in_one_line(copy, capsys) -> None:
    newest = RunDir(copy).snapshot_files()[-1]
    data = json.loads(newest.read_text())
    newest.write_text(json.dumps({**data, "population": [{"genome": 7}]}))
    before = contents(copy)
    line = usage_error(capsys, ["resume", str(copy)])
    assert f"snapshot of generation {data['generation']} cannot be loaded" in line
    assert contents(copy) == before


def test_garbled_journal_line_refuses_the_resume_in_one_line(copy, capsys) -> None:
    lines = (copy / "journal.jsonl").read_text().splitlines(keepends=True)
    lines[2] = '{"eval_id": 2, "arch_hash": "x", garbled\n'
    (copy / "journal.jsonl").write_text("".join(lines))
    before = contents(copy)
    line = usage_error(capsys, ["resume", str(copy), "--set", "budget.evaluations=30"])
    assert f"{copy / 'journal.jsonl'}: line 3: corrupt journal entry" in line and "delete that line" in line
    assert contents(copy) == before  # --set not written into config.yaml; no lock left


def test_deleted_journal_is_refused_and_an_empty_one_resumes(copy, capsys) -> None:
    (copy / "journal.jsonl").unlink()
    before = contents(copy)
    line = usage_error(capsys, ["resume", str(copy), "--set", "budget.evaluations=30"])
    assert "journal.jsonl is missing but the snapshot counts" in line and "empty journal.jsonl" in line
    assert contents(copy) == before
    (copy / "journal.jsonl").touch()
    resume_run(copy)
    assert meta(copy)["status"] == "finished"


def test_stale_temporary_files_are_removed_on_resume(copy, capsys) -> None:
    stale = [copy / ".run.json.a1b2c3d4.tmp", copy / "snapshots" / ".gen_000004.json.x9y8z7.tmp",
             copy / "weights" / "000003.tmp", copy / "weights" / "000005.pt.tmp"]
    for p in stale:
        p.write_text("partial")
    resume_run(copy, ["output.progress=true"])
    assert not [p for p in stale if p.exists()]
    assert "removed 4 temporary file(s) left by a killed process" in capsys.readouterr().err


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_every_file_of_a_run_directory_follows_the_umask(tmp_path, umask) -> None:
    old = os.umask(umask)
    try:
        run = start(tmp_path / "run", budget={"evaluations": 10})
        with acquire(run):
            lock_mode = stat.S_IMODE((run / "run.lock").stat().st_mode)
        resume_run(run, ["budget.evaluations=14"])  # config.yaml rewritten, more snapshots
    finally:
        os.umask(old)
    want = 0o666 & ~umask
    modes = {str(p.relative_to(run)): oct(stat.S_IMODE(p.stat().st_mode)) for p in run.rglob("*") if p.is_file()}
    assert {"config.yaml", "run.json", "logbook.csv", "journal.jsonl"} <= set(modes)
    assert {k: v for k, v in modes.items() if v != oct(want)} == {}
    assert lock_mode == want


def test_sigterm_to_a_study_leaves_it_resumable(tmp_path) -> None:
    """`deap-nas study` under SIGTERM: exit 143, one line naming `deap-nas study resume DIR`,
    study.json `interrupted`; the resume finishes every run."""
    study = {"study": "search_vs_random", "seed": 0,
             "params": {"seeds": [0, 1], "metric": "best_val",
                        "methods": {"ga": {"run": CONFIG, "points": [{}]},
                                    "random": {"run": {**CONFIG, "algorithm": {"name": "random_search",
                                                                               "population_size": 4}},
                                               "points": [{}]}}},
             "output": {"plots": False, "progress": False}}  # fmt: skip
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(study))
    d = tmp_path / "study dir"
    env = {**ENV, SLOW_ENV: "0.3", "PYTHONPATH": os.pathsep.join([str(REPO), ENV.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "deap_nas.cli", "study", "search_vs_random", "s.yaml", "--dir", str(d)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(len(journal(r)) >= 3 for r in d.glob("ga/*") if (r / "journal.jsonl").exists()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == (
        f"deap-nas: study interrupted by SIGTERM; continue with: deap-nas study resume {shlex.quote(str(d))}")
    assert json.loads((d / "study.json").read_text())["status"] == "interrupted"
    assert main(["study", "resume", str(d)]) == 0
    assert json.loads((d / "study.json").read_text())["status"] == "finished"
    assert sorted(p.parent.parent.name for p in d.glob("*/*/run.json")) == ["ga", "ga", "random", "random"]
