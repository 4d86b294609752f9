"""The Dask backend of :mod:`.parallel` (``parallel.backend: dask``; the only Dask import).

``distributed`` is optional (``pip install "deap_nas[dask]"``). :class:`DaskExecutor`
submits ``fn(item)`` to a Dask cluster and hands back ``concurrent.futures.Future``
objects, so the evaluator treats it like the process pool:

- no ``parallel.dask.scheduler``: a local cluster of ``parallel.workers`` spawned worker
  processes (each under a nanny that restarts it when it dies), scheduler and workers
  listening on 127.0.0.1 only; ``tls: true`` adds TLS with temporary certificates;
- a scheduler address: a client of that scheduler; ``tls://`` needs
  ``parallel.dask.security``, ``tcp://`` to another host needs ``allow_insecure: true``
  (Dask sends pickles: whoever reaches an unauthenticated scheduler runs code).

A task whose worker process is lost is run again by the scheduler, at most
``retries`` more times (the scheduler's ``allowed_failures``); then its future fails
with :class:`~deap_nas.runtime.pool.WorkerLost` (the candidate is journaled
``crashed``). Dask cannot stop one running task, so ``evaluation.hard_timeout`` is not
enforced. On a worker, :func:`run_on_worker` sets the worker index (GPU ``i mod n``)
from the worker's name before the task runs; data are prepared once per worker process
(the worker module's context cache).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any

from .pool import WorkerLost

INSTALL_HINT = 'parallel.backend: dask needs the distributed package: pip install "deap_nas[dask]"'
CONNECT_TIMEOUT = 30.0  # seconds to reach a remote scheduler
CLOSE_TIMEOUT = 10.0  # seconds to close the client and a local cluster (a nanny may be restarting a worker)
_ADDRESS = re.compile(r"^(tcp|tls)://(\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+):(\d{1,5})$")


# ---------------------------------------------------------------------- config checks
def scheduler_host(address: str) -> tuple[str, str, int]:
    """``(protocol, host, port)`` of ``tcp://host:port`` / ``tls://host:port``; ValueError else."""
    m = _ADDRESS.match(address)
    if not m or not 0 < int(m.group(3)) < 65536:
        raise ValueError(f"scheduler: expected 'tls://host:port' or 'tcp://host:port', got {address!r}")
    return m.group(1), m.group(2).strip("[]"), int(m.group(3))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_tls(s: Any) -> bool:
    """Whether a local cluster uses TLS: unless ``tls: false`` (the default is on, so other
    users of the host cannot submit pickles to the loopback scheduler)."""
    return s is None or (s.scheduler is None and s.tls is not False)


def check_dask_settings(s: Any) -> None:
    """ValueError naming the key for ``parallel.dask`` settings that do not fit together
    (:class:`~deap_nas.runtime.config.DaskConfig`); imports nothing of Dask."""
    if s.threads_per_worker < 1:
        raise ValueError(f"threads_per_worker: must be >= 1, got {s.threads_per_worker}")
    if s.retries < 0:
        raise ValueError(f"retries: must be >= 0, got {s.retries}")
    for name, amount in (s.resources or {}).items():
        if not amount > 0:
            raise ValueError(f"resources: {name} must be > 0, got {amount}")
    if s.scheduler is None:
        if s.security is not None:
            raise ValueError("security: TLS files are for a remote scheduler (tls://); a local cluster uses tls: true")
        if s.allow_insecure:
            raise ValueError("allow_insecure: only for a remote tcp:// scheduler; a local cluster listens on 127.0.0.1")
        return
    protocol, host, _ = scheduler_host(s.scheduler)
    for name, given in (("tls", s.tls is not None), ("dashboard", bool(s.dashboard))):
        if given:
            raise ValueError(f"{name}: a local-cluster setting; the remote scheduler has its own")
    if protocol == "tls" and s.security is None:
        raise ValueError("security: a tls:// scheduler needs {ca_file, cert, key}")
    if protocol == "tcp" and s.security is not None:
        raise ValueError("security: TLS files need a tls:// scheduler address")
    if protocol == "tcp" and not is_loopback(host) and not s.allow_insecure:
        raise ValueError(
            f"scheduler: {s.scheduler} is unauthenticated and unencrypted, and Dask sends pickles: anyone who "
            "reaches it runs code on the workers and here; use tls:// with security, or set allow_insecure: true "
            "on a network you trust")


