"""Algorithm registry: config name -> :class:`~deap_nas.algorithms.base.Algorithm` subclass.

An algorithm receives a toolbox and its Params dataclass, never the whole config
(docs/architecture.md, "Operator conventions"). ``Params`` validates the config's
``algorithm:`` section (errors name ``algorithm.<field>``); ``roles`` are the toolbox
operators the loop calls, so ``operators:`` of a config applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..registry import Registry


@dataclass(frozen=True)
class AlgorithmEntry:
    cls: type
    params: type
    roles: tuple[str, ...] = ()  # toolbox operators the loop needs (config ``operators:``)
    optional_roles: tuple[str, ...] = ()  # operators it takes from the toolbox when registered


ALGORITHMS: Registry[AlgorithmEntry] = Registry("algorithm")


def register_algorithm(cls: type) -> type:
    """Class decorator: register an Algorithm subclass under ``cls.name``."""
    ALGORITHMS.register(cls.name)(AlgorithmEntry(cls, cls.Params, tuple(cls.roles), tuple(cls.optional_roles)))
    return cls


def run_algorithm(cls: type, toolbox: Any, control: Any, state: Any = None, **fields: Any) -> Any:
    """Function-style entry (older code): ``cls(toolbox, control=control, **fields)`` run
    to its end, continuing from ``state`` (a SearchState) when given; returns the state.
    ``seed`` / ``rng`` among ``fields`` seed the loop's own generator; ``stats``,
    ``halloffame`` and ``verbose`` are DEAP's loop arguments (:class:`Algorithm`)."""
    deap_args = {k: fields.pop(k) for k in ("seed", "rng", "stats", "halloffame", "verbose") if k in fields}
    algo = cls(toolbox, cls.Params(**fields), control=control, state=state, **deap_args)
    return algo.run()
