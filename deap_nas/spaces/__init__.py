"""Genome families (torch-free): DEAP individual types, random init, decode to Architecture."""

from . import immunecs, minigen, neat, sequential  # noqa: F401  (register the spaces)
from .base import SPACES, NoParams, SearchSpace, register_space
from .immunecs import (
    ImmuneCifarParams,
    ImmuneCifarSpace,
    ImmuneFashionParams,
    ImmuneFashionSpace,
    ImmuneParams,
    ImmuneSpace,
)
from .minigen import MiniGenParams, MiniGenSpace
from .neat import NeatParams, NeatSpace
from .sequential import SequentialParams, SequentialSpace
from .types import FitnessMax, GraphIndividual, ImmuneIndividual, ListIndividual, MiniGenIndividual

__all__ = [
    "SPACES",
    "FitnessMax",
    "GraphIndividual",
    "ImmuneCifarParams",
    "ImmuneCifarSpace",
    "ImmuneFashionParams",
    "ImmuneFashionSpace",
    "ImmuneIndividual",
    "ImmuneParams",
    "ImmuneSpace",
    "ListIndividual",
    "MiniGenIndividual",
    "MiniGenParams",
    "MiniGenSpace",
    "NeatParams",
    "NeatSpace",
    "NoParams",
    "SearchSpace",
    "SequentialParams",
    "SequentialSpace",
    "register_space",
]
