"""Worker side of an evaluation: one picklable task in, one JSON-safe record out.

:func:`run_task` is a module-level function, so serial runs, spawned process pools, Dask and
SCOOP workers all call the same code. Each worker process prepares its data once per
data description and keeps it on its device (docs/architecture.md); worker i
uses GPU ``(i // k) mod n`` with ``k = parallel.workers_per_device`` (:func:`device_index`). Failures of the candidate come back as a status, never as an
exception (docs/architecture.md).

How the network starts is the task's request (:mod:`deap_nas.evaluation.request`,
``start.kind``): ``scratch`` (the engine's initialisation from the task seed; with a
weight-store spec, stored blocks are copied in), ``inherit`` / ``continue`` (the weights
file, an absolute path in the shared run directory, is copied into a network built
exactly as the engine builds it, so nodes it does not cover, ``start.reinit``, new nodes
and nodes whose shapes changed, keep the very initialisation a scratch run with that seed
gets; a missing or unreadable file trains from scratch with ``inherited: null`` and an
``inherit_note``), or ``resume`` (a paused training's saved state). ``overrides`` replace
fields of the context's training config for this task only; ``stop_iteration`` pauses
the training and saves its state next to the weights (``train_state``); a ``teacher``
(:mod:`deap_nas.runtime.teacher`) trains with the distillation loss against the teacher's
logits, computed once per prepared data set and teacher and kept on the device.

Test accuracy (for the validation studies, :mod:`deap_nas.studies`): a context with
``with_test: true`` also loads the test split, and the record of a successful training
gets ``test_accuracy``, the best epoch's weights measured once on it. Search contexts
never set it (a search never sees the test set).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: prepared data per context spec, least recently used first; at most MAX_CONTEXTS are
#: kept (``data.resample`` gives every generation its own spec), evicted ones are freed
_CONTEXTS: OrderedDict[str, Any] = OrderedDict()
MAX_CONTEXTS = 2
_WORKER_INDEX: int | None = None


def generation_data_seed(run_seed: int, generation: int) -> int:
    """The data seed of one generation when ``data.resample`` is on: a function of
    (run seed, generation) only, so reruns and resumed runs draw the same subsets."""
    digest = hashlib.sha256(f"data:{run_seed}:{generation}".encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


def derive_seed(run_seed: int, arch_hash: str, repeat: int) -> int:
    """The training seed of one evaluation: a function of (run seed, architecture, repeat)
    only, so serial, parallel and resumed runs train each candidate identically."""
    digest = hashlib.sha256(f"{run_seed}:{arch_hash}:{repeat}".encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


@dataclass
class EvalTask:
    """Everything a worker needs for one training run (plain data, cheap to pickle)."""

    eval_id: int
    arch_hash: str
    repeat: int
    seed: int
    architecture: dict[str, Any]
    context: dict[str, Any]  # data, training, head, device, threads, data_seed
    weights_path: str | None = None
    request: dict[str, Any] = field(default_factory=dict)  # EvalRequest.to_dict(), paths absolute
    weight_store: dict[str, Any] | None = None  # {"dir": ..., "keys": {node id: [key, ...]}}

    def parsed_request(self) -> Any:
        from ..evaluation.request import EvalRequest

        return EvalRequest.from_dict(self.request) if self.request else EvalRequest(arch_hash=self.arch_hash)

    def context_spec(self) -> dict[str, Any]:
        """The context with the request's data seed (``data.resample``)."""
        seed = self.request.get("data_seed") if self.request else None
        return self.context if seed is None else {**self.context, "data_seed": seed}


def set_worker_index(index: int) -> None:
    """Called by a pool initializer: this process is worker ``index``."""
    global _WORKER_INDEX
    _WORKER_INDEX = index


