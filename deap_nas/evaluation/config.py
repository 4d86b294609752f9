"""Training configuration for the evaluation engine, validated on construction."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..checks import check_limits
from .augment_config import AugmentConfig

__all__ = ["CUDA_GRAPH_MODES", "FUSED_MODES", "OPTIMIZERS", "SCHEDULES", "SCHEDULE_SETTINGS", "TrainConfig"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "cosine", "cosine_restarts", "step", "multistep")
#: schedule setting -> (the schedules that use it, its value when such a schedule leaves it
#: unset). A setting given with a schedule that ignores it is an error.
SCHEDULE_SETTINGS: dict[str, tuple[tuple[str, ...], Any]] = {
    "t0": (("cosine_restarts",), 10.0),
    "t_mult": (("cosine_restarts",), 1.0),
    "eta_min": (("cosine", "cosine_restarts"), 0.0),
    "step_size": (("step",), 30),
    "gamma": (("step", "multistep"), 0.1),
    "milestones": (("multistep",), ()),
}
AMP_MODES = ("auto", "bf16", "off")
#: ``fused``: which optimiser implementation (docs/reference.md, "Per-step cost")
FUSED_MODES = ("auto", "on", "off")
#: ``cuda_graph``: capture the training step in a CUDA graph when the conditions hold
CUDA_GRAPH_MODES = ("auto", "off")


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
    ``milestones``. These six settings are None ("not set") unless the schedule uses them:
    a schedule fills the ones it uses and leaves unset with their defaults (t0 10, t_mult
    1, eta_min 0, step_size 30, gamma 0.1, milestones none), and a setting given to a
    schedule that ignores it (e.g. ``t0`` with ``cosine``) is an error naming both.

    ``patience``: stop after this many epochs without a validation gain > ``min_delta`` and
    restore the best epoch's weights. ``max_iterations``: cap on optimiser steps (for
    loops that count training in iterations). ``distill_alpha``/``distill_temperature``: alpha and T
    of the distillation loss, used when teacher logits are given. ``amp``: "auto" = bf16 autocast on
    CUDA only, "bf16" = always, "off". ``channels_last``: "auto" = on (CUDA and CPU: on
    CPU oneDNN's NHWC kernels are faster, most for depthwise-separable networks:
    benchmarks/memory_format.py), or a bool.
    ``fused``: the optimiser implementation; "auto" = torch's fused kernel on CUDA and the
    multi-tensor (foreach) one elsewhere (bit-identical to the per-parameter loop on CPU),
    "on" = fused wherever torch has it (CPU too; changes results in the last bits), "off" =
    the per-parameter loop. ``cuda_graph``: "auto" = capture the training step in a CUDA
    graph on CUDA when its shapes are static (falling back to eager on any capture error),
    "off" = eager. ``deterministic``: deterministic kernels; when false, cuDNN benchmarks
    its convolution algorithms on CUDA (``cudnn.benchmark``).
    ``time_limit``: wall-clock seconds for the whole call. ``max_params``: larger models get
    status "too_large" without training. ``score``: "best" = the result is the best epoch's
    validation accuracy (and weights); "last" = the last epoch's (a network tested
    once, after its last epoch).
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
    t0: float | None = None
    t_mult: float | None = None
    eta_min: float | None = None
    step_size: int | None = None
    gamma: float | None = None
    milestones: tuple[int, ...] | None = None
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
    fused: str = "auto"
    cuda_graph: str = "auto"
    max_params: int | None = None
    time_limit: float | None = None
    keep_best_state: bool = False
    drop_last: bool = True
    score: str = "best"
    #: drop-path probability on merged branches (final training of cell networks; 0 = off)
    drop_path: float = 0.0

    def __post_init__(self) -> None:
        """Check every field (in declaration order, group by group); numbers are stored as
        float, ``betas`` and ``milestones`` as tuples, an ``augment`` dict as AugmentConfig."""
        self._check_sizes()
        self._check_optimizer()
        self._check_schedule()
        self._check_loss_and_stopping()
        self._check_augment_and_distillation()
        self._check_execution()

    # -- field checks -------------------------------------------------------------
    def _bad(self, name: str, why: str) -> ValueError:
        return ValueError(f"TrainConfig.{name}: {why}, got {getattr(self, name)!r}")

    def _need_int(self, name: str, low: int, optional: bool = False) -> None:
        v = getattr(self, name)
        if optional and v is None:
            return
        if not _is_int(v) or v < low:
            raise self._bad(name, f"must be an integer >= {low}")

    def _need_num(
        self,
        name: str,
        low: float,
        high: float = float("inf"),
        *,
        strict_low: bool = False,
        optional: bool = False,
    ) -> None:
        """A number in [low, high] (> low with ``strict_low``), stored as float."""
        v = getattr(self, name)
        if optional and v is None:
            return
        if not _is_num(v):
            raise self._bad(name, "must be a number")
        if not math.isfinite(v):
            raise self._bad(name, "must be a finite number")
        if strict_low and not v > low:
            raise self._bad(name, f"must be > {low:g}")
        if not low <= v <= high:
            raise self._bad(name, f"must be in [{low:g}, {high:g}]")
        setattr(self, name, float(v))

    def _need_bool(self, name: str) -> None:
        if not isinstance(getattr(self, name), bool):
            raise self._bad(name, "must be true or false")

    def _need_mode(self, name: str, modes: tuple[str, ...]) -> None:
        """One of ``modes``; YAML's ``on`` / ``off`` (read as booleans) become "on" / "off"."""
        v = getattr(self, name)
        if isinstance(v, bool):
            v = "on" if v else "off"
            setattr(self, name, v)
        if v not in modes:
            raise self._bad(name, f"must be one of {modes}")

    def _need_choice(self, name: str, choices: tuple[str, ...], why: str) -> None:
        if getattr(self, name) not in choices:
            raise self._bad(name, why)

    # -- field groups -------------------------------------------------------------
    def _check_sizes(self) -> None:
        """``epochs``, ``batch_size``, ``eval_batch_size``: >= 1 and at most their
        :data:`~deap_nas.checks.LIMITS` bound."""
        self._need_int("epochs", 1)
        self._need_int("batch_size", 1)
        self._need_int("eval_batch_size", 1)
        try:  # upper bounds (deap_nas.checks.LIMITS)
            check_limits({n: getattr(self, n) for n in ("epochs", "batch_size", "eval_batch_size")})
        except ValueError as e:
            raise ValueError(f"TrainConfig.{e}") from None

    def _check_optimizer(self) -> None:
        """``optimizer`` and its settings: ``lr``, ``momentum``, ``nesterov`` (SGD with
        momentum only), ``weight_decay``, ``betas``."""
        self._need_choice("optimizer", OPTIMIZERS, f"must be one of {OPTIMIZERS}")
        self._need_num("lr", 0.0, strict_low=True)
        self._need_num("momentum", 0.0, 1.0)
        self._need_bool("nesterov")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise self._bad("nesterov", "needs optimizer 'sgd' with momentum > 0")
        self._need_num("weight_decay", 0.0)
        try:
            b1, b2 = (float(b) for b in self.betas)
        except (TypeError, ValueError):
            raise self._bad("betas", "must be a pair of numbers") from None
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise self._bad("betas", "must be in [0, 1)")
        self.betas = (b1, b2)

    def _check_schedule(self) -> None:
        """``schedule`` and its settings (:data:`SCHEDULE_SETTINGS`): a setting the schedule
        ignores must be unset; the ones it uses are checked, defaults filled in."""
        self._need_choice("schedule", SCHEDULES, f"must be one of {SCHEDULES}")
        for name, (users, default) in SCHEDULE_SETTINGS.items():
            if self.schedule not in users:
                if getattr(self, name) is not None:
                    raise self._bad(name, f"is ignored by schedule {self.schedule!r} (used by "
                                          f"{' / '.join(repr(u) for u in users)}); remove it")
            elif getattr(self, name) is None:
                setattr(self, name, default)
        if self.schedule == "cosine_restarts":
            self._need_num("t0", 0.0, strict_low=True)
            self._need_num("t_mult", 1.0)
        if self.eta_min is not None:
            self._need_num("eta_min", 0.0)
        if self.schedule == "step":
            self._need_int("step_size", 1)
        if self.gamma is not None:
            self._need_num("gamma", 0.0, strict_low=True)
        if self.schedule == "multistep":
            ms = self.milestones
            if (
                not isinstance(ms, list | tuple)
                or not all(_is_int(m) and m > 0 for m in ms)
                or list(ms) != sorted(set(ms))
            ):
                raise self._bad("milestones", "must be increasing positive integers (epochs)")
            self.milestones = tuple(ms)

    def _check_loss_and_stopping(self) -> None:
        """``label_smoothing`` and when training stops: ``patience``, ``min_delta``,
        ``max_iterations``."""
        self._need_num("label_smoothing", 0.0, 1.0)
        if self.label_smoothing >= 1.0:
            raise self._bad("label_smoothing", "must be < 1")
        self._need_int("patience", 1, optional=True)
        self._need_num("min_delta", 0.0)
        self._need_int("max_iterations", 1, optional=True)

    def _check_augment_and_distillation(self) -> None:
        """``augment`` (a dict becomes an AugmentConfig), ``distill_alpha``,
        ``distill_temperature``."""
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig.from_dict(self.augment)
        if not isinstance(self.augment, AugmentConfig):
            raise self._bad("augment", "must be an AugmentConfig or a dict")
        self._need_num("distill_alpha", 0.0, 1.0)
        self._need_num("distill_temperature", 0.0, strict_low=True)

    def _check_execution(self) -> None:
        """How the run executes and what it reports: ``amp``, ``channels_last``,
        ``deterministic``, ``fused``, ``cuda_graph``, ``max_params``, ``time_limit``, ``keep_best_state``,
        ``drop_last``, ``score``, ``drop_path``."""
        self._need_choice("amp", AMP_MODES, f"must be one of {AMP_MODES}")
        if self.channels_last != "auto" and not isinstance(self.channels_last, bool):
            raise self._bad("channels_last", "must be 'auto', true or false")
        self._need_bool("deterministic")
        self._need_mode("fused", FUSED_MODES)
        self._need_mode("cuda_graph", CUDA_GRAPH_MODES)
        self._need_int("max_params", 1, optional=True)
        self._need_num("time_limit", 0.0, strict_low=True, optional=True)
        self._need_bool("keep_best_state")
        self._need_bool("drop_last")
        self._need_choice("score", ("best", "last"), "must be 'best' or 'last'")
        self._need_num("drop_path", 0.0, 1.0)
        if self.drop_path >= 1.0:
            raise self._bad("drop_path", "must be < 1")

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
        for name in SCHEDULE_SETTINGS:  # unset (the schedule ignores it): left out
            if d[name] is None:
                del d[name]
        if "milestones" in d:
            d["milestones"] = list(self.milestones)
        if not d["drop_path"]:  # off: left out, so configs written before it keep their form
            del d["drop_path"]
        for name in ("fused", "cuda_graph"):  # "auto": left out, as drop_path
            if d[name] == "auto":
                del d[name]
        return d
