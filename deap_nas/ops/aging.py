"""Age tracking for aging (regularized) evolution, reusable by any loop (torch-free).

Every individual gets a ``birth`` number when it is created (a counter of the search,
not of the population), so "oldest" means earliest born, never "worst". The pair is
:func:`sel_aging_tournament` (best of a random sample, Real et al. 2019 Algorithm 1) and
:func:`remove_oldest`.
"""

from __future__ import annotations

import random
from typing import Any

from .registry import ANY, register_operator


def set_birth(individual: Any, birth: int) -> Any:
    """Stamp ``individual`` with its birth number and return it."""
    individual.birth = int(birth)
    return individual


def age_of(individual: Any, now: int) -> int:
    """How many births happened since ``individual`` was born."""
    return now - individual.birth


@register_operator("sel_aging_tournament", ANY)
def sel_aging_tournament(individuals: list, k: int, sample_size: int, replace: bool = True,
                         rng: Any = random) -> list:
    """``k`` times: the fittest of ``sample_size`` individuals drawn at random.

    ``replace=True`` (the default) draws with replacement, as Real et al. 2019,
    Algorithm 1 does ("candidate <- random element from population; the element stays in
    the population"): with ``sample_size`` = population size P the best is chosen with
    probability 1 - (1 - 1/P)^P (0.65 for P = 10), not always. ``replace=False`` draws
    distinct individuals (the sample is capped at the population size), so a full sample
    always returns the best. With ``sample_size=1`` both are uniform random selection,
    which turns aging evolution into the random-search baseline of the macro-NAS paper
    (sec. 4.1).
    """
    if not individuals:
        raise ValueError("sel_aging_tournament: empty population")
    if not isinstance(replace, bool):
        raise ValueError(f"sel_aging_tournament: replace must be true or false, got {replace!r}")
    if replace:
        return [max((rng.choice(individuals) for _ in range(sample_size)), key=lambda ind: ind.fitness)
                for _ in range(k)]
    s = min(sample_size, len(individuals))
    return [max(rng.sample(individuals, s), key=lambda ind: ind.fitness) for _ in range(k)]


@register_operator("remove_oldest", ANY)
def remove_oldest(population: list) -> Any:
    """Remove and return the earliest-born individual (ties: the first in the list)."""
    if not population:
        raise ValueError("remove_oldest: empty population")
    index = min(range(len(population)), key=lambda i: (getattr(population[i], "birth", i), i))
    return population.pop(index)
