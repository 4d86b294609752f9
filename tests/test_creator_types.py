"""deap_nas's fitness and individual classes never collide with a user's deap.creator types."""

from __future__ import annotations

import copy
import multiprocessing
import pickle
import random
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor

import pytest

from deap_nas.spaces import SPACES
from deap_nas.spaces.types import FitnessMax, ListIndividual


def _python(code: str) -> str:
    r = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", textwrap.dedent(code)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_user_creator_after_import_gives_no_warning_and_leaves_our_fitness():
    out = _python("""
        import deap_nas.spaces, deap_nas.algorithms, deap_nas.ops
        from deap import base, creator
        creator.create("FitnessMax", base.Fitness, weights=(-1.0,))   # -W error: a warning fails
        creator.create("ListIndividual", list, fitness=creator.FitnessMax)
        from deap_nas.spaces import SequentialSpace
        from deap_nas.spaces.types import FitnessMax, ListIndividual
        ind = SequentialSpace().random_individual()
        print(FitnessMax.weights, ind.fitness.weights, type(ind) is ListIndividual,
              type(ind) is not creator.ListIndividual)
    """)
    assert out.split() == ["(1.0,)", "(1.0,)", "True", "True"]


def test_user_creator_before_import_is_not_reused():
    out = _python("""
        from deap import base, creator
        creator.create("FitnessMax", base.Fitness, weights=(-1.0,))
        creator.create("ListIndividual", list, fitness=creator.FitnessMax)
        import deap_nas.spaces
        from deap_nas.spaces import SequentialSpace
        ind = SequentialSpace().random_individual()
        print(ind.fitness.weights, type(ind).__module__, isinstance(ind.fitness, creator.FitnessMax))
    """)
    assert out.split() == ["(1.0,)", "deap_nas.spaces.types", "False"]


def test_package_puts_nothing_into_creator():
    out = _python("""
        import deap_nas.spaces, deap_nas.ops, deap_nas.algorithms
        from deap import creator
        print(sorted(n for n in ("FitnessMax", "ListIndividual", "GraphIndividual", "ImmuneIndividual",
                                 "MiniGenIndividual", "EigenIndividual", "GepIndividual") if hasattr(creator, n)))
    """)
    assert out.strip() == "[]"


def _evaluated_individuals() -> list:
    out = []
    for i, space_cls in enumerate(SPACES.values()):
        ind = space_cls().random_individual(random.Random(i))
        ind.fitness.values = (0.25 + i / 100,)
        ind.result = {"status": "ok", "eval_ids": [i]}
        out.append(ind)
    return out


@pytest.mark.parametrize("roundtrip", [pickle.loads, copy.deepcopy], ids=["pickle", "deepcopy"])
def test_individuals_roundtrip(roundtrip):
    for ind in _evaluated_individuals():
        back = roundtrip(pickle.dumps(ind)) if roundtrip is pickle.loads else roundtrip(ind)
        assert type(back) is type(ind) and back == ind
        assert back.fitness.values == ind.fitness.values and back.fitness is not ind.fitness
        assert back.result == ind.result and type(back.fitness) is FitnessMax


def test_individuals_cross_a_spawned_process_pool():
    inds = _evaluated_individuals()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        back = list(pool.map(copy.deepcopy, inds))
    for a, b in zip(inds, back, strict=True):
        assert type(b) is type(a) and b == a and b.fitness.values == a.fitness.values and b.result == a.result


def test_each_individual_gets_its_own_fitness():
    a, b = ListIndividual([1]), ListIndividual([1])
    a.fitness.values = (1.0,)
    assert a.fitness is not b.fitness and not b.fitness.valid
