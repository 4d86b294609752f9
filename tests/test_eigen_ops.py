"""EIGEN space and operators (torch-free): the nine mutations, step sizes, duplication."""

from __future__ import annotations

import copy
import random
from collections import Counter

import pytest

from deap_nas.ops import OPERATORS
from deap_nas.ops.eigen import (
    STEPS,
    apply_steps,
    draw_steps,
    insert_concatenation,
    insert_convolution,
    insert_pooling,
    mut_duplicate_block,
    mut_eigen,
    mut_remove_pooling,
)
from deap_nas.spaces import SPACES, EigenIndividual, EigenParams, EigenSpace
from deap_nas.spaces.eigen import (
    GLOBAL_POOL_ID,
    block_exits,
    blocks,
    check_genome,
    count,
    duplicate_block,
)

SPACE = EigenSpace()


def conv(i, src, k=3, c=32, s=1):
    return {"id": i, "type": "conv", "inputs": [src], "kernel": k, "channels": c, "stride": s}


def genome(layers, output):
    return EigenIndividual(layers=layers, output=output, next_id=max([x["id"] for x in layers], default=-1) + 1)


def sample():
    """conv(32x32) -> pool(16) -> conv -> conv, concat(pool, conv3) (16) -> pool (8) -> conv (8)."""
    return genome([conv(0, -1), {"id": 1, "type": "pool", "inputs": [0]}, conv(2, 1, c=16), conv(3, 2, k=1),
                   {"id": 4, "type": "concat", "inputs": [1, 3]}, {"id": 5, "type": "pool", "inputs": [4]},
                   conv(6, 5, c=64)], output=6)


def layers_of(g, t):
    return [x for x in g["layers"] if x["type"] == t]


def test_poor_initialisation_is_global_pooling_only():
    g = SPACE.random_individual()
    arch = SPACE.decode(g)
    assert [n.op for n in arch.nodes] == ["global_pool"] and arch.output == GLOBAL_POOL_ID
    assert arch.num_params((3, 32, 32), 10, "linear") == 3 * 10 + 10  # the classifier only
    assert SPACES["eigen"] is EigenSpace
    assert SPACE.from_json(SPACE.to_json(sample())) == sample()


def test_check_genome_names_the_problem():
    bad = sample()
    bad["layers"][4]["inputs"] = [3, 3]
    with pytest.raises(ValueError, match="two different inputs"):
        check_genome(bad)
    bad = sample()
    bad["layers"][0]["inputs"] = [6]
    with pytest.raises(ValueError, match="listed before"):
        check_genome(bad)
    with pytest.raises(ValueError, match="channel_choices"):
        EigenParams(channel_choices=[])


@pytest.mark.parametrize("seed", range(5))
def test_insert_convolution_adds_one_default_conv(seed):
    g, before = sample(), sample()
    assert insert_convolution(g, SPACE, random.Random(seed))
    SPACE.validate(g)
    new = [x for x in g["layers"] if x["id"] not in {y["id"] for y in before["layers"]}]
    assert len(new) == 1 and new[0] == {**conv(7, new[0]["inputs"][0]), "id": 7}
    assert count(g, "conv") == count(before, "conv") + 1
    assert count(g, "pool") == 2 and count(g, "concat") == 1


@pytest.mark.parametrize("seed", range(5))
def test_insert_pooling_adds_one_pooling_where_valid(seed):
    g = sample()
    assert insert_pooling(g, SPACE, random.Random(seed))
    SPACE.validate(g)
    assert count(g, "pool") == 3 and count(g, "conv") == 4 and count(g, "concat") == 1


def test_insert_pooling_cannot_apply_on_a_1x1_map():
    space = EigenSpace(EigenParams(input_shape=(3, 1, 1)))
    g = space.random_individual()
    assert not insert_pooling(g, space, random.Random(0))
    assert g == space.random_individual()


