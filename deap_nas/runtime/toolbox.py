"""Toolbox assembly from a config: individual, operators, evaluate, map."""

from __future__ import annotations

import functools
import inspect
import random
from typing import Any

from deap import base, tools

from ..ops import OPERATORS
from .config import RunConfig
from .evaluator import Evaluator, evaluate_genome


def build_toolbox(config: RunConfig, space: Any, evaluator: Evaluator, map_fn: Any,
                  rng: random.Random | None = None) -> base.Toolbox:
    """A DEAP toolbox for ``config``.

    ``individual`` / ``population`` draw from the space's initialiser; each
    ``operators.<role>`` entry is registered under its role with its parameters (``space``
    filled in where the operator takes it, ``rng`` bound to ``rng``: the loop's own
    generator, seeded from the run seed, so a run does not depend on the global ``random``
    state; without ``rng``, the ``random`` module as in plain DEAP) and its
    probability in ``toolbox.probability[role]``; ``evaluate`` is the module-level
    :func:`~deap_nas.runtime.evaluator.evaluate_genome` (picklable, for plain DEAP code);
    ``evaluate_population`` adds the fitness cache, journal and resume reuse; ``map`` is
    the parallel map; ``space`` is the search space (loops whose operators work on the space call
    space-aware operators with it).
    """
    tb = base.Toolbox()
    if rng is not None:
        tb.register("individual", space.random_individual, rng=rng)
    else:
        tb.register("individual", space.random_individual)
    tb.register("population", tools.initRepeat, list, tb.individual)
    tb.probability = {}
    for role, section in config.operators.items():
        fn = OPERATORS[section.name]
        kwargs = dict(section.params)
        params = inspect.signature(fn).parameters
        if "space" in params:
            kwargs["space"] = space
        if rng is not None and "rng" in params and "rng" not in kwargs:
            kwargs["rng"] = rng
        tb.register(role, fn, **kwargs)
        tb.probability[role] = section.probability
    tb.register("evaluate", functools.partial(evaluate_genome, space=space, context=evaluator.context,
                                              run_seed=config.seed))
    tb.register("map", map_fn)
    tb.register("evaluate_population", evaluator.evaluate_population)
    tb.register("submit_evaluation", evaluator.submit)
    tb.register("prefetch", evaluator.prefetch)  # what a loop knows it will ask next (random search)
    tb.register("wait_first", evaluator.wait_first)
    tb.register("decode", space.decode)
    tb.register("set_teacher", evaluator.set_teacher)  # mimicry teacher of later evaluations
    tb.space = space  # loops that need the space itself read it here
    if config.objectives:  # a multi-objective search: its axes, in fitness order (docs/objectives.md)
        tb.objective_axes = [o.axis() for o in config.objectives]
    return tb
