"""Genome families (torch-free): DEAP individual types, random init, decode to Architecture."""

from . import neat, sequential  # noqa: F401  (register the spaces)
from .base import SPACES, NoParams, SearchSpace, register_space
from .neat import NeatParams, NeatSpace
from .sequential import SequentialParams, SequentialSpace
from .types import FitnessMax, GraphIndividual, ListIndividual

__all__ = [
    "SPACES",
    "FitnessMax",
    "GraphIndividual",
    "ListIndividual",
    "NeatParams",
    "NeatSpace",
    "NoParams",
    "SearchSpace",
    "SequentialParams",
    "SequentialSpace",
    "register_space",
]
