"""The ``neat`` space and its mutations (regularized-evolution macro NAS, sec. 3.1-3.3, 4.1)."""

import copy
import json
import math
import random

import pytest
from deap import algorithms, base

from deap_nas.arch import INPUT, ArchitectureError
from deap_nas.ops import (
    OPERATORS,
    mut_add_node,
    mut_identity,
    mut_layer_gene,
    mut_neat,
    mut_toggle_connection,
)
from deap_nas.spaces import SPACES, GraphIndividual, NeatParams, NeatSpace
from deap_nas.spaces.neat import INPUT_ID, LAYER_CHOICES, OUTPUT_ID, enabled_path_nodes, layer_op

SHAPE = (1, 28, 28)


def genome(layers, edges, next_id=None):
    """A GraphIndividual from ``{id: layer}`` and ``[(src, dst[, enabled])]``."""
    nodes = [{"id": i, "layer": layer} for i, layer in layers.items()]
    conns = [{"src": e[0], "dst": e[1], "enabled": e[2] if len(e) > 2 else True} for e in edges]
    if next_id is None:
        next_id = max(layers, default=-1) + 1
    return GraphIndividual(nodes=nodes, connections=conns, next_id=next_id)


def chain(layers):
    ids = list(range(len(layers)))
    path = [INPUT_ID, *ids, OUTPUT_ID]
    return genome(dict(zip(ids, layers, strict=True)), list(zip(path, path[1:], strict=False)))


@pytest.fixture
def space():
    return NeatSpace()


# ------------------------------------------------------------------------ params and layers


def test_registered():
    assert SPACES["neat"] is NeatSpace
    for name in ("mut_layer_gene", "mut_toggle_connection", "mut_add_node", "mut_identity", "mut_neat"):
        assert name in OPERATORS


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"channels": 1}, "channels: must be >= 2, got 1"),
        ({"initial_layers": -1}, "initial_layers: must be >= 0"),
        ({"padding": "full"}, "padding: must be one of"),
        ({"pool_stride": 0}, "pool_stride: must be null"),
        ({"dropout": 1.0}, r"dropout: must be in \[0, 1\)"),
        ({"input_shape": (28, 28)}, "input_shape: must be"),
        ({"head": "mlp4"}, "head: unknown head 'mlp4'"),
    ],
)
def test_params_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        NeatParams(**kwargs)


def test_default_head_is_the_papers_three_fc_layers(space):
    assert space.default_head == "mlp3"
    assert NeatSpace(NeatParams(head="gap_linear")).default_head == "gap_linear"


def test_layer_choices_are_table_1():
    assert len(LAYER_CHOICES) == len(set(LAYER_CHOICES)) == 12
    p = NeatParams(channels=64)
    assert layer_op("CONV_3.H", p) == (
        "conv",
        {"channels": 32, "kernel": 3, "padding": "valid", "act": "relu6", "bn": True,
         "order": "conv_act_bn", "dropout": 0.1, "bias": True},
    )
    assert layer_op("CONV_5.N", p)[1]["channels"] == 64
    assert layer_op("POOL_2.A", p) == ("pool", {"type": "avg", "kernel": 2, "stride": None, "padding": "valid"})
    assert layer_op("POOL_5.M", NeatParams(pool_stride=1, padding="same"))[1] == {
        "type": "max", "kernel": 5, "stride": 1, "padding": "same"}
    kinds = [layer_op(c, p) for c in LAYER_CHOICES]
    assert sum(op == "conv" for op, _ in kinds) == 6
    assert {(q["type"], q["kernel"]) for op, q in kinds if op == "pool"} == {
        (t, k) for t in ("avg", "max") for k in (2, 3, 5)}
    with pytest.raises(ValueError, match="unknown layer choice 'CONV_7.N'"):
        layer_op("CONV_7.N", p)


def test_random_individual_is_a_chain_of_initial_layers(space):
    ind = space.random_individual(random.Random(3))
    assert isinstance(ind, GraphIndividual) and not ind.fitness.valid
    assert [n["id"] for n in ind["nodes"]] == [0, 1, 2, 3] and ind["next_id"] == 4
    assert all(n["layer"] in LAYER_CHOICES for n in ind["nodes"])
    assert [(c["src"], c["dst"], c["enabled"]) for c in ind["connections"]] == [
        (-2, 0, True), (0, 1, True), (1, 2, True), (2, 3, True), (3, 99, True)]
    empty = NeatSpace(NeatParams(initial_layers=0)).random_individual(random.Random(0))
    assert empty["nodes"] == [] and [(c["src"], c["dst"]) for c in empty["connections"]] == [(-2, 99)]


