"""ImmuNeCS search loop (Frachon et al., sec. 3.4, Algorithm 1; settings sec. 4.2). Torch-free.

Affinity = fitness (validation accuracy after partial training). With the operators of
:mod:`deap_nas.ops.immunecs` and the space in ``toolbox.space`` (the runtime sets it;
a plain DEAP user registers ``toolbox.space = space`` too), the loop is:

- **Start** (logged as generation 0): ``N`` random networks (``toolbox.individual``) are
  evaluated, then ``n_a`` augmented copies of each (one random layer appended, inheriting
  the original's weights via :func:`~deap_nas.ops.immunecs.mark_inheritance`) are
  evaluated: population ``N (1 + n_a)``. (Algorithm 1 evaluates both at once; evaluating
  the originals first lets the copies inherit trained weights, as all later copies do.)
- **Each generation** g = 1, 2, ...: ``n_c`` clones of every member are hypermutated
  (Algorithm 2, ``f_parent`` = the parent's affinity, mutation factor ``rho``, never an
  architecture seen before: one :class:`~deap_nas.ops.immunecs.SeenRegistry` for the whole
  search) and inherit their parent's weights; a clone for which no new architecture was
  found (``novel`` False) is dropped. The clones are evaluated; the population becomes
  the ``N`` best of parents + clones (elitist; parents win ties); the **mean affinity**
  of these N is computed; ``N_i`` random networks at the population's mean depth are
  inserted and evaluated.
- **Inner loop** (patience ``pi``, threshold ``tau``): the reference mean affinity is
  the last one that improved on its predecessor reference by more than ``tau`` (initially
  the start population's mean). A generation whose mean affinity does not exceed the
  reference by more than ``tau`` is a stalled one; after ``patience`` stalled
  generations in a row the population is **augmented** (``n_a`` augmented copies of
  every member, originals kept, copies evaluated), and the stall count restarts.
- **Outer loop**: an augmentation phase (the generations since the previous augmentation,
  the start's augmentation counting as the first) "yielded sufficient improvement" when
  the reference rose by more than ``tau`` during it. When the inner loop triggers and
  ``patience`` consecutive phases have not, the search stops before augmenting
  (``control.reason`` says so). ``max_generations`` and the runtime budget also stop it.

The logbook has one row per generation: ``gen``, ``nevals`` (clones + insertions +
augmented copies evaluated), ``mean_affinity`` (of the N selected, before insertions),
the :func:`~deap_nas.algorithms.common.fitness_record` fields of the whole population
after the generation, ``stall`` (inner count after the generation), ``augmentations``
(total so far, the start's included) and ``augmented`` (1 when this generation
augmented). ``state.extra`` keeps plain JSON (seen encodings, counters, references), so a
serial resume from any snapshot continues exactly.

The paper has no rule for the fitness cache or for clones of failed parents: a failed
evaluation's penalty fitness is its affinity here; with ``data.resample`` the runtime's
cache reuses an accuracy only within the generation (subsets) it was measured on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deap import tools

from ..checks import check_int
from ..ops.immunecs import (
    SeenRegistry,
    clone_population,
    make_augmented_copies,
    mark_inheritance,
    mut_hypermutation,
    random_insertion,
    sel_best_n,
)
from .common import SearchControl, SearchState, evaluate_invalid, fitness_record
from .registry import register_algorithm


@dataclass
class ImmuneSearchParams:
    """``algorithm:`` section for ``name: immunecs`` (sec. 4.2 values in the configs)."""

    population_size: int = 10  # N
    n_clones: int = 3  # n_c, clones per parent
    n_insert: int = 2  # N_i, random insertions per generation
    n_augment: int = 1  # n_a, augmented copies per network
    patience: int = 2  # pi (inner and outer loop)
    tau: float = 0.0075  # threshold on the mean affinity (Fashion-MNIST; CIFAR-10 0.003)
    rho: float = 0.2  # mutation factor of eq. 1 (sec. 4.2)
    max_generations: int | None = None
    hall_of_fame: int = 10

    def __post_init__(self) -> None:
        check_int("population_size", self.population_size, 1)
        check_int("n_clones", self.n_clones, 1)
        check_int("n_insert", self.n_insert, 0)
        check_int("n_augment", self.n_augment, 0)
        check_int("patience", self.patience, 1)
        check_int("hall_of_fame", self.hall_of_fame, 1)
        if self.max_generations is not None:
            check_int("max_generations", self.max_generations, 1)
        for name in ("tau", "rho"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"{name}: must be a number, got {v!r}")
        if self.tau < 0:
            raise ValueError(f"tau: must be >= 0, got {self.tau}")
        if not self.rho > 0:
            raise ValueError(f"rho: must be > 0, got {self.rho}")


def mean_affinity(population: list) -> float:
    """Mean fitness (first objective) of the population (every member is evaluated)."""
    values = [ind.fitness.values[0] for ind in population]
    return sum(values) / len(values)


def _augment(population: list, n_augment: int, space: Any, seen: SeenRegistry) -> list:
    copies = []
    for ind in population:
        for c in make_augmented_copies([ind], n_augment, space=space, seen=seen):
            mark_inheritance(c, ind)
            copies.append(c)
    return copies


def _space(toolbox: Any) -> Any:
    space = getattr(toolbox, "space", None)
    if space is None:
        raise ValueError("immunecs: the toolbox needs the search space as toolbox.space")
    return space


@register_algorithm("immunecs", ImmuneSearchParams, roles=())
def immunecs(
    toolbox: Any,
    control: SearchControl,
    population_size: int = 10,
    n_clones: int = 3,
    n_insert: int = 2,
    n_augment: int = 1,
    patience: int = 2,
    tau: float = 0.0075,
    rho: float = 0.2,
    max_generations: int | None = None,
    hall_of_fame: int = 10,
    state: SearchState | None = None,
) -> SearchState:
    """Algorithm 1 (module docstring) until its exit condition, ``max_generations`` or the budget."""
    space = _space(toolbox)
    if state is None:
        state = SearchState(hall_of_fame=tools.HallOfFame(hall_of_fame))
    extra = state.extra
    seen = SeenRegistry.from_json(space, extra.get("seen", []))

    def done(nevals: int, mean: float, augmented: bool) -> None:
        extra["seen"] = seen.to_json()
        state.hall_of_fame.update(state.population)
        state.logbook.record(gen=state.generation, nevals=nevals, mean_affinity=mean,
                             **fitness_record(state.population), stall=extra["stall"],
                             augmentations=extra["augmentations"], augmented=int(augmented))
        control.generation_done(state)

    if not state.population:  # the start: N random networks and their augmented copies
        if control.stop_reason() is not None:
            return state
        pop = [toolbox.individual() for _ in range(population_size)]
        for ind in pop:
            seen.add(ind)
        nevals = evaluate_invalid(toolbox, pop, control, 0)
        copies = _augment(pop, n_augment, space, seen)
        nevals += evaluate_invalid(toolbox, copies, control, 0)
        state.population = pop + copies
        mean = mean_affinity(state.population)
        extra.update(stall=0, reference=mean, phase_start=mean, augmentations=1, phases_without_gain=0)
        done(nevals, mean, True)

    while True:
        if control.stop_reason() is not None:
            break
        if max_generations is not None and state.generation >= max_generations:
            control.reason = f"ImmuNeCS max_generations reached ({max_generations})"
            break
        gen = state.generation + 1
        parents = state.population
        clones = clone_population(parents, n_clones)
        kept = []
        for i, clone in enumerate(clones):
            parent = parents[i // n_clones]
            mut_hypermutation(clone, space, f_parent=parent.fitness.values[0], rho=rho, seen=seen)
            if clone.novel:
                mark_inheritance(clone, parent)
                kept.append(clone)
        nevals = evaluate_invalid(toolbox, kept, control, gen)
        state.population = sel_best_n(parents + kept, population_size)
        mean = mean_affinity(state.population)
        if n_insert:
            inserted = random_insertion(state.population, n_insert, space=space, seen=seen)
            nevals += evaluate_invalid(toolbox, inserted, control, gen)
            state.population = state.population + inserted
        # inner loop: improvement of the mean affinity by more than tau
        if mean > extra["reference"] + tau:
            extra["reference"] = mean
            extra["stall"] = 0
        else:
            extra["stall"] += 1
        augmented = False
        state.generation = gen
        if extra["stall"] >= patience:
            # outer loop: did the phase since the last augmentation improve by more than tau?
            if extra["reference"] > extra["phase_start"] + tau:
                extra["phases_without_gain"] = 0
            else:
                extra["phases_without_gain"] += 1
            if extra["phases_without_gain"] >= patience:
                done(nevals, mean, False)
                control.reason = (
                    f"ImmuNeCS exit condition: {extra['phases_without_gain']} augmentation phases without a "
                    f"mean-affinity improvement of more than tau={tau} (best mean affinity "
                    f"{extra['reference']:.4f})"
                )
                break
            copies = _augment(state.population, n_augment, space, seen)
            nevals += evaluate_invalid(toolbox, copies, control, gen)
            state.population = state.population + copies
            extra["augmentations"] += 1
            extra["phase_start"] = extra["reference"]
            extra["stall"] = 0
            augmented = True
        done(nevals, mean, augmented)
    return state
