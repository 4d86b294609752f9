"""Operator registry: config name -> DEAP-style operator function (torch-free).

The runtime registers ``toolbox.register(role, fn, **params)`` for each entry of the
config's ``operators:`` section; a ``space`` keyword, where the function takes one, is
filled with the run's search space. Parameter names are checked against the function's
signature, so a misspelt one is an error naming ``operators.<role>.<name>``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from deap import tools

from ..registry import Registry

OPERATORS: Registry[Callable[..., Any]] = Registry("operator")


def register_operator(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return OPERATORS.register(name)


def operator_parameters(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The keyword parameters a config may set (not the individuals, ``space`` or ``rng``)."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    # leading positional parameters receive individuals / populations
    out = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in ("space", "rng"):
            continue
        if p.default is inspect.Parameter.empty:
            continue
        out[p.name] = p
    return out


# DEAP's own selection operators, usable by name from a config.
OPERATORS.register("sel_tournament")(tools.selTournament)
OPERATORS.register("sel_best")(tools.selBest)
OPERATORS.register("sel_random")(tools.selRandom)