# ------------------------------------------------------------------------ mutations


def test_innovation_numbers_are_unique_increasing_and_skip_99(space):
    rng = random.Random(0)
    ind = space.random_individual(rng)
    for _ in range(150):
        mut_add_node(ind, rng=rng)
    ids = [n["id"] for n in ind["nodes"]]
    assert ids == sorted(set(ids))  # unique, increasing in order of creation
    assert ids == list(range(99)) + list(range(100, 155))
    assert INPUT_ID not in ids and OUTPUT_ID not in ids
    assert ind["next_id"] == 155
    space.from_json(space.to_json(ind))  # still well formed


def test_add_node_splits_an_enabled_connection(space):
    rng = random.Random(1)
    ind = space.random_individual(rng)
    for _ in range(40):
        before = copy.deepcopy(ind)
        out = mut_add_node(ind, rng=rng)
        assert out == (ind,) and out[0] is ind
        new = before["next_id"] if before["next_id"] != OUTPUT_ID else OUTPUT_ID + 1
        assert [n["id"] for n in ind["nodes"]] == [n["id"] for n in before["nodes"]] + [new]
        old, added = ind["connections"][: len(before["connections"])], ind["connections"][len(before["connections"]):]
        changed = [k for k, (a, b) in enumerate(zip(before["connections"], old, strict=True)) if a != b]
        assert len(changed) == 1
        split = before["connections"][changed[0]]
        assert split["enabled"] and not old[changed[0]]["enabled"]
        assert (old[changed[0]]["src"], old[changed[0]]["dst"]) == (split["src"], split["dst"])
        assert added == [
            {"src": split["src"], "dst": new, "enabled": True},
            {"src": new, "dst": split["dst"], "enabled": True},
        ]
        # occasionally disable a connection so the enabled-only draw matters
        if rng.random() < 0.3:
            mut_toggle_connection(ind, rng=rng)


def test_add_node_without_enabled_connections_does_nothing(space):
    ind = genome({0: "CONV_2.N"}, [(-2, 0, False), (0, 99, False)])
    before = copy.deepcopy(ind)
    mut_add_node(ind, rng=random.Random(0))
    assert ind == before
    mut_add_node(ind, enabled_only=False, rng=random.Random(0))  # NORD's reading splits any
    assert len(ind["nodes"]) == 2 and len(ind["connections"]) == 4


def test_toggle_flips_exactly_one_connection(space):
    rng = random.Random(2)
    ind = space.random_individual(rng)
    for _ in range(5):
        mut_add_node(ind, rng=rng)
    for _ in range(100):
        before = copy.deepcopy(ind)
        assert mut_toggle_connection(ind, rng=rng)[0] is ind
        diffs = [(a, b) for a, b in zip(before["connections"], ind["connections"], strict=True) if a != b]
        assert len(diffs) == 1
        a, b = diffs[0]
        assert (a["src"], a["dst"]) == (b["src"], b["dst"]) and a["enabled"] != b["enabled"]
        assert ind["nodes"] == before["nodes"] and ind["next_id"] == before["next_id"]


def test_layer_mutation_always_picks_a_different_choice(space):
    rng = random.Random(3)
    ind = space.random_individual(rng)
    seen = set()
    for _ in range(300):
        before = copy.deepcopy(ind)
        assert mut_layer_gene(ind, rng=rng)[0] is ind
        assert [n["id"] for n in ind["nodes"]] == [n["id"] for n in before["nodes"]]
        diffs = [(a, b) for a, b in zip(before["nodes"], ind["nodes"], strict=True) if a != b]
        assert len(diffs) == 1 and diffs[0][0]["layer"] != diffs[0][1]["layer"]
        seen.add(diffs[0][1]["layer"])
        assert ind["connections"] == before["connections"]
    assert seen == set(LAYER_CHOICES)


