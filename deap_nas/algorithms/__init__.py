"""Search loops as objects (torch-free): one :class:`~deap_nas.algorithms.base.Algorithm`
subclass per method, each with one Params dataclass, its own RNG, ask/tell, run and
state_dict (see :mod:`deap_nas.algorithms.base` and docs/architecture.md)."""

from .aging import AgingEvolution, AgingParams, AgingPareto, aging_evolution, aging_pareto
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
from .nsga2 import NSGA2, NSGA2Params, nsga2
from .pareto import (
    Axis,
    FeasibleFront,
    feasible,
    hypervolume,
    nondominated,
    pareto_ranks,
    pareto_record,
    sel_nsga2,
    sel_pareto_tournament,
    sel_spea2,
)
from .random_search import RandomSearch, RandomSearchParams, random_search
from .registry import ALGORITHMS, AlgorithmEntry, register_algorithm, run_algorithm
from .simple_ga import SimpleGA, SimpleGAParams, sel_tournament, simple_ga, var_and

__all__ = [
    "ALGORITHMS",
    "NSGA2",
    "AgingEvolution",
    "AgingParams",
    "AgingPareto",
    "Algorithm",
    "AlgorithmEntry",
    "Axis",
    "Batch",
    "Budget",
    "Eigen",
    "EigenSearchParams",
    "FeasibleFront",
    "ImmuneSearchParams",
    "Immunecs",
    "MiniGen",
    "MiniGenSearchParams",
    "NSGA2Params",
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
    "aging_pareto",
    "close_generation",
    "drive",
    "eigen",
    "evaluate_batch",
    "evaluate_invalid",
    "feasible",
    "fitness_record",
    "forget",
    "hypervolume",
    "immunecs",
    "is_ok",
    "minigen",
    "nasgep",
    "nondominated",
    "nsga2",
    "pareto_ranks",
    "pareto_record",
    "plain_evaluate",
    "random_search",
    "register_algorithm",
    "run_algorithm",
    "sel_nsga2",
    "sel_pareto_tournament",
    "sel_spea2",
    "sel_tournament",
    "simple_ga",
    "submit_evaluation",
    "var_and",
    "wait_first",
]
