"""The ImmuNeCS loop (deap_nas.algorithms.immunecs) with a plain DEAP toolbox: fast, torch-free."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from deap import base

from deap_nas.algorithms import (
    ALGORITHMS,
    Budget,
    Immunecs,
    ImmuneSearchParams,
    SearchControl,
    immunecs,
)
from deap_nas.spaces import ImmuneFashionSpace


def hashed_fitness(space):
    def evaluate(ind):
        h = hashlib.sha256(space.string_encoding(ind).encode()).hexdigest()
        return (int(h[:8], 16) / 2**32,)
    return evaluate


def make_toolbox(evaluate=None, space=None):
    space = space or ImmuneFashionSpace()
    tb = base.Toolbox()
    tb.register("individual", space.random_individual)
    tb.register("evaluate", evaluate or hashed_fitness(space))
    tb.register("map", map)
    tb.space = space
    return tb


def run(tb, generations=None, state=None, control=None, **params):
    params.setdefault("population_size", 4)
    params.setdefault("n_clones", 2)
    params.setdefault("n_insert", 1)
    params.setdefault("n_augment", 1)
    control = control or SearchControl(Budget(generations=generations or 50))
    return immunecs(tb, control, state=state, **params), control


def test_registered():
    assert ALGORITHMS["immunecs"].cls is Immunecs
    assert ALGORITHMS["immunecs"].params is ImmuneSearchParams


def test_population_size_elitism_and_no_duplicates():
    random.seed(0)
    space = ImmuneFashionSpace()
    evaluated = []
    base_fit = hashed_fitness(space)

    def evaluate(ind):
        evaluated.append(ind)
        return base_fit(ind)

    tb = make_toolbox(evaluate, space)
    state, _ = run(tb, generations=1, n_insert=0, n_augment=0, patience=10)
    # start: 4 random networks, no augmented copies
    assert state.logbook[0]["gen"] == 0 and state.logbook[0]["nevals"] == 4
    start = evaluated[:4]
    clones = evaluated[4:]
    assert len(clones) <= 8
    assert len(state.population) == 4
    pool = sorted([i.fitness.values[0] for i in start + clones], reverse=True)
    assert sorted([i.fitness.values[0] for i in state.population], reverse=True) == pool[:4]
    keys = [space.string_encoding(i) for i in evaluated]
    assert len(keys) == len(set(keys)), "a clone repeated an architecture already seen"
    assert set(keys) <= set(state.extra["seen"])
    assert state.logbook[1]["mean_affinity"] == pytest.approx(sum(pool[:4]) / 4)


def test_longer_run_never_repeats_an_architecture_and_keeps_n_plus_insertions():
    random.seed(1)
    space = ImmuneFashionSpace()
    evaluated = []
    base_fit = hashed_fitness(space)

    def evaluate(ind):
        evaluated.append(space.string_encoding(ind))
        return base_fit(ind)

    state, _ = run(make_toolbox(evaluate, space), generations=6, patience=100)
    assert len(evaluated) == len(set(evaluated))
    assert len(state.population) == 4 + 1  # N selected + N_i inserted
    assert all(r["augmentations"] == 1 for r in state.logbook)


def test_augmentation_after_patience_and_outer_stop_on_plateau():
    random.seed(2)
    space = ImmuneFashionSpace()
    tb = make_toolbox(lambda ind: (0.5,), space)  # the mean affinity never improves
    state, control = run(tb, generations=50, patience=2, n_insert=1, n_augment=1)
    rows = list(state.logbook)
    assert [r["stall"] for r in rows] == [0, 1, 0, 1, 2]
    assert [r["augmented"] for r in rows] == [1, 0, 1, 0, 0]
    # pi = 2 augmentation phases (the start's and generation 2's) without a tau gain: stop at gen 4
    assert state.generation == 4
    assert "augmentation phases without" in control.reason and "tau=0.0075" in control.reason


def test_augmented_copies_are_one_layer_deeper_and_inherit():
    random.seed(3)
    space = ImmuneFashionSpace()
    requests = {}

    def evaluate(ind, request=None):  # a toolbox evaluate that takes the request
        requests[id(ind)] = request
        ind.result = {"status": "ok", "weights": f"weights/{len(requests):06d}.pt"}
        return (0.5,)

    tb = make_toolbox(evaluate, space)
    state, _ = run(tb, generations=2, patience=2, n_insert=0, n_augment=2)
    # after generation 2: N selected + N * n_augment copies
    pop = state.population
    assert len(pop) == 4 + 4 * 2
    originals, copies = pop[:4], pop[4:]
    for k, c in enumerate(copies):
        orig = originals[k // 2]
        assert len(c) == len(orig) + 1
        assert space.string_encoding(c[:-1]) == space.string_encoding(orig)
        req = requests[id(c)]  # inherits the original's weights, the new layer re-initialised
        assert req.start.kind == "inherit" and req.start.weights == orig.result["weights"]
        assert req.start.reinit == (len(c),)
        assert not hasattr(c, "changed_layers") and not hasattr(c, "inherit_from")  # nothing left on it


def test_fitness_that_keeps_improving_does_not_augment():
    random.seed(4)
    space = ImmuneFashionSpace()
    counter = {"n": 0}

    def evaluate(ind):  # every new network is better than all before
        counter["n"] += 1
        return (counter["n"] / 1000.0,)

    state, control = run(make_toolbox(evaluate, space), tau=0.0001, generations=5, patience=1)
    assert [r["augmented"] for r in state.logbook] == [1, 0, 0, 0, 0, 0]
    assert control.reason.startswith("generation budget")


def test_max_generations_stops():
    random.seed(5)
    state, control = run(make_toolbox(), generations=100, max_generations=3, patience=100)
    assert state.generation == 3
    assert "max_generations" in control.reason


def test_resume_from_json_state_equals_uninterrupted():
    def strip(algo):
        st = algo.state
        return ([(ImmuneFashionSpace().string_encoding(i), i.fitness.values) for i in st.population],
                [dict(r) for r in st.logbook], st.extra)

    params = ImmuneSearchParams(population_size=4, n_clones=2, n_insert=1, n_augment=1, patience=1)
    full = Immunecs(make_toolbox(), params, seed=6, control=SearchControl(Budget(generations=5)))
    full.run()
    part = Immunecs(make_toolbox(), params, seed=6, control=SearchControl(Budget(generations=2)))
    part.run()
    saved = json.loads(json.dumps(part.state_dict()))
    random.seed(123)  # the global state does not matter: the loop has its own generator
    control = SearchControl(Budget(generations=5))
    control.usage.generations = part.state.generation
    resumed = Immunecs(make_toolbox(), params, seed=0, control=control)
    resumed.load_state_dict(saved)
    resumed.run()
    assert strip(resumed) == strip(full)


@pytest.mark.parametrize("kwargs, field", [
    ({"population_size": 0}, "population_size"),
    ({"n_clones": 0}, "n_clones"),
    ({"n_insert": -1}, "n_insert"),
    ({"patience": 0}, "patience"),
    ({"tau": -0.1}, "tau"),
    ({"rho": 0}, "rho"),
    ({"max_generations": 0}, "max_generations"),
])
def test_params_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ImmuneSearchParams(**kwargs)


def test_needs_the_space_on_the_toolbox():
    tb = make_toolbox()
    del tb.space
    with pytest.raises(ValueError, match="toolbox.space"):
        run(tb, generations=1)


@pytest.mark.parametrize("name", ["immunecs_fashion_mnist", "immunecs_fashion_mnist_quick",
                                  "immunecs_cifar10", "immunecs_cifar10_quick"])
def test_configs_parse(name):
    from pathlib import Path

    from deap_nas.runtime.config import load_config

    c = load_config(Path(__file__).resolve().parents[1] / "experiments" / "configs" / f"{name}.yaml")
    assert c.algorithm.name == "immunecs" and c.data.resample is True
    assert c.algorithm.params.patience == 2


def test_clones_are_admitted_by_novelty_so_fewer_around_high_affinity_parents():
    """One application of Algorithm 2 per clone: a clone left with its parent's architecture
    is dropped, not re-mutated, so a high-affinity population evaluates fewer clones
    (repeating until new evaluated all N (1 + n_a) n_c of them at every affinity)."""
    clones = {}
    for f in (0.05, 0.95):
        random.seed(4)
        state, _ = run(make_toolbox(lambda ind, f=f: (f,)), generations=3, n_insert=0, n_augment=0,
                       patience=100, population_size=6, n_clones=3)
        clones[f] = sum(r["nevals"] for r in state.logbook[1:])
        assert state.extra["selected"] == 6 and len(state.population) == 6
    assert clones[0.95] < clones[0.05] / 2 < 3 * 6 * 3 / 2, clones


def test_selected_marks_the_members_the_selection_kept():
    random.seed(5)
    state, _ = run(make_toolbox(), generations=1, patience=1, n_insert=2, n_augment=1, population_size=4)
    assert state.extra["selected"] == 4
    assert len(state.population) in (4 + 2, (4 + 2) * 2)  # insertions (and augmented copies) after them
    assert [id(i) for i in state.population[:4]] == [id(i) for i in sorted(
        state.population[:4], key=lambda i: i.fitness, reverse=True)]