def test_identity_and_fitness_untouched(space):
    ind = space.random_individual(random.Random(0))
    ind.fitness.values = (0.5,)
    before = copy.deepcopy(ind)
    assert mut_identity(ind) == (ind,) and ind == before
    for op in (mut_layer_gene, mut_toggle_connection, mut_add_node, mut_neat):
        op(ind, rng=random.Random(1))
        assert ind.fitness.valid and ind.fitness.values == (0.5,)


def test_mut_neat_frequencies_match_the_paper():
    """Classify 20,000 draws by their effect on a fresh genome.

    Tolerance: 4 binomial standard errors, sqrt(p (1 - p) / n), e.g. 0.013 for p = 0.7 at
    n = 20,000 and 0.017 for the 0.5 node/connection split of the ~14,000 mutate draws.
    For a correct operator a 4-SE deviation has probability ~6e-5 per check (and the seed is
    fixed, so the test is deterministic); a 2-point bias in any weight would fail it.
    """
    base_ind = NeatSpace().random_individual(random.Random(0))
    rng = random.Random(12345)
    counts = {"layer": 0, "toggle": 0, "add": 0, "identity": 0}
    n = 20_000
    for _ in range(n):
        ind = copy.deepcopy(base_ind)
        mut_neat(ind, rng=rng)
        if len(ind["nodes"]) > len(base_ind["nodes"]):
            counts["add"] += 1
        elif ind["connections"] != base_ind["connections"]:
            counts["toggle"] += 1
        elif ind["nodes"] != base_ind["nodes"]:
            counts["layer"] += 1
        else:
            counts["identity"] += 1

    def check(k, total, p):
        se = math.sqrt(p * (1 - p) / total)
        assert abs(k / total - p) < 4 * se, (k, total, p)

    mutate = counts["layer"] + counts["toggle"]
    check(mutate, n, 0.7)
    check(counts["add"], n, 0.25)
    check(counts["identity"], n, 0.05)
    check(counts["toggle"], mutate, 0.5)
    check(counts["layer"], n, 0.35)
    check(counts["toggle"], n, 0.35)


def test_mut_neat_weights_and_split_are_parameters():
    ind = NeatSpace().random_individual(random.Random(0))
    before = copy.deepcopy(ind)
    for _ in range(50):
        mut_neat(ind, p_mutate=1, p_add=0, p_identity=0, p_connection=1.0, rng=random.Random(0))
    assert ind["nodes"] == before["nodes"]  # only toggles
    mut_neat(ind, p_mutate=0, p_add=2, p_identity=0, rng=random.Random(0))
    assert len(ind["nodes"]) == 5
    for bad in ({"p_mutate": -0.1}, {"p_mutate": 0, "p_add": 0, "p_identity": 0}, {"p_add": "x"}):
        with pytest.raises(ValueError, match="mut_neat: p_mutate, p_add and p_identity must be"):
            mut_neat(ind, **bad)
    with pytest.raises(ValueError, match=r"mut_neat: p_connection must be a number in \[0, 1\]"):
        mut_neat(ind, p_connection=1.5)


def test_operators_leave_the_global_random_state_alone(space):
    random.seed(99)
    state = random.getstate()
    rng = random.Random(7)
    ind = space.random_individual(rng)
    for _ in range(200):
        for op in (mut_layer_gene, mut_toggle_connection, mut_add_node, mut_identity, mut_neat):
            op(ind, rng=rng)
    assert random.getstate() == state


def test_same_seed_same_genome(space):
    def run(seed):
        rng = random.Random(seed)
        ind = space.random_individual(rng)
        for _ in range(50):
            mut_neat(ind, rng=rng)
        return space.to_json(ind)

    assert run(5) == run(5) and run(5) != run(6)


def test_usable_in_deap_varand(space):
    random.seed(4)
    tb = base.Toolbox()
    tb.register("individual", space.random_individual)
    tb.register("mutate", mut_neat, p_mutate=0.7, p_add=0.25, p_identity=0.05)
    pop = [tb.individual() for _ in range(20)]
    for ind in pop:
        ind.fitness.values = (1.0,)
    parents = copy.deepcopy(pop)
    offspring = algorithms.varAnd(pop, tb, cxpb=0.0, mutpb=1.0)
    assert pop == parents and all(p.fitness.valid for p in pop)  # varAnd clones
    assert all(isinstance(o, GraphIndividual) for o in offspring)
    changed = [o for o, p in zip(offspring, pop, strict=True) if o != p]
    assert changed and all(not o.fitness.valid for o in offspring)
    for o in offspring:
        space.from_json(space.to_json(o))


