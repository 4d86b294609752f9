"""The run directory (docs/run_directory.md): paths, run.json, atomic snapshots."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from .config import RunConfig

SNAPSHOT_RE = re.compile(r"^gen_(\d{6})\.json$")


class RunDirError(ValueError):
    """A run directory that cannot be used: the message names it and why."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunDir:
    """Paths and bookkeeping of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # paths
    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def journal(self) -> Path:
        return self.path / "journal.jsonl"

    @property
    def snapshots(self) -> Path:
        return self.path / "snapshots"

    @property
    def weights(self) -> Path:
        return self.path / "weights"

    @property
    def logbook_csv(self) -> Path:
        return self.path / "logbook.csv"

    # creation and metadata
    @classmethod
    def create(cls, config: RunConfig, path: str | Path | None = None) -> RunDir:
        if path is None:
            stem = Path(config.source).stem if config.source else "run"
            name = config.output.name or f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
            path = Path(config.output.dir) / name
        run = cls(path)
        if run.run_json.exists():
            raise RunDirError(f"{run.path} already holds a run; use `deap-nas resume {run.path}` or another name")
        if run.path.exists() and not run.path.is_dir():
            raise RunDirError(f"{run.path} is a file, not a run directory")
        # the topmost folder this call creates (output.dir may be new too)
        new = next((p for p in reversed([run.path, *run.path.parents]) if not p.exists()), None)
        wrote = False
        run.path.mkdir(parents=True, exist_ok=True)
        try:
            atomic_write_text(run.config_path, config.to_yaml())
            wrote = True
            run.write_meta(
                status="running",
                stop_reason=None,
                fingerprint=config.fingerprint(),
                config_source=config.source,
                created=_now(),
                command=" ".join(sys.argv),
            )
        except BaseException:  # disk full, read-only: leave nothing behind
            if new is not None:
                shutil.rmtree(new, ignore_errors=True)
            elif wrote:
                run.config_path.unlink(missing_ok=True)
            raise
        return run

    def read_meta(self) -> dict[str, Any]:
        if not self.run_json.is_file():
            raise RunDirError(f"{self.path} is not a deap_nas run directory (no run.json)")
        try:
            return json.loads(self.run_json.read_text())
        except json.JSONDecodeError as e:
            raise RunDirError(f"{self.run_json} is damaged: {e}") from None

    def write_meta(self, **fields: Any) -> None:
        meta = self.read_meta() if self.run_json.exists() else {"format": "deap_nas.run/1"}
        meta.update(fields, version=__version__, updated=_now())
        atomic_write_text(self.run_json, json.dumps(meta, indent=1) + "\n")

    # snapshots
    def snapshot_files(self) -> list[Path]:
        if not self.snapshots.is_dir():
            return []
        return sorted(p for p in self.snapshots.iterdir() if SNAPSHOT_RE.match(p.name))

    def write_snapshot(self, generation: int, data: dict[str, Any], keep: int = 3) -> Path:
        path = self.snapshots / f"gen_{generation:06d}.json"
        atomic_write_text(path, json.dumps(data))
        for old in self.snapshot_files()[:-keep]:
            old.unlink()
        return path

    def latest_snapshot(self, warn: Any = None) -> tuple[dict[str, Any], Path] | None:
        """The newest snapshot that parses; damaged ones are reported and skipped."""
        for path in reversed(self.snapshot_files()):
            try:
                data = json.loads(path.read_text())
                if not isinstance(data, dict) or "generation" not in data:
                    raise ValueError("missing fields")
                return data, path
            except (ValueError, OSError) as e:
                if warn is not None:
                    warn(f"snapshot {path.name} is damaged ({e}); using the previous one")
        return None
