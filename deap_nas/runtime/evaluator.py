"""Main-process side of evaluation: (individual, request) -> records -> fitness.

:meth:`Evaluator.evaluate_population` is what the runtime registers as
``toolbox.evaluate_population``. Each individual comes with an
:class:`~deap_nas.evaluation.request.EvalRequest` (default: from scratch) saying how it is
to be trained; the evaluator decodes the genome (torch-free), completes the request with
what only the runtime knows (architecture hash, teacher, data-subset seed, weight store,
repeat) and then, in this order:

1. fitness cache (:mod:`~deap_nas.runtime.cache`, ``evaluation.cache``): a request whose
   key was answered before is not trained again; the journal records the reuse with
   ``cached: true``;
2. journal replay (:mod:`~deap_nas.runtime.replay`): a resumed run asks for the same ids
   as the interrupted one and a journal record with that id and hash is taken instead of
   training;
3. otherwise one :class:`~deap_nas.runtime.worker.EvalTask` per repeat, dispatched
   through the parallel map (serial, process pool, SCOOP or Dask: :mod:`~deap_nas.runtime.parallel`),
   each with its hard limit (:func:`hard_limit`; enforced by the process pool only). A
   task whose worker died (Dask: after its retries) or was killed past that limit gets a ``crashed`` / ``timeout``
   record (:func:`lost_record`), like any failed training.

Relative weight and state paths in requests are rooted at the run directory (where
``ind.result["weights"]`` paths are); tasks carry them absolute. Fitness is the mean
validation accuracy over repeats, or ``evaluation.penalty`` when any repeat failed; the
outcome is kept on the individual as ``ind.result`` (the only attribute the runtime sets
besides the fitness) and each record is appended to the journal as it finishes
(completion order; the fitness of a batch is set in request order once it is complete). See
docs/architecture.md, "The life of one evaluation request".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..evaluation.request import EvalRequest, Start
from ..spaces.types import set_fitness
from .cache import UNTRAINED, FitnessCache, cached_record
from .journal import append_journal
from .lookahead import DECODE_ERRORS, Lookahead
from .pool import WorkerLost
from .replay import JournalReplay
from .worker import EvalTask, derive_seed, failure_record, generation_data_seed, run_task

#: without ``evaluation.hard_timeout``, a candidate with ``training.time_limit`` T is
#: stopped from outside after ``HARD_TIMEOUT_FACTOR * T + HARD_TIMEOUT_GRACE`` seconds
HARD_TIMEOUT_FACTOR = 2.0
HARD_TIMEOUT_GRACE = 60.0


def hard_limit(hard_timeout: float | None, training: dict[str, Any], overrides: dict[str, Any]) -> float | None:
    """Seconds after which a task is stopped from outside its worker: ``hard_timeout``
    when set, else derived from the task's ``time_limit`` (the training section's, or the
    request's override), else None (no limit)."""
    if hard_timeout is not None:
        return float(hard_timeout)
    limit = overrides.get("time_limit", training.get("time_limit"))
    return HARD_TIMEOUT_FACTOR * float(limit) + HARD_TIMEOUT_GRACE if limit is not None else None


def lost_record(task: EvalTask, error: WorkerLost, seconds: float) -> dict[str, Any]:
    """The record of a task whose worker died (``crashed``) or was killed past its hard
    timeout (``timeout``)."""
    message = str(error) + (" (evaluation.hard_timeout)" if error.status == "timeout" else "")
    return failure_record(task, error.status, message, seconds, worker=error.worker)


@dataclass(eq=False)
class Pending:
    """One individual's evaluation: its records by evaluation id, and the training tasks
    (with futures when submitted asynchronously) still to finish."""

    ind: Any
    generation: int
    request: EvalRequest = field(default_factory=EvalRequest)
    key: str | None = None
    ids: list[int] = field(default_factory=list)
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    tasks: list[EvalTask] = field(default_factory=list)
    futures: dict[int, Any] = field(default_factory=dict)
    alias: Pending | None = None
    device_seconds: float = 0.0
    collected: bool = False
    finished: bool = False
    started: float = 0.0

    def add(self, eid: int, rec: dict[str, Any]) -> None:
        self.ids.append(eid)
        self.records[eid] = rec

    def done(self) -> bool:
        own = all(f.done() for f in self.futures.values())
        return own and (self.alias is None or self.alias.done())


