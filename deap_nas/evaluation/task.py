"""From an architecture and prepared data to a training result.

:func:`train_architecture` checks an :class:`Architecture` against the data's shape and
the parameter limit before building it, so an invalid or over-budget candidate ends with
a status instead of an exception. Data preparation lives in :mod:`deap_nas.data.prepare`
(re-exported here for older imports).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from ..arch import Architecture, ArchitectureError, HeadSpec
from ..data.prepare import PreparedData, prepare_data, prepare_from_config
from ..nn import build
from .config import TrainConfig
from .engine import train
from .result import TrainResult

__all__ = ["PreparedData", "prepare_data", "prepare_from_config", "train_architecture"]


def train_architecture(
    arch: Architecture,
    data: PreparedData,
    config: TrainConfig,
    *,
    head: str | Mapping[str, Any] | HeadSpec | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    init_state: Mapping[str, torch.Tensor] | None = None,
    teacher_logits: torch.Tensor | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    stop_iteration: int | None = None,
    resume_state: dict[str, Any] | None = None,
    keep_train_state: bool = False,
) -> TrainResult:
    """Validate, size-check, build and train ``arch`` on ``data`` (validation accuracy).

    Invalid architectures get status ``invalid`` and over-budget ones ``too_large``,
    both without building a module. ``stop_iteration`` / ``resume_state`` /
    ``keep_train_state``: staged training, see :func:`deap_nas.evaluation.train`.
    """
    try:
        n_params = arch.num_params(data.input_shape, data.num_classes, head)
    except ArchitectureError as e:
        return TrainResult.failure("invalid", str(e))
    return train(
        lambda: build(arch, data.input_shape, data.num_classes, head),
        data.train,
        data.val,
        config,
        seed=seed,
        device=device or data.train.device,
        teacher_logits=teacher_logits,
        num_params=n_params,
        init_state=dict(init_state) if init_state is not None else None,
        on_epoch=on_epoch,
        stop_iteration=stop_iteration,
        resume_state=resume_state,
        keep_train_state=keep_train_state,
    )
