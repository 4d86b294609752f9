"""Algorithms as objects: one Params dataclass, an own RNG, ask/tell, state_dict (torch-free).

Every search loop of the package is an :class:`Algorithm`. Its loop is written once, as
the generator :meth:`Algorithm.steps`, which yields a :class:`Batch` (individuals, their
:class:`~deap_nas.evaluation.request.EvalRequest` s, the generation) whenever it needs
fitness values and continues once they are set. Three ways to drive it:

- :meth:`Algorithm.run`: with a toolbox (``toolbox.evaluate_population`` of the
  runtime, with cache, journal and parallel map; or plain DEAP ``toolbox.evaluate`` over
  ``toolbox.map``), until the loop ends or the control's budget is spent;
- :meth:`Algorithm.ask` / :meth:`Algorithm.tell`: from plain Python with any fitness
  function (pymoo-style ask/tell)::

      algo = Immunecs(toolbox, ImmuneSearchParams(population_size=6), seed=1,
                      control=SearchControl(Budget(evaluations=60)))
      while (batch := algo.ask()) is not None:
          algo.tell([my_fitness(ind) for ind in batch.individuals])
      best = algo.state.hall_of_fame[0]

- the function wrappers (``immunecs(toolbox, control, **params)``) of older code.

Randomness: the loop draws only from ``self.rng``, a :class:`random.Random` seeded from
``seed`` (the runtime passes the run seed), so a loop is reproducible from its own seed
whatever the global ``random`` state; the runtime binds the same generator to the
toolbox's operators (``rng=``). Without ``seed`` or ``rng``, one seed is drawn from the
global ``random`` module (DEAP's habit: ``random.seed`` still fixes the run).

State: :meth:`state_dict` / :meth:`load_state_dict` give plain JSON (generation,
population, hall of fame, logbook, the loop's own ``extra`` state and the RNG state);
snapshots are taken between generations (``control.generation_done``), where a new
generator continues exactly. Individuals are serialised with every attribute they carry
(:func:`individual_to_dict`): an individual's attributes are its own state (birth, history),
never wishes for its next evaluation (those are requests).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from deap import tools

from ..evaluation.request import EvalRequest
from ..spaces.types import set_fitness
from .common import SearchControl, SearchState, fitness_record, logbook_header
from .pareto import FeasibleFront, axis_weights, pareto_record

GEN_FORMAT = "deap_nas.algorithm/1"


@dataclass
class Batch:
    """Individuals to evaluate in ``generation``, each with its request."""

    individuals: list
    requests: list[EvalRequest]
    generation: int

    def __len__(self) -> int:
        return len(self.individuals)


@dataclass
class Candidate:
    """A submitted evaluation of a steady-state loop (``ids``: its evaluation ids)."""

    ind: Any
    request: EvalRequest = field(default_factory=EvalRequest)
    ids: tuple = ()


def forget(ind: Any) -> Any:
    """Forget an individual's evaluation: fitness and ``result`` (a clone to vary, or a
    network to train further). Returns it."""
    if ind.fitness.valid:
        del ind.fitness.values
    if "result" in getattr(ind, "__dict__", {}):
        del ind.result
    return ind


def bind_rng(fn: Any, rng: Any) -> Any:
    """``fn`` with ``rng=rng`` when it takes an ``rng`` argument that is not bound yet
    (a toolbox registration, a functools.partial); else ``fn`` itself (None stays None)."""
    if fn is None:
        return None
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn
    if "rng" in params and "rng" not in (getattr(fn, "keywords", None) or {}):
        return functools.partial(fn, rng=rng)
    return fn


# ---------------------------------------------------------------------- individuals <-> JSON
def _codec(space: Any) -> Any:
    if space is None or not hasattr(space, "to_json"):
        raise ValueError("state_dict: the toolbox needs the search space as toolbox.space (its to_json / "
                         "from_json encode the genomes)")
    return space


def individual_to_dict(ind: Any, space: Any) -> dict[str, Any]:
    """An individual as plain JSON: ``genome``, ``fitness`` and every instance attribute
    (``result``, ``birth``, ...) at the top level; no list of names is kept anywhere."""
    attrs = {k: v for k, v in vars(ind).items() if k != "fitness"}
    clash = sorted(set(attrs) & {"genome", "fitness"})
    if clash:
        raise ValueError(f"an individual attribute may not be named {clash}")
    try:
        json.dumps(attrs)
    except TypeError as e:
        raise TypeError(f"an individual's attributes must be plain JSON to be snapshotted ({sorted(attrs)}): "
                        f"{e}") from None
    return {"genome": _codec(space).to_json(ind),
            "fitness": list(ind.fitness.values) if ind.fitness.valid else None, **attrs}


def individual_from_dict(d: dict[str, Any], space: Any, weights: Sequence[float] | None = None) -> Any:
    """The individual of :func:`individual_to_dict`; ``weights``: the fitness weights of a
    multi-objective search (:func:`~deap_nas.spaces.types.set_fitness`)."""
    ind = _codec(space).from_json(d["genome"])
    if d.get("fitness") is not None:
        if weights is None:
            ind.fitness.values = tuple(d["fitness"])
        else:
            set_fitness(ind, d["fitness"], tuple(weights))
    for k, v in d.items():
        if k not in ("genome", "fitness") and v is not None:
            setattr(ind, k, v)
    return ind


def rng_to_json(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def rng_from_json(rng: random.Random, data: Sequence[Any]) -> None:
    version, internal, gauss = data
    rng.setstate((version, tuple(internal), gauss))


# ---------------------------------------------------------------------- the base class
class Algorithm:
    """Base of every search loop (module doc). Subclasses set ``name``, ``Params`` and
    ``roles`` and write :meth:`steps`."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = object
    #: toolbox operators the loop needs (``operators:`` of a config registers them)
    roles: ClassVar[tuple[str, ...]] = ()
    #: toolbox operators the loop uses when registered, with a default otherwise
    optional_roles: ClassVar[tuple[str, ...]] = ()
    #: "no": one objective only; "yes": also several (``toolbox.objective_axes``);
    #: "only": several objectives required (docs/objectives.md)
    multi_objective: ClassVar[str] = "no"

    def __init__(self, toolbox: Any, params: Any = None, *, seed: int | None = None,
                 rng: random.Random | None = None, control: SearchControl | None = None,
                 state: SearchState | None = None, stats: Any = None, halloffame: Any = None,
                 verbose: bool = False, **param_fields: Any) -> None:
        if params is not None and param_fields:
            raise TypeError(f"{self.name}: give params or keyword fields, not both")
        if params is None:
            params = self.Params(**param_fields)
        elif not isinstance(params, self.Params):
            raise TypeError(f"{self.name}: params must be {self.Params.__name__}, got {type(params).__name__}")
        self.toolbox = toolbox
        self.params = params
        if rng is None:
            rng = random.Random(seed if seed is not None else random.getrandbits(64))
        self.rng = rng
        self.control = control if control is not None else SearchControl(None)
        #: the objectives of a multi-objective search (``toolbox.objective_axes``), else ()
        self.axes = self._objective_axes(toolbox)
        size = getattr(params, "hall_of_fame", 10)
        hall = FeasibleFront() if self.axes else tools.HallOfFame(size)
        self.state = state if state is not None else SearchState(hall_of_fame=hall)
        #: DEAP's loop arguments: a ``tools.Statistics`` compiled into every logbook row, a
        #: ``tools.HallOfFame`` (or ParetoFront) of the user's updated every generation, and
        #: ``verbose``: print ``logbook.stream`` after every row
        self.stats, self.halloffame, self.verbose = stats, halloffame, verbose
        self._steps: Iterator[Batch] | None = None
        self._asked: Batch | None = None
        self.finished = False

    def _objective_axes(self, toolbox: Any) -> tuple:
        axes = tuple(getattr(toolbox, "objective_axes", None) or ())
        if len(axes) == 1:
            raise ValueError(f"{self.name}: toolbox.objective_axes lists one objective; a multi-objective search "
                             "needs at least two")
        if axes and self.multi_objective == "no":
            raise ValueError(f"{self.name} optimises one objective (validation accuracy); for several objectives "
                             "use nsga2, aging_pareto or random_search (docs/objectives.md)")
        if not axes and self.multi_objective == "only":
            raise ValueError(f"{self.name} is a multi-objective search: list the objectives (config section "
                             "objectives:, or toolbox.objective_axes in Python; docs/objectives.md)")
        return axes

    @property
    def weights(self) -> tuple[float, ...] | None:
        """The fitness weights of a multi-objective search, else None."""
        return axis_weights(self.axes) if self.axes else None

    # -------------------------------------------------------------- toolbox operators
    def tool(self, name: str, default: Any = None) -> Any:
        """``toolbox.<name>`` (or ``default``), given the loop's generator as ``rng`` when it
        takes one and was registered without it, so a plain DEAP toolbox of the package's
        operators draws from the loop's seed too."""
        return bind_rng(getattr(self.toolbox, name, None) or default, self.rng)

    def new_individual(self) -> Any:
        """A random individual of the toolbox (``toolbox.individual``)."""
        return self.tool("individual")()

    # -------------------------------------------------------------- logbook
    def record(self, population: Sequence[Any], **fields: Any) -> None:
        """One logbook row as DEAP's loops write it: ``fields`` (``gen``, ``nevals``, the
        loop's own columns) plus ``stats.compile`` of the evaluated individuals of
        ``population``; the header ``['gen', 'nevals', <loop columns>] + stats.fields``; the
        user's ``halloffame`` updated with them; the row printed when ``verbose``."""
        st = self.state
        evaluated = [ind for ind in population if ind.fitness.valid]
        row = dict(fields)
        if self.stats is not None and evaluated:
            row.update(self.stats.compile(evaluated))
        st.logbook.record(**row)
        st.logbook.header = logbook_header(st.logbook.header, row, self._stats_fields())
        if self.halloffame is not None:
            self.halloffame.update(evaluated)
        if self.verbose:
            print(st.logbook.stream)

    def _stats_fields(self) -> list[str]:
        return list(getattr(self.stats, "fields", None) or [])

    def close_generation(self, generation: int, nevals: int, population: list) -> None:
        """End a generational loop's generation: the new population, the loop's hall of fame,
        one row (:meth:`record`: ``gen``, ``nevals``, :func:`fitness_record`), the hooks."""
        st = self.state
        st.population = population
        st.hall_of_fame.update(population)
        self.record(population, gen=generation, nevals=nevals, **self.population_record(population))
        st.generation = generation
        self.control.generation_done(st)

    def population_record(self, population: Sequence[Any]) -> dict[str, Any]:
        """The loop's statistics columns: :func:`fitness_record` (one objective) or
        :func:`~deap_nas.algorithms.pareto.pareto_record` of the run's front."""
        if self.axes:
            return pareto_record(population, self.state.hall_of_fame, self.axes)
        return fitness_record(population)

    # -------------------------------------------------------------- the loop
    def steps(self) -> Iterator[Batch]:  # pragma: no cover - every subclass defines it
        """The search loop; yields a batch whenever it needs fitness values."""
        raise NotImplementedError

    def evaluate(self, individuals: Sequence[Any], generation: int,
                 requests: Sequence[EvalRequest | None] | None = None) -> Iterator[Batch]:
        """``evaluated = yield from self.evaluate(inds, gen, requests)``: have ``individuals``
        evaluated, at most as many as the evaluation budget has left (the budget is met
        exactly); returns those evaluated (a prefix of ``individuals``)."""
        inds = list(individuals)
        reqs = [r or EvalRequest() for r in (requests if requests is not None else [None] * len(inds))]
        if len(reqs) != len(inds):
            raise ValueError(f"requests: {len(reqs)} for {len(inds)} individuals")
        room = self.control.remaining_evaluations()
        if room < len(inds):
            inds, reqs = inds[: int(room)], reqs[: int(room)]
        if inds:
            yield Batch(inds, reqs, generation)
        return inds

    def start_once(self) -> Iterator[Batch]:
        """``yield from self.start_once()``: the loop's :meth:`start` (its first generation),
        unless the state already has a population (a resumed search) or the budget is spent."""
        if not self.state.population and not self.should_stop():
            yield from self.start()

    def start(self) -> Iterator[Batch]:  # pragma: no cover - loops with a start phase define it
        """The first generation of a loop that has one (see :meth:`start_once`)."""
        raise NotImplementedError
        yield  # a generator

    def require_space(self, needs: str | None = None) -> Any:
        """``toolbox.space`` (loops whose operators work on the space); ValueError naming
        the loop when it is missing or lacks the method ``needs``."""
        space = getattr(self.toolbox, "space", None)
        if space is None or (needs is not None and not hasattr(space, needs)):
            what = f"a search space with {needs}()" if needs else "the search space"
            raise ValueError(f"{self.name}: the toolbox needs {what} as toolbox.space")
        return space

    def generation_limit_reached(self, label: str) -> bool:
        """True (with ``control.reason`` set) once ``params.max_generations`` generations ran."""
        mg = getattr(self.params, "max_generations", None)
        if mg is not None and self.state.generation >= mg:
            self.control.reason = f"{label} max_generations reached ({mg})"
            return True
        return False

    def should_stop(self) -> bool:
        """True when the control's budget is spent (``control.reason`` says which)."""
        return self.control.stop_reason() is not None

    # -------------------------------------------------------------- driving it
    def run(self) -> SearchState:
        """Run the loop with the toolbox until it ends or the budget is spent."""
        for batch in self.steps():
            evaluate_batch(self.toolbox, batch, self.control, weights=self.weights)
        self.finished = True
        return self.state

    def ask(self) -> Batch | None:
        """The next batch to evaluate, or None when the search has ended."""
        if self._asked is not None:
            raise RuntimeError(f"{self.name}: tell() the fitness of the last batch before asking again")
        if self.finished:
            return None
        if self._steps is None:
            self._steps = self.steps()
        try:
            self._asked = next(self._steps)
        except StopIteration:
            self.finished = True
            return None
        return self._asked

    def tell(self, fitnesses: Sequence[Any]) -> None:
        """Set the fitness of the last batch's individuals (numbers or tuples), in order."""
        batch, self._asked = self._asked, None
        if batch is None:
            raise RuntimeError(f"{self.name}: tell() without a batch asked for")
        values = list(fitnesses)
        if len(values) != len(batch):
            self._asked = batch
            raise ValueError(f"tell: {len(values)} fitness values for {len(batch)} individuals")
        for ind, v in zip(batch.individuals, values, strict=True):
            if self.axes:
                set_fitness(ind, v, self.weights)
            else:
                ind.fitness.values = tuple(v) if isinstance(v, (tuple, list)) else (float(v),)
        self.control.evaluated(len(batch))

    # -------------------------------------------------------------- state
    def _space(self) -> Any:
        return getattr(self.toolbox, "space", None)

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON of everything the loop needs to continue (module doc)."""
        st, space = self.state, self._space()
        return {
            "format": GEN_FORMAT,
            "algorithm": self.name,
            "params": dataclasses.asdict(self.params) if dataclasses.is_dataclass(self.params) else {},
            "generation": st.generation,
            "population": [individual_to_dict(i, space) for i in st.population],
            "hall_of_fame": [individual_to_dict(i, space) for i in st.hall_of_fame],
            "hall_of_fame_size": st.hall_of_fame.maxsize,  # None: a Pareto front
            "in_flight": [individual_to_dict(i, space) for i in st.in_flight],
            "logbook": [dict(r) for r in st.logbook],
            "extra": st.extra,
            "rng": rng_to_json(self.rng),
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict` output (between generations)."""
        space, w = self._space(), self.weights
        if self.axes:
            hof: tools.HallOfFame = FeasibleFront()
        else:
            hof = tools.HallOfFame(int(d.get("hall_of_fame_size") or max(1, len(d["hall_of_fame"]))))
        members = [individual_from_dict(x, space, w) for x in d["hall_of_fame"]]
        hof.items = list(members)  # stored best first, as HallOfFame keeps them
        hof.keys = [m.fitness for m in reversed(members)]
        logbook = tools.Logbook()
        for rec in d["logbook"]:
            logbook.record(**rec)
            logbook.header = logbook_header(logbook.header, rec, self._stats_fields())
        self.state = SearchState(
            generation=int(d["generation"]),
            population=[individual_from_dict(x, space, w) for x in d["population"]],
            hall_of_fame=hof, logbook=logbook, extra=dict(d.get("extra") or {}),
            in_flight=[individual_from_dict(x, space, w) for x in d.get("in_flight", [])],
        )
        if d.get("rng") is not None:
            rng_from_json(self.rng, d["rng"])
        self._steps, self._asked, self.finished = None, None, False


