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

Weight inheritance (ImmuNeCS sec. 3.4): an individual with ``inherit_from`` (its parent's
weights file as in ``parent.result["weights"]``, relative to the run directory or
absolute; set by :func:`deap_nas.ops.immunecs.mark_inheritance`) is trained from those
weights except the nodes in its ``changed_layers`` (and any whose tensor shapes changed),
which keep their He initialisation. The task carries the absolute path in
``init_weights`` and the node ids in ``extra["exclude"]``; the worker loads the file (it
lies in the shared run directory, so this works across processes and SCOOP hosts). The
journal record gets ``inherit_from``, ``changed_layers`` and ``inherited`` (the transfer
report: ``copied`` / ``skipped`` node ids), or ``inherited: null`` with ``inherit_note``
when the child trained from scratch (parent without weights, file missing). Once
evaluated, ``inherit_from`` / ``inherit_note`` are removed from the individual (the record
and ``ind.result["inherit_from"]`` keep them), so a clone of it never inherits stale.

Per-individual training requests (generic; EIGEN's extinction uses them): an individual
with ``train_overrides`` (a dict of :class:`~deap_nas.evaluation.TrainConfig` fields, e.g.
``{"max_iterations": 500}``) is trained with those fields replacing the run's
``training`` values, and one with ``train_stage`` (``{"stop_iteration": N}`` and/or
``{"resume_from": "weights/000003.state.pt"}``, the latter as in a previous
``ind.result["train_state"]``) pauses after N iterations saving its training state
(``weights/<eval_id>.state.pt``, recorded as ``train_state``) or continues a paused
training from such a file (see :func:`deap_nas.evaluation.train`). Both apply to the
next evaluation only (removed from the individual once evaluated, like
``inherit_from``), are written to the journal record (``train_overrides``,
``train_stage``) and are part of the fitness-cache key: a 500-iteration result is never
reused for a 2000-iteration request. So is the mimicry teacher (context ``teacher``,
recorded as ``teacher``; a loop may change it with :meth:`Evaluator.set_teacher`).
Without any of them the key is the architecture hash, as before.

Weight store (``weight_store_dir``, off by default; NASGEP sec. III-D): for a space with
``weight_store_keys(genome)``, each task carries the store directory and the node keys in
``extra["weight_store"]``; the worker loads stored blocks into a network that inherits
nothing and offers every trained network's best weights back
(:mod:`deap_nas.evaluation.weight_store`). Results then depend on the order of training.

Fitness is the mean validation accuracy over repeats, or ``evaluation.penalty`` when any
repeat failed; the record is kept on the individual as ``ind.result`` and appended to the
journal as each evaluation finishes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..arch import ArchitectureError
from .journal import append_journal
from .worker import EvalTask, derive_seed, run_task


@dataclass(eq=False)
class Pending:
    """One individual's evaluation: its records by evaluation id, and the training tasks
    (with futures when submitted asynchronously) still to finish."""

    ind: Any
    generation: int
    arch_hash: str | None = None
    key: str | None = None  # fitness-cache key: arch_hash [+ training request]
    ids: list[int] = field(default_factory=list)
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    tasks: list[EvalTask] = field(default_factory=list)
    futures: dict[int, Any] = field(default_factory=dict)
    alias: Pending | None = None
    device_seconds: float = 0.0
    collected: bool = False
    finished: bool = False

    def add(self, eid: int, rec: dict[str, Any]) -> None:
        """Record evaluation ``eid``: final, or a placeholder its training will complete."""
        self.ids.append(eid)
        self.records[eid] = rec

    def done(self) -> bool:
        own = all(f.done() for f in self.futures.values())
        return own and (self.alias is None or self.alias.done())


UNTRAINED = ("invalid", "too_large")  # statuses given before any training
# record fields of one training's weight inheritance: not copied into cache-hit records
INHERIT_KEYS = ("inherit_from", "changed_layers", "inherited", "inherit_note")
# individual attributes of a training request (module doc), consumed by an evaluation
REQUEST_ATTRS = ("train_overrides", "train_stage")
STAGE_KEYS = ("stop_iteration", "resume_from")
# record fields that change what a training computes besides the architecture: cache key
# (data_seed: only with data.resample, where each generation has its own subsets)
KEY_FIELDS = (*REQUEST_ATTRS, "teacher", "data_seed")


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
        weight_store_dir: str | Path | None = None,
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
        # weight store (NASGEP sec. III-D): off unless given; see runtime.worker
        self.weight_store_dir = Path(weight_store_dir) if weight_store_dir else None
        self.next_eval_id = 0
        self.cache: dict[str, dict[str, Any]] = {}
        self.repeat_counts: dict[str, int] = {}
        self.reuse: dict[int, dict[str, Any]] = {}
        self._in_flight: dict[str, Pending] = {}
        # repeat number of each evaluation id handed out and not finished: an in-flight
        # child evaluated again after a resume keeps its repeat (and seed), counted once
        self.pending_repeats: dict[int, int] = {}

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        return {"next_eval_id": self.next_eval_id, "repeat_counts": dict(self.repeat_counts),
                "pending_repeats": {str(k): v for k, v in self.pending_repeats.items()}}

    def restore(self, state: dict[str, Any], journal: Sequence[dict[str, Any]]) -> None:
        """Continue after a snapshot: ids and repeat counts from it, cache from the journal
        records before it, and the records after it kept for reuse."""
        self.next_eval_id = int(state.get("next_eval_id", 0))
        self.repeat_counts = {k: int(v) for k, v in state.get("repeat_counts", {}).items()}
        self.pending_repeats = {int(k): int(v) for k, v in state.get("pending_repeats", {}).items()}
        in_flight = set(state.get("in_flight_ids", ()))
        self.cache.clear()
        self.reuse.clear()
        for rec in journal:
            if rec.get("eval_id", -1) < self.next_eval_id and rec.get("eval_id") not in in_flight:
                if not rec.get("cached"):
                    self._remember(rec)
            else:
                self.reuse[rec["eval_id"]] = rec

    def _remember(self, rec: dict[str, Any]) -> None:
        # invalid and too_large depend on the architecture alone: never worth repeating
        if (self.use_cache and rec.get("status") == "ok") or rec.get("status") in UNTRAINED:
            entry = self.cache.setdefault(cache_key(rec["arch_hash"], rec), {"records": []})
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

    def context_for(self, generation: int) -> dict[str, Any]:
        """The evaluation context of ``generation``: ``self.context`` itself, unless
        ``context["data"]["resample"]`` is true; then a copy whose ``data_seed`` is
        :func:`~deap_nas.runtime.worker.generation_data_seed` (context seed, generation), so
        each generation trains and validates on its own stratified subset."""
        if not (self.context.get("data") or {}).get("resample"):
            return self.context
        from .worker import generation_data_seed

        return {**self.context, "data_seed": generation_data_seed(int(self.context.get("data_seed", 0)), generation)}

    def _prepare(self, ind: Any, generation: int, ids: Sequence[int] | None = None) -> Pending:
        """Decode, hash, and settle what needs no training (decode failure, cache hit,
        duplicate of an evaluation in flight, journal reuse); the rest becomes tasks.
        ``ids`` re-uses evaluation ids handed out before (an in-flight child on resume)."""
        given = list(ids or [])

        def new_id() -> int:
            return given.pop(0) if given else self._new_id()

        pending = Pending(ind, generation)
        try:
            arch = self.space.decode(ind)
            arch_hash = arch.hash()
        except (ArchitectureError, ValueError, KeyError, TypeError) as e:
            eid = new_id()
            base = self._base_record(ind, generation, None, None)
            rec = {**base, "eval_id": eid, "status": "invalid", "message": f"decode: {e}",
                   "accuracy": None, "repeat": 0, "seed": None, "cached": False}
            pending.add(eid, rec)
            self._journal_untrained(rec)
            return pending
        base = self._base_record(ind, generation, arch_hash, arch)
        request = self._training_request(ind)
        if self.context.get("teacher"):
            request["teacher"] = self.context["teacher"]
        context = self.context_for(generation)
        if context is not self.context:  # data.resample: an accuracy on this generation's subsets
            request["data_seed"] = context["data_seed"]
        base.update(request)
        key = cache_key(arch_hash, request)
        pending.arch_hash = arch_hash
        pending.key = key
        hit = self.cache.get(key) if self.use_cache else None
        if hit is not None:
            eid = new_id()
            src = hit["records"]
            ok = all(r.get("status") == "ok" for r in src)
            first = {k: v for k, v in src[0].items() if k not in INHERIT_KEYS}
            rec = {**first, **base, "eval_id": eid, "cached": True, "cached_from": [r["eval_id"] for r in src],
                   "accuracy": _mean([r.get("accuracy") for r in src]) if ok else None}
            pending.add(eid, rec)
            self._journal_untrained(rec)
            return pending
        if self.use_cache and key in self._in_flight:
            pending.alias = self._in_flight[key]
            pending.add(new_id(), base)
            return pending
        init_weights, inherit = self._inheritance(ind)
        stage = self._stage_task_fields(request)
        for _ in range(self.repeats):
            eid = new_id()
            repeat = self.pending_repeats.get(eid)
            if repeat is None:  # (not an in-flight child submitted again on resume)
                repeat = self.pending_repeats[eid] = self.repeat_counts.get(arch_hash, 0)
                self.repeat_counts[arch_hash] = repeat + 1
            seed = derive_seed(self.run_seed, arch_hash, repeat)
            old = self.reuse.pop(eid, None)
            if old is not None and old.get("arch_hash") == arch_hash and not old.get("cached"):
                pending.add(eid, {**old, "reused": True})
                self._remember(old)
                continue
            weights = str(self.weights_dir / f"{eid:06d}.pt") if self.weights_dir else None
            extra = {"exclude": list(inherit["changed_layers"])} if init_weights else {}
            if self.weight_store_dir is not None and hasattr(self.space, "weight_store_keys"):
                extra["weight_store"] = {"dir": str(self.weight_store_dir.absolute()), "load": not init_weights,
                                         "keys": {str(k): v for k, v in self.space.weight_store_keys(ind).items()}}
            pending.tasks.append(EvalTask(eid, arch_hash, repeat, seed, arch.to_dict(), self.context_for(generation),
                                          weights,
                                          init_weights=init_weights, extra=extra, **stage))
            pending.add(eid, {**base, "eval_id": eid, "repeat": repeat, "seed": seed, "cached": False,
                                      **inherit})
        self._in_flight[key] = pending
        return pending

    # ------------------------------------------------------------------ training requests
    def set_teacher(self, spec: dict[str, Any] | None) -> None:
        """Use ``spec`` (runtime/teacher.py; None: none) as the mimicry teacher of the
        evaluations asked for from now on. Relative weight paths are resolved against the
        run directory (where ``ind.result["weights"]`` paths are rooted); the spec is
        recorded in each journal record (``teacher``) and is part of the cache key."""
        from .teacher import resolve_teacher

        if spec is None:
            self.context.pop("teacher", None)
            return
        spec = dict(spec)
        if "architecture" in spec and spec.get("head") is None:
            spec["head"] = self.context.get("head")  # a network of this run: this run's head
        self.context["teacher"] = resolve_teacher(spec, self.run_dir())

    def _training_request(self, ind: Any) -> dict[str, Any]:
        """The record fields of an individual's ``train_overrides`` / ``train_stage``
        (module doc); ValueError naming the field for a bad request."""
        out: dict[str, Any] = {}
        overrides = getattr(ind, "train_overrides", None)
        if overrides:
            if not isinstance(overrides, dict):
                raise ValueError(f"train_overrides: must be a dict of training fields, got {overrides!r}")
            from ..evaluation.config import TrainConfig

            try:
                TrainConfig.from_dict({**self.context["training"], **overrides})
            except (ValueError, TypeError) as e:
                raise ValueError(f"train_overrides: {e}") from None
            out["train_overrides"] = dict(overrides)
        stage = getattr(ind, "train_stage", None)
        if stage:
            unknown = sorted(set(stage) - set(STAGE_KEYS)) if isinstance(stage, dict) else None
            if unknown is None or unknown:
                raise ValueError(f"train_stage: a dict with keys {list(STAGE_KEYS)}, got {stage!r}")
            stop = stage.get("stop_iteration")
            if stop is not None and (isinstance(stop, bool) or not isinstance(stop, int) or stop < 1):
                raise ValueError(f"train_stage.stop_iteration: must be an integer >= 1, got {stop!r}")
            if self.repeats != 1:
                raise ValueError("train_stage: staged training needs evaluation.repeats = 1")
            out["train_stage"] = {k: stage[k] for k in STAGE_KEYS if stage.get(k) is not None}
        return out

    def _stage_task_fields(self, request: dict[str, Any]) -> dict[str, Any]:
        """EvalTask keyword arguments of a training request (absolute resume path)."""
        fields: dict[str, Any] = {}
        if request.get("train_overrides"):
            fields["train_overrides"] = dict(request["train_overrides"])
        stage = request.get("train_stage") or {}
        if stage.get("stop_iteration") is not None:
            fields["stop_iteration"] = int(stage["stop_iteration"])
        if stage.get("resume_from"):
            path = Path(stage["resume_from"])
            root = self.run_dir()
            if not path.is_absolute() and root is not None:
                path = root / path
            fields["resume_from"] = str(path.absolute())
        return fields

    def run_dir(self) -> Path | None:
        """Where relative weight paths are rooted: the journal's directory (else the
        weights directory's parent)."""
        if self.journal_path is not None:
            return self.journal_path.parent
        if self.weights_dir is not None:
            return self.weights_dir.parent
        return None

    def _inheritance(self, ind: Any) -> tuple[str | None, dict[str, Any]]:
        """``(absolute init-weights path or None, record fields)`` of an individual's
        weight inheritance (module doc); no fields when it asks for none."""
        src = getattr(ind, "inherit_from", None)
        note = getattr(ind, "inherit_note", None)
        if not src and not note:
            return None, {}
        changed = [int(i) for i in (getattr(ind, "changed_layers", None) or [])]
        fields: dict[str, Any] = {"inherit_from": src or None, "changed_layers": changed}
        if not src:
            return None, {**fields, "inherited": None, "inherit_note": note}
        path = Path(src)
        root = self.run_dir()
        if not path.is_absolute() and root is not None:
            path = root / path
        return str(path.absolute()), fields

    def _record_output(self, pending: Pending, out: dict[str, Any]) -> None:
        """A training finished: journal it at once (a kill after this loses nothing)."""
        rec = {**pending.records[out["eval_id"]], **out, "finished": _now()}
        if rec.get("weights") and self.journal_path is not None:
            rec["weights"] = _relative(rec["weights"], self.journal_path.parent)
        if rec.get("train_state") and self.journal_path is not None:
            rec["train_state"] = _relative(rec["train_state"], self.journal_path.parent)
        pending.records[out["eval_id"]] = rec
        pending.device_seconds += float(out.get("time_total") or 0.0)
        self._journal(rec)
        self._remember(rec)
        if self.log:
            self.log(_describe(rec))

    def _finish(self, pending: Pending, control: Any) -> None:
        """All of a pending's records are known: alias records, fitness, usage, fail-fast."""
        if pending.finished:
            return
        if pending.alias is not None:
            source = pending.alias
            src = [source.records[i] for i in source.ids]
            ok = all(r.get("status") == "ok" for r in src)
            (eid,) = pending.ids
            first = {k: v for k, v in src[0].items() if k not in INHERIT_KEYS}
            rec = {**first, **pending.records[eid], "eval_id": eid, "cached": True, "cached_from": source.ids,
                   "accuracy": _mean([r.get("accuracy") for r in src]) if ok else None}
            for key in ("generation", "genome", "architecture", "arch_hash", *KEY_FIELDS):
                if key in pending.records[eid]:
                    rec[key] = pending.records[eid][key]
            pending.records[eid] = rec
            self._journal_untrained(rec)
        if pending.key is not None and self._in_flight.get(pending.key) is pending:
            del self._in_flight[pending.key]
        for eid in pending.ids:
            self.pending_repeats.pop(eid, None)
        recs = [pending.records[i] for i in pending.ids]
        self._assign(pending.ind, recs)
        pending.finished = True
        reused = [r for r in recs if r.get("reused")]
        device = pending.device_seconds + sum(float(r.get("time_total") or 0.0) for r in reused)
        trained = sum(1 for r in recs if not r.get("cached") and r.get("status") not in UNTRAINED)
        if control is not None:
            control.evaluated(1, trained=trained, device_seconds=device)
        crashed = [r for r in recs if r.get("status") == "crashed"]
        if crashed and self.fail_fast:
            r = crashed[0]
            raise EvaluationFailed(
                f"evaluation {r['eval_id']} (architecture {r['arch_hash']}, generation {r['generation']}) "
                f"crashed: {r['message']}"
            )

    def evaluate_population(self, individuals: Sequence[Any], generation: int = 0, control: Any = None) -> None:
        """Set ``fitness.values`` and ``result`` on every individual (see module doc)."""
        pendings = [self._prepare(ind, generation) for ind in individuals]
        owner = {t.eval_id: p for p in pendings for t in p.tasks}
        tasks = [t for p in pendings for t in p.tasks]
        for out in self.map_fn(run_task, tasks):
            self._record_output(owner[out["eval_id"]], out)
        failure: EvaluationFailed | None = None
        for p in pendings:
            try:
                self._finish(p, control)
            except EvaluationFailed as e:  # finish the batch, then stop
                failure = failure or e
        if failure is not None:
            raise failure

    # ------------------------------------------------------------------ asynchronous
    def submit(self, ind: Any, generation: int = 0, ids: Sequence[int] | None = None) -> Pending:
        """Start evaluating one individual (steady-state loops); see :meth:`wait_first`."""
        pending = self._prepare(ind, generation, ids)
        pending.futures = {t.eval_id: self.map_fn.submit(run_task, t) for t in pending.tasks}
        return pending

    def _collect(self, pending: Pending) -> None:
        """Journal the results of a done pending's trainings (once)."""
        if not pending.collected:
            for fut in pending.futures.values():
                self._record_output(pending, fut.result())
            pending.collected = True

    def wait_first(self, pendings: Sequence[Pending], control: Any = None) -> Pending:
        """Block until one of ``pendings`` is done (the first in list order among those
        done), set its fitness and result, and return it."""
        while True:
            for p in pendings:
                if p.done():
                    if p.alias is not None:
                        self._collect(p.alias)
                    self._collect(p)
                    self._finish(p, control)
                    return p
            running = [
                f for p in pendings for q in (p, p.alias) if q is not None for f in q.futures.values() if not f.done()
            ]
            self.map_fn.wait_first(running)

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
        if any(k in first for k in INHERIT_KEYS):
            ind.result.update({k: first.get(k) for k in INHERIT_KEYS})
        if any(k in first for k in REQUEST_ATTRS):  # a training request: what was asked, where it paused
            ind.result.update({k: first.get(k) for k in REQUEST_ATTRS if k in first})
            ind.result["iterations"] = first.get("iterations")
            ind.result["train_state"] = first.get("train_state")
        for attr in ("inherit_from", "inherit_note", *REQUEST_ATTRS):  # consumed: a clone must not inherit stale
            if attr in getattr(ind, "__dict__", {}):
                delattr(ind, attr)

    def _journal_untrained(self, rec: dict[str, Any]) -> None:
        if not self._journaled_before(rec):
            self._journal(rec)

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


def cache_key(arch_hash: str, request: dict[str, Any]) -> str:
    """Fitness-cache key: the architecture hash, plus the training request (overrides,
    stage and teacher, as in a journal record) when there is one."""
    req = {k: request[k] for k in KEY_FIELDS if request.get(k)}
    if not req:
        return arch_hash
    return f"{arch_hash}|{json.dumps(req, sort_keys=True, separators=(',', ':'))}"


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

