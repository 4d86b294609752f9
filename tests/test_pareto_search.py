"""Multi-objective search (docs/objectives.md): Pareto tools, fitness vectors, the loops.

NSGA-II against random search on a cheap deterministic objective (no training): the
``sequential`` space, maximise a saturating function of the network's MACs (a stand-in
for accuracy that rewards computation) and minimise its parameters, both counted on the
architecture description. Mutation keeps much of a parent's structure, so a loop that
selects on the front should find better trade-offs than sampling with the same budget.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import pickle
import random
from pathlib import Path

import pytest
from deap import base

from deap_nas.algorithms import (
    NSGA2,
    AgingParams,
    AgingPareto,
    Axis,
    Budget,
    FeasibleFront,
    NSGA2Params,
    RandomSearch,
    RandomSearchParams,
    SearchControl,
    SimpleGA,
    hypervolume,
    pareto_ranks,
    sel_nsga2,
    sel_pareto_tournament,
    sel_spea2,
)
from deap_nas.ops import OPERATORS
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.schema import ConfigError
from deap_nas.runtime.search import start_run
from deap_nas.spaces import SPACES, ListIndividual, fitness_class, set_fitness

from .run_helpers import journal, snapshot

AXES = [Axis("accuracy", "max", 0.0, 1.0), Axis("params", "min", 200000.0, 0.0)]
SPACE = SPACES["sequential"](SPACES["sequential"].Params(min_depth=2, max_depth=8, stem_channels=16, max_channels=64))


# ------------------------------------------------------------------ NSGA-II beats random search
def proxy(ind) -> tuple[float, float]:
    """(1 - exp(-MACs / 6e7), parameters): deterministic, torch-free, a real trade-off."""
    arch = SPACE.decode(ind)
    macs = arch.macs((1, 28, 28), 10, SPACE.default_head)
    return 1.0 - math.exp(-macs / 6e7), float(arch.num_params((1, 28, 28), 10, SPACE.default_head))


def toolbox() -> base.Toolbox:
    tb = base.Toolbox()
    tb.register("individual", SPACE.random_individual)
    for role, name in (("mutate", "mut_sequential"), ("mate", "cx_one_point")):
        fn = OPERATORS[name]
        tb.register(role, fn, **({"space": SPACE} if "space" in inspect.signature(fn).parameters else {}))
    tb.space = SPACE
    tb.objective_axes = AXES
    return tb


def final_hypervolume(algo_cls, params, seed: int, evaluations: int = 300) -> float:
    algo = algo_cls(toolbox(), params, seed=seed, control=SearchControl(Budget(evaluations=evaluations)))
    while (batch := algo.ask()) is not None:
        algo.tell([proxy(ind) for ind in batch.individuals])
    assert algo.control.usage.evaluations == evaluations
    return hypervolume([ind.fitness.values for ind in algo.state.hall_of_fame], AXES)


def test_nsga2_beats_random_search_on_hypervolume_in_every_seed():
    pairs = [(final_hypervolume(NSGA2, NSGA2Params(population_size=20), s),
              final_hypervolume(RandomSearch, RandomSearchParams(population_size=20), s)) for s in range(5)]
    assert all(a > r for a, r in pairs), pairs
    mean = [sum(x) / len(x) for x in zip(*pairs, strict=True)]
    assert mean[0] > mean[1] + 0.05, mean  # measured: 0.42 vs 0.33


def test_aging_pareto_beats_random_search_on_mean_hypervolume():
    aging = [final_hypervolume(AgingPareto, AgingParams(population_size=20, sample_size=5), s) for s in range(5)]
    rand = [final_hypervolume(RandomSearch, RandomSearchParams(population_size=20), s) for s in range(5)]
    assert sum(aging) > sum(rand) + 0.25, (aging, rand)
    assert sum(a > r for a, r in zip(aging, rand, strict=True)) >= 4


def test_spea2_selection_also_beats_random_search():
    spea = [final_hypervolume(NSGA2, NSGA2Params(population_size=20, selection="spea2"), s) for s in range(3)]
    rand = [final_hypervolume(RandomSearch, RandomSearchParams(population_size=20), s) for s in range(3)]
    assert sum(spea) > sum(rand), (spea, rand)


# ------------------------------------------------------------------ Pareto tools
def ind(values, status="ok", violation=None, weights=(1.0, -1.0)):
    x = ListIndividual([len(values)])
    set_fitness(x, values, weights)
    x.result = {"status": status, **({"violation": violation} if violation is not None else {})}
    return x


def test_hypervolume_is_the_dominated_fraction_of_the_unit_box():
    assert hypervolume([(1.0, 0.0)], AXES) == pytest.approx(1.0)  # the ideal point
    assert hypervolume([(0.5, 100000.0)], AXES) == pytest.approx(0.25)
    assert hypervolume([(0.5, 100000.0), (0.75, 150000.0)], AXES) == pytest.approx(0.25 + 0.25 * 0.75 - 0.25 * 0.5)
    assert hypervolume([(0.0, 1.0), (0.5, 200000.0), (0.5, 300000.0)], AXES) == 0.0  # none beats the reference
    assert hypervolume([], AXES) == 0.0


def test_axis_checks_its_reference_point():
    with pytest.raises(ValueError, match="axis params: the reference point 0.0 must lie above the ideal 0.0"):
        Axis("params", "min", 0.0)
    with pytest.raises(ValueError, match="direction must be max or min"):
        Axis("x", "up", 1.0)


def test_infeasible_candidates_rank_after_every_feasible_one():
    good, worse = ind((0.9, 5000.0)), ind((0.5, 9000.0))
    near = ind((0.0, math.inf), "constraint", violation=0.1)
    far = ind((0.0, math.inf), "constraint", violation=2.0)
    crashed = ind((0.0, math.inf), "crashed")
    pool = [crashed, far, near, worse, good]
    assert sel_nsga2(pool, 3) == [worse, good, near]  # too few feasible: the least violating fills up
    assert sel_nsga2(pool, 5)[2:] == [near, far, crashed]
    assert [id(x) for x in sel_spea2(pool, 4)[2:]] == [id(near), id(far)]
    ranks = pareto_ranks(pool)
    assert ranks[id(good)] == (0.0, -math.inf) and ranks[id(worse)][0] == 1.0
    assert ranks[id(near)] < ranks[id(far)] < ranks[id(crashed)]
    winners = sel_pareto_tournament([good, near], 50, tournsize=2, rng=random.Random(1))
    assert near in winners and all(w is good for w in winners if w is not near)
    assert sum(w is good for w in winners) > 25  # good wins every draw that includes it (3 of 4 pairs)


def test_the_front_admits_feasible_candidates_only():
    front = FeasibleFront()
    a, b, c = ind((0.9, 5000.0)), ind((0.5, 1000.0)), ind((0.95, 9000.0))
    front.update([a, b, c, ind((0.0, 10.0), "constraint", violation=0.5), ind((0.4, 6000.0))])
    assert sorted(x.fitness.values for x in front) == [(0.5, 1000.0), (0.9, 5000.0), (0.95, 9000.0)]


# ------------------------------------------------------------------ fitness vectors
def test_fitness_classes_by_weights_pickle_and_copy():
    cls = fitness_class((1.0, -1.0))
    assert cls is fitness_class([1, -1]) and cls.weights == (1.0, -1.0) and fitness_class((1.0,)).__name__ == "FitnessMax"
    x = ListIndividual([1, 2])
    set_fitness(x, (0.8, 1234), (1.0, -1.0))
    for y in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x)):
        assert type(y.fitness) is cls and y.fitness.values == (0.8, 1234.0) and y.fitness.wvalues == (0.8, -1234.0)
    with pytest.raises(ValueError, match=r"fitness: 2 values for the 1 weights \(1.0,\) of FitnessMax"):
        set_fitness(ListIndividual([1]), (0.5, 3.0))
    with pytest.raises(ValueError, match="fitness weights: a non-empty tuple"):
        fitness_class(())


def test_single_objective_loops_refuse_objectives_and_multi_objective_loops_need_them():
    with pytest.raises(ValueError, match="simple_ga optimises one objective .* use nsga2, aging_pareto or random_search"):
        SimpleGA(toolbox(), seed=0)
    tb = toolbox()
    del tb.objective_axes
    with pytest.raises(ValueError, match="nsga2 is a multi-objective search: list the objectives"):
        NSGA2(tb, seed=0)


BASE = {"space": {"name": "sequential"}, "budget": {"evaluations": 4},
        "evaluation": {"trainer": "deap_nas.testing:fake_trainer"},
        "objectives": [{"name": "accuracy"}, {"name": "params", "reference": 9000}]}


@pytest.mark.parametrize("change, message", [
    ({"algorithm": {"name": "aging_evolution"}, "operators": {"mutate": {"name": "mut_sequential"}}},
     "objectives: algorithm aging_evolution optimises one objective .*; with several objectives use one of "
     ".*aging_pareto.*nsga2.*random_search"),
    ({"algorithm": {"name": "nsga2"}, "operators": {"mutate": {"name": "mut_sequential"}}, "objectives": None},
     r"objectives: missing; algorithm nsga2 is a multi-objective search"),
    ({"algorithm": {"name": "nsga2"}}, r"operators.mutate: required by algorithm nsga2"),
    ({"algorithm": {"name": "nsga2", "selection": "moead"}, "operators": {"mutate": {"name": "mut_sequential"}}},
     r"algorithm.selection: one of nsga2, spea2, got 'moead'"),
])  # fmt: skip
def test_config_mistakes_are_one_line_errors(change, message):
    with pytest.raises(ConfigError, match=message) as e:
        parse_config({**BASE, **change})
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------ through the runtime, every space
SPACES_OPS = {
    "sequential": ({"name": "sequential", "max_depth": 5}, {"mutate": {"name": "mut_sequential"},
                                                            "mate": {"name": "cx_one_point"}}),
    "neat": ({"name": "neat", "channels": 16, "initial_layers": 4}, {"mutate": {"name": "mut_neat"}}),
    "immunecs": ({"name": "immunecs_fashion", "stem_channels": 16}, {"mutate": {"name": "mut_hypermutation"}}),
    "eigen": ({"name": "eigen", "max_layers": 6}, {"mutate": {"name": "mut_eigen", "step_size": 3},
                                                     "sample": {"name": "sample_eigen", "steps": 10}}),
    "nasgep": ({"name": "nasgep", "channels": 8, "cells_per_stage": 1}, {"mutate": {"name": "mut_nasgep"}}),
    "minigen": ({"name": "minigen", "channels": [8, 12, 16], "input_channels": [8, 16]},
                {"mutate": {"name": "mut_minigen"}, "mate": {"name": "cx_cells"}}),
}


@pytest.mark.parametrize("algorithm", ["nsga2", "aging_pareto"])
@pytest.mark.parametrize("family", list(SPACES_OPS))
def test_multi_objective_search_runs_in_every_space(tmp_path: Path, family: str, algorithm: str):
    space, operators = SPACES_OPS[family]
    params = {"population_size": 4} if algorithm == "nsga2" else {"population_size": 4, "sample_size": 2}
    config = {**BASE, "seed": 2, "space": space, "operators": operators, "algorithm": {"name": algorithm, **params},
              "objectives": [{"name": "accuracy"}, {"name": "params", "max": 100000, "reference": 120000},
                             {"name": "macs", "reference": 1e7}],
              "budget": {"evaluations": 12}, "parallel": {"backend": "serial", "threads": 1},
              "output": {"plots": False, "progress": False}}
    start_run(parse_config(config), tmp_path / "run")
    records = journal(tmp_path / "run")
    assert len(records) == 12
    for r in records:
        if r["status"] == "ok":
            assert r["fitness"] == [r["accuracy"], r["params"], r["macs"]]
        else:
            assert r["fitness"] is None and (r["status"] != "constraint" or r["violation"] > 0)
    snap = snapshot(tmp_path / "run")
    front = [tuple(m["fitness"]) for m in snap["hall_of_fame"]]
    ok = [tuple(r["fitness"]) for r in records if r["status"] == "ok"]
    assert front and set(front) <= set(ok)
    assert all(not _dominated(f, ok) for f in front)
    assert all(f in front or _dominated(f, ok) for f in ok)  # the front misses no non-dominated point
    assert snap["logbook"][-1]["front"] == len(front)
    axes = [o.axis() for o in parse_config(config).objectives]
    assert snap["logbook"][-1]["hypervolume"] == pytest.approx(hypervolume(front, axes))
    assert len(list((tmp_path / "run" / "best").glob("*.json"))) >= 1


def _dominated(f: tuple, points: list[tuple]) -> bool:
    """Maximise the first value, minimise the rest."""
    def better_or_equal(g):
        return g[0] >= f[0] and all(a <= b for a, b in zip(g[1:], f[1:], strict=True))
    return any(better_or_equal(g) and g != f for g in points)


def test_failed_candidates_get_no_vector_and_repeats_are_averaged(tmp_path: Path):
    config = {**BASE, "seed": 1, "algorithm": {"name": "random_search", "population_size": 6},
              "space": {"name": "sequential", "max_depth": 5},
              "objectives": [{"name": "accuracy"}, {"name": "params", "max": 4000, "reference": 9000}],
              "evaluation": {"trainer": "deap_nas.testing:fake_trainer", "repeats": 2, "cache": False},
              "budget": {"evaluations": 6}, "output": {"plots": False, "progress": False}}
    start_run(parse_config(config), tmp_path / "run")
    snap = snapshot(tmp_path / "run")
    records = {r["eval_id"]: r for r in journal(tmp_path / "run")}
    statuses = {m["result"]["status"] for m in snap["population"]}
    assert statuses == {"ok", "constraint"}, statuses  # the seed gives both
    for m in snap["population"]:
        recs = [records[i] for i in m["result"]["eval_ids"]]
        if m["result"]["status"] == "ok":
            assert len(recs) == 2 and m["fitness"] == [sum(r["accuracy"] for r in recs) / 2, recs[0]["params"]]
        else:
            assert m["fitness"] == [0.0, math.inf] and m["result"]["violation"] == (recs[0]["params"] - 4000) / 4000
            assert all(r["fitness"] is None for r in recs)
    json.dumps(records)  # the journal stays plain JSON


# ------------------------------------------------------------------ real training, end to end
def test_nsga2_with_real_training_end_to_end(tmp_path: Path):
    """NSGA-II with torch training on a few embedded images: every record carries the
    measured objectives, the front is the non-dominated set, a resume after the end is a
    no-op, and the snapshot's fitness vectors are the journal's."""
    from deap_nas.arch import Architecture
    from deap_nas.runtime.search import make_space, resume_run

    config = {"seed": 3, "data": {"name": "fashion_mnist_mini", "val_fraction": 0.1, "train_subset": 4,
                                  "val_subset": 2},
              "space": {"name": "sequential", "max_depth": 4, "stem_channels": 8, "max_channels": 16},
              "algorithm": {"name": "nsga2", "population_size": 3},
              "operators": {"mutate": {"name": "mut_sequential"}, "mate": {"name": "cx_one_point"}},
              "objectives": [{"name": "accuracy"}, {"name": "params", "reference": 50000},
                             {"name": "latency", "warmup": 0, "repeats": 2, "reference": 1.0}],
              "training": {"epochs": 1, "max_iterations": 2, "batch_size": 8},
              "budget": {"evaluations": 6}, "parallel": {"backend": "serial", "device": "cpu", "threads": 1},
              "output": {"plots": False, "progress": False}}
    run = tmp_path / "run"
    start_run(parse_config(config), run)
    records = journal(run)
    assert len(records) == 6 and all(r["status"] == "ok" for r in records), [r["message"] for r in records]
    head = make_space(parse_config(config)).default_head
    for r in records:
        arch = Architecture.from_dict(r["architecture"])
        assert r["params"] == arch.num_params((1, 28, 28), 10, head)
        assert r["macs"] == arch.macs((1, 28, 28), 10, head)
        assert r["fitness"] == [r["accuracy"], r["params"], r["latency"]] and r["latency"] > 0
    snap = snapshot(run)
    front = {tuple(m["fitness"]) for m in snap["hall_of_fame"]}
    points = [tuple(r["fitness"]) for r in records if not r.get("cached")]
    assert front == {p for p in points if not _dominated_3(p, points)}
    resume_run(run)  # a finished run resumes to the same state
    assert snapshot(run)["hall_of_fame"] == snap["hall_of_fame"]


def _dominated_3(f: tuple, points: list[tuple]) -> bool:
    return any(g != f and g[0] >= f[0] and g[1] <= f[1] and g[2] <= f[2] for g in points)
