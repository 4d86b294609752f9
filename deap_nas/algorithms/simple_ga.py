"""A generational genetic algorithm with elitism (DEAP's eaSimple plus elites).

Each generation: ``toolbox.select`` picks ``population_size - elites`` parents (default:
tournaments of ``tournament_size``), which are cloned and varied as ``deap.algorithms.varAnd``
does (crossover with ``cxpb`` via ``toolbox.mate``, mutation with ``mutpb`` via
``toolbox.mutate``; the coin flips come from the loop's own RNG); the changed offspring
are evaluated, and the ``elites`` best of the previous population carried over
unchanged. In the last generation only as many offspring as the evaluation budget has
left are evaluated (the others are dropped), so the budget is met exactly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from deap import tools

from .base import Algorithm, Batch, bind_rng, forget
from .common import SearchControl, SearchState
from .registry import register_algorithm, run_algorithm


@dataclass
class SimpleGAParams:
    """``algorithm:`` section for ``name: simple_ga``."""

    population_size: int = 10
    tournament_size: int = 3
    cxpb: float = 0.5
    mutpb: float = 0.5
    elites: int = 1
    hall_of_fame: int = 10

    def __post_init__(self) -> None:
        if self.population_size < 2:
            raise ValueError(f"population_size: must be >= 2, got {self.population_size}")
        if not 1 <= self.tournament_size <= self.population_size:
            raise ValueError(f"tournament_size: {self.tournament_size} > population_size {self.population_size}"
                             if self.tournament_size > self.population_size
                             else f"tournament_size: must be >= 1, got {self.tournament_size}")
        for name in ("cxpb", "mutpb"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ValueError(f"{name}: must be in [0, 1], got {v}")
        if not 0 <= self.elites < self.population_size:
            raise ValueError(f"elites: must be in [0, population_size), got {self.elites}")
        if self.hall_of_fame < 1:
            raise ValueError(f"hall_of_fame: must be >= 1, got {self.hall_of_fame}")


def var_and(offspring: list, toolbox: Any, cxpb: float, mutpb: float, rng: Any) -> list:
    """:func:`deap.algorithms.varAnd` drawing its coin flips from ``rng``: neighbours are
    mated with probability ``cxpb`` (``toolbox.mate``), then each is mutated with
    probability ``mutpb`` (``toolbox.mutate``); changed ones lose their fitness and
    evaluation (``result``)."""
    for i in range(1, len(offspring), 2):
        if rng.random() < cxpb:
            offspring[i - 1], offspring[i] = bind_rng(toolbox.mate, rng)(offspring[i - 1], offspring[i])
            forget(offspring[i - 1])
            forget(offspring[i])
    for i in range(len(offspring)):
        if rng.random() < mutpb:
            (offspring[i],) = bind_rng(toolbox.mutate, rng)(offspring[i])
            forget(offspring[i])
    return offspring


def sel_tournament(individuals: list, k: int, tournsize: int, rng: Any = random) -> list:
    """``k`` winners of tournaments of ``tournsize`` drawn with replacement (DEAP's
    selTournament, on ``rng``)."""
    return [max((rng.choice(individuals) for _ in range(tournsize)), key=lambda i: i.fitness) for _ in range(k)]


@register_algorithm
class SimpleGA(Algorithm):
    """Generational GA with elitism; ``toolbox.select`` (default: tournaments of
    ``tournament_size`` on the loop's RNG), ``toolbox.mate`` and ``toolbox.mutate``."""

    name = "simple_ga"
    Params = SimpleGAParams
    roles = ("mate", "mutate")
    optional_roles = ("select",)

    def select(self, population: list, k: int) -> list:
        select = self.tool("select")
        if select is None:
            return sel_tournament(population, k, self.params.tournament_size, self.rng)
        return select(population, k)

    def steps(self) -> Iterator[Batch]:
        p, st, tb = self.params, self.state, self.toolbox
        while not self.should_stop():
            gen = st.generation + 1
            if not st.population:
                offspring, kept = [self.new_individual() for _ in range(p.population_size)], []
            else:
                kept = tools.selBest(st.population, p.elites)
                parents = self.select(st.population, p.population_size - p.elites)
                offspring = var_and([tb.clone(x) for x in parents], tb, p.cxpb, p.mutpb, self.rng)
            todo = [ind for ind in offspring if not ind.fitness.valid]
            done = yield from self.evaluate(todo, gen)
            skipped = {id(ind) for ind in todo[len(done):]}  # past the evaluation budget
            offspring = [ind for ind in offspring if id(ind) not in skipped]
            self.close_generation(gen, len(done), [tb.clone(k) for k in kept] + offspring)


def simple_ga(toolbox: Any, control: SearchControl, state: SearchState | None = None, **params: Any) -> SearchState:
    """Function form of :class:`SimpleGA` (``params``: :class:`SimpleGAParams` fields)."""
    return run_algorithm(SimpleGA, toolbox, control, state, **params)
