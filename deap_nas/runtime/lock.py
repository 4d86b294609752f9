"""The lock of a run directory: one process at a time runs or resumes it.

``RUN_DIR/run.lock`` is created with ``O_CREAT | O_EXCL`` (so of two processes exactly
one gets it) and holds ``{"host", "pid", "started", "command"}``. While the holder runs,
a daemon thread touches the file every :data:`HEARTBEAT_SECONDS` (and the runtime
refreshes it at each snapshot), so its mtime says the holder is alive. A lock found on
taking it is

- *held* when its host is this host and its pid is a running process, or its host is
  another one and its mtime is younger than :data:`STALE_AFTER_SECONDS` (the holder
  cannot be asked across hosts on a shared file system; a live holder refreshes it);
- *stale* otherwise (a dead pid on this host, or no heartbeat for
  :data:`STALE_AFTER_SECONDS` from another host): it is removed, with one log line, and
  the lock taken. ``break_lock=True`` (``--break-lock``) removes any lock.

A held lock raises :class:`RunLocked`, whose message names the holder. Removal goes
through a guard file (``run.lock.break``) and re-reads the lock first, so two processes
recovering the same stale lock cannot remove each other's fresh one. :meth:`RunLock.release`
removes the file only while it is still this process's lock.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .journal import file_mode
from .rundir import RunDirError, now

#: seconds between two refreshes of the lock's mtime by its holder
HEARTBEAT_SECONDS = 60.0
#: a lock of another host whose mtime is older than this is stale
STALE_AFTER_SECONDS = 600.0
#: an unreadable lock (its writer died between creating and writing it) is stale after this
UNREADABLE_GRACE_SECONDS = 10.0

__all__ = ["HEARTBEAT_SECONDS", "STALE_AFTER_SECONDS", "RunLock", "RunLocked", "acquire", "pid_alive"]


class RunLocked(RunDirError):
    """The run directory is locked by a live process (the message names it)."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (another user's process counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return False
    return True


def _read(path: Path) -> tuple[str, dict[str, Any] | None, float] | None:
    """(text, parsed holder or None, age in seconds) of the lock file; None when absent."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        holder = json.loads(text)
        if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int):
            holder = None
    except ValueError:
        holder = None
    return text, holder, age


def describe(holder: dict[str, Any]) -> str:
    return f"pid {holder.get('pid')} on host {holder.get('host')} since {holder.get('started')}"


def stale_reason(holder: dict[str, Any] | None, age: float) -> str | None:
    """Why a lock is stale (module doc), or None when it is held."""
    if holder is None:
        return f"unreadable lock file, {age:.0f}s old" if age > UNREADABLE_GRACE_SECONDS else None
    if holder.get("host") == socket.gethostname():
        return None if pid_alive(int(holder["pid"])) else "that process is no longer running"
    if age > STALE_AFTER_SECONDS:
        return f"no heartbeat for {age:.0f}s (> {STALE_AFTER_SECONDS:.0f}s)"
    return None


def _remove_if_unchanged(path: Path, seen: str) -> None:
    """Remove the lock if it still holds ``seen`` (under the guard file ``.break``)."""
    guard = path.with_name(path.name + ".break")
    try:
        os.close(os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except FileExistsError:
        try:
            if time.time() - guard.stat().st_mtime > UNREADABLE_GRACE_SECONDS:
                guard.unlink(missing_ok=True)  # left by a process killed while recovering
        except FileNotFoundError:
            pass
        return
    try:
        current = _read(path)
        if current is not None and current[0] == seen:
            path.unlink(missing_ok=True)
    finally:
        guard.unlink(missing_ok=True)


class RunLock:
    """A taken lock: :meth:`refresh` (heartbeat; checks it is still ours), :meth:`release`."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="deap_nas-run-lock", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                os.utime(self.path)
            except OSError:
                return

    def owned(self) -> bool:
        current = _read(self.path)
        return current is not None and current[0] == self.text

    def refresh(self) -> None:
        """Touch the lock; raise :class:`RunLocked` when another process took it over
        (``--break-lock``), so two processes never write one run directory."""
        current = _read(self.path)
        if current is None or current[0] != self.text:
            other = describe(current[1]) if current and current[1] else "nobody"
            raise RunLocked(f"{self.path.parent}: the run's lock was broken and is now held by {other}; "
                            "this process stops writing the run directory")
        os.utime(self.path)

    def release(self) -> None:
        self._stop.set()
        if self.owned():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(run_path: str | Path, break_lock: bool = False, log: Callable[[str], None] | None = None) -> RunLock:
    """Take the lock of ``run_path`` (created if missing), or raise :class:`RunLocked`."""
    run_path = Path(run_path)
    try:
        run_path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"{run_path}: cannot create the run directory ({e.strerror or e})") from None
    path = run_path / "run.lock"
    holder = {"host": socket.gethostname(), "pid": os.getpid(), "started": now(), "command": " ".join(sys.argv)}
    text = json.dumps(holder) + "\n"
    for _ in range(5):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, file_mode())
        except FileExistsError:
            found = _read(path)
            if found is None:
                continue  # released meanwhile
            seen, other, age = found
            reason = "--break-lock" if break_lock else stale_reason(other, age)
            if reason is None:
                who = f"{describe(other)} ({other.get('command')!r})" if other else "a process writing its lock file"
                raise RunLocked(f"{run_path} is locked by {who}; "
                                "wait for it to end, or use --break-lock if that process is gone") from None
            if log is not None:
                who = describe(other) if other else "an unknown process"
                log(f"removed the lock of {run_path} held by {who}: {reason}")
            _remove_if_unchanged(path, seen)
            time.sleep(0.01)
            continue
        except OSError as e:  # a read-only or missing file system, no permission
            raise RunDirError(f"{run_path}: cannot create the lock file {path.name} ({e.strerror or e})") from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        return RunLock(path, text)
    raise RunLocked(f"{run_path}: could not take the lock {path} (other processes keep taking it)")
