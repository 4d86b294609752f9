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


def _worker_main(index: int, conn: Connection, parent: int) -> None:
    """One worker: run ``fn(item)`` for each ``(fn, item)`` received, answer each."""
    from .worker import set_worker_index

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_worker_index(index)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
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

    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: Any = None
        self.conn: Connection | None = None
        self.future: Future | None = None
        self.timeout: float | None = None
        self.deadline: float | None = None

    @property
    def name(self) -> str:
        return f"{socket.gethostname()}:{self.proc.pid}" if self.proc is not None else ""

    def start(self, ctx: Any) -> None:
        ours, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(self.index, theirs, os.getpid()), daemon=True)
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
    """``workers`` spawned processes, one task each at a time (module doc)."""

    def __init__(self, workers: int) -> None:
        self._ctx = mp.get_context("spawn")
        self._slots = [_Slot(i) for i in range(workers)]
        self._queue: deque[tuple[Future, Callable[[Any], Any], Any, float | None]] = deque()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._closing = False
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[[Any], Any], item: Any, timeout: float | None = None) -> Future:
        """Run ``fn(item)`` in a worker; ``timeout``: seconds from its start (None: none)."""
        fut: Future = Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("submit on a closed WorkerPool")
            self._queue.append((fut, fn, item, timeout))
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="deap_nas-pool", daemon=True)
                self._thread.start()
        self._wake_w.send_bytes(b".")
        return fut

    def close(self) -> None:
        """Stop every worker: idle ones are told to exit, busy ones are killed; queued
        tasks are cancelled, running ones fail with RuntimeError."""
        with self._lock:
            self._closing = True
        if self._thread is not None:
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
            with self._lock:
                self._closing = True
                waiting = [s.future for s in self._slots if s.future is not None]
                waiting += [q[0] for q in self._queue]
                self._queue.clear()
            for fut in waiting:
                if not fut.done():
                    fut.set_exception(RuntimeError(f"the worker pool failed: {e!r}"))

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._closing:
                    return
                self._dispatch()
            busy = [s for s in self._slots if s.future is not None]
            deadlines = [s.deadline for s in busy if s.deadline is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            waitables: list[Any] = [self._wake_r]
            waitables += [s.conn for s in busy] + [s.proc.sentinel for s in busy]
            ready = wait(waitables, timeout)
            if self._wake_r in ready:
                while self._wake_r.poll():
                    self._wake_r.recv_bytes()
            for slot in busy:
                self._check(slot)

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

    def _check(self, slot: _Slot) -> None:
        """Take what ``slot``'s worker said; handle its death or its task's timeout."""
        fut = slot.future
        assert fut is not None and slot.conn is not None
        try:
            while slot.conn.poll():
                kind, *rest = slot.conn.recv()
                if kind == "started":
                    slot.deadline = time.monotonic() + slot.timeout if slot.timeout is not None else None
                    continue
                slot.future = None
                fut.set_result(rest[0]) if kind == "ok" else fut.set_exception(rest[0])
                return
        except (EOFError, OSError):
            pass  # the worker died mid-answer: below
        if not slot.proc.is_alive():
            name = slot.name
            slot.proc.join()
            code = slot.proc.exitcode
            slot.future = None
            slot.stop(kill=True)
            fut.set_exception(WorkerDied(f"the worker process died ({describe_exit(code)})", name))
        elif slot.deadline is not None and time.monotonic() >= slot.deadline:
            name = slot.name
            slot.future = None
            slot.stop(kill=True)
            fut.set_exception(TaskTimedOut(
                f"no result {slot.timeout:g} s after it started: the worker process was killed", name))
