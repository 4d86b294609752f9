"""ImmuNeCS search loop (Frachon et al., sec. 3.4, Algorithm 1; settings sec. 4.2). Torch-free.

Affinity = fitness (validation accuracy after partial training). With the operators of
:mod:`deap_nas.ops.immunecs` and the space in ``toolbox.space`` (the runtime sets it;
a plain DEAP user registers ``toolbox.space = space`` too), the loop is:

- **Start** (logged as generation 0): ``N`` random networks (``toolbox.individual``) are
  evaluated, then ``n_a`` augmented copies of each (one random layer appended, inheriting
  the original's weights via :func:`~deap_nas.ops.immunecs.inheritance_request`) are
  evaluated: population ``N (1 + n_a)``. (Algorithm 1 evaluates both at once; evaluating
  the originals first lets the copies inherit trained weights, as all later copies do.)
- **Each generation** g = 1, 2, ...: ``n_c`` clones of every member are hypermutated
  (one application of Algorithm 2 each, ``f_parent`` = the parent's affinity, mutation
  factor ``rho``) and inherit their parent's weights. A clone whose architecture is its
  parent's or one seen before (one :class:`~deap_nas.ops.immunecs.SeenRegistry` for the
  whole search; ``novel`` False) is not admitted: it is dropped, not evaluated, and not
  replaced (sec. 3.4, our reading: see :mod:`deap_nas.ops.immunecs`), so fewer clones are
  evaluated around high-affinity parents. The clones are evaluated; the population becomes
  the ``N`` best of parents + clones (elitist; parents win ties); the **mean affinity**
  of these N is computed; ``N_i`` random networks at the population's mean depth are
  inserted and evaluated. ``state.extra["selected"]`` says how many leading members of
  the population the selection kept (None before the first selection): the committee is
  drawn from them, never from insertions or augmented copies (sec. 3.5).
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

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..checks import check_int
from ..ops.immunecs import (
    SeenRegistry,
    clone_population,
    inheritance_request,
    make_augmented_copies,
    mut_hypermutation,
    random_insertion,
    sel_best_n,
)
from .base import Algorithm, Batch
from .common import SearchControl, SearchState, fitness_record
from .registry import register_algorithm, run_algorithm


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


@register_algorithm
class Immunecs(Algorithm):
    """Algorithm 1 (module docstring) until its exit condition, ``max_generations`` or the budget.

    Operators come from the toolbox when registered there (``operators:`` of a config):
    ``hypermutate`` (default :func:`~deap_nas.ops.immunecs.mut_hypermutation`),
    ``augment`` (:func:`~deap_nas.ops.immunecs.make_augmented_copies`) and ``insert``
    (:func:`~deap_nas.ops.immunecs.random_insertion`); each receives ``space``, ``seen``
    and ``rng`` as the defaults do."""

    name = "immunecs"
    Params = ImmuneSearchParams
    optional_roles = ("hypermutate", "augment", "insert")

    def __init__(self, toolbox: Any, params: Any = None, **kw: Any) -> None:
        super().__init__(toolbox, params, **kw)
        self.space = self.require_space()
        self.seen = SeenRegistry(self.space)

    def _op(self, role: str, default: Any) -> Any:
        return self.tool(role, default)

    def hypermutate(self, clone: Any, parent: Any) -> None:
        op = self._op("hypermutate", mut_hypermutation)
        op(clone, space=self.space, f_parent=parent.fitness.values[0], rho=self.params.rho, seen=self.seen,
           rng=self.rng)

    def augment(self, population: list) -> tuple[list, list]:
        """Augmented copies of every member, with their inheritance requests."""
        op = self._op("augment", make_augmented_copies)
        copies, requests = [], []
        for ind in population:
            for c in op([ind], n_a=self.params.n_augment, space=self.space, seen=self.seen, rng=self.rng):
                copies.append(c)
                requests.append(inheritance_request(c, ind))
        return copies, requests

    def insert(self, population: list) -> list:
        op = self._op("insert", random_insertion)
        return op(population, n_i=self.params.n_insert, space=self.space, seen=self.seen, rng=self.rng)

    def _close(self, nevals: int, mean: float, augmented: bool) -> None:
        st, extra = self.state, self.state.extra
        extra["seen"] = self.seen.to_json()
        st.hall_of_fame.update(st.population)
        self.record(st.population, gen=st.generation, nevals=nevals, mean_affinity=mean, **fitness_record(st.population),
                          stall=extra["stall"], augmentations=extra["augmentations"], augmented=int(augmented))
        self.control.generation_done(st)

    def start(self) -> Iterator[Batch]:
        """N random networks, then their augmented copies (logged as generation 0)."""
        pop = [self.new_individual() for _ in range(self.params.population_size)]
        for ind in pop:
            self.seen.add(ind)
        pop = yield from self.evaluate(pop, 0)
        copies, requests = self.augment(pop)
        copies = yield from self.evaluate(copies, 0, requests)
        self.state.population = pop + copies
        mean = mean_affinity(self.state.population)
        self.state.extra.update(stall=0, reference=mean, phase_start=mean, augmentations=1, phases_without_gain=0,
                                selected=None)
        self._close(len(pop) + len(copies), mean, True)

    def clones(self, parents: list) -> tuple[list, list]:
        """Hypermutated clones that are new architectures (the others are dropped), with
        inheritance requests."""
        kept, requests = [], []
        n_c = self.params.n_clones
        for i, clone in enumerate(clone_population(parents, n_c)):
            parent = parents[i // n_c]
            self.hypermutate(clone, parent)
            if clone.__dict__.pop("novel", True):
                kept.append(clone)
                requests.append(inheritance_request(clone, parent))
        return kept, requests

    def inner_loop(self, mean: float) -> None:
        """Stall count: improvement of the mean affinity by more than tau."""
        extra = self.state.extra
        if mean > extra["reference"] + self.params.tau:
            extra["reference"], extra["stall"] = mean, 0
        else:
            extra["stall"] += 1

    def phase_ends_search(self) -> bool:
        """Outer loop, at an augmentation: did the phase improve by more than tau?"""
        extra, tau = self.state.extra, self.params.tau
        if extra["reference"] > extra["phase_start"] + tau:
            extra["phases_without_gain"] = 0
        else:
            extra["phases_without_gain"] += 1
        return extra["phases_without_gain"] >= self.params.patience

    def generation(self, gen: int) -> Iterator[Batch]:
        p, st, extra = self.params, self.state, self.state.extra
        parents = st.population
        kept, requests = self.clones(parents)
        kept = yield from self.evaluate(kept, gen, requests)
        nevals = len(kept)
        st.population = sel_best_n(parents + kept, p.population_size)
        extra["selected"] = len(st.population)
        mean = mean_affinity(st.population)
        if p.n_insert:
            inserted = yield from self.evaluate(self.insert(st.population), gen)
            nevals += len(inserted)
            st.population = st.population + inserted
        self.inner_loop(mean)
        st.generation = gen
        augmented = False
        if extra["stall"] >= p.patience:
            if self.phase_ends_search():
                self._close(nevals, mean, False)
                self.control.reason = (
                    f"ImmuNeCS exit condition: {extra['phases_without_gain']} augmentation phases without a "
                    f"mean-affinity improvement of more than tau={p.tau} (best mean affinity "
                    f"{extra['reference']:.4f})")
                self.finished = True
                return
            copies, requests = self.augment(st.population)
            copies = yield from self.evaluate(copies, gen, requests)
            nevals += len(copies)
            st.population = st.population + copies
            extra["augmentations"] += 1
            extra["phase_start"] = extra["reference"]
            extra["stall"] = 0
            augmented = True
        self._close(nevals, mean, augmented)

    def steps(self) -> Iterator[Batch]:
        st = self.state
        self.seen = SeenRegistry.from_json(self.space, st.extra.get("seen", []))
        yield from self.start_once()
        while not self.finished and not self.should_stop() and not self.generation_limit_reached("ImmuNeCS"):
            yield from self.generation(st.generation + 1)


def immunecs(toolbox: Any, control: SearchControl, state: SearchState | None = None, **params: Any) -> SearchState:
    """Function form of :class:`Immunecs` (``params``: :class:`ImmuneSearchParams` fields)."""
    return run_algorithm(Immunecs, toolbox, control, state, **params)
