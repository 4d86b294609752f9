"""The NASGEP loop (deap_nas.algorithms.nasgep) with a plain DEAP toolbox: fast, torch-free."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from deap import base

from deap_nas.algorithms import (
    ALGORITHMS,
    Budget,
    Nasgep,
    NasgepSearchParams,
    SearchControl,
    nasgep,
)
from deap_nas.algorithms.nasgep import (
    genes_to_make,
    make_room,
    remove_bad_genes,
    select_reduction_cells,
    select_survivors,
    threshold,
)
from deap_nas.spaces import GepIndividual, NasgepParams, NasgepSpace

SPACE = NasgepSpace(NasgepParams(channels=4, cells_per_stage=1))


def fitness(ind):
    """Deterministic per architecture, rising with the epochs trained (like training does)."""
    h = hashlib.sha256(SPACE.decode(ind).hash().encode()).hexdigest()
    return (0.5 * int(h[:8], 16) / 2**32 + 0.05 * ind.loop_state["epochs"],)


def toolbox():
    tb = base.Toolbox()
    tb.register("evaluate", fitness)
    tb.register("map", map)
    tb.space = SPACE
    return tb


SMALL = dict(population_size=4, reduction_population=3, gene_pool_size=6, gene_pool_max=9, genes_min=2,
             genes_max=4, max_epochs=3)


def run(generations, state=None, control=None, **kw):
    params = {**SMALL, **kw}
    control = control or SearchControl(Budget(generations=generations))
    return nasgep(toolbox(), control, state=state, **params)


def ind(fit, birth, dead=False, epochs=1):
    i = GepIndividual(normal=[], reduction=[], genes={})
    if fit is not None:
        i.fitness.values = (fit,)
    i.birth = birth
    i.loop_state = {"epochs": epochs, "reduction": "R0", "dead": dead}
    return i


def test_registered():
    assert ALGORITHMS["nasgep"].cls is Nasgep and ALGORITHMS["nasgep"].params is NasgepSearchParams


def test_gene_removal_rule():
    pool = {"a": {"fitness": 0.2}, "b": {"fitness": 0.9}, "c": {"fitness": None}, "d": {"fitness": 0.1}}
    assert remove_bad_genes(dict(pool), used=set(), t_g=None) == []  # no threshold yet
    p = dict(pool)
    removed = remove_bad_genes(p, used={"d"}, t_g=0.5)
    assert sorted(removed) == ["a", "c"]  # d is used; b is good; c was never used (no fitness)
    assert sorted(p) == ["b", "d"]


def test_gene_pool_bounds():
    assert genes_to_make(50, 2, 10, 100) == 10
    assert genes_to_make(95, 2, 10, 100) == 5
    assert genes_to_make(100, 2, 10, 100) == 2  # at least C_min
    pool = {g: {"fitness": f} for g, f in zip("abcde", (0.5, 0.1, 0.3, 0.2, 0.9), strict=True)}
    removed = make_room(pool, used={"b"}, n_new=2, pool_max=5)
    assert removed == ["d", "c"]  # the two worst unused genes; b is used
    assert sorted(pool) == ["a", "b", "e"]
    assert make_room(pool, used=set(), n_new=2, pool_max=5) == []


def test_survivors_elitism_oldest_dead_and_excess():
    best = ind(0.9, birth=0, dead=True)  # the oldest and dead, but the best: kept
    oldest_other = ind(0.8, birth=1)  # killed as the oldest other one
    dead = ind(0.85, birth=5, dead=True)  # discarded
    rest = [ind(f, birth=b) for f, b in ((0.3, 2), (0.7, 3), (0.5, 4), (0.6, 6))]
    out = select_survivors([best, oldest_other, dead, *rest], size=3)
    assert out[0] is best
    assert [i.fitness.values[0] for i in out] == [0.9, 0.7, 0.6]
    # with room for all, only the oldest and the dead go
    out = select_survivors([best, oldest_other, dead, *rest], size=10)
    assert {i.birth for i in out} == {0, 2, 3, 4, 6}


def test_reduction_cells_in_use_survive():
    cells = {"R0": {"fitness": 0.1, "dead": False}, "R1": {"fitness": 0.9, "dead": True},
             "R2": {"fitness": 0.5, "dead": False}, "R3": {"fitness": 0.7, "dead": False},
             "R4": {"fitness": 0.2, "dead": True}}
    kept = select_reduction_cells(cells, in_use={"R0", "R4"}, size=3)
    # R0 and R4 in use (even dead); of the free live ones the best fills to 3; R1 dead and free
    assert sorted(kept) == ["R0", "R3", "R4"]
    kept = select_reduction_cells(cells, in_use={"R0", "R1", "R2", "R4"}, size=3)
    assert sorted(kept) == ["R0", "R1", "R2", "R4"]  # more than size: all in use


def test_hall_of_fame_keeps_the_latest_fitness_of_an_individual():
    from deap import tools

    from deap_nas.algorithms.nasgep import refresh_hall_of_fame

    hof = tools.HallOfFame(2)
    a = GepIndividual(normal=["x"], reduction=[], genes={})
    a.fitness.values = (0.3,)
    b = GepIndividual(normal=["y"], reduction=[], genes={})
    b.fitness.values = (0.5,)
    refresh_hall_of_fame(hof, [a, b])
    a.fitness.values = (0.9,)  # trained one more epoch
    refresh_hall_of_fame(hof, [a, b])
    assert [h.fitness.values[0] for h in hof] == [0.9, 0.5]
    plain = tools.HallOfFame(2)
    a.fitness.values = (0.3,)
    plain.update([a, b])
    a.fitness.values = (0.9,)
    plain.update([a, b])
    assert [h.fitness.values[0] for h in plain] == [0.5, 0.3]  # what DEAP alone would keep


def test_threshold_is_the_pi_th_best():
    assert threshold([0.1, 0.5, 0.3, 0.9], 2) == 0.5
    assert threshold([0.1, 0.5], 5) == 0.1
    assert threshold([], 3) is None


def test_loop_keeps_the_papers_rules():
    random.seed(1)
    tb = toolbox()
    seen = []
    births_seen = {}

    def watch(state):
        x = state.extra
        seen.append((state.generation, {k: set(x["genes"][k]) for k in x["genes"]}, x["T_g"], x["T_c"],
                     [(i.birth, i.loop_state["epochs"], i.loop_state["dead"]) for i in state.population]))
        for i in state.population:
            births_seen.setdefault(i.birth, []).append(state.generation)

    control = SearchControl(Budget(generations=6), callbacks=[watch])
    state = nasgep(tb, control, **SMALL)
    assert state.generation == 6 and len(seen) == 7
    for (_g0, pools0, tg, tc, _), (g1, pools1, *_rest) in zip(seen, seen[1:], strict=False):
        for kind in ("normal", "reduction"):
            new = pools1[kind] - pools0[kind]
            assert SMALL["genes_min"] <= len(new) <= SMALL["genes_max"], (g1, kind, len(new))
            assert len(pools1[kind]) <= SMALL["gene_pool_max"]
        assert tc == pytest.approx(0.75 * tg)
    for _gen, _, _, _, pop in seen:
        assert len(pop) <= SMALL["population_size"]
        for _, epochs, dead in pop:
            assert epochs <= SMALL["max_epochs"]
            assert dead == (epochs >= SMALL["max_epochs"])
    # T_g is the P_i-th best fitness: never above the best of the generation
    assert all(r["T_g"] <= r["best"] + 1e-12 for r in state.logbook)
    # elitism: the best fitness never drops
    bests = [r["best"] for r in state.logbook]
    assert bests == sorted(bests)


def test_extra_epoch_for_fitness_at_least_tc():
    random.seed(2)
    trained = []

    def evaluate(ind):
        trained.append(ind.birth)
        return fitness(ind)

    tb = toolbox()
    tb.register("evaluate", evaluate)
    state = nasgep(tb, SearchControl(Budget(generations=1)), **{**SMALL, "tc_fraction": 0.0})
    # T_c = 0: after generation 0 every live individual qualifies for the extra epoch
    gen1 = trained[SMALL["population_size"]:]
    live = [b for b in set(gen1)]
    assert all(gen1.count(b) == 2 for b in live)
    assert state.extra["T_c"] == 0.0


def test_resume_from_json_state_equals_uninterrupted():
    def strip(algo):
        st = algo.state
        return ([(SPACE.to_json(i), i.fitness.values, i.birth, i.loop_state) for i in st.population],
                [dict(r) for r in st.logbook], st.extra)

    params = NasgepSearchParams(**SMALL)
    full = Nasgep(toolbox(), params, seed=6, control=SearchControl(Budget(generations=5)))
    full.run()
    part = Nasgep(toolbox(), params, seed=6, control=SearchControl(Budget(generations=2)))
    part.run()
    saved = json.loads(json.dumps(part.state_dict()))
    random.seed(321)
    control = SearchControl(Budget(generations=5))
    control.usage.generations = part.state.generation
    resumed = Nasgep(toolbox(), params, seed=0, control=control)
    resumed.load_state_dict(saved)
    resumed.run()
    assert strip(resumed) == strip(full)


@pytest.mark.parametrize("kwargs, field", [
    ({"population_size": 0}, "population_size"),
    ({"genes_min": 5, "genes_max": 3}, "genes_max"),
    ({"gene_pool_size": 50, "gene_pool_max": 10}, "gene_pool_max"),
    ({"tc_fraction": 1.5}, "tc_fraction"),
    ({"max_epochs": 0}, "max_epochs"),
])
def test_params_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        NasgepSearchParams(**kwargs)


def test_needs_the_space_on_the_toolbox():
    tb = base.Toolbox()
    tb.register("evaluate", fitness)
    with pytest.raises(ValueError, match="toolbox.space"):
        nasgep(tb, SearchControl(Budget(generations=1)), **SMALL)
