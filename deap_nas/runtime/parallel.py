"""``toolbox.map``: serial, a spawn-based process pool, or SCOOP (the only SCOOP import).

``auto`` picks SCOOP when the program runs under ``python -m scoop``, a process pool when
``parallel.workers > 1``, and the built-in ``map`` otherwise. Every backend returns
results in task order, so a search makes the same decisions whichever runs it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from .worker import set_worker_index


def scoop_running() -> bool:
    try:
        import scoop
    except ImportError:
        return False
    return bool(getattr(scoop, "IS_RUNNING", False))


def resolve_backend(backend: str, workers: int) -> str:
    if backend == "auto":
        if scoop_running():
            return "scoop"
        return "process" if workers > 1 else "serial"
    if backend == "scoop" and not scoop_running():
        raise RuntimeError("parallel.backend is 'scoop': start the run with `python -m scoop -n N experiments/run.py CONFIG`")
    return backend


def _exit_with(parent: int) -> None:
    # a pool worker is not told when the main process dies (kill -9): it would wait on
    # the call queue for ever, keeping its memory (and a GPU context) from the resumed run
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _init_worker(queue: Any) -> None:
    set_worker_index(queue.get())
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()


class ParallelMap:
    """A ``map`` callable for ``toolbox.map``; call :meth:`close` when the search ends."""

    def __init__(self, backend: str = "auto", workers: int = 1) -> None:
        self.backend = resolve_backend(backend, workers)
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = mp.get_context("spawn")
            queue = ctx.Queue()
            for i in range(self.workers):
                queue.put(i)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker, initargs=(queue,))
        return self._pool

    def __call__(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        items = list(items)
        if not items:
            return iter(())
        if self.backend == "serial":
            return map(fn, items)
        if self.backend == "scoop":
            from scoop import futures

            return iter(futures.map(fn, items))
        return self._executor().map(fn, items)

    # -- asynchronous use (steady-state loops keep every worker busy) ----------------
    def submit(self, fn: Callable[[Any], Any], item: Any) -> Any:
        """Start ``fn(item)``; a future with ``done()`` and ``result()``. Serial runs it now."""
        if self.backend == "serial":
            fut: Future = Future()
            try:
                fut.set_result(fn(item))
            except BaseException as e:  # noqa: BLE001  (delivered through result())
                fut.set_exception(e)
            return fut
        if self.backend == "scoop":
            from scoop import futures

            return futures.submit(fn, item)
        return self._executor().submit(fn, item)

    def wait_first(self, pending: Sequence[Any]) -> None:
        """Block until at least one of ``pending`` is done."""
        if not pending or any(f.done() for f in pending):
            return
        if self.backend == "scoop":
            from scoop import futures

            futures.wait(list(pending), return_when=futures.FIRST_COMPLETED)
        else:
            wait(list(pending), return_when=FIRST_COMPLETED)

    def describe(self) -> str:
        return self.backend if self.backend != "process" else f"process pool x{self.workers}"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
