"""EIGEN search loop: rapid succession with extinction, then gene duplication. Torch-free.

Ren et al., "EIGEN: Ecologically-Inspired GENetic Approach for Neural Network Structure
Searching from Scratch" (CVPR 2019), sec. 3.1 (succession, Algorithm 1), 3.3 and 4.1.
Mimicry (sec. 3.2) is a property of the training: with ``evaluation.teacher`` every
candidate trains with the distillation loss of eq. 3 against that fixed teacher; with
``mimic_parent: true`` the teacher of each generation's children (and of the duplication
variants) is the current parent, the best network found so far (its saved weights), set
through ``toolbox.set_teacher`` (the runtime's :meth:`~deap_nas.runtime.evaluator.Evaluator.set_teacher`).

- **Generation 0**: the poorly initialised network (global pooling only,
  ``toolbox.individual``) is trained for ``t1 + t2 + t3`` iterations; it is the first parent.
- **Each generation** (succession): ``population_size`` children of the parent, each with
  a uniform number of steps in [1, m] of the nine operations (``toolbox.mutate`` called
  with ``step_size=m``; default :func:`~deap_nas.ops.eigen.mut_eigen`), m =
  ``step_size_primary`` in the primary succession and ``step_size_secondary`` in the
  secondary one. **Extinction** (Algorithm 1): all children train ``t1`` iterations;
  ``v_g,T1 = max(S(F_g,T1)_p, v_g-1,T1)`` (eq. 1) and the children below it are extinct;
  the rest continue to ``t1 + t2``; ``v_g,T2 = max(S(F_g,T2)_q, v_g-1,T2)`` (eq. 2); the
  rest continue to ``t1 + t2 + t3`` and the best becomes the parent. Each continuation
  resumes the paused training (same weights, optimizer and learning-rate schedule as one
  uninterrupted run: a ``resume`` request, see :mod:`deap_nas.evaluation.request`); the
  schedule spans ``t1 + t2 + t3`` (:func:`training_request`: ``max_iterations`` override,
  ``stop_iteration`` for the pause).
  The logbook records the iterations trained and those extinction saved
  (``population_size * (t1 + t2 + t3)`` minus the trained ones).
- **Succession switch** (our criterion; the paper says "when the fitness score
  saturates"): the parent's fitness saturates when it has not risen by more than
  ``saturation_delta`` for ``saturation_patience`` generations in a row. Then the
  primary succession ends and the secondary begins (``secondary: false``: the search
  ends); when the secondary succession saturates too, it ends.
- **Gene duplication** (sec. 3.3, ``duplication: true``): the final parent is split into
  blocks of equal feature-map size (:func:`~deap_nas.spaces.eigen.blocks`); each block
  (any number of entries and exits) gives variants duplicating it 1..``duplication_repeats``
  times in each of ``duplication_modes`` (``serial``: repeated after itself; ``parallel``:
  side by side, exits concatenated; :func:`~deap_nas.spaces.eigen.duplicate_block`); the
  valid, distinct variants are trained from scratch for
  ``t1 + t2 + t3`` iterations (logged as the last generation, ``phase: duplication``) and
  the best of them and the parent is the result.

Departures and choices (ours): the parent competes with its children for the next
generation (``elitism``; the paper keeps "the best individual", without saying whether
the parent counts); fitness at T1 / T2 is the engine's best validation accuracy so far;
``S(F)_p`` with fewer than p successful children is their lowest value; failed children
are extinct at once; extinction thresholds start at ``v0_t1`` / ``v0_t2`` (0: the paper
gives no value) and carry over from primary to secondary succession.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..checks import check_int
from ..evaluation.request import EvalRequest
from ..ops.eigen import mut_eigen
from ..spaces.eigen import DUPLICATION_MODES, blocks, duplicate_block
from .base import Algorithm, Batch, drive, forget, plain_evaluate
from .common import SearchControl, SearchState, fitness_record, is_ok
from .registry import register_algorithm, run_algorithm

PHASES = ("primary", "secondary", "duplication", "done")


@dataclass
class EigenSearchParams:
    """``algorithm:`` section for ``name: eigen`` (sec. 4.1 values as defaults)."""

    population_size: int = 10
    step_size_primary: int = 100
    step_size_secondary: int = 10
    secondary: bool = True  # ablation (Table 2): false ends the search after the primary succession
    t1: int = 5000
    t2: int = 15000
    t3: int = 5000
    p: int = 5
    q: int = 2
    v0_t1: float = 0.0
    v0_t2: float = 0.0
    extinction: bool = True  # false: every child trains t1 + t2 + t3 iterations
    saturation_patience: int = 3
    saturation_delta: float = 0.001
    elitism: bool = True
    duplication: bool = True  # ablation (Table 4)
    duplication_repeats: int = 2
    duplication_modes: tuple[str, ...] = ("serial",)  # "serial" and/or "parallel" (sec. 3.3, Fig. 1; ours)
    mimic_parent: bool = False  # the parent (best so far) is the teacher from generation 1 on
    max_generations: int | None = None
    hall_of_fame: int = 10

    def __post_init__(self) -> None:
        for name, lo in (("population_size", 1), ("step_size_primary", 1), ("step_size_secondary", 1),
                         ("t1", 1), ("t2", 1), ("t3", 1), ("p", 1), ("q", 1), ("saturation_patience", 1),
                         ("duplication_repeats", 1), ("hall_of_fame", 1)):
            check_int(name, getattr(self, name), lo)
        if self.max_generations is not None:
            check_int("max_generations", self.max_generations, 1)
        for name in ("secondary", "extinction", "elitism", "duplication", "mimic_parent"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: must be true or false, got {getattr(self, name)!r}")
        for name in ("v0_t1", "v0_t2", "saturation_delta"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"{name}: must be a number, got {v!r}")
        if not self.duplication_modes or any(m not in DUPLICATION_MODES for m in self.duplication_modes):
            raise ValueError(f"duplication_modes: must be a non-empty list of {list(DUPLICATION_MODES)}, "
                             f"got {list(self.duplication_modes)!r}")
        self.duplication_modes = tuple(dict.fromkeys(self.duplication_modes))
        if self.saturation_delta < 0:
            raise ValueError(f"saturation_delta: must be >= 0, got {self.saturation_delta}")


def extinction_threshold(fitnesses: list[float], k: int, previous: float) -> float:
    """``max(S(F)_k, previous)`` (eq. 1 and 2): the k-th best of ``fitnesses`` (sorted in
    decreasing order, 1-based; the lowest when there are fewer than k) or the previous
    generation's threshold, whichever is higher. With no fitness, ``previous``."""
    if k < 1:
        raise ValueError(f"k: must be >= 1, got {k}")
    if not fitnesses:
        return previous
    ranked = sorted(fitnesses, reverse=True)
    return max(ranked[min(k, len(ranked)) - 1], previous)


