"""GEP chromosomes (Karva decoding) and operators against hand-worked results."""

from __future__ import annotations

import random

import pytest

from deap_nas.ops import OPERATORS
from deap_nas.ops.gep import (
    cx_one_point,
    cx_two_point,
    mut_gene_transpose,
    mut_is_transpose,
    mut_point,
    mut_ris_transpose,
    reproduce_pair,
)
from deap_nas.spaces import NasgepParams, NasgepSpace
from deap_nas.spaces.gep import GepSpec, coding_length, decode_chromosome, karva_decode, tail_length

ARITH = {"Q": 1, "*": 2, "+": 2, "-": 2}


class Scripted:
    """An rng whose calls return scripted values, in order (hand-worked operator tests)."""

    def __init__(self, *values):
        self.values = list(values)

    def _next(self, name):
        assert self.values, f"unexpected rng.{name} call"
        return self.values.pop(0)

    def random(self):
        return self._next("random")

    def randrange(self, a, b=None):
        v = self._next("randrange")
        lo, hi = (0, a) if b is None else (a, b)
        assert lo <= v < hi, (v, lo, hi)
        return v

    def randint(self, a, b):
        v = self._next("randint")
        assert a <= v <= b
        return v

    def choice(self, seq):
        v = self._next("choice")
        assert v in seq, (v, seq)
        return v

    def sample(self, seq, k):
        v = self._next("sample")
        assert len(v) == k and all(x in seq for x in v)
        return list(v)


def test_tail_length_formula():
    assert tail_length(4, 2) == 5  # NASGEP cells: h = 4, t = 5
    assert tail_length(1, 2) == 2  # NASGEP genes: h = 1, t = 2
    assert tail_length(10, 3) == 21


def test_karva_decoding_of_hand_written_genes():
    # Ferreira (2001) sec. 3.1: Q*+-abcd -> sqrt((a + b) * (c - d)), read breadth-first
    t = karva_decode(list("Q*+-abcd"), ARITH)
    assert t.to_tuple() == ("Q", ("*", ("+", "a", "b"), ("-", "c", "d")))
    # the non-coding end is ignored
    t = karva_decode(list("+a*bcdab"), ARITH)
    assert t.to_tuple() == ("+", "a", ("*", "b", "c"))
    assert coding_length(list("+a*bcdab"), ARITH) == 5
    assert karva_decode(list("abc"), ARITH).to_tuple() == "a"
    with pytest.raises(ValueError, match="ends before"):
        karva_decode(list("**a"), ARITH)


def test_multigene_decoding_and_layout_check():
    spec = GepSpec(ARITH, list("ab"), head=2, n_genes=2)
    assert spec.tail == 3 and spec.length == 10
    trees = decode_chromosome(list("+aabab") [:5] + list("Qbaab"), spec)
    assert [t.to_tuple() for t in trees] == [("+", "a", "a"), ("Q", "b")]
    with pytest.raises(ValueError, match="function '\\+' in the tail"):
        spec.check(list("ab+ab") + list("abbab"))


def test_nasgep_cell_decoding_by_hand():
    sp = NasgepSpace(NasgepParams())
    cell = sp.cell_spec(["g1", "g2", "g3"])
    chrom = ["cat", "add", "g1", "g2", "g3", "g1", "g2", "g3", "g1"]
    cell.check(chrom)
    assert karva_decode(chrom, cell).to_tuple() == ("cat", ("add", "g2", "g3"), "g1")
    gene = sp.gene_spec("normal")
    assert karva_decode(["sep_3x5", "h1", "dw_1x7@h2"], gene).to_tuple() == ("sep_3x5", "h1")
    assert karva_decode(["add", "h2", "isep_7x1@h1"], gene).to_tuple() == ("add", "h2", "isep_7x1@h1")
    assert "h1" not in sp.gene_spec("reduction").terminals  # inputs are terminals of normal genes only


def test_point_mutation_head_to_function_tail_to_terminal():
    spec = GepSpec(ARITH, list("ab"), head=2)  # ** + abb -> length 5
    ind = ["a", "+", "a", "b", "b"]
    # positions 0 and 3 mutate: head position 0 -> a function only; tail position 3 -> terminal
    rng = Scripted(0.0, "*", 0.9, 0.9, 0.0, "a", 0.9)
    (out,) = mut_point(ind, spec, indpb=0.5, head_functions_only=True, rng=rng)
    assert out is ind and ind == ["*", "+", "a", "a", "b"]
    # without the NASGEP rule a head symbol may become a terminal: the kind is drawn first
    # (0.7 >= function_prob 0.5: a terminal), then the symbol within the kind
    ind = ["+", "+", "a", "b", "b"]
    mut_point(ind, spec, indpb=0.5, rng=Scripted(0.0, 0.7, "b", 0.9, 0.9, 0.9, 0.9))
    assert ind == ["b", "+", "a", "b", "b"]
    ind = ["+", "+", "a", "b", "b"]
    mut_point(ind, spec, indpb=0.5, rng=Scripted(0.0, 0.2, "Q", 0.9, 0.9, 0.9, 0.9))  # 0.2 < 0.5: a function
    assert ind == ["Q", "+", "a", "b", "b"]
    with pytest.raises(AssertionError):  # a terminal is not offered to the head with the rule on
        mut_point(["+", "+", "a", "b", "b"], spec, indpb=1.0, head_functions_only=True, rng=Scripted(0.0, "b"))


