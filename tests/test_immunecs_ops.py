"""ImmuNeCS spaces and operators (sec. 3.2-3.4, Algorithm 2, eq. 1-2, Table 1, Fig. 2)."""
# ruff: noqa: E741  (l is the layer index, as in the paper)

import copy
import json
import random
import subprocess
import sys

import pytest

from deap_nas.ops import (
    OPERATORS,
    SeenRegistry,
    augment,
    clone_population,
    make_augmented_copies,
    mut_hypermutation,
    mutation_rate,
    random_insertion,
    sel_best_n,
)
from deap_nas.ops.immunecs import changed_elements, hypermutation_pass
from deap_nas.spaces import (
    SPACES,
    ImmuneCifarParams,
    ImmuneCifarSpace,
    ImmuneFashionParams,
    ImmuneFashionSpace,
    ImmuneIndividual,
)
from deap_nas.spaces.immunecs import bin_index

FASHION = (1, 28, 28)
CIFAR = (3, 32, 32)


@pytest.fixture(params=["fashion", "cifar"])
def space(request):
    return ImmuneFashionSpace() if request.param == "fashion" else ImmuneCifarSpace()


def with_fitness(ind, f):
    ind.fitness.values = (f,)
    return ind


def expressed(space, genome):
    """Per layer: (op index, expressed hp indices, second input, aggregation)."""
    return [
        (space.op_index(genome[l - 1]), space.hp_indices(genome[l - 1]), space.second_input(genome, l),
         space.aggregation(genome, l))
        for l in range(1, len(genome) + 1)
    ]  # fmt: skip


# ------------------------------------------------------------------------ registration and params


def test_registered():
    assert SPACES["immunecs_fashion"] is ImmuneFashionSpace
    assert SPACES["immunecs_cifar10"] is ImmuneCifarSpace
    for name in ("mut_hypermutation", "clone_population", "random_insertion", "augment",
                 "make_augmented_copies", "sel_best_n"):  # fmt: skip
        assert name in OPERATORS


def test_defaults_follow_the_paper():
    f, c = ImmuneFashionParams(), ImmuneCifarParams()
    assert f.stem_channels == 64 and c.stem_channels == 32
    assert f.rho == c.rho == 0.2
    assert f.op_sigma_scale == 1.0 and c.op_sigma_scale == 0.5
    assert f.conv_kernels == (1, 3, 5, 7) and f.channel_mults == pytest.approx((1, 4 / 3, 5 / 3, 2))
    assert c.growths == (12, 24, 36) and c.bottlenecks == (0.1, 0.4, 0.75) and c.block_kernels == (3, 5)
    assert ImmuneFashionSpace().default_head == ImmuneCifarSpace().default_head == "concat_pool"


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (ImmuneFashionParams, {"stem_channels": 0}, "stem_channels:"),
        (ImmuneFashionParams, {"min_initial_layers": 0}, "min_initial_layers:"),
        (ImmuneFashionParams, {"min_initial_layers": 3, "max_initial_layers": 2}, "max_initial_layers:"),
        (ImmuneFashionParams, {"rho": 0}, "rho:"),
        (ImmuneFashionParams, {"channel_mults": (0.5, 1)}, "channel_mults:"),
        (ImmuneFashionParams, {"pool_types": ("min",)}, "pool_types:"),
        (ImmuneFashionParams, {"head": "nope"}, "head:"),
        (ImmuneCifarParams, {"block_kernels": (2, 3)}, "block_kernels:"),
        (ImmuneCifarParams, {"dense_layers": 0}, "dense_layers:"),
        (ImmuneCifarParams, {"input_shape": (3, 32)}, "input_shape:"),
    ],
)
def test_params_errors_name_the_field(cls, kwargs, message):
    with pytest.raises(ValueError) as e:
        cls(**kwargs)
    assert str(e.value).startswith(message)


# ------------------------------------------------------------------------ genome and binning


def test_bin_index():
    assert [bin_index(v, 4) for v in (0.0, 0.2499, 0.25, 0.74, 0.75, 1.0)] == [0, 0, 1, 2, 3, 3]
    assert [bin_index(v, 2) for v in (0.0, 0.49, 0.5, 1.0)] == [0, 0, 1, 1]


def test_binning_remembers_sub_threshold_changes():
    space = ImmuneFashionSpace()
    g = ImmuneIndividual([{"op": 0.32, "hp": [0.1, 0.1, 0.1]}])
    assert space.op_of(g[0]) == "sep_conv"
    key = space.string_encoding(g)
    steps = 0
    while space.string_encoding(g) == key:
        g[0]["op"] += 0.05  # each nudge alone stays within the bin
        steps += 1
        if steps < 4:
            assert space.decode(g) == space.decode(ImmuneIndividual([{"op": 0.32, "hp": [0.1, 0.1, 0.1]}]))
    assert steps == 4 and space.op_of(g[0]) == "pool"  # 0.32 + 4 * 0.05 = 0.52 crosses into pool's bin
    assert g[0]["op"] == pytest.approx(0.52)