def survivors(individuals: list, threshold: float) -> list:
    """Those not extinct: successfully evaluated with fitness >= ``threshold``."""
    return [ind for ind in individuals if is_ok(ind) and ind.fitness.values[0] >= threshold]


def _fit(ind: Any) -> float:
    return ind.fitness.values[0]


def training_request(total: int, stop: int | None = None, resume_from: str | None = None) -> EvalRequest:
    """A training of ``total`` iterations (the schedule spans them), paused at ``stop``
    and/or continued from the saved state ``resume_from``."""
    req = EvalRequest.resumed(resume_from) if resume_from else EvalRequest()
    return req.with_overrides(max_iterations=int(total)).paused_at(None if stop is None else int(stop))


def continue_steps(evaluate: Any, inds: list, total: int, stop: int | None, gen: int) -> Iterator[Batch]:
    """Continue the paused trainings of ``inds`` to ``stop`` (None: to the end). An
    individual whose training already ended (no saved state), or that the budget leaves
    out, keeps its fitness. Returns ``inds`` less those the budget left out."""
    todo = [ind for ind in inds if (getattr(ind, "result", None) or {}).get("train_state")]
    requests = [training_request(total, stop, ind.result["train_state"]) for ind in todo]
    evaluated = yield from evaluate(todo, gen, requests)
    skipped = {id(ind) for ind in todo[len(evaluated):]}
    return [ind for ind in inds if id(ind) not in skipped]


def extinction_steps(evaluate: Any, children: list, *, t1: int, t2: int, t3: int, p: int, q: int,
                     thresholds: dict[str, float], extinction: bool, generation: int) -> Iterator[Batch]:
    """Algorithm 1 for one generation, as steps: returns (children trained to the end,
    log fields); ``thresholds`` (keys ``v1``, ``v2``) is updated in place. ``evaluate`` is
    :meth:`~deap_nas.algorithms.base.Algorithm.evaluate` or
    :func:`~deap_nas.algorithms.base.plain_evaluate`."""
    total = t1 + t2 + t3
    if not extinction:
        trained = yield from evaluate(children, generation, [training_request(total)] * len(children))
        done = [c for c in trained if is_ok(c)]
        return done, {"survivors_t1": len(done), "survivors_t2": len(done)}
    children = yield from evaluate(children, generation, [training_request(total, stop=t1)] * len(children))
    thresholds["v1"] = extinction_threshold([_fit(c) for c in children if is_ok(c)], p, thresholds["v1"])
    alive = survivors(children, thresholds["v1"])
    yield from continue_steps(evaluate, alive, total, t1 + t2, generation)
    thresholds["v2"] = extinction_threshold([_fit(c) for c in alive if is_ok(c)], q, thresholds["v2"])
    alive2 = survivors(alive, thresholds["v2"])
    finished = yield from continue_steps(evaluate, alive2, total, None, generation)
    done = [c for c in finished if is_ok(c)]
    return done, {"survivors_t1": len(alive), "survivors_t2": len(alive2)}