@pytest.mark.parametrize("seed", range(5))
def test_insert_concatenation_joins_two_layers_of_equal_size(seed):
    g = sample()
    assert insert_concatenation(g, SPACE, random.Random(seed))
    SPACE.validate(g)
    shapes = SPACE.decode(g).shapes((3, 32, 32))
    shapes[-1] = (3, 32, 32)
    (new,) = [x for x in layers_of(g, "concat") if x["id"] == 7]
    a, b = new["inputs"]
    assert a != b and shapes[a][1:] == shapes[b][1:]
    assert count(g, "concat") == 2 and count(g, "conv") == 4 and count(g, "pool") == 2


@pytest.mark.parametrize("kind", ["conv", "pool", "concat"])
def test_remove_takes_away_one_layer_of_its_kind(kind):
    step = STEPS[{"conv": "remove_convolution", "pool": "remove_pooling", "concat": "remove_concatenation"}[kind]]
    removed_ids = set()
    for seed in range(8):
        g = sample()
        assert step(g, SPACE, random.Random(seed))
        SPACE.validate(g)
        assert count(g, kind) == count(sample(), kind) - 1
        gone = [x for x in sample()["layers"] if x["id"] not in {y["id"] for y in g["layers"]}]
        assert sum(1 for x in gone if x["type"] == kind) == 1
        if kind != "concat":  # (a concat's dropped input branch may go with it)
            assert len(gone) == 1
        removed_ids |= {x["id"] for x in gone if x["type"] == kind}
    assert len(removed_ids) >= (2 if kind != "concat" else 1)  # a random choice, not always the same


def test_remove_concatenation_reads_one_input_and_drops_a_dead_branch():
    g = genome([conv(0, -1), conv(1, -1, c=16), {"id": 2, "type": "concat", "inputs": [0, 1]}], output=2)
    assert STEPS["remove_concatenation"](g, SPACE, random.Random(0))
    assert len(g["layers"]) == 1 and g["output"] == g["layers"][0]["id"]


def test_removal_that_would_break_a_concat_is_not_taken():
    # removing pool 1 would make concat(1 -> 32x32, 3 -> 16x16) invalid: only pool 5 may go
    g = genome([conv(0, -1), {"id": 1, "type": "pool", "inputs": [0]}, conv(2, 0, s=2),
                {"id": 3, "type": "concat", "inputs": [1, 2]}, {"id": 5, "type": "pool", "inputs": [3]}], output=5)
    for seed in range(5):
        h = copy.deepcopy(g)
        assert STEPS["remove_pooling"](h, SPACE, random.Random(seed))
        assert [x["id"] for x in layers_of(h, "pool")] == [1]


@pytest.mark.parametrize("key,name,choices", [("channels", "alter_channels", (16, 32, 48, 64, 96)),
                                              ("stride", "alter_stride", (1, 2)),
                                              ("kernel", "alter_filter_size", (1, 3))])
def test_alter_changes_one_setting_of_one_conv(key, name, choices):
    for seed in range(6):
        g = sample()
        assert STEPS[name](g, SPACE, random.Random(seed))
        SPACE.validate(g)
        diffs = [(a, b) for a, b in zip(sample()["layers"], g["layers"], strict=True) if a != b]
        assert len(diffs) == 1
        old, new = diffs[0]
        assert old["type"] == "conv" and {k for k in old if old[k] != new[k]} == {key}
        assert new[key] in choices and new[key] != old[key]


def test_alter_stride_skips_convs_where_stride_2_breaks_a_concat():
    # stride 2 on conv 2 would concat a 16x16 map with conv 0's 32x32 one: never chosen
    g = genome([conv(0, -1), conv(2, 0), {"id": 3, "type": "concat", "inputs": [0, 2]}, conv(4, 3)], output=4)
    changed = set()
    for seed in range(8):
        h = copy.deepcopy(g)
        assert STEPS["alter_stride"](h, SPACE, random.Random(seed))
        SPACE.validate(h)
        strides = {x["id"]: x["stride"] for x in layers_of(h, "conv")}
        assert strides[2] == 1 and sorted(strides.values()) == [1, 1, 2]
        changed |= {i for i, s in strides.items() if s == 2}
    assert changed == {0, 4}