def test_random_genomes_and_json(space):
    rng = random.Random(1)
    depths = set()
    for _ in range(50):
        g = space.random_individual(rng)
        assert isinstance(g, ImmuneIndividual) and not g.fitness.valid
        depths.add(len(g))
        back = space.from_json(json.loads(json.dumps(space.to_json(g))))
        assert back == g and isinstance(back, ImmuneIndividual)
        assert space.string_encoding(back) == space.string_encoding(g)
    assert depths == {1, 2, 3}
    with pytest.raises(ValueError, match="layer gene 0"):
        space.check_genome([{"op": 2.0}])


def test_decode_structure():
    f = ImmuneFashionSpace().decode(ImmuneFashionSpace().random_genome(4, random.Random(3)))
    stem = f.node(0)
    assert stem.op == "conv" and stem.params["channels"] == 64 and stem.params["kernel"] == 1
    assert stem.params["bn"] is False and stem.params["act"] is None
    assert [n.inputs for n in f.nodes] == [(-1,), (0,), (1,), (2,), (3,)]
    space = ImmuneCifarSpace()
    g = space.random_genome(4, random.Random(0))
    g[3].update(indeg=0.9, src=0.5, agg=0.9)  # v4: second input from v1 (k in 0..2), concat
    g[2].update(indeg=0.1)
    a = space.decode(g)
    assert a.node(0).params["channels"] == 32
    assert a.node(4).inputs == (3, 1) and a.node(4).merge == "concat"
    assert a.node(3).inputs == (2,) and a.node(3).merge == "none"
    g[0].update(indeg=0.99)  # v1 never takes a second input
    assert space.decode(g).node(1).inputs == (0,)


def test_pool_is_the_only_fashion_op_that_widens():
    space = ImmuneFashionSpace()
    rng = random.Random(5)
    widened = set()
    for _ in range(200):
        a = space.decode(space.random_genome(rng.randint(1, 8), rng))
        shapes = a.shapes(FASHION)
        for n in a.nodes[1:]:
            c_in, c_out = shapes[n.inputs[0]][0], shapes[n.id][0]
            if c_out != c_in:
                widened.add(n.op)
                assert n.op == "pool" and n.params["channel_mult"] > 1
    assert widened == {"pool"}


# ------------------------------------------------------------------------ hypermutation


def test_mutation_rate_eq1():
    assert mutation_rate(0.5, 0.2) == pytest.approx(2.718281828 ** -2.5)
    assert mutation_rate(0.95, 0.2) < mutation_rate(0.5, 0.2) < mutation_rate(0.0, 0.2) == 1.0


def test_fewer_changes_at_higher_affinity(space):
    rng = random.Random(7)
    changed = {}
    for f in (0.5, 0.95):
        n = 0
        for _ in range(400):
            g = space.random_genome(5, rng)
            what, _ = hypermutation_pass(g, space, mutation_rate(f, 0.2), rng=rng)
            n += what != "none"
        changed[f] = n / 400
    assert changed[0.5] > 2 * changed[0.95]


def test_algorithm2_changes_one_element_and_stops(space):
    rng = random.Random(11)
    kinds = set()
    for _ in range(300):
        g = space.random_genome(rng.randint(1, 6), rng)
        before = copy.deepcopy(g)
        what, layers = hypermutation_pass(g, space, 1.0, rng=rng)
        kinds.add(what)
        old, new = expressed(space, before), expressed(space, g)
        if what == "none":
            assert old == new
            continue
        if what == "connections":
            assert [(o[0], o[1]) for o in old] == [(n[0], n[1]) for n in new]  # ops and hps untouched
            assert [l for l in range(1, len(g) + 1) if old[l - 1][2] != new[l - 1][2]] == layers
            assert [b["op"] for b in before] == [x["op"] for x in g] and [b["hp"] for b in before] == [x["hp"] for x in g]
            continue
        (l,) = layers
        assert [i + 1 for i in range(len(g)) if old[i] != new[i]] == [l]
        # later layers' op, hp and aggregation untouched: the pass stopped (the connection
        # phase perturbs every layer's indegree / second input first, on CIFAR-10)
        assert [(b["op"], b["hp"], b.get("agg")) for b in before[l:]] == [(x["op"], x["hp"], x.get("agg")) for x in g[l:]]
        o, n = old[l - 1], new[l - 1]
        if what == "aggregation":
            assert (o[0], o[1]) == (n[0], n[1]) and o[3] != n[3]
            assert before[l - 1]["op"] == g[l - 1]["op"]
        elif what == "op":
            assert o[0] != n[0]
        else:
            diff = [i for i, (a, b) in enumerate(zip(o[1], n[1], strict=True)) if a != b]
            assert len(diff) == 1 and o[0] == n[0]
            i = diff[0]
            assert before[l - 1]["hp"][i + 1:] == g[l - 1]["hp"][i + 1:]  # later hps untouched
    expected = {"none", "op", "hp"} | ({"connections", "aggregation"} if space.skip_connections else set())
    assert kinds == expected


