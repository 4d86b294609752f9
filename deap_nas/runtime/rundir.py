"""The run directory (docs/run_directory.md): paths, run.json, atomic snapshots."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from .config import RunConfig
from .environment import environment
from .journal import atomic_write_text

__all__ = ["SNAPSHOT_FORMAT", "RunDir", "RunDirError", "atomic_write_text", "check_snapshot", "now"]

SNAPSHOT_RE = re.compile(r"^gen_(\d{6})\.json$")
SNAPSHOT_FORMAT = "deap_nas.snapshot/1"
#: folders of a run directory where the runtime and its workers write through temp files
TEMP_DIRS = (".", "snapshots", "weights", "weight_store")


class RunDirError(ValueError):
    """A run directory that cannot be used: the message names it and why."""


def now() -> str:
    """The current UTC time as ISO text (seconds)."""
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

    @property
    def lock_path(self) -> Path:
        return self.path / "run.lock"

    # creation and metadata
    @staticmethod
    def resolve_path(config: RunConfig, path: str | Path | None = None) -> Path:
        """``path``, or ``output.dir/output.name`` (default ``<config stem>-<time>``)."""
        if path is not None:
            return Path(path)
        stem = Path(config.source).stem if config.source else "run"
        name = config.output.name or f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        return Path(config.output.dir) / name

    @staticmethod
    def check_new(path: str | Path) -> Path | None:
        """RunDirError unless a new run may start in ``path``; returns the topmost folder
        that starting it will create (``output.dir`` may be new too), or None."""
        path = Path(path)
        if (path / "run.json").exists():
            raise RunDirError(f"{path} already holds a run; use `deap-nas resume {path}` or another name")
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{path} is a file, not a run directory")
        return next((p for p in reversed([path, *path.parents]) if not p.exists()), None)

    @classmethod
    def create(cls, config: RunConfig, path: str | Path | None = None) -> RunDir:
        run = cls(cls.resolve_path(config, path))
        new = cls.check_new(run.path)
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
                created=now(),
                command=" ".join(sys.argv),
                environment=environment(),
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
        meta.update(fields, version=__version__, updated=now())
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
        """The newest snapshot that parses and passes :func:`check_snapshot`; damaged
        ones are reported and skipped (the previous one is used)."""
        for path in reversed(self.snapshot_files()):
            try:
                data = json.loads(path.read_text())
                check_snapshot(data)
                return data, path
            except (ValueError, OSError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                if warn is not None:
                    warn(f"snapshot {path.name} is damaged ({e}); using the previous one")
        return None

    # leftovers of a killed process
    def remove_stale_temp_files(self) -> list[Path]:
        """Delete the temporary files of atomic writes (``*.tmp``) that a killed process
        left in the folders the runtime writes (:data:`TEMP_DIRS`). Only call this while
        holding the run's lock: a live writer's temp file would be removed too."""
        removed = []
        for sub in TEMP_DIRS:
            folder = self.path / sub
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                if p.name.endswith(".tmp") and p.is_file():
                    p.unlink(missing_ok=True)
                    removed.append(p)
        return removed


_RNG_FIELDS = {"python": (list, 3), "numpy": (list, 5), "torch": (str, None)}
_SNAPSHOT_FIELDS = {"generation": int, "next_eval_id": int, "population": list, "hall_of_fame": list,
                    "logbook": list, "usage": dict, "rng": dict}


def check_snapshot(data: Any) -> None:
    """What makes a snapshot: a JSON object with ``format`` deap_nas.snapshot/1, the
    fields of :data:`_SNAPSHOT_FIELDS` with their types, and ``rng`` holding the Python
    (3 items), numpy (5 items) and torch (text) states. Raises ValueError naming the
    first field that is wrong; optional fields (``in_flight``, ``algorithm``,
    ``loop_rng``, ``evaluator``) are not checked."""
    if not isinstance(data, dict):
        raise ValueError(f"not a snapshot: a JSON {type(data).__name__}, not an object")
    if data.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"not a snapshot: format {data.get('format')!r}, not {SNAPSHOT_FORMAT!r}")
    for key, kind in _SNAPSHOT_FIELDS.items():
        value = data.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"not a snapshot: field {key!r} is {type(value).__name__}, not {kind.__name__}")
    for key, (kind, size) in _RNG_FIELDS.items():
        value = data["rng"].get(key)
        if not isinstance(value, kind) or (size is not None and len(value) != size):
            raise ValueError(f"not a snapshot: rng state {key!r} is malformed")