def test_deap_wrapper_contract_and_registry():
    ind = SPACE.random_individual()
    ind.fitness.values = (0.5,)
    out = mut_remove_pooling(ind, space=SPACE, rng=random.Random(0))
    assert out == (ind,) and out[0] is ind and ind.applied is False and ind.fitness.values == (0.5,)
    for name in ("mut_insert_convolution", "mut_insert_concatenation", "mut_insert_pooling",
                 "mut_remove_convolution", "mut_remove_concatenation", "mut_remove_pooling",
                 "mut_alter_channels", "mut_alter_stride", "mut_alter_filter_size", "mut_eigen"):
        assert name in OPERATORS


def test_step_size_draws_lie_in_1_to_m():
    rng = random.Random(0)
    draws = Counter(draw_steps(7, rng) for _ in range(3000))
    assert set(draws) == set(range(1, 8))
    assert draw_steps(1, rng) == 1
    with pytest.raises(ValueError, match="step_size"):
        draw_steps(0, rng)


@pytest.mark.parametrize("seed", range(8))
def test_mut_eigen_applies_the_drawn_number_of_steps_and_stays_valid(seed):
    ind = SPACE.random_individual()
    (ind,) = mut_eigen(ind, space=SPACE, step_size=30, rng=random.Random(seed))
    assert len(ind.mutations) == random.Random(seed).randint(1, 30)  # insert-conv always applies
    assert set(ind.mutations) <= set(STEPS)
    SPACE.validate(ind)


def test_long_random_walks_stay_valid_and_respect_max_layers():
    space = EigenSpace(EigenParams(max_layers=8))
    rng = random.Random(1)
    g = space.random_individual()
    for _ in range(40):
        apply_steps(g, space, 10, rng)
        space.validate(g)
        assert len(g["layers"]) <= 8


def test_blocks_split_by_feature_map_size():
    g = sample()
    assert blocks(g, (3, 32, 32)) == [[0], [1, 2, 3, 4], [5, 6]]
    assert block_exits(g, [1, 2, 3, 4]) == [4]


def test_duplication_repeats_exactly_one_same_resolution_block():
    g = sample()
    added = duplicate_block(g, [1, 2, 3, 4], times=1)
    SPACE.validate(g)
    (copy_ids,) = added
    by_id = {x["id"]: x for x in g["layers"]}
    # the copy: the block's layers but its entry pooling (which would halve the map again)
    assert [by_id[i]["type"] for i in copy_ids] == ["conv", "conv", "concat"]
    assert [(by_id[i].get("kernel"), by_id[i].get("channels")) for i in copy_ids[:2]] == [(3, 16), (1, 32)]
    assert by_id[copy_ids[0]]["inputs"] == [4]  # fed by the block's exit
    assert by_id[copy_ids[2]]["inputs"] == [4, copy_ids[1]]  # the pooling's readers read the exit
    assert by_id[5]["inputs"] == [copy_ids[2]]  # the next block reads the copy's exit
    new_blocks = blocks(g, (3, 32, 32))
    assert new_blocks[0] == [0] and new_blocks[2] == [5, 6]
    assert new_blocks[1] == [1, 2, 3, 4, *copy_ids]
    shapes = SPACE.decode(g).shapes((3, 32, 32))
    assert {shapes[i][1:] for i in copy_ids} == {(16, 16)}


def test_duplication_twice_and_an_entry_conv_keeps_the_resolution():
    g = genome([conv(0, -1), conv(1, 0, s=2), conv(2, 1, c=48)], output=2)
    (a, b) = duplicate_block(g, [1, 2], times=2)
    SPACE.validate(g)
    by_id = {x["id"]: x for x in g["layers"]}
    assert [by_id[i]["stride"] for i in a + b] == [1, 1, 1, 1]
    assert g["output"] == b[-1] and by_id[b[0]]["inputs"] == [a[-1]]
    assert SPACE.decode(g).output_shape((3, 32, 32)) == (48, 1, 1)


