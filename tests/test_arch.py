"""The architecture description: validation, shapes, canonical hash, JSON and dot (no torch)."""

import json
import random
import sys

import pytest

from deap_nas.arch import (
    INPUT,
    Architecture,
    ArchitectureError,
    HeadSpec,
    Node,
    get_op,
    sequential,
)


def diamond(ids=(0, 1, 2, 3)) -> Architecture:
    a, b, c, d = ids
    return Architecture(
        [
            Node(a, "conv", {"channels": 8}),
            Node(b, "conv", {"channels": 8, "kernel": 5}, inputs=(a,)),
            Node(c, "pool", {"type": "avg", "stride": 1}, inputs=(a,)),
            Node(d, "identity", inputs=(b, c), merge="add"),
        ],
        output=d,
    )


def test_arch_layer_does_not_import_torch():
    import subprocess

    code = "import sys, deap_nas.arch; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shapes_of_a_sequential_network():
    a = sequential(
        [
            ("conv", {"channels": 16}),
            ("pool", {"type": "max", "kernel": 3, "stride": 2}),
            ("conv", {"kernel": 5, "stride": 2}),
            ("pool", {"kernel": 2, "stride": None, "channel_mult": 2.0}),
            ("conv", {"kernel": 3, "padding": "valid"}),
        ]
    )
    assert a.shapes((1, 28, 28)) == {
        0: (16, 28, 28),
        1: (16, 14, 14),
        2: (16, 7, 7),
        3: (32, 3, 3),
        4: (32, 1, 1),
    }


def test_param_count_by_hand():
    # conv 1->8 3x3 + BN: 72 + 16; sep 8->16 5x5 no BN with bias: 200 + 128 + 16
    a = sequential([("conv", {"channels": 8}), ("sep_conv", {"channels": 16, "kernel": 5, "bn": False})])
    assert a.num_params((1, 8, 8)) == 72 + 16 + 200 + 128 + 16
    # head gap_linear 16 -> 10
    assert a.num_params((1, 8, 8), 10) == 72 + 16 + 200 + 128 + 16 + 170
    # concat_pool: BN1d(32) + linear 32->10
    assert a.num_params((1, 8, 8), 10, "concat_pool") == 432 + 64 + 330


def test_mlp3_head_widths_follow_the_macro_nas_paper():
    spec = HeadSpec.parse("mlp3")
    # 64 channels of 4x4 = 1024 features -> 256 -> 128 -> classes
    assert spec.mlp_widths((64, 4, 4)) == (256, 128)
    assert spec.num_params((64, 4, 4), 10) == 1024 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10


def test_add_merge_aligns_channels_and_space_concat_sums_channels():
    a = Architecture(
        [
            Node(0, "conv", {"channels": 8}),
            Node(1, "pool", {"channel_mult": 2.0}, inputs=(0,)),
            Node(2, "identity", inputs=(1, 0), merge="add"),
            Node(3, "identity", inputs=(2, 0), merge="concat"),
        ]
    )
    shapes = a.shapes((3, 16, 16))
    assert shapes[2] == (16, 8, 8)  # first input is the reference
    assert shapes[3] == (24, 8, 8)
    plan = a.infer((3, 16, 16))[2][0]
    assert plan.resize == (False, True)
    assert plan.align_channels == (None, (8, 16))
    # the 1x1 aligner of node 2: 8 * 16 weights
    base = sequential([("conv", {"channels": 8}), ("pool", {"channel_mult": 2.0})]).num_params((3, 16, 16))
    assert a.num_params((3, 16, 16)) == base + 8 * 16


def test_unaligned_merge_of_mismatched_inputs_is_an_error():
    a = Architecture(
        [
            Node(0, "conv", {"channels": 8}),
            Node(1, "pool", inputs=(0,)),
            Node(2, "identity", inputs=(1, 0), merge="concat", align=False),
        ]
    )
    with pytest.raises(ArchitectureError, match=r"node 2 \(identity\): cannot concat inputs"):
        a.validate((1, 16, 16))


@pytest.mark.parametrize(
    "nodes, message",
    [
        ([Node(0, "nope")], r"unknown op 'nope'; known ops: .*conv"),
        ([Node(0, "conv", {"kernal": 3})], r"node 0 \(conv\): .*unknown parameter\(s\) \['kernal'\]"),
        ([Node(0, "conv", {"kernel": 0})], r"'kernel' must be an integer >= 1"),
        ([Node(0, "pool", {"type": "min"})], r"'type' must be one of \['max', 'avg'\]"),
        ([Node(0, "conv"), Node(0, "conv")], "duplicate node id 0"),
        ([Node(0, "conv", inputs=(5,))], "input 5 is not a node"),
        ([Node(0, "conv", inputs=(INPUT, 0), merge="add")], "repeated input|own output"),
        ([Node(0, "conv"), Node(1, "conv", inputs=(INPUT, 0))], "need merge 'add' or 'concat'"),
        ([Node(0, "conv", merge="mul")], "unknown merge 'mul'"),
        ([Node(0, "conv", inputs=(1,)), Node(1, "conv", inputs=(0,))], "cycle through nodes"),
        ([Node(-3, "conv")], "node id must be an integer >= 0"),
    ],
)
def test_invalid_structures_name_the_problem(nodes, message):
    with pytest.raises(ArchitectureError, match=message):
        Architecture(nodes).validate()


