"""A generational genetic algorithm with elitism (DEAP's eaSimple plus elites).

Each generation: tournament selection of ``population_size - elites`` parents, cloning,
``deap.algorithms.varAnd`` (crossover with ``cxpb`` via ``toolbox.mate``, mutation with
``mutpb`` via ``toolbox.mutate``), evaluation of the changed offspring, and the
``elites`` best of the previous population carried over unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deap import algorithms, tools

from .common import SearchControl, SearchState, close_generation, evaluate_invalid
from .registry import register_algorithm


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


@register_algorithm("simple_ga", SimpleGAParams, roles=("mate", "mutate"))
def simple_ga(
    toolbox: Any,
    control: SearchControl,
    population_size: int = 10,
    tournament_size: int = 3,
    cxpb: float = 0.5,
    mutpb: float = 0.5,
    elites: int = 1,
    hall_of_fame: int = 10,
    state: SearchState | None = None,
) -> SearchState:
    """Evolve until ``control`` reports a spent budget; generation 1 is the random start."""
    if state is None:
        state = SearchState(hall_of_fame=tools.HallOfFame(hall_of_fame))
    while control.stop_reason() is None:
        gen = state.generation + 1
        if not state.population:
            offspring = toolbox.population(n=population_size)
            kept: list = []
        else:
            kept = tools.selBest(state.population, elites)
            parents = tools.selTournament(state.population, population_size - elites, tournsize=tournament_size)
            offspring = algorithms.varAnd([toolbox.clone(p) for p in parents], toolbox, cxpb, mutpb)
        nevals = evaluate_invalid(toolbox, offspring, control, gen)
        close_generation(state, control, gen, nevals, [toolbox.clone(k) for k in kept] + offspring)
    return state