# ------------------------------------------------------------------------ decoding


def test_decode_chain(space):
    g = chain(["CONV_3.N", "POOL_2.M"])
    arch = space.decode(g)
    assert [n.id for n in arch.nodes] == [0, 1, 99] and arch.output == 99
    assert [n.inputs for n in arch.nodes] == [(INPUT,), (0,), (1,)]
    assert [n.merge for n in arch.nodes] == ["none"] * 3
    assert arch.nodes[0].params == layer_op("CONV_3.N")[1]
    assert arch.node(99).op == "identity" and arch.node(99).params == {}
    assert arch.output_shape(SHAPE) == (64, 13, 13)


def test_decode_drops_a_dead_branch(space):
    # 0 -> 2 is a branch that never reaches the output; 3 is never reached from the input.
    g = genome(
        {0: "CONV_3.N", 1: "CONV_2.H", 2: "POOL_3.M", 3: "CONV_5.N"},
        [(-2, 0), (0, 1), (1, 99), (0, 2), (3, 99), (3, 1, False)],
    )
    arch = space.decode(g)
    assert sorted(n.id for n in arch.nodes) == [0, 1, 99]
    assert arch.node(99).inputs == (1,)
    assert enabled_path_nodes(g) == {INPUT_ID, 0, 1, OUTPUT_ID}


def test_decode_reenabled_edge_gives_a_merge(space):
    # after an add-node on -2 -> 99 the split edge is disabled; re-enabling it makes 99 read
    # both the input and node 0 (Fig. 2: the output develops multiple inputs).
    g = genome({0: "CONV_2.N"}, [(-2, 99, False), (-2, 0), (0, 99)])
    arch = space.decode(g)
    assert arch.node(99).inputs == (0,) and arch.node(99).merge == "none"
    mut_toggle_connection(g, rng=type("First", (), {"choice": staticmethod(lambda seq: seq[0])})())
    assert g["connections"][0]["enabled"]
    arch = space.decode(g)
    out = arch.node(99)
    assert out.inputs == (INPUT, 0) and out.merge == "add"  # in connection-gene order
    # the first input is the reference size (28x28, 1 channel): node 0's 27x27x64 map is
    # resized and 1x1-aligned to it
    assert arch.output_shape(SHAPE) == (1, 28, 28)


def test_decode_node_with_two_inputs(space):
    g = genome(
        {0: "CONV_3.N", 1: "CONV_5.H", 2: "POOL_2.A"},
        [(-2, 0), (-2, 1), (0, 2), (1, 2), (2, 99)],
    )
    arch = space.decode(g)
    n2 = arch.node(2)
    assert n2.inputs == (0, 1) and n2.merge == "add"
    shapes = arch.shapes(SHAPE)
    assert shapes[0] == (64, 26, 26) and shapes[1] == (32, 24, 24) and shapes[2] == (64, 13, 13)
    assert [n.id for n in arch.nodes][-1] == 99


def test_decode_matches_the_enabled_graph_on_random_genomes(space):
    """Decoded nodes = nodes on some enabled simple input -> output path (enumerated by
    brute force), and each node's inputs = its enabled in-edges from such nodes."""
    rng = random.Random(11)
    checked = pathless = 0
    for _ in range(200):
        g = space.random_individual(rng)
        for _ in range(rng.randint(0, 12)):
            mut_neat(g, rng=rng)
        edges = [(c["src"], c["dst"]) for c in g["connections"] if c["enabled"]]
        on_path: set[int] = set()

        def walk(node, path, edges=edges, on_path=on_path):
            if node == OUTPUT_ID:
                on_path.update(path)
                return
            for a, b in edges:
                if a == node and b not in path:
                    walk(b, [*path, b])

        walk(INPUT_ID, [INPUT_ID])
        if not on_path:
            with pytest.raises(ValueError, match="no enabled path from input to output"):
                space.decode(g)
            pathless += 1
            continue
        arch = space.decode(g)
        checked += 1
        assert {n.id for n in arch.nodes} == on_path - {INPUT_ID}
        layers = {n["id"]: n["layer"] for n in g["nodes"]}
        for n in arch.nodes:
            want = tuple(INPUT if a == INPUT_ID else a for a, b in edges if b == n.id and a in on_path)
            assert n.inputs == want
            assert n.merge == ("add" if len(want) > 1 else "none")
            if n.id != OUTPUT_ID:
                assert (n.op, n.params) == space.layer_op(layers[n.id])
        arch.check_structure()
    assert checked >= 40 and pathless >= 40  # both cases well exercised (50 / 150 here)


