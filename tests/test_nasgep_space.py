"""NASGEP space: decoding cells over ADF genes to the shared architecture."""

from __future__ import annotations

import random

import pytest

from deap_nas.arch import Architecture
from deap_nas.spaces import SPACES, NasgepParams, NasgepSpace
from deap_nas.spaces.nasgep import CONV_KINDS, conv_node_params


def genome(normal, reduction, ngenes, rgenes):
    return NasgepSpace(NasgepParams()).make_individual(normal, reduction, ngenes, rgenes)


def small(**kw):
    return NasgepSpace(NasgepParams(channels=4, cells_per_stage=1, **kw))


def test_conv_kinds_and_blocks():
    assert len(CONV_KINDS) == 19  # pw + 6 kernels x (dw, sep, isep)
    assert conv_node_params("pw") == ("conv", {"kernel": 1, "stride": 1, "order": "act_conv_bn"})
    assert conv_node_params("isep_1x7", 2) == ("inv_sep_conv", {"kernel": [1, 7], "stride": 2, "order": "act_conv_bn"})
    assert conv_node_params("dw_5x3")[0] == "dw_conv"
    with pytest.raises(ValueError, match="unknown NASGEP convolution"):
        conv_node_params("dw_9x9")


def test_hand_written_genome_decodes_to_the_expected_nodes():
    sp = small()
    # normal cell: cat(g1, g2); g1 = sep_3x3(h1), g2 = add(h2, dw_5x5@h1)
    # reduction cell: r1 alone; r1 = isep_1x7@h2 (stride 2)
    g = sp.make_individual(["cat", "n1", "n2", "n1", "n1", "n1", "n1", "n1", "n1"],
                           ["r1", "r1", "r1", "r1", "r1", "r1", "r1", "r1", "r1"],
                           {"n1": ["sep_3x3", "h1", "h1"], "n2": ["add", "h2", "dw_5x5@h1"]},
                           {"r1": ["isep_1x7@h2", "pw@h1", "pw@h1"]})
    assert set(g["genes"]["normal"]) == {"n1", "n2"} and set(g["genes"]["reduction"]) == {"r1"}
    arch = sp.decode(g)
    ops = [(n.op, n.merge) for n in arch.nodes]
    # stem; normal cell 1 (sep, dw, add, cat, 1x1 to 4); reduction; normal cell 2 with h2 preprocessing ...
    assert ops[:6] == [("conv", "none"), ("sep_conv", "none"), ("dw_conv", "none"), ("identity", "add"),
                       ("identity", "concat"), ("conv", "none")]
    assert arch.nodes[5].params["channels"] == 4  # cat widened to 8 -> back to the cell width
    red = arch.nodes[6]
    assert red.op == "inv_sep_conv" and red.params["stride"] == 2 and red.inputs == (0,)  # h2 of cell 2 = stem
    assert arch.nodes[7].op == "conv" and arch.nodes[7].params["channels"] == 8  # reduction doubles the width
    shapes = arch.shapes((3, 32, 32))
    assert shapes[5] == (4, 32, 32) and shapes[7] == (8, 16, 16)
    assert arch.output_shape((3, 32, 32)) == (16, 8, 8)
    assert arch.nodes[-1].op == "bn_act"
    # the cell after a reduction preprocesses h_{i-2} with a stride-2 1x1 block to h_{i-1}'s width
    pre = arch.nodes[8]
    assert pre.op == "conv" and pre.params["stride"] == 2 and pre.params["channels"] == 8 and pre.inputs == (5,)


def test_add_puts_the_widest_input_first_and_copies_repeated_inputs():
    sp = small()
    g = sp.make_individual(["add", "cat", "n1", "n1", "n1", "n1", "n1", "n1", "n1"],
                           ["r1"] * 9, {"n1": ["h1", "h1", "h1"]}, {"r1": ["pw@h1", "pw@h1", "pw@h1"]})
    arch = sp.decode(g)
    arch.validate((3, 32, 32))
    adds = [n for n in arch.nodes if n.merge == "add"]
    assert adds, "the cell adds"
    widths = arch.shapes((3, 32, 32))
    first = adds[0]
    assert widths[first.inputs[0]][0] >= widths[first.inputs[1]][0]
    for n in arch.nodes:
        assert len(set(n.inputs)) == len(n.inputs)


def test_random_genomes_decode_build_and_json_round_trip():
    sp = NasgepSpace(NasgepParams())
    rng = random.Random(0)
    for _ in range(10):
        g = sp.random_individual(rng)
        arch = sp.decode(g)
        assert arch.output_shape((3, 32, 32)) == (64, 8, 8)
        assert Architecture.from_json(arch.to_json()).hash() == arch.hash()
        back = sp.from_json(sp.to_json(g))
        assert back == g and type(back) is type(g) and not back.fitness.valid
        keys = sp.weight_store_keys(g)
        assert keys and all(arch.node(i).op in ("conv", "dw_conv", "sep_conv", "inv_sep_conv") for i in keys)
        assert all(k[0].startswith("gene/") and k[1].startswith("conv/") for k in keys.values())


def test_paper_size_candidates_stay_near_the_parameter_limit():
    sp = NasgepSpace(NasgepParams())  # 16 feature maps, N = 3
    rng = random.Random(1)
    counts = [sp.decode(sp.random_individual(rng)).num_params((3, 32, 32), 10) for _ in range(10)]
    assert min(counts) > 10_000 and sorted(counts)[len(counts) // 2] < 300_000


def test_invalid_genomes_and_params_name_the_problem():
    sp = small()
    g = sp.random_individual(random.Random(0))
    g["normal"][0] = "sep_3x3"
    with pytest.raises(ValueError, match="normal cell"):
        sp.decode(g)
    with pytest.raises(ValueError, match="convs"):
        NasgepParams(convs=("dw_9x9",))
    with pytest.raises(ValueError, match="cells_per_stage"):
        NasgepParams(cells_per_stage=0)
    assert SPACES["nasgep"] is NasgepSpace


def test_cell_drawing_lists_every_expressed_block():
    sp = small()
    g = sp.make_individual(["cat", "n1", "n2", "n1", "n1", "n1", "n1", "n1", "n1"], ["r1"] * 9,
                           {"n1": ["sep_3x3", "h1", "h1"], "n2": ["add", "h2", "dw_5x5@h1"]},
                           {"r1": ["isep_1x7@h2", "pw@h1", "pw@h1"]})
    assert sp.cell_expression(g, "normal") == "cat(sep 3x3(h_{i-1}), +(h_{i-2}, dep 5x5(h_{i-1})))"
    dot = sp.cell_dot(g, "normal", "best normal cell")
    for label in ("cat", "sep 3x3", "dep 5x5", "h_{i-1}", "h_{i-2}", "h_i"):
        assert f'label="{label}"' in dot
    assert sp.cell_expression(g, "reduction") == "isep 1x7(h_{i-2})"


def test_every_space_takes_its_default_head_from_its_head_parameter():
    """``evaluation.head`` unset: the head is the space's ``head`` parameter, for NASGEP too
    (it used to fall back to the base class's fixed head and ignore ``space.head``)."""
    from deap_nas.spaces import SPACES

    for name, cls in SPACES.items():
        space = cls()
        assert space.default_head == space.params.head, name
    changed = SPACES["nasgep"](SPACES["nasgep"].Params(head="linear"))
    assert changed.default_head == "linear"
