"""Integration tests of the search runtime across processes: kill -9 and resume, SCOOP and
process-pool evaluation against a serial run, damaged snapshots, refused config changes.

Every search runs as a subprocess (``python -m deap_nas.cli``, the ``deap-nas`` entry
point) on a tiny config: fashion_mnist_mini at 30 images per class, one epoch, a
population of 4 in a simple GA whose crossover and mutation draw from the RNG stream, so
a resumed run only matches when the RNG states and the evaluation ids are restored
exactly. Evaluations take 0.1-0.8 s each; the whole file runs in about a minute on two
CPU cores.

One uninterrupted serial run (``reference``, module scope) is the yardstick: search
decisions and training seeds are deterministic, so every other way of reaching the same
budget must give the same journal (eval_id, arch_hash, fitness) and the same final
population, hall of fame and logbook, bit for bit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from deap_nas.runtime.rundir import RunDir

from .run_helpers import ENV, check, cli, journal, journal_lines, snapshot, triples

REPO = Path(__file__).resolve().parents[1]
BUDGET = 16

CONFIG: dict[str, Any] = {
    "seed": 0,
    "data": {"name": "fashion_mnist_mini", "train_subset": 30},
    "space": {"name": "sequential", "min_depth": 1, "max_depth": 3, "stem_channels": 16, "max_channels": 32},
    # mutpb 1: most offspring are new architectures, so most generations train several
    "algorithm": {"name": "simple_ga", "population_size": 4, "tournament_size": 2, "elites": 1, "mutpb": 1.0},
    "operators": {"mutate": {"name": "mut_sequential"}, "mate": {"name": "cx_one_point"}},
    "training": {"epochs": 1, "batch_size": 32},
    "budget": {"evaluations": BUDGET},
    "parallel": {"threads": 1},
    "output": {"plots": False, "progress": True, "keep_snapshots": 10},
}


# ---------------------------------------------------------------------- helpers












def search_state(snap: dict[str, Any]) -> str:
    """What must be bit-identical between equivalent runs (JSON text: floats exact)."""
    keys = ("generation", "next_eval_id", "population", "hall_of_fame", "logbook", "evaluator")
    return json.dumps({k: snap[k] for k in keys}, sort_keys=True, indent=1)


def meta(run: Path) -> dict[str, Any]:
    return json.loads((run / "run.json").read_text())


def trained_ids(output: str) -> list[int]:
    """Evaluation ids a run trained, from its progress lines ("    eval   12 <hash> acc ...")."""
    return [int(m) for m in re.findall(r"^\s+eval\s+(\d+) ", output, re.M)]


def assert_ids_once(records: list[dict[str, Any]], where: str) -> None:
    twice = sorted(i for i, n in Counter(r["eval_id"] for r in records).items() if n > 1)
    assert not twice, f"{where}: eval_ids journaled more than once: {twice}"


def assert_same_search(run: Path, ref: Path, generation: int | None = None) -> None:
    """Same journal triples and the same final search state as the reference run (up to
    ``generation`` of it)."""
    got, want = journal(run), journal(ref)
    assert_ids_once(got, str(run))
    if generation is not None:
        want = [r for r in want if r["generation"] <= generation]
    assert triples(got) == triples(want)
    assert search_state(snapshot(run)) == search_state(snapshot(ref, generation))


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# ---------------------------------------------------------------------- the reference run
@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("resume")
    (d / "tiny.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    return d


@pytest.fixture(scope="module")
def reference(workdir) -> Path:
    """The uninterrupted serial run, directory A."""
    r = cli("run", "tiny.yaml", "--run-dir", "A", cwd=workdir)
    check(r)
    run = workdir / "A"
    m = meta(run)
    assert m["status"] == "finished" and m["usage"]["evaluations"] >= BUDGET
    records = journal(run)
    assert_ids_once(records, "reference")
    assert sorted(r["eval_id"] for r in records) == list(range(m["usage"]["evaluations"]))
    assert len({r["generation"] for r in records}) >= 4, "too few generations to test a resume"
    return run


# ---------------------------------------------------------------------- 1. kill -9 and resume
def kill_point(records: list[dict[str, Any]], after: str) -> tuple[int, int]:
    """(eval_id, generation): a journal record of generation >= 2 after which the same
    generation still trains, so a kill there lands mid-generation. ``after`` is
    ``"trained"`` (a finished training the resume must not repeat) or ``"cached"`` (a
    fitness-cache hit, journaled before the generation trains). The longest remaining
    training time in that generation is chosen: the widest window for the kill."""
    by_gen: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in records:  # journal order = order of finishing
        by_gen[r["generation"]].append(r)
    best: tuple[float, int, int] | None = None
    for gen, recs in by_gen.items():
        if gen < 2:
            continue
        for i, r in enumerate(recs):
            if bool(r["cached"]) != (after == "cached"):
                continue
            window = sum(x["time_total"] for x in recs[i + 1 :] if not x["cached"])
            if window > 0 and (best is None or window > best[0]):
                best = (window, r["eval_id"], gen)
    assert best is not None, f"the reference run has no generation >= 2 with a {after} record before a training"
    return best[1], best[2]


def run_and_kill(workdir: Path, name: str, eval_id: int, generation: int) -> tuple[Path, list[str]] | None:
    """Start a run, SIGKILL it as soon as ``eval_id`` is in its journal; return the run
    directory and its journal lines at the kill, or None when the kill came too late
    (generation ``generation`` already snapshotted: the machine stalled the poller)."""
    run = workdir / name
    proc = subprocess.Popen(
        [sys.executable, "-m", "deap_nas.cli", "run", "tiny.yaml", "--run-dir", name],
        cwd=workdir, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    path = run / "journal.jsonl"
    deadline = time.monotonic() + 120
    try:
        while True:
            if path.exists() and any(json.loads(x)["eval_id"] == eval_id for x in journal_lines(run)):
                os.kill(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"eval {eval_id} not journaled within 120 s:\n{proc.communicate()[1][-4000:]}")
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            proc.kill()
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        return None  # it finished before the poller saw eval_id
    assert proc.returncode == -signal.SIGKILL, f"the run was not killed (exit {proc.returncode}):\n{err[-4000:]}"
    lines = journal_lines(run)
    done = max((int(p.name[4:10]) for p in RunDir(run).snapshot_files()), default=0)
    if done >= generation:
        return None
    return run, lines


@pytest.mark.parametrize("after", ["trained", "cached"])
def test_kill_9_mid_generation_then_resume_equals_uninterrupted_run(workdir, reference, after):
    eval_id, generation = kill_point(journal(reference), after)
    for attempt in range(3):
        killed = run_and_kill(workdir, f"B-{after}-{attempt}", eval_id, generation)
        if killed is not None:
            break
    else:
        pytest.fail(f"three kills after eval {eval_id} all came after generation {generation} was snapshotted")
    run, before = killed

    # it really died mid-run, mid-generation, with evaluations after its last snapshot
    assert meta(run)["status"] == "running" and meta(run)["stop_reason"] is None
    snap = RunDir(run).latest_snapshot()
    assert snap is not None and snap[0]["generation"] == generation - 1
    ids_before = [json.loads(x)["eval_id"] for x in before]
    after_snapshot = [i for i in ids_before if i >= snap[0]["next_eval_id"]]
    assert eval_id in after_snapshot
    weights_before = {p.name: p.stat().st_mtime_ns for p in (run / "weights").glob("*.pt")}

    r = cli("resume", run.name, cwd=workdir)
    check(r)
    assert f"from generation {generation - 1} (gen_{generation - 1:06d}.json); {len(before)} journal records" in r.stderr

    # nothing that finished before the kill was trained again, or journaled again
    assert not set(trained_ids(r.stderr)) & set(ids_before), r.stderr
    lines = journal_lines(run)
    assert lines[: len(before)] == before  # not rewritten: same text, same `finished` times
    assert {p.name: p.stat().st_mtime_ns for p in (run / "weights").glob("*.pt") if p.name in weights_before} == weights_before
    records = [json.loads(x) for x in lines]
    assert_ids_once(records, "resumed run")
    assert {x["eval_id"] for x in records} == {x["eval_id"] for x in journal(reference)}

    # the same search, bit for bit
    assert_same_search(run, reference)
    assert meta(run)["status"] == "finished"
    assert meta(run)["stop_reason"] == meta(reference)["stop_reason"]
    assert meta(run)["usage"]["evaluations"] == meta(reference)["usage"]["evaluations"]
    summary = json.loads((run / "best" / "summary.json").read_text())
    assert summary == json.loads((reference / "best" / "summary.json").read_text())
    assert [m["arch_hash"] for m in summary["models"]]


# ---------------------------------------------------------------------- 2. SCOOP
def test_scoop_gives_the_fitnesses_and_hall_of_fame_of_a_serial_run(workdir, reference):
    r = subprocess.run(
        [sys.executable, "-m", "scoop", "-n", "2", str(REPO / "experiments" / "run.py"), "tiny.yaml", "--run-dir", "S"],
        cwd=workdir, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    check(r)
    assert "SystemExit" not in r.stderr and "Traceback" not in r.stderr, r.stderr[-4000:]
    assert re.search(r"^run S: .* scoop evaluation, 1 torch thread per worker \(parallel.threads\)$", r.stderr, re.M), r.stderr[-4000:]
    run = workdir / "S"
    assert meta(run)["status"] == "finished"
    assert_same_search(run, reference)
    assert snapshot(run)["hall_of_fame"] == snapshot(reference)["hall_of_fame"]
    summary = json.loads((run / "best" / "summary.json").read_text())
    assert summary == json.loads((reference / "best" / "summary.json").read_text())


# ---------------------------------------------------------------------- 3. damaged snapshots
def test_truncated_newest_snapshot_resumes_from_the_previous_one(workdir, reference):
    run = copy_run(reference, workdir / "C")
    files = RunDir(run).snapshot_files()
    newest, previous = files[-1], files[-2]
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])

    warnings: list[str] = []
    found = RunDir(run).latest_snapshot(warn=warnings.append)
    assert found is not None and found[1] == previous
    assert len(warnings) == 1 and newest.name in warnings[0], warnings

    old_lines = journal_lines(run)
    r = cli("resume", "C", "--set", "budget.evaluations=20", cwd=workdir)
    check(r)
    assert f"snapshot {newest.name} is damaged" in r.stderr
    assert f"from generation {found[0]['generation']} ({previous.name})" in r.stderr
    # the generation after the snapshot came back from the journal: nothing trained twice
    assert min(trained_ids(r.stderr), default=len(old_lines)) >= len(old_lines), r.stderr
    lines = journal_lines(run)
    assert lines[: len(old_lines)] == old_lines
    records = [json.loads(x) for x in lines]
    assert_ids_once(records, "resumed run")
    m = meta(run)
    assert m["status"] == "finished" and m["usage"]["evaluations"] >= 20
    assert m["stop_reason"].startswith("evaluation budget reached") and m["stop_reason"].endswith(">= 20)")
    assert sorted(x["eval_id"] for x in records) == list(range(m["usage"]["evaluations"]))
    # the regenerated generation is the reference's one again
    gen = int(newest.name[4:10])
    assert search_state(snapshot(run, gen)) == search_state(snapshot(reference, gen))


def test_garbage_only_snapshot_resumes_from_the_start_reusing_the_journal(workdir, reference):
    run = copy_run(reference, workdir / "G")
    files = RunDir(run).snapshot_files()
    for f in files[:-1]:
        f.unlink()
    files[-1].write_text('{"format": "deap_nas.snapshot/1", "generation": 5, "population": [')

    warnings: list[str] = []
    assert RunDir(run).latest_snapshot(warn=warnings.append) is None
    assert len(warnings) == 1 and files[-1].name in warnings[0], warnings

    before = (run / "journal.jsonl").read_bytes()
    r = cli("resume", "G", cwd=workdir)
    check(r)
    assert "from the start (no snapshot yet)" in r.stderr
    assert trained_ids(r.stderr) == [], r.stderr  # every evaluation came from the journal
    assert (run / "journal.jsonl").read_bytes() == before
    assert_same_search(run, reference)
    assert meta(run)["status"] == "finished"


# ---------------------------------------------------------------------- 4. config changes
def test_resume_refuses_a_changed_config_but_accepts_a_new_budget(workdir, reference):
    run = copy_run(reference, workdir / "D")
    config_before = (run / "config.yaml").read_text()
    journal_before = (run / "journal.jsonl").read_bytes()

    r = cli("resume", "D", "--set", "training.epochs=2", cwd=workdir)
    check(r, rc=2)
    assert "differs" in r.stderr and "--force" in r.stderr, r.stderr
    assert (run / "config.yaml").read_text() == config_before
    assert (run / "journal.jsonl").read_bytes() == journal_before
    assert meta(run)["fingerprint"] == meta(reference)["fingerprint"]

    r = cli("resume", "D", "--set", f"budget.evaluations={BUDGET + 1}", cwd=workdir)
    check(r)
    assert yaml.safe_load((run / "config.yaml").read_text())["budget"]["evaluations"] == BUDGET + 1
    m = meta(run)
    assert m["status"] == "finished" and m["usage"]["evaluations"] >= BUDGET + 1
    assert m["stop_reason"].endswith(f">= {BUDGET + 1})")
    records = journal(run)
    assert_ids_once(records, "resumed run")
    assert (run / "journal.jsonl").read_bytes().startswith(journal_before)


# ---------------------------------------------------------------------- 5. process pool
def test_process_pool_gives_the_fitnesses_of_a_serial_run(workdir, reference):
    r = cli(
        "run", "tiny.yaml", "--run-dir", "P",
        "--set", "parallel.backend=process", "--set", "parallel.workers=2", "--set", "budget.evaluations=8",
        cwd=workdir,
    )  # fmt: skip
    check(r)
    assert re.search(r"^run P: .* process pool x2 evaluation, 1 torch thread per worker \(parallel.threads\)$", r.stderr, re.M), r.stderr[-4000:]
    run = workdir / "P"
    m = meta(run)
    assert m["status"] == "finished" and m["usage"]["evaluations"] == 8  # the budget met exactly
    # the serial reference made the same first 8 evaluations (the last generation cut short by the
    # budget) and the same search state up to the generation before
    got = journal(run)
    assert_ids_once(got, str(run))
    assert triples(got) == [t for t in triples(journal(reference)) if t[0] < 8]
    last = m["generation"] - 1
    assert search_state(snapshot(run, last)) == search_state(snapshot(reference, last))
