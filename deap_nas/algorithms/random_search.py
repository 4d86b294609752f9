"""Random search: the baseline every NAS method is compared with.

Each generation draws ``population_size`` new genomes from the space's random
initialiser (``toolbox.individual``), or from the optional ``sample`` role when the space's
initialiser is not a sampler of the whole space (EIGEN's starts from one fixed network:
``operators: {sample: {name: sample_eigen, steps: 60}}``), evaluates them and keeps the
best in the hall of fame. The last generation is shortened so the evaluation budget is
met exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .base import Algorithm, Batch
from .common import SearchControl, SearchState
from .registry import register_algorithm, run_algorithm


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


@register_algorithm
class RandomSearch(Algorithm):
    """Sample, evaluate, record; until the budget is spent."""

    name = "random_search"
    Params = RandomSearchParams
    optional_roles = ("sample",)
    multi_objective = "yes"  # with objectives: the hall of fame is the Pareto front

    def new_individual(self) -> Any:
        """``toolbox.sample()`` when the config names a sampler, else the space's initialiser."""
        sample = self.tool("sample")
        return sample() if sample is not None else super().new_individual()

    def steps(self) -> Iterator[Batch]:
        st, n = self.state, self.params.population_size
        while not self.should_stop():
            gen = st.generation + 1
            offspring = [self.new_individual() for _ in range(int(min(n, self.control.remaining_evaluations())))]
            self.look_ahead(gen, len(offspring))
            done = yield from self.evaluate(offspring, gen)
            self.close_generation(gen, len(done), done)

    def look_ahead(self, generation: int, size: int) -> None:
        """Tell the runtime which genomes generation ``generation + 1`` will draw, so idle
        workers can train them while ``generation`` ends (``toolbox.prefetch``; the runtime
        keeps the search exactly as without it). They are drawn here and the RNG states
        rewound, so the real draw gives the same genomes. Nothing when the toolbox has no
        ``prefetch`` or the budget ends with ``generation``."""
        prefetch = getattr(self.toolbox, "prefetch", None)
        budget = self.control.budget
        if prefetch is None or (budget is not None and budget.generations is not None
                                and generation >= budget.generations):
            return
        count = int(min(self.params.population_size, self.control.remaining_evaluations() - size))
        if count <= 0:
            return
        import random

        loop, global_ = self.rng.getstate(), random.getstate()
        try:
            upcoming = [self.new_individual() for _ in range(count)]
        finally:
            self.rng.setstate(loop)
            random.setstate(global_)
        prefetch(upcoming, generation + 1)


def random_search(toolbox: Any, control: SearchControl, state: SearchState | None = None, **params: Any) -> SearchState:
    """Function form of :class:`RandomSearch` (``params``: :class:`RandomSearchParams` fields)."""
    return run_algorithm(RandomSearch, toolbox, control, state, **params)
