"""Aging (regularized) evolution: its operators, the loop on a plain DEAP toolbox, its
config checks, and the runtime around it.

- Operators: ``remove_oldest`` goes by birth, never by fitness; ``sel_aging_tournament``
  is the best of a sample drawn with replacement (Algorithm 1; or without, as an option),
  from the rng it is given only.
- Loop (plain DEAP toolbox, a cheap deterministic fitness): Real et al. 2019 Algorithm 1
  step by step: P random individuals, then one mutated clone per cycle, the population
  always the last P births; budget, ``cycles``, hall of fame and logbook.
- Runtime, serial (``in_flight: 1``): a raised budget and a kill -9 both resume to the
  uninterrupted run, bit for bit.
- Runtime, asynchronous (``in_flight: 2`` on a 2-process pool): exactly the budget, every
  evaluation journaled once, also across a kill -9; an in-flight child that finished
  before the kill is read back from the journal, not trained again. Asynchronous results
  depend on training times, so they are never compared with another run.

Runtime runs use fashion_mnist_mini at 10 images per class, one epoch, a sequential
space of depth 1-2 and a population of 4 (evaluations take ~0.05 s), with the fitness
cache off so that a repeated architecture is trained again under a new repeat seed.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from deap import base, tools

from deap_nas.algorithms import AgingParams, Budget, SearchControl, SearchState, aging_evolution
from deap_nas.ops import mut_sequential, remove_oldest, sel_aging_tournament, set_birth
from deap_nas.runtime.config import ConfigError, parse_config
from deap_nas.runtime.rundir import RunDir
from deap_nas.runtime.search import resume_run, start_run
from deap_nas.runtime.worker import derive_seed
from deap_nas.spaces import SequentialParams, SequentialSpace
from deap_nas.spaces.types import ListIndividual

from .run_helpers import ENV, check, cli, journal, journal_lines, snapshot, triples


# ============================================================================ operators
def member(birth: int, fitness: float) -> ListIndividual:
    ind = ListIndividual([birth])
    ind.fitness.values = (fitness,)
    return set_birth(ind, birth)


def test_remove_oldest_removes_the_earliest_born_even_when_it_is_the_fittest():
    pop = [member(5, 0.1), member(2, 0.9), member(7, 0.5), member(3, 0.2)]
    fittest = pop[1]
    assert max(pop, key=lambda i: i.fitness) is fittest
    removed = remove_oldest(pop)
    assert removed is fittest  # the oldest, although the best
    assert [i.birth for i in pop] == [5, 7, 3]  # the others keep their order
    assert remove_oldest(pop).birth == 3  # then the next oldest, although the worst is 5's
    assert [i.birth for i in pop] == [5, 7]


def test_remove_oldest_breaks_ties_by_list_position_and_rejects_an_empty_population():
    a, b, c = member(4, 0.3), member(1, 0.1), member(1, 0.8)
    pop = [a, b, c]
    assert remove_oldest(pop) is b  # birth 1 twice: the first in the list
    assert pop == [a, c] and pop[1] is c
    with pytest.raises(ValueError, match="empty population"):
        remove_oldest([])


def test_full_sample_tournament_always_returns_the_best():
    rng = random.Random(0)
    for trial in range(20):
        n = rng.randint(1, 12)
        pop = [member(i, rng.random()) for i in range(n)]
        best = max(pop, key=lambda i: i.fitness.values[0])
        picks = sel_aging_tournament(pop, 10, sample_size=n, replace=False, rng=random.Random(trial))
        assert all(p is best for p in picks)
    # a sample size above the population is capped, not an error
    pop = [member(0, 0.2), member(1, 0.7)]
    assert sel_aging_tournament(pop, 3, sample_size=5, replace=False, rng=random.Random(1)) == [pop[1]] * 3
    with pytest.raises(ValueError, match="empty population"):
        sel_aging_tournament([], 1, sample_size=1)


# 99.9th percentile of the chi-square distribution with 4 degrees of freedom: a correct
# sampler exceeds it for 1 seed in 1000 (the seed is fixed, so the test is deterministic);
# a sampler that leans on fitness (e.g. always the best) lands in the thousands.
CHI2_4DOF_P001 = 18.47


def chi_square(counts: list[int], expected: list[float]) -> float:
    return sum((c - e) ** 2 / e for c, e in zip(counts, expected, strict=True) if e > 0)


def test_sample_size_one_is_uniform_and_two_is_the_best_of_a_pair():
    pop = [member(i, f) for i, f in enumerate([0.5, 0.9, 0.1, 0.7, 0.3])]  # fitness ranks 2 4 0 3 1
    n = 5000
    picks = sel_aging_tournament(pop, n, sample_size=1, rng=random.Random(1234))
    counts = [sum(p is ind for p in picks) for ind in pop]
    assert chi_square(counts, [n / 5] * 5) < CHI2_4DOF_P001, counts
    # sample_size 2 draws without replacement: the winner has rank r (0 = worst) with
    # probability r / C(5, 2), so the worst individual can never win
    picks = sel_aging_tournament(pop, n, sample_size=2, replace=False, rng=random.Random(4321))
    by_rank = sorted(pop, key=lambda i: i.fitness.values[0])
    counts = [sum(p is ind for p in picks) for ind in by_rank]
    assert counts[0] == 0
    assert chi_square(counts, [n * r / 10 for r in range(5)]) < CHI2_4DOF_P001, counts
    # with replacement (Real et al. 2019, Algorithm 1) the pair may be one individual twice:
    # rank r wins with probability ((r + 1)^2 - r^2) / 25, so even the worst wins 1 in 25
    picks = sel_aging_tournament(pop, n, sample_size=2, rng=random.Random(4321))
    counts = [sum(p is ind for p in picks) for ind in by_rank]
    assert counts[0] > 0
    assert chi_square(counts, [n * (2 * r + 1) / 25 for r in range(5)]) < CHI2_4DOF_P001, counts


def test_a_full_sample_with_replacement_finds_the_best_65_percent_of_the_time():
    """Algorithm 1 samples with replacement: with S = P = 10 the best is in the sample with
    probability 1 - (1 - 1/10)^10 = 0.651; without replacement it always is."""
    P, n = 10, 20000
    pop = [member(i, (i * 7 % P) / P) for i in range(P)]
    best = max(pop, key=lambda i: i.fitness.values[0])
    expected = 1 - (1 - 1 / P) ** P
    picks = sel_aging_tournament(pop, n, sample_size=P, rng=random.Random(2019))  # the default: with replacement
    share = sum(p is best for p in picks) / n
    assert abs(share - expected) < 0.015, share  # sd 0.0034: over 4 sd
    assert sel_aging_tournament(pop, n, sample_size=P, replace=True, rng=random.Random(2019)) == picks
    picks = sel_aging_tournament(pop, n, sample_size=P, replace=False, rng=random.Random(2019))
    assert all(p is best for p in picks)
    with pytest.raises(ValueError, match="replace must be true or false"):
        sel_aging_tournament(pop, 1, sample_size=2, replace="yes")


def test_the_loop_samples_as_sample_with_replacement_says(space):
    """S = P: without replacement every parent is the population's best; with it (the
    default) some parents are not."""
    for replace in (False, True):
        seen: list[bool] = []
        rec = Recorder(space)
        inner = rec.toolbox.mutate

        def mutate(ind, inner=inner, seen=seen, rec=rec):
            seen.append(ind.fitness.values[0] == max(m.fitness.values[0] for m in rec.state.population))
            return inner(ind)

        rec.toolbox.register("mutate", mutate)
        rec.run(seed=3, population_size=6, sample_size=6, budget=60, sample_with_replacement=replace)
        assert len(seen) == 54
        assert all(seen) if not replace else not all(seen)


def test_tournament_uses_only_the_given_rng():
    pop = [member(i, i / 10) for i in range(8)]
    random.seed(99)
    before = random.getstate()
    first = sel_aging_tournament(pop, 50, sample_size=3, rng=random.Random(7))
    assert random.getstate() == before
    assert sel_aging_tournament(pop, 50, sample_size=3, rng=random.Random(7)) == first
    assert random.getstate() == before


# ============================================================================ the loop
@pytest.fixture
def space() -> SequentialSpace:
    return SequentialSpace(SequentialParams(min_depth=1, max_depth=4, stem_channels=8, max_channels=32))


def kernel_fitness(ind: Any) -> tuple[float]:
    return (sum(g.get("kernel", 0) for g in ind) / 40.0,)


class Recorder:
    """A plain DEAP toolbox (no runtime) that logs, in order, every ``individual``,
    ``mutate`` and ``evaluate`` call, and checks that ``mutate`` gets a clone of a
    population member, never the member itself. The loop runs on ``self.state`` so the
    toolbox can look at the population while the loop works."""

    def __init__(self, space: SequentialSpace, fitness=kernel_fitness, parent_is_best: bool = False):
        self.events: list[str] = []
        self.fitnesses: list[float] = []
        self.state = SearchState(hall_of_fame=tools.HallOfFame(3))
        self.sizes: list[int] = []  # population size after each evaluation
        self.births: list[list[int]] = []  # sorted births of the population after each evaluation
        tb = base.Toolbox()

        def individual():
            self.events.append("individual")
            return space.random_individual()

        def mutate(ind):
            pop = self.state.population
            assert all(ind is not m for m in pop), "mutate got a population member, not a clone"
            assert any(ind == m for m in pop), "mutate got something that is no member's clone"
            assert ind.fitness.valid  # still the parent's fitness: deleted after mutation
            if parent_is_best:
                assert ind.fitness.values[0] == max(m.fitness.values[0] for m in pop)
            self.events.append("mutate")
            return mut_sequential(ind, space)

        def evaluate(ind):
            assert not ind.fitness.valid and not hasattr(ind, "result")
            self.events.append("evaluate")
            fit = fitness(ind)
            self.fitnesses.append(fit[0])
            return fit

        tb.register("individual", individual)
        tb.register("mutate", mutate)
        tb.register("evaluate", evaluate)
        self.toolbox = tb

    def watch(self, state: SearchState) -> None:
        self.sizes.append(len(state.population))
        self.births.append(sorted(i.birth for i in state.population))

    def run(self, seed: int = 0, **params: Any) -> tuple[SearchState, SearchControl]:
        budget = params.pop("budget", None)
        control = SearchControl(Budget(evaluations=budget), callbacks=[self.watch])
        random.seed(seed)
        state = aging_evolution(self.toolbox, control, state=self.state, **params)
        assert state is self.state
        return state, control


def test_serial_loop_is_algorithm_1(space):
    P, S, N = 6, 3, 40
    rec = Recorder(space)
    state, control = rec.run(population_size=P, sample_size=S, budget=N)

    # P random individuals first, then one mutated clone per cycle, each evaluated at once
    assert rec.events == ["individual", "evaluate"] * P + ["mutate", "evaluate"] * (N - P)
    assert control.usage.evaluations == N and control.reason == f"evaluation budget reached ({N} >= {N})"
    # the population fills to P and stays there; it is always the last P births
    assert rec.sizes == [*range(1, P + 1), *[P] * (N - P)]
    assert rec.births == [list(range(max(0, g - P), g)) for g in range(1, N + 1)]
    assert sorted(i.birth for i in state.population) == list(range(N - P, N))
    assert state.extra == {"births": N, "submitted": N, "in_flight_ids": []}
    assert state.in_flight == []
    # one logbook row per evaluation: the child's fitness, the best so far, never worse
    book = state.logbook
    assert len(book) == N and [r["gen"] for r in book] == list(range(1, N + 1))
    assert all(r["nevals"] == 1 for r in book)
    assert [r["child"] for r in book] == rec.fitnesses
    best_so_far = [r["best_so_far"] for r in book]
    assert best_so_far == [max(rec.fitnesses[: g + 1]) for g in range(N)]
    assert all(b >= a for a, b in zip(best_so_far, best_so_far[1:], strict=False))
    assert state.hall_of_fame[0].fitness.values[0] == max(rec.fitnesses)
    assert [r["best"] for r in book][-1] == max(i.fitness.values[0] for i in state.population)


def test_the_fittest_ages_out_but_stays_in_the_hall_of_fame(space):
    P, N = 5, 20

    def first_born_is_best(ind):  # birth 0 is better than anything the search can find
        return (1.0,) if ind.birth == 0 else (kernel_fitness(ind)[0] / 10,)

    rec = Recorder(space, fitness=first_born_is_best)
    state, _ = rec.run(population_size=P, sample_size=P, budget=N)
    assert 0 not in [i.birth for i in state.population]  # removed at birth P, the fittest
    assert rec.births[P] == list(range(1, P + 1))
    assert state.hall_of_fame[0].birth == 0 and state.hall_of_fame[0].fitness.values == (1.0,)
    assert all(r["best_so_far"] == 1.0 for r in state.logbook)
    bests = [r["best"] for r in state.logbook]
    assert bests[: P] == [1.0] * P and max(bests[P:]) < 1.0  # the population lost it


def test_full_sample_without_replacement_breeds_from_the_best_member(space):
    rec = Recorder(space, parent_is_best=True)  # asserted on every mutate call
    state, _ = rec.run(population_size=5, sample_size=5, budget=25, sample_with_replacement=False)
    assert rec.events.count("mutate") == 20


@pytest.mark.parametrize("cycles", [0, 7])
def test_cycles_stop_the_loop_before_a_larger_budget(space, cycles):
    rec = Recorder(space)
    state, control = rec.run(population_size=5, sample_size=2, cycles=cycles, budget=100)
    assert control.usage.evaluations == 5 + cycles == len(state.logbook)
    assert rec.events.count("individual") == 5 and rec.events.count("mutate") == cycles
    assert sorted(i.birth for i in state.population) == list(range(cycles, 5 + cycles))


@pytest.mark.parametrize("budget, in_flight", [(23, 1), (3, 1), (23, 3)])
def test_evaluation_budget_stops_exactly(space, budget, in_flight):
    rec = Recorder(space)
    state, control = rec.run(population_size=5, sample_size=2, budget=budget, in_flight=in_flight)
    assert control.usage.evaluations == budget == len(state.logbook) == rec.events.count("evaluate")
    assert len(state.population) == min(5, budget)
    assert sorted(i.birth for i in state.population) == list(range(max(0, budget - 5), budget))
    assert rec.events.count("individual") == min(5, budget)


def test_sample_size_one_is_the_random_search_baseline(space):
    rec = Recorder(space)
    state, control = rec.run(population_size=5, sample_size=1, budget=30)
    assert control.usage.evaluations == 30
    assert rec.events.count("individual") == 5 and rec.events.count("mutate") == 25
    assert len(state.population) == 5
    assert sorted(i.birth for i in state.population) == list(range(25, 30))


def test_more_children_in_flight_than_the_population_holds(space):
    # children are bred before the first ones join, so for a while there is no parent
    rec = Recorder(space)
    state, control = rec.run(population_size=2, sample_size=1, budget=10, in_flight=3)
    assert control.usage.evaluations == 10
    assert rec.events.count("individual") == 3 and rec.events.count("mutate") == 7
    assert len(state.population) == 2 and sorted(i.birth for i in state.population) == [8, 9]


def test_the_same_seed_gives_the_same_search(space):
    runs = []
    for _ in range(2):
        rec = Recorder(space)
        state, _ = rec.run(seed=5, population_size=4, sample_size=2, budget=20)
        runs.append(([list(i) for i in state.population], rec.fitnesses))
    assert runs[0] == runs[1]


# ============================================================================ config
AGING = {"name": "aging_evolution", "population_size": 10, "sample_size": 3}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"algorithm": {**AGING, "sample_size": 30}, "operators": {"mutate": "mut_sequential"}},
         "algorithm.sample_size: 30 > population_size 10"),
        ({"algorithm": AGING}, "operators.mutate: required by algorithm aging_evolution"),
        ({"algorithm": AGING, "operators": {"mate": "cx_one_point"}},
         "operators.mutate: required by algorithm aging_evolution"),
        ({"algorithm": {**AGING, "in_flight": 0}, "operators": {"mutate": "mut_sequential"}},
         "algorithm.in_flight: must be >= 1"),
        ({"algorithm": {**AGING, "cycles": -1}, "operators": {"mutate": "mut_sequential"}},
         "algorithm.cycles: must be >= 0"),
        ({"algorithm": {**AGING, "sample_with_replacement": "yes"}, "operators": {"mutate": "mut_sequential"}},
         "algorithm.sample_with_replacement: expected true or false"),
        ({"algorithm": {**AGING, "max_params": 0}, "operators": {"mutate": "mut_sequential"}},
         "algorithm.max_params: must be null or an integer >= 1"),
        ({"algorithm": {**AGING, "redraw": -1}, "operators": {"mutate": "mut_sequential"}},
         "algorithm.redraw: must be an integer >= 0"),
    ],
)  # fmt: skip
def test_bad_aging_configs_name_the_field(data, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({**data, "budget": {"evaluations": 5}})


def test_aging_defaults_are_the_papers():
    config = parse_config({"algorithm": {"name": "aging_evolution"}, "operators": {"mutate": "mut_sequential"},
                           "budget": {"evaluations": 5}})  # fmt: skip
    assert vars(config.algorithm.params) == vars(AgingParams())
    assert (config.algorithm.params.population_size, config.algorithm.params.sample_size) == (100, 25)


# ============================================================================ runtime helpers
P = 4
RUN: dict[str, Any] = {
    "seed": 0,
    "data": {"name": "fashion_mnist_mini", "train_subset": 10},
    "space": {"name": "sequential", "min_depth": 1, "max_depth": 2, "stem_channels": 8, "max_channels": 16},
    "algorithm": {"name": "aging_evolution", "population_size": P, "sample_size": 2},
    "operators": {"mutate": {"name": "mut_sequential"}},
    "training": {"epochs": 1, "batch_size": 32},
    "evaluation": {"cache": False},  # a repeated architecture is trained again
    "budget": {"evaluations": 14},
    "parallel": {"threads": 1},
    "output": {"plots": False, "progress": False, "keep_snapshots": 100},
}
ASYNC: dict[str, Any] = {
    **RUN,
    "algorithm": {**RUN["algorithm"], "in_flight": 2},
    "budget": {"evaluations": 24},
    "parallel": {"threads": 1, "backend": "process", "workers": 2},
}


def config_dict(base_config: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(base_config)), **sections}














def search_state(snap: dict[str, Any]) -> str:
    """What must be bit-identical between equivalent serial runs (JSON text: floats exact);
    population and hall of fame entries carry ``birth`` and ``eval_ids``."""
    keys = ("generation", "next_eval_id", "population", "hall_of_fame", "logbook", "evaluator", "algorithm",
            "in_flight")  # fmt: skip
    return json.dumps({k: snap[k] for k in keys}, sort_keys=True, indent=1)


def meta(run: Path) -> dict[str, Any]:
    return json.loads((run / "run.json").read_text())


def trained_ids(output: str) -> list[int]:
    """Evaluation ids a run trained, from its progress lines ("    eval   12 <hash> acc ...")."""
    return [int(m) for m in re.findall(r"^\s+eval\s+(\d+) ", output, re.M)]


def assert_ids_once(records: list[dict[str, Any]], where: str) -> None:
    twice = sorted(i for i, n in Counter(r["eval_id"] for r in records).items() if n > 1)
    assert not twice, f"{where}: eval_ids journaled more than once: {twice}"


def assert_repeats_numbered(records: list[dict[str, Any]], run_seed: int = 0) -> None:
    """Without the fitness cache, the k-th training of an architecture (in eval_id order)
    is its repeat k, trained with the seed derived from (run seed, hash, k)."""
    by_hash: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(records, key=lambda r: r["eval_id"]):
        by_hash[r["arch_hash"]].append(r)
    for h, recs in by_hash.items():
        assert not any(r["cached"] for r in recs)
        assert [r["repeat"] for r in recs] == list(range(len(recs))), (h, [(r["eval_id"], r["repeat"]) for r in recs])
        assert [r["seed"] for r in recs] == [derive_seed(run_seed, h, k) for k in range(len(recs))]


def assert_population_invariants(snap: dict[str, Any], budget: int) -> None:
    births = [x["birth"] for x in snap["population"]]
    assert len(births) == P and len(set(births)) == P
    assert all(0 <= b < budget for b in births)
    assert snap["in_flight"] == []
    assert snap["algorithm"] == {"births": budget, "submitted": budget, "in_flight_ids": []}


# ============================================================================ runtime, serial
@pytest.fixture(scope="module")
def serial_reference(tmp_path_factory) -> Path:
    """The uninterrupted serial run of 14 evaluations (in-process)."""
    run = tmp_path_factory.mktemp("aging_serial") / "ref"
    out = start_run(parse_config(config_dict(RUN)), run)
    assert out.stop_reason == "evaluation budget reached (14 >= 14)"
    records = journal(run)
    assert_ids_once(records, "reference")
    assert sorted(r["eval_id"] for r in records) == list(range(14))
    return run


def test_serial_run_trains_repeats_with_new_seeds_and_keeps_the_last_births(serial_reference):
    records = journal(serial_reference)
    assert [r["eval_id"] for r in records] == list(range(14))  # serial: finished in request order
    assert_repeats_numbered(records)
    again = [r for r in records if r["repeat"] == 1]
    assert again, "no architecture was sampled twice: pick another seed for this test"
    first = next(r for r in records if r["arch_hash"] == again[0]["arch_hash"] and r["repeat"] == 0)
    assert again[0]["seed"] != first["seed"] and again[0]["eval_id"] > first["eval_id"]

    snap = snapshot(serial_reference)
    assert snap["generation"] == 14 and len(snap["logbook"]) == 14
    assert_population_invariants(snap, 14)
    assert sorted(x["birth"] for x in snap["population"]) == list(range(10, 14))
    # the serial loop evaluates child b under eval_id b
    assert all(x["result"]["eval_ids"] == [x["birth"]] for x in snap["population"])
    # one evaluation per generation, each journaled under the generation it completes
    assert [r["generation"] for r in records] == list(range(1, 15))
    assert max(r["best_so_far"] for r in snap["logbook"]) == snap["hall_of_fame"][0]["fitness"][0]
    assert snap["hall_of_fame"][0]["fitness"][0] == max(r["fitness"][0] for r in records)


def test_raising_the_budget_resumes_to_the_uninterrupted_run(serial_reference, tmp_path):
    run = tmp_path / "short"
    out = start_run(parse_config(config_dict(RUN, budget={"evaluations": 10})), run)
    assert out.stop_reason == "evaluation budget reached (10 >= 10)"
    before = journal_lines(run)
    assert len(before) == 10

    out = resume_run(run, ["budget.evaluations=14"])
    assert out.stop_reason == "evaluation budget reached (14 >= 14)"
    lines = journal_lines(run)
    assert lines[: len(before)] == before
    assert_ids_once(journal(run), "resumed run")
    assert triples(journal(run)) == triples(journal(serial_reference))
    assert search_state(snapshot(run)) == search_state(snapshot(serial_reference))
    assert meta(run)["usage"]["evaluations"] == 14


def process_group(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid`` (Linux /proc)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat[stat.rfind(")") + 2 :].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            pids.append(int(d.name))
    return pids


def run_and_kill(workdir: Path, name: str, kill_at: int) -> tuple[Path, list[str]] | None:
    """Start ``deap-nas run run.yaml`` in ``workdir``, SIGKILL its main process as soon as
    its journal has ``kill_at`` records; the run directory and its journal lines at the
    kill, or None when the run finished before the poller saw them. The run gets a process
    group of its own, so pool workers it leaves behind can be found (and must exit)."""
    run = workdir / name
    log = workdir / f"{name}.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deap_nas.cli", "run", "run.yaml", "--run-dir", name],
            cwd=workdir, env=ENV, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
        )  # fmt: skip
    path = run / "journal.jsonl"
    deadline = time.monotonic() + 120
    try:
        while True:
            if path.exists() and len(journal_lines(run)) >= kill_at:
                os.kill(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"{kill_at} evaluations not journaled within 120 s:\n{log.read_text()[-4000:]}")
            time.sleep(0.005)
        proc.wait(timeout=60)
        # pool workers notice that the main process is gone and exit (within ~1 s)
        deadline = time.monotonic() + 15
        while process_group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = process_group(proc.pid)
        assert not left, f"processes of the killed run still alive after 15 s: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        if process_group(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode == 0:
        return None
    assert proc.returncode == -signal.SIGKILL, f"the run was not killed (exit {proc.returncode}):\n{log.read_text()[-4000:]}"
    assert meta(run)["status"] == "running" and meta(run)["stop_reason"] is None
    return run, journal_lines(run)


def kill_mid_run(workdir: Path, name: str, config: dict[str, Any], kill_at: int) -> tuple[Path, list[str]]:
    (workdir / "run.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    for attempt in range(3):
        killed = run_and_kill(workdir, f"{name}-{attempt}", kill_at)
        if killed is not None:
            return killed
    pytest.fail(f"three runs all finished before {kill_at} evaluations were journaled")


def test_kill_9_of_a_serial_run_then_resume_equals_the_uninterrupted_run(serial_reference, tmp_path, capsys):
    config = config_dict(RUN, output={**RUN["output"], "progress": True})
    run, before = kill_mid_run(tmp_path, "killed", config, kill_at=6)
    assert 6 <= len(before) < 14
    # an earlier kill, between a journal append and the next snapshot (where the poller's
    # kill often lands too, but not reliably): the run without its newest snapshot
    rewound = tmp_path / "rewound"
    shutil.copytree(run, rewound)
    newest = RunDir(rewound).snapshot_files()[-1]
    newest.unlink()
    snap_gen = int(RunDir(rewound).snapshot_files()[-1].name[4:10])
    assert len(journal_lines(rewound)) > snap_gen  # at least one evaluation after the snapshot

    r = cli("resume", run.name, cwd=tmp_path)
    check(r)
    assert not set(trained_ids(r.stderr)) & {json.loads(x)["eval_id"] for x in before}, r.stderr

    capsys.readouterr()
    resume_run(rewound)
    err = capsys.readouterr().err
    assert f"from generation {snap_gen} (gen_{snap_gen:06d}.json); {len(before)} journal records" in err, err
    assert min(trained_ids(err), default=14) >= len(before), err  # the journaled ones came back

    for done in (run, rewound):
        assert journal_lines(done)[: len(before)] == before  # not rewritten: same text, same `finished` times
        assert_ids_once(journal(done), str(done))
        assert triples(journal(done)) == triples(journal(serial_reference))
        assert search_state(snapshot(done)) == search_state(snapshot(serial_reference))
        assert meta(done)["status"] == "finished"
        assert meta(done)["stop_reason"] == "evaluation budget reached (14 >= 14)"


# ============================================================================ runtime, asynchronous
@pytest.fixture(scope="module")
def async_run(tmp_path_factory) -> Path:
    """An uninterrupted asynchronous run: 2 children in flight on a 2-process pool."""
    run = tmp_path_factory.mktemp("aging_async") / "async"
    out = start_run(parse_config(config_dict(ASYNC)), run)
    assert out.stop_reason == "evaluation budget reached (24 >= 24)"
    return run


def test_async_run_evaluates_exactly_the_budget_once_each(async_run):
    records = journal(async_run)
    assert_ids_once(records, "async run")
    assert sorted(r["eval_id"] for r in records) == list(range(24))
    assert_repeats_numbered(records)
    assert meta(async_run)["usage"]["evaluations"] == 24 and meta(async_run)["status"] == "finished"
    assert len({r["worker"] for r in records}) == 2  # both processes trained

    snaps = [json.loads(p.read_text()) for p in RunDir(async_run).snapshot_files()]
    assert [s["generation"] for s in snaps] == list(range(1, 25))  # one per finished evaluation
    final = snaps[-1]
    assert_population_invariants(final, 24)
    assert len(final["logbook"]) == 24
    # an evaluation overlapped every other one: a child was in flight at most snapshots,
    # saved with the evaluation ids it was given, not yet in the population or journal
    with_flight = [s for s in snaps if s["in_flight"]]
    assert len(with_flight) >= len(snaps) // 2, [len(s["in_flight"]) for s in snaps]
    for s in snaps:
        assert len(s["in_flight"]) <= 1  # in_flight 2: the one that finished is not listed
        assert len(s["population"]) == min(P, s["generation"])
        assert len({x["birth"] for x in s["population"]}) == len(s["population"])
        assert len(s["algorithm"]["in_flight_ids"]) == len(s["in_flight"])  # the ids kept by the loop
        for x, ids in zip(s["in_flight"], s["algorithm"]["in_flight_ids"], strict=True):
            assert x["fitness"] is None and len(ids) == 1
            assert ids[0] < s["next_eval_id"]
            assert x["birth"] not in {y["birth"] for y in s["population"]}
            assert ids[0] not in {i for y in s["population"] for i in y["result"]["eval_ids"]}
            finished_by_then = {r["eval_id"] for r in records[: s["generation"]]}
            assert ids[0] not in finished_by_then


def in_flight_finish(run: Path) -> tuple[int, dict[str, Any], list[str]]:
    """(k, child, journal lines): the newest snapshot k of ``run`` whose in-flight child
    was the next evaluation to finish, i.e. journal line k + 1. Each snapshot here follows
    exactly one journal append (one evaluation per generation, no cache, no repeats), so
    snapshots up to k with the first k + 1 journal lines is what a kill leaves just after
    that child was journaled, and with the first k lines a kill just before."""
    lines = journal_lines(run)
    for path in reversed(RunDir(run).snapshot_files()):
        snap = json.loads(path.read_text())
        k = snap["generation"]
        if snap["in_flight"] and len(lines) > k and json.loads(lines[k])["eval_id"] in snap["algorithm"]["in_flight_ids"][0]:
            break
    else:
        pytest.fail(f"no snapshot of {run} whose in-flight child finished next")
    # the journal at snapshot k held exactly the k evaluations finished by then
    finished = {json.loads(x)["eval_id"] for x in lines[:k]}
    in_flight = {i for ids in snap["algorithm"]["in_flight_ids"] for i in ids}
    assert finished == set(range(snap["next_eval_id"])) - in_flight
    assert snap["evaluator"]["pending_repeats"] == {str(i): json.loads(lines[k])["repeat"] for i in in_flight}
    return k, {**snap["in_flight"][0], "in_flight_ids": snap["algorithm"]["in_flight_ids"][0]}, lines


def rewind(src: Path, dst: Path, generation: int, lines: list[str]) -> Path:
    """A copy of ``src`` with the snapshots up to ``generation`` and the journal ``lines``."""
    shutil.copytree(src, dst)
    for p in RunDir(dst).snapshot_files():
        if int(p.name[4:10]) > generation:
            p.unlink()
    (dst / "journal.jsonl").write_text("".join(lines))
    return dst


def assert_async_run_complete(run: Path, journaled: list[str], trained: list[int], budget: int) -> list[dict]:
    """A resumed asynchronous run: finished at the budget, the journal it started from kept
    as it was, every eval_id once, nothing journaled before trained again."""
    lines = journal_lines(run)
    assert lines[: len(journaled)] == journaled  # not rewritten: same text, same `finished` times
    records = [json.loads(x) for x in lines]
    assert_ids_once(records, str(run))
    assert sorted(x["eval_id"] for x in records) == list(range(budget))
    assert not set(trained) & {json.loads(x)["eval_id"] for x in journaled}, trained
    assert_repeats_numbered(records)
    m = meta(run)
    assert m["status"] == "finished" and m["usage"]["evaluations"] == budget
    assert m["stop_reason"] == f"evaluation budget reached ({budget} >= {budget})"
    final = snapshot(run)
    assert_population_invariants(final, budget)
    assert len(final["logbook"]) == budget
    # each architecture counted once per training, in-flight children resumed included
    assert final["evaluator"]["repeat_counts"] == dict(Counter(x["arch_hash"] for x in records))
    assert final["evaluator"]["pending_repeats"] == {}
    return records


@pytest.mark.slow  # 45-70 s on 2 busy cores: one killed run and three resumes, each starting a pool
def test_kill_9_of_an_async_run_then_resume_evaluates_each_child_once(tmp_path, capsys):
    budget = ASYNC["budget"]["evaluations"]
    config = config_dict(ASYNC, output={**ASYNC["output"], "progress": True})
    run, before = kill_mid_run(tmp_path, "killed", config, kill_at=8)
    assert 8 <= len(before) < budget
    k, child, lines = in_flight_finish(run)
    (eid,) = child["in_flight_ids"]
    original = json.loads(lines[k])  # the child's record in the killed run
    # the in-flight child of snapshot k had finished / had not finished at the kill
    finished = rewind(run, tmp_path / "finished", k, lines[: k + 1])
    unfinished = rewind(run, tmp_path / "unfinished", k, lines[:k])

    r = cli("resume", run.name, cwd=tmp_path)
    check(r)
    assert f"; {len(before)} journal records" in r.stderr
    assert_async_run_complete(run, before, trained_ids(r.stderr), budget)

    capsys.readouterr()
    resume_run(finished)
    err = capsys.readouterr().err
    assert f"from generation {k} (gen_{k:06d}.json); {k + 1} journal records" in err, err
    assert eid not in trained_ids(err)
    assert_async_run_complete(finished, lines[: k + 1], trained_ids(err), budget)
    after = snapshot(finished, k + 1)  # the child joined first, taken from the journal
    assert after["logbook"][-1]["child"] == original["fitness"][0]
    assert eid not in {i for ids in after["algorithm"]["in_flight_ids"] for i in ids}

    resume_run(unfinished)
    err = capsys.readouterr().err
    assert f"from generation {k} (gen_{k:06d}.json); {k} journal records" in err, err
    assert eid in trained_ids(err)
    records = assert_async_run_complete(unfinished, lines[:k], trained_ids(err), budget)
    # trained again under its eval_id exactly as the first time: same repeat, seed, result
    again = next(x for x in records if x["eval_id"] == eid)
    keys = ("arch_hash", "repeat", "seed", "generation", "fitness", "accuracy", "params", "best_epoch")
    assert {x: again[x] for x in keys} == {x: original[x] for x in keys}

    def curve(rec: dict[str, Any]) -> list[dict[str, Any]]:
        return [{x: v for x, v in h.items() if x != "seconds"} for h in rec["history"]]

    assert curve(again) == curve(original)


# ============================================================================ screened children
FAKE_NEAT: dict[str, Any] = {  # regevo_fashion_mnist_quick.yaml's space and loop, scaled down, fake training
    "seed": 0,
    "data": {"name": "fashion_mnist_mini"},
    "space": {"name": "neat", "channels": 16, "initial_layers": 4, "head": "mlp3"},
    "algorithm": {"name": "aging_evolution", "population_size": 8, "sample_size": 3, "cycles": 40},
    "operators": {"mutate": {"name": "mut_neat", "p_mutate": 0.7, "p_add": 0.25, "p_identity": 0.05}},
    "training": {"epochs": 1},
    "evaluation": {"trainer": "deap_nas.testing:fake_trainer", "cache": False},
    "budget": {"evaluations": 48},
    "parallel": {"backend": "serial", "threads": 1},
    "output": {"plots": False, "progress": False},
}
CAP = 15_000  # parameters (16 channels, 28x28); the fake trainer counts 1,000 per node, so it never says too_large here


def fake_neat_run(tmp_path: Path, name: str, **algorithm: Any) -> tuple[list[dict[str, Any]], Any, Any]:
    from deap_nas.spaces.neat import NeatSpace

    cfg = config_dict(FAKE_NEAT)
    cfg["algorithm"].update(algorithm)
    out = start_run(parse_config(cfg), tmp_path / name)
    return journal(tmp_path / name), out, NeatSpace(parse_config(cfg).space.params)


def test_redraw_keeps_invalid_and_over_cap_children_out_of_the_evaluations(tmp_path):
    off, out_off, space = fake_neat_run(tmp_path, "off")
    assert len(off) == 48 and "re-drawn" not in out_off.stop_reason
    verdicts = [space.screen(space.from_json(r["genome"]), CAP) for r in off]
    # as before: invalid genomes take evaluation slots (a decode failure is journaled invalid)
    assert sum(r["status"] == "invalid" for r in off) > 0
    assert sum(v is not None and v[0] == "invalid" for v in verdicts) >= 10
    assert sum(v is not None and v[0] == "too_large" for v in verdicts) > 0

    on, out_on, _ = fake_neat_run(tmp_path, "on", redraw=20, max_params=CAP)
    assert len(on) == 48
    assert all(r["status"] == "ok" for r in on)
    assert all(space.screen(space.from_json(r["genome"]), CAP) is None for r in on)  # no kernel > input either
    assert all(r["request"]["overrides"] == {"max_params": CAP} for r in on)
    snap = snapshot(tmp_path / "on")
    counts = snap["algorithm"]["redrawn"]
    assert counts["invalid"] > 0 and counts["too_large"] > 0 and counts["kept"] == 0
    total = counts["invalid"] + counts["too_large"]
    assert f"{total} children re-drawn before evaluation ({counts['invalid']} invalid, " \
           f"{counts['too_large']} over max_params; 0 evaluated after 20 re-draws)" in out_on.stop_reason
    assert snap["logbook"][-1]["redrawn"] == total


def test_an_over_cap_child_without_redraw_is_journaled_too_large_untrained(tmp_path):
    """The cap alone: every candidate is asked for with ``max_params``; the real worker
    counts the architecture description's parameters (torch-free) and trains none that
    exceed it (here all: a cap of 1 parameter)."""
    cfg = config_dict(RUN)
    cfg["algorithm"] = {**cfg["algorithm"], "max_params": 1}
    cfg["budget"] = {"evaluations": 6}
    start_run(parse_config(cfg), tmp_path / "cap")
    records = journal(tmp_path / "cap")
    assert len(records) == 6
    for r in records:
        assert r["status"] == "too_large" and r["fitness"] == [0.0] and not r.get("weights")
        assert r["message"] == f"{r['params']} parameters > max_params 1" and r["params"] > 1


def test_redraw_needs_a_space_that_screens(space):
    rec = Recorder(space)
    with pytest.raises(ValueError, match="needs a search space with screen"):
        rec.run(population_size=4, sample_size=2, budget=6, redraw=3)


def test_the_paper_configs_sample_with_replacement_and_screen_nothing():
    root = Path(__file__).resolve().parents[1] / "experiments" / "configs"
    for name in ("regevo_fashion_mnist.yaml", "regevo_random_fashion_mnist.yaml"):
        params = parse_config(yaml.safe_load((root / name).read_text())).algorithm.params
        assert params.sample_with_replacement is True, name
        assert (params.max_params, params.redraw) == (None, 0), name
        mutate = parse_config(yaml.safe_load((root / name).read_text())).operators["mutate"]
        assert mutate.params["enabled_only"] is False, name  # sec. 3.2: "a random connection"


def test_an_earlier_aging_run_resumes_only_when_it_keeps_sampling_without_replacement() -> None:
    """Runs made before sampling with replacement became the default sampled without it:
    their fingerprint (7e3f007882038ac7, computed by that version) is matched only with
    ``sample_with_replacement: false``, so a resume cannot silently change the tournament."""
    from deap_nas.runtime.config import parse_config

    cfg = {"space": {"name": "neat"}, "algorithm": {"name": "aging_evolution", "population_size": 10, "sample_size": 5},
           "operators": {"mutate": {"name": "mut_neat"}}, "budget": {"evaluations": 20}}
    assert parse_config(cfg).fingerprint() != "7e3f007882038ac7"
    cfg["algorithm"]["sample_with_replacement"] = False
    assert parse_config(cfg).fingerprint() == "7e3f007882038ac7"
