"""A fake trainer for testing search machinery without torch: ``evaluation.trainer``.

Set ``evaluation.trainer: deap_nas.testing:fake_trainer`` in a run config and every
evaluation is answered in microseconds instead of training a network. The answer is
deterministic: it depends only on what the task asks for (architecture hash, seed,
request and the files the request points to), never on the process, the worker, the
time or any global state, so serial runs, process pools and SCOOP give identical
results, and a killed and resumed run gives the result of the uninterrupted one. It is
meant for the package's tests (``tests/test_harness.py``) and for users who want to
check a config, a new algorithm or a cluster setup before spending GPU hours.

Accuracy. A base value in [0.1, 0.9] drawn from ``sha256(arch_hash:seed)`` (and the
request's ``data_seed`` when ``data.resample`` gives one), plus a small bonus growing
with the training progress the request implies:

- ``scratch``: the base, plus :data:`EPOCH_GAIN` per epoch after the first
  (``training.epochs``, or an ``epochs`` override), at most :data:`MAX_BONUS`;
- ``continue`` (NASGEP's one more epoch): the *parent's* base (read from its weights
  file: the same network trained further) with the epoch bonus of ``start.until``
  epochs (without ``until``: the parent's epochs plus this training's);
- ``inherit`` (ImmuNeCS): its own base, the parent's epochs counted as progress;
- staged training (EIGEN's extinction): a training of ``max_iterations`` (override)
  paused at ``stop_iteration`` scores ``full * (1 + reached / total) / 2``, so a paused
  stage returns less than the full training; ``resume`` continues from the state file
  (its base and the iteration it reached), ending where the uninterrupted training would.

Files, where the real worker writes them, so weight inheritance, continuation and staged
training work through the runtime: with ``task.weights_path`` set, a small JSON file
there (``arch_hash``, ``eval_id``, ``base``, ``epochs``, ...), returned as ``weights``;
for a paused stage (``stop_iteration``), a state file next to it (same stem +
``.state.pt``, JSON), returned as ``train_state``. An ``inherit`` / ``continue`` start
whose weights file is missing trains from scratch with an ``inherit_note``, as the real
worker does; a ``resume`` whose state file is missing or belongs to another network,
or a teacher whose weights file is missing, ends ``crashed``. A network over
``training.max_params`` (``params`` = 1,000 per node) ends ``too_large``. With an
``objectives:`` section the record also has ``macs`` (and ``latency`` / ``peak_memory``
when listed) proportional to ``params``, and a broken hard constraint ends ``constraint``.

The number of trainings is counted through the journal only (:func:`calls`): the records
this trainer wrote (``fake_trainer: true``) that are not cache hits.

This module imports neither torch nor the rest of the package at import time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .runtime.worker import EvalTask

__all__ = [
    "DEFAULT_ITERATIONS",
    "EPOCH_GAIN",
    "MAX_BONUS",
    "PARAMS_PER_NODE",
    "base_accuracy",
    "calls",
    "fake_fitness",
    "fake_trainer",
]

#: accuracy gained per epoch trained after the first
EPOCH_GAIN = 0.01
#: the epoch bonus never exceeds this (accuracy stays below 1)
MAX_BONUS = 0.09
#: ``iterations`` of a training without ``max_iterations`` / ``stop_iteration``
DEFAULT_ITERATIONS = 100
#: ``params`` = nodes of the architecture times this
PARAMS_PER_NODE = 1000
#: a multi-objective search's fake ``macs`` per parameter
MACS_PER_PARAM = 20
#: a multi-objective search's fake forward ``latency`` per parameter (seconds)
SECONDS_PER_PARAM = 1e-8
#: what the records of this trainer carry (:func:`calls` counts them)
MARK = "fake_trainer"


# ---------------------------------------------------------------------- pure functions
def base_accuracy(arch_hash: str, seed: int, data_seed: int | None = None) -> float:
    """The base accuracy in [0.1, 0.9] of ``arch_hash`` trained with ``seed`` (on the data
    subset ``data_seed``, when one is given): a hash, so the same everywhere."""
    text = f"{arch_hash}:{seed}" + ("" if data_seed is None else f":{data_seed}")
    u = int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / float(16**12)
    return 0.1 + 0.8 * u


def epoch_bonus(epochs: int) -> float:
    """The bonus of ``epochs`` epochs of training: :data:`EPOCH_GAIN` per epoch after the
    first, at most :data:`MAX_BONUS`."""
    return min(EPOCH_GAIN * max(0, int(epochs) - 1), MAX_BONUS)


def staged(full: float, reached: int, total: int) -> float:
    """The value of a training of ``total`` iterations paused at ``reached``."""
    frac = min(max(reached / total, 0.0), 1.0) if total > 0 else 1.0
    return full * (1.0 + frac) / 2.0


def fake_fitness(individual: Any, space: Any = None, seed: int = 0) -> tuple[float]:
    """A plain-DEAP fitness function (for ``ask`` / ``tell`` or ``toolbox.evaluate``): the
    base accuracy of the decoded architecture's hash (``space.decode``; without a space,
    of ``str(individual)``) with ``seed``."""
    key = space.decode(individual).hash() if space is not None else str(individual)
    return (base_accuracy(key, seed),)


def calls(source: str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> int:
    """How many trainings the fake trainer answered in a run: its journal records
    (``source``: a run directory, a journal file or the records) that are not cache hits."""
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            p = p / "journal.jsonl"
        if not p.exists():
            return 0
        from .runtime.journal import read_journal

        source = read_journal(p)
    return sum(1 for r in source if r.get(MARK) and not r.get("cached"))


# ---------------------------------------------------------------------- files
def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Atomically (temp file + rename), as the real worker saves weights."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dict(data), sort_keys=True))
    os.replace(tmp, path)


def _read_json(path: str | None) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when there is no path, file or object."""
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def state_path(weights_path: str) -> Path:
    """Where a paused stage's state goes (as ``runtime.worker.train_state_path``):
    ``weights/000012.pt`` -> ``weights/000012.state.pt``."""
    p = Path(weights_path)
    return p.with_name(p.stem + ".state.pt")


