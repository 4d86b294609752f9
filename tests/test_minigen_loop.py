"""The MiniGen loop on a plain DEAP toolbox with a cheap fake fitness (torch-free):
elitism, birth generations, the restart rule, the found list and the stop."""

import hashlib
import random

import pytest
from deap import base

from deap_nas.algorithms import ALGORITHMS, Budget, SearchControl
from deap_nas.algorithms.minigen import MiniGen, MiniGenSearchParams, minigen, restart_decision
from deap_nas.ops.minigen import cx_cells, mut_minigen, stamp_birth
from deap_nas.spaces import MiniGenIndividual, MiniGenSpace

SPACE = MiniGenSpace()


def fake_accuracy(ind) -> float:
    """A deterministic 'accuracy' in [0, 0.5) from the genome's text."""
    text = repr(SPACE.to_json(ind))
    return int(hashlib.sha256(text.encode()).hexdigest()[:6], 16) / 0xFFFFFF / 2


def toolbox(accuracy=fake_accuracy):
    tb = base.Toolbox()
    tb.register("individual", SPACE.random_individual)
    tb.register("mate", cx_cells, indpb=0.5)
    tb.register("mutate", mut_minigen, space=SPACE)
    calls = []

    def evaluate(ind):
        calls.append(ind)
        ind.result = {"arch_hash": SPACE.decode(ind).hash(), "status": "ok", "params": 1}
        return (accuracy(ind),)

    tb.register("evaluate", evaluate)
    tb.space = SPACE
    tb.calls = calls
    return tb


def run(generations, seed=0, accuracy=fake_accuracy, **params):
    random.seed(seed)
    tb = toolbox(accuracy)
    control = SearchControl(Budget(generations=generations))
    state = minigen(tb, control, **params)
    return state, control, tb


def test_registered_with_its_operator_roles():
    entry = ALGORITHMS["minigen"]
    assert entry.cls is MiniGen and set(entry.roles) == {"mate", "mutate"}
    p = MiniGenSearchParams()
    assert (p.population_size, p.elite, p.generations_per_round, p.decay) == (15, 5, 25, 0.01)
    with pytest.raises(ValueError, match="elite"):
        MiniGenSearchParams(population_size=5, elite=5)


def test_generations_keep_the_elite_and_breed_children_born_now():
    state, control, tb = run(3, population_size=6, elite=2, generations_per_round=10, n_found=99,
                             target_accuracy=0.9)
    rows = list(state.logbook)
    assert [r["gen"] for r in rows] == [0, 1, 2, 3]
    assert [r["round_gen"] for r in rows] == [0, 1, 2, 3]
    assert rows[0]["nevals"] == 6 and all(r["nevals"] == 4 for r in rows[1:])  # n - k children
    births = sorted(ind.birth for ind in state.population)
    assert births.count(3) == 4  # this generation's children
    assert all(len(ind.acc_history) == 1 for ind in state.population)
    # every logbook row names the birth generation of its best individual (Fig. 3)
    for r in rows:
        assert 0 <= r["best_birth"] <= r["round_gen"] and r["best_age"] == r["round_gen"] - r["best_birth"]
    assert control.reason.startswith("generation budget")


def test_restart_rule_keeps_the_top_k_with_ages_reset_when_good():
    state, _, _ = run(3, population_size=6, elite=2, generations_per_round=2, restart_threshold=0.0,
                      n_found=99, target_accuracy=0.9)
    rows = list(state.logbook)
    assert [(r["round"], r["round_gen"], r["restart"]) for r in rows] == [
        (0, 0, ""), (0, 1, ""), (0, 2, ""), (1, 0, "kept")]
    assert rows[3]["nevals"] == 4  # the 2 kept survive unevaluated, 4 children
    assert all(ind.birth == 0 for ind in state.population)  # ages reset (sec. IV-D)
    assert state.extra["restarts"] == {"kept": 1, "random": 0}


def test_restart_rule_reinitialises_when_the_best_is_below_the_threshold():
    state, _, tb = run(3, population_size=6, elite=2, generations_per_round=2, restart_threshold=0.99,
                       n_found=99, target_accuracy=0.9)
    rows = list(state.logbook)
    assert rows[3]["restart"] == "random" and rows[3]["nevals"] == 6  # a whole new population
    assert state.extra["restarts"] == {"kept": 0, "random": 1}
    assert all(ind.birth == 0 and len(ind.acc_history) == 1 for ind in state.population)


def test_restart_decision():
    good = stamp_birth(MiniGenIndividual([]), 0)
    good.acc_history = [0.36]
    bad = stamp_birth(MiniGenIndividual([]), 0)
    bad.acc_history = [0.20]
    assert restart_decision([bad, good], 0.35) == "kept"
    assert restart_decision([bad], 0.35) == "random"
    good.acc_history = [0.35]  # "better than 35%"
    assert restart_decision([bad, good], 0.35) == "random"


def test_stops_when_n_networks_exceed_the_target():
    state, control, tb = run(50, population_size=6, elite=2, target_accuracy=0.3, n_found=4)
    found = state.extra["found"]
    assert len(found) >= 4 and len(set(found)) == len(found)
    assert control.reason.startswith("MiniGen: ") and "above 30%" in control.reason
    details = state.extra["found_details"]
    assert [d["index"] for d in details] == list(range(len(found)))
    assert all(d["accuracy"] > 0.3 for d in details)
    assert list(state.logbook)[-1]["found"] == len(found)


def test_decay_zero_and_reevaluation_of_survivors():
    state, _, tb = run(2, population_size=4, elite=2, decay=0.0, reevaluate_survivors=True,
                       n_found=99, target_accuracy=0.9)
    assert all(r["nevals"] == 4 for r in state.logbook)  # survivors evaluated again
    survivors = [ind for ind in state.population if ind.birth < 2]
    assert survivors and all(len(ind.acc_history) >= 2 for ind in survivors)
    assert all(len(set(ind.acc_history)) == 1 for ind in survivors)  # deterministic fitness


def test_same_seed_same_search():
    a, _, _ = run(4, seed=3, population_size=5, elite=2, generations_per_round=2, n_found=99,
                  target_accuracy=0.9)
    b, _, _ = run(4, seed=3, population_size=5, elite=2, generations_per_round=2, n_found=99,
                  target_accuracy=0.9)
    assert [SPACE.to_json(i) for i in a.population] == [SPACE.to_json(i) for i in b.population]
    assert list(a.logbook) == list(b.logbook)
