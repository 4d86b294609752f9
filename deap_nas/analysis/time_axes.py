"""Time axes of a journal, per record in file (= completion) order.

- **wall clock**: when the record finished, in seconds since the run was created
  (``finished`` minus run.json ``created``, ISO timestamps, whole seconds); a record
  without ``finished`` (an ``invalid`` record, written at once) takes the time of the
  record before it, and so does a cache hit (its ``finished`` is copied from the training
  it reuses, an earlier time). A run interrupted and resumed has the pause in these times.
- **device**: the cumulative ``time_total`` (build, training and validation seconds of
  each training, as the budget's ``device_hours`` counts them) of the records up to and
  including this one; cache hits trained nothing and add nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = ["device_seconds", "finished_seconds", "timestamp"]


def timestamp(text: Any) -> float | None:
    """POSIX seconds of an ISO time, or None when it does not parse."""
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None


def finished_seconds(journal: Sequence[Mapping[str, Any]], created: float | None) -> list[float] | None:
    """Wall-clock seconds since ``created`` per record (module doc), or None when there is
    no ``created`` time or no record has a ``finished`` time."""
    if created is None:
        return None
    out, last, seen = [], 0.0, False
    for rec in journal:
        ts = timestamp(rec.get("finished")) if rec.get("finished") and not rec.get("cached") else None
        if ts is not None:
            last, seen = max(0.0, ts - created), True
        out.append(last)
    return out if seen else None


def device_seconds(journal: Sequence[Mapping[str, Any]]) -> list[float]:
    """Cumulative ``time_total`` per record (module doc)."""
    out, total = [], 0.0
    for rec in journal:
        t = rec.get("time_total")
        ok = isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t)
        total += float(t) if ok and not rec.get("cached") else 0.0
        out.append(total)
    return out