def evaluate_batch(toolbox: Any, batch: Batch, control: SearchControl | None = None,
                   weights: Sequence[float] | None = None) -> None:
    """Evaluate a batch with a toolbox: the runtime's ``evaluate_population`` (requests,
    cache, journal, parallel map), else plain DEAP ``toolbox.map(toolbox.evaluate, ...)``,
    passing each request as ``request=`` when ``toolbox.evaluate`` accepts it; ``weights``
    (a multi-objective search) give each individual a fitness of those weights first."""
    inds = batch.individuals
    if hasattr(toolbox, "evaluate_population"):
        toolbox.evaluate_population(inds, generation=batch.generation, control=control, requests=batch.requests)
        return
    evaluate = toolbox.evaluate
    if _accepts_request(evaluate) and any(r != EvalRequest() for r in batch.requests):
        fits = [evaluate(ind, request=r) for ind, r in zip(inds, batch.requests, strict=True)]
    else:
        fits = list(toolbox.map(evaluate, inds)) if hasattr(toolbox, "map") else [evaluate(i) for i in inds]
    for ind, fit in zip(inds, fits, strict=True):
        if weights is None:
            ind.fitness.values = fit
        else:
            set_fitness(ind, fit, tuple(weights))
    if control is not None:
        control.evaluated(len(inds))


def _accepts_request(fn: Any) -> bool:
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "request" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def plain_evaluate(individuals: Sequence[Any], generation: int,
                   requests: Sequence[EvalRequest | None] | None = None) -> Iterator[Batch]:
    """:meth:`Algorithm.evaluate` without a budget: ``yield from`` it in a step function
    that runs outside an Algorithm (see :func:`drive`)."""
    inds = list(individuals)
    reqs = [r or EvalRequest() for r in (requests if requests is not None else [None] * len(inds))]
    if inds:
        yield Batch(inds, reqs, generation)
    return inds


def drive(steps: Iterator[Batch], toolbox: Any, control: SearchControl | None = None) -> Any:
    """Run a step generator to its end, evaluating each batch with ``toolbox``
    (:func:`evaluate_batch`); returns the generator's return value."""
    while True:
        try:
            batch = next(steps)
        except StopIteration as stop:
            return stop.value
        evaluate_batch(toolbox, batch, control)
