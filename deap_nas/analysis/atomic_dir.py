"""A folder written completely or not at all: fill a temporary sibling, then rename it in.

``staged_dir(out, force)`` refuses an existing ``out`` unless ``force`` (before anything
is written), removes temporary siblings left by a killed process, yields a fresh
``.<name>.tmp-<pid>`` folder beside ``out`` and, when the block ends without an error,
puts it in place of ``out``: with Linux's ``renameat2(RENAME_EXCHANGE)`` an existing
folder is swapped in one step (readers see the old folder or the new one, never a mix);
elsewhere the old folder is first renamed aside. On an error the temporary folder is
removed and ``out`` is left as it was.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..runtime.lock import pid_alive

__all__ = ["OutputExistsError", "check_output", "staged_dir"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class OutputExistsError(FileExistsError):
    """The output folder exists and replacing it was not asked for."""


def check_output(out: Path, force: bool) -> None:
    """Refuse ``out`` when it is a file, or an existing folder without ``force``."""
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} is a file, not a folder")
    if out.exists() and not force:
        raise OutputExistsError(f"{out} exists (an earlier export); pass --force to replace it")


def remove_stale(out: Path) -> list[Path]:
    """Remove ``.<name>.tmp-<pid>`` / ``.<name>.old-<pid>`` siblings of ``out`` whose
    process is gone (an export killed mid-way). Returns the folders removed."""
    removed = []
    for p in out.parent.glob(f".{out.name}.*-*"):
        kind, _, pid = p.name[len(out.name) + 2:].partition("-")
        if kind in ("tmp", "old") and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2``); False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _put_in_place(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` to ``out``, replacing an existing ``out``."""
    if not out.exists():
        os.rename(tmp, out)
        return
    if _exchange(tmp, out):  # tmp now holds the old folder
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_dir(out: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``out`` when the block succeeds (module
    docstring); ``OutputExistsError`` before anything is written for an existing ``out``
    without ``force``."""
    out = Path(out)
    check_output(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        check_output(out, force)  # another process may have written it meanwhile
        _put_in_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