def two_exit_genome():
    """Block 32x32 [0, 1, 2] with two exits (1 and 2, each pooled), block 16x16 [3, 4, 5]
    with two entries (the poolings) joined by a concat."""
    return genome([conv(0, -1), conv(1, 0), conv(2, 0), {"id": 3, "type": "pool", "inputs": [1]},
                   {"id": 4, "type": "pool", "inputs": [2]}, {"id": 5, "type": "concat", "inputs": [3, 4]}], output=5)


def conv_params(c_in, c_out, k=3):
    return k * k * c_in * c_out + 2 * c_out  # no bias before BatchNorm; BN scale and shift


def params(g):
    return SPACE.decode(g).num_params((3, 32, 32), 10, "linear")


def test_serial_duplication_of_a_multi_exit_block():
    g = two_exit_genome()
    assert block_exits(g, [0, 1, 2]) == [1, 2]
    before = params(g)
    (copy_ids,) = duplicate_block(g, [0, 1, 2], times=1, mode="serial")
    SPACE.validate(g)
    by_id = {x["id"]: x for x in g["layers"]}
    c0, c1, c2 = copy_ids
    # the copy is fed by the block's last exit; each exit's reader reads the copy's exit
    assert by_id[c0]["inputs"] == [2] and by_id[c1]["inputs"] == [c0] and by_id[c2]["inputs"] == [c0]
    assert by_id[3]["inputs"] == [c1] and by_id[4]["inputs"] == [c2]
    # the original exit 1 fed only the pooling: it is gone; the original chain 0 -> 2 feeds the copy
    assert 1 not in by_id and sorted(by_id) == sorted([0, 2, c0, c1, c2, 3, 4, 5])
    assert blocks(g, (3, 32, 32)) == [[0, 2, c0, c1, c2], [3, 4, 5]]
    # parameters: the copy adds three 32 -> 32 convs (its entry reads the exit's 32
    # channels, not the image's 3); the dropped original exit 1 was one 32 -> 32 conv
    assert params(g) - before == 3 * conv_params(32, 32) - conv_params(32, 32)


def test_parallel_duplication_concatenates_every_exit_with_its_copy():
    g = two_exit_genome()
    before = params(g)
    (copy_ids,) = duplicate_block(g, [0, 1, 2], times=1, mode="parallel")
    SPACE.validate(g)
    by_id = {x["id"]: x for x in g["layers"]}
    c0, c1, c2 = copy_ids[:3]
    assert by_id[c0]["inputs"] == [-1] and by_id[c0]["stride"] == 1  # the block's own input
    assert by_id[c1]["inputs"] == [c0] and by_id[c2]["inputs"] == [c0]
    cat1, cat2 = by_id[3]["inputs"][0], by_id[4]["inputs"][0]
    assert by_id[cat1] == {"id": cat1, "type": "concat", "inputs": [1, c1]}
    assert by_id[cat2] == {"id": cat2, "type": "concat", "inputs": [2, c2]}
    shapes = SPACE.decode(g).shapes((3, 32, 32))
    assert shapes[3] == shapes[4] == (64, 16, 16) and shapes[5] == (128, 16, 16)
    # the copy's three convs; the classifier reads 128 instead of 64 channels
    assert params(g) - before == conv_params(3, 32) + 2 * conv_params(32, 32) + 64 * 10


def test_serial_duplication_of_a_multi_entry_block_keeps_its_size():
    g = genome([conv(0, -1), conv(1, 0), conv(2, 0, s=2), conv(3, 1, s=2, c=16),
                {"id": 4, "type": "concat", "inputs": [2, 3]}, conv(5, 4, k=1, c=64)], output=5)
    assert blocks(g, (3, 32, 32)) == [[0, 1], [2, 3, 4, 5]]
    (copy_ids,) = duplicate_block(g, [2, 3, 4, 5], times=2, mode="serial")[1:]
    SPACE.validate(g)
    by_id = {x["id"]: x for x in g["layers"]}
    c2, c3, c4, c5 = copy_ids
    # both entries of the second copy read the first copy's exit, at stride 1
    first_exit = by_id[c2]["inputs"][0]
    assert by_id[c3]["inputs"] == [first_exit] and by_id[first_exit]["type"] == "conv"
    assert by_id[c2]["stride"] == by_id[c3]["stride"] == 1
    assert by_id[c4]["inputs"] == [c2, c3] and g["output"] == c5
    assert SPACE.decode(g).output_shape((3, 32, 32)) == (64, 1, 1)
    assert {SPACE.decode(g).shapes((3, 32, 32))[i][1:] for i in copy_ids} == {(16, 16)}


