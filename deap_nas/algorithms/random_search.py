"""Random search: the baseline every NAS method is compared with.

Each generation draws ``population_size`` new genomes from the space's random
initialiser (``toolbox.individual``), evaluates them and keeps the best in the hall of
fame. The last generation is shortened so the evaluation budget is met exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deap import tools

from .common import SearchControl, SearchState, close_generation, evaluate_invalid
from .registry import register_algorithm


@dataclass
class RandomSearchParams:
    """``algorithm:`` section for ``name: random_search``."""

    population_size: int = 10
    hall_of_fame: int = 10

    def __post_init__(self) -> None:
        if self.population_size < 1:
            raise ValueError(f"population_size: must be >= 1, got {self.population_size}")
        if self.hall_of_fame < 1:
            raise ValueError(f"hall_of_fame: must be >= 1, got {self.hall_of_fame}")


@register_algorithm("random_search", RandomSearchParams)
def random_search(
    toolbox: Any,
    control: SearchControl,
    population_size: int = 10,
    hall_of_fame: int = 10,
    state: SearchState | None = None,
) -> SearchState:
    """Sample, evaluate, record; until ``control`` says the budget is spent."""
    if state is None:
        state = SearchState(hall_of_fame=tools.HallOfFame(hall_of_fame))
    while control.stop_reason() is None:
        gen = state.generation + 1
        n = int(min(population_size, control.remaining_evaluations()))
        offspring = [toolbox.individual() for _ in range(n)]
        nevals = evaluate_invalid(toolbox, offspring, control, gen)
        close_generation(state, control, gen, nevals, offspring)
    return state
