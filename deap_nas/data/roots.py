"""Where named data sets are looked for, and whether they may be downloaded.

Search order for a named data set (:func:`search_roots`), first hit wins:

1. the ``root`` argument (a config's ``data.root``, made absolute against the config
   file's folder when the config is read);
2. ``$DEAP_NAS_DATA`` (one folder or several joined with ``os.pathsep``);
3. the data set's standard system folders (e.g. Debian's ``/usr/share/datasets/...``),
   added by its loader;
4. the default roots: ``datasets`` in the current directory and in the checkout (the
   folder holding the ``deap_nas`` package), then ``<cache>/data`` (``cache_dir()``).

A root named by the caller or the variable is *explicit*: its own folder is searched as
well as the usual sub-folders. No root hides the others, so a config written for one
machine still finds the data another machine keeps elsewhere; where the data came from
is recorded (``ImageData.source``), and a not-found error lists every place looked in.

Downloads (torchvision, network needed) run only when ``download=True``, or when
``download=None`` (the default) and ``DEAP_NAS_DOWNLOAD=1``; so by default a machine
without network fails at once with a message instead of hanging. They go into the
explicit root if there is one, else ``<cache>/data``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .image_folder import cache_dir

__all__ = [
    "DatasetNotFoundError",
    "Root",
    "data_roots",
    "search_roots",
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


@dataclass(frozen=True)
class Root:
    """A folder to search; ``explicit`` when the caller or ``$DEAP_NAS_DATA`` named it."""

    path: Path
    explicit: bool


def _explicit_roots(root: str | Path | None) -> list[Path]:
    paths = [Path(root).expanduser()] if root is not None else []
    env = os.environ.get("DEAP_NAS_DATA", "").strip()
    return paths + [Path(p).expanduser() for p in env.split(os.pathsep) if p]


def search_roots(root: str | Path | None = None, system: tuple[Path, ...] = ()) -> list[Root]:
    """Every folder to search, in order (module docstring): ``root``, ``$DEAP_NAS_DATA``,
    the ``system`` folders of the data set, the default roots; repeats removed."""
    out: list[Root] = []
    seen: set[str] = set()
    explicit = _explicit_roots(root)
    for path, flag in [(p, True) for p in explicit] + [(p, False) for p in (*system, *_default_roots())]:
        key = str(path.resolve(strict=False))
        if key not in seen:
            seen.add(key)
            out.append(Root(path, flag))
    return out


def data_roots(root: str | Path | None = None) -> tuple[list[Path], bool]:
    """(the folders :func:`search_roots` gives, whether any was named explicitly)."""
    roots = search_roots(root)
    return [r.path for r in roots], any(r.explicit for r in roots)


def download_allowed(download: bool | None) -> bool:
    """`download`, or for None whether ``$DEAP_NAS_DOWNLOAD`` is 1/true/yes/on."""
    if download is None:
        return os.environ.get("DEAP_NAS_DOWNLOAD", "").strip().lower() in _TRUE
    return bool(download)


def download_root(root: str | Path | None = None) -> Path:
    """Where a download goes: the first explicit root, else ``<cache>/data``."""
    explicit = _explicit_roots(root)
    return explicit[0] if explicit else cache_dir() / "data"


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
