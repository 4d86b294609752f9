"""Genome families (torch-free): DEAP individual types, random init, decode to Architecture."""

from . import eigen, immunecs, minigen, neat, sequential  # noqa: F401  (register the spaces)
from .base import SPACES, NoParams, SearchSpace, register_space
from .eigen import EigenParams, EigenSpace
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
from .types import (
    EigenIndividual,
    FitnessMax,
    GraphIndividual,
    ImmuneIndividual,
    ListIndividual,
    MiniGenIndividual,
)

__all__ = [
    "SPACES",
    "EigenIndividual",
    "EigenParams",
    "EigenSpace",
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
