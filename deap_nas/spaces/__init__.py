"""Genome families (torch-free): DEAP individual types, random init, decode to Architecture."""

from . import eigen, immunecs, minigen, nasgep, neat, sequential  # noqa: F401  (register the spaces)
from .base import SPACES, NoParams, SearchSpace, register_space
from .eigen import EigenParams, EigenSpace
from .gep import GepSpec, Tree, karva_decode, tail_length
from .immunecs import (
    ImmuneCifarParams,
    ImmuneCifarSpace,
    ImmuneFashionParams,
    ImmuneFashionSpace,
    ImmuneParams,
    ImmuneSpace,
)
from .minigen import MiniGenParams, MiniGenSpace
from .nasgep import NasgepParams, NasgepSpace
from .neat import NeatParams, NeatSpace
from .sequential import SequentialParams, SequentialSpace
from .types import (
    EigenIndividual,
    FitnessMax,
    GepIndividual,
    GraphIndividual,
    ImmuneIndividual,
    ListIndividual,
    MiniGenIndividual,
    VectorFitness,
    fitness_class,
    set_fitness,
)

__all__ = [
    "SPACES",
    "EigenIndividual",
    "EigenParams",
    "EigenSpace",
    "FitnessMax",
    "VectorFitness",
    "fitness_class",
    "set_fitness",
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