def worker_index() -> int:
    if _WORKER_INDEX is not None:
        return _WORKER_INDEX
    try:
        import scoop

        if getattr(scoop, "IS_RUNNING", False) and scoop.worker is not None:
            name = scoop.worker if isinstance(scoop.worker, bytes) else str(scoop.worker).encode()
            return int(hashlib.sha256(name).hexdigest()[:8], 16)
    except ImportError:
        pass
    return 0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def device_index(worker: int, gpus: int, per_device: int = 1) -> int:
    """The GPU of worker ``worker`` with ``per_device`` workers to a GPU
    (``parallel.workers_per_device``): workers 0 .. k-1 share GPU 0, k .. 2k-1 GPU 1, and
    so on, round robin over the ``gpus`` GPUs."""
    return (worker // max(1, per_device)) % gpus


def memory_cap(fraction: float | None, per_device: int = 1) -> float | None:
    """The share of its GPU's memory one worker may take (``parallel.memory_fraction``):
    the setting, else ``1 / workers_per_device`` when several workers share a GPU, else
    None (no cap)."""
    if fraction is not None:
        return float(fraction)
    return 1.0 / per_device if per_device > 1 else None


def choose_device(wanted: str, per_device: int = 1) -> str:
    """``auto`` -> ``cuda:`` :func:`device_index` when CUDA is present, else ``cpu``."""
    import torch

    if wanted == "cpu" or (wanted == "auto" and not torch.cuda.is_available()):
        return "cpu"
    if wanted.startswith("cuda:"):
        return wanted
    if not torch.cuda.is_available():
        raise RuntimeError("parallel.device is 'cuda' but torch sees no CUDA device")
    return f"cuda:{device_index(worker_index(), torch.cuda.device_count(), per_device)}"


def limit_memory(device: str, fraction: float | None) -> None:
    """Cap this process's share of a CUDA device's memory (no-op on CPU or without a cap)."""
    if fraction is None or not device.startswith("cuda"):
        return
    import torch

    torch.cuda.set_per_process_memory_fraction(fraction, torch.device(device))


class _Context:
    """Per-process state for one data/training description: data on the device."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import torch

        from ..data import prepare_from_config
        from ..evaluation.config import TrainConfig

        if spec.get("threads"):
            torch.set_num_threads(int(spec["threads"]))
        per_device = int(spec.get("workers_per_device", 1))
        self.device = choose_device(spec.get("device", "auto"), per_device)
        limit_memory(self.device, memory_cap(spec.get("memory_fraction"), per_device))
        self.data = prepare_from_config(spec["data"], seed=spec.get("data_seed", 0), device=self.device,
                                        with_test=bool(spec.get("with_test", False)))
        self.training = TrainConfig.from_dict(spec["training"])
        self.head = spec.get("head")


def warm_worker(context: dict[str, Any]) -> None:
    """Process-pool initializer: what a worker's first task would pay, paid before it.
    Sets the torch threads, prepares the run's data on the worker's device (not with
    ``data.resample``: each generation has its own) and imports what building the first
    optimizer imports (``torch._dynamo``, through ``torch._disable_dynamo``; no setting
    avoids it). Nothing with a replacement trainer (``evaluation.trainer``)."""
    if context.get("trainer"):
        return
    import torch
    import torch._dynamo  # noqa: F401  (about a second and a half, once per process)

    if context.get("threads"):
        torch.set_num_threads(int(context["threads"]))
    device = "cpu"
    if not (context.get("data") or {}).get("resample"):
        device = context_for(context).device
    weight = torch.nn.Parameter(torch.zeros(4, 1, 3, 3, device=device))  # no RNG drawn
    optimizer = torch.optim.SGD([weight], lr=0.0)
    torch.nn.functional.conv2d(torch.zeros(1, 1, 4, 4, device=device), weight).sum().backward()
    optimizer.step()


def context_for(spec: dict[str, Any]) -> _Context:
    # the teacher is not part of the data: its logits are cached inside the context
    key = json.dumps({k: v for k, v in spec.items() if k != "teacher"}, sort_keys=True, default=str)
    if key in _CONTEXTS:
        _CONTEXTS.move_to_end(key)
        return _CONTEXTS[key]
    while len(_CONTEXTS) >= MAX_CONTEXTS:
        _, old = _CONTEXTS.popitem(last=False)
        device = getattr(old, "device", None)
        del old
        if getattr(device, "type", None) == "cuda":
            import gc

            import torch

            gc.collect()
            torch.cuda.empty_cache()
    _CONTEXTS[key] = _Context(spec)
    return _CONTEXTS[key]


def failure_record(task: EvalTask, status: str, message: str, seconds: float,
                   worker: str | None = None) -> dict[str, Any]:
    """The record of a failed task (``worker``: the process that failed; default this one)."""
    return {
        "eval_id": task.eval_id,
        "status": status,
        "message": message,
        "accuracy": None,
        "time_total": seconds,
        "device": "",
        "worker": worker_name() if worker is None else worker,
        "weights": None,
        "history": [],
    }


def inherited_init_state(
    arch: Any,
    data: Any,
    head: Any,
    seed: int,
    parent_path: str | os.PathLike[str],
    exclude: Any = (),
) -> tuple[dict[str, Any], Any]:
    """``(initial state dict, TransferReport)`` of ``arch`` inheriting from the state dict
    saved at ``parent_path`` (module doc). ``data`` gives ``input_shape`` / ``num_classes``.
    Raises OSError / RuntimeError (and what ``torch.load`` raises) when the file cannot be
    read. Keeps the caller's global torch RNG state."""
    import torch

    from ..nn import build
    from ..nn.transfer import transfer_weights

    parent = torch.load(parent_path, map_location="cpu", weights_only=True)
    if not isinstance(parent, dict):
        raise TypeError(f"{parent_path}: not a state dict ({type(parent).__name__})")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # as engine.train does before building
        net = build(arch, data.input_shape, data.num_classes, head)
    report = transfer_weights(parent, net, exclude=[int(i) for i in exclude])
    return net.state_dict(), report


# ----------------------------------------------------------------------------------------
# Weight store hook (deap_nas.evaluation.weight_store). Off unless a task carries
# ``weight_store = {"dir": ..., "keys": {node id: [key, ...]}}`` (the evaluator adds it with
# ``evaluation.weight_store: true`` for spaces that define ``weight_store_keys``). Only a
# scratch start loads from the store; every successful training offers its best-epoch
# weights to it.


def weight_store_init_state(arch: Any, data: Any, head: Any, seed: int, spec: dict[str, Any]) -> tuple[Any, int]:
    """``(initial state dict, number of nodes loaded)``: the network built as the engine
    builds it (``torch.manual_seed(seed)``), then stored tensors copied in. Keeps the
    caller's global torch RNG state."""
    import torch

    from ..evaluation.weight_store import WeightStore, load_best
    from ..nn import build

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build(arch, data.input_shape, data.num_classes, head)
    keys = {int(k): list(v) for k, v in spec.get("keys", {}).items()}
    loaded = load_best(WeightStore(spec["dir"]), arch, net, keys)
    return net.state_dict(), len(loaded)


def weight_store_save(arch: Any, state: dict[str, Any], accuracy: float, spec: dict[str, Any]) -> int:
    """Offer a trained network's weights to the store; returns how many keys improved."""
    from ..evaluation.weight_store import WeightStore, save_best

    keys = {int(k): list(v) for k, v in spec.get("keys", {}).items()}
    return len(save_best(WeightStore(spec["dir"]), arch, state, keys, float(accuracy)))


def _test_accuracy(arch: Any, ctx: _Context, state: dict[str, Any]) -> float:
    """Accuracy of ``arch`` with weights ``state`` on the context's test split."""
    from ..evaluation import evaluate
    from ..nn import build

    t = ctx.training
    net = build(arch, ctx.data.input_shape, ctx.data.num_classes, ctx.head)
    net.load_state_dict(state)
    net.to(ctx.data.test.device)
    return float(evaluate(net, ctx.data.test, t.eval_batch_size, amp=t.amp, channels_last=t.channels_last))


def start_state(task: EvalTask, req: Any, arch: Any, ctx: _Context) -> tuple[Any, Any, dict[str, Any]]:
    """``(initial state dict or None, resume state or None, record fields)`` of the
    request's start (module doc)."""
    start = req.start
    if start.kind == "resume":
        import torch

        return None, torch.load(start.state, map_location="cpu", weights_only=True), {}
    if start.kind in ("inherit", "continue"):
        try:
            init, report = inherited_init_state(arch, ctx.data, ctx.head, task.seed, start.weights, start.reinit)
            return init, None, {"inherited": report.to_dict()}
        except Exception as e:  # no parent weights: train from scratch, say why
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            return None, None, {"inherited": None, "inherit_note": f"trained from scratch: {detail}"}
    if task.weight_store and start.kind == "scratch":
        init, loaded = weight_store_init_state(arch, ctx.data, ctx.head, task.seed, task.weight_store)
        return init, None, {"store_loaded": loaded}
    return None, None, {}


def _train(task: EvalTask) -> tuple[Any, _Context, dict[str, Any]]:
    """Train the task's network; ``(TrainResult, context, extra record fields)``."""
    import dataclasses

    from ..arch import Architecture
    from ..evaluation.task import train_architecture

    req = task.parsed_request()
    ctx = context_for(task.context_spec())
    arch = Architecture.from_dict(task.architecture)
    config = with_overrides(ctx.training, req.overrides_dict)
    keep = task.weights_path is not None or ctx.data.test is not None or task.weight_store is not None
    if keep and not config.keep_best_state:
        config = dataclasses.replace(config, keep_best_state=True)
    init, resume, extra = start_state(task, req, arch, ctx)
    staged = {}
    if req.stop_iteration is not None or resume is not None:
        staged = {"stop_iteration": req.stop_iteration, "resume_state": resume,
                  "keep_train_state": req.stop_iteration is not None}
    teacher = teacher_logits_for(ctx, req.teacher_spec)

    def run() -> Any:
        return train_architecture(arch, ctx.data, config, head=ctx.head, seed=task.seed, init_state=init,
                                  teacher_logits=teacher, **staged)

    if task.context.get("objectives"):
        result = train_for_objectives(run, arch, ctx, task.context["objectives"], extra)
    else:
        result = run()
    if task.weight_store and result.ok and result.best_state is not None and result.best_acc is not None:
        extra["store_saved"] = weight_store_save(arch, result.best_state, result.best_acc, task.weight_store)
    if ctx.data.test is not None and result.ok and result.best_state is not None:
        extra["test_accuracy"] = _test_accuracy(arch, ctx, result.best_state)
    if req.stop_iteration is not None or resume is not None:
        extra.update(save_train_state(task, result))
    return result, ctx, extra


def train_for_objectives(run: Any, arch: Any, ctx: _Context, objectives: list[dict[str, Any]],
                         extra: dict[str, Any]) -> Any:
    """``run()`` (a training) for a search with an ``objectives:`` section: adds ``macs`` to
    ``extra``; a hard constraint broken before training gives status ``constraint``
    untrained (as ``too_large``); ``peak_memory`` and ``latency`` are measured when listed."""
    from ..arch import ArchitectureError
    from ..evaluation.measure import measured_fields, track_peak_memory
    from ..evaluation.objectives import (
        constraint_status,
        constraint_violation,
        measurements,
        parse_objectives,
    )
    from ..evaluation.result import TrainResult
    from ..nn import build

    objs = parse_objectives(objectives)
    shape, classes = ctx.data.input_shape, ctx.data.num_classes
    try:
        stats = {"params": arch.num_params(shape, classes, ctx.head), "macs": arch.macs(shape, classes, ctx.head)}
    except ArchitectureError:
        return run()  # an invalid architecture: the training says so
    extra["macs"] = stats["macs"]
    verdict = constraint_status(stats, objs)
    if verdict is not None:
        extra["violation"] = constraint_violation(stats, objs)
        return TrainResult.failure(*verdict, num_params=stats["params"], device=str(ctx.device))
    wanted = measurements(objs)
    if "peak_memory" in wanted:
        result, extra["peak_memory"] = track_peak_memory(run, ctx.device)
    else:
        result = run()
    if result.ok:
        extra.update(measured_fields(lambda: build(arch, shape, classes, ctx.head), shape, ctx.device, wanted))
    return result


def _save_weights(task: EvalTask, result: Any) -> str | None:
    if not (result.ok and task.weights_path is not None and result.best_state is not None):
        return None
    import torch

    path = Path(task.weights_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(result.best_state, tmp)
    os.replace(tmp, path)
    return str(path)


def load_trainer(spec: str) -> Any:
    """The function named by ``"package.module:function"`` (``evaluation.trainer``);
    ValueError naming the problem when it cannot be imported."""
    import importlib

    module, _, name = str(spec).partition(":")
    if not module or not name:
        raise ValueError(f"trainer: 'module:function', got {spec!r}")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"trainer: cannot import {spec!r}: {e}") from None
    if not callable(fn):
        raise ValueError(f"trainer: {spec!r} is not callable")
    return fn


def run_task(task: EvalTask) -> dict[str, Any]:
    """Train one candidate and return its record (see docs/run_directory.md, journal).
    With ``context["trainer"]`` (``evaluation.trainer``) that function replaces training."""
    started = time.perf_counter()
    if task.context.get("trainer"):
        try:
            out = dict(load_trainer(task.context["trainer"])(task))
        except Exception as e:
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            return failure_record(task, "crashed", detail, time.perf_counter() - started)
        return {"eval_id": task.eval_id, "status": "ok", "message": "", "accuracy": None, "device": "",
                "worker": worker_name(), "weights": None, "history": [],
                "time_total": time.perf_counter() - started, **out}
    try:
        result, ctx, extra = _train(task)
        weights = _save_weights(task, result)
    except Exception as e:  # a broken candidate or worker must not stop the search
        detail = "".join(traceback.format_exception_only(type(e), e)).strip()
        return failure_record(task, "crashed", detail, time.perf_counter() - started)
    return {
        "eval_id": task.eval_id,
        "status": result.status,
        "message": result.message,
        "accuracy": result.best_acc if result.ok else None,
        "params": result.num_params,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs_run,
        "iterations": result.iterations,
        "time_build": result.time_build,
        "time_train": result.time_train,
        "time_eval": result.time_eval,
        "time_total": time.perf_counter() - started,
        "images_per_sec": result.images_per_sec,
        **({"cuda_graph": result.cuda_graph} if getattr(result, "cuda_graph", "") else {}),  # CUDA only
        "device": result.device or ctx.device,
        "worker": worker_name(),
        "weights": weights,
        "history": result.to_dict().get("history", []),
        **extra,
    }


# ---------------------------------------------------------------------- training requests
def with_overrides(config: Any, overrides: dict[str, Any]) -> Any:
    """``config`` (a TrainConfig) with ``overrides`` applied (validated again)."""
    if not overrides:
        return config
    from ..evaluation.config import TrainConfig

    return TrainConfig.from_dict({**config.to_dict(), **overrides})


def train_state_path(weights_path: str) -> Path:
    """Where a paused training's state goes: ``weights/000012.pt`` -> ``weights/000012.state.pt``."""
    p = Path(weights_path)
    return p.with_name(p.stem + ".state.pt")


def save_train_state(task: EvalTask, result: Any) -> dict[str, Any]:
    """Save a paused training's state (atomically) and return the record fields."""
    fields: dict[str, Any] = {"train_state": None}
    if result.train_state is not None and task.weights_path is not None:
        import torch

        path = train_state_path(task.weights_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(result.train_state, tmp)
        os.replace(tmp, path)
        fields["train_state"] = str(path)
    return fields


def teacher_logits_for(ctx: Any, spec: dict[str, Any] | None) -> Any:
    """The teacher's logits on ``ctx``'s training rows (N, K) on its device, computed once
    per (prepared data, teacher) and cached in the context; None without a teacher."""
    if not spec:
        return None
    cache = ctx.__dict__.setdefault("teachers", {})
    key = json.dumps(spec, sort_keys=True, default=str)
    if key not in cache:
        from .teacher import load_teacher, teacher_logits

        model = load_teacher(spec, ctx.data.input_shape, ctx.data.num_classes)
        cache.clear()  # one teacher at a time on the device
        cache[key] = teacher_logits(model, ctx.data.train)
    return cache[key]
