"""Whole-genome mutation of a NASGEP individual, for loops that vary individuals (torch-free).

NASGEP's own loop (:mod:`deap_nas.algorithms.nasgep`, sec. III-E) reproduces cells and ADF
genes in separate populations. A loop that varies whole individuals with
``toolbox.mutate`` (NSGA-II, aging evolution; docs/objectives.md) needs one operator for
the whole genome: :func:`mut_nasgep` applies the paper's GEP operators at its rates to both
cell chromosomes (head symbols mutate only to functions, sec. III-E) and to every ADF gene
the genome carries (GEP's default mutation: a head symbol becomes a function or a
terminal), in the order sec. III-E names: point mutation, IS transposition, RIS
transposition. The genome stays valid: cells only name genes it carries.
"""

from __future__ import annotations

import random
from typing import Any

from .gep import mut_is_transpose, mut_point, mut_ris_transpose
from .registry import register_operator

__all__ = ["mut_nasgep"]


def _vary(chrom: list, spec: Any, rng: Any, mutation: float, is_rate: float, ris_rate: float,
          head_functions_only: bool, function_prob: float) -> None:
    mut_point(chrom, spec, mutation, head_functions_only=head_functions_only, rng=rng, function_prob=function_prob)
    if rng.random() < is_rate:
        mut_is_transpose(chrom, spec, rng=rng)
    if rng.random() < ris_rate:
        mut_ris_transpose(chrom, spec, rng=rng)


@register_operator("mut_nasgep", "nasgep")
def mut_nasgep(individual: Any, space: Any, mutation: float = 0.044, is_rate: float = 0.1,
               ris_rate: float = 0.1, rng: Any = random) -> tuple[Any]:
    """Mutate both cells and the ADF genes of ``individual`` in place (module doc);
    ``mutation`` per symbol, IS / RIS transposition once per chromosome with ``is_rate`` /
    ``ris_rate`` (Ferreira's defaults, as NASGEP's). Returns ``(individual,)``."""
    function_prob = space.params.head_function_prob
    for kind in ("normal", "reduction"):
        genes = individual["genes"][kind]
        _vary(individual[kind], space.cell_spec(sorted(genes)), rng, mutation, is_rate, ris_rate, True,
              function_prob)
        for gid in sorted(genes):
            _vary(genes[gid], space.gene_spec(kind), rng, mutation, is_rate, ris_rate, False, function_prob)
    return (individual,)
