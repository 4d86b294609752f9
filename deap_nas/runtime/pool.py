"""A process pool that survives its workers: the process backend of :mod:`.parallel`.

``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies (a
segfault, ``os._exit``, the out-of-memory killer): every pending future fails with
``BrokenProcessPool`` and nobody knows which task killed it; nor can it stop a task
that hangs. :class:`WorkerPool` gives each spawned worker one task at a time through its
own pipe, so the main process always knows which task each worker holds:

- a worker that dies fails only its own task's future, with :class:`WorkerDied` (exit
  code or signal); it is replaced by a new process with the same worker index, and the
  other workers keep their tasks;
- a task given a ``timeout`` that has not answered that many seconds after its worker
  started it fails with :class:`TaskTimedOut`; the worker is killed (SIGKILL) and
  replaced.

- every worker is started with the pool and first runs the pool's initializer (warm-up:
  imports, data on the device), replacements too; an initializer that fails fails the
  pool with a RuntimeError naming the worker, instead of leaving tasks waiting.

A watcher thread in the main process moves tasks to idle workers and results back into
futures (``concurrent.futures.Future``: ``done()``, ``result()``, ``wait``). Workers
ignore SIGINT (Ctrl-C is the main process's business), and exit when the main process
is gone (their pipe closes, or their parent changes after a kill -9).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection, wait
from typing import Any

__all__ = ["TaskTimedOut", "WorkerDied", "WorkerLost", "WorkerPool", "describe_exit"]


class WorkerLost(RuntimeError):
    """A task's worker process is gone; ``status`` is the evaluation status it stands for."""

    status = "crashed"

    def __init__(self, message: str, worker: str = "") -> None:
        super().__init__(message)
        self.worker = worker


class WorkerDied(WorkerLost):
    """The worker process ended while it held the task."""


class TaskTimedOut(WorkerLost):
    """The task ran past its timeout; its worker was killed."""

    status = "timeout"


def describe_exit(exitcode: int | None) -> str:
    """``exit code 139`` / ``killed by signal 11 (SIGSEGV)`` / ``exit code unknown``."""
    if exitcode is None:
        return "exit code unknown"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        hint = "; the out-of-memory killer sends it" if -exitcode == signal.SIGKILL else ""
        return f"killed by signal {-exitcode} ({name}{hint})"
    return f"exit code {exitcode}"


# ---------------------------------------------------------------------- worker process
def _exit_with(parent: int) -> None:
    # a worker is not told when the main process dies (kill -9): it would keep its memory
    # (and a GPU context) from the resumed run
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _send(conn: Connection, message: tuple[Any, ...]) -> None:
    try:
        conn.send(message)
    except (pickle.PicklingError, TypeError, AttributeError) as e:  # an unpicklable result or exception
        conn.send(("error", RuntimeError(f"{message[0]}: cannot be sent back ({e})")))


def _worker_main(index: int, conn: Connection, parent: int, initializer: Callable[..., Any] | None = None,
                 initargs: tuple[Any, ...] = ()) -> None:
    """One worker: run ``initializer(*initargs)`` once and say ``ready`` (or
    ``init_error``), then run ``fn(item)`` for each ``(fn, item)`` received, answer each."""
    from .worker import set_worker_index

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_worker_index(index)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    started = time.perf_counter()
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as e:  # noqa: BLE001  (the pool fails with it)
            _send(conn, ("init_error", e))
            return
    conn.send(("ready", time.perf_counter() - started))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        fn, item = message
        conn.send(("started",))
        try:
            _send(conn, ("ok", fn(item)))
        except BaseException as e:  # noqa: BLE001  (delivered through the future)
            _send(conn, ("error", e))