def test_stop_at_first_connection():
    space = ImmuneCifarSpace()
    rng = random.Random(2)
    for _ in range(100):
        g = space.random_genome(6, rng)
        what, layers = hypermutation_pass(g, space, 1.0, stop_at_first_connection=True, rng=rng)
        if what == "connections":
            assert len(layers) == 1


def test_hypermutation_no_duplicates_and_changed_layers(space):
    """One application of Algorithm 2 per clone; a clone identical to its parent or to an
    architecture seen before is marked not novel (the loop drops it), a novel one is seen."""
    rng = random.Random(3)
    parent = with_fitness(space.random_genome(4, rng), 0.3)
    seen = SeenRegistry(space)
    seen.add(parent)
    clones = clone_population([parent], n_c=40)
    assert all(not c.fitness.valid and c.parent_affinity == 0.3 for c in clones)
    novel = 0
    for c in clones:
        before = set(seen.to_json())
        mut_hypermutation(c, space, seen=seen, rng=rng)
        key = space.string_encoding(c)
        assert c.novel == (key not in before)
        assert key in seen
        novel += c.novel
        assert all(1 <= i <= len(c) for i in c.changed_layers)
        for l in range(1, len(c) + 1):
            assert (l in c.changed_layers) == (space.layer_key(c, l) != space.layer_key(parent, l))
    assert 0 < novel < 40 and len(seen) == 1 + novel and parent.fitness.values == (0.3,)


def test_hypermutation_leaves_an_unchanged_clone_as_it_is():
    """At high affinity Algorithm 2 rarely crosses a bin: the clone keeps its parent's
    architecture (not novel) and its sub-threshold perturbations (Fig. 2); nothing is retried."""
    space = ImmuneFashionSpace()
    g = ImmuneIndividual([{"op": 0.9, "hp": [0.5, 0.5, 0.5]}])  # identity: only the op type can change
    before = copy.deepcopy(list(g))
    out = mut_hypermutation(g, space, f_parent=1.0, rho=0.2, rng=random.Random(0))  # sigma = e^-5
    assert out == (g,) and g.novel is False and g.changed_layers == []
    assert g[0]["op"] != before[0]["op"] and space.string_encoding(g) == space.string_encoding(before)


class CountingRandom(random.Random):
    """A Random that counts its Gaussian draws."""

    draws = 0

    def gauss(self, mu=0.0, sigma=1.0):
        self.draws += 1
        return super().gauss(mu, sigma)


@pytest.mark.parametrize("which", ["fashion", "cifar"])
def test_affinity_controls_how_much_a_clone_changes(which):
    """Eq. 1-2 with one application of Algorithm 2 per clone: the expected number of changed
    discretised elements falls with the parent's affinity, and many clones of a
    high-affinity parent do not change at all. (Repeating Algorithm 2 until the clone is new
    made every clone change: 2.44 / 2.07 / 1.98 elements at f = 0.1 / 0.5 / 0.9 on
    Fashion-MNIST, 300 Gaussian draws per clone at f = 0.9.)"""
    space = ImmuneFashionSpace() if which == "fashion" else ImmuneCifarSpace()
    mean, unchanged = {}, {}
    for f in (0.1, 0.5, 0.9):
        rng = CountingRandom(1)
        counts = []
        for _ in range(500):
            parent = space.random_genome(5, rng)
            clone = copy.deepcopy(parent)
            start = rng.draws
            mut_hypermutation(clone, space, f_parent=f, rho=0.2, rng=rng)
            # one pass: at most one draw per indegree, second input, aggregation, op and hp
            assert rng.draws - start <= len(parent) * (4 + space.num_hp)
            counts.append(changed_elements(space, parent, clone))
        mean[f] = sum(counts) / len(counts)
        unchanged[f] = counts.count(0) / len(counts)
    assert mean[0.1] > 1.25 * mean[0.5] and mean[0.5] > 2 * mean[0.9]
    assert unchanged[0.1] < 0.05 < unchanged[0.5] < 0.5 < unchanged[0.9]


