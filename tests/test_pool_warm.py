"""Process-pool workers that start warm: the initializer runs once per worker, before its
first task, in a replacement worker too; a failing one fails the pool with a clear error."""

from __future__ import annotations

import os
import signal
import time

import pytest

from deap_nas.runtime.pool import WorkerDied, WorkerPool

from . import fault_trainers as F
from . import pool_helpers as H


def wait_for(condition, seconds: float = 60.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_the_initializer_runs_once_per_worker_before_tasks_and_in_a_replacement(tmp_path):
    pool = WorkerPool(2, H.mark_started, (str(tmp_path),))
    try:
        wait_for(lambda: len(pool.warmups) == 2)  # started with the pool, before any task
        assert sorted(i for i, _ in pool.warmups) == [0, 1]
        first = [pool.submit(H.warmed, None).result(timeout=60) for _ in range(4)]
        for pid, ran in first:
            assert ran == [pid]  # once in this process, not again per task
        started = {int(p.name) for p in tmp_path.iterdir()}
        assert {pid for pid, _ in first} <= started and len(started) == 2
        victim = pool.submit(F.sleep_then, 600)
        time.sleep(0.5)
        busy = next(pid for pid in started if _holds_sleep(pool, pid))
        os.kill(busy, signal.SIGKILL)
        with pytest.raises(WorkerDied):
            victim.result(timeout=60)
        wait_for(lambda: len(pool.warmups) == 3)  # the replacement warmed up at once
        assert len({int(p.name) for p in tmp_path.iterdir()}) == 3
        pid, ran = pool.submit(H.warmed, None).result(timeout=60)
        assert ran == [pid]
        stats = pool.stats()
        assert stats["starts"] == 3 and stats["workers"] == 2 and 0.0 <= stats["idle_fraction"] <= 1.0
        assert stats["busy_seconds"] > 0.4  # the killed task counts as busy until it died
    finally:
        pool.close()


def _holds_sleep(pool: WorkerPool, pid: int) -> bool:
    return any(s.proc is not None and s.proc.pid == pid and s.future is not None for s in pool._slots)


@pytest.mark.parametrize(("initializer", "arg", "message"), [
    (H.fail_to_start, "no data here", r"worker \d of the pool could not start: its initializer raised "
                                      r"ValueError\('no data here'\)"),
    (H.exit_while_starting, 3, r"worker \d of the pool could not start: the process died before it was ready "
                               r"\(exit code 3\)"),
])  # fmt: skip
def test_a_failing_initializer_fails_the_pool_instead_of_hanging(initializer, arg, message):
    pool = WorkerPool(2, initializer, (arg,))
    try:
        queued = pool.submit(F.square, 2)
        with pytest.raises(RuntimeError, match=message):
            queued.result(timeout=60)
        with pytest.raises(RuntimeError, match=message):
            pool.submit(F.square, 3).result(timeout=60)  # later tasks too, at once
    finally:
        pool.close()
