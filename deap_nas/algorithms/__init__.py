"""Search loops in DEAP style (torch-free), sharing one budget model and control hooks."""

from . import aging as _aging  # noqa: F401
from . import eigen as _eigen  # noqa: F401
from . import immunecs as _immunecs  # noqa: F401
from . import minigen as _minigen  # noqa: F401
from . import nasgep as _nasgep  # noqa: F401
from . import random_search as _random_search  # noqa: F401  (registers the loops)
from . import simple_ga as _simple_ga  # noqa: F401
from .aging import AgingParams, aging_evolution
from .common import (
    Budget,
    SearchControl,
    SearchState,
    Usage,
    close_generation,
    evaluate_invalid,
    fitness_record,
    is_ok,
    submit_evaluation,
    wait_first,
)
from .eigen import EigenSearchParams, eigen
from .immunecs import ImmuneSearchParams, immunecs
from .minigen import MiniGenSearchParams, minigen
from .nasgep import NasgepSearchParams, nasgep
from .random_search import RandomSearchParams, random_search
from .registry import ALGORITHMS, AlgorithmEntry, register_algorithm
from .simple_ga import SimpleGAParams, simple_ga

__all__ = [
    "ALGORITHMS",
    "EigenSearchParams",
    "eigen",
    "AlgorithmEntry",
    "Budget",
    "RandomSearchParams",
    "SearchControl",
    "SearchState",
    "SimpleGAParams",
    "Usage",
    "close_generation",
    "evaluate_invalid",
    "submit_evaluation",
    "wait_first",
    "fitness_record",
    "AgingParams",
    "ImmuneSearchParams",
    "immunecs",
    "MiniGenSearchParams",
    "minigen",
    "NasgepSearchParams",
    "nasgep",
    "aging_evolution",
    "is_ok",
    "random_search",
    "register_algorithm",
    "simple_ga",
]