def extinction_generation(toolbox: Any, children: list, *, t1: int, t2: int, t3: int, p: int, q: int,
                          thresholds: dict[str, float], extinction: bool, control: SearchControl | None,
                          generation: int) -> tuple[list, dict[str, Any]]:
    """:func:`extinction_steps` evaluated with ``toolbox`` (no budget check)."""
    return drive(extinction_steps(plain_evaluate, children, t1=t1, t2=t2, t3=t3, p=p, q=q, thresholds=thresholds,
                                  extinction=extinction, generation=generation), toolbox, control)


def parent_as_teacher(toolbox: Any, parent: Any) -> None:
    """Make ``parent`` (its architecture and saved weights) the mimicry teacher."""
    result = getattr(parent, "result", None) or {}
    if not result.get("weights") or not result.get("architecture"):
        raise ValueError("eigen: mimic_parent needs the parent's saved weights (evaluation.save_weights: true)")
    if not hasattr(toolbox, "set_teacher"):
        raise ValueError("eigen: mimic_parent needs toolbox.set_teacher (the deap_nas runtime's toolbox)")
    toolbox.set_teacher({"architecture": result["architecture"], "weights": result["weights"]})


def _iterations(ind: Any) -> int:
    return int((getattr(ind, "result", None) or {}).get("iterations") or 0)


def duplication_variants(parent: Any, space: Any, repeats: int, clone: Any,
                         modes: tuple[str, ...] = ("serial",)) -> list:
    """Variants of ``parent`` duplicating one block 1..``repeats`` times in each of
    ``modes`` (sec. 3.3, Fig. 1; :func:`~deap_nas.spaces.eigen.duplicate_block`), valid
    and distinct ones only, in block, mode, times order; each has ``duplicated`` =
    [block index, times, mode]."""
    out, seen = [], {space.decode(parent).hash()}
    for b, block in enumerate(blocks(parent, space.params.input_shape)):
        for mode in modes:
            for times in range(1, repeats + 1):
                v = forget(clone(parent))
                v.__dict__.pop("duplicated", None)
                duplicate_block(v, block, times, mode)
                key = space.decode(v).hash() if space.is_valid(v) else None
                if key is not None and key not in seen:
                    seen.add(key)
                    v.duplicated = [b, times, mode]
                    out.append(v)
    return out


