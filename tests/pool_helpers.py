"""Module-level functions a spawned pool worker can import (tests/test_pool_warm.py)."""

from __future__ import annotations

import os
from pathlib import Path

_WARMED: list[int] = []


def mark_started(folder: str) -> None:
    """An initializer: one file per process that ran it, named by its pid."""
    _WARMED.append(os.getpid())
    (Path(folder) / str(os.getpid())).write_text("")


def warmed(_: object = None) -> tuple[int, list[int]]:
    """(this worker's pid, the pids its initializer ran in: this process once, or none)."""
    return os.getpid(), list(_WARMED)


def fail_to_start(message: str) -> None:
    raise ValueError(message)


def exit_while_starting(code: int) -> None:
    os._exit(code)
