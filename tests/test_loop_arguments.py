"""The loops take DEAP's usual arguments (stats, halloffame, verbose) and the toolbox's operators."""

from __future__ import annotations

import random
import statistics

from deap import base, tools

from deap_nas.algorithms import (
    AgingEvolution,
    Budget,
    RandomSearch,
    SearchControl,
    SimpleGA,
    SimpleGAParams,
    simple_ga,
)
from deap_nas.ops import cx_one_point, mut_sequential
from deap_nas.runtime.journal import read_logbook_csv, write_logbook_csv
from deap_nas.spaces import SequentialParams, SequentialSpace


def toy_fitness(ind):
    return (len(ind) / 10 + sum(g.get("kernel", 0) for g in ind) / 1000,)


def toolbox():
    space = SequentialSpace(SequentialParams(max_depth=5))
    tb = base.Toolbox()
    tb.register("individual", space.random_individual)
    tb.register("mutate", mut_sequential, space=space)
    tb.register("mate", cx_one_point, space=space)
    tb.register("evaluate", toy_fitness)
    tb.space = space
    return tb


def stats():
    s = tools.Statistics(lambda ind: ind.fitness.values[0])
    s.register("avg", statistics.fmean)
    s.register("max", max)
    return s


def counting(calls, fn):
    def select(individuals, k):
        calls.append(k)
        return fn(individuals, k)
    return select


def test_simple_ga_uses_toolbox_select_and_fills_stats_and_halloffame(capsys):
    tb, calls = toolbox(), []
    tb.register("select", counting(calls, tools.selRandom))
    hof, st = tools.HallOfFame(3), stats()
    algo = SimpleGA(tb, SimpleGAParams(population_size=4, tournament_size=2), seed=0, stats=st, halloffame=hof,
                    verbose=True, control=SearchControl(Budget(generations=3)))
    log = algo.run().logbook
    assert calls == [3, 3]                          # generations 2 and 3: population_size - elites parents
    assert log.header == ["gen", "nevals", "best", "mean", "std", "worst", "failed", "avg", "max"]
    assert [r["gen"] for r in log] == [1, 2, 3] and all(r["max"] == r["best"] for r in log)
    assert len(hof) == 3 and hof[0].fitness.values[0] == max(r["max"] for r in log)
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == log.header and len(out) == 4   # header, then one line per generation


def test_function_form_and_random_search_take_the_same_arguments():
    hof = tools.HallOfFame(2)
    state = simple_ga(toolbox(), SearchControl(Budget(evaluations=8)), population_size=4, seed=1,
                      halloffame=hof, stats=stats())
    assert len(hof) == 2 and state.logbook.header[-2:] == ["avg", "max"]
    hof = tools.HallOfFame(1)
    RandomSearch(toolbox(), population_size=3, seed=0, halloffame=hof,
                 control=SearchControl(Budget(evaluations=6))).run()
    assert len(hof) == 1


def test_aging_evolution_uses_toolbox_select():
    tb, calls = toolbox(), []
    tb.register("select", counting(calls, tools.selBest))
    AgingEvolution(tb, population_size=3, sample_size=2, seed=0, stats=stats(),
                   control=SearchControl(Budget(evaluations=7))).run()
    assert calls == [1] * 4                          # one parent per child after the 3 random ones


def test_header_survives_state_dict_and_orders_logbook_csv(tmp_path):
    algo = SimpleGA(toolbox(), population_size=4, seed=0, control=SearchControl(Budget(generations=2)))
    algo.run()
    again = SimpleGA(toolbox(), population_size=4, seed=0)
    again.load_state_dict(algo.state_dict())
    assert again.state.logbook.header == algo.state.logbook.header == [
        "gen", "nevals", "best", "mean", "std", "worst", "failed"]
    rows = [{"phase": "a", "gen": 1, "nevals": 2}]
    write_logbook_csv(tmp_path / "l.csv", rows, header=["gen", "nevals"])
    assert (tmp_path / "l.csv").read_text().splitlines()[0] == "gen,nevals,phase"
    assert read_logbook_csv(tmp_path / "l.csv") == [{"gen": 1, "nevals": 2, "phase": "a"}]


def test_stats_leave_the_loop_unchanged():
    runs = []
    for kw in ({}, {"stats": stats(), "halloffame": tools.HallOfFame(2)}):
        random.seed(5)
        st = SimpleGA(toolbox(), population_size=4, seed=3, control=SearchControl(Budget(generations=3)), **kw).run()
        runs.append([ind.fitness.values for ind in st.hall_of_fame])
    assert runs[0] == runs[1]
