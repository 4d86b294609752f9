"""Where named data sets are looked for, and whether they may be downloaded.

Search order for a named data set: the ``root`` argument, else ``$DEAP_NAS_DATA`` (one
folder or several joined with ``os.pathsep``), else the default roots below. An explicit
root (argument or variable) is the only place searched, so a test or a run reads exactly
the data it was pointed at.

Default roots: ``datasets`` in the current directory and in the checkout (the folder
holding the ``deap_nas`` package), then ``<cache>/data`` (``cache_dir()``).

Downloads (torchvision, network needed) run only when ``download=True``, or when
``download=None`` (the default) and ``DEAP_NAS_DOWNLOAD=1``; so by default a machine
without network fails at once with a message instead of hanging. They go into the
explicit root if there is one, else ``<cache>/data``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .image_folder import cache_dir

__all__ = [
    "DatasetNotFoundError",
    "data_roots",
    "download_allowed",
    "download_root",
    "how_to_get",
    "unique",
]

_TRUE = frozenset({"1", "true", "yes", "on"})
# deap_nas/data/roots.py -> the folder holding the deap_nas package
_CHECKOUT = Path(__file__).resolve().parents[2]


class DatasetNotFoundError(FileNotFoundError):
    """A data set is not on this machine; the message names every place looked in."""

    def __init__(self, message: str, looked_in: list[str] | None = None) -> None:
        super().__init__(message)
        self.looked_in = list(looked_in or [])


def unique(paths: list[Path]) -> list[Path]:
    """`paths` without repeats (compared after resolving), first occurrence kept."""
    seen: set[str] = set()
    out = []
    for p in paths:
        key = str(p.resolve(strict=False))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _default_roots() -> list[Path]:
    cwd = Path.cwd()
    return unique(
        [
            cwd / "datasets",
            _CHECKOUT / "datasets",
            cache_dir() / "data",
        ]
    )


def data_roots(root: str | Path | None = None) -> tuple[list[Path], bool]:
    """(roots to search, whether they were given explicitly by `root` or $DEAP_NAS_DATA)."""
    if root is not None:
        return [Path(root).expanduser()], True
    env = os.environ.get("DEAP_NAS_DATA", "").strip()
    if env:
        return unique([Path(p).expanduser() for p in env.split(os.pathsep) if p]), True
    return _default_roots(), False


def download_allowed(download: bool | None) -> bool:
    """`download`, or for None whether ``$DEAP_NAS_DOWNLOAD`` is 1/true/yes/on."""
    if download is None:
        return os.environ.get("DEAP_NAS_DOWNLOAD", "").strip().lower() in _TRUE
    return bool(download)


def download_root(root: str | Path | None = None) -> Path:
    """Where a download goes: the explicit root, else ``<cache>/data``."""
    roots, explicit = data_roots(root)
    return roots[0] if explicit else cache_dir() / "data"


def how_to_get(root: str | Path | None, extra: str = "") -> str:
    """The closing lines of a not-found message."""
    lines = ["How to get it:"]
    if extra:
        lines.append(f"  - {extra}")
    lines += [
        "  - pass root=<folder> to load_dataset, or set DEAP_NAS_DATA=<folder>;",
        "  - or let torchvision download it (network needed): download=True or "
        f"DEAP_NAS_DOWNLOAD=1, into {download_root(root)}.",
    ]
    return "\n".join(lines)