# ---------------------------------------------------------------------- the trainer
def _objective_fields(objectives: list, params: int, out: dict[str, Any]) -> dict[str, Any] | None:
    """Fill ``out`` with the fake ``macs`` (:data:`MACS_PER_PARAM` per parameter) and, when
    listed, ``latency`` (:data:`SECONDS_PER_PARAM` per parameter) and ``peak_memory`` (4
    bytes per parameter); a broken hard constraint returns its ``constraint`` record."""
    from .evaluation.objectives import constraint_status, constraint_violation, parse_objectives

    objs = parse_objectives(objectives)
    out["macs"] = params * MACS_PER_PARAM
    names = {o.name for o in objs}
    if "latency" in names:
        out["latency"] = params * SECONDS_PER_PARAM
    if "peak_memory" in names:
        out["peak_memory"] = params * 4
    verdict = constraint_status(out, objs)
    if verdict is None:
        return None
    return {**out, "status": verdict[0], "message": verdict[1], "accuracy": None, "weights": None, "epochs": 0,
            "iterations": 0, "violation": constraint_violation(out, objs)}


def _crashed(message: str) -> dict[str, Any]:
    return {"status": "crashed", "message": message, "accuracy": None, "weights": None, MARK: True}


def fake_trainer(task: EvalTask) -> dict[str, Any]:
    """Answer one :class:`~deap_nas.runtime.worker.EvalTask` as a training would (module
    doc): ``status``, ``accuracy``, ``params``, ``iterations``, ``epochs``, ``weights``,
    ``train_state`` and how the network started (``inherited`` / ``inherit_note``,
    ``resumed_from``)."""
    req: Mapping[str, Any] = task.request or {}
    start: Mapping[str, Any] = req.get("start") or {}
    kind = str(start.get("kind") or "scratch")
    overrides: Mapping[str, Any] = req.get("overrides") or {}
    training: Mapping[str, Any] = (task.context or {}).get("training") or {}
    stop = req.get("stop_iteration")
    max_iterations = overrides.get("max_iterations", training.get("max_iterations"))
    epochs = int(overrides.get("epochs", training.get("epochs") or 1))
    params = len((task.architecture or {}).get("nodes") or ()) * PARAMS_PER_NODE
    out: dict[str, Any] = {MARK: True, "params": params}

    objectives = (task.context or {}).get("objectives")
    if objectives:  # a multi-objective search: the cost objectives, and their hard constraints
        failed = _objective_fields(objectives, params, out)
        if failed is not None:
            return failed
    max_params = overrides.get("max_params", training.get("max_params"))
    if max_params is not None and params > int(max_params):
        return {**out, "status": "too_large", "message": f"{params} parameters > max_params {max_params}",
                "accuracy": None, "weights": None, "epochs": 0, "iterations": 0}
    teacher = json.loads(req["teacher"]) if req.get("teacher") else None
    if teacher and teacher.get("weights") and not Path(teacher["weights"]).is_file():
        return _crashed(f"teacher weights not found: {teacher['weights']}")

    base = base_accuracy(task.arch_hash, task.seed, req.get("data_seed"))
    progress = epochs  # epochs of training behind the result
    if kind in ("inherit", "continue"):
        parent = _read_json(start.get("weights"))
        if parent is None:
            out.update(inherited=None, inherit_note=f"trained from scratch: no weights file {start.get('weights')}")
        else:
            out["inherited"] = {"from_eval_id": parent.get("eval_id"), "from_arch_hash": parent.get("arch_hash"),
                                "reinit": list(start.get("reinit") or ())}
            parent_epochs = int(parent.get("epochs_total") or 0)
            if kind == "continue":
                base = float(parent["base"])  # the same network, trained further
                progress = int(start["until"]) if start.get("until") else parent_epochs + epochs
            else:
                progress = parent_epochs + epochs
    total = int(max_iterations) if max_iterations is not None else None
    if kind == "resume":
        state = _read_json(start.get("state"))
        if state is None:
            return _crashed(f"resume_state: no state file {start.get('state')}")
        if state.get("arch_hash") != task.arch_hash:
            return _crashed(f"resume_state: saved for {state.get('arch_hash')}, not {task.arch_hash}")
        if total is not None and total != int(state["total"]):
            return _crashed(f"resume_state: paused in a run of {state['total']} iterations, not {total}")
        if stop is not None and int(stop) <= int(state["iteration"]):
            return _crashed(f"stop_iteration {stop}: the state is already at iteration {state['iteration']}")
        base, progress, total = float(state["base"]), int(state["epochs_total"]), int(state["total"])
        out["resumed_from"] = {"eval_id": state.get("eval_id"), "iteration": state.get("iteration")}
    full = min(base + epoch_bonus(progress), 1.0)
    if total is None and stop is None:
        iterations, accuracy = DEFAULT_ITERATIONS, full
    else:
        total = total if total is not None else DEFAULT_ITERATIONS
        iterations = min(int(stop), total) if stop is not None else total
        accuracy = staged(full, iterations, total)

    weights = state_file = None
    if task.weights_path is not None:
        info = {"arch_hash": task.arch_hash, "eval_id": task.eval_id, "seed": task.seed, "base": base,
                "epochs_total": progress, "iteration": iterations, "accuracy": accuracy}
        _write_json(Path(task.weights_path), info)
        weights = str(task.weights_path)
        if stop is not None:
            state_file = state_path(task.weights_path)
            _write_json(state_file, {**info, "total": total})
    if stop is not None or kind == "resume":
        out["train_state"] = None if state_file is None else str(state_file)
    return {**out, "status": "ok", "message": "", "accuracy": accuracy, "epochs": epochs,
            "epochs_total": progress, "iterations": iterations, "best_epoch": epochs, "weights": weights}
