"""Random NASGEP heads follow GEP practice (sec. III-A "a random genotype (head and
tail) is generated"; geppy draws a head symbol's kind 50/50): with 50 genes in the pool a
cell head must not be almost all terminals, and cells must express more than two genes."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from deap_nas.ops.gep import mut_point
from deap_nas.runtime.schema import ConfigError, from_mapping
from deap_nas.spaces import NasgepParams, NasgepSpace
from deap_nas.spaces.gep import GepSpec, karva_decode

GENES = [f"n{i}" for i in range(50)]  # the paper's initial pool, P_g = 50


def expressed_genes(space: NasgepSpace, chrom: list[str]) -> int:
    tree = karva_decode(chrom, space.cell_spec(GENES))
    return sum(1 for s in tree.symbols() if s in GENES)


def test_cell_heads_hold_functions_half_the_time_and_express_up_to_five_genes():
    space = NasgepSpace(NasgepParams())
    rng = random.Random(0)
    cells = [space.random_cell(GENES, rng) for _ in range(4000)]
    non_root = [s for c in cells for s in c[1:4]]
    share = sum(s in ("add", "cat") for s in non_root) / len(non_root)
    assert 0.47 < share < 0.53  # was 2/52 = 3.8% with a uniform draw over all symbols
    assert all(c[0] in ("add", "cat") for c in cells)
    counts = Counter(expressed_genes(space, c) for c in cells)
    assert set(counts) == {2, 3, 4, 5}
    # root + 3 head positions with p = 0.5: P(2 genes) = 1/4, P(>= 3) = 3/4, P(5) = 1/8
    assert 0.22 < counts[2] / len(cells) < 0.28  # was 92.4%
    assert 0.10 < counts[5] / len(cells) < 0.15  # was 0
    assert sum(counts[k] for k in (3, 4, 5)) / len(cells) > 0.7


def test_gene_heads_and_the_parameter():
    # genes have head 1: the root is always a function (add or a convolution)
    space = NasgepSpace(NasgepParams())
    rng = random.Random(1)
    genes = [space.random_gene("normal", rng) for _ in range(200)]
    assert all(space.gene_spec("normal").is_function(g[0]) for g in genes)
    # head_function_prob 1.0 fills cell heads with functions: every cell expresses 5 genes
    full = NasgepSpace(NasgepParams(head_function_prob=1.0))
    assert {expressed_genes(full, full.random_cell(GENES, rng)) for _ in range(50)} == {5}
    none = NasgepSpace(NasgepParams(head_function_prob=0.0))
    assert {expressed_genes(none, none.random_cell(GENES, rng)) for _ in range(50)} == {2}
    for bad in (1.5, -0.1, True, "half"):
        with pytest.raises(ConfigError, match="space.head_function_prob"):
            from_mapping(NasgepParams, {"head_function_prob": bad}, "space")


def test_random_individuals_use_the_head_probability():
    space = NasgepSpace(NasgepParams(random_genes=50))
    rng = random.Random(2)
    heads = [s for _ in range(300) for s in space.random_individual(rng)["normal"][1:4]]
    assert 0.44 < sum(s in ("add", "cat") for s in heads) / len(heads) < 0.56


def test_point_mutation_draws_the_kind_of_a_head_symbol_first():
    spec = GepSpec({"add": 2, "cat": 2}, GENES, head=4)
    rng = random.Random(3)
    became = Counter()
    for _ in range(3000):
        ind = ["add"] + ["n0"] * 8
        mut_point(ind, spec, indpb=1.0, rng=rng)
        became.update("f" if spec.is_function(s) else "t" for s in ind[:4])
        assert all(not spec.is_function(s) for s in ind[4:])  # tails stay terminals
    assert 0.47 < became["f"] / (became["f"] + became["t"]) < 0.53
    # NASGEP's rule for cells: head symbols mutate only to functions
    ind = ["add"] + ["n0"] * 8
    mut_point(ind, spec, indpb=1.0, head_functions_only=True, rng=rng)
    assert all(spec.is_function(s) for s in ind[:4])


def test_the_loop_mutates_cell_heads_to_functions_and_gene_heads_to_either_kind():
    from deap import base

    from deap_nas.algorithms import Budget, SearchControl, nasgep

    space = NasgepSpace(NasgepParams(channels=4, cells_per_stage=1, head_function_prob=0.5))
    calls = []

    def reproduce(c1, c2, spec, rng, **rates):
        calls.append((spec.head, rates["head_functions_only"], rates.get("function_prob")))
        return c1, c2

    tb = base.Toolbox()
    tb.register("evaluate", lambda ind: (0.1 * len(ind["genes"]["normal"]),))
    tb.register("map", map)
    tb.register("reproduce", reproduce)
    tb.space = space
    nasgep(tb, SearchControl(Budget(generations=1)), population_size=3, reduction_population=2,
           gene_pool_size=5, gene_pool_max=8, genes_min=2, genes_max=2, max_epochs=3)
    genes = {c for c in calls if c[0] == 1}  # gene_head 1
    cells = {c for c in calls if c[0] == 4}  # cell_head 4
    assert genes == {(1, False, 0.5)}  # GEP's default mutation for the ADF genes
    assert cells == {(4, True, None)}  # sec. III-E: an individual's head changes only to a function
