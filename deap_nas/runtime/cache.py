"""Fitness cache: an evaluation whose request was answered before is not trained again.

Records are kept by their request's :meth:`~deap_nas.evaluation.request.EvalRequest.key`
(architecture hash plus every request field that changes the result), so a cached
accuracy is reused only for the very same training: not across teachers, data subsets,
stages, continuations or inherited weights. ``invalid``, ``too_large`` and ``constraint``
(a hard constraint of the ``objectives:`` section) depend on the architecture alone and
are remembered even with the cache off (never worth repeating).

While an evaluation is in flight, a second request with its key waits for it
(:meth:`FitnessCache.in_flight`) instead of training the same network twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..evaluation.request import legacy_request

UNTRAINED = ("invalid", "too_large", "constraint")  # statuses given before any training


def record_key(rec: Mapping[str, Any]) -> str:
    """The cache key of a journal record (its ``request``; older records: their fields)."""
    return legacy_request(rec).completed(arch_hash=rec.get("arch_hash")).key()


class FitnessCache:
    """Records by request key, and the evaluations in flight by key."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._in_flight: dict[str, Any] = {}

    def clear(self) -> None:
        self._records.clear()

    def remember(self, rec: dict[str, Any]) -> None:
        """Keep a finished record: a successful one (cache on) or an untrained failure."""
        status = rec.get("status")
        if (self.enabled and status == "ok") or status in UNTRAINED:
            recs = self._records.setdefault(record_key(rec), [])
            recs.append(rec)
            recs.sort(key=lambda r: r.get("eval_id", -1))  # repeats finish in any order; answer in id order

    def lookup(self, key: str) -> list[dict[str, Any]] | None:
        """The records answering ``key`` (its repeats), or None. Untrained failures are
        found with the cache off too."""
        recs = self._records.get(key)
        if recs is None or (not self.enabled and recs[0].get("status") not in UNTRAINED):
            return None
        return recs

    def in_flight(self, key: str) -> Any:
        """The pending evaluation answering ``key`` (cache on), or None."""
        return self._in_flight.get(key) if self.enabled else None

    def claim(self, key: str, pending: Any) -> None:
        self._in_flight[key] = pending

    def release(self, key: str | None, pending: Any) -> None:
        if key is not None and self._in_flight.get(key) is pending:
            del self._in_flight[key]


def cached_record(sources: list[dict[str, Any]], base: dict[str, Any], eid: int,
                  source_ids: list[int]) -> dict[str, Any]:
    """The journal record of a cache hit: the first source's result fields, this
    request's own fields (``base``), the mean accuracy of the sources when all succeeded."""
    ok = all(r.get("status") == "ok" for r in sources)
    first = {k: v for k, v in sources[0].items() if k not in ("inherited", "inherit_note", "weights", "train_state")}
    accs = [float(r["accuracy"]) for r in sources if r.get("accuracy") is not None]
    return {**first, **base, "eval_id": eid, "cached": True, "cached_from": source_ids,
            "weights": sources[0].get("weights"), "train_state": sources[0].get("train_state"),
            "accuracy": (sum(accs) / len(accs) if accs else None) if ok else None}
