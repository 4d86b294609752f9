"""What a run ran with: Python, platform, the versions of the main libraries and the git
commit of the checkout the package runs from (recorded in run.json as ``environment``).

Nothing is imported to find a version (torch stays unloaded); a missing package is None,
and so is ``git`` when the package does not run from a git checkout or git is unusable.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__

__all__ = ["PACKAGES", "environment", "git_state"]

#: distribution names whose installed versions are recorded
PACKAGES = ("torch", "torchvision", "deap", "numpy")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True)
    return done.stdout


def git_state(root: Path | None = None) -> dict[str, Any] | None:
    """``{"commit": <sha>, "dirty": bool}`` of the git checkout at ``root`` (default: the
    folder above the installed package); ``dirty`` means tracked files differ from the
    commit (untracked files do not count). None when ``root`` is not the top of a checkout
    (an installed package) or git fails or is missing."""
    root = Path(__file__).resolve().parents[2] if root is None else Path(root)
    if not (root / ".git").exists():  # a folder or, in a worktree, a file
        return None
    try:
        commit = _git(root, "rev-parse", "HEAD").strip()
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def environment() -> dict[str, Any]:
    """The run.json ``environment`` record."""
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "deap_nas": __version__,
        **{name: _version(name) for name in PACKAGES},
        "git": git_state(),
    }
