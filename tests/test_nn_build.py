"""The torch builder: every op builds, has the described shape and parameter count, no NaN."""

import pytest
import torch

from deap_nas.arch import OPS, Architecture, ArchitectureError, Node, sequential
from deap_nas.nn import MODULES, build, transfer_weights

# Several parameter settings per op, covering strides, paddings, even kernels, dilation,
# all three unit orders, widening pools and block options.
CASES = {
    "conv": [
        {},
        {"channels": 12, "kernel": 5, "stride": 2},
        {"kernel": 2, "bn": False, "act": "relu6", "order": "conv_act_bn"},
        {"kernel": 3, "dilation": 2, "padding": "valid"},
        {"kernel": [1, 7], "order": "act_conv_bn", "act": None, "dropout": 0.1},
        {"kernel": 2, "stride": 2, "bn": False, "bias": False},
    ],
    "sep_conv": [{}, {"channels": 12, "kernel": 5, "stride": 2, "bn": False}, {"kernel": 7, "dilation": 2}],
    "inv_sep_conv": [{}, {"channels": 16, "kernel": [3, 5], "order": "act_conv_bn"}, {"stride": 2}],
    "dw_conv": [{}, {"kernel": [7, 1], "order": "act_conv_bn"}, {"kernel": 5, "stride": 2, "bn": False}],
    "fact_conv": [{}, {"channels": 16, "stride": 2}, {"kernel": 3, "padding": "valid"}],
    "pool": [
        {},
        {"type": "avg", "kernel": 5, "channel_mult": 4 / 3},
        {"kernel": 2, "stride": None, "channel_mult": 2.0},
        {"type": "avg", "kernel": 3, "stride": 1, "padding": "valid"},
    ],
    "identity": [{}],
    "global_pool": [{}, {"type": "max"}, {"type": "avgmax"}],
    "zero_pad": [{}, {"pad": 0}, {"pad": 3}],
    "bn_act": [{}, {"bn": False}, {"act": "relu6"}, {"bn": False, "act": None}],
    "resnet_block": [{}, {"kernel": 5, "downsample": True}],
    "resnet_bottleneck": [{}, {"kernel": 5, "downsample": True}, {"channels": 20}],
    "dense_block": [{}, {"growth": 24, "layers": 2, "transition": True}],
    "dense_bottleneck_block": [{"growth": 12, "layers": 1}, {"growth": 36, "layers": 2, "transition": True}],
    "inception_resnet_a": [{}, {"kernel": 5, "bottleneck": 0.1}, {"bottleneck": 0.75}],
    "inception_resnet_b": [{}, {"kernel": 5, "bottleneck": 0.75}],
    "wrn_block": [{}, {"channels": 16, "stride": 2, "dropout": 0.3}, {"channels": 12}],
    "dense_transition": [{}, {"compression": 0.5}, {"compression": 0.3}],
}

INPUT_SHAPE = (8, 12, 12)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_every_registered_op_has_a_module_and_test_cases():
    assert set(OPS) == set(MODULES)
    assert set(CASES) == set(OPS), "add test cases for every new op"


@pytest.mark.parametrize(
    "op, params",
    [(op, p) for op, plist in CASES.items() for p in plist],
    ids=[f"{op}-{i}" for op, plist in CASES.items() for i in range(len(plist))],
)
def test_op_shape_params_and_finite_output(op, params):
    torch.manual_seed(0)
    arch = sequential([(op, params)])
    net = build(arch, INPUT_SHAPE, 10, head="gap_linear").eval()
    x = torch.randn(3, *INPUT_SHAPE)
    feats = net.features(x)
    assert tuple(feats.shape[1:]) == arch.output_shape(INPUT_SHAPE)
    assert n_params(net) == arch.num_params(INPUT_SHAPE, 10, "gap_linear")
    assert n_params(net) - n_params(net.head) == arch.num_params(INPUT_SHAPE)
    out = net(x)
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("head", ["gap_linear", "linear", "concat_pool", "mlp3"])
def test_heads_match_their_parameter_count(head):
    arch = sequential([("conv", {"channels": 16, "stride": 2}), ("conv", {"channels": 32})])
    net = build(arch, (3, 16, 16), 7, head=head)
    assert n_params(net) == arch.num_params((3, 16, 16), 7, head)
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 7)


def test_merges_build_with_resize_and_channel_alignment():
    arch = Architecture(
        [
            Node(0, "conv", {"channels": 8}),
            Node(1, "pool", {"channel_mult": 2.0}, inputs=(0,)),
            Node(2, "conv", {"kernel": 5}, inputs=(1, 0), merge="add"),
            Node(3, "identity", inputs=(2, 0, -1), merge="concat"),
        ]
    )
    net = build(arch, (3, 15, 15), 10, head="concat_pool")
    assert n_params(net) == arch.num_params((3, 15, 15), 10, "concat_pool")
    assert tuple(net.features(torch.randn(2, 3, 15, 15)).shape[1:]) == arch.output_shape((3, 15, 15)) == (27, 8, 8)
    names = dict(net.named_modules())
    assert "nodes.n2_conv.align.1" in names  # 8 -> 16 channel aligner of node 2's second input
    assert "nodes.n1_pool.op.widen" in names