@register_algorithm
class Eigen(Algorithm):
    """EIGEN (module docstring) until duplication is done, ``max_generations`` or the budget;
    ``toolbox.mutate`` (default :func:`~deap_nas.ops.eigen.mut_eigen`) makes the children."""

    name = "eigen"
    Params = EigenSearchParams
    optional_roles = ("mutate",)

    def __init__(self, toolbox: Any, params: Any = None, **kw: Any) -> None:
        super().__init__(toolbox, params, **kw)
        self.space = self.require_space()
        self.mutate = self.tool("mutate", functools.partial(mut_eigen, space=self.space))

    @property
    def total(self) -> int:
        return self.params.t1 + self.params.t2 + self.params.t3

    def close(self, gen: int, phase: str, trained: list, nevals: int, **fields: Any) -> None:
        st, extra = self.state, self.state.extra
        st.hall_of_fame.update(trained)
        st.generation = gen
        self.record(trained, gen=gen, phase=phase, nevals=nevals, parent=_fit(st.population[0]),
                          v1=extra["v1"], v2=extra["v2"], **fields, **fitness_record(trained))
        self.control.generation_done(st)

    def start(self) -> Iterator[Batch]:
        """Generation 0: the poorly initialised network trained t1 + t2 + t3 iterations."""
        p = self.params
        first = self.new_individual()
        done = yield from self.evaluate([first], 0, [training_request(self.total)])
        if not done:
            return
        self.state.population = [first]
        self.state.extra.update(phase="primary", v1=float(p.v0_t1), v2=float(p.v0_t2), best=_fit(first), stall=0,
                                primary_end=None, iterations=_iterations(first), iterations_saved=0)
        self.close(0, "start", [first], 1, step_size=0, survivors_t1=1, survivors_t2=1,
                   iterations=_iterations(first), iterations_saved=0)

    def duplication(self, gen: int, parent: Any) -> Iterator[Batch]:
        """Sec. 3.3: variants repeating a block, each trained in full; the best one wins."""
        extra = self.state.extra
        variants = duplication_variants(parent, self.space, self.params.duplication_repeats, self.toolbox.clone,
                                        self.params.duplication_modes)
        trained = yield from self.evaluate(variants, gen, [training_request(self.total)] * len(variants))
        done = [v for v in trained if is_ok(v)]
        best = max([parent, *done], key=_fit)
        self.state.population = [best]
        extra["phase"] = "done"
        extra["duplicated"] = getattr(best, "duplicated", None)
        self.close(gen, "duplication", done, len(trained), step_size=0, survivors_t1=len(done),
                   survivors_t2=len(done), iterations=sum(_iterations(v) for v in trained), iterations_saved=0)
        what = "variant " + str(extra["duplicated"]) if best is not parent else "the parent"
        self.control.reason = f"EIGEN finished: duplication tried {len(variants)} variants; best {what} " \
                              f"({_fit(best):.4f})"

    def children(self, parent: Any, m: int) -> list:
        out = []
        for _ in range(self.params.population_size):
            child = forget(self.toolbox.clone(parent))
            child.__dict__.pop("duplicated", None)
            (child,) = self.mutate(child, step_size=m)
            out.append(child)
        return out

    def saturation(self, phase: str, gen: int) -> None:
        """Succession switch: after ``saturation_patience`` generations without a gain."""
        p, extra = self.params, self.state.extra
        best = _fit(self.state.population[0])
        if best > extra["best"] + p.saturation_delta:
            extra["best"], extra["stall"] = best, 0
        else:
            extra["stall"] += 1
        if extra["stall"] >= p.saturation_patience:  # (decided before the snapshot of this generation)
            extra["stall"] = 0
            if phase == "primary" and p.secondary:
                extra["phase"], extra["primary_end"] = "secondary", gen
            else:
                extra["phase"] = "duplication" if p.duplication else "done"

    def succession(self, gen: int, parent: Any, phase: str) -> Iterator[Batch]:
        p, extra = self.params, self.state.extra
        m = p.step_size_primary if phase == "primary" else p.step_size_secondary
        children = self.children(parent, m)
        thresholds = {"v1": extra["v1"], "v2": extra["v2"]}
        done, log = yield from extinction_steps(self.evaluate, children, t1=p.t1, t2=p.t2, t3=p.t3, p=p.p, q=p.q,
                                                thresholds=thresholds, extinction=p.extinction, generation=gen)
        extra.update(thresholds)
        trained = sum(_iterations(c) for c in children)
        saved = p.population_size * self.total - trained
        extra["iterations"] += trained
        extra["iterations_saved"] += saved
        candidates = done + ([parent] if p.elitism else [])
        if candidates:
            self.state.population = [max(candidates, key=_fit)]
        self.saturation(phase, gen)
        self.close(gen, phase, done, p.population_size, step_size=m, iterations=trained, iterations_saved=saved,
                   **log)
        if extra["phase"] == "done":
            self.control.reason = f"EIGEN finished: the {phase} succession saturated " \
                                  f"(fitness {_fit(self.state.population[0]):.4f})"

    def steps(self) -> Iterator[Batch]:
        st = self.state
        yield from self.start_once()
        while st.population and st.extra["phase"] != "done":
            if self.should_stop() or self.generation_limit_reached("EIGEN"):
                break
            gen, parent, phase = st.generation + 1, st.population[0], st.extra["phase"]
            if self.params.mimic_parent:
                parent_as_teacher(self.toolbox, parent)
            if phase == "duplication":
                yield from self.duplication(gen, parent)
                break
            yield from self.succession(gen, parent, phase)


def eigen(toolbox: Any, control: SearchControl, state: SearchState | None = None, **params: Any) -> SearchState:
    """Function form of :class:`Eigen` (``params``: :class:`EigenSearchParams` fields)."""
    return run_algorithm(Eigen, toolbox, control, state, **params)


__all__ = [
    "PHASES",
    "Eigen",
    "EigenSearchParams",
    "duplication_variants",
    "eigen",
    "extinction_generation",
    "extinction_steps",
    "extinction_threshold",
    "survivors",
    "training_request",
]
