"""The training engine: trains one candidate module on device-resident data.

Performance rules (docs/architecture.md): batches are index slices of device
tensors, augmentation runs on whole batches on the device, bf16 autocast and channels_last
on CUDA, and no host synchronisation per step: the loss is accumulated on the device and
read once per epoch, where NaN/inf is also detected. Reliability rules (docs/architecture.md,
"Reliability"): every call returns a :class:`TrainResult` with a status; anything the
candidate raises (build, forward, backward) becomes "crashed" or "oom", never an exception,
while errors in the caller's arguments (config, data, teacher logits, init_state) raise.

The engine knows torch modules and tensors only (no genomes, no DEAP, no arch/nn).
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..data.device import DeviceDataset, same_device
from .augment import AugmentConfig, auto_augment
from .config import TrainConfig
from .cuda_graph import StepGraph, blocker
from .losses import classification_loss, distillation_loss
from .optim import lr_at, make_optimizer
from .result import TrainResult

__all__ = ["TRAIN_STATE_FORMAT", "evaluate", "predict_logits", "train"]

TRAIN_STATE_FORMAT = "deap_nas.train_state/1"

ModelLike = nn.Module | Callable[[], nn.Module]
_OOM_ERRORS: tuple[type[BaseException], ...] = tuple(
    {getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError), torch.cuda.OutOfMemoryError}
)
_MAX_MESSAGE = 2000


class _CallerError(Exception):
    """An error of the caller (bad ``init_state``, a failing ``on_epoch``) found inside the
    guarded region; ``error`` is re-raised instead of becoming a status."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


# ---------------------------------------------------------------------- small helpers
def _use_amp(amp: str, device: torch.device) -> bool:
    return amp == "bf16" or (amp == "auto" and device.type == "cuda")


def _use_channels_last(flag: bool | str, device: torch.device) -> bool:
    """"auto" is on for every device: NHWC is the fast layout for cuDNN and for oneDNN
    on CPU (whole training runs: benchmarks/memory_format.py, 2.8x for depthwise-separable
    networks and 1.1x for plain convolutions on 2 CPU cores; docs/benchmarks.md)."""
    return True if flag == "auto" else bool(flag)


def _autocast(
    enabled: bool, device: torch.device, cache: bool = True
) -> contextlib.AbstractContextManager:
    """bf16 autocast when ``enabled``; ``cache=False`` inside a CUDA graph capture."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, cache_enabled=cache)


def _is_oom(err: BaseException) -> bool:
    if isinstance(err, _OOM_ERRORS):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def _describe(err: BaseException, phase: str) -> str:
    msg = f"{type(err).__name__} during {phase}: {err}"
    return msg if len(msg) <= _MAX_MESSAGE else msg[: _MAX_MESSAGE - 3] + "..."


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@contextlib.contextmanager
def _kernel_flags(deterministic: bool, device: torch.device) -> Iterator[None]:
    """Kernel selection for one training, restored after. ``deterministic``: deterministic
    algorithms (warn only), deterministic cuDNN, cuBLAS workspace. Otherwise on CUDA,
    ``cudnn.benchmark`` (cuDNN times its convolution algorithms once per shape and keeps
    the fastest; the choice may differ between runs, so results are not bit-reproducible)."""
    cudnn = torch.backends.cudnn
    if not deterministic:
        saved_benchmark = cudnn.benchmark
        if device.type == "cuda":
            cudnn.benchmark = True
        try:
            yield
        finally:
            cudnn.benchmark = saved_benchmark
        return
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.deterministic,
        cudnn.benchmark,
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    torch.use_deterministic_algorithms(True, warn_only=True)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        cudnn.deterministic, cudnn.benchmark = saved[2], saved[3]
        if saved[4] is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = saved[4]


def _fork_rng(device: torch.device) -> contextlib.AbstractContextManager:
    """Keep the caller's global RNG state: the engine seeds inside a fork."""
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    return torch.random.fork_rng(devices=devices)


# ---------------------------------------------------------------------- evaluation
def _correct_count(
    module: nn.Module, data: DeviceDataset, batch_size: int, amp: bool, channels_last: bool
) -> torch.Tensor:
    """Number of correct top-1 predictions as a device tensor (no host sync)."""
    correct = torch.zeros((), dtype=torch.int64, device=data.device)
    for logits, idx in _logits_batches(module, data, batch_size, amp, channels_last):
        correct += (logits.argmax(dim=1) == data.labels.index_select(0, idx)).sum()
    return correct


