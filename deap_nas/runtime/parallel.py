"""``toolbox.map``: serial, a spawn-based process pool, SCOOP (the only SCOOP import) or
Dask (:mod:`.dask_backend`).

``auto`` picks SCOOP when the program runs under ``python -m scoop``, a process pool when
``parallel.workers > 1``, and the built-in ``map`` otherwise; Dask only when asked for. ``map`` returns results in
task order on every backend; :meth:`ParallelMap.completed` yields them as they finish
(the evaluator journals each at once and keeps the search's decisions in request order,
so a search makes the same decisions whichever backend runs it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, as_completed, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .pool import WorkerPool

if TYPE_CHECKING:
    from .dask_backend import DaskExecutor


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
        raise RuntimeError("parallel.backend is 'scoop': start the run with `python -m scoop -n N experiments/run.py CONFIG` "
                           "(from an install: the file of deap_nas.__main__ with `run CONFIG`; docs/install.md)")
    return backend


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ThreadPlan:
    """Torch CPU threads per worker: ``threads``, for ``workers`` candidates trained at
    once on this machine's ``cores`` (``workers`` 0: on other hosts, unknown here)."""

    threads: int
    workers: int
    cores: int
    given: bool  # set in the config (else the default)

    def to_dict(self) -> dict[str, int | bool]:
        return {"threads": self.threads, "workers": self.workers, "cores": self.cores, "given": self.given}

    def describe(self) -> str:
        how = "parallel.threads" if self.given else f"default: {self.cores} cores // {max(self.workers, 1)} workers"
        return f"{self.threads} torch thread{'s' if self.threads != 1 else ''} per worker ({how})"

    def warning(self) -> str | None:
        """One line when the workers ask for more threads than there are cores, else None."""
        if not self.workers or self.workers * self.threads <= self.cores:
            return None
        fix = max(1, self.cores // self.workers)
        return (f"warning: {self.workers} workers x {self.threads} threads = {self.workers * self.threads} "
                f"> {self.cores} cores: the workers compete for cores and each evaluation costs more CPU; "
                f"set parallel.threads: {fix} (or leave it unset: cores // workers)")


def concurrent_workers(parallel: Any) -> int:
    """Candidates trained at once on this machine: 1 serial, ``workers`` for the process
    pool, ``workers x threads_per_worker`` for a local Dask cluster; 0 (unknown) for SCOOP
    and a remote Dask scheduler, whose workers run elsewhere or were started by SCOOP."""
    try:
        backend = resolve_backend(parallel.backend, parallel.workers)
    except RuntimeError:  # scoop asked for outside SCOOP: refused when the run starts
        return 0
    if backend == "serial":
        return 1
    if backend == "process":
        return int(parallel.workers)
    if backend == "dask" and (parallel.dask is None or parallel.dask.scheduler is None):
        per = parallel.dask.threads_per_worker if parallel.dask is not None else 1
        return int(parallel.workers) * int(per)
    return 0


def plan_threads(parallel: Any, cores: int | None = None) -> ThreadPlan:
    """The one place ``parallel.threads`` is resolved: the configured value, else
    ``cores // workers`` (at least 1; 1 where the workers are not known here)."""
    cores = available_cores() if cores is None else cores
    workers = concurrent_workers(parallel)
    if parallel.threads is not None:
        return ThreadPlan(int(parallel.threads), workers, cores, True)
    return ThreadPlan(max(1, cores // workers) if workers else 1, workers, cores, False)


class ParallelMap:
    """A ``map`` callable for ``toolbox.map``; call :meth:`close` when the search ends.

    The process backend is a :class:`~deap_nas.runtime.pool.WorkerPool`: a worker that
    dies or a task past its ``timeout`` fails that task's future alone
    (:class:`~deap_nas.runtime.pool.WorkerLost`), and the worker is replaced. Serial
    runs call ``fn`` in this process and SCOOP runs on SCOOP's workers: neither can stop
    a task from outside, so both ignore ``timeout``. The Dask backend
    (:class:`~deap_nas.runtime.dask_backend.DaskExecutor`, settings ``dask``) runs a
    task again when its worker is lost, then fails it with ``WorkerLost``; it cannot stop
    a running task either and ignores ``timeout``.
    """

    def __init__(self, backend: str = "auto", workers: int = 1, dask: Any = None) -> None:
        self.backend = resolve_backend(backend, workers)
        self.workers = workers
        self.dask = dask
        self._pool: WorkerPool | DaskExecutor | None = None
        self._closed_stats: dict[str, Any] | None = None  # the pool's stats when it was closed

    @classmethod
    def from_config(cls, parallel: Any) -> ParallelMap:
        """The map of a ``parallel`` config section (:class:`~deap_nas.runtime.config.ParallelConfig`)."""
        return cls(parallel.backend, parallel.workers, parallel.dask)

    @property
    def enforces_timeouts(self) -> bool:
        """Whether ``timeout`` arguments are enforced (the process backend only)."""
        return self.backend == "process"

    def prepare(self, initializer: Callable[..., Any], *args: Any) -> None:
        """Start the process pool now, each worker running ``initializer(*args)`` before
        its first task (other backends: nothing; a serial run prepares in this process)."""
        if self.backend == "process" and self._pool is None:
            self._pool = WorkerPool(self.workers, initializer, args)

    def stats(self) -> dict[str, Any] | None:
        """The process pool's warm-ups and busy / idle time (:meth:`WorkerPool.stats`), else None."""
        return self._pool.stats() if isinstance(self._pool, WorkerPool) else self._closed_stats

    def _executor(self) -> WorkerPool | DaskExecutor:
        if self._pool is None:
            if self.backend == "dask":
                from .dask_backend import DaskExecutor

                self._pool = DaskExecutor(self.dask, self.workers)
            else:
                self._pool = WorkerPool(self.workers)
        return self._pool

    def __call__(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``fn`` over ``items``, results in item order."""
        items = list(items)
        if not items:
            return iter(())
        if self.backend == "serial":
            return map(fn, items)
        if self.backend == "scoop":
            from scoop import futures

            return iter(futures.map(fn, items))
        return (f.result() for f in [self._executor().submit(fn, item) for item in items])

    def completed(self, fn: Callable[[Any], Any], items: Sequence[Any],
                  timeouts: Sequence[float | None] | None = None) -> Iterator[tuple[Any, Any]]:
        """``(item, finished future)`` pairs in the order the calls finish (serial: item
        order, each computed when asked for); ``timeouts``: one per item, or None."""
        items = list(items)
        if self.backend == "serial":
            return ((item, _run_now(fn, item)) for item in items)
        times = list(timeouts) if timeouts is not None else [None] * len(items)
        owner = {self.submit(fn, item, t): item for item, t in zip(items, times, strict=True)}
        if self.backend == "scoop":
            from scoop import futures

            return ((owner[f], f) for f in futures.as_completed(list(owner)))
        return ((owner[f], f) for f in as_completed(list(owner)))

    # -- asynchronous use (steady-state loops keep every worker busy) ----------------
    def submit(self, fn: Callable[[Any], Any], item: Any, timeout: float | None = None) -> Any:
        """Start ``fn(item)``; a future with ``done()`` and ``result()``. Serial runs it now."""
        if self.backend == "serial":
            return _run_now(fn, item)
        if self.backend == "scoop":
            from scoop import futures

            return futures.submit(fn, item)
        if self.backend == "dask":
            return self._executor().submit(fn, item)
        return self._executor().submit(fn, item, timeout)  # type: ignore[call-arg]

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
        if self.backend == "dask":
            from .dask_backend import DaskExecutor

            return DaskExecutor(self.dask, self.workers).describe()
        return self.backend if self.backend != "process" else f"process pool x{self.workers}"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            if isinstance(self._pool, WorkerPool):
                self._closed_stats = self._pool.stats()
            self._pool = None


def _run_now(fn: Callable[[Any], Any], item: Any) -> Future:
    fut: Future = Future()
    try:
        fut.set_result(fn(item))
    except BaseException as e:  # noqa: BLE001  (delivered through result())
        fut.set_exception(e)
    return fut
