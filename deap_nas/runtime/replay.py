"""Evaluation ids, repeat counts and journal replay: what makes a resumed run train
nothing twice and hand out the same ids and seeds as the uninterrupted run.

Ids are handed out in request order. After a snapshot, :meth:`JournalReplay.restore`
takes the journal: records before the snapshot's id counter fill the fitness cache,
records after it (evaluations finished after the snapshot) are kept for reuse, so when
the resumed loop asks for id ``i`` again with the same architecture, record ``i`` is
taken instead of training. Records are looked up by id, never by line: the journal is
in completion order (a later id may precede an earlier one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .cache import FitnessCache


class JournalReplay:
    """Id counter, repeat counts per architecture, and the records kept for reuse."""

    def __init__(self) -> None:
        self.next_eval_id = 0
        self.repeat_counts: dict[str, int] = {}
        # repeat number of each id handed out and not finished: an in-flight child
        # evaluated again after a resume keeps its repeat (and seed), counted once
        self.pending_repeats: dict[int, int] = {}
        self.reuse: dict[int, dict[str, Any]] = {}

    def state(self) -> dict[str, Any]:
        return {"next_eval_id": self.next_eval_id, "repeat_counts": dict(self.repeat_counts),
                "pending_repeats": {str(k): v for k, v in self.pending_repeats.items()}}

    def restore(self, state: dict[str, Any], journal: Sequence[dict[str, Any]], cache: FitnessCache) -> None:
        """Continue after a snapshot (module doc)."""
        self.next_eval_id = int(state.get("next_eval_id", 0))
        self.repeat_counts = {k: int(v) for k, v in state.get("repeat_counts", {}).items()}
        self.pending_repeats = {int(k): int(v) for k, v in state.get("pending_repeats", {}).items()}
        in_flight = set(state.get("in_flight_ids", ()))
        cache.clear()
        self.reuse.clear()
        for rec in journal:
            eid = rec.get("eval_id", -1)
            if eid < self.next_eval_id and eid not in in_flight:
                if not rec.get("cached"):
                    cache.remember(rec)
            else:
                self.reuse[eid] = rec

    def new_id(self) -> int:
        i = self.next_eval_id
        self.next_eval_id += 1
        return i

    def repeat_for(self, eid: int, arch_hash: str) -> int:
        """The repeat index of evaluation ``eid`` of ``arch_hash`` (kept across a resume)."""
        repeat = self.pending_repeats.get(eid)
        if repeat is None:
            repeat = self.pending_repeats[eid] = self.repeat_counts.get(arch_hash, 0)
            self.repeat_counts[arch_hash] = repeat + 1
        return repeat

    def take(self, eid: int, arch_hash: str) -> dict[str, Any] | None:
        """The interrupted run's trained record ``eid`` of ``arch_hash``, once; else None."""
        old = self.reuse.pop(eid, None)
        if old is not None and old.get("arch_hash") == arch_hash and not old.get("cached"):
            return old
        return None

    def journaled_before(self, rec: dict[str, Any]) -> bool:
        """True for an untrained record (decode failure, cache hit) that the interrupted
        run already journaled under this id: it must not be appended a second time."""
        old = self.reuse.pop(rec["eval_id"], None)
        return old is not None and old.get("arch_hash") == rec.get("arch_hash")

    def finished(self, ids: Sequence[int]) -> None:
        for eid in ids:
            self.pending_repeats.pop(eid, None)