def test_only_path_disabled_is_invalid(space):
    g = chain(["CONV_3.N", "CONV_3.N"])
    g["connections"][1]["enabled"] = False
    with pytest.raises(ValueError, match="^no enabled path from input to output$"):
        space.decode(g)
    with pytest.raises(ValueError, match="no enabled path"):
        space.validate(g)


def test_cycle_is_rejected(space):
    g = genome({0: "CONV_3.N", 1: "CONV_3.N"}, [(-2, 0), (0, 1), (1, 0), (1, 99)])
    with pytest.raises(ValueError, match="cycle through nodes 0 -> 1 -> 0"):
        space.decode(g)


def test_kernel_larger_than_its_input(space):
    """Valid 5x5 convs shrink 28 by 4 each: 24, 20, 16, 12, 8, 4; a seventh needs 5 > 4."""
    for k in range(1, 7):
        g = chain(["CONV_5.N"] * k)
        space.validate(g)
        assert space.decode(g).output_shape(SHAPE) == (64, 28 - 4 * k, 28 - 4 * k)
    with pytest.raises(ArchitectureError, match="node 6 .*kernel extent 5 is larger than its input size 4"):
        space.validate(chain(["CONV_5.N"] * 7))
    space.decode(chain(["CONV_5.N"] * 7))  # decoding alone does not check shapes
    NeatSpace(NeatParams(padding="same")).validate(chain(["CONV_5.N"] * 7))
    # pools: stride = kernel, 28 -> 5 -> 1; a third 5x5 pool does not fit
    space.validate(chain(["POOL_5.M"] * 2))
    with pytest.raises(ArchitectureError, match="larger than its input size 1"):
        space.validate(chain(["POOL_5.M"] * 3))


# ------------------------------------------------------------------------ the paper's networks

BEST = ["CONV_2.N", "CONV_2.N", "CONV_3.N", "CONV_5.N", "POOL_5.A", "CONV_3.H"]


