"""MiniGen encoding (sec. III-B, Table I): genome rules, decoding, shapes and sizes."""

import random

import pytest
import torch

from deap_nas.arch import INPUT
from deap_nas.nn import build
from deap_nas.runtime.schema import ConfigError, from_mapping
from deap_nas.spaces import SPACES, MiniGenIndividual, MiniGenParams, MiniGenSpace
from deap_nas.spaces.minigen import INPUT_OPS, NORMAL_OPS, OPERATIONS, keep_size_padding

# Neural architecture index 1 of Table III (sec. IV-E); the paper prints 128 as the input
# cell's (unused) channel, here None
PAPER_INDEX_1 = [
    [None, 1, ["identity", "3*3 conv", "3*3 conv"]],
    [256, 1, ["3*3 avgpool", "3*3 maxpool", "3*3 dil conv", "3*3 dil conv"]],
    [40, 1, ["3*3 avgpool", "3*3 dil conv", "5*5 dconv"]],
    [128, 1, ["5*5 dconv", "3*3 conv"]],
    [64, 1, ["1*7-7*1 conv", "3*3 avgpool", "3*3 avgpool"]],
]


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_table_1_has_nine_operations():
    assert len(OPERATIONS) == 9 and "identity" in OPERATIONS
    assert "identity" not in NORMAL_OPS and len(NORMAL_OPS) == 8
    assert set(INPUT_OPS) == {"3*3 conv", "3*3 dconv", "5*5 conv", "5*5 dconv"}


def test_random_genomes_follow_the_encoding_rules():
    space = MiniGenSpace()
    rng = random.Random(3)
    skips = 0
    for _ in range(300):
        g = space.random_individual(rng)
        assert isinstance(g, MiniGenIndividual) and not g.fitness.valid
        assert len(g) == 5
        c0, b0, al0 = g[0]
        assert c0 is None and b0 == 1
        assert len(al0) == (3 if al0[0] == "identity" else 2)  # sec. III-B
        assert all(a in INPUT_OPS for a in al0[-2:])
        skips += al0[0] == "identity"
        for c, b, al in g[1:]:
            assert c in space.params.channels and b == 1
            assert 2 <= len(al) <= 4 and "identity" not in al[1:]
        space.check_genome(g)
    assert 100 < skips < 200  # identity first with probability 1/2


def test_input_cell_keeps_32x32_with_the_authors_padding():
    space = MiniGenSpace()
    arch = space.decode(space.from_json(PAPER_INDEX_1))
    shapes = arch.shapes((3, 32, 32))
    pads = [n.params["pad"] for n in arch.nodes if n.op == "zero_pad"]
    assert pads == [17, 17, 16]  # two 3x3 stride-2 convs and the 1x1 skip (authors' code)
    assert keep_size_padding(32, 5, 2) == 18
    assert all(s[1:] == (32, 32) for i, s in shapes.items() if arch.node(i).op != "zero_pad")
    convs = [n for n in arch.nodes if n.op == "conv" and n.params.get("stride") == 2]
    assert [n.params["channels"] for n in convs] == [32, 64, 64]  # 3 -> 32 -> 64, skip 3 -> 64
    skip = convs[-1]
    assert skip.params["kernel"] == 1 and skip.params["bn"] is False and skip.params["act"] is None
    merge = next(n for n in arch.nodes if n.merge == "add")
    assert merge.op == "bn_act" and merge.params == {"bn": False, "act": "relu"}
    assert arch.output_shape((3, 32, 32)) == (64, 32, 32)


def test_decode_matches_the_built_network():
    space = MiniGenSpace()
    arch = space.decode(space.from_json(PAPER_INDEX_1))
    net = build(arch, (3, 32, 32), 10, space.default_head)
    assert n_params(net) == arch.num_params((3, 32, 32), 10, "gap_linear")
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # every pooling is followed by BN + ReLU (Table I note); convs carry their own
    ops = [n.op for n in arch.nodes]
    for i, op in enumerate(ops):
        if op == "pool":
            assert ops[i + 1] == "bn_act" and arch.nodes[i + 1].params["bn"] is True


def test_dilated_conv_is_a_plain_conv_unless_separable():
    g = MiniGenSpace().from_json(PAPER_INDEX_1)
    plain = MiniGenSpace().decode(g)
    sep = MiniGenSpace(MiniGenParams(dil_conv_separable=True)).decode(g)
    dil = [n for n in plain.nodes if n.params.get("dilation") == 2]
    assert len(dil) == 3 and all(n.op == "conv" and n.params["kernel"] == 3 for n in dil)
    assert {n.op for n in sep.nodes if n.params.get("dilation") == 2} == {"sep_conv"}
    assert sep.num_params((3, 32, 32), 10) < plain.num_params((3, 32, 32), 10)


