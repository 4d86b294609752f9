"""Aging evolution (regularized evolution; Real et al. 2019, Algorithm 1).

Serial loop (``in_flight: 1``), exactly Algorithm 1: fill the population with
``population_size`` random models; then each cycle samples ``sample_size`` individuals
at random, the best of the sample is cloned and mutated (``toolbox.mutate``), the child
is evaluated and appended, and the oldest individual (earliest born, not the worst) is
removed. The macro-NAS paper (sec. 4.1) uses P = 100, S = 25, 400 cycles; its random
baseline is the same loop with S = 1.

Asynchronous steady state (``in_flight: W > 1``), as large-scale implementations run it:
W children are evaluated at the same time, and whenever one finishes it joins the
population (the oldest leaves) and a new child is bred from the population *as it is
then* and submitted, so no worker waits for a slow candidate. Departures from the serial
loop: a child's parent is chosen from a population that lacks the (up to W - 1) children
still in flight (a child bred while none has joined yet, as when W > P, is random), and
the order in which children join depends on training times, so two runs with the same
seed may differ; serial runs, and resumed serial runs, are exact.

The loop reports a "generation" to the runtime after every finished evaluation (one
logbook row each: the child's fitness, the best so far and population statistics), so a
snapshot is taken per evaluation and ``budget.generations`` counts evaluations here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from deap import tools

from ..ops.aging import remove_oldest, sel_aging_tournament, set_birth
from .common import SearchControl, SearchState, fitness_record, submit_evaluation, wait_first
from .registry import register_algorithm


@dataclass
class AgingParams:
    """``algorithm:`` section for ``name: aging_evolution``."""

    population_size: int = 100
    sample_size: int = 25
    cycles: int | None = None  # evolution cycles after the initial population (None: budget only)
    in_flight: int = 1  # children evaluated at once; > 1 = asynchronous steady state
    hall_of_fame: int = 10

    def __post_init__(self) -> None:
        if self.population_size < 1:
            raise ValueError(f"population_size: must be >= 1, got {self.population_size}")
        if self.sample_size > self.population_size:
            raise ValueError(f"sample_size: {self.sample_size} > population_size {self.population_size}")
        if self.sample_size < 1:
            raise ValueError(f"sample_size: must be >= 1, got {self.sample_size}")
        if self.cycles is not None and self.cycles < 0:
            raise ValueError(f"cycles: must be >= 0, got {self.cycles}")
        if self.in_flight < 1:
            raise ValueError(f"in_flight: must be >= 1, got {self.in_flight}")
        if self.hall_of_fame < 1:
            raise ValueError(f"hall_of_fame: must be >= 1, got {self.hall_of_fame}")


def _new_child(toolbox: Any, state: SearchState, population_size: int, sample_size: int) -> Any:
    extra = state.extra
    if extra["submitted"] < population_size or not state.population:
        # the initial random population; also a child bred while every earlier one is
        # still in flight (in_flight > population_size): there is no parent to sample yet
        child = toolbox.individual()
    else:
        (parent,) = sel_aging_tournament(state.population, 1, sample_size, rng=random)
        child = toolbox.clone(parent)
        (child,) = toolbox.mutate(child)
        del child.fitness.values
        for attr in ("result", "eval_ids"):
            if hasattr(child, attr):
                delattr(child, attr)
    set_birth(child, extra["births"])
    extra["births"] += 1
    extra["submitted"] += 1
    return child


@register_algorithm("aging_evolution", AgingParams, roles=("mutate",))
def aging_evolution(
    toolbox: Any,
    control: SearchControl,
    population_size: int = 100,
    sample_size: int = 25,
    cycles: int | None = None,
    in_flight: int = 1,
    hall_of_fame: int = 10,
    state: SearchState | None = None,
) -> SearchState:
    """Run until the budget (or ``population_size + cycles`` evaluations) is spent."""
    if state is None:
        state = SearchState(hall_of_fame=tools.HallOfFame(hall_of_fame))
    state.extra.setdefault("births", 0)
    state.extra.setdefault("submitted", 0)
    limit = None if cycles is None else population_size + cycles
    # children that were being evaluated when the snapshot was taken: evaluate them again
    # under the same evaluation ids (finished ones come back from the journal)
    pending = [submit_evaluation(toolbox, ind, control, state.generation, getattr(ind, "eval_ids", None))
               for ind in state.in_flight]

    def may_submit() -> bool:
        if control.stop_reason() is not None:
            return False
        if limit is not None and state.extra["submitted"] >= limit:
            return False
        return len(pending) < control.remaining_evaluations()

    while True:
        while len(pending) < in_flight and may_submit():
            child = _new_child(toolbox, state, population_size, sample_size)
            handle = submit_evaluation(toolbox, child, control, state.generation + 1)
            child.eval_ids = list(handle.ids)
            pending.append(handle)
        if not pending:
            break
        done = wait_first(toolbox, pending, control)
        pending.remove(done)
        child = done.ind
        state.population.append(child)
        if len(state.population) > population_size:
            remove_oldest(state.population)
        state.hall_of_fame.update([child])
        state.generation += 1
        state.in_flight = [h.ind for h in pending]
        state.logbook.record(
            gen=state.generation,
            nevals=1,
            child=child.fitness.values[0],
            best_so_far=state.hall_of_fame[0].fitness.values[0],
            **fitness_record(state.population),
        )
        control.generation_done(state)
    if control.reason is None and limit is not None and state.extra["submitted"] >= limit:
        control.reason = f"cycle limit reached ({population_size} initial + {cycles} cycles)"
    return state
