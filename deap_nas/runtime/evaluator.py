"""Main-process side of evaluation: genome -> architecture -> tasks -> fitness.

:class:`Evaluator.evaluate_population` is what the runtime registers as
``toolbox.evaluate_population``. For each individual it decodes the genome (torch-free),
hashes the architecture and then, in this order:

1. fitness cache (``evaluation.cache``): an architecture hash trained before is not
   trained again; the journal records the reuse with ``cached: true``;
2. resume reuse: evaluation ids are handed out in request order, so a resumed run asks
   for the same ids as the interrupted one; a journal record with that id and hash is
   taken instead of training;
3. otherwise one :class:`~deap_nas.runtime.worker.EvalTask` per repeat, run through
   ``toolbox.map`` (serial, process pool or SCOOP).

Fitness is the mean validation accuracy over repeats, or ``evaluation.penalty`` when any
repeat failed; the record is kept on the individual as ``ind.result`` and appended to the
journal as each evaluation finishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..arch import ArchitectureError
from .journal import append_journal
from .worker import EvalTask, derive_seed, run_task


class EvaluationFailed(RuntimeError):
    """Raised with ``evaluation.fail_fast`` when a candidate crashed; names the candidate."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Evaluator:
    """Fitness cache, journal, resume reuse and dispatch of training tasks."""

    def __init__(
        self,
        space: Any,
        context: dict[str, Any],
        *,
        run_seed: int,
        map_fn: Callable[[Callable, Iterable], Iterable] = map,
        journal_path: str | Path | None = None,
        weights_dir: str | Path | None = None,
        cache: bool = True,
        repeats: int = 1,
        penalty: float = 0.0,
        fail_fast: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.space = space
        self.context = context
        self.run_seed = run_seed
        self.map_fn = map_fn
        self.journal_path = Path(journal_path) if journal_path else None
        self.weights_dir = Path(weights_dir) if weights_dir else None
        self.use_cache = cache
        self.repeats = repeats
        self.penalty = penalty
        self.fail_fast = fail_fast
        self.log = log
        self.next_eval_id = 0
        self.cache: dict[str, dict[str, Any]] = {}
        self.repeat_counts: dict[str, int] = {}
        self.reuse: dict[int, dict[str, Any]] = {}

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        return {"next_eval_id": self.next_eval_id, "repeat_counts": dict(self.repeat_counts)}

    def restore(self, state: dict[str, Any], journal: Sequence[dict[str, Any]]) -> None:
        """Continue after a snapshot: ids and repeat counts from it, cache from the journal
        records before it, and the records after it kept for reuse."""
        self.next_eval_id = int(state.get("next_eval_id", 0))
        self.repeat_counts = {k: int(v) for k, v in state.get("repeat_counts", {}).items()}
        self.cache.clear()
        self.reuse.clear()
        for rec in journal:
            if rec.get("eval_id", -1) < self.next_eval_id:
                if not rec.get("cached"):
                    self._remember(rec)
            else:
                self.reuse[rec["eval_id"]] = rec

    def _remember(self, rec: dict[str, Any]) -> None:
        # invalid and too_large depend on the architecture alone: never worth repeating
        if (self.use_cache and rec.get("status") == "ok") or rec.get("status") in ("invalid", "too_large"):
            entry = self.cache.setdefault(rec["arch_hash"], {"records": []})
            entry["records"].append(rec)

    # ------------------------------------------------------------------ evaluation
    def _base_record(self, ind: Any, generation: int, arch_hash: str | None, arch: Any) -> dict[str, Any]:
        return {
            "generation": generation,
            "arch_hash": arch_hash,
            "genome": self.space.to_json(ind),
            "architecture": arch.to_dict() if arch is not None else None,
        }

    def _new_id(self) -> int:
        i = self.next_eval_id
        self.next_eval_id += 1
        return i

    def evaluate_population(self, individuals: Sequence[Any], generation: int = 0, control: Any = None) -> None:
        """Set ``fitness.values`` and ``result`` on every individual (see module doc)."""
        plans: list[tuple[Any, dict[str, Any], list[int]]] = []
        tasks: list[EvalTask] = []
        finished: dict[int, dict[str, Any]] = {}
        in_batch: dict[str, list[int]] = {}
        aliases: list[tuple[int, list[int], dict[str, Any]]] = []
        for ind in individuals:
            try:
                arch = self.space.decode(ind)
                arch_hash = arch.hash()
            except (ArchitectureError, ValueError, KeyError, TypeError) as e:
                eid = self._new_id()
                base = self._base_record(ind, generation, None, None)
                finished[eid] = {**base, "eval_id": eid, "status": "invalid", "message": f"decode: {e}",
                                 "accuracy": None, "repeat": 0, "seed": None, "cached": False}
                plans.append((ind, base, [eid]))
                continue
            base = self._base_record(ind, generation, arch_hash, arch)
            hit = self.cache.get(arch_hash) if self.use_cache else None
            if hit is not None:
                eid = self._new_id()
                src = hit["records"]
                rec = {**src[0], **base, "eval_id": eid, "cached": True, "cached_from": [r["eval_id"] for r in src]}
                rec["accuracy"] = _mean([r.get("accuracy") for r in src]) if all(r.get("status") == "ok" for r in src) else None
                finished[eid] = rec
                plans.append((ind, base, [eid]))
                continue
            if self.use_cache and arch_hash in in_batch:
                eid = self._new_id()
                aliases.append((eid, in_batch[arch_hash], base))
                plans.append((ind, base, [eid]))
                continue
            ids = []
            for _ in range(self.repeats):
                eid = self._new_id()
                repeat = self.repeat_counts.get(arch_hash, 0)
                self.repeat_counts[arch_hash] = repeat + 1
                seed = derive_seed(self.run_seed, arch_hash, repeat)
                ids.append(eid)
                old = self.reuse.pop(eid, None)
                if old is not None and old.get("arch_hash") == arch_hash and not old.get("cached"):
                    finished[eid] = {**old, "reused": True}
                    self._remember(old)
                    continue
                weights = str(self.weights_dir / f"{eid:06d}.pt") if self.weights_dir else None
                tasks.append(EvalTask(eid, arch_hash, repeat, seed, arch.to_dict(), self.context, weights))
                finished[eid] = {**base, "eval_id": eid, "repeat": repeat, "seed": seed, "cached": False}
            plans.append((ind, base, ids))
            in_batch[arch_hash] = ids

        # journal the records that need no training first (decode failures, cache hits)
        training = {t.eval_id for t in tasks}
        for eid in sorted(finished):
            rec = finished[eid]
            if eid not in training and not rec.get("reused") and not self._journaled_before(rec):
                self._journal(rec)
        device_seconds = sum(float(r.get("time_total") or 0.0) for r in finished.values() if r.get("reused"))
        reused = sum(1 for r in finished.values() if r.get("reused"))
        crashed: list[dict[str, Any]] = []
        for out in self.map_fn(run_task, tasks):
            rec = {**finished[out["eval_id"]], **out, "finished": _now()}
            if rec.get("weights") and self.journal_path is not None:
                rec["weights"] = _relative(rec["weights"], self.journal_path.parent)
            finished[out["eval_id"]] = rec
            device_seconds += float(out.get("time_total") or 0.0)
            self._journal(rec)
            self._remember(rec)
            if self.log:
                self.log(_describe(rec))
            if rec["status"] == "crashed":
                crashed.append(rec)
        for eid, source_ids, base in aliases:  # duplicates within this batch
            src = [finished[i] for i in source_ids]
            ok = all(r.get("status") == "ok" for r in src)
            rec = {**src[0], **base, "eval_id": eid, "cached": True, "cached_from": source_ids,
                   "accuracy": _mean([r.get("accuracy") for r in src]) if ok else None}
            finished[eid] = rec
            if not self._journaled_before(rec):
                self._journal(rec)
        for ind, _base, ids in plans:
            recs = [finished[i] for i in ids]
            self._assign(ind, recs)
        if control is not None:
            control.evaluated(len(individuals), trained=len(tasks) + reused, device_seconds=device_seconds)
        if crashed and self.fail_fast:
            r = crashed[0]
            raise EvaluationFailed(
                f"evaluation {r['eval_id']} (architecture {r['arch_hash']}, generation {r['generation']}) "
                f"crashed: {r['message']}"
            )

    def _assign(self, ind: Any, recs: list[dict[str, Any]]) -> None:
        ok = all(r.get("status") == "ok" for r in recs)
        acc = _mean([r.get("accuracy") for r in recs]) if ok else None
        ind.fitness.values = (acc if ok and acc is not None else self.penalty,)
        first = recs[0]
        status = "ok" if ok else next(r["status"] for r in recs if r.get("status") != "ok")
        ind.result = {
            "eval_ids": [r["eval_id"] for r in recs],
            "arch_hash": first.get("arch_hash"),
            "status": status,
            "message": "" if ok else next(r.get("message", "") for r in recs if r.get("status") != "ok"),
            "accuracy": acc,
            "params": first.get("params"),
            "cached": bool(first.get("cached")),
            "weights": next((r.get("weights") for r in recs if r.get("weights")), None),
            "architecture": first.get("architecture"),
        }

    def _journaled_before(self, rec: dict[str, Any]) -> bool:
        """True for a record that needs no training (decode failure, cache hit, in-batch
        duplicate) which the interrupted run already journaled under this id: a resumed run
        must not append it a second time."""
        old = self.reuse.pop(rec["eval_id"], None)
        return old is not None and old.get("arch_hash") == rec.get("arch_hash")

    def _journal(self, rec: dict[str, Any]) -> None:
        if self.journal_path is not None:
            out = {k: v for k, v in rec.items() if k != "reused"}
            ok = out.get("status") == "ok" and out.get("accuracy") is not None
            out["fitness"] = [float(out["accuracy"]) if ok else self.penalty]  # docs/run_directory.md
            append_journal(self.journal_path, out)


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return path


def _describe(rec: dict[str, Any]) -> str:
    acc = rec.get("accuracy")
    acc_s = f"acc {acc:.4f}" if acc is not None else rec["status"]
    params = rec.get("params")
    return (
        f"    eval {rec['eval_id']:>4} {rec.get('arch_hash') or '-':<20} {acc_s:<12} "
        f"params {params if params is not None else '-':>9}  {rec.get('time_total', 0.0):6.1f}s"
        + (f"  ({rec['message']})" if rec.get("status") != "ok" and rec.get("message") else "")
    )


def evaluate_genome(individual: Any, space: Any, context: dict[str, Any], run_seed: int = 0) -> tuple[float]:
    """Plain-DEAP fitness function: ``toolbox.register("evaluate", evaluate_genome,
    space=space, context=context)``; no cache or journal. Failures give 0.0."""
    arch = space.decode(individual)
    h = arch.hash()
    rec = run_task(EvalTask(-1, h, 0, derive_seed(run_seed, h, 0), arch.to_dict(), context))
    individual.result = rec
    return (rec["accuracy"] if rec["status"] == "ok" and rec["accuracy"] is not None else 0.0,)


def clock() -> float:
    return time.perf_counter()
