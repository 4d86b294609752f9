"""Interruptions of a search: Ctrl-C (SIGINT) and SIGTERM (SLURM pre-emption, ``timeout``).

Python turns SIGINT into KeyboardInterrupt; inside :func:`sigterm_raises` SIGTERM raises
:class:`Terminated`, a KeyboardInterrupt too, so the runtime handles both alike: run.json
says ``interrupted``, the lock is released, and the journal and snapshots are left as a
``kill -9`` would leave them (complete records and snapshots only), so the resume is exact.
The command line exits with :func:`exit_code` (128 + the signal number: 130, 143).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Terminated", "exit_code", "signal_name", "sigterm_raises"]


class Terminated(KeyboardInterrupt):
    """SIGTERM received: handled as Ctrl-C, reported as SIGTERM."""


def signal_name(exc: BaseException) -> str:
    return "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"


def exit_code(exc: BaseException) -> int:
    """The shell's code for a process ended by the signal behind ``exc``."""
    return 128 + int(signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, the first SIGTERM raises :class:`Terminated` in the main thread;
    further ones are ignored while the search cleans up. Outside the main thread (where
    handlers cannot be set) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise Terminated(f"received signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
