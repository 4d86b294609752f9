"""EIGEN loop (torch-free): extinction thresholds (eq. 1, 2), Algorithm 1 stages, succession
switch and duplication, with a fake evaluator that honours staged-training requests."""

from __future__ import annotations

import copy
import random

import pytest
from deap import base

from deap_nas.algorithms import Budget, SearchControl
from deap_nas.algorithms.eigen import (
    EigenSearchParams,
    eigen,
    extinction_generation,
    extinction_threshold,
    survivors,
)
from deap_nas.ops.eigen import mut_eigen
from deap_nas.spaces import EigenParams, EigenSpace

SPACE = EigenSpace(EigenParams(max_layers=6))


def test_threshold_is_the_pth_best_or_the_previous_one():
    f = [0.5, 0.9, 0.7, 0.3, 0.8]
    assert extinction_threshold(f, 2, 0.6) == 0.8  # S(F) = 0.9, 0.8, 0.7, ...: 2nd best
    assert extinction_threshold(f, 2, 0.85) == 0.85  # the previous threshold is higher
    assert extinction_threshold(f, 5, 0.0) == 0.3
    assert extinction_threshold(f, 7, 0.0) == 0.3  # fewer than p: the lowest
    assert extinction_threshold([], 2, 0.4) == 0.4
    with pytest.raises(ValueError):
        extinction_threshold(f, 0, 0.0)


def test_thresholds_never_decrease_over_generations():
    rng = random.Random(0)
    v = 0.0
    seen = []
    for _ in range(30):
        fits = [rng.random() for _ in range(10)]
        new = extinction_threshold(fits, 5, v)
        assert new >= v and new == max(sorted(fits, reverse=True)[4], v)
        v = new
        seen.append(v)
    assert seen == sorted(seen)


class FakeEvaluator:
    """Fitness grows with training: ``quality(genome) * iterations / total``; a staged
    request pauses (train_state set) and a continuation resumes (it must exist)."""

    def __init__(self, quality):
        self.quality = quality
        self.calls = []  # (generation, stop, resumed)
        self.states = set()

    def __call__(self, inds, generation=0, control=None, requests=None):
        for ind, req in zip(inds, requests, strict=True):
            total = req.overrides_dict["max_iterations"]
            resumed = req.start.kind == "resume"
            if resumed:
                assert req.start.state in self.states, "continued a training that was never paused"
            stop = req.stop_iteration or total
            q = self.quality(ind)
            ind.fitness.values = (q * stop / total,)
            state = f"state-{len(self.calls)}" if stop < total else None
            if state:
                self.states.add(state)
            ind.result = {"status": "ok", "iterations": stop, "train_state": state, "weights": "w.pt",
                          "architecture": SPACE.decode(ind).to_dict()}
            self.calls.append((generation, stop, resumed))
            if control is not None:
                control.evaluated(1)


def toolbox_with(quality):
    tb = base.Toolbox()
    tb.register("individual", SPACE.random_individual)
    tb.register("mutate", mut_eigen, space=SPACE)
    tb.evaluate_population = FakeEvaluator(quality)
    tb.space = SPACE
    return tb


def test_one_generation_of_algorithm_1():
    qualities = iter([0.9, 0.5, 0.8, 0.7, 0.6, 0.2])  # one per child, in order
    tb = toolbox_with(lambda ind: ind.q)
    children = []
    for _ in range(6):
        c = SPACE.random_individual()
        c.q = next(qualities)
        children.append(c)
    thresholds = {"v1": 0.0, "v2": 0.5}
    control = SearchControl(Budget(generations=10))
    done, log = extinction_generation(tb, children, t1=10, t2=20, t3=10, p=3, q=1, thresholds=thresholds,
                                      extinction=True, control=control, generation=1)
    # T1 fitness = q/4: 0.225 0.125 0.2 0.175 0.15 0.05 -> 3rd best 0.175 survives with 0.225, 0.2
    assert thresholds["v1"] == pytest.approx(0.175)
    assert log["survivors_t1"] == 3
    # T2 fitness = q*3/4: 0.675, 0.6, 0.525 -> best 0.675, but v_{g-1,T2} = 0.5 is lower
    assert thresholds["v2"] == pytest.approx(0.675)
    assert [c.q for c in done] == [0.9] and done[0].fitness.values == (0.9,)
    calls = tb.evaluate_population.calls
    assert [c[1:] for c in calls] == [(10, False)] * 6 + [(30, True)] * 3 + [(40, True)]
    iterations = sum(c.result["iterations"] for c in children)
    assert iterations == 3 * 10 + 2 * 30 + 40  # 6 * 40 without extinction: 110 saved


def test_without_extinction_everyone_trains_to_the_end():
    tb = toolbox_with(lambda ind: 0.5)
    children = [SPACE.random_individual() for _ in range(3)]
    done, _ = extinction_generation(tb, children, t1=1, t2=2, t3=3, p=1, q=1, thresholds={"v1": 0.9, "v2": 0.9},
                                    extinction=False, control=None, generation=1)
    assert len(done) == 3 and [c[1] for c in tb.evaluate_population.calls] == [6, 6, 6]
    assert survivors(done, 0.5) == done and survivors(done, 0.51) == []