def remnet():
    """REMNet (sec. 4.2): the five dominant layers, then two CONV_3.H branching out after the
    pooling, both feeding the output."""
    layers = dict(enumerate([*BEST[:5], "CONV_3.H", "CONV_3.H"]))
    edges = [(-2, 0), (0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (4, 6), (5, 99), (6, 99)]
    return genome(layers, edges)


def test_papers_best_architecture_is_valid_with_the_defaults(space):
    """ES's best network (sec. 4.2) is valid with valid padding and stride = kernel pools:
    28 -> 27 -> 26 -> 24 -> 20 -> 4 -> 2."""
    g = chain(BEST)
    space.validate(g)
    shapes = space.decode(g).shapes(SHAPE)
    assert [shapes[i] for i in range(6)] == [
        (64, 27, 27), (64, 26, 26), (64, 24, 24), (64, 20, 20), (64, 4, 4), (32, 2, 2)]


def test_remnet_parameter_count_matches_the_paper():
    """791,338 parameters at 128 channels (sec. 4.2): exact only with valid padding, pool
    stride = kernel, biased convs and the mlp3 head; 256 channels give ~3.1 million."""
    arch = NeatSpace(NeatParams(channels=128)).decode(remnet())
    assert arch.node(99).inputs == (5, 6) and arch.node(99).merge == "add"
    assert arch.num_params(SHAPE, 10, "mlp3") == 791_338
    assert NeatSpace(NeatParams(channels=256)).decode(remnet()).num_params(SHAPE, 10, "mlp3") == 3_159_626
    for other in ({"padding": "same"}, {"pool_stride": 2}, {"conv_bias": False}):
        n = NeatSpace(NeatParams(channels=128, **other)).decode(remnet()).num_params(SHAPE, 10, "mlp3")
        assert n != 791_338


# ------------------------------------------------------------------------ torch build


def test_decoded_architectures_build(space):
    torch = pytest.importorskip("torch")
    from deap_nas.nn import build

    small = NeatSpace(NeatParams(channels=8))
    rng = random.Random(21)
    built = 0
    while built < 6:
        g = small.random_individual(rng)
        for _ in range(rng.randint(0, 8)):
            mut_neat(g, rng=rng)
        try:
            small.validate(g)
        except ValueError:
            continue
        arch = small.decode(g)
        net = build(arch, SHAPE, 10, head=small.default_head)
        assert sum(p.numel() for p in net.parameters()) == arch.num_params(SHAPE, 10, "mlp3")
        net.eval()
        with torch.no_grad():
            assert net(torch.zeros(3, *SHAPE)).shape == (3, 10)
        built += 1
    arch = space.decode(remnet())
    net = build(arch, SHAPE, 10, head="mlp3")
    assert sum(p.numel() for p in net.parameters()) == arch.num_params(SHAPE, 10, "mlp3")


def test_conv_unit_is_conv_relu6_bn_dropout2d(space):
    pytest.importorskip("torch")
    from torch import nn

    from deap_nas.nn import build

    net = build(space.decode(chain(["CONV_3.H", "POOL_2.A", "POOL_3.M"])), SHAPE, 10, head="mlp3")
    unit = net.nodes["n0_conv"].op
    children = list(unit.children())
    kinds = (nn.Conv2d, nn.ReLU6, nn.BatchNorm2d, nn.Dropout2d)
    assert len(children) == 4 and all(isinstance(m, k) for m, k in zip(children, kinds, strict=True))
    conv, drop = children[0], children[3]
    assert conv.out_channels == 32 and conv.kernel_size == (3, 3) and conv.padding == (0, 0)
    assert conv.bias is not None and drop.p == pytest.approx(0.1)
    assert any(isinstance(m, nn.AvgPool2d) for m in net.nodes["n1_pool"].op.modules())
    assert any(isinstance(m, nn.MaxPool2d) for m in net.nodes["n2_pool"].op.modules())
    linears = [m for m in net.head.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3  # FC1, FC2, FC3 (sec. 3.3)


# ------------------------------------------------------------------------ JSON and describe


def test_json_round_trip(space):
    rng = random.Random(8)
    g = space.random_individual(rng)
    for _ in range(10):
        mut_neat(g, rng=rng)
    data = space.to_json(g)
    assert type(data) is dict and not isinstance(data, GraphIndividual)
    back = space.from_json(json.loads(json.dumps(data)))
    assert isinstance(back, GraphIndividual) and back == g and not back.fitness.valid
    back["nodes"][0]["layer"] = "X"  # a deep copy
    assert g["nodes"][0]["layer"] != "X"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("connections"), "genome: missing key 'connections'"),
        (lambda d: d.update(extra=1), r"genome: unknown key\(s\) \['extra'\]"),
        (lambda d: d["nodes"].append({"id": 1, "layer": "CONV_2.N"}), "duplicate node id 1"),
        (lambda d: d["nodes"][0].update(layer="CONV_4.N"), "node 0: unknown layer choice 'CONV_4.N'"),
        (lambda d: d["nodes"][0].pop("layer"), "node entry 0: missing key 'layer'"),
        (lambda d: d["nodes"].append({"id": 99, "layer": "CONV_2.N"}), "node entry 4: id must be"),
        (lambda d: d["connections"].append({"src": 0, "dst": 7, "enabled": True}),
         "connection 0->7: destination 7 is not the output"),
        (lambda d: d["connections"].append({"src": 99, "dst": 0, "enabled": True}),
         "connection 99->0: source 99 is not the input"),
        (lambda d: d["connections"].append({"src": 0, "dst": 1, "enabled": False}),
         "connection 0->1: repeated connection"),
        (lambda d: d["connections"][0].update(enabled="yes"), "connection -2->0: 'enabled' must be"),
        (lambda d: d.update(next_id=2), "node 2: id not below next_id 2"),
    ],
)
def test_from_json_errors(space, mutate, message):
    data = space.to_json(space.random_individual(random.Random(0)))
    mutate(data)
    with pytest.raises(ValueError, match=message):
        space.from_json(data)


def test_describe(space):
    g = genome({0: "CONV_3.N", 1: "POOL_2.M"}, [(-2, 0), (0, 99), (0, 1, False)])
    assert space.describe(g) == "-2>0:CONV_3.N>99 | 0>1:POOL_2.M (off)"
    assert space.describe(chain(BEST[:2])) == "-2>0:CONV_2.N>1:CONV_2.N>99"
