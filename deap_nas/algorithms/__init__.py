"""Search loops as objects (torch-free): one :class:`~deap_nas.algorithms.base.Algorithm`
subclass per method, each with one Params dataclass, its own RNG, ask/tell, run and
state_dict (see :mod:`deap_nas.algorithms.base` and docs/architecture.md)."""

from .aging import AgingEvolution, AgingParams, aging_evolution
from .base import Algorithm, Batch, drive, evaluate_batch, forget, plain_evaluate
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
from .eigen import Eigen, EigenSearchParams, eigen
from .immunecs import Immunecs, ImmuneSearchParams, immunecs
from .minigen import MiniGen, MiniGenSearchParams, minigen
from .nasgep import Nasgep, NasgepSearchParams, nasgep
from .random_search import RandomSearch, RandomSearchParams, random_search
from .registry import ALGORITHMS, AlgorithmEntry, register_algorithm, run_algorithm
from .simple_ga import SimpleGA, SimpleGAParams, sel_tournament, simple_ga, var_and

__all__ = [
    "ALGORITHMS",
    "AgingEvolution",
    "AgingParams",
    "Algorithm",
    "AlgorithmEntry",
    "Batch",
    "Budget",
    "Eigen",
    "EigenSearchParams",
    "ImmuneSearchParams",
    "Immunecs",
    "MiniGen",
    "MiniGenSearchParams",
    "Nasgep",
    "NasgepSearchParams",
    "RandomSearch",
    "RandomSearchParams",
    "SearchControl",
    "SearchState",
    "SimpleGA",
    "SimpleGAParams",
    "Usage",
    "aging_evolution",
    "close_generation",
    "drive",
    "eigen",
    "evaluate_batch",
    "evaluate_invalid",
    "fitness_record",
    "forget",
    "immunecs",
    "is_ok",
    "minigen",
    "nasgep",
    "plain_evaluate",
    "random_search",
    "register_algorithm",
    "run_algorithm",
    "sel_tournament",
    "simple_ga",
    "submit_evaluation",
    "var_and",
    "wait_first",
]
