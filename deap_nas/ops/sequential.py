"""Operators for list genomes of layer genes (the ``sequential`` space), DEAP-style.

They edit the individual in place and return a tuple, never clone and never touch the
fitness (docs/architecture.md); ``rng`` defaults to the ``random`` module so they
share DEAP's stream. ``space`` supplies new genes and the depth bounds.
"""

from __future__ import annotations

import random
from typing import Any

from .registry import register_operator


@register_operator("mut_layer", "sequential")
def mut_layer(individual: list, space: Any, rng: Any = random) -> tuple[list]:
    """Replace one uniformly chosen layer gene by a new random gene."""
    if individual:
        individual[rng.randrange(len(individual))] = space.random_gene(rng)
    return (individual,)


@register_operator("mut_insert", "sequential")
def mut_insert(individual: list, space: Any, rng: Any = random) -> tuple[list]:
    """Insert a random gene at a random position, unless at the maximum depth."""
    if len(individual) < space.params.max_depth:
        individual.insert(rng.randint(0, len(individual)), space.random_gene(rng))
    return (individual,)


@register_operator("mut_delete", "sequential")
def mut_delete(individual: list, space: Any, rng: Any = random) -> tuple[list]:
    """Delete a random gene, unless at the minimum depth."""
    if len(individual) > space.params.min_depth:
        del individual[rng.randrange(len(individual))]
    return (individual,)


@register_operator("mut_sequential", "sequential")
def mut_sequential(
    individual: list,
    space: Any,
    p_layer: float = 0.6,
    p_insert: float = 0.2,
    p_delete: float = 0.2,
    rng: Any = random,
) -> tuple[list]:
    """Apply one of mut_layer / mut_insert / mut_delete, chosen with the given weights."""
    weights = (p_layer, p_insert, p_delete)
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"mut_sequential: weights must be >= 0 with a positive sum, got {weights}")
    op = rng.choices((mut_layer, mut_insert, mut_delete), weights=weights)[0]
    return op(individual, space, rng=rng)


@register_operator("cx_one_point", "sequential")
def cx_one_point(ind1: list, ind2: list, space: Any, rng: Any = random) -> tuple[list, list]:
    """Exchange the tails after one cut point in each parent; depths stay within bounds.

    Cut points are drawn independently in each parent (lengths may differ), then redrawn
    (at most 20 times) until both children respect ``min_depth``..``max_depth``; if none
    fits, the parents are left unchanged.
    """
    lo, hi = space.params.min_depth, space.params.max_depth
    for _ in range(20):
        c1, c2 = rng.randint(0, len(ind1)), rng.randint(0, len(ind2))
        n1, n2 = c1 + len(ind2) - c2, c2 + len(ind1) - c1
        if lo <= n1 <= hi and lo <= n2 <= hi:
            tail1, tail2 = ind1[c1:], ind2[c2:]
            ind1[c1:], ind2[c2:] = tail2, tail1
            break
    return ind1, ind2
