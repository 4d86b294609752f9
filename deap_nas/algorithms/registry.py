"""Algorithm registry: config name -> (loop function, Params dataclass).

A loop is ``fn(toolbox, control, **params, state=None) -> SearchState``: it receives a
toolbox and a few scalars, never the whole config (DESIGN.md convention 7). ``Params``
validates the config's ``algorithm:`` section (errors name ``algorithm.<field>``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..registry import Registry


@dataclass(frozen=True)
class AlgorithmEntry:
    fn: Callable[..., Any]
    params: type
    roles: tuple[str, ...] = ()  # toolbox operators the loop calls (config ``operators:``)


ALGORITHMS: Registry[AlgorithmEntry] = Registry("algorithm")


def register_algorithm(
    name: str, params: type, roles: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        ALGORITHMS.register(name)(AlgorithmEntry(fn, params, roles))
        return fn

    return deco