def test_changed_elements():
    space = ImmuneFashionSpace()
    a = ImmuneIndividual([{"op": 0.1, "hp": [0.1, 0.1, 0.1]}, {"op": 0.1, "hp": [0.1, 0.1, 0.1]}])
    b = copy.deepcopy(a)
    assert changed_elements(space, a, b) == 0
    b[1]["hp"][0] = 0.9  # kernel size
    assert changed_elements(space, a, b) == 1
    b[0]["op"] = 0.9  # conv -> identity: the op and its three hyperparameters
    assert changed_elements(space, a, b) == 1 + 4
    assert changed_elements(space, a, a + [{"op": 0.9, "hp": [0.5, 0.5, 0.5]}]) == 3  # op, input, aggregation slots


def test_hypermutation_needs_an_affinity():
    space = ImmuneFashionSpace()
    with pytest.raises(ValueError, match="parent affinity"):
        mut_hypermutation(space.random_genome(2, random.Random(0)), space)


# ------------------------------------------------------------------------ insertion, augmentation, selection


@pytest.mark.parametrize("depths, expected", [([2, 3, 3], 3), ([1, 2], 2), ([1, 1, 2], 1), ([5], 5)])
def test_insertion_at_mean_depth(depths, expected):
    space = ImmuneCifarSpace()
    rng = random.Random(0)
    pop = [space.random_genome(d, rng) for d in depths]
    seen = SeenRegistry(space)
    new = random_insertion(pop, n_i=2, space=space, seen=seen, rng=rng)
    assert len(new) == 2 and all(len(g) == expected and not g.fitness.valid for g in new)
    assert all(g in seen for g in new)


def test_augment(space):
    rng = random.Random(4)
    parent = with_fitness(space.random_genome(3, rng), 0.8)
    frozen = copy.deepcopy(parent)
    child = augment(parent, space, rng=rng)
    assert child is not parent and parent == frozen and parent.fitness.values == (0.8,)
    assert len(child) == 4 and child[:3] == parent[:] and not child.fitness.valid
    assert child.changed_layers == [4] and child.parent_affinity == 0.8
    copies = make_augmented_copies([parent, parent], n_a=3, space=space, rng=rng)
    assert len(copies) == 6 and all(len(c) == 4 and c[:3] == parent[:] for c in copies)


def test_sel_best_n():
    space = ImmuneFashionSpace()
    rng = random.Random(0)
    pop = [with_fitness(space.random_genome(1, rng), f) for f in (0.5, 0.9, 0.7, 0.9)]
    best = sel_best_n(pop, 3)
    assert [b.fitness.values[0] for b in best] == [0.9, 0.9, 0.7]
    assert best[0] is pop[1] and best[1] is pop[3]
    del pop[0].fitness.values
    with pytest.raises(ValueError, match="no fitness"):
        sel_best_n(pop, 2)


def test_operators_use_only_the_given_rng(space, monkeypatch):
    rng = random.Random(9)
    pop = [with_fitness(space.random_genome(d, rng), 0.6) for d in (2, 3)]

    def boom(*a, **k):
        raise AssertionError("global random used")

    for name in ("random", "gauss", "randint", "choice", "uniform", "normalvariate", "shuffle", "sample"):
        monkeypatch.setattr(random, name, boom)
    space.random_individual(rng)
    clones = clone_population(pop, 2)
    for c in clones:
        mut_hypermutation(c, space, seen=SeenRegistry(space), rng=rng)
    random_insertion(pop, 2, space, rng=rng)
    make_augmented_copies(pop, 2, space, rng=rng)


def test_spaces_and_ops_are_torch_free():
    code = "import sys, deap_nas.spaces, deap_nas.ops; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------ build with torch


@pytest.mark.parametrize("which", ["fashion", "cifar"])
def test_decoded_architectures_validate_and_build(which):
    torch = pytest.importorskip("torch")
    from deap_nas.nn import build

    space, shape = (ImmuneFashionSpace(), FASHION) if which == "fashion" else (ImmuneCifarSpace(), CIFAR)
    rng = random.Random(13)
    ops = set()
    for k in range(12):
        g = space.random_genome(1 + k % 5, rng)
        arch = space.decode(g)
        arch.validate(shape)
        ops |= {n.op for n in arch.nodes[1:]}
        net = build(arch, shape, 10, head="concat_pool")
        assert sum(p.numel() for p in net.parameters()) == arch.num_params(shape, 10, "concat_pool")
        if k < 3:
            net.eval()
            with torch.no_grad():
                assert net(torch.zeros(2, *shape)).shape == (2, 10)
    assert len(ops) >= 3
