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

from dataclasses import dataclass
from typing import Any

from deap import tools

from ..checks import check_int
from ..ops.minigen import mean_accuracy, performance_score, sel_softmax, sel_top_k, stamp_birth
from .common import SearchControl, SearchState, evaluate_invalid, fitness_record
from .registry import register_algorithm


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


def breed(toolbox: Any, elite: list, n: int, scores: list[float], born: int, temperature: float = 1.0) -> list:
    """``n`` children of ``elite``: softmax parents (eq. 2), cell crossover, mutation."""
    children = []
    for _ in range(n):
        p1, p2 = sel_softmax(elite, 2, scores=scores, temperature=temperature)
        c1, c2 = toolbox.clone(p1), toolbox.clone(p2)
        c1, _ = toolbox.mate(c1, c2)
        (c1,) = toolbox.mutate(c1)
        del c1.fitness.values
        for attr in ("result", "eval_ids"):
            if hasattr(c1, attr):
                delattr(c1, attr)
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


@register_algorithm("minigen", MiniGenSearchParams, roles=("mate", "mutate"))
def minigen(
    toolbox: Any,
    control: SearchControl,
    population_size: int = 15,
    elite: int = 5,
    generations_per_round: int = 25,
    restart_threshold: float = 0.35,
    target_accuracy: float = 0.40,
    n_found: int = 10,
    decay: float = 0.01,
    temperature: float = 1.0,
    reevaluate_survivors: bool = False,
    max_rounds: int | None = None,
    hall_of_fame: int = 10,
    state: SearchState | None = None,
) -> SearchState:
    """Rounds of generations (module docstring) until ``n_found`` networks, ``max_rounds``
    rounds or the budget."""
    if state is None:
        state = SearchState(hall_of_fame=tools.HallOfFame(hall_of_fame))
    extra = state.extra

    def evaluate(population: list, gen: int) -> int:
        fresh = [ind for ind in population if not ind.fitness.valid]
        nevals = evaluate_invalid(toolbox, population, control, gen)
        for ind in fresh:
            if not hasattr(ind, "acc_history"):
                ind.acc_history = []
            ind.acc_history.append(float(ind.fitness.values[0]))
        return nevals

    def close(population: list, nevals: int, restart: str) -> None:
        g = extra["round_gen"]
        for ind in population:  # found: every network above the target, in order
            h = _arch_hash(ind)
            acc = mean_accuracy(ind)
            if h is not None and acc > target_accuracy and h not in extra["found"]:
                extra["found"].append(h)
                extra["found_details"].append({"index": len(extra["found"]) - 1, "arch_hash": h, "accuracy": acc,
                                               "params": (ind.result or {}).get("params"), "gen": state.generation,
                                               "round": extra["round"], "round_gen": g,
                                               "genome": toolbox.space.to_json(ind) if hasattr(toolbox, "space")
                                               else [list(c) for c in ind]})
        best = max(population, key=mean_accuracy)
        state.population = population
        state.hall_of_fame.update(population)
        state.logbook.record(gen=state.generation, round=extra["round"], round_gen=g, nevals=nevals,
                             **fitness_record(population),
                             best_ps=max(performance_score(i, g, decay) for i in population),
                             best_birth=getattr(best, "birth", g), best_age=g - getattr(best, "birth", g),
                             found=len(extra["found"]), restart=restart)
        control.generation_done(state)

    if not state.population:  # round 0, generation 0
        if control.stop_reason() is not None:
            return state
        extra.update(round=0, round_gen=0, found=[], found_details=[], restarts={"kept": 0, "random": 0})
        population = [stamp_birth(toolbox.individual(), 0) for _ in range(population_size)]
        nevals = evaluate(population, 0)
        close(population, nevals, "")

    while True:
        if len(extra["found"]) >= n_found:
            control.reason = (f"MiniGen: {len(extra['found'])} networks found above {target_accuracy:.0%} "
                              f"mini-test accuracy (n_found {n_found})")
            break
        if control.stop_reason() is not None:
            break
        population = state.population
        restart = ""
        if extra["round_gen"] >= generations_per_round:  # the restart rule (sec. IV-D)
            if max_rounds is not None and extra["round"] + 1 >= max_rounds:
                control.reason = f"MiniGen max_rounds reached ({max_rounds})"
                break
            restart = restart_decision(population, restart_threshold)
            extra["restarts"][restart] += 1
            extra["round"] += 1
            extra["round_gen"] = 0
            if restart == "kept":
                kept = sel_top_k(population, elite, generations_per_round, decay)
                for ind in kept:
                    ind.birth = 0
                scores = [performance_score(i, 0, decay) for i in kept]
                population = kept + breed(toolbox, kept, population_size - elite, scores, 0, temperature)
            else:
                population = [stamp_birth(toolbox.individual(), 0) for _ in range(population_size)]
        else:
            g = extra["round_gen"]
            kept = sel_top_k(population, elite, g, decay)
            scores = [performance_score(i, g, decay) for i in kept]
            extra["round_gen"] = g + 1
            population = kept + breed(toolbox, kept, population_size - elite, scores, g + 1, temperature)
        if reevaluate_survivors:
            for ind in population:
                if ind.fitness.valid:
                    del ind.fitness.values
        state.generation += 1
        nevals = evaluate(population, state.generation)
        close(population, nevals, restart)
    return state