def test_duplicate_block_rejects_bad_arguments():
    g = two_exit_genome()
    with pytest.raises(ValueError, match="mode"):
        duplicate_block(g, [0, 1, 2], mode="diagonal")
    with pytest.raises(ValueError, match="times"):
        duplicate_block(g, [0, 1, 2], times=0)
    with pytest.raises(ValueError, match="live layers"):
        duplicate_block(g, [0, 99])
    assert g == two_exit_genome()


@pytest.mark.parametrize("seed", range(6))
def test_mut_duplicate_block_is_registered_reproducible_and_valid(seed):
    assert OPERATORS["mut_duplicate_block"] is mut_duplicate_block
    a, b = two_exit_genome(), two_exit_genome()
    (a,) = mut_duplicate_block(a, space=SPACE, max_times=2, rng=random.Random(seed))
    (b,) = mut_duplicate_block(b, space=SPACE, max_times=2, rng=random.Random(seed))
    assert a == b and a.duplicated == b.duplicated and a.applied
    block, times, mode = a.duplicated
    assert block in (0, 1) and times in (1, 2) and mode in ("serial", "parallel")
    SPACE.validate(a)
    assert params(a) > params(two_exit_genome())


def test_mut_duplicate_block_draws_every_block_and_mode_and_reports_when_it_cannot():
    drawn = Counter()
    for seed in range(200):
        (g,) = mut_duplicate_block(two_exit_genome(), space=SPACE, max_times=1, rng=random.Random(seed))
        drawn[tuple(g.duplicated)] += 1
    # block 1 in series is the network itself: its entries are poolings (left out in a
    # copy) and its concat then joins one tensor with itself (collapsed), so it is never kept
    assert set(drawn) == {(0, 1, "serial"), (0, 1, "parallel"), (1, 1, "parallel")}
    assert min(drawn.values()) > 40
    (g,) = mut_duplicate_block(SPACE.random_individual(), space=SPACE, rng=random.Random(0))
    assert g.duplicated is None and not g.applied and g == SPACE.random_individual()
    capped = EigenSpace(EigenParams(max_layers=6))
    (g,) = mut_duplicate_block(two_exit_genome(), space=capped, rng=random.Random(0))
    assert not g.applied and g == two_exit_genome()


def test_sample_eigen_draws_architectures_of_random_size_for_random_search() -> None:
    """The random-search twin of EIGEN samples the space, not only its start network."""
    from deap import base

    from deap_nas.algorithms import Budget, SearchControl
    from deap_nas.algorithms.random_search import RandomSearch
    from deap_nas.ops.eigen import sample_eigen

    rng = random.Random(0)
    sizes = [len(SPACE.decode(sample_eigen(SPACE, steps=40, rng=rng)).nodes) for _ in range(200)]
    assert min(sizes) <= 3 and max(sizes) >= 12  # start network plus 1..40 operations
    assert len(set(sizes)) >= 8
    a = [SPACE.decode(sample_eigen(SPACE, 20, random.Random(3))).hash() for _ in range(2)]
    assert a[0] == a[1]  # deterministic in its rng
    assert OPERATORS["sample_eigen"] is sample_eigen

    toolbox = base.Toolbox()
    toolbox.register("individual", SPACE.random_individual)
    toolbox.register("sample", sample_eigen, space=SPACE, steps=30)
    toolbox.register("evaluate", lambda ind: (float(len(SPACE.decode(ind).nodes)),))
    toolbox.register("map", map)
    algo = RandomSearch(toolbox, population_size=5, seed=1, control=SearchControl(Budget(evaluations=10)))
    state = algo.run()
    assert state.hall_of_fame[0].fitness.values[0] > 3  # sampled, not the pooling-only start