def _logits_batches(
    module: nn.Module, data: DeviceDataset, batch_size: int, amp: bool, channels_last: bool
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for idx in data.batches(batch_size, shuffle=False):
                x = data.normalize(data.images.index_select(0, idx))
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                with _autocast(amp, data.device):
                    out = module(x)
                yield out, idx
    finally:
        module.train(was_training)


def evaluate(
    model: nn.Module,
    data: DeviceDataset,
    batch_size: int = 1024,
    *,
    amp: str = "auto",
    channels_last: bool | str = "auto",
) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` (already on ``data.device``) on ``data``;
    eval mode, no grad, no augmentation; the module's train/eval mode is restored."""
    if len(data) == 0:
        raise ValueError("evaluate: empty data set")
    dev = data.device
    n = _correct_count(
        model, data, batch_size, _use_amp(amp, dev), _use_channels_last(channels_last, dev)
    )
    return n.item() / len(data)


def predict_logits(
    model: nn.Module,
    data: DeviceDataset,
    batch_size: int = 1024,
    *,
    amp: str = "auto",
    channels_last: bool | str = "auto",
) -> torch.Tensor:
    """Logits (N, K) float32 on ``data.device`` in row order, e.g. to cache a teacher's
    outputs once per data set for the distillation loss."""
    dev = data.device
    parts = [
        out.float()
        for out, _ in _logits_batches(
            model, data, batch_size, _use_amp(amp, dev), _use_channels_last(channels_last, dev)
        )
    ]
    return torch.cat(parts) if parts else torch.empty(0, 0, device=dev)


# ---------------------------------------------------------------------- training
@dataclass
class _Fit:
    """One fit call: what it fixes up front (data, teacher logits, generator, callback,
    step counts) and what it carries from epoch to epoch (the device-side loss sum, reused
    by every epoch, and the learning rate last set)."""

    train_data: DeviceDataset
    val_data: DeviceDataset
    teacher: torch.Tensor | None
    gen: torch.Generator
    on_epoch: Callable[[dict[str, Any]], None] | None
    augment: AugmentConfig | None
    per_epoch: int  # optimiser steps per full epoch
    total_steps: int  # steps of the whole run: the learning-rate schedule spans these
    total_epochs: float  # total_steps / per_epoch
    stop_steps: int  # steps after which this call stops (a pause when < total_steps)
    batch_stop: int  # end of the last batch in the permutation (drop_last)
    keep_snapshots: bool  # keep the best epoch's weights (patience or keep_best_state)
    loss_sum: torch.Tensor
    lr: float = math.nan

    @classmethod
    def plan(
        cls,
        cfg: TrainConfig,
        train_data: DeviceDataset,
        val_data: DeviceDataset,
        teacher: torch.Tensor | None,
        gen: torch.Generator,
        stop_iteration: int | None,
        on_epoch: Callable[[dict[str, Any]], None] | None,
    ) -> _Fit:
        """The step plan of ``cfg`` on ``train_data``: ``drop_last`` applies only when there
        is a full batch; ``max_iterations`` caps the steps; a staged training (``stop_iteration``)
        stops earlier while the schedule still spans ``total_steps``."""
        drop_last = cfg.drop_last and len(train_data) >= cfg.batch_size
        per_epoch = train_data.num_batches(cfg.batch_size, drop_last)
        total_steps = cfg.epochs * per_epoch
        if cfg.max_iterations is not None:
            total_steps = min(total_steps, cfg.max_iterations)
        n_train = len(train_data)
        return cls(
            train_data=train_data,
            val_data=val_data,
            teacher=teacher,
            gen=gen,
            on_epoch=on_epoch,
            augment=cfg.augment if cfg.augment.enabled else None,
            per_epoch=per_epoch,
            total_steps=total_steps,
            total_epochs=total_steps / per_epoch,
            stop_steps=total_steps if stop_iteration is None else min(total_steps, stop_iteration),
            batch_stop=(n_train // cfg.batch_size) * cfg.batch_size if drop_last else n_train,
            keep_snapshots=cfg.patience is not None or cfg.keep_best_state,
            loss_sum=torch.zeros((), dtype=torch.float32, device=train_data.device),
        )


@dataclass
class _Epoch:
    """One epoch's progress: its number, the permutation of the training rows, the next
    step's position in it, the steps summed into the loss (with those before a pause when
    resumed), start and end of training, and how it ended."""

    number: int
    order: torch.Tensor
    next_step: int
    steps: int
    t0: float
    t1: float = 0.0
    timed_out: bool = False
    train_loss: float = math.nan
    paused: bool = False  # the run stops here at stop_iteration
    partial: bool = False  # ... inside the epoch


class _Run:
    """State of one training call, kept outside the try block so a failure still reports
    what was done and can release device memory."""

    def __init__(self, config: TrainConfig, device: torch.device, start: float) -> None:
        self.cfg = config
        self.device = device
        self.start = start
        self.deadline = start + config.time_limit if config.time_limit is not None else None
        self.status = "ok"
        self.message = ""
        self.phase = "build"
        self.history: list[dict[str, Any]] = []
        self.best_acc: float | None = None
        self.best_epoch: int | None = None
        self.iterations = 0
        self.images = 0
        self.num_params: int | None = None
        self.time_build = self.time_train = self.time_eval = 0.0
        self.module: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.snapshot: dict[str, torch.Tensor] | None = None
        self.train_state: dict[str, Any] | None = None
        self.amp = _use_amp(config.amp, device)
        self.channels_last = _use_channels_last(config.channels_last, device)
        self.graph: StepGraph | None = None  # the captured step (cuda_graph), while in use
        self.graph_note = ""  # on CUDA: "captured", "eager: why" or "failed, eager: error"

    # -- build ----------------------------------------------------------------
    def build(self, model: ModelLike, seed: int, init_state: dict[str, Any] | None) -> bool:
        """Build, count, check the size limit, load ``init_state`` (or a paused training's
        weights) and move to the device."""
        t = time.perf_counter()
        try:
            return self._build(model, seed, init_state)
        finally:
            self.time_build = time.perf_counter() - t

    def _build(self, model: ModelLike, seed: int, init_state: dict[str, Any] | None) -> bool:
        torch.manual_seed(seed)  # seeds CPU and every CUDA device: reproducible init
        module = model if isinstance(model, nn.Module) else model()
        if not isinstance(module, nn.Module):
            raise TypeError(f"model factory returned {type(module).__name__}, not nn.Module")
        self.module = module
        if self.cfg.drop_path and hasattr(module, "set_drop_path"):
            module.set_drop_path(self.cfg.drop_path)
        self.num_params = _count_params(module)
        limit = self.cfg.max_params
        if limit is not None and self.num_params > limit:
            self.status = "too_large"
            self.message = f"{self.num_params} parameters > max_params {limit}"
            return False
        if init_state is not None:
            try:
                module.load_state_dict(init_state)
            except (RuntimeError, KeyError, TypeError) as e:
                raise _CallerError(ValueError(f"init_state does not fit the model: {e}")) from e
        module.to(self.device)
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        _sync(self.device)
        return True

    # -- training ---------------------------------------------------------------
    def fit(
        self,
        train_data: DeviceDataset,
        val_data: DeviceDataset,
        seed: int,
        teacher: torch.Tensor | None,
        on_epoch: Callable[[dict[str, Any]], None] | None,
        resume: dict[str, Any] | None = None,
        stop_iteration: int | None = None,
        keep_train_state: bool = False,
    ) -> None:
        """Train the built module: make the optimizer and the device generator (seeded with
        ``seed``; it draws every permutation and augmentation), plan the steps, restore a
        paused training (``resume``), then run epochs (:meth:`_train_epoch`), each followed
        by validation and the early-stopping record (:meth:`_end_epoch`), until the last
        epoch, a "timeout"/"nan" status, early stopping or a pause at ``stop_iteration``
        (:meth:`_pause`) ends the run."""
        cfg, module = self.cfg, self.module
        assert module is not None
        self.phase = "optimizer setup"
        self.optimizer = make_optimizer(module.parameters(), cfg, self.device)
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed)
        fit = _Fit.plan(cfg, train_data, val_data, teacher, gen, stop_iteration, on_epoch)
        start_epoch, resumed = 1, None
        if resume is not None:
            start_epoch, resumed = self._resume(
                resume, self.optimizer, gen, fit.total_steps, fit.keep_snapshots
            )
        self._plan_graph(fit)
        for epoch in range(start_epoch, cfg.epochs + 1):
            if self.iterations >= fit.stop_steps:
                break
            ep = self._train_epoch(fit, epoch, resumed if epoch == start_epoch else None)
            if self._failed(ep) or not self._end_epoch(fit, ep):
                return
            if ep.paused:
                self._pause(fit, ep, keep_train_state)
                return
        if cfg.max_iterations is not None and self.iterations >= cfg.max_iterations:
            self.message = f"max_iterations {cfg.max_iterations} reached"

    def _train_epoch(self, fit: _Fit, epoch: int, resumed: dict[str, Any] | None) -> _Epoch:
        """One epoch of optimiser steps. The rows are visited in a fresh permutation drawn
        from the generator (as :meth:`DeviceDataset.batches` would), or, when ``resumed``
        holds a pause inside this epoch, in the paused epoch's permutation from its next
        step on, with its loss sum and step count restored. Steps run (:meth:`_step`) until
        the epoch ends, the deadline passes (``timed_out``; checked before each step) or the
        run reaches ``stop_steps``; then the mean training loss is read (the epoch's one
        host sync) and the epoch is marked ``paused`` (and ``partial`` inside an epoch)."""
        assert self.module is not None
        cfg, loss_sum = self.cfg, fit.loss_sum
        self.phase = f"training epoch {epoch}"
        self.module.train()
        t0 = time.perf_counter()
        loss_sum.zero_()
        if resumed is not None and resumed["order"] is not None:
            order = resumed["order"].to(self.device)  # the paused epoch's permutation, continued
            ep = _Epoch(epoch, order, int(resumed["step_in_epoch"]), int(resumed["steps"]), t0)
            loss_sum.copy_(resumed["loss_sum"].to(self.device))
        else:  # as DeviceDataset.batches
            order = torch.randperm(len(fit.train_data), generator=fit.gen, device=self.device)
            ep = _Epoch(epoch, order, 0, 0, t0)
        for start in range(ep.next_step * cfg.batch_size, fit.batch_stop, cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            ep.next_step += 1
            if self.deadline is not None and time.perf_counter() > self.deadline:
                ep.timed_out = True
                break
            self._advance(fit, idx)
            ep.steps += 1
            if self.iterations >= fit.stop_steps:
                break
        ep.paused = self.iterations >= fit.stop_steps and fit.stop_steps < fit.total_steps
        ep.partial = ep.paused and ep.next_step < fit.per_epoch
        ep.train_loss = (loss_sum / max(ep.steps, 1)).item()  # the one sync per epoch
        ep.t1 = time.perf_counter()
        self.time_train += ep.t1 - t0
        return ep

    def _step(self, fit: _Fit, idx: torch.Tensor) -> None:
        """One eager optimiser step on the training rows ``idx``: set the scheduled learning
        rate (only when it changes), then :meth:`_body`, and count the step."""
        opt = self.optimizer
        assert opt is not None
        new_lr = lr_at(self.cfg, self.iterations / fit.per_epoch, fit.total_epochs)
        if new_lr != fit.lr:
            fit.lr = new_lr
            for group in opt.param_groups:
                group["lr"] = new_lr
        self._body(fit, idx)
        self._count(idx)

    def _count(self, idx: torch.Tensor) -> None:
        self.images += idx.shape[0]
        self.iterations += 1

    def _body(self, fit: _Fit, idx: torch.Tensor, captured: bool = False) -> None:
        """The step's device work on rows ``idx``: fetch the batch (AutoAugment on the raw
        images, normalise, then the batch augmentations drawn from the generator,
        channels_last), forward under autocast, the classification loss or, with teacher
        logits, the distillation loss, backward and step. The loss is added to the epoch's
        sum on the device (no sync). ``captured``: inside a CUDA graph capture (no
        ``zero_grad``: the capture sets the gradients to None first; no autocast cache)."""
        cfg, data, module, opt = self.cfg, fit.train_data, self.module, self.optimizer
        assert module is not None and opt is not None
        raw = data.images.index_select(0, idx)
        if fit.augment is not None and fit.augment.autoaugment:
            raw = auto_augment(raw)
        x = data.normalize(raw)
        y = data.labels.index_select(0, idx)
        if fit.augment is not None:
            x = fit.augment.apply(x, fit.gen, data.black)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(self.amp, self.device, cache=not captured):
            logits = module(x)
        if fit.teacher is None:
            loss = classification_loss(logits, y, cfg.label_smoothing)
        else:
            loss = distillation_loss(
                logits,
                y,
                fit.teacher.index_select(0, idx),
                cfg.distill_alpha,
                cfg.distill_temperature,
                cfg.label_smoothing,
            )
        if not captured:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        fit.loss_sum += loss.detach()  # in place

    # -- CUDA graph ---------------------------------------------------------------
    def _plan_graph(self, fit: _Fit) -> None:
        """Decide whether this call captures its step (:func:`~.cuda_graph.blocker`); the
        reason it does not is noted on CUDA only, so CPU results are unchanged."""
        assert self.optimizer is not None
        why = blocker(
            self.cfg,
            self.device,
            uneven_batches=fit.batch_stop % self.cfg.batch_size != 0,
            fused_optimizer=all(g.get("fused") for g in self.optimizer.param_groups),
            steps_left=fit.stop_steps - self.iterations,
        )
        if why:
            if self.device.type == "cuda" and self.cfg.cuda_graph != "off":
                self.graph_note = f"eager: {why}"
            return
        try:
            self.graph = StepGraph(self.device)
        except Exception as e:  # no stream on this device: stay eager
            self._graph_off(fit, e)

    def _advance(self, fit: _Fit, idx: torch.Tensor) -> None:
        """One optimiser step: eager, an eager warm-up step before the capture, or a replay
        of the captured step (captured at the first step after the warm-up)."""
        graph = self.graph
        if graph is None:
            self._step(fit, idx)
            return
        if graph.warming_up:
            with graph.warming():
                self._step(fit, idx)
            return
        new_lr = lr_at(self.cfg, self.iterations / fit.per_epoch, fit.total_epochs)
        if graph.graph is None:
            try:
                graph.capture(idx, new_lr, self.optimizer, fit.gen,
                              lambda static_idx: self._body(fit, static_idx, captured=True))
            except Exception as e:
                if _is_oom(e):
                    raise
                self._graph_off(fit, e)
                self._step(fit, idx)
                return
            fit.lr = new_lr
            self.graph_note = "captured"
        graph.replay(idx, new_lr if new_lr != fit.lr else None)
        fit.lr = new_lr
        self._count(idx)

    def _graph_off(self, fit: _Fit, err: BaseException) -> None:
        """Fall back to the eager step after a failed capture: note the error once and put
        the learning rate back as a number (the capture ran nothing)."""
        self.graph = None
        self.graph_note = "failed, eager: " + _describe(err, "CUDA graph capture")[:300]
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                if isinstance(group["lr"], torch.Tensor):
                    group["lr"] = fit.lr

    def _failed(self, ep: _Epoch) -> bool:
        """Set status "timeout" (the deadline passed during the epoch) or "nan" (its mean
        training loss is not finite); True when either ends the run."""
        if ep.timed_out:
            self.status = "timeout"
            self.message = f"time_limit {self.cfg.time_limit:g} s reached in epoch {ep.number}"
            return True
        if not math.isfinite(ep.train_loss):
            self.status = "nan"
            self.message = f"non-finite training loss ({ep.train_loss}) in epoch {ep.number}"
            return True
        return False

    def _end_epoch(self, fit: _Fit, ep: _Epoch) -> bool:
        """Validate after a trained epoch (or a pause inside one), append its history entry
        (``partial`` and ``iteration`` for a pause inside an epoch), pass a copy to
        ``on_epoch``, and update the best-epoch record (:meth:`_track_best`). False when
        early stopping ends the run."""
        assert self.module is not None
        cfg = self.cfg
        self.phase = f"evaluation after epoch {ep.number}"
        correct = _correct_count(
            self.module, fit.val_data, cfg.eval_batch_size, self.amp, self.channels_last
        )
        acc = correct.item() / len(fit.val_data)
        t2 = time.perf_counter()
        self.time_eval += t2 - ep.t1
        entry = {
            "epoch": ep.number,
            "train_loss": ep.train_loss,
            "val_acc": acc,
            "lr": fit.lr,
            "seconds": t2 - ep.t0,
        }
        if ep.partial:  # a pause inside an epoch: this entry covers only its first part
            entry.update(partial=True, iteration=self.iterations)
        self.history.append(entry)
        if fit.on_epoch is not None:
            try:
                fit.on_epoch(dict(entry))
            except Exception as e:
                raise _CallerError(e) from e
        return self._track_best(ep.number, acc, fit.keep_snapshots)

    def _track_best(self, epoch: int, acc: float, keep_snapshots: bool) -> bool:
        """Record ``epoch`` as the best (always with ``score: last``; else when ``acc`` beats
        the best by more than ``min_delta``) and snapshot its weights when they are kept;
        False (with the early-stop message) once ``patience`` epochs passed without a gain."""
        assert self.module is not None
        cfg = self.cfg
        if cfg.score == "last" or self.best_acc is None or acc > self.best_acc + cfg.min_delta:
            self.best_acc, self.best_epoch = acc, epoch
            if keep_snapshots:
                self.snapshot = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
        elif cfg.patience is not None and epoch - self.best_epoch >= cfg.patience:
            self.message = f"early stop after epoch {epoch} (best epoch {self.best_epoch})"
            return False
        return True

    # -- staged training ----------------------------------------------------------
    def _pause(self, fit: _Fit, ep: _Epoch, keep_train_state: bool) -> None:
        """Stop at ``stop_iteration``: say so in the message and, with ``keep_train_state``,
        capture where to continue: inside the epoch (its permutation, next step, step count
        and loss sum) or, when the pause fell on its end, at the start of the next one."""
        self.message = (
            f"paused at iteration {self.iterations} of {fit.total_steps} (stop_iteration)"
        )
        if not keep_train_state:
            return
        if ep.partial:
            where = {
                "epoch": ep.number,
                "step_in_epoch": ep.next_step,
                "order": ep.order,
                "steps": ep.steps,
            }
        else:
            where = {"epoch": ep.number + 1, "step_in_epoch": 0, "order": None, "steps": 0}
        self.train_state = self._capture(
            where, fit.loss_sum if ep.partial else None, fit.gen, fit.total_steps
        )

    def _capture(self, where: dict[str, Any], loss_sum: torch.Tensor | None, gen: torch.Generator,
                 total_steps: int) -> dict[str, Any]:
        """Everything a paused training needs to continue as if it had not stopped (CPU
        tensors and plain values only: ``torch.load(weights_only=True)`` reads it)."""
        assert self.module is not None and self.optimizer is not None

        def cpu(x: Any) -> Any:
            if isinstance(x, torch.Tensor):
                return x.detach().to("cpu", copy=True)
            if isinstance(x, dict):
                return {k: cpu(v) for k, v in x.items()}
            if isinstance(x, list):
                return [cpu(v) for v in x]
            return x

        state = {
            "format": TRAIN_STATE_FORMAT,
            "total_steps": int(total_steps),
            "iterations": int(self.iterations),
            "images": int(self.images),
            "epoch": int(where["epoch"]),
            "step_in_epoch": int(where["step_in_epoch"]),
            "order": cpu(where["order"]),
            "steps": int(where["steps"]),
            "loss_sum": cpu(loss_sum) if loss_sum is not None else torch.zeros(()),
            "generator": gen.get_state().clone(),
            "torch_rng": torch.get_rng_state(),
            "model": cpu(self.module.state_dict()),
            "optimizer": _plain_lr(cpu(self.optimizer.state_dict())),
            "history": [dict(h) for h in self.history],
            "best_acc": self.best_acc,
            "best_epoch": self.best_epoch,
            "best_state": cpu(self.snapshot) if self.snapshot is not None else None,
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def _resume(self, state: dict[str, Any], opt: torch.optim.Optimizer, gen: torch.Generator,
                total_steps: int, keep_snapshots: bool) -> tuple[int, dict[str, Any]]:
        """Restore a paused training's optimizer, RNGs, counters and best-epoch record
        (the weights were loaded at build); returns (first epoch, the state)."""
        if int(state["total_steps"]) != total_steps:
            raise _CallerError(ValueError(
                f"resume_state: paused in a run of {state['total_steps']} iterations, but this config "
                f"runs {total_steps} (the learning-rate schedule would differ); give the same "
                "epochs / max_iterations / batch_size"))
        try:
            opt.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as e:
            raise _CallerError(ValueError(f"resume_state: optimizer state does not fit: {e}")) from e
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.iterations = int(state["iterations"])
        self.images = int(state["images"])
        self.history = [dict(h) for h in state["history"]]
        self.best_acc = state["best_acc"]
        self.best_epoch = state["best_epoch"]
        if keep_snapshots and state.get("best_state") is not None:
            self.snapshot = {k: v.to(self.device) for k, v in state["best_state"].items()}
        return int(state["epoch"]), state

    def guarded(
        self,
        model: ModelLike,
        seed: int,
        init_state: dict[str, Any] | None,
        fit: Callable[[], None],
    ) -> bool:
        """Build, ``fit`` (when the build succeeded) and restore the best weights, with the
        configured deterministic kernels and inside a fork of the global RNG. A failure of
        the candidate becomes status "oom" or "crashed" (the best weights are still restored
        when possible); a caller's error (:class:`_CallerError`) is re-raised. Returns
        whether the failure was an out-of-memory error."""
        with _kernel_flags(self.cfg.deterministic, self.device), _fork_rng(self.device):
            try:
                if self.build(model, seed, init_state):
                    fit()
                self.finish()
            except _CallerError as e:
                raise e.error from e.error.__cause__
            except Exception as e:  # the candidate failed: report, never propagate
                oom = _is_oom(e)
                self.status = "oom" if oom else "crashed"
                self.message = _describe(e, self.phase)
                with contextlib.suppress(Exception):  # weights may be unusable after a crash
                    self.finish()
                return oom
        return False

    def finish(self) -> None:
        """Restore the best epoch's weights into the module when a snapshot was kept."""
        if self.module is None or self.snapshot is None:
            return
        last = self.history[-1]["epoch"] if self.history else None
        if self.status != "ok" or last != self.best_epoch:
            self.module.load_state_dict(self.snapshot)

    def release(self) -> None:
        """Drop device memory held by this run (after OOM or any failure)."""
        if self.module is not None:
            self.module.zero_grad(set_to_none=True)
        self.optimizer = None
        self.module = None

    def result(self) -> TrainResult:
        best_state = None
        if self.cfg.keep_best_state and self.snapshot is not None:
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.snapshot.items()}
        self.snapshot = None
        return TrainResult(
            status=self.status,
            message=self.message,
            history=self.history,
            best_acc=self.best_acc,
            best_epoch=self.best_epoch,
            epochs_run=len(self.history),
            iterations=self.iterations,
            num_params=self.num_params,
            images_per_sec=self.images / self.time_train if self.time_train > 0 else 0.0,
            time_build=self.time_build,
            time_train=self.time_train,
            time_eval=self.time_eval,
            device=str(self.device),
            best_state=best_state,
            train_state=self.train_state,
            cuda_graph=self.graph_note,
        )


def _plain_lr(state: dict[str, Any]) -> dict[str, Any]:
    """An optimiser state dict whose learning rates are numbers (a captured step keeps
    them in a device tensor)."""
    for group in state["param_groups"]:
        if isinstance(group.get("lr"), torch.Tensor):
            group["lr"] = float(group["lr"])
    return state


def _check_arguments(
    model: Any,
    train_data: Any,
    val_data: Any,
    config: Any,
    device: torch.device,
    teacher_logits: torch.Tensor | None,
    num_params: int | None,
) -> None:
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config: expected TrainConfig, got {type(config).__name__}")
    if not (isinstance(model, nn.Module) or callable(model)):
        raise TypeError(f"model: expected nn.Module or a factory, got {type(model).__name__}")
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        if not isinstance(data, DeviceDataset):
            raise TypeError(f"{name}: expected DeviceDataset, got {type(data).__name__}")
        if len(data) == 0:
            raise ValueError(f"{name}: empty data set")
        if not same_device(data.device, device):
            raise ValueError(
                f"{name}: on {data.device} but training on {device}; move it once with .to(device)"
            )
    config.augment.check_input(train_data.shape)
    if config.augment.autoaugment and train_data.preprocessed:
        raise ValueError("augment.autoaugment: needs uint8 images, but the data is preprocessed "
                         "(data.gcn / data.whiten give float32 images)")
    if num_params is not None and (not isinstance(num_params, int) or num_params < 0):
        raise ValueError(f"num_params: must be an integer >= 0, got {num_params!r}")
    if teacher_logits is not None:
        want = (len(train_data), train_data.num_classes)
        if not isinstance(teacher_logits, torch.Tensor) or tuple(teacher_logits.shape) != want:
            got = (
                tuple(teacher_logits.shape)
                if isinstance(teacher_logits, torch.Tensor)
                else teacher_logits
            )
            raise ValueError(
                f"teacher_logits: expected shape {want} aligned with train_data rows, got {got}"
            )


def train(
    model: ModelLike,
    train_data: DeviceDataset,
    val_data: DeviceDataset,
    config: TrainConfig,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    teacher_logits: torch.Tensor | None = None,
    num_params: int | None = None,
    init_state: dict[str, Any] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    stop_iteration: int | None = None,
    resume_state: dict[str, Any] | None = None,
    keep_train_state: bool = False,
) -> TrainResult:
    """Train ``model`` (an nn.Module, or a zero-argument factory whose build time is
    measured) on ``train_data`` and validate on ``val_data`` every epoch.

    ``seed`` seeds the global torch RNG before building (reproducible initial weights; the
    caller's RNG state is restored afterwards) and the device generator used for shuffling
    and augmentation. ``num_params`` lets a too-large model be rejected without building.
    ``teacher_logits`` (len(train_data), K), aligned with the training rows, switch the loss
    to the distillation loss ( see :func:`~.losses.distillation_loss`).
    ``init_state`` is loaded after building (weight inheritance). ``on_epoch`` is called
    with each epoch's history entry (progress display); its exceptions propagate.

    Early stopping (``patience``) and ``keep_best_state`` keep a device copy of the best
    epoch's weights, restored into the module at the end (also after "nan"/"timeout").
    Staged training (a loop that discards weak candidates early): ``stop_iteration`` pauses
    after that many optimiser steps in total while the learning-rate schedule still spans
    the whole run (``epochs`` / ``max_iterations``); the validation set is evaluated at the
    pause (a history entry with ``partial: true`` when it falls inside an epoch). With
    ``keep_train_state`` the result's ``train_state`` holds what is needed to continue:
    weights, optimizer state, shuffling and torch RNG states, the paused epoch's
    permutation and position, counters, history and best-epoch record. Passing it back as
    ``resume_state`` (with the same model and config) continues the run; the weights and
    optimizer trajectory are those of one uninterrupted run (exactly, with deterministic
    kernels: the pause only adds a validation pass, which uses no randomness and leaves
    BatchNorm statistics alone in eval mode). ``resume_state`` replaces ``init_state``.

    Returns a :class:`TrainResult`; failures of the candidate are statuses, not exceptions.
    """
    start = time.perf_counter()
    dev = torch.device(device) if device is not None else train_data.device
    _check_arguments(model, train_data, val_data, config, dev, teacher_logits, num_params)
    if num_params is not None and config.max_params is not None and num_params > config.max_params:
        return TrainResult.failure(
            "too_large",
            f"{num_params} parameters > max_params {config.max_params}",
            num_params=num_params,
            device=str(dev),
        )
    teacher = None if teacher_logits is None else teacher_logits.detach().to(dev, torch.float32)
    init_state = _check_staging(init_state, resume_state, stop_iteration)
    run = _Run(config, dev, start)

    def fit() -> None:
        run.fit(
            train_data, val_data, seed, teacher, on_epoch, resume_state, stop_iteration,
            keep_train_state,
        )  # fmt: skip

    oom = run.guarded(model, seed, init_state, fit)
    if run.status != "ok":
        run.release()
    result = run.result()  # copies best_state to the CPU and drops the device snapshot
    if oom:  # the traceback (and its activations) went with guarded's except block
        gc.collect()
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return result


def _check_staging(
    init_state: dict[str, Any] | None,
    resume_state: dict[str, Any] | None,
    stop_iteration: int | None,
) -> dict[str, Any] | None:
    """Check the staged-training arguments of :func:`train`; returns the weights to load at
    build: ``resume_state``'s when resuming (which excludes ``init_state``), else ``init_state``."""
    if resume_state is not None:
        if init_state is not None:
            raise ValueError("give init_state or resume_state, not both")
        if not isinstance(resume_state, dict) or resume_state.get("format") != TRAIN_STATE_FORMAT:
            raise ValueError(f"resume_state: not a {TRAIN_STATE_FORMAT} dict")
        init_state = resume_state["model"]
    if stop_iteration is not None and (not isinstance(stop_iteration, int) or stop_iteration < 1):
        raise ValueError(f"stop_iteration: must be an integer >= 1, got {stop_iteration!r}")
    return init_state
