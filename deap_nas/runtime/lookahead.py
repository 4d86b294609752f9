"""Training the next generation early: a full process pool across generation ends.

A loop whose next candidates do not depend on this generation's results (random search)
tells the evaluator which genomes it will ask for next (``toolbox.prefetch``). Once the
current batch is in the process pool, :class:`Lookahead` predicts the tasks those genomes
will get (evaluation ids, repeats, seeds, as the evaluator will hand them out after this
batch) and submits them behind the batch, so a worker that finishes one of the last
candidates of a generation starts on the next generation at once. A predicted task saves
its weights as ``weights/NNNNNN.lookahead.pt`` and nothing of it is journaled. When the
next batch is prepared, each of its tasks that equals a predicted one (every field but the
weights path) takes that training over: its future, and its weights file, moved to
``weights/NNNNNN.pt``; the record is journaled then, as any other. A prediction that does
not come true (a duplicate whose cache answer changed, a budget that ended the search) is
cancelled, or its result and files are dropped.

So journal, evaluation ids, seeds, snapshots and resume are those of a run without it: a
snapshot never holds a predicted task, and a killed run trains predicted ones again. Only
on the process backend, for scratch requests without a weight store (a predicted training
must not write anything a later one reads).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, as_completed
from pathlib import Path
from typing import Any

from ..arch import ArchitectureError
from .worker import EvalTask, derive_seed, run_task, train_state_path

#: what makes a genome invalid when the evaluator prepares it (``Evaluator._prepare``)
DECODE_ERRORS = (ArchitectureError, ValueError, KeyError, TypeError)

SUFFIX = ".lookahead.pt"


class Lookahead:
    """The predicted tasks of one evaluator (module doc)."""

    def __init__(self, evaluator: Any) -> None:
        self.ev = evaluator
        self._hint: tuple[list[Any], int] | None = None
        self._predicted: dict[int, tuple[EvalTask, Future]] = {}
        self.adopted = 0  # predicted trainings taken over (for tests and logs)

    def enabled(self) -> bool:
        return getattr(self.ev.map_fn, "backend", None) == "process"

    def hint(self, individuals: list[Any], generation: int) -> None:
        """The genomes of ``generation``, to be predicted after the current batch."""
        self._hint = (individuals, generation) if self.enabled() else None

    def run(self, tasks: Sequence[EvalTask]) -> Iterator[tuple[EvalTask, dict[str, Any]]]:
        """``(task, record)`` as each of ``tasks`` finishes; predicted trainings taken
        over, the hinted next generation submitted behind them."""
        ev, started = self.ev, time.monotonic()
        owner: dict[Future, EvalTask] = {}
        moved: set[int] = set()
        for task in tasks:
            old = self._predicted.pop(task.eval_id, None)
            if old is not None and dataclasses.replace(old[0], weights_path=task.weights_path) == task:
                owner[old[1]] = task
                moved.add(task.eval_id)
                continue
            if old is not None:
                _drop(old[1])
            owner[ev.map_fn.submit(run_task, task, ev._timeout(task))] = task
        self.discard(files=False)
        self._submit_hint()
        self.adopted += len(moved)
        for fut in as_completed(list(owner)):
            task = owner[fut]
            out = ev._outcome(task, fut, started)
            yield task, (_move(out, task) if task.eval_id in moved else out)

    def _submit_hint(self) -> None:
        if self._hint is None:
            return
        individuals, generation = self._hint
        self._hint = None
        for task in self.predict(individuals, generation):
            self._predicted[task.eval_id] = (task, self.ev.map_fn.submit(run_task, task, self.ev._timeout(task)))

    def predict(self, individuals: Sequence[Any], generation: int) -> list[EvalTask]:
        """The training tasks ``individuals`` would get if prepared now (scratch requests),
        without handing out ids or touching cache, replay or journal."""
        ev = self.ev
        next_id, counts, keys, out = ev.replay.next_eval_id, dict(ev.replay.repeat_counts), set(), []
        for ind in individuals:
            try:
                arch = ev.space.decode(ind)
                req = ev.complete(None, arch.hash(), generation)
            except DECODE_ERRORS:  # an invalid genome: one id, no training (as Evaluator._prepare)
                next_id += 1
                continue
            key = req.key()
            if ev.cache.lookup(key) is not None or ev.cache.in_flight(key) is not None or (
                    ev.cache.enabled and key in keys):
                next_id += 1
                continue
            keys.add(key)
            for _ in range(ev.repeats):
                eid, next_id = next_id, next_id + 1
                repeat = ev.replay.pending_repeats.get(eid)
                if repeat is None:
                    repeat = counts[req.arch_hash] = counts.get(req.arch_hash, 0)
                    counts[req.arch_hash] += 1
                if eid in ev.replay.reuse or req.weight_store or req.start.kind != "scratch":
                    continue
                done = req.completed(repeat=repeat)
                weights = str(ev.weights_dir / f"{eid:06d}{SUFFIX}") if ev.weights_dir else None
                out.append(EvalTask(eid, req.arch_hash, repeat, derive_seed(ev.run_seed, req.arch_hash, repeat),
                                    arch.to_dict(), ev.context_for(generation), weights,
                                    request=ev._task_request(done)))
        return out

    def discard(self, files: bool = True) -> None:
        """Cancel or drop every predicted task; ``files``: also delete the weights files
        predicted tasks left (call after the pool is closed, and before a run starts)."""
        for _, fut in self._predicted.values():
            _drop(fut)
        self._predicted = {}
        if files and self.ev.weights_dir is not None and self.ev.weights_dir.is_dir():
            for p in self.ev.weights_dir.glob("*.lookahead*.pt"):
                p.unlink(missing_ok=True)


def _move(out: dict[str, Any], task: EvalTask) -> dict[str, Any]:
    """A predicted training's record with its files moved to the task's own paths."""
    if out.get("weights") and task.weights_path:
        os.replace(out["weights"], task.weights_path)
        out = {**out, "weights": task.weights_path}
    if out.get("train_state") and task.weights_path:
        state = train_state_path(task.weights_path)
        os.replace(out["train_state"], state)
        out = {**out, "train_state": str(state)}
    return out


def _drop(fut: Future) -> None:
    """Cancel a predicted task, or delete its files once it ends."""
    if not fut.cancel():
        fut.add_done_callback(_remove_files)


def _remove_files(fut: Future) -> None:
    with contextlib.suppress(Exception):
        out = fut.result()
        for key in ("weights", "train_state"):
            if out.get(key) and Path(out[key]).name.count(".lookahead"):
                Path(out[key]).unlink(missing_ok=True)