class EvaluationFailed(RuntimeError):
    """Raised with ``evaluation.fail_fast`` when a candidate crashed; names the candidate."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Evaluator:
    """Requests in, fitness out: cache, journal replay and dispatch (module doc)."""

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
        hard_timeout: float | None = None,
        objectives: Sequence[Any] = (),
    ) -> None:
        self.space = space
        self.context = context
        self.run_seed = run_seed
        self.map_fn = map_fn
        self.journal_path = Path(journal_path) if journal_path else None
        self.weights_dir = Path(weights_dir) if weights_dir else None
        self.cache = FitnessCache(cache)
        self.replay = JournalReplay()
        self.repeats = repeats
        self.penalty = penalty
        self.fail_fast = fail_fast
        self.log = log
        self.weight_store_dir = Path(weight_store_dir) if weight_store_dir else None
        self.hard_timeout = hard_timeout
        #: the ``objectives:`` of a multi-objective search (vector fitness), else ()
        self.objectives = tuple(objectives)
        self._warned_timeout = False
        #: called with each record once it is in the journal (e.g. TensorBoard logging)
        self.on_record: Callable[[dict[str, Any]], None] | None = None
        self.lookahead = Lookahead(self)

    # ------------------------------------------------------------------ state
    @property
    def use_cache(self) -> bool:
        return self.cache.enabled

    @property
    def next_eval_id(self) -> int:
        return self.replay.next_eval_id

    def state(self) -> dict[str, Any]:
        return self.replay.state()

    def restore(self, state: dict[str, Any], journal: Sequence[dict[str, Any]]) -> None:
        """Continue after a snapshot (:meth:`~deap_nas.runtime.replay.JournalReplay.restore`)."""
        self.replay.restore(state, journal, self.cache)

    # ------------------------------------------------------------------ requests
    def set_teacher(self, spec: dict[str, Any] | None) -> None:
        """Use ``spec`` (runtime/teacher.py; None: none) as the mimicry teacher of the
        evaluations asked for from now on. Relative weight paths are resolved against the
        run directory; the spec is part of every later request (and so of the cache key)."""
        from .teacher import resolve_teacher

        if spec is None:
            self.context.pop("teacher", None)
            return
        spec = dict(spec)
        if "architecture" in spec and spec.get("head") is None:
            spec["head"] = self.context.get("head")  # a network of this run: this run's head
        self.context["teacher"] = resolve_teacher(spec, self.run_dir())

    def context_for(self, generation: int) -> dict[str, Any]:
        """The evaluation context of ``generation``: ``self.context``, unless
        ``data.resample`` is on; then a copy whose ``data_seed`` is
        :func:`~deap_nas.runtime.worker.generation_data_seed` (context seed, generation)."""
        if not (self.context.get("data") or {}).get("resample"):
            return self.context
        return {**self.context, "data_seed": generation_data_seed(int(self.context.get("data_seed", 0)), generation)}

    def complete(self, request: EvalRequest | None, arch_hash: str, generation: int) -> EvalRequest:
        """``request`` with the runtime's fields: hash, teacher, data seed, weight store."""
        request = request or EvalRequest()
        if not isinstance(request, EvalRequest):
            raise TypeError(f"requests: EvalRequest objects, got {type(request).__name__}")
        self._check(request)
        context = self.context_for(generation)
        store = self.weight_store_dir is not None and hasattr(self.space, "weight_store_keys")
        return request.completed(arch_hash=arch_hash, teacher=self._teacher_in_run(),
                                 data_seed=context["data_seed"] if context is not self.context else None,
                                 weight_store=store)

    def _teacher_in_run(self) -> dict[str, Any] | None:
        """The teacher spec as requests record it: paths inside the run directory relative
        to it (like start weights), so journal, snapshots and cache keys do not name the
        directory and a moved run resumes the same; tasks get them absolute again."""
        spec = self.context.get("teacher")
        root = self.run_dir()
        if not spec or root is None:
            return spec
        from .teacher import PATH_KEYS

        out = dict(spec)
        for key in PATH_KEYS:
            if isinstance(out.get(key), str):
                out[key] = _relative(out[key], root)
        return out

    def _check(self, request: EvalRequest) -> None:
        """ValueError naming the field for a request this run cannot carry out."""
        if request.overrides:
            from ..evaluation.config import TrainConfig

            try:
                TrainConfig.from_dict({**self.context.get("training", {}), **request.overrides_dict})
            except (ValueError, TypeError) as e:
                raise ValueError(f"request.overrides: {e}") from None
        if (request.stop_iteration is not None or request.start.kind == "resume") and self.repeats != 1:
            raise ValueError("request: staged training needs evaluation.repeats = 1")

    def run_dir(self) -> Path | None:
        """Where relative weight paths are rooted: the journal's directory (else the
        weights directory's parent)."""
        if self.journal_path is not None:
            return self.journal_path.parent
        if self.weights_dir is not None:
            return self.weights_dir.parent
        return None

    def _absolute(self, path: str | None) -> str | None:
        if not path:
            return path
        p, root = Path(path), self.run_dir()
        if not p.is_absolute() and root is not None:
            p = root / p
        return str(p.absolute())

    def _task_request(self, request: EvalRequest) -> dict[str, Any]:
        """The request as the worker gets it: file paths absolute."""
        s = request.start
        start = Start(s.kind, weights=self._absolute(s.weights), reinit=s.reinit, state=self._absolute(s.state),
                      until=s.until, note=s.note)
        teacher = request.teacher_spec
        if teacher:
            from .teacher import PATH_KEYS

            teacher = {k: (self._absolute(v) if k in PATH_KEYS and isinstance(v, str) else v)
                       for k, v in teacher.items()}
        return EvalRequest(**{**vars(request), "start": start}).completed(teacher=teacher).to_dict()

    # ------------------------------------------------------------------ evaluation
    def _base_record(self, ind: Any, generation: int, arch: Any, request: EvalRequest | None) -> dict[str, Any]:
        arch_hash = request.arch_hash if request is not None and request.arch_hash else None
        if arch is not None and arch_hash is None:
            arch_hash = arch.hash()
        rec = {"generation": generation, "arch_hash": arch_hash,
               "genome": self.space.to_json(ind), "architecture": arch.to_dict() if arch is not None else None}
        if request is not None:
            rec.update(request=request.to_dict(), role=request.role())
            if request.start.note:
                rec["inherit_note"] = request.start.note
        return rec

    def _prepare(self, ind: Any, generation: int, request: EvalRequest | None = None,
                 ids: Sequence[int] | None = None) -> Pending:
        """Decode, complete the request, settle what needs no training (decode failure,
        cache hit, duplicate in flight, journal replay); the rest becomes tasks. ``ids``
        re-uses evaluation ids handed out before (an in-flight child on resume)."""
        given = list(ids or [])

        def new_id() -> int:
            return given.pop(0) if given else self.replay.new_id()

        pending = Pending(ind, generation)
        try:
            arch = self.space.decode(ind)
            arch_hash = arch.hash()
        except DECODE_ERRORS as e:
            rec = {**self._base_record(ind, generation, None, request or EvalRequest()), "eval_id": new_id(),
                   "status": "invalid", "message": f"decode: {e}", "accuracy": None, "repeat": 0, "seed": None,
                   "cached": False}
            pending.add(rec["eval_id"], rec)
            self._journal_untrained(rec)
            return pending
        req = pending.request = self.complete(request, arch_hash, generation)
        pending.key = key = req.key()
        base = self._base_record(ind, generation, arch, req)
        hit = self.cache.lookup(key)
        if hit is not None:
            rec = cached_record(hit, base, new_id(), [r["eval_id"] for r in hit])
            pending.add(rec["eval_id"], rec)
            self._journal_untrained(rec)
            return pending
        twin = self.cache.in_flight(key)
        if twin is not None:
            pending.alias = twin
            pending.add(new_id(), base)
            return pending
        for _ in range(self.repeats):
            self._add_training(pending, new_id(), arch, req, base, generation)
        self.cache.claim(key, pending)
        return pending

    def _add_training(self, pending: Pending, eid: int, arch: Any, req: EvalRequest, base: dict[str, Any],
                      generation: int) -> None:
        """One repeat: a journal record to reuse (resume), or a training task."""
        arch_hash = req.arch_hash or ""
        repeat = self.replay.repeat_for(eid, arch_hash)
        seed = derive_seed(self.run_seed, arch_hash, repeat)
        old = self.replay.take(eid, arch_hash)
        if old is not None:
            pending.add(eid, {**old, "reused": True})
            self.cache.remember(old)
            return
        req = req.completed(repeat=repeat)
        weights = str(self.weights_dir / f"{eid:06d}.pt") if self.weights_dir else None
        store = None
        if req.weight_store:
            store = {"dir": str(self.weight_store_dir.absolute()),  # type: ignore[union-attr]
                     "keys": {str(k): v for k, v in self.space.weight_store_keys(pending.ind).items()}}
        pending.tasks.append(EvalTask(eid, arch_hash, repeat, seed, arch.to_dict(), self.context_for(generation),
                                      weights, request=self._task_request(req), weight_store=store))
        pending.add(eid, {**base, "request": req.to_dict(), "eval_id": eid, "repeat": repeat, "seed": seed,
                          "cached": False})

    def _record_output(self, pending: Pending, out: dict[str, Any]) -> None:
        """A training finished: journal it at once (a kill after this loses nothing)."""
        rec = {**pending.records[out["eval_id"]], **out, "finished": _now()}
        root = self.run_dir()
        for k in ("weights", "train_state"):
            if rec.get(k) and self.journal_path is not None and root is not None:
                rec[k] = _relative(rec[k], root)
        pending.records[out["eval_id"]] = rec
        pending.device_seconds += float(out.get("time_total") or 0.0)
        self._journal(rec)
        self.cache.remember(rec)
        if self.log:
            self.log(_describe(rec))

    def _finish(self, pending: Pending, control: Any) -> None:
        """All of a pending's records are known: alias records, fitness, usage, fail-fast."""
        if pending.finished:
            return
        if pending.alias is not None:
            source = pending.alias
            (eid,) = pending.ids
            rec = cached_record([source.records[i] for i in source.ids], pending.records[eid], eid, source.ids)
            pending.records[eid] = rec
            self._journal_untrained(rec)
        self.cache.release(pending.key, pending)
        self.replay.finished(pending.ids)
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

    def evaluate_population(self, individuals: Sequence[Any], generation: int = 0, control: Any = None,
                            requests: Sequence[EvalRequest | None] | None = None) -> None:
        """Set ``fitness.values`` and ``result`` on every individual; ``requests`` (one per
        individual, None entries: from scratch) say how each is trained (module doc)."""
        reqs = list(requests) if requests is not None else [None] * len(individuals)
        if len(reqs) != len(individuals):
            raise ValueError(f"requests: {len(reqs)} for {len(individuals)} individuals")
        pendings = [self._prepare(ind, generation, r) for ind, r in zip(individuals, reqs, strict=True)]
        owner = {t.eval_id: p for p in pendings for t in p.tasks}
        tasks = [t for p in pendings for t in p.tasks]
        runs = self.lookahead.run(tasks) if self.lookahead.enabled() else self._run(tasks)
        for task, out in runs:
            self._record_output(owner[task.eval_id], out)
        failure: EvaluationFailed | None = None
        for p in pendings:
            try:
                self._finish(p, control)
            except EvaluationFailed as e:  # finish the batch, then stop
                failure = failure or e
        if failure is not None:
            raise failure

    def prefetch(self, individuals: Sequence[Any], generation: int) -> None:
        """What the loop will ask for next (``generation``'s individuals, from scratch):
        trained by idle workers while the current batch ends (:class:`Lookahead`)."""
        self.lookahead.hint(list(individuals), generation)

    # ------------------------------------------------------------------ asynchronous
    def submit(self, ind: Any, generation: int = 0, ids: Sequence[int] | None = None,
               request: EvalRequest | None = None) -> Pending:
        """Start evaluating one individual (steady-state loops); see :meth:`wait_first`."""
        pending = self._prepare(ind, generation, request, ids)
        pending.futures = {t.eval_id: self.map_fn.submit(run_task, t, self._timeout(t)) for t in pending.tasks}
        pending.started = time.monotonic()
        return pending

    def _collect(self, pending: Pending) -> None:
        if not pending.collected:
            for task in pending.tasks:
                self._record_output(pending, self._outcome(task, pending.futures[task.eval_id], pending.started))
            pending.collected = True

    # ------------------------------------------------------------------ dispatch
    def _timeout(self, task: EvalTask) -> float | None:
        """The hard limit of ``task`` (:func:`hard_limit`), when the map enforces one."""
        if not getattr(self.map_fn, "enforces_timeouts", False):
            if self.hard_timeout is not None and not self._warned_timeout and self.log:
                self.log(f"evaluation.hard_timeout is not enforced by the {getattr(self.map_fn, 'backend', 'given')} "
                         "backend (a candidate runs in this process, or on SCOOP's or Dask's workers, which "
                         "cannot stop one task); use parallel.backend: process")
            self._warned_timeout = True
            return None
        return hard_limit(self.hard_timeout, task.context.get("training") or {},
                          (task.request or {}).get("overrides") or {})

    def _outcome(self, task: EvalTask, fut: Any, started: float) -> dict[str, Any]:
        """A finished future's record; a lost worker's task becomes a failed record."""
        try:
            return fut.result()
        except WorkerLost as e:
            return lost_record(task, e, time.monotonic() - started)

    def _run(self, tasks: list[EvalTask]) -> Iterable[tuple[EvalTask, dict[str, Any]]]:
        """``(task, record)`` per task as each finishes (a plain ``map``: in task order)."""
        completed = getattr(self.map_fn, "completed", None)
        if completed is None:
            yield from zip(tasks, self.map_fn(run_task, tasks), strict=True)
            return
        started = time.monotonic()
        for task, fut in completed(run_task, tasks, [self._timeout(t) for t in tasks]):
            yield task, self._outcome(task, fut, started)

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
        accs = [float(r["accuracy"]) for r in recs if r.get("accuracy") is not None]
        acc = sum(accs) / len(accs) if ok and accs else None
        if self.objectives:
            from ..evaluation.objectives import mean_vector, weights

            set_fitness(ind, mean_vector(recs, self.objectives, self.penalty), weights(self.objectives))
        else:
            ind.fitness.values = (acc if acc is not None else self.penalty,)
        first = recs[0]
        bad = next((r for r in recs if r.get("status") != "ok"), {})
        ind.result = {
            "eval_ids": [r["eval_id"] for r in recs],
            "arch_hash": first.get("arch_hash"),
            "status": "ok" if ok else bad.get("status"),
            "message": "" if ok else bad.get("message", ""),
            "accuracy": acc,
            "params": first.get("params"),
            "cached": bool(first.get("cached")),
            "weights": next((r.get("weights") for r in recs if r.get("weights")), None),
            "architecture": first.get("architecture"),
            "request": first.get("request"),
            "role": first.get("role"),
            "iterations": first.get("iterations"),
            "epochs": first.get("epochs"),
            "train_state": first.get("train_state"),
            "inherited": first.get("inherited"),
            "inherit_note": first.get("inherit_note"),
        }
        if self.objectives:  # the values behind the fitness vector (repeats: their mean)
            ind.result.update({k: first.get(k) for k in ("macs", "latency", "peak_memory", "violation")})
            if ok:
                ind.result.update({o.kind.field: v for o, v in zip(self.objectives, ind.fitness.values, strict=True)
                                   if o.kind.known == "measured"})

    def _journal_untrained(self, rec: dict[str, Any]) -> None:
        if not self.replay.journaled_before(rec):
            self._journal(rec)

    def _journal(self, rec: dict[str, Any]) -> None:
        if self.journal_path is not None:
            out = {k: v for k, v in rec.items() if k != "reused"}
            ok = out.get("status") == "ok" and out.get("accuracy") is not None
            if self.objectives:  # a failed candidate has no vector (docs/objectives.md)
                from ..evaluation.objectives import objective_vector

                out["fitness"] = list(objective_vector(out, self.objectives)) if ok else None
            else:
                out["fitness"] = [float(out["accuracy"]) if ok else self.penalty]  # docs/run_directory.md
            append_journal(self.journal_path, out)
            if self.on_record is not None:
                self.on_record(out)


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


def evaluate_genome(individual: Any, space: Any, context: dict[str, Any], run_seed: int = 0,
                    request: EvalRequest | None = None) -> tuple[float]:
    """Plain-DEAP fitness function: ``toolbox.register("evaluate", evaluate_genome,
    space=space, context=context)``; no cache or journal. Failures give 0.0."""
    arch = space.decode(individual)
    h = arch.hash()
    req = (request or EvalRequest()).completed(arch_hash=h)
    rec = run_task(EvalTask(-1, h, 0, derive_seed(run_seed, h, 0), arch.to_dict(), context, request=req.to_dict()))
    individual.result = rec
    return (rec["accuracy"] if rec["status"] == "ok" and rec["accuracy"] is not None else 0.0,)
