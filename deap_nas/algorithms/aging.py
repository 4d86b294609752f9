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

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..ops.aging import remove_oldest, sel_aging_tournament, set_birth
from .base import Algorithm, Batch, forget
from .common import SearchControl, SearchState, fitness_record, submit_evaluation, wait_first
from .registry import register_algorithm, run_algorithm


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


@register_algorithm
class AgingEvolution(Algorithm):
    """Algorithm 1 of Real et al. (module doc); ``toolbox.mutate`` makes the children."""

    name = "aging_evolution"
    Params = AgingParams
    roles = ("mutate",)

    def _limit(self) -> int | None:
        p = self.params
        return None if p.cycles is None else p.population_size + p.cycles

    def new_child(self) -> Any:
        """A random individual while the initial population fills (or while every earlier
        child is still in flight), else a mutated clone of the sample's best."""
        p, st, tb = self.params, self.state, self.toolbox
        extra = st.extra
        if extra["submitted"] < p.population_size or not st.population:
            child = self.new_individual()
        else:
            (parent,) = sel_aging_tournament(st.population, 1, p.sample_size, rng=self.rng)
            (child,) = self.tool("mutate")(tb.clone(parent))
            forget(child)
        set_birth(child, extra["births"])
        extra["births"] += 1
        extra["submitted"] += 1
        return child

    def may_submit(self, pending: int) -> bool:
        limit = self._limit()
        if self.should_stop() or (limit is not None and self.state.extra["submitted"] >= limit):
            return False
        return pending < self.control.remaining_evaluations()

    def join(self, child: Any, in_flight: list) -> None:
        """A finished child joins the population, the oldest leaves; one logbook row."""
        st = self.state
        st.population.append(child)
        if len(st.population) > self.params.population_size:
            remove_oldest(st.population)
        st.hall_of_fame.update([child])
        st.generation += 1
        st.in_flight = [c.ind for c in in_flight]
        st.extra["in_flight_ids"] = [list(c.ids) for c in in_flight]
        st.logbook.record(gen=st.generation, nevals=1, child=child.fitness.values[0],
                          best_so_far=st.hall_of_fame[0].fitness.values[0], **fitness_record(st.population))
        self.control.generation_done(st)

    def _setup(self) -> None:
        self.state.extra.setdefault("births", 0)
        self.state.extra.setdefault("submitted", 0)

    def _finish(self) -> None:
        limit = self._limit()
        if self.control.reason is None and limit is not None and self.state.extra["submitted"] >= limit:
            self.control.reason = f"cycle limit reached ({self.params.population_size} initial + " \
                                  f"{self.params.cycles} cycles)"

    def steps(self) -> Iterator[Batch]:
        """The serial loop (``in_flight`` 1) for ask/tell: one child per batch."""
        self._setup()
        st = self.state
        for ind in st.in_flight:  # a child in flight when the state was saved
            done = yield from self.evaluate([ind], st.generation)
            if done:
                self.join(ind, [])
        while self.may_submit(0):
            child = self.new_child()
            done = yield from self.evaluate([child], st.generation + 1)
            if not done:
                break
            self.join(child, [])
        self._finish()

    def run(self) -> SearchState:
        """Asynchronous steady state with up to ``in_flight`` children evaluated at once
        (the toolbox's ``submit_evaluation`` / ``wait_first``; synchronous otherwise)."""
        self._setup()
        st, tb, control = self.state, self.toolbox, self.control
        ids = st.extra.get("in_flight_ids") or [[] for _ in st.in_flight]
        pending = [submit_evaluation(tb, ind, control, st.generation, i or None) for ind, i in zip(st.in_flight, ids,
                                                                                                  strict=False)]
        while True:
            while len(pending) < self.params.in_flight and self.may_submit(len(pending)):
                pending.append(submit_evaluation(tb, self.new_child(), control, st.generation + 1))
            if not pending:
                break
            done = wait_first(tb, pending, control)
            pending.remove(done)
            self.join(done.ind, pending)
        self._finish()
        self.finished = True
        return st


def aging_evolution(toolbox: Any, control: SearchControl, state: SearchState | None = None,
                    **params: Any) -> SearchState:
    """Function form of :class:`AgingEvolution` (``params``: :class:`AgingParams` fields)."""
    return run_algorithm(AgingEvolution, toolbox, control, state, **params)