def check_dask_ready(s: Any) -> None:
    """Before a run writes anything: ``distributed`` importable, the TLS files readable,
    a remote scheduler's port open. RuntimeError with a one-line message naming the key."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise RuntimeError(INSTALL_HINT) from None
    if local_tls(s):
        try:
            import cryptography  # noqa: F401  (Security.temporary)
        except ImportError:
            raise RuntimeError('parallel.dask.tls needs the cryptography package: pip install "deap_nas[dask]"') \
                from None
    if s is None:
        return
    for name in ("ca_file", "cert", "key"):
        path = getattr(s.security, name, None) if s.security is not None else None
        if path is not None and not Path(path).is_file():
            raise RuntimeError(f"parallel.dask.security.{name}: no such file: {path}")
    if s.scheduler is not None:
        _, host, port = scheduler_host(s.scheduler)
        try:
            socket.create_connection((host, port), timeout=5).close()
        except OSError as e:
            raise RuntimeError(f"parallel.dask.scheduler: cannot reach {s.scheduler}: {e}") from None


# ---------------------------------------------------------------------- worker side
def index_from_name(name: Any) -> int:
    """A worker's index from its Dask name: an integer (local cluster: 0..n-1), the
    number a name ends with (``dask worker --nworkers 4 --name gpu`` gives gpu-0 ..
    gpu-3), else a stable hash of the name."""
    if isinstance(name, int):
        return name
    m = re.search(r"(\d+)$", str(name))
    if m:
        return int(m.group(1))
    return int(hashlib.sha256(str(name).encode()).hexdigest()[:8], 16)


def run_on_worker(fn: Callable[[Any], Any], item: Any) -> Any:
    """``fn(item)`` on a Dask worker, with the worker index set (device choice)."""
    from . import worker

    if worker._WORKER_INDEX is None:
        from distributed import get_worker

        worker.set_worker_index(index_from_name(get_worker().name))
    return fn(item)


def _set_allowed_failures(retries: int, dask_scheduler: Any = None) -> int:
    dask_scheduler.allowed_failures = retries
    return retries


# ---------------------------------------------------------------------- main process
class DaskExecutor:
    """A client of a local or remote Dask cluster (module doc); ``submit`` returns
    ``concurrent.futures.Future`` objects. The cluster starts at the first submit."""

    def __init__(self, settings: Any, workers: int) -> None:
        from .config import DaskConfig

        self.settings = settings if settings is not None else DaskConfig()
        self.workers = workers
        self._client: Any = None
        self._cluster: Any = None
        self._running: dict[Future, Any] = {}  # our future -> Dask's (kept until it is done)
        self._lock = threading.Lock()

    def describe(self) -> str:
        s = self.settings
        where = s.scheduler or f"local cluster x{self.workers} on 127.0.0.1{' (TLS)' if local_tls(s) else ''}"
        return f"dask ({where})"

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        try:
            from distributed import Client, LocalCluster
            from distributed.security import Security
        except ImportError:
            raise RuntimeError(INSTALL_HINT) from None
        s = self.settings
        if s.scheduler is None:
            security = Security.temporary() if local_tls(s) else None
            per_worker = {k: v * s.threads_per_worker for k, v in (s.resources or {}).items()}
            import dask

            # a worker holds only the tasks it runs (no queue on the worker): when one dies,
            # no bystander task is counted as having failed with it
            with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
                self._cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=s.threads_per_worker, processes=True,
                    host="127.0.0.1", protocol="tls://" if local_tls(s) else "tcp://", security=security,
                    dashboard_address="127.0.0.1:8787" if s.dashboard else None, memory_limit=0,
                    resources=per_worker or None, silence_logs=40)
            self._cluster.scheduler.allowed_failures = s.retries
            self._client = Client(self._cluster, security=security, set_as_default=False)
            return self._client
        sec = s.security
        security = Security(tls_ca_file=sec.ca_file, tls_client_cert=sec.cert, tls_client_key=sec.key,
                            require_encryption=True) if sec is not None else None
        try:
            client = Client(s.scheduler, security=security, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise RuntimeError(f"parallel.dask.scheduler: cannot connect to {s.scheduler}: {e}") from None
        client.run_on_scheduler(_set_allowed_failures, s.retries)
        self._client = client
        return client

    def submit(self, fn: Callable[[Any], Any], item: Any) -> Future:
        """Run ``fn(item)`` on a worker (asking for ``resources``); a concurrent future."""
        client = self._connect()
        out: Future = Future()
        out.set_running_or_notify_cancel()
        eid = getattr(item, "eval_id", None)
        key = f"deap_nas-eval-{eid}-{uuid.uuid4().hex[:8]}" if eid is not None else f"deap_nas-{uuid.uuid4().hex}"
        dfut = client.submit(run_on_worker, fn, item, key=key, pure=False, resources=self.settings.resources)
        with self._lock:
            self._running[out] = dfut
        dfut.add_done_callback(partial(self._settle, out))
        return out

    def _settle(self, out: Future, dfut: Any) -> None:
        """Dask's future is done (a client thread): pass its outcome on."""
        with self._lock:
            self._running.pop(out, None)
        if out.done():
            return
        try:
            if dfut.status == "finished":
                out.set_result(dfut.result())
                return
            if dfut.status == "cancelled":
                out.set_exception(RuntimeError("the Dask task was cancelled (the client or scheduler went away)"))
                return
            error = dfut.exception()
        except BaseException as e:  # noqa: BLE001  (delivered through the future)
            error = e
        out.set_exception(_lost(error, self.settings.retries) or error)

    def close(self) -> None:
        """Close the client (and the local cluster); unfinished tasks fail with RuntimeError."""
        with self._lock:
            running, self._running = list(self._running), {}
        for out in running:
            if not out.done():
                out.set_exception(RuntimeError("the Dask client was closed"))
        if self._client is not None:
            self._client.close(timeout=CLOSE_TIMEOUT)
        if self._cluster is not None:
            self._cluster.close(timeout=CLOSE_TIMEOUT)
        self._client = self._cluster = None


def _lost(error: BaseException, retries: int) -> WorkerLost | None:
    """The WorkerLost a ``KilledWorker`` stands for (None for any other error)."""
    from distributed.scheduler import KilledWorker

    if not isinstance(error, KilledWorker):
        return None
    last = getattr(error, "last_worker", None)
    where = getattr(last, "address", "") or ""
    runs = "once" if retries == 0 else f"{retries + 1} times"
    return WorkerLost(f"the Dask worker running it was lost {runs} (parallel.dask.retries: {retries})", where)
