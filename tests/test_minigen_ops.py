"""MiniGen operators: eq. 1 decay, eq. 2 softmax selection, cell crossover, the three
mutation levels at their rates, top-k elitism (torch-free, statistical where random)."""

import math
import random

import pytest
from deap import base, tools

from deap_nas.ops import OPERATORS
from deap_nas.ops.minigen import (
    cx_cells,
    decay_penalty,
    mean_accuracy,
    mut_minigen,
    performance_score,
    sel_softmax,
    sel_top_k,
    softmax_probabilities,
    stamp_birth,
)
from deap_nas.spaces import MiniGenIndividual, MiniGenSpace
from deap_nas.spaces.minigen import INPUT_OPS, OPERATIONS

SPACE = MiniGenSpace()


def scored(acc_history, birth):
    ind = stamp_birth(MiniGenIndividual([]), birth)
    ind.acc_history = list(acc_history)
    return ind


def within(observed: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(observed - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


def test_decay_formula_of_eq_1():
    assert decay_penalty(3, 8) == pytest.approx(0.05)  # the paper's example
    ind = scored([0.30, 0.40, 0.44], birth=3)
    assert mean_accuracy(ind) == pytest.approx(0.38)
    assert performance_score(ind, 8) == pytest.approx(0.38 - 0.05)
    assert performance_score(ind, 3) == pytest.approx(0.38)
    assert performance_score(ind, 8, decay=0.0) == pytest.approx(0.38)  # decay off
    assert performance_score(ind, 13, decay=0.02) == pytest.approx(0.38 - 0.2)


def test_softmax_probabilities_match_eq_2():
    p = softmax_probabilities([0.1, 0.5, 0.3])
    z = math.exp(0.1) + math.exp(0.5) + math.exp(0.3)
    assert p == pytest.approx([math.exp(0.1) / z, math.exp(0.5) / z, math.exp(0.3) / z])
    sharp = softmax_probabilities([0.1, 0.5, 0.3], temperature=0.1)
    assert sharp[1] > p[1] and sum(sharp) == pytest.approx(1.0)


def test_sel_softmax_draws_at_eq_2_frequencies():
    inds = [scored([a], 0) for a in (0.0, 1.0, 2.0)]
    scores = [0.0, 1.0, 2.0]
    n = 30000
    picks = sel_softmax(inds, n, scores=scores, rng=random.Random(1))
    expected = softmax_probabilities(scores)  # 0.090, 0.245, 0.665
    for ind, p in zip(inds, expected, strict=True):
        count = sum(1 for x in picks if x is ind)
        assert within(count, n, p), (count, n * p)


def test_sel_softmax_defaults_to_fitness_and_checks_lengths():
    creator_ind = MiniGenIndividual([])
    creator_ind.fitness.values = (0.5,)
    assert sel_softmax([creator_ind], 3, rng=random.Random(0)) == [creator_ind] * 3
    with pytest.raises(ValueError, match="2 scores for 1"):
        sel_softmax([creator_ind], 1, scores=[0.1, 0.2])


def test_sel_top_k_ranks_by_performance_score():
    old_good = scored([0.50], birth=0)   # ps at generation 10: 0.40
    young = scored([0.45], birth=9)      # 0.44
    mid = scored([0.42], birth=10)       # 0.42
    assert sel_top_k([old_good, young, mid], 2, generation=10) == [young, mid]
    assert sel_top_k([old_good, young, mid], 2, generation=10, decay=0.0) == [old_good, young]


def test_crossover_takes_each_cell_whole_from_one_parent():
    rng = random.Random(5)
    swaps = 0
    trials = 400
    for _ in range(trials):
        a, b = SPACE.random_individual(rng), SPACE.random_individual(rng)
        a0 = [list(map(lambda x: list(x) if isinstance(x, list) else x, c)) for c in a]
        b0 = [list(map(lambda x: list(x) if isinstance(x, list) else x, c)) for c in b]
        c1, c2 = cx_cells(a, b, rng=rng)
        for i in range(5):
            assert (c1[i], c2[i]) in ((a0[i], b0[i]), (b0[i], a0[i]))
            if a0[i] != b0[i]:
                swaps += c1[i] == b0[i]
        SPACE.check_genome(c1)
        SPACE.check_genome(c2)
    assert within(swaps, trials * 5, 0.5)  # indpb = 0.5 per cell


def _count(rng, trials, **rates):
    """Per-level change counts of mut_minigen over ``trials`` random genomes."""
    counts = {"channel": 0, "body": 0, "first": 0, "input_body": 0, "input_skip_off": 0, "list": 0}
    n = {"channel": 0, "body": 0, "first": 0, "input_body": 0, "input_skip_off": 0, "list": 0}
    for _ in range(trials):
        g = SPACE.random_individual(rng)
        g[0][2] = ["identity", "3*3 conv", "5*5 conv"]
        for cell in g[1:]:  # 5 actions: longer than any random list (2..4)
            cell[2] = ["3*3 conv", "3*3 maxpool", "5*5 dconv", "3*3 avgpool", "3*3 conv"]
        before = [[c, b, list(al)] for c, b, al in g]
        (g,) = mut_minigen(g, SPACE, rng=rng, **rates)
        SPACE.check_genome(g)
        n["input_skip_off"] += 1
        counts["input_skip_off"] += g[0][2][0] != "identity"
        if g[0][2][0] == "identity":
            n["input_body"] += 2
            counts["input_body"] += sum(x != y for x, y in zip(g[0][2][1:], before[0][2][1:], strict=True))
        for (c, _, al), (c0, _, al0) in zip(g[1:], before[1:], strict=True):
            n["channel"] += 1
            counts["channel"] += c != c0
            n["list"] += 1
            counts["list"] += len(al) != 5
            if len(al) == 5:
                n["first"] += 1
                counts["first"] += al[0] != al0[0]
                n["body"] += 4
                counts["body"] += sum(x != y for x, y in zip(al[1:], al0[1:], strict=True))
    return counts, n


def test_channel_mutation_happens_at_p_c():
    counts, n = _count(random.Random(11), 1500, p_op=0.0, p_channel=0.3, p_list=0.0)
    assert within(counts["channel"], n["channel"], 0.3 * 5 / 6)  # a redraw may pick the same size
    assert counts["body"] == counts["first"] == counts["list"] == counts["input_skip_off"] == 0


def test_operation_mutation_happens_at_p_o():
    counts, n = _count(random.Random(12), 1500, p_op=0.5, p_channel=0.0, p_list=0.0)
    assert within(counts["body"], n["body"], 0.5 * 7 / 8)  # later positions: 8 operations
    assert within(counts["first"], n["first"], 0.5 * 8 / 9)  # first position: all 9 (identity too)
    assert within(counts["input_body"], n["input_body"], 0.5 * 3 / 4)  # input cell: 4 convolutions
    assert within(counts["input_skip_off"], n["input_skip_off"], 0.5 * 4 / 5)  # skip gene: 5 options
    assert counts["channel"] == counts["list"] == 0


def test_whole_list_mutation_happens_at_p_b():
    counts, n = _count(random.Random(13), 1500, p_op=0.0, p_channel=0.0, p_list=0.2)
    assert within(counts["list"], n["list"], 0.2)
    assert counts["channel"] == counts["body"] == counts["first"] == 0


def test_depth_ramp_raises_later_cells_rates():
    rng = random.Random(4)
    first = last = 0
    for _ in range(2000):
        g = SPACE.random_individual(rng)
        c1, c4 = g[1][0], g[4][0]
        mut_minigen(g, SPACE, p_op=0.0, p_channel=0.3, p_list=0.0, depth_ramp=0.5, rng=rng)
        first += g[1][0] != c1
        last += g[4][0] != c4
    assert within(first, 2000, 0.3 * (1 + 0.5 * 1 / 4) * 5 / 6)
    assert within(last, 2000, 0.45 * 5 / 6)


def test_mutation_keeps_identity_first_only_and_input_cell_rules():
    rng = random.Random(2)
    for _ in range(500):
        g = SPACE.random_individual(rng)
        (g,) = mut_minigen(g, SPACE, p_op=1.0, p_channel=1.0, p_list=0.5, rng=rng)
        SPACE.check_genome(g)
        assert g[0][0] is None
        assert all(a in (*INPUT_OPS, "identity") for a in g[0][2])
        for _, _, al in g[1:]:
            assert all(a in OPERATIONS for a in al)


def test_operators_work_in_a_plain_deap_toolbox():
    assert {"cx_cells", "mut_minigen", "sel_softmax", "sel_top_k"} <= set(OPERATORS)
    tb = base.Toolbox()
    tb.register("individual", SPACE.random_individual)
    tb.register("mate", cx_cells, indpb=0.5)
    tb.register("mutate", mut_minigen, space=SPACE, p_op=0.5, p_channel=0.3, p_list=0.2)
    random.seed(0)
    pop = [tb.individual() for _ in range(4)]
    for ind in pop:
        ind.fitness.values = (random.random(),)
    parents = sel_softmax(pop, 2)
    c1, c2 = (tb.clone(p) for p in parents)
    c1, c2 = tb.mate(c1, c2)
    (c1,) = tb.mutate(c1)
    SPACE.check_genome(c1)
    hof = tools.HallOfFame(2)
    hof.update(pop)
    assert len(hof) == 2