def test_readable_names_and_he_init():
    net = build(sequential([("conv", {"channels": 64, "kernel": 3})]), (16, 8, 8), 10)
    keys = set(net.state_dict())
    assert {"nodes.n0_conv.op.conv.weight", "nodes.n0_conv.op.bn.running_mean", "head.fc.weight"} <= keys
    w = net.nodes["n0_conv"].op.conv.weight
    # Kaiming normal, fan_out mode: std = sqrt(2 / (64 * 3 * 3))
    assert abs(w.std().item() - (2 / (64 * 9)) ** 0.5) < 0.01


def test_build_rejects_bad_inputs():
    with pytest.raises(ArchitectureError, match="unknown op"):
        build(sequential(["warp_drive"]), (1, 8, 8), 10)
    with pytest.raises(ArchitectureError, match="larger than its input"):
        build(sequential([("conv", {"kernel": 9, "padding": "valid"})]), (1, 8, 8), 10)
    with pytest.raises(ArchitectureError, match="cannot add inputs"):
        build(
            Architecture(
                [Node(0, "pool"), Node(1, "identity", inputs=(0, -1), merge="add", align=False)]
            ),
            (1, 8, 8),
            10,
        )
    with pytest.raises(ValueError, match="num_classes"):
        build(sequential(["conv"]), (1, 8, 8), 0)


def test_weight_transfer_copies_unchanged_nodes_and_reports_the_rest():
    torch.manual_seed(0)
    parent_arch = sequential([("conv", {"channels": 8}), ("conv", {"channels": 8}), ("pool", {})])
    parent = build(parent_arch, (1, 16, 16), 10)
    child_arch = sequential(
        [("conv", {"channels": 8}), ("conv", {"channels": 8, "kernel": 5}), ("pool", {}), ("conv", {})]
    )
    child = build(child_arch, (1, 16, 16), 10)
    report = transfer_weights(parent, child)
    assert report.copied == [0]
    assert "shape of" in report.skipped[1]
    assert report.skipped[2] == "no weights"
    assert report.skipped[3] == "new node"
    assert report.head_copied
    assert torch.equal(child.nodes["n0_conv"].op.conv.weight, parent.nodes["n0_conv"].op.conv.weight)
    assert not torch.equal(child.nodes["n1_conv"].op.conv.weight[:, :, 1:4, 1:4], parent.nodes["n1_conv"].op.conv.weight)
    # BN running statistics travel with the node
    parent.nodes["n0_conv"].op.bn.running_mean.fill_(3.0)
    again = build(child_arch, (1, 16, 16), 10)
    transfer_weights(parent.state_dict(), again, exclude=[1])
    assert torch.all(again.nodes["n0_conv"].op.bn.running_mean == 3.0)


def test_weight_transfer_respects_exclude_and_op_changes():
    parent = build(sequential([("conv", {"channels": 4}), ("conv", {"channels": 4})]), (1, 8, 8), 10)
    child = build(sequential([("conv", {"channels": 4}), ("sep_conv", {"channels": 4})]), (1, 8, 8), 10)
    report = transfer_weights(parent, child, exclude=[0])
    assert report.copied == []
    assert report.skipped == {0: "changed by the mutation", 1: "op changed"}


def test_a_child_identical_to_its_parent_computes_the_same_function():
    torch.manual_seed(1)
    arch = Architecture(
        [
            Node(0, "conv", {"channels": 8}),
            Node(1, "resnet_block", {}, inputs=(0,)),
            Node(2, "identity", inputs=(1, 0), merge="concat"),
        ]
    )
    a = build(arch, (3, 8, 8), 5).eval()
    b = build(arch, (3, 8, 8), 5).eval()
    transfer_weights(a, b)
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("make, params, want", [
    ("wide_resnet", {"depth": 28, "width": 10}, 36_479_194),   # WRN-28-10: 36.5 M (Zagoruyko & Komodakis, Table 1)
    ("wide_resnet", {"depth": 40, "width": 4}, 8_949_210),     # WRN-40-4: 8.9 M
    ("densenet", {"depth": 40, "growth": 12}, 1_019_722),       # DenseNet L=40 k=12: 1.0 M (Huang et al., Table 2)
    ("densenet", {"depth": 100, "growth": 12, "bottleneck": True, "compression": 0.5}, 769_162),  # BC: 0.8 M
])
def test_reference_networks_have_their_papers_parameter_counts(make, params, want):
    from deap_nas.arch.zoo import reference_architecture

    arch = reference_architecture({"family": make, **params})
    assert arch.num_params((3, 32, 32), 10, "gap_linear") == want


def test_small_reference_networks_build_with_the_counted_parameters():
    from deap_nas.arch.zoo import densenet, reference_architecture, wide_resnet

    for arch in (wide_resnet(10, 1, dropout=0.3), densenet(10, 4), densenet(16, 4, bottleneck=True, compression=0.5)):
        net = build(arch, (3, 16, 16), 10, "gap_linear").eval()
        assert n_params(net) == arch.num_params((3, 16, 16), 10, "gap_linear")
        assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    for bad, msg in (({"family": "vgg"}, "family"), ({"family": "wide_resnet", "depth": 27}, "depth"),
                     ({"family": "densenet", "k": 12}, "k: unknown")):
        with pytest.raises(ValueError, match=msg):
            reference_architecture(bad)
