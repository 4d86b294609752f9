"""Aging evolution (regularized evolution; Real et al. 2019, Algorithm 1).

Serial loop (``in_flight: 1``), exactly Algorithm 1: fill the population with
``population_size`` random models; then each cycle samples ``sample_size`` individuals
at random, the best of the sample is cloned and mutated (``toolbox.mutate``), the child
is evaluated and appended, and the oldest individual (earliest born, not the worst) is
removed (``toolbox.select(population, 1)`` replaces the sampling when registered: the
optional role ``select``). The macro-NAS paper (sec. 4.1) uses P = 100, S = 25, 400 cycles; its random
baseline is the same loop with S = 1.

Asynchronous steady state (``in_flight: W > 1``), as large-scale implementations run it:
W children are evaluated at the same time, and whenever one finishes it joins the
population (the oldest leaves) and a new child is bred from the population *as it is
then* and submitted, so no worker waits for a slow candidate. Departures from the serial
loop: a child's parent is chosen from a population that lacks the (up to W - 1) children
still in flight (a child bred while none has joined yet, as when W > P, is random), and
the order in which children join depends on training times, so two runs with the same
seed may differ; serial runs, and resumed serial runs, are exact.

Sampling (``sample_with_replacement``, default true): Algorithm 1 draws the sample with
replacement ("the element stays in the population"); false draws S distinct members.

Screening children (options, off by default, so the paper's loop is unchanged): with
``max_params`` every candidate is asked for with that training limit, so an over-cap one
gets a ``too_large`` journal record and the penalty without being trained (the count is
the architecture description's, torch-free). With ``redraw`` = R > 0, a candidate the
space's ``screen`` rejects (invalid: no enabled path, a kernel larger than its input; or
over ``max_params``) is drawn again (a new random individual, or a new tournament and
mutation) before it takes an evaluation slot, at most R times; the draws are counted in
``extra["redrawn"]``, the logbook (``redrawn``) and the stop reason. The macro-NAS paper
counts invalid networks among its evaluated architectures (sec. 4.2), so its configs
leave ``redraw`` at 0.

The loop reports a "generation" to the runtime after every finished evaluation (one
logbook row each: the child's fitness, the best so far and population statistics), so a
snapshot is taken per evaluation and ``budget.generations`` counts evaluations here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..evaluation.request import EvalRequest
from ..ops.aging import remove_oldest, sel_aging_tournament, set_birth
from .base import Algorithm, Batch, forget
from .common import SearchControl, SearchState, fitness_record, submit_evaluation, wait_first
from .pareto import pareto_ranks
from .registry import register_algorithm, run_algorithm


@dataclass
class AgingParams:
    """``algorithm:`` section for ``name: aging_evolution``."""

    population_size: int = 100
    sample_size: int = 25
    cycles: int | None = None  # evolution cycles after the initial population (None: budget only)
    in_flight: int = 1  # children evaluated at once; > 1 = asynchronous steady state
    hall_of_fame: int = 10
    sample_with_replacement: bool = True  # Real et al. 2019, Algorithm 1
    max_params: int | None = None  # candidates above this get too_large, untrained (None: no cap)
    redraw: int = 0  # > 0: re-draw an invalid / over-cap child up to this many times before evaluating it

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
        if not isinstance(self.sample_with_replacement, bool):
            raise ValueError(f"sample_with_replacement: must be true or false, got {self.sample_with_replacement!r}")
        if self.max_params is not None and (not _is_int(self.max_params) or self.max_params < 1):
            raise ValueError(f"max_params: must be null or an integer >= 1, got {self.max_params!r}")
        if not _is_int(self.redraw) or self.redraw < 0:
            raise ValueError(f"redraw: must be an integer >= 0, got {self.redraw!r}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@register_algorithm
class AgingEvolution(Algorithm):
    """Algorithm 1 of Real et al. (module doc); ``toolbox.mutate`` makes the children,
    ``toolbox.select`` (when registered) picks their parents."""

    name = "aging_evolution"
    Params = AgingParams
    roles = ("mutate",)
    optional_roles = ("select",)

    def _limit(self) -> int | None:
        p = self.params
        return None if p.cycles is None else p.population_size + p.cycles

    def _draw(self) -> Any:
        """A random individual while the initial population fills (or while every earlier
        child is still in flight), else a mutated clone of the sample's best."""
        p, st = self.params, self.state
        if st.extra["submitted"] < p.population_size or not st.population:
            return self.new_individual()
        select = self.tool("select")  # the toolbox's selection when registered (DEAP's habit)
        (parent,) = select(st.population, 1) if select is not None else self.select_parent(st.population)
        (child,) = self.tool("mutate")(self.toolbox.clone(parent))
        forget(child)
        return child

    def select_parent(self, population: list) -> list:
        """``[parent]``: the best of ``sample_size`` members drawn at random (Algorithm 1)."""
        p = self.params
        return sel_aging_tournament(population, 1, p.sample_size, replace=p.sample_with_replacement, rng=self.rng)

    def join_record(self, child: Any) -> dict[str, Any]:
        """The logbook columns of a join: the child's fitness, the best so far and population
        statistics."""
        st = self.state
        return {"child": child.fitness.values[0], "best_so_far": st.hall_of_fame[0].fitness.values[0],
                **fitness_record(st.population)}

    def new_child(self) -> Any:
        """The next candidate (:meth:`_draw`), re-drawn while the space's ``screen``
        rejects it, at most ``redraw`` times (module doc); stamped with its birth."""
        p, extra = self.params, self.state.extra
        child = self._draw()
        if p.redraw:
            screen = self.require_space("screen").screen
            counts = extra["redrawn"]
            for attempt in range(p.redraw + 1):
                verdict = screen(child, p.max_params)
                if verdict is None:
                    break
                if attempt == p.redraw:  # out of tries: evaluated as it is (invalid / too_large record)
                    counts["kept"] += 1
                    break
                counts[verdict[0]] += 1
                child = self._draw()
        set_birth(child, extra["births"])
        extra["births"] += 1
        extra["submitted"] += 1
        return child

    def request(self) -> EvalRequest:
        """How every candidate is trained: from scratch, with ``max_params`` as the
        training's limit when given (an over-cap candidate is then not trained)."""
        req = EvalRequest.scratch()
        return req if self.params.max_params is None else req.with_overrides(max_params=self.params.max_params)

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
        redrawn = st.extra.get("redrawn")
        more = {} if redrawn is None else {"redrawn": redrawn["invalid"] + redrawn["too_large"]}
        self.record(st.population, gen=st.generation, nevals=1, **self.join_record(child), **more)
        self.control.generation_done(st)

    def _setup(self) -> None:
        self.state.extra.setdefault("births", 0)
        self.state.extra.setdefault("submitted", 0)
        if self.params.redraw:
            self.state.extra.setdefault("redrawn", {"invalid": 0, "too_large": 0, "kept": 0})

    def _finish(self) -> None:
        limit = self._limit()
        if self.control.reason is None and limit is not None and self.state.extra["submitted"] >= limit:
            self.control.reason = f"cycle limit reached ({self.params.population_size} initial + " \
                                  f"{self.params.cycles} cycles)"
        r = self.state.extra.get("redrawn")
        if r is not None and self.control.reason is not None and "re-drawn" not in self.control.reason:
            self.control.reason += (f"; {r['invalid'] + r['too_large']} children re-drawn before evaluation "
                                    f"({r['invalid']} invalid, {r['too_large']} over max_params; "
                                    f"{r['kept']} evaluated after {self.params.redraw} re-draws)")

    def steps(self) -> Iterator[Batch]:
        """The serial loop (``in_flight`` 1) for ask/tell: one child per batch."""
        self._setup()
        st = self.state
        for ind in st.in_flight:  # a child in flight when the state was saved
            done = yield from self.evaluate([ind], st.generation, [self.request()])
            if done:
                self.join(ind, [])
        while self.may_submit(0):
            child = self.new_child()
            done = yield from self.evaluate([child], st.generation + 1, [self.request()])
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
        req = self.request()
        pending = [submit_evaluation(tb, ind, control, st.generation, i or None, request=req)
                   for ind, i in zip(st.in_flight, ids, strict=False)]
        while True:
            while len(pending) < self.params.in_flight and self.may_submit(len(pending)):
                pending.append(submit_evaluation(tb, self.new_child(), control, st.generation + 1, request=req))
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


