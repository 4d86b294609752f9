"""The evaluation journal (JSON lines) and the logbook (CSV) of a run directory.

``journal.jsonl`` is append-only, one JSON object per evaluation (docs/run_directory.md).
A run killed mid-write leaves a truncated last line: :func:`read_journal` ignores it and
:func:`append_journal` repairs the tail before writing, so the next record starts on a
line of its own. ``logbook.csv`` is rewritten whole and atomically (temp file + rename).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "append_journal",
    "atomic_write_text",
    "file_mode",
    "read_csv",
    "read_journal",
    "read_logbook_csv",
    "write_csv",
    "write_json",
    "write_logbook_csv",
]


# ---------------------------------------------------------------------- journal
def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a journal, in file order.

    Blank lines are skipped. A last line that does not parse (a run killed mid-write) is
    ignored; a bad line anywhere else raises ``ValueError`` naming its line number.
    """
    p = Path(path)
    lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    numbered = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    records: list[dict[str, Any]] = []
    for k, (lineno, line) in enumerate(numbered):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"expected a JSON object, got {type(record).__name__}")
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            if k == len(numbered) - 1:
                break  # truncated last line: the evaluation did not finish writing
            raise ValueError(
                f"{p}: line {lineno}: corrupt journal entry ({e}); only the last line may be truncated"
            ) from None
        records.append(record)
    return records


def _repair_tail(path: Path) -> None:
    """Make the file end with a newline: a complete last record gets one, a partial one
    (unparsable, as :func:`read_journal` would ignore it) is cut off."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()  # only after a crash mid-write, so reading it all is fine
        cut = data.rfind(b"\n") + 1
        try:
            ok = isinstance(json.loads(data[cut:].decode("utf-8")), dict)
        except ValueError:  # also UnicodeDecodeError
            ok = False
        if ok:
            f.seek(0, os.SEEK_END)
            f.write(b"\n")
        else:
            f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())


def append_journal(path: str | Path, record: Mapping[str, Any]) -> None:
    """Append ``record`` as one JSON line, flushed and fsynced before returning."""
    p = Path(path)
    line = json.dumps(dict(record), separators=(",", ":")) + "\n"
    if "\n" in line[:-1]:  # cannot happen with json.dumps, but a journal line must stay one line
        raise ValueError("journal record serialised to several lines")
    _repair_tail(p)
    with open(p, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


# ---------------------------------------------------------------------- CSV
def _format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)  # nan, inf, -inf
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


def _parse_cell(text: str) -> Any:
    if text == "":
        return None
    if text in ("true", "True"):
        return True
    if text in ("false", "False"):
        return False
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)  # also "nan", "inf", "-inf"
    except ValueError:
        pass
    if text[0] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def write_csv(path: str | Path, records: Iterable[Mapping[str, Any]], first: Sequence[str] = ()) -> None:
    """Write ``records`` as CSV atomically; columns are ``first``, then the union of keys
    in first-seen order.

    Numbers are written so that :func:`read_csv` gives them back exactly; ``None`` is an
    empty cell, lists and dicts are JSON text.
    """
    rows = [dict(r) for r in records]
    columns: dict[str, None] = dict.fromkeys(map(str, first))
    for r in rows:
        for key in r:
            columns.setdefault(str(key), None)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow(_format_cell(r.get(c)) for c in columns)
    atomic_write_text(path, buf.getvalue())


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV written by :func:`write_csv`, with numbers parsed back (``nan`` -> nan)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return [{k: _parse_cell(v or "") for k, v in row.items() if k is not None} for row in reader]


def write_json(path: str | Path, data: Any) -> None:
    """``data`` as indented JSON, written atomically."""
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def write_logbook_csv(path: str | Path, records: Iterable[Mapping[str, Any]],
                      header: Sequence[str] | None = None) -> None:
    """The logbook (one row per generation) as CSV, written atomically; the columns in the
    order of the logbook's ``header`` (``gen``, ``nevals``, ...), then any others."""
    write_csv(path, records, first=header or ())


def read_logbook_csv(path: str | Path) -> list[dict[str, Any]]:
    """The logbook rows of ``logbook.csv`` (ints and floats parsed back)."""
    return read_csv(path)


def file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 less the process umask (read from
    /proc on Linux; elsewhere by setting and restoring the umask)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (all or nothing).

    The file gets the mode of a plainly created one (umask), not mkstemp's 0600, so
    colleagues on a shared file system can read a run directory. Temporary files are
    named ``.NAME.XXXXXXXX.tmp``; one left by a kill is removed on resume."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