def run_loop(quality, **params):
    random.seed(3)
    tb = toolbox_with(quality)
    control = SearchControl(Budget(generations=30))
    p = EigenSearchParams(**{"population_size": 4, "step_size_primary": 6, "step_size_secondary": 2,
                             "t1": 2, "t2": 2, "t3": 2, "p": 2, "q": 1, "saturation_patience": 2,
                             "max_generations": 20, **params})
    state = eigen(tb, control, **vars(p))
    return state, control, tb


def test_succession_switches_then_duplication_ends_the_search():
    # fitness rises with depth up to 4 layers, then saturates
    state, control, tb = run_loop(lambda ind: min(len(ind["layers"]), 4) / 4 + 0.01)
    rows = list(state.logbook)
    phases = [r["phase"] for r in rows]
    assert phases[0] == "start" and phases[-1] == "duplication"
    k = phases.index("secondary")
    assert set(phases[1:k]) == {"primary"} and set(phases[k:-1]) == {"secondary"}
    assert {r["step_size"] for r in rows if r["phase"] == "primary"} == {6}
    assert {r["step_size"] for r in rows if r["phase"] == "secondary"} == {2}
    assert state.extra["primary_end"] == rows[k - 1]["gen"]
    v1 = [r["v1"] for r in rows]
    v2 = [r["v2"] for r in rows]
    assert v1 == sorted(v1) and v2 == sorted(v2)  # thresholds never decrease
    parents = [r["parent"] for r in rows]
    assert parents == sorted(parents)  # elitism: the parent never gets worse
    assert all(r["iterations"] + r["iterations_saved"] == 4 * 6 for r in rows if r["phase"] in ("primary", "secondary"))
    assert state.extra["iterations_saved"] > 0
    assert "duplication" in control.reason and state.extra["phase"] == "done"


def test_ablation_switches():
    state, control, _ = run_loop(lambda ind: min(len(ind["layers"]), 2) / 2 + 0.01, secondary=False,
                                 duplication=False)
    phases = {r["phase"] for r in state.logbook}
    assert phases == {"start", "primary"} and "primary succession saturated" in control.reason


def test_params_are_checked():
    with pytest.raises(ValueError, match="t1"):
        EigenSearchParams(t1=0)
    with pytest.raises(ValueError, match="mimic_parent"):
        EigenSearchParams(mimic_parent="yes")


def test_duplication_variants_cover_multi_exit_blocks_both_modes_and_train_from_scratch():
    from deap_nas.algorithms.eigen import duplication_variants
    from deap_nas.spaces import EigenIndividual
    from deap_nas.spaces.eigen import blocks

    space = EigenSpace()
    conv = {"type": "conv", "kernel": 3, "channels": 32, "stride": 1}
    parent = EigenIndividual(layers=[{**conv, "id": 0, "inputs": [-1]}, {**conv, "id": 1, "inputs": [0]},
                                     {**conv, "id": 2, "inputs": [0]}, {"id": 3, "type": "pool", "inputs": [1]},
                                     {"id": 4, "type": "pool", "inputs": [2]},
                                     {"id": 5, "type": "concat", "inputs": [3, 4]}], output=5, next_id=6)
    assert len(blocks(parent, (3, 32, 32))) == 2
    serial = duplication_variants(parent, space, 2, copy.deepcopy)
    assert [v.duplicated for v in serial] == [[0, 1, "serial"], [0, 2, "serial"]]  # block 0 has two exits
    both = duplication_variants(parent, space, 1, copy.deepcopy, ("serial", "parallel"))
    assert [v.duplicated for v in both] == [[0, 1, "serial"], [0, 1, "parallel"], [1, 1, "parallel"]]
    assert len({space.decode(v).hash() for v in both}) == 3 and all(space.is_valid(v) for v in both)
    # the variants are new networks trained from scratch (the paper trains the duplicated
    # network from scratch, Table 5): the duplication generation asks for full, fresh trainings
    state, control, tb = run_loop(lambda ind: min(len(ind["layers"]), 3) / 3 + 0.01,
                                  duplication_modes=["serial", "parallel"])
    assert state.extra["phase"] == "done" and "duplication" in control.reason
    last = state.logbook[-1]
    assert last["phase"] == "duplication" and last["nevals"] > 0
    calls = [c for c in tb.evaluate_population.calls if c[0] == last["gen"]]
    assert calls and all(stop == 6 and not resumed for _, stop, resumed in calls)
    with pytest.raises(ValueError, match="duplication_modes"):
        EigenSearchParams(duplication_modes=("serial", "mirror"))


def test_paper_config_duplicates_in_both_modes_and_old_configs_keep_their_form():
    from pathlib import Path

    import yaml

    from deap_nas.runtime.config import parse_config

    path = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "eigen_cifar10.yaml"
    cfg = parse_config(yaml.safe_load(path.read_text()))
    assert cfg.algorithm.params.duplication_modes == ("serial", "parallel")
    assert cfg.to_dict()["algorithm"]["duplication_modes"] == ["serial", "parallel"]
    old = parse_config({"algorithm": {"name": "eigen"}, "space": {"name": "eigen"}, "budget": {"generations": 1}})
    assert "duplication_modes" not in old.to_dict()["algorithm"]
