"""The record one training call returns: status, history, best epoch, timings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import torch

__all__ = ["STATUSES", "TrainResult"]

STATUSES = ("ok", "invalid", "too_large", "constraint", "nan", "oom", "timeout", "crashed")


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, torch.Tensor):
        return _json_safe(value.tolist())
    return value


@dataclass
class TrainResult:
    """Outcome of :func:`deap_nas.evaluation.train` (docs/architecture.md).

    ``status`` is one of ``STATUSES``; anything but "ok" is a failure whose accuracy must not
    be taken as a fitness. ``best_acc`` is the validation accuracy in [0, 1] at
    ``best_epoch`` (1-based), or None when no epoch finished. ``history`` holds one dict per
    finished epoch (epoch, train_loss, val_acc, lr, seconds). ``images_per_sec`` is the
    training throughput; ``time_*`` are wall seconds. ``best_state`` (CPU state dict, only
    with ``keep_best_state``) is left out of :meth:`to_dict`, as is ``train_state`` (the
    state to continue a paused training from, only with ``keep_train_state``; see
    :func:`deap_nas.evaluation.train`). ``cuda_graph`` (CUDA only, else ""): "captured" when
    the training step ran as a CUDA graph, "eager: <why not>" or "failed, eager: <error>"
    (the capture raised and the step ran eagerly); left out of :meth:`to_dict` when "".
    """

    status: str = "ok"
    message: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    best_acc: float | None = None
    best_epoch: int | None = None
    epochs_run: int = 0
    iterations: int = 0
    num_params: int | None = None
    images_per_sec: float = 0.0
    time_build: float = 0.0
    time_train: float = 0.0
    time_eval: float = 0.0
    device: str = ""
    best_state: dict[str, torch.Tensor] | None = field(default=None, repr=False, compare=False)
    train_state: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    cuda_graph: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"TrainResult.status: must be one of {STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def failure(cls, status: str, message: str = "", **fields_: Any) -> TrainResult:
        """A failed result (any status but "ok") with no accuracy."""
        if status == "ok":
            raise ValueError("TrainResult.failure: status must not be 'ok'")
        return cls(status=status, message=message, **fields_)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite floats become None); ``best_state`` is omitted."""
        return {
            f.name: _json_safe(getattr(self, f.name))
            for f in fields(self)
            if f.name not in ("best_state", "train_state")
            and not (f.name == "cuda_graph" and not self.cuda_graph)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        """Inverse of :meth:`to_dict` (e.g. reading an evaluation journal)."""
        known = {f.name for f in fields(cls)} - {"best_state", "train_state"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"TrainResult: unknown key(s) {unknown}")
        return cls(**data)
