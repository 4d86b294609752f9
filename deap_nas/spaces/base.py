"""The search-space interface and its registry (torch-free).

A search space turns genomes (DEAP individuals holding plain values) into the shared
:class:`~deap_nas.arch.Architecture`. Each space declares a ``Params`` dataclass; the
runtime builds it from the config section ``space:`` (unknown keys and bad values are
errors naming ``space.<field>``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..arch import Architecture, HeadSpec
from ..registry import Registry


@dataclass
class NoParams:
    """A space without parameters."""


class SearchSpace:
    """Base class: subclasses set ``Params`` and implement the four genome methods."""

    Params: type = NoParams
    #: the family of its genomes, which operators declare they work on (``register_operator``
    #: ``genomes=``); set to the registered name unless a class above sets it (subclasses of
    #: a space share its kind, and so its operators)
    genome_kind: str | None = None
    #: head of a space whose ``Params`` has no ``head`` field
    fallback_head: str = "gap_linear"

    def __init__(self, params: Any = None) -> None:
        self.params = params if params is not None else self.Params()

    @property
    def default_head(self) -> str:
        """Head used when the config does not name one (``evaluation.head``): the space's
        ``head`` parameter when its ``Params`` has one, else :attr:`fallback_head`."""
        head = getattr(self.params, "head", None)
        return head if isinstance(head, str) else self.fallback_head

    def random_individual(self, rng: random.Random | Any = random) -> Any:
        """A new random genome as a DEAP individual (fitness invalid)."""
        raise NotImplementedError

    def decode(self, genome: Any) -> Architecture:
        """The architecture a genome stands for (pure, CPU, no torch)."""
        raise NotImplementedError

    def to_json(self, genome: Any) -> Any:
        """The genome as JSON-safe plain values."""
        return [dict(g) if isinstance(g, dict) else g for g in genome]

    def from_json(self, data: Any) -> Any:
        """The inverse of :meth:`to_json`: a DEAP individual with an invalid fitness."""
        raise NotImplementedError


def check_input_shape_and_head(shape: Any, head: Any) -> tuple[int, int, int]:
    """Shared Params checks: ``input_shape`` is (C, H, W) of positive ints and ``head`` a
    known head; errors start with the field name. Returns the shape as a tuple."""
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 3
        or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in shape)
    ):
        raise ValueError(f"input_shape: must be (channels, height, width) of positive integers, got {shape!r}")
    try:
        HeadSpec.parse(head)
    except ValueError as e:
        raise ValueError(f"head: {e}") from None
    return (int(shape[0]), int(shape[1]), int(shape[2]))


SPACES: Registry[type[SearchSpace]] = Registry("search space")


def register_space(name: str):
    """Class decorator registering a :class:`SearchSpace` subclass under ``name`` (its
    ``genome_kind`` defaults to ``name``)."""

    def deco(cls: type[SearchSpace]) -> type[SearchSpace]:
        if cls.genome_kind is None:
            cls.genome_kind = name
        return SPACES.register(name)(cls)

    return deco