def test_kernel_larger_than_input_is_an_error():
    a = sequential([("conv", {"kernel": 5, "padding": "valid"})])
    with pytest.raises(ArchitectureError, match=r"node 0 \(conv\): kernel extent 5 is larger than its input size 4"):
        a.validate((1, 4, 4))
    pool = sequential([("pool", {"kernel": 5, "stride": 1, "padding": "valid"})])
    with pytest.raises(ArchitectureError, match="larger than its input"):
        pool.validate((1, 3, 3))
    dense = sequential([("dense_block", {"transition": True})])
    with pytest.raises(ArchitectureError, match="larger than its input size 1"):
        dense.validate((3, 1, 1))


def test_output_must_exist_and_bad_input_shape():
    with pytest.raises(ArchitectureError, match="output node 9"):
        Architecture([Node(0, "conv")], output=9).validate()
    with pytest.raises(ArchitectureError, match="input shape must be"):
        sequential(["conv"]).validate((28, 28))
    with pytest.raises(ArchitectureError, match="at least one node"):
        Architecture([])


def test_dead_nodes_are_ignored_for_shapes_params_and_hash():
    live = sequential([("conv", {"channels": 8}), ("conv", {"channels": 8})])
    with_dead = Architecture(
        [*live.nodes, Node(7, "conv", {"channels": 99}, inputs=(0,))],
        output=1,
    )
    assert with_dead.live_ids() == {0, 1}
    assert with_dead.num_params((1, 8, 8)) == live.num_params((1, 8, 8))
    assert with_dead.hash() == live.hash()


def renumbered(arch: Architecture, rng: random.Random) -> Architecture:
    ids = [n.id for n in arch.nodes]
    new = rng.sample(range(100, 1000), len(ids))
    m = dict(zip(ids, new, strict=True))
    m[INPUT] = INPUT
    nodes = [
        Node(m[n.id], n.op, n.params, tuple(m[i] for i in n.inputs), n.merge, n.align) for n in arch.nodes
    ]
    rng.shuffle(nodes)  # listing order must not matter either
    return Architecture(nodes, output=m[arch.output])


def test_canonical_hash_ignores_numbering_and_listing_order():
    rng = random.Random(0)
    a = diamond()
    for _ in range(20):
        assert renumbered(a, rng).hash() == a.hash()


def test_canonical_hash_add_commutes_but_concat_does_not():
    def merged(merge, order):
        return Architecture(
            [
                Node(0, "conv", {"channels": 8}),
                Node(1, "conv", {"channels": 4}, inputs=(0,)),
                Node(2, "conv", {"channels": 6}, inputs=(0,)),
                Node(3, "identity", inputs=order, merge=merge),
            ]
        )

    assert merged("add", (1, 2)).hash() == merged("add", (2, 1)).hash()
    assert merged("concat", (1, 2)).hash() != merged("concat", (2, 1)).hash()


def test_canonical_hash_distinguishes_real_differences():
    base = diamond()
    other_param = diamond()
    other_param.nodes[1].params["kernel"] = 3
    assert base.hash() != other_param.hash()
    # defaults written out or left implicit are the same graph
    explicit = diamond()
    explicit.nodes[0].params.update({"kernel": 3, "stride": 1, "bn": True})
    assert explicit.hash() == base.hash()
    # a shared node differs from two identical copies of it
    shared = Architecture(
        [
            Node(0, "conv", {"channels": 8}),
            Node(1, "conv", {"channels": 8}, inputs=(0,)),
            Node(2, "conv", {"channels": 8}, inputs=(0,)),
            Node(3, "identity", inputs=(1, 2), merge="concat"),
        ]
    )
    duplicated = Architecture(
        [
            Node(0, "conv", {"channels": 8}),
            Node(4, "conv", {"channels": 8}),
            Node(1, "conv", {"channels": 8}, inputs=(0,)),
            Node(2, "conv", {"channels": 8}, inputs=(4,)),
            Node(3, "identity", inputs=(1, 2), merge="concat"),
        ]
    )
    assert shared.hash() != duplicated.hash()


def test_json_round_trip():
    a = diamond()
    a.name = "diamond"
    b = Architecture.from_json(a.to_json())
    assert b == a
    assert b.hash() == a.hash()
    assert json.loads(a.to_json())["format"] == "deap_nas.arch/1"
    with pytest.raises(ArchitectureError, match="not valid JSON"):
        Architecture.from_json("{nope")
    with pytest.raises(ArchitectureError, match="unknown field"):
        Architecture.from_dict({"nodes": [{"id": 0, "op": "conv", "colour": "red"}]})
    with pytest.raises(ArchitectureError, match="unsupported architecture format"):
        Architecture.from_dict({"format": "other/9", "nodes": []})


def test_dot_text_shows_nodes_edges_shapes_and_dead_nodes():
    a = Architecture([*diamond().nodes, Node(9, "conv", inputs=(0,))], output=3)
    dot = a.to_dot((1, 8, 8))
    assert dot.startswith("digraph")
    assert "input -> n0;" in dot and "n1 -> n3;" in dot and "n3 -> output;" in dot
    assert "8x8x8" in dot
    assert "[add]" in dot
    assert "dashed" in dot  # node 9 is dead


def test_unknown_param_message_lists_accepted_names():
    with pytest.raises(ValueError, match="accepted: .*'kernel'"):
        get_op("conv").resolve({"colour": 1})


def test_head_spec_errors():
    with pytest.raises(ValueError, match="unknown head 'big'"):
        HeadSpec.parse("big")
    with pytest.raises(ValueError, match="dropout must be in"):
        HeadSpec.parse({"name": "concat_pool", "dropout": 1.5})
    assert HeadSpec.parse({"name": "concat_pool"}).params == {"dropout": 0.2}
