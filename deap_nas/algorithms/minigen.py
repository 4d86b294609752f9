"""MiniGen search loop (Zhang, Ebadi & Jing, sec. III-C and IV-D). Torch-free.

Fitness = mini-test accuracy after ``training.epochs`` (20) epochs on the mini training
set (the runtime's evaluation; see ``data.mini_file``). With the operators of
:mod:`deap_nas.ops.minigen` as ``toolbox.mate`` (:func:`~deap_nas.ops.minigen.cx_cells`)
and ``toolbox.mutate`` (:func:`~deap_nas.ops.minigen.mut_minigen`), the loop is:

- **Generation 0 of a round**: ``population_size`` (15) random networks, born in 0.
- **Each generation** g: the networks not evaluated yet are trained and tested; each
  accuracy is appended to the network's ``acc_history``. Every network whose mean
  accuracy exceeds ``target_accuracy`` (40%) joins the *found* list (distinct
  architectures, in the order found; the paper's "neural architecture index").
  Then the ``elite`` (5) best by the performance score ps of eq. 1 at generation g
  (``ps = mean accuracy - decay * (g - birth)``) are kept, and ``population_size - elite``
  children, born in g + 1, are bred from them: two parents drawn by the softmax of eq. 2
  over their scores, cell crossover (the first child is kept), three-level mutation.
- **Restart rule** (sec. IV-D): after generation ``generations_per_round`` (25) of a
  round, the generation count restarts at 0: if the best accuracy of that generation
  exceeds ``restart_threshold`` (35%), the 5 elite networks are kept with their birth
  generations reset to 0 and bred as above; otherwise the population is re-initialised
  at random.
- **Stop** when ``n_found`` (10) networks are found (then ``deap-nas train-final`` with
  ``final_training.source: found`` trains them on the full data, Table III),
  after ``max_rounds`` rounds, or at the runtime's budget.

The logbook has one row per generation: ``gen`` (the run's count, never reset),
``round``, ``round_gen`` (g, the generation within the round), ``nevals``, the
:func:`~deap_nas.algorithms.common.fitness_record` fields of the accuracies, ``best_ps``,
``best_birth`` and ``best_age`` (birth generation and age g - birth of the network with
the highest accuracy: Fig. 3's red line), ``found`` (count so far) and ``restart``
(``""``, ``"kept"`` or ``"random"``: what the restart rule did before this generation).

Departures and readings: survivors keep their accuracy; the authors' code retrains
them each generation with the same seed, which under deterministic training gives the
same accuracy again (``reevaluate_survivors: true`` does that: with ``evaluation.cache``
on, the cached accuracy is appended to the history; with it off, the survivor is
trained again with the next repeat's seed). The authors' code adds only each
generation's best network to the found list; the text ("until 10 individual nets were
found to have accuracy better than 40%") counts every network, as here.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..checks import check_int
from ..ops.minigen import mean_accuracy, performance_score, sel_softmax, sel_top_k, stamp_birth
from .base import Algorithm, Batch, bind_rng, forget
from .common import SearchControl, SearchState, fitness_record
from .registry import register_algorithm, run_algorithm


def _check_num(name: str, v: Any, lo: float, hi: float = float("inf")) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise ValueError(f"{name}: must be a number in [{lo}, {hi}], got {v!r}")


@dataclass
class MiniGenSearchParams:
    """``algorithm:`` section for ``name: minigen`` (sec. IV-D values as defaults)."""

    population_size: int = 15  # n
    elite: int = 5  # k, the top performers kept and bred from
    generations_per_round: int = 25  # G: the restart rule applies after generation G
    restart_threshold: float = 0.35  # keep the elite at a restart if the best accuracy exceeds it
    target_accuracy: float = 0.40  # a network above it is "found"
    n_found: int = 10  # stop when this many networks are found
    decay: float = 0.01  # eq. 1's age penalty per generation (0: off)
    temperature: float = 1.0  # of eq. 2's softmax (1: the paper)
    reevaluate_survivors: bool = False
    max_rounds: int | None = None
    hall_of_fame: int = 10

    def __post_init__(self) -> None:
        check_int("population_size", self.population_size, 2)
        check_int("elite", self.elite, 1)
        if self.elite >= self.population_size:
            raise ValueError(f"elite: must be < population_size ({self.population_size}), got {self.elite}")
        check_int("generations_per_round", self.generations_per_round, 1)
        _check_num("restart_threshold", self.restart_threshold, 0.0, 1.0)
        _check_num("target_accuracy", self.target_accuracy, 0.0, 1.0)
        check_int("n_found", self.n_found, 1)
        _check_num("decay", self.decay, 0.0)
        _check_num("temperature", self.temperature, 0.0)
        if self.temperature == 0:
            raise ValueError("temperature: must be > 0, got 0")
        if not isinstance(self.reevaluate_survivors, bool):
            raise ValueError(f"reevaluate_survivors: must be true or false, got {self.reevaluate_survivors!r}")
        if self.max_rounds is not None:
            check_int("max_rounds", self.max_rounds, 1)
        check_int("hall_of_fame", self.hall_of_fame, 1)


def breed(toolbox: Any, elite: list, n: int, scores: list[float], born: int, temperature: float = 1.0,
          rng: Any = random) -> list:
    """``n`` children of ``elite``: softmax parents (eq. 2), cell crossover, mutation."""
    children = []
    for _ in range(n):
        p1, p2 = sel_softmax(elite, 2, scores=scores, temperature=temperature, rng=rng)
        c1, c2 = toolbox.clone(p1), toolbox.clone(p2)
        c1, _ = bind_rng(toolbox.mate, rng)(c1, c2)
        (c1,) = bind_rng(toolbox.mutate, rng)(c1)
        forget(c1)
        c1.__dict__.pop("acc_history", None)
        children.append(stamp_birth(c1, born))
    return children


def restart_decision(population: list, threshold: float) -> str:
    """The restart rule of sec. IV-D: ``"kept"`` when the best mean accuracy of the
    population exceeds ``threshold`` (the elite survives), else ``"random"``."""
    best = max(mean_accuracy(ind) for ind in population)
    return "kept" if best > threshold else "random"


def _arch_hash(ind: Any) -> str | None:
    result = getattr(ind, "result", None) or {}
    return result.get("arch_hash")


@register_algorithm
class MiniGen(Algorithm):
    """Rounds of generations (module docstring) until ``n_found`` networks, ``max_rounds``
    rounds or the budget; ``toolbox.mate`` and ``toolbox.mutate`` vary the elite's children."""

    name = "minigen"
    Params = MiniGenSearchParams
    roles = ("mate", "mutate")

    def score(self, population: list) -> Iterator[Batch]:
        """Evaluate the networks without a fitness; append each accuracy to its history.
        Returns (the population less networks past the budget, evaluations)."""
        fresh = [ind for ind in population if not ind.fitness.valid]
        done = yield from self.evaluate(fresh, self.state.generation)
        for ind in done:
            ind.__dict__.setdefault("acc_history", []).append(float(ind.fitness.values[0]))
        skipped = {id(i) for i in fresh[len(done):]}
        return [i for i in population if id(i) not in skipped], len(done)

    def record_found(self, population: list) -> None:
        """Every network above the target, in the order found (the paper's index)."""
        extra, g = self.state.extra, self.state.extra["round_gen"]
        space = getattr(self.toolbox, "space", None)
        for ind in population:
            h, acc = _arch_hash(ind), mean_accuracy(ind)
            if h is None or acc <= self.params.target_accuracy or h in extra["found"]:
                continue
            extra["found"].append(h)
            extra["found_details"].append({
                "index": len(extra["found"]) - 1, "arch_hash": h, "accuracy": acc,
                "params": (ind.result or {}).get("params"), "gen": self.state.generation, "round": extra["round"],
                "round_gen": g, "genome": space.to_json(ind) if space is not None else [list(c) for c in ind]})

    def close(self, population: list, nevals: int, restart: str) -> None:
        st, extra, decay = self.state, self.state.extra, self.params.decay
        g = extra["round_gen"]
        self.record_found(population)
        best = max(population, key=mean_accuracy)
        st.population = population
        st.hall_of_fame.update(population)
        self.record(population, gen=st.generation, round=extra["round"], round_gen=g, nevals=nevals,
                          **fitness_record(population),
                          best_ps=max(performance_score(i, g, decay) for i in population),
                          best_birth=getattr(best, "birth", g), best_age=g - getattr(best, "birth", g),
                          found=len(extra["found"]), restart=restart)
        self.control.generation_done(st)

    def random_population(self) -> list:
        return [stamp_birth(self.new_individual(), 0) for _ in range(self.params.population_size)]

    def next_population(self) -> tuple[list, str] | None:
        """The next generation's population and what the restart rule did (None: stop)."""
        p, extra = self.params, self.state.extra
        population, restart = self.state.population, ""
        if extra["round_gen"] >= p.generations_per_round:  # the restart rule (sec. IV-D)
            if p.max_rounds is not None and extra["round"] + 1 >= p.max_rounds:
                self.control.reason = f"MiniGen max_rounds reached ({p.max_rounds})"
                return None
            restart = restart_decision(population, p.restart_threshold)
            extra["restarts"][restart] += 1
            extra["round"] += 1
            extra["round_gen"] = 0
            if restart == "random":
                return self.random_population(), restart
            kept = sel_top_k(population, p.elite, p.generations_per_round, p.decay)
            for ind in kept:
                ind.birth = 0
            born = 0
        else:
            g = extra["round_gen"]
            kept = sel_top_k(population, p.elite, g, p.decay)
            born = extra["round_gen"] = g + 1
        scores = [performance_score(i, born, p.decay) if born == 0 else performance_score(i, born - 1, p.decay)
                  for i in kept]
        return kept + breed(self.toolbox, kept, p.population_size - p.elite, scores, born, p.temperature,
                            self.rng), restart

    def steps(self) -> Iterator[Batch]:
        p, st, extra = self.params, self.state, self.state.extra
        if not st.population:  # round 0, generation 0
            if self.should_stop():
                return
            extra.update(round=0, round_gen=0, found=[], found_details=[], restarts={"kept": 0, "random": 0})
            population, nevals = yield from self.score(self.random_population())
            if not population:
                return
            self.close(population, nevals, "")
        while True:
            if len(extra["found"]) >= p.n_found:
                self.control.reason = (f"MiniGen: {len(extra['found'])} networks found above "
                                       f"{p.target_accuracy:.0%} mini-test accuracy (n_found {p.n_found})")
                break
            if self.should_stop():
                break
            nxt = self.next_population()
            if nxt is None:
                break
            population, restart = nxt
            if p.reevaluate_survivors:
                for ind in population:
                    if ind.fitness.valid:
                        del ind.fitness.values
            st.generation += 1
            population, nevals = yield from self.score(population)
            self.close(population, nevals, restart)


def minigen(toolbox: Any, control: SearchControl, state: SearchState | None = None, **params: Any) -> SearchState:
    """Function form of :class:`MiniGen` (``params``: :class:`MiniGenSearchParams` fields)."""
    return run_algorithm(MiniGen, toolbox, control, state, **params)
