"""Worker faults injected into whole searches (and into the pool alone), and their outcome.

Trainers in tests/fault_trainers.py hit one evaluation id (``DEAP_NAS_FAULT_AT``) and
fake-train the rest (``deap_nas.testing.fake_trainer``).

| fault | outcome |
|---|---|
| a pool worker calls ``os._exit(139)`` (as a segfault, the OOM killer) | only its task fails (``WorkerDied``, "exit code 139"); the worker is replaced; the other worker's task and later tasks finish |
| a task sleeps past its ``timeout`` in the pool | ``TaskTimedOut``; the worker process is killed (its pid is gone) and replaced |
| a task raises in the pool | the exception comes back through its future; the pool goes on |
| a busy worker gets SIGKILL from outside (the OOM killer) | ``WorkerDied`` "killed by signal 9 (SIGKILL ...)"; the worker is replaced |
| no worker process can be started | the pool's tasks fail with "the worker pool failed: OSError ..." instead of waiting for ever |
| a process-pool worker dies during a search (random search) | that candidate is journaled ``crashed`` with the exit code; the run finishes; every other record, weight file equals the run without the fault |
| the same during a search whose decisions use fitness (simple GA) | the run equals a serial run where that candidate fails as an ordinary ``crashed`` training (messages aside) |
| a worker dies while aging evolution has two children in flight | that child is ``crashed``, the other is kept; each evaluation id is journaled once; the run finishes |
| a candidate blocks inside one call (``evaluation.hard_timeout: 3``) | ``timeout`` after ~3 s, its worker killed and replaced, the search goes on and equals the fault-free run elsewhere |
| ``evaluation.hard_timeout`` on the serial backend | a progress line says it is not enforced (the candidate runs in the main process) |
| ``evaluation.hard_timeout`` of -1, 0, "abc", true | a config error naming ``evaluation.hard_timeout`` |
| kill -9 of a 2-worker run after evaluation X+1 was journaled, X still running | the resumed run trains X+1 no more (the journal is written as evaluations finish) and equals the uninterrupted run |
| journal lines in completion order | ranking (report) and fitness-cache answers are those of request order |
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from deap_nas.analysis.report import rank_architectures
from deap_nas.runtime.cache import FitnessCache
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.evaluator import hard_limit
from deap_nas.runtime.pool import TaskTimedOut, WorkerDied, WorkerPool, _Slot
from deap_nas.runtime.schema import ConfigError
from deap_nas.runtime.search import resume_run

from . import fault_trainers as F
from .run_helpers import ENV, check, journal, triples
from .test_harness import assert_same_run, config_of, files, meta, run, search_state

REPO = Path(__file__).resolve().parents[1]
POOL = {"backend": "process", "workers": 2}
RANDOM = "random_search-sequential"


def trainer(name: str) -> str:
    return f"tests.fault_trainers:{name}"


def fault_id(ref: Path) -> int:
    """The first evaluation id X after the first generation (after a snapshot) trained
    by the reference run, with X + 1 trained in the same generation (X is not the last
    of its batch)."""
    recs = {r["eval_id"]: r for r in journal(ref)}
    trained = {i for i, r in recs.items() if r.get("fake_trainer") and not r.get("cached")}
    return min(i for i in trained if recs[i]["generation"] >= 2 and i + 1 in trained
               and recs[i + 1]["generation"] == recs[i]["generation"])


def without(records: list[dict[str, Any]], eid: int) -> list[tuple[int, str, tuple[float, ...]]]:
    return [t for t in triples(records) if t[0] != eid]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def ref_random(workdir) -> Path:
    return run(config_of(RANDOM), workdir / "ref-random")


# ---------------------------------------------------------------------- the pool alone
def test_a_dead_worker_fails_only_its_own_task_and_is_replaced():
    pool = WorkerPool(2)
    try:
        first = pool.submit(F.pid, None)
        dying, other = pool.submit(F.die, 139), pool.submit(F.sleep_then, 0.5)
        with pytest.raises(WorkerDied, match=r"exit code 139"):
            dying.result(timeout=60)
        assert other.result(timeout=60) > 0
        assert [pool.submit(F.square, i).result(timeout=60) for i in range(4)] == [0, 1, 4, 9]
        with pytest.raises(ValueError, match="boom"):
            pool.submit(F.raise_value_error, "boom").result(timeout=60)
        assert pool.submit(F.square, 5).result(timeout=60) == 25
        assert first.result() > 0
    finally:
        pool.close()


def test_a_task_past_its_timeout_is_stopped_and_its_worker_killed():
    pool = WorkerPool(1)
    try:
        worker = pool.submit(F.pid, None).result(timeout=60)
        started = time.monotonic()
        hung = pool.submit(F.sleep_then, 600, timeout=1.0)
        with pytest.raises(TaskTimedOut, match="1 s after it started"):
            hung.result(timeout=60)
        assert time.monotonic() - started < 30
        assert not pid_alive(worker)
        assert pool.submit(F.pid, None).result(timeout=60) != worker  # replaced
    finally:
        pool.close()


def test_a_worker_killed_from_outside_is_reported_with_its_signal():
    pool = WorkerPool(1)
    try:
        worker = pool.submit(F.pid, None).result(timeout=60)
        task = pool.submit(F.sleep_then, 600)
        time.sleep(0.5)
        os.kill(worker, signal.SIGKILL)  # as the out-of-memory killer does
        with pytest.raises(WorkerDied, match=r"killed by signal 9 \(SIGKILL"):
            task.result(timeout=60)
        assert pool.submit(F.square, 3).result(timeout=60) == 9
    finally:
        pool.close()


def test_a_pool_that_cannot_start_a_worker_fails_its_tasks_instead_of_hanging(monkeypatch):
    def no_process(self, ctx):
        raise OSError("out of processes")

    monkeypatch.setattr(_Slot, "start", no_process)
    pool = WorkerPool(1)
    try:
        with pytest.raises(RuntimeError, match="the worker pool failed: OSError"):
            pool.submit(F.square, 2).result(timeout=30)
    finally:
        pool.close()


# ---------------------------------------------------------------------- dead workers in a search
def test_a_dead_worker_crashes_its_candidate_and_the_search_goes_on(workdir, ref_random, monkeypatch):
    x = fault_id(ref_random)
    monkeypatch.setenv(F.AT, str(x))
    d = run(config_of(RANDOM, evaluation={"trainer": trainer("dying_trainer")}, parallel=POOL), workdir / "dead")
    got, want = journal(d), journal(ref_random)
    rec = next(r for r in got if r["eval_id"] == x)
    assert rec["status"] == "crashed" and rec["fitness"] == [0.0] and rec["weights"] is None
    assert "worker process died (exit code 139)" in rec["message"]
    assert sorted(r["eval_id"] for r in got) == sorted(r["eval_id"] for r in want)
    assert without(got, x) == without(want, x)  # random search: nothing else depends on it
    assert f"{x:06d}.pt" not in files(d, "weights")
    assert files(d, "weights") == {k: v for k, v in files(ref_random, "weights").items() if k != f"{x:06d}.pt"}
    assert meta(d)["status"] == "finished"
    assert meta(d)["usage"]["evaluations"] == meta(ref_random)["usage"]["evaluations"]


def test_a_dead_worker_is_handled_as_an_ordinary_crashed_training(workdir, monkeypatch):
    case = "simple_ga-sequential"  # selection uses fitness: the crash must count exactly as a failure
    ref_plain = run(config_of(case), workdir / "ref-ga")
    x = fault_id(ref_plain)
    monkeypatch.setenv(F.AT, str(x))
    want = run(config_of(case, evaluation={"trainer": trainer("failing_trainer")}), workdir / "ga-failing")
    got = run(config_of(case, evaluation={"trainer": trainer("dying_trainer")}, parallel=POOL), workdir / "ga-dead")
    assert triples(journal(got)) == triples(journal(want))
    messages = {"failed", next(r["message"] for r in journal(got) if r["eval_id"] == x)}
    state = [search_state(p) for p in (got, want)]
    for m in messages:
        state = [s.replace(json.dumps(m), '"<message>"') for s in state]
    assert state[0] == state[1]
    assert files(got, "weights") == files(want, "weights")


def test_a_dead_worker_with_children_in_flight_keeps_the_others(workdir, monkeypatch):
    case = "aging_evolution-neat-async"
    ref_plain = run(config_of(case), workdir / "ref-async")
    recs = journal(ref_plain)
    x = next(r["eval_id"] for r in recs if r["generation"] >= 3 and r.get("fake_trainer") and not r.get("cached"))
    monkeypatch.setenv(F.AT, str(x))
    d = run(config_of(case, evaluation={"trainer": trainer("dying_trainer")}, parallel=POOL), workdir / "async-dead")
    got = journal(d)
    ids = [r["eval_id"] for r in got]
    assert len(ids) == len(set(ids)), "an evaluation journaled twice"
    assert next(r for r in got if r["eval_id"] == x)["status"] == "crashed"
    assert meta(d)["status"] == "finished"
    assert meta(d)["usage"]["evaluations"] == meta(ref_plain)["usage"]["evaluations"]


# ---------------------------------------------------------------------- hung candidates
def test_a_hung_candidate_times_out_its_worker_is_killed_and_the_search_goes_on(workdir, ref_random, monkeypatch):
    x = fault_id(ref_random)
    monkeypatch.setenv(F.AT, str(x))
    started = time.monotonic()
    d = run(config_of(RANDOM, evaluation={"trainer": trainer("hanging_trainer"), "hard_timeout": 3},
                      parallel=POOL), workdir / "hung")
    assert time.monotonic() - started < 60
    got = journal(d)
    rec = next(r for r in got if r["eval_id"] == x)
    assert rec["status"] == "timeout" and rec["fitness"] == [0.0]
    assert "3 s after it started" in rec["message"] and "evaluation.hard_timeout" in rec["message"]
    assert not pid_alive(int(rec["worker"].rpartition(":")[2])), "the hung worker still runs"
    assert without(got, x) == without(journal(ref_random), x)
    assert meta(d)["status"] == "finished"


def test_the_hard_limit_is_the_setting_else_derived_from_the_time_limit():
    assert hard_limit(None, {}, {}) is None
    assert hard_limit(None, {"time_limit": 10.0}, {}) == 80.0  # 2 x 10 s + 60 s
    assert hard_limit(None, {"time_limit": 10.0}, {"time_limit": 100}) == 260.0  # a request's override
    assert hard_limit(5, {"time_limit": 10.0}, {}) == 5.0


def test_a_serial_run_says_that_it_does_not_enforce_the_hard_timeout(workdir, capsys):
    run(config_of(RANDOM, evaluation={"hard_timeout": 5}, output={"progress": True}), workdir / "serial-timeout")
    err = capsys.readouterr().err
    assert err.count("evaluation.hard_timeout is not enforced by the serial backend") == 1


@pytest.mark.parametrize("value, message", [(-1, "must be a number of seconds > 0"), (0, "must be a number"),
                                            ("abc", "expected a number"), (True, "expected a number")])
def test_a_bad_hard_timeout_names_the_field(value, message):
    with pytest.raises(ConfigError, match=rf"^evaluation\.hard_timeout: {message}"):
        parse_config(config_of(RANDOM, evaluation={"hard_timeout": value}))


def test_a_hard_timeout_does_not_change_the_fingerprint():
    plain = parse_config(config_of(RANDOM))
    assert parse_config(config_of(RANDOM, evaluation={"hard_timeout": 30})).fingerprint() == plain.fingerprint()


# ---------------------------------------------------------------------- completion order
def test_a_killed_parallel_run_keeps_a_later_evaluation_that_finished_first(workdir, ref_random, monkeypatch):
    x = fault_id(ref_random)
    d = workdir / "killed"
    d.mkdir()
    (d / "kill").touch()
    config = config_of(RANDOM, evaluation={"trainer": trainer("killing_trainer")}, parallel=POOL)
    (d / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {**ENV, F.AT: str(x), F.DIR: str(d),
           "PYTHONPATH": os.pathsep.join([str(REPO), ENV.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "deap_nas.cli", "run", "config.yaml", "--run-dir", "run"],
                       cwd=d, env=env, capture_output=True, text=True, timeout=120)
    check(r, -9)
    before = {rec["eval_id"] for rec in journal(d / "run")}
    assert x + 1 in before and x not in before, sorted(before)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    resume_run(d / "run")
    trained = (d / "trained.log").read_text().split()
    assert trained.count(str(x + 1)) == 1, "the evaluation journaled before the kill was trained again"
    assert_same_run(d / "run", ref_random)


def test_readers_of_the_journal_use_request_order_not_line_order():
    """Two repeats of one architecture and a cache hit, journaled in completion order."""
    def rec(eid: int, acc: float, **more: Any) -> dict[str, Any]:
        return {"eval_id": eid, "arch_hash": "a" * 20, "generation": 1, "status": "ok", "accuracy": acc,
                "params": 10, "weights": f"weights/{eid:06d}.pt", **more}

    in_order = [rec(0, 0.5), rec(1, 0.7), rec(2, 0.6, cached=True, cached_from=[0, 1])]
    completion = [in_order[1], in_order[0], in_order[2]]
    (row,) = rank_architectures(completion)
    assert row["eval_ids"] == [0, 1] and row["accuracies"] == [0.5, 0.7]
    assert rank_architectures(completion) == rank_architectures(in_order)
    cache = FitnessCache(True)
    for r in completion[:2]:
        cache.remember(r)
    assert [r["eval_id"] for r in cache.lookup("a" * 20)] == [0, 1]  # cached_from, first source: id order