# ---------------------------------------------------------------------- main process
class _Slot:
    """One worker process and the task it holds."""

    def __init__(self, index: int, init: tuple[Callable[..., Any] | None, tuple[Any, ...]] = (None, ())) -> None:
        self.index = index
        self.init = init  # (initializer, its arguments)
        self.proc: Any = None
        self.conn: Connection | None = None
        self.future: Future | None = None
        self.timeout: float | None = None
        self.deadline: float | None = None
        self.ready = False  # its initializer has run
        self.task_started: float | None = None

    @property
    def name(self) -> str:
        return f"{socket.gethostname()}:{self.proc.pid}" if self.proc is not None else ""

    def start(self, ctx: Any) -> None:
        ours, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(self.index, theirs, os.getpid(), *self.init), daemon=True)
        self.ready, self.task_started = False, None
        self.proc.start()
        theirs.close()
        self.conn = ours

    def stop(self, kill: bool) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)  # type: ignore[union-attr]
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()  # type: ignore[union-attr]
        self.proc = self.conn = None


class WorkerPool:
    """``workers`` spawned processes, one task each at a time (module doc).

    Every worker is started when the pool is created and runs ``initializer(*initargs)``
    before its first task (imports, data on the device), so workers warm up while the
    main process prepares its first tasks; a worker that replaces a dead or killed one
    runs it too. An initializer that raises (or a worker that dies before it is ready)
    fails the pool: every task's future, and every later ``submit``, get a RuntimeError
    naming the worker and the error. :meth:`stats` counts the warm-ups and the time the
    workers were busy.
    """

    def __init__(self, workers: int, initializer: Callable[..., Any] | None = None,
                 initargs: tuple[Any, ...] = ()) -> None:
        self._ctx = mp.get_context("spawn")
        self._slots = [_Slot(i, (initializer, tuple(initargs))) for i in range(workers)]
        self._queue: deque[tuple[Future, Callable[[Any], Any], Any, float | None]] = deque()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._closing = False
        self._failure: str | None = None
        self._created = time.monotonic()
        self._closed_at: float | None = None
        self.warmups: list[tuple[int, float]] = []  # (worker index, seconds from start to ready)
        self._busy = 0.0
        self._thread = threading.Thread(target=self._watch, name="deap_nas-pool", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Any], Any], item: Any, timeout: float | None = None) -> Future:
        """Run ``fn(item)`` in a worker; ``timeout``: seconds from its start (None: none)."""
        fut: Future = Future()
        with self._lock:
            if self._failure is not None:
                fut.set_exception(RuntimeError(self._failure))
                return fut
            if self._closing:
                raise RuntimeError("submit on a closed WorkerPool")
            self._queue.append((fut, fn, item, timeout))
        self._wake_w.send_bytes(b".")
        return fut

    def stats(self) -> dict[str, Any]:
        """Worker starts and their warm-up seconds, seconds the workers were busy with a
        task, and the idle fraction: 1 - busy / (workers x seconds since the pool started)."""
        with self._lock:
            now = self._closed_at or time.monotonic()
            busy = self._busy + sum(now - s.task_started for s in self._slots if s.task_started is not None)
            warm = [w for _, w in self.warmups]
        capacity = len(self._slots) * (now - self._created)
        return {"workers": len(self._slots), "starts": len(warm), "warmup_seconds": round(sum(warm), 3),
                "busy_seconds": round(busy, 3), "seconds": round(now - self._created, 3),
                "idle_fraction": round(max(0.0, 1.0 - busy / capacity), 4) if capacity > 0 else 0.0}

    def close(self) -> None:
        """Stop every worker: idle ones are told to exit, busy ones are killed; queued
        tasks are cancelled, running ones fail with RuntimeError."""
        with self._lock:
            self._closing = True
            self._closed_at = self._closed_at or time.monotonic()
            for slot in self._slots:
                self._end_task(slot)
        self._wake_w.send_bytes(b".")
        self._thread.join()
        for slot in self._slots:
            if slot.future is not None and not slot.future.done():
                slot.future.set_exception(RuntimeError("the worker pool was closed"))
            slot.stop(kill=slot.future is not None)
            slot.future = None
        for fut, *_ in self._queue:
            fut.cancel()
        self._queue.clear()
        self._wake_r.close()
        self._wake_w.close()

    # -- the watcher thread --------------------------------------------------------
    def _watch(self) -> None:
        try:
            self._loop()
        except BaseException as e:  # noqa: BLE001  (e.g. no process can be started): fail every task
            self._fail(f"the worker pool failed: {e!r}")

    def _fail(self, message: str) -> None:
        """Fail every held and queued task, and every later submit, with ``message``."""
        with self._lock:
            self._closing = True
            self._failure = message
            waiting = [s.future for s in self._slots if s.future is not None]
            waiting += [q[0] for q in self._queue]
            self._queue.clear()
        for fut in waiting:
            if not fut.done():
                fut.set_exception(RuntimeError(message))

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._closing:
                    return
                for slot in self._slots:
                    if slot.proc is None:
                        slot.start(self._ctx)  # at creation, and a replacement at once
                self._dispatch()
            live = [s for s in self._slots if s.proc is not None]
            deadlines = [s.deadline for s in live if s.deadline is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            waitables: list[Any] = [self._wake_r]
            waitables += [s.conn for s in live] + [s.proc.sentinel for s in live]
            ready = wait(waitables, timeout)
            if self._wake_r in ready:
                while self._wake_r.poll():
                    self._wake_r.recv_bytes()
            for slot in live:
                if self._check(slot):
                    return

    def _end_task(self, slot: _Slot) -> None:
        if slot.task_started is not None:
            self._busy += time.monotonic() - slot.task_started
            slot.task_started = None

    def _dispatch(self) -> None:
        for slot in self._slots:
            if not self._queue:
                return
            if slot.future is not None:
                continue
            fut, fn, item, timeout = self._queue.popleft()
            if not fut.set_running_or_notify_cancel():
                continue
            slot.future, slot.timeout, slot.deadline = fut, timeout, None  # failed with the pool if no start
            if slot.proc is None or not slot.proc.is_alive():
                if slot.proc is not None:
                    slot.stop(kill=True)
                slot.start(self._ctx)
            try:
                slot.conn.send((fn, item))  # type: ignore[union-attr]
            except Exception as e:  # noqa: BLE001  (an unpicklable task, or a dead worker)
                slot.future = None
                fut.set_exception(e)

    def _check(self, slot: _Slot) -> bool:
        """Take what ``slot``'s worker said; handle its death or its task's timeout.
        True when the pool failed (an initializer raised, a worker died starting)."""
        assert slot.conn is not None
        try:
            while slot.conn.poll():
                kind, *rest = slot.conn.recv()
                if kind == "ready":
                    slot.ready = True
                    with self._lock:
                        self.warmups.append((slot.index, float(rest[0])))
                elif kind == "init_error":
                    return self._failed_start(slot, f"its initializer raised {rest[0]!r}")
                elif kind == "started":
                    slot.deadline = time.monotonic() + slot.timeout if slot.timeout is not None else None
                    slot.task_started = time.monotonic()
                else:
                    fut, slot.future = slot.future, None
                    with self._lock:
                        self._end_task(slot)
                    assert fut is not None
                    fut.set_result(rest[0]) if kind == "ok" else fut.set_exception(rest[0])
                    return False
        except (EOFError, OSError):
            pass  # the worker died mid-answer: below
        if not slot.proc.is_alive():
            slot.proc.join()
            if not slot.ready:
                return self._failed_start(slot, f"the process died before it was ready ({describe_exit(slot.proc.exitcode)})")
            self._lose(slot, lambda name: WorkerDied(
                f"the worker process died ({describe_exit(slot.proc.exitcode)})", name))
        elif slot.deadline is not None and time.monotonic() >= slot.deadline:
            self._lose(slot, lambda name: TaskTimedOut(
                f"no result {slot.timeout:g} s after it started: the worker process was killed", name))
        return False

    def _lose(self, slot: _Slot, error: Callable[[str], WorkerLost]) -> None:
        """``slot``'s worker is gone (or killed now): its task fails with ``error(name)``;
        the next loop starts a replacement, which warms up at once."""
        name, fut = slot.name, slot.future
        exc = error(name)  # before stop(): it reads the exit code
        slot.future = None
        with self._lock:
            self._end_task(slot)
        slot.stop(kill=True)
        if fut is not None:
            fut.set_exception(exc)

    def _failed_start(self, slot: _Slot, what: str) -> bool:
        self._fail(f"worker {slot.index} of the pool could not start: {what}")
        return True
