"""Genome families (torch-free): DEAP individual types, random init, decode to Architecture."""

from . import sequential  # noqa: F401  (registers the space)
from .base import SPACES, NoParams, SearchSpace, register_space
from .sequential import SequentialParams, SequentialSpace
from .types import FitnessMax, ListIndividual

__all__ = [
    "SPACES",
    "FitnessMax",
    "ListIndividual",
    "NoParams",
    "SearchSpace",
    "SequentialParams",
    "SequentialSpace",
    "register_space",
]