@register_algorithm
class AgingPareto(AgingEvolution):
    """Aging evolution for several objectives (docs/objectives.md): Algorithm 1 of Real et
    al. with the sample's winner chosen by Pareto rank, then crowding distance, over the
    current population (:func:`~deap_nas.algorithms.pareto.sel_pareto_tournament`; failed
    candidates lose to every feasible one); the oldest still leaves, and the run's result is
    the Pareto front of every feasible candidate evaluated. Same parameters, budget,
    asynchronous steady state and screening as ``aging_evolution``."""

    name = "aging_pareto"
    multi_objective = "only"

    def select_parent(self, population: list) -> list:
        """``[parent]``: of ``sample_size`` members drawn at random (with or without
        replacement, ``sample_with_replacement``), the one of lowest Pareto rank over the
        whole population, then largest crowding distance."""
        p = self.params
        ranks = pareto_ranks(population)
        if p.sample_with_replacement:
            sample = [self.rng.choice(population) for _ in range(p.sample_size)]
        else:
            sample = self.rng.sample(population, min(p.sample_size, len(population)))
        return [min(sample, key=lambda i: ranks[id(i)])]

    def join_record(self, child: Any) -> dict[str, Any]:
        """The child's objective values (``child_<name>``) and the front's columns
        (:func:`~deap_nas.algorithms.pareto.pareto_record`)."""
        vals = {f"child_{a.name}": v for a, v in zip(self.axes, child.fitness.values, strict=True)}
        return {**vals, **self.population_record(self.state.population)}


def aging_pareto(toolbox: Any, control: SearchControl, state: SearchState | None = None,
                 **params: Any) -> SearchState:
    """Function form of :class:`AgingPareto` (``params``: :class:`AgingParams` fields)."""
    return run_algorithm(AgingPareto, toolbox, control, state, **params)