def test_identity_first_is_a_residual_block_and_blocks_repeat_the_list():
    space = MiniGenSpace()
    g = space.from_json([[None, 1, ["3*3 conv", "5*5 dconv"]], [24, 3, ["identity", "3*3 conv"]],
                         [40, 1, ["3*3 maxpool", "3*3 conv"]], [64, 1, ["3*3 conv", "3*3 conv"]],
                         [80, 1, ["3*3 conv", "3*3 conv"]]])
    arch = space.decode(g)
    adds = [n for n in arch.nodes if n.merge == "add"]
    assert len(adds) == 3  # one skip per block of cell 1, none in the input cell
    for n in adds:
        body_out, block_in = n.inputs
        assert arch.node(body_out).op == "conv" and arch.node(body_out).params["channels"] == 24
    # each normal cell starts with a 1x1 conv to its channel size
    entries = [n for n in arch.nodes if n.op == "conv" and n.params["kernel"] == 1]
    assert [n.params["channels"] for n in entries] == [24, 40, 64, 80]
    assert arch.nodes[0].inputs == (INPUT,)


def test_without_keep_resolution_the_input_cell_downsamples():
    space = MiniGenSpace(MiniGenParams(keep_resolution=False))
    arch = space.decode(space.from_json(PAPER_INDEX_1))
    assert arch.output_shape((3, 32, 32)) == (64, 8, 8)
    skip = next(n for n in arch.nodes if n.op == "conv" and n.params["kernel"] == 1 and n.inputs == (INPUT,))
    assert skip.params["stride"] == 4  # matches the body's two stride-2 operations


@pytest.mark.parametrize("bad, why", [
    ([[None, 1, ["3*3 conv"]]] + PAPER_INDEX_1[1:], "input cell needs 2"),
    ([[None, 1, ["identity", "3*3 conv"]]] + PAPER_INDEX_1[1:], "input cell needs 2"),
    ([[None, 1, ["3*3 conv", "3*3 maxpool"]]] + PAPER_INDEX_1[1:], "input cell needs 2"),
    ([["32", 1, ["3*3 conv", "3*3 conv"]]] + PAPER_INDEX_1[1:], "no channel size"),
    (PAPER_INDEX_1[:1] + [[24, 1, ["3*3 conv", "identity"]]] + PAPER_INDEX_1[2:], "only be the first"),
    (PAPER_INDEX_1[:1] + [[24, 1, ["identity"]]] + PAPER_INDEX_1[2:], "besides 'identity'"),
    (PAPER_INDEX_1[:1] + [[24, 0, ["3*3 conv"]]] + PAPER_INDEX_1[2:], "blocks"),
    (PAPER_INDEX_1[:1] + [[24, 1, ["7*7 conv"]]] + PAPER_INDEX_1[2:], "unknown operation"),
    (PAPER_INDEX_1[:4], "list of 5 cells"),
])
def test_bad_genomes_are_rejected_with_reasons(bad, why):
    with pytest.raises(ValueError, match=why):
        MiniGenSpace().from_json(bad)


def test_the_printed_input_channel_is_read_and_ignored():
    """Sec. IV-E prints index 1 with 128 as the input cell's channel, which sec. III-B says
    has none ('.'); the authors' code mutates that slot but never reads it."""
    printed = [[128, 1, ["identity", "3*3 conv", "3*3 conv"]]] + PAPER_INDEX_1[1:]
    space = MiniGenSpace()
    assert space.from_json(printed) == PAPER_INDEX_1
    assert space.decode(space.from_json(printed)).hash() == space.decode(space.from_json(PAPER_INDEX_1)).hash()
    with pytest.raises(ValueError, match="no channel size"):  # a genome itself still has none
        space.check_genome([[32, 1, ["3*3 conv", "3*3 conv"]]] + PAPER_INDEX_1[1:])


def test_json_round_trip_and_the_papers_dot():
    space = MiniGenSpace()
    g = space.random_individual(random.Random(0))
    assert space.from_json(space.to_json(g)) == g
    dotted = [[".", 1, ["identity", "3*3 conv", "3*3 conv"]]] + PAPER_INDEX_1[1:]
    assert space.from_json(dotted) == PAPER_INDEX_1
    assert space.describe(space.from_json(PAPER_INDEX_1)).startswith("[[., 1, ['identity'")


def test_scaled_blocks_and_config_errors_name_the_field():
    space = SPACES["minigen"](from_mapping(MiniGenParams, {"blocks": [1, 2, 2, 4]}, "space"))
    g = space.random_individual(random.Random(0))
    assert [c[1] for c in g[1:]] == [1, 2, 2, 4]
    one = MiniGenSpace().decode([list(c) for c in g[:1]] + [[c[0], 1, c[2]] for c in g[1:]])
    assert space.decode(g).num_params((3, 32, 32), 10) > one.num_params((3, 32, 32), 10)
    with pytest.raises(ConfigError, match="space.blocks"):
        from_mapping(MiniGenParams, {"blocks": [1, 2]}, "space")
    with pytest.raises(ConfigError, match="space.input_channels"):
        from_mapping(MiniGenParams, {"input_channels": [32, 64, 128]}, "space")
