"""GEP genetic operators in DEAP style, for any Karva chromosome (torch-free).

Ferreira, "Gene Expression Programming", Complex Systems 13(2), 2001, sec. 4: point
mutation, IS transposition, RIS (root) transposition, gene transposition, one-point and
two-point recombination. Chromosomes are flat lists of symbols described by a
:class:`~deap_nas.spaces.gep.GepSpec`; every operator keeps the layout (tails hold only
terminals) and follows DEAP's contract: it edits in place, returns ``(ind,)`` or
``(ind1, ind2)``, takes ``rng`` (default: the ``random`` module) and never touches fitness.

:func:`reproduce_pair` applies them in the order NASGEP (sec. III-E) names: mutation,
transposition, root transposition, (gene transposition,) one-point then two-point
recombination, each at its rate. Default rates are Ferreira's (2001): mutation 0.044 per
symbol, IS / RIS / gene transposition 0.1 each with IS / RIS element lengths 1, 2, 3,
one-point recombination 0.3 and two-point recombination 0.3.

NASGEP's change (sec. III-E): with ``head_functions_only`` a head symbol mutates only to a
function ("elements in an individual's head only change to a function"). Otherwise a
mutated head symbol becomes a function with probability ``function_prob`` (0.5, as geppy's
``mutate_uniform``), else a terminal.

Why not geppy: geppy 0.1.3 (on DEAP) works on its own ``Chromosome`` / ``Gene`` objects
built from a ``PrimitiveSet``, draws from the global ``random`` module without an ``rng``
argument, and its uniform mutation cannot restrict head symbols to functions. Our genomes
are plain lists (docs/architecture.md) and operators take ``rng`` (convention 2), so
the operators are written here (about as long as an adapter would be).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ..spaces.gep import GepSpec
from .registry import register_operator

IS_LENGTHS = (1, 2, 3)
RIS_LENGTHS = (1, 2, 3)


def _check_rate(name: str, p: float) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: must be a probability in [0, 1], got {p!r}")


@register_operator("mut_gep_point", "gep_chromosome")
def mut_point(individual: list, spec: GepSpec, indpb: float = 0.044, head_functions_only: bool = False,
              rng: Any = random, function_prob: float = 0.5) -> tuple:
    """Point mutation: each symbol changes with probability ``indpb`` to another symbol
    allowed at its place. Head: a function with probability ``function_prob``, else a
    terminal (Ferreira's "any symbol can change into a function or a terminal"; geppy's
    ``mutate_uniform`` draws the kind 50/50), only functions with ``head_functions_only``;
    tail: a terminal. The new symbol differs from the old one whenever its kind has an
    alternative."""
    _check_rate("indpb", indpb)
    _check_rate("function_prob", function_prob)
    functions = list(spec.functions)
    tail_pool = list(spec.terminals)
    for i in range(len(individual)):
        if rng.random() < indpb:
            if spec.is_head(i) and not head_functions_only:
                individual[i] = spec.draw_head_symbol(rng, function_prob, exclude=individual[i])
                continue
            pool = functions if spec.is_head(i) else tail_pool
            choices = [s for s in pool if s != individual[i]] or pool
            individual[i] = rng.choice(choices)
    return (individual,)


@register_operator("mut_gep_is", "gep_chromosome")
def mut_is_transpose(individual: list, spec: GepSpec, lengths: Sequence[int] = IS_LENGTHS,
                     rng: Any = random) -> tuple:
    """IS transposition (Ferreira sec. 4.2.1): copy a segment of random length (from
    ``lengths``) starting at a random position of the chromosome and insert it into the
    head of a random gene at a random position other than the root; the head keeps its
    length, so the symbols pushed past its end are lost. Tails are unchanged. A head of
    length 1 has no non-root position: nothing happens."""
    h, g = spec.head, spec.gene_length
    if h < 2:
        return (individual,)
    length = rng.choice(list(lengths))
    start = rng.randrange(len(individual))
    segment = individual[start:start + length]
    gene = rng.randrange(spec.n_genes)
    target = rng.randrange(1, h)
    base = gene * g
    head = individual[base:base + h]
    new_head = (head[:target] + segment + head[target:])[:h]
    individual[base:base + h] = new_head
    return (individual,)


@register_operator("mut_gep_ris", "gep_chromosome")
def mut_ris_transpose(individual: list, spec: GepSpec, lengths: Sequence[int] = RIS_LENGTHS,
                      rng: Any = random) -> tuple:
    """RIS transposition (Ferreira sec. 4.2.2): in a random gene, scan its head from a
    random position for the first function; the segment of random length starting
    there becomes the gene's new start (root), the head keeps its length. Nothing
    happens when no function follows the chosen position."""
    h, g = spec.head, spec.gene_length
    gene = rng.randrange(spec.n_genes)
    base = gene * g
    start = rng.randrange(h)
    length = rng.choice(list(lengths))
    while start < h and not spec.is_function(individual[base + start]):
        start += 1
    if start >= h:
        return (individual,)
    segment = individual[base + start:base + start + length]
    segment = segment[:g - start]  # stays inside the gene
    head = individual[base:base + h]
    individual[base:base + h] = (segment + head)[:h]
    return (individual,)


@register_operator("mut_gep_gene", "gep_chromosome")
def mut_gene_transpose(individual: list, spec: GepSpec, rng: Any = random) -> tuple:
    """Gene transposition (Ferreira sec. 4.2.3): a random gene other than the first is
    moved to the start of the chromosome. A one-gene chromosome is unchanged."""
    if spec.n_genes < 2:
        return (individual,)
    g = spec.gene_length
    k = rng.randrange(1, spec.n_genes)
    gene = individual[k * g:(k + 1) * g]
    rest = individual[:k * g] + individual[(k + 1) * g:]
    individual[:] = gene + rest
    return (individual,)


@register_operator("cx_gep_one_point", "gep_chromosome")
def cx_one_point(ind1: list, ind2: list, rng: Any = random) -> tuple:
    """One-point recombination (sec. 4.3.1): a point 1 .. L-1; the parents swap
    everything from it on. Both chromosomes must have the same layout."""
    if len(ind1) != len(ind2):
        raise ValueError(f"cx_gep_one_point: lengths differ ({len(ind1)} != {len(ind2)})")
    if len(ind1) < 2:
        return ind1, ind2
    p = rng.randint(1, len(ind1) - 1)
    ind1[p:], ind2[p:] = ind2[p:], ind1[p:]
    return ind1, ind2


@register_operator("cx_gep_two_point", "gep_chromosome")
def cx_two_point(ind1: list, ind2: list, rng: Any = random) -> tuple:
    """Two-point recombination (sec. 4.3.2): points ``a < b`` in 1 .. L; the parents swap
    the symbols in ``[a, b)``."""
    if len(ind1) != len(ind2):
        raise ValueError(f"cx_gep_two_point: lengths differ ({len(ind1)} != {len(ind2)})")
    if len(ind1) < 2:
        return ind1, ind2
    a, b = sorted(rng.sample(range(1, len(ind1) + 1), 2))
    ind1[a:b], ind2[a:b] = ind2[a:b], ind1[a:b]
    return ind1, ind2


def reproduce_pair(ind1: list, ind2: list, spec: GepSpec, rng: Any = random, *,
                   mutation: float = 0.044, is_rate: float = 0.1, ris_rate: float = 0.1,
                   gene_rate: float = 0.1, one_point: float = 0.3, two_point: float = 0.3,
                   head_functions_only: bool = False, function_prob: float = 0.5) -> tuple:
    """NASGEP's reproduction of a pair of (already cloned) parents, sec. III-E: point
    mutation (per symbol), IS, RIS and gene transposition (per chromosome) on each, then
    one-point and two-point recombination (per pair), in this order. In place.
    ``function_prob``: chance that a mutated head symbol becomes a function (when
    ``head_functions_only`` is off)."""
    for name, p in (("mutation", mutation), ("is_rate", is_rate), ("ris_rate", ris_rate),
                    ("gene_rate", gene_rate), ("one_point", one_point), ("two_point", two_point)):
        _check_rate(name, p)
    for ind in (ind1, ind2):
        mut_point(ind, spec, mutation, head_functions_only, rng=rng, function_prob=function_prob)
        if rng.random() < is_rate:
            mut_is_transpose(ind, spec, rng=rng)
        if rng.random() < ris_rate:
            mut_ris_transpose(ind, spec, rng=rng)
        if rng.random() < gene_rate:
            mut_gene_transpose(ind, spec, rng=rng)
    if rng.random() < one_point:
        cx_one_point(ind1, ind2, rng=rng)
    if rng.random() < two_point:
        cx_two_point(ind1, ind2, rng=rng)
    return ind1, ind2
