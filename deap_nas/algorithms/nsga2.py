"""NSGA-II (Deb et al. 2002) and SPEA2 (Zitzler et al. 2001) for any space (docs/objectives.md).

A generational multi-objective loop on the space's own operators: the first generation
is ``population_size`` random genomes; each later generation breeds ``population_size``
children from parents chosen by binary tournaments with NSGA-II's crowded comparison
(rank, then crowding distance; :func:`~deap_nas.algorithms.pareto.sel_pareto_tournament`),
varied as :func:`~deap_nas.algorithms.simple_ga.var_and` does (``toolbox.mate`` with
``cxpb`` when the space has a crossover, ``toolbox.mutate`` with ``mutpb``; a child
neither mated nor mutated is mutated, so no slot goes to an unchanged copy), then keeps
``population_size`` of parents plus children by environmental selection: ``selNSGA2``
(``selection: nsga2``, the default) or ``selSPEA2`` (``selection: spea2``), both with
failed candidates (a broken hard constraint, an invalid network) ranked after every
feasible one (constraint-domination). The run's result is the Pareto front of every
feasible candidate evaluated (the hall of fame is a front); each logbook row carries its
hypervolume. In the last generation only as many children as the evaluation budget has
left are evaluated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .base import Algorithm, Batch, forget
from .common import SearchControl, SearchState
from .pareto import sel_nsga2, sel_pareto_tournament, sel_spea2
from .registry import register_algorithm, run_algorithm
from .simple_ga import var_and

SELECTIONS = ("nsga2", "spea2")


@dataclass
class NSGA2Params:
    """``algorithm:`` section for ``name: nsga2``."""

    population_size: int = 20
    cxpb: float = 0.5  # crossover probability of a pair (spaces with toolbox.mate)
    mutpb: float = 1.0  # mutation probability of a child
    selection: str = "nsga2"  # environmental selection: nsga2 or spea2
    max_generations: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.population_size, int) or self.population_size < 2:
            raise ValueError(f"population_size: must be an integer >= 2, got {self.population_size!r}")
        for name in ("cxpb", "mutpb"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise ValueError(f"{name}: must be in [0, 1], got {v!r}")
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection: one of {', '.join(SELECTIONS)}, got {self.selection!r}")
        if self.max_generations is not None and self.max_generations < 1:
            raise ValueError(f"max_generations: must be >= 1, got {self.max_generations}")


@register_algorithm
class NSGA2(Algorithm):
    """NSGA-II / SPEA2 generations (module doc); needs ``toolbox.objective_axes``."""

    name = "nsga2"
    Params = NSGA2Params
    roles = ("mutate",)
    optional_roles = ("mate",)
    multi_objective = "only"

    def environmental(self, individuals: list, k: int) -> list:
        """The ``k`` survivors of parents plus children (``params.selection``)."""
        if self.params.selection == "spea2":
            return sel_spea2(individuals, k)
        return sel_nsga2(individuals, k)

    def breed(self, population: list) -> list:
        """``population_size`` children of binary crowded-comparison tournaments."""
        p, tb = self.params, self.toolbox
        parents = sel_pareto_tournament(population, p.population_size, 2, self.rng)
        children = [tb.clone(x) for x in parents]
        cxpb = p.cxpb if getattr(tb, "mate", None) is not None else 0.0  # var_and never mates at 0
        children = var_and(children, tb, cxpb, p.mutpb, self.rng)
        mutate = self.tool("mutate")
        for i, child in enumerate(children):
            if child.fitness.valid:  # neither mated nor mutated: mutate it anyway
                (children[i],) = mutate(child)
                forget(children[i])
        return children

    def steps(self) -> Iterator[Batch]:
        st, n = self.state, self.params.population_size
        while not self.should_stop() and not self.generation_limit_reached("nsga2"):
            gen = st.generation + 1
            if not st.population:
                todo = [self.new_individual() for _ in range(n)]
                done = yield from self.evaluate(todo, gen)
                self.close_generation(gen, len(done), done)
                continue
            children = self.breed(st.population)
            done = yield from self.evaluate(children, gen)
            survivors = self.environmental(st.population + done, n)
            self.close_generation(gen, len(done), survivors)


def nsga2(toolbox: Any, control: SearchControl, state: SearchState | None = None, **params: Any) -> SearchState:
    """Function form of :class:`NSGA2` (``params``: :class:`NSGA2Params` fields)."""
    return run_algorithm(NSGA2, toolbox, control, state, **params)
