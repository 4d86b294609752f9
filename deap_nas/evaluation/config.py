"""Training configuration for the evaluation engine, validated on construction."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .augment import AugmentConfig

__all__ = ["OPTIMIZERS", "SCHEDULES", "TrainConfig"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "cosine", "cosine_restarts", "step", "multistep")
AMP_MODES = ("auto", "bf16", "off")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass
class TrainConfig:
    """How one candidate is trained (see :func:`deap_nas.evaluation.train`).

    Schedule units are epochs (fractional: the learning rate is set every step).
    ``cosine`` anneals from ``lr`` to ``eta_min`` over the whole run (``epochs``, or
    ``max_iterations`` when that ends it sooner); ``cosine_restarts`` is SGDR (Loshchilov &
    Hutter 2017) with first period ``t0`` epochs and period factor ``t_mult``; ``step``
    multiplies by ``gamma`` every ``step_size`` epochs, ``multistep`` at each of
    ``milestones``.

    ``patience``: stop after this many epochs without a validation gain > ``min_delta`` and
    restore the best epoch's weights. ``max_iterations``: cap on optimiser steps (EIGEN
    counts training in iterations). ``distill_alpha``/``distill_temperature``: alpha and T
    of EIGEN eq. 3, used when teacher logits are given. ``amp``: "auto" = bf16 autocast on
    CUDA only, "bf16" = always, "off". ``channels_last``: "auto" = on (CUDA and CPU: on
    CPU oneDNN trains depthwise-separable networks about 3x faster, plain convs 1.0-1.1x:
    benchmarks/memory_format.py), or a bool.
    ``time_limit``: wall-clock seconds for the whole call. ``max_params``: larger models get
    status "too_large" without training. ``score``: "best" = the result is the best epoch's
    validation accuracy (and weights); "last" = the last epoch's (MiniGen tests each
    network once, after its 20 epochs).
    """

    epochs: int = 10
    batch_size: int = 128
    eval_batch_size: int = 1024
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "cosine"
    t0: float = 10.0
    t_mult: float = 1.0
    eta_min: float = 0.0
    step_size: int = 30
    gamma: float = 0.1
    milestones: tuple[int, ...] = ()
    label_smoothing: float = 0.0
    patience: int | None = None
    min_delta: float = 0.0
    max_iterations: int | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    distill_alpha: float = 0.9
    distill_temperature: float = 5.0
    amp: str = "auto"
    channels_last: bool | str = "auto"
    deterministic: bool = False
    max_params: int | None = None
    time_limit: float | None = None
    keep_best_state: bool = False
    drop_last: bool = True
    score: str = "best"
    #: drop-path probability on merged branches (NASGEP / DARTS final training; 0 = off)
    drop_path: float = 0.0

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"TrainConfig.{name}: {why}, got {getattr(self, name)!r}")

        def need_int(name: str, low: int, optional: bool = False) -> None:
            v = getattr(self, name)
            if optional and v is None:
                return
            if not _is_int(v) or v < low:
                raise bad(name, f"must be an integer >= {low}")

        def need_num(
            name: str,
            low: float,
            high: float = float("inf"),
            *,
            strict_low: bool = False,
            optional: bool = False,
        ) -> None:
            v = getattr(self, name)
            if optional and v is None:
                return
            if not _is_num(v):
                raise bad(name, "must be a number")
            if strict_low and not v > low:
                raise bad(name, f"must be > {low:g}")
            if not low <= v <= high:
                raise bad(name, f"must be in [{low:g}, {high:g}]")
            setattr(self, name, float(v))

        def need_bool(name: str) -> None:
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "must be true or false")

        need_int("epochs", 1)
        need_int("batch_size", 1)
        need_int("eval_batch_size", 1)
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"must be one of {OPTIMIZERS}")
        need_num("lr", 0.0, strict_low=True)
        need_num("momentum", 0.0, 1.0)
        need_bool("nesterov")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise bad("nesterov", "needs optimizer 'sgd' with momentum > 0")
        need_num("weight_decay", 0.0)
        try:
            b1, b2 = (float(b) for b in self.betas)
        except (TypeError, ValueError):
            raise bad("betas", "must be a pair of numbers") from None
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise bad("betas", "must be in [0, 1)")
        self.betas = (b1, b2)
        if self.schedule not in SCHEDULES:
            raise bad("schedule", f"must be one of {SCHEDULES}")
        need_num("t0", 0.0, strict_low=True)
        need_num("t_mult", 1.0)
        need_num("eta_min", 0.0)
        need_int("step_size", 1)
        need_num("gamma", 0.0, strict_low=True)
        ms = self.milestones
        if (
            not isinstance(ms, list | tuple)
            or not all(_is_int(m) and m > 0 for m in ms)
            or list(ms) != sorted(set(ms))
        ):
            raise bad("milestones", "must be increasing positive integers (epochs)")
        self.milestones = tuple(ms)
        need_num("label_smoothing", 0.0, 1.0)
        if self.label_smoothing >= 1.0:
            raise bad("label_smoothing", "must be < 1")
        need_int("patience", 1, optional=True)
        need_num("min_delta", 0.0)
        need_int("max_iterations", 1, optional=True)
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig.from_dict(self.augment)
        if not isinstance(self.augment, AugmentConfig):
            raise bad("augment", "must be an AugmentConfig or a dict")
        need_num("distill_alpha", 0.0, 1.0)
        need_num("distill_temperature", 0.0, strict_low=True)
        if self.amp not in AMP_MODES:
            raise bad("amp", f"must be one of {AMP_MODES}")
        if self.channels_last != "auto" and not isinstance(self.channels_last, bool):
            raise bad("channels_last", "must be 'auto', true or false")
        need_bool("deterministic")
        need_int("max_params", 1, optional=True)
        need_num("time_limit", 0.0, strict_low=True, optional=True)
        need_bool("keep_best_state")
        need_bool("drop_last")
        if self.score not in ("best", "last"):
            raise bad("score", "must be 'best' or 'last'")
        need_num("drop_path", 0.0, 1.0)
        if self.drop_path >= 1.0:
            raise bad("drop_path", "must be < 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a plain dict (e.g. YAML); unknown keys raise ValueError naming them.

        ``augment`` may be a nested dict; its keys are checked the same way.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"TrainConfig: unknown key(s) {unknown}; known: {sorted(known)}")
        data = dict(data)
        if isinstance(data.get("augment"), dict):
            try:
                data["augment"] = AugmentConfig.from_dict(data["augment"])
            except ValueError as e:
                raise ValueError(f"TrainConfig.augment: {e}") from None
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict (round-trips through :meth:`from_dict`)."""
        d = asdict(self)
        d["augment"] = self.augment.to_dict()
        d["betas"] = list(self.betas)
        d["milestones"] = list(self.milestones)
        if not d["drop_path"]:  # off: left out, so configs written before it keep their form
            del d["drop_path"]
        return d
