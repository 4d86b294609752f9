"""Operator registry: config name -> DEAP-style operator function (torch-free).

The runtime registers ``toolbox.register(role, fn, **params)`` for each entry of the
config's ``operators:`` section; a ``space`` keyword, where the function takes one, is
filled with the run's search space. Parameter names are checked against the function's
signature, so a misspelt one is an error naming ``operators.<role>.<name>``.

Every operator declares the genomes it works on (``genomes=``): :data:`ANY` (selection,
cloning: anything with a fitness), or genome kinds, i.e. the ``genome_kind`` of search
spaces (``"neat"``, ``"immunecs"``, ...) or a part of a genome without a space of its own
(:data:`PART_KINDS`). :mod:`deap_nas.ops.compat` checks a config's or toolbox's operators
against its space with these declarations, before anything is trained.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from deap import tools

from ..registry import Registry

OPERATORS: Registry[Callable[..., Any]] = Registry("operator")

#: an operator that works on any individual with a fitness
ANY = "any"
#: genome kinds that are parts of a space's genomes, not a space's genomes: what they are
PART_KINDS = {
    "gep_chromosome": "Karva chromosomes (the cells and genes inside nasgep genomes, as the nasgep "
                      "loop's reproduce role passes them)",
}
#: operator name -> ``ANY`` or the genome kinds it works on (absent: undeclared)
OPERATOR_GENOMES: dict[str, str | frozenset[str]] = {}


def register_operator(name: str, genomes: str | Iterable[str] | None = None,
                      ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register an operator under ``name``, working on ``genomes``: :data:`ANY`,
    a genome kind or several (None: undeclared, so no compatibility check is possible)."""
    register = OPERATORS.register(name)

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        register(fn)
        if genomes is not None:
            OPERATOR_GENOMES[name] = ANY if genomes == ANY else frozenset(
                [genomes] if isinstance(genomes, str) else genomes)
        return fn

    return deco


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
register_operator("sel_tournament", ANY)(tools.selTournament)
register_operator("sel_best", ANY)(tools.selBest)
register_operator("sel_random", ANY)(tools.selRandom)
