"""Do operators fit a search space? Checked from their declarations, before anything trains.

Each registered operator declares the genomes it works on (``register_operator(name,
genomes=...)``, :mod:`deap_nas.ops.registry`); each search space has a ``genome_kind``.
:func:`check_operators` compares a config's (or any mapping's) role -> operator choices
with a space, :func:`check_toolbox` does the same for a plain DEAP toolbox; both raise
:class:`OperatorSpaceError` with one line such as
``operators.mutate: mut_neat works on genomes of space neat, not sequential``.
The runtime calls :func:`check_operators` when it validates a config. Torch-free.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from ..spaces import SPACES, SearchSpace
from .registry import ANY, OPERATOR_GENOMES, OPERATORS, PART_KINDS

__all__ = ["OperatorSpaceError", "check_operator", "check_operators", "check_toolbox", "operator_genomes"]


class OperatorSpaceError(ValueError):
    """An operator that does not work on the genomes of a search space."""


def _operator_name(op: str | Callable[..., Any]) -> str | None:
    """The registered name of ``op``: a name, a registered function, or a partial of one
    (as ``toolbox.register`` makes); None for an unregistered function."""
    if isinstance(op, str):
        return op
    while isinstance(op, functools.partial):
        op = op.func
    return next((name for name, fn in OPERATORS.items() if fn is op), None)


def operator_genomes(op: str | Callable[..., Any]) -> str | frozenset[str] | None:
    """What ``op`` works on: :data:`~deap_nas.ops.registry.ANY`, a set of genome kinds, or
    None (an unregistered or undeclared operator)."""
    name = _operator_name(op)
    return None if name is None else OPERATOR_GENOMES.get(name)


def _space_name_and_kind(space: str | SearchSpace | type[SearchSpace]) -> tuple[str, str]:
    if isinstance(space, str):
        cls = SPACES.get_or_raise(space)
        return space, cls.genome_kind or space
    cls = space if isinstance(space, type) else type(space)
    name = next((n for n, c in SPACES.items() if c is cls), cls.__name__)
    return name, cls.genome_kind or name


def _kinds_text(kinds: frozenset[str]) -> str:
    parts = []
    for kind in sorted(kinds):
        spaces = sorted(n for n, c in SPACES.items() if c.genome_kind == kind)
        if spaces:
            parts.append(f"genomes of space{'s' if len(spaces) > 1 else ''} {', '.join(spaces)}")
        else:
            parts.append(PART_KINDS.get(kind, f"{kind} genomes"))
    return "; ".join(parts)


def check_operator(op: str | Callable[..., Any], space: str | SearchSpace | type[SearchSpace],
                   where: str = "") -> None:
    """Raise :class:`OperatorSpaceError` when ``op`` (a name, a registered operator or a
    partial of one) is declared for other genomes than those of ``space`` (a space name,
    class or instance); ``where`` (e.g. ``operators.mutate``) starts the message.
    Unregistered and undeclared operators pass (nothing is known about them)."""
    genomes = operator_genomes(op)
    if genomes is None or genomes == ANY:
        return
    space_name, kind = _space_name_and_kind(space)
    if kind in genomes:
        return
    name = _operator_name(op)
    raise OperatorSpaceError(f"{where + ': ' if where else ''}{name} works on {_kinds_text(genomes)}, "
                             f"not {'on genomes of space ' if set(genomes) <= set(PART_KINDS) else ''}{space_name}")


def check_operators(operators: Mapping[str, Any], space: str | SearchSpace | type[SearchSpace],
                    prefix: str = "operators") -> None:
    """:func:`check_operator` for each ``role -> operator`` of ``operators`` (operator: a
    name, a function, a partial, or a config entry with a ``name``); the first misfit is
    raised as ``<prefix>.<role>: ...``."""
    for role, op in operators.items():
        op = getattr(op, "name", None) or (op.get("name") if isinstance(op, Mapping) else op)
        check_operator(op, space, f"{prefix}.{role}" if prefix else str(role))


def check_toolbox(toolbox: Any, space: str | SearchSpace | type[SearchSpace] | None = None) -> None:
    """Check every operator registered on a DEAP ``toolbox`` against ``space`` (default:
    ``toolbox.space``); a misfit raises ``toolbox.<role>: ...``."""
    space = space if space is not None else getattr(toolbox, "space", None)
    if space is None:
        raise ValueError("check_toolbox: give the search space (or set toolbox.space)")
    roles = {role: fn for role, fn in vars(toolbox).items() if callable(fn) and not role.startswith("_")}
    check_operators(roles, space, prefix="toolbox")