def test_is_transposition_by_hand():
    spec = GepSpec(ARITH, list("abcd"), head=4)  # gene length 4 + 5 = 9
    ind = list("*+-Qabcda")
    # length 2 segment from position 5 ("bc"), gene 0, target head position 1
    rng = Scripted(2, 5, 0, 1)
    mut_is_transpose(ind, spec, rng=rng)
    # head *+-Q -> * b c + (the +-Q shifted right, -Q pushed past the head and lost); tail unchanged
    assert ind == list("*bc+abcda")


def test_ris_transposition_by_hand():
    spec = GepSpec(ARITH, list("abcd"), head=4)
    ind = list("*a+Qbcdab")
    # start scanning at head position 1 ('a', a terminal) -> first function '+' at 2; length 3: "+Qb"
    rng = Scripted(0, 1, 3)
    mut_ris_transpose(ind, spec, rng=rng)
    assert ind == list("+Qb*bcdab")
    # no function from the chosen position on: unchanged
    ind = list("*abcbcdab")
    mut_ris_transpose(ind, spec, rng=Scripted(0, 1, 1))
    assert ind == list("*abcbcdab")


def test_gene_transposition_by_hand():
    spec = GepSpec(ARITH, list("ab"), head=1, n_genes=3)  # genes of length 3
    ind = list("+ab" "Qab" "*ba")
    mut_gene_transpose(ind, spec, rng=Scripted(2))
    assert ind == list("*ba" "+ab" "Qab")
    one = GepSpec(ARITH, list("ab"), head=1)
    ind = list("+ab")
    mut_gene_transpose(ind, one, rng=Scripted())  # one gene: nothing to move, no rng call
    assert ind == list("+ab")


def test_one_and_two_point_recombination_by_hand():
    a, b = list("abcdefgh"), list("ABCDEFGH")
    cx_one_point(a, b, rng=Scripted(3))
    assert a == list("abcDEFGH") and b == list("ABCdefgh")
    a, b = list("abcdefgh"), list("ABCDEFGH")
    cx_two_point(a, b, rng=Scripted([5, 2]))
    assert a == list("abCDEfgh") and b == list("ABcdeFGH")


def test_reproduce_pair_applies_the_papers_order():
    spec = GepSpec(ARITH, list("ab"), head=2)  # length 5
    calls = []
    rng = random.Random(0)

    class Spy:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(rng, name)

    a, b = list("*+abb"), list("-Qaba")
    reproduce_pair(a, b, spec, Spy(), mutation=0.0, is_rate=1.0, ris_rate=1.0, gene_rate=1.0,
                   one_point=1.0, two_point=1.0)
    # per parent: 5 mutation draws, IS (random + choice, randrange x3), RIS (random, randrange, choice,
    # randrange), gene transposition (random only: one gene); then the pair's recombinations
    per_parent = (["random"] * 5 + ["random", "choice", "randrange", "randrange", "randrange"]
                  + ["random", "randrange", "randrange", "choice"] + ["random"])
    assert calls == per_parent * 2 + ["random", "randint", "random", "sample"]


@pytest.mark.parametrize("kind", ["normal", "reduction", "cell"])
def test_tails_hold_only_terminals_after_every_operator(kind):
    sp = NasgepSpace(NasgepParams())
    spec = sp.cell_spec([f"g{i}" for i in range(6)]) if kind == "cell" else sp.gene_spec(kind)
    spec2 = GepSpec(spec.functions, spec.terminals, spec.head, n_genes=3)
    rng = random.Random(7)
    for s in (spec, spec2):
        pop = [s.random_chromosome(rng) for _ in range(6)]
        for _ in range(150):
            a, b = rng.sample(range(len(pop)), 2)
            op = rng.randrange(6)
            if op == 0:
                mut_point(pop[a], s, indpb=0.3, head_functions_only=rng.random() < 0.5, rng=rng)
            elif op == 1:
                mut_is_transpose(pop[a], s, rng=rng)
            elif op == 2:
                mut_ris_transpose(pop[a], s, rng=rng)
            elif op == 3:
                mut_gene_transpose(pop[a], s, rng=rng)
            elif op == 4:
                cx_one_point(pop[a], pop[b], rng=rng)
            else:
                reproduce_pair(pop[a], pop[b], s, rng, mutation=0.2, is_rate=0.5, ris_rate=0.5,
                               gene_rate=0.5, one_point=0.5, two_point=0.5, head_functions_only=True)
            for c in pop:
                s.check(c)  # raises on a function in a tail
                decode_chromosome(c, s)


def test_operators_registered_and_seeded_runs_repeat():
    for name in ("mut_gep_point", "mut_gep_is", "mut_gep_ris", "mut_gep_gene", "cx_gep_one_point",
                 "cx_gep_two_point"):
        assert name in OPERATORS
    spec = NasgepSpace(NasgepParams()).gene_spec("normal")

    def run(seed):
        rng = random.Random(seed)
        a, b = spec.random_chromosome(rng), spec.random_chromosome(rng)
        for _ in range(20):
            reproduce_pair(a, b, spec, rng, mutation=0.3, head_functions_only=True)
        return a, b

    assert run(3) == run(3)
    assert run(3) != run(4)
