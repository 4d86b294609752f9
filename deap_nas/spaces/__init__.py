"""Genome families (torch-free): DEAP individual types, random init, decode to Architecture."""

from . import immunecs, nasgep, neat, sequential  # noqa: F401  (register the spaces)
from .base import SPACES, NoParams, SearchSpace, register_space
from .gep import GepSpec, Tree, karva_decode, tail_length
from .immunecs import (
    ImmuneCifarParams,
    ImmuneCifarSpace,
    ImmuneFashionParams,
    ImmuneFashionSpace,
    ImmuneParams,
    ImmuneSpace,
)
from .nasgep import NasgepParams, NasgepSpace
from .neat import NeatParams, NeatSpace
from .sequential import SequentialParams, SequentialSpace
from .types import FitnessMax, GepIndividual, GraphIndividual, ImmuneIndividual, ListIndividual

__all__ = [
    "SPACES",
    "FitnessMax",
    "GepIndividual",
    "GepSpec",
    "NasgepParams",
    "NasgepSpace",
    "Tree",
    "karva_decode",
    "tail_length",
    "GraphIndividual",
    "ImmuneCifarParams",
    "ImmuneCifarSpace",
    "ImmuneFashionParams",
    "ImmuneFashionSpace",
    "ImmuneIndividual",
    "ImmuneParams",
    "ImmuneSpace",
    "ListIndividual",
    "NeatParams",
    "NeatSpace",
    "NoParams",
    "SearchSpace",
    "SequentialParams",
    "SequentialSpace",
    "register_space",
]
