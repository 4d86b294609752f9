"""What every search loop shares (torch-free): budget, control, state, evaluation, statistics.

One budget model for all algorithms (evaluations, generations, wall-clock hours, device
hours summed over workers): a loop asks :meth:`SearchControl.stop_reason` between
generations and stops cleanly at the first limit reached, saying which. A loop hands its
:class:`SearchState` to :meth:`SearchControl.generation_done` after each generation; the
runtime hooks snapshots and progress display there.

The loops themselves are :class:`~deap_nas.algorithms.base.Algorithm` subclasses that
yield batches with evaluation requests (:mod:`deap_nas.algorithms.base`);
:func:`evaluate_invalid`, :func:`submit_evaluation` and :func:`wait_first` remain for
hand-written DEAP loops (and the steady-state aging loop) and use the runtime's
``toolbox.evaluate_population`` when present, else plain DEAP ``toolbox.evaluate``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from deap import tools


@dataclass
class Budget:
    """Limits of a search; ``None`` means unlimited (at least one must be set to stop).

    ``evaluations`` counts candidates evaluated, fitness-cache hits included (a
    duplicate costs no training but still uses a slot of the search).
    """

    evaluations: int | None = None
    generations: int | None = None
    hours: float | None = None
    device_hours: float | None = None

    def __post_init__(self) -> None:
        for name in ("evaluations", "generations"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name}: must be >= 1, got {v}")
        for name in ("hours", "device_hours"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ValueError(f"{name}: must be > 0, got {v}")
        if all(getattr(self, n) is None for n in ("evaluations", "generations", "hours", "device_hours")):
            raise ValueError("set at least one of evaluations, generations, hours, device_hours")


@dataclass
class Usage:
    """What a search has used so far (kept in snapshots, so it survives a resume)."""

    evaluations: int = 0
    trained: int = 0
    generations: int = 0
    seconds: float = 0.0
    device_seconds: float = 0.0


class SearchControl:
    """The budget and the hooks a loop talks to (``budget`` None: no limit; the loop
    stops at its own end only)."""

    def __init__(self, budget: Budget | None, callbacks: Sequence[Callable[[SearchState], None]] = ()) -> None:
        self.budget = budget
        self.usage = Usage()
        self.callbacks = list(callbacks)
        self._clock = time.monotonic()
        self.reason: str | None = None

    def tick(self) -> None:
        """Add wall time since the last tick to ``usage.seconds``."""
        now = time.monotonic()
        self.usage.seconds += now - self._clock
        self._clock = now

    def remaining_evaluations(self) -> float:
        b = self.budget.evaluations if self.budget is not None else None
        return math.inf if b is None else max(0, b - self.usage.evaluations)

    def stop_reason(self) -> str | None:
        """The first budget limit reached, as a sentence, or None."""
        self.tick()
        b, u = self.budget, self.usage
        if b is None:  # no budget (ask/tell without a control): the loop's own end only
            self.reason = None
        elif b.evaluations is not None and u.evaluations >= b.evaluations:
            self.reason = f"evaluation budget reached ({u.evaluations} >= {b.evaluations})"
        elif b.generations is not None and u.generations >= b.generations:
            self.reason = f"generation budget reached ({u.generations} >= {b.generations})"
        elif b.hours is not None and u.seconds >= b.hours * 3600:
            self.reason = f"wall-clock budget reached ({u.seconds / 3600:.3f} h >= {b.hours} h)"
        elif b.device_hours is not None and u.device_seconds >= b.device_hours * 3600:
            self.reason = f"device-hour budget reached ({u.device_seconds / 3600:.3f} h >= {b.device_hours} h)"
        else:
            self.reason = None
        return self.reason

    def evaluated(self, n: int, trained: int | None = None, device_seconds: float = 0.0) -> None:
        self.usage.evaluations += n
        self.usage.trained += n if trained is None else trained
        self.usage.device_seconds += device_seconds

    def generation_done(self, state: SearchState) -> None:
        self.usage.generations = state.generation
        self.tick()
        for cb in self.callbacks:
            cb(state)


@dataclass
class SearchState:
    """Everything a loop needs to continue: the runtime snapshots and restores it."""

    generation: int = 0
    population: list = field(default_factory=list)
    hall_of_fame: tools.HallOfFame = field(default_factory=lambda: tools.HallOfFame(10))
    logbook: tools.Logbook = field(default_factory=tools.Logbook)
    extra: dict[str, Any] = field(default_factory=dict)
    #: individuals being evaluated when the state was saved (steady-state loops)
    in_flight: list = field(default_factory=list)


LEADING_COLUMNS = ("gen", "nevals")


def logbook_header(current: Sequence[str] | None, keys: Iterable[str], stats_fields: Sequence[str] = ()) -> list[str]:
    """DEAP's logbook header, ``['gen', 'nevals'] + stats.fields``, with a loop's own columns
    (``keys`` not yet in ``current``, in the order recorded) between the two."""
    tail = list(stats_fields)
    skip = set(LEADING_COLUMNS) | set(tail)
    own = [k for k in (current or ()) if k not in skip]
    own += [k for k in keys if k not in skip and k not in own]
    return [*LEADING_COLUMNS, *own, *tail]


def close_generation(state: SearchState, control: SearchControl, generation: int, nevals: int,
                     population: list) -> None:
    """End a generational loop's generation: the new population, hall of fame, one logbook
    row (``gen``, ``nevals`` and :func:`fitness_record`; the header set), then the control's
    hooks. (An :class:`~deap_nas.algorithms.base.Algorithm` calls its own
    ``close_generation``, which adds the user's ``stats``, ``halloffame`` and ``verbose``.)"""
    state.population = population
    state.hall_of_fame.update(population)
    row = {"gen": generation, "nevals": nevals, **fitness_record(population)}
    state.logbook.record(**row)
    state.logbook.header = logbook_header(state.logbook.header, row)
    state.generation = generation
    control.generation_done(state)


def evaluate_invalid(toolbox: Any, individuals: Sequence[Any], control: SearchControl | None = None,
                     generation: int = 0) -> int:
    """Evaluate the individuals whose fitness is invalid; returns how many there were."""
    invalid = [ind for ind in individuals if not ind.fitness.valid]
    if not invalid:
        return 0
    if hasattr(toolbox, "evaluate_population"):
        toolbox.evaluate_population(invalid, generation=generation, control=control)
    else:
        for ind, fit in zip(invalid, toolbox.map(toolbox.evaluate, invalid), strict=True):
            ind.fitness.values = fit
        if control is not None:
            control.evaluated(len(invalid))
    return len(invalid)


@dataclass(eq=False)
class _Evaluated:
    """Handle of an evaluation already finished (plain DEAP toolboxes are synchronous)."""

    ind: Any
    ids: tuple = ()

    def done(self) -> bool:
        return True


def submit_evaluation(toolbox: Any, ind: Any, control: SearchControl | None = None, generation: int = 0,
                      ids: Any = None, request: Any = None) -> Any:
    """Start evaluating ``ind``: asynchronously through the runtime's
    ``toolbox.submit_evaluation`` (with ``request``, an ``EvalRequest``, when given), else
    at once with ``toolbox.evaluate`` (which ignores it). The handle has ``.ind`` and
    ``.ids``; pass handles to :func:`wait_first`."""
    if hasattr(toolbox, "submit_evaluation"):
        if request is None:
            return toolbox.submit_evaluation(ind, generation=generation, ids=ids)
        return toolbox.submit_evaluation(ind, generation=generation, ids=ids, request=request)
    ind.fitness.values = toolbox.evaluate(ind)
    if control is not None:
        control.evaluated(1)
    return _Evaluated(ind)


def wait_first(toolbox: Any, handles: Sequence[Any], control: SearchControl | None = None) -> Any:
    """The first handle whose evaluation is done (blocking), with its fitness set."""
    if hasattr(toolbox, "wait_first"):
        return toolbox.wait_first(handles, control=control)
    return handles[0]


def is_ok(ind: Any) -> bool:
    """True unless the runtime recorded a failed evaluation (penalty) on the individual."""
    return getattr(ind, "result", {}).get("status", "ok") == "ok"


def fitness_record(individuals: Sequence[Any]) -> dict[str, float | int]:
    """Logbook statistics of the first objective over successfully evaluated individuals."""
    values = [ind.fitness.values[0] for ind in individuals if ind.fitness.valid and is_ok(ind)]
    failed = sum(1 for ind in individuals if ind.fitness.valid and not is_ok(ind))
    if not values:
        return {"best": math.nan, "mean": math.nan, "std": math.nan, "worst": math.nan, "failed": failed}
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return {"best": max(values), "mean": mean, "std": std, "worst": min(values), "failed": failed}
