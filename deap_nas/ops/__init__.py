"""DEAP operators, torch-free: ``mutX`` / ``cxX`` / ``selX`` per paper family.

    >>> from deap_nas.ops import OPERATORS
    >>> sorted(OPERATORS)[:3]
    ['augment', 'clone_population', 'cx_one_point']
"""

from . import aging, gep, immunecs, neat, sequential  # noqa: F401  (register their operators)
from .aging import remove_oldest, sel_aging_tournament, set_birth
from .gep import (
    cx_one_point as cx_gep_one_point,
)
from .gep import (
    cx_two_point as cx_gep_two_point,
)
from .gep import (
    mut_gene_transpose,
    mut_is_transpose,
    mut_point,
    mut_ris_transpose,
    reproduce_pair,
)
from .immunecs import (
    SeenRegistry,
    augment,
    clear_inheritance,
    clone_population,
    make_augmented_copies,
    mark_inheritance,
    mut_hypermutation,
    mutation_rate,
    random_insertion,
    sel_best_n,
)
from .neat import mut_add_node, mut_identity, mut_layer_gene, mut_neat, mut_toggle_connection
from .registry import OPERATORS, operator_parameters, register_operator
from .sequential import cx_one_point, mut_delete, mut_insert, mut_layer, mut_sequential

__all__ = [
    "OPERATORS",
    "SeenRegistry",
    "augment",
    "clear_inheritance",
    "clone_population",
    "make_augmented_copies",
    "mark_inheritance",
    "mut_hypermutation",
    "mutation_rate",
    "random_insertion",
    "sel_best_n",
    "cx_one_point",
    "cx_gep_one_point",
    "cx_gep_two_point",
    "mut_gene_transpose",
    "mut_is_transpose",
    "mut_point",
    "mut_ris_transpose",
    "reproduce_pair",
    "remove_oldest",
    "sel_aging_tournament",
    "set_birth",
    "mut_delete",
    "mut_add_node",
    "mut_identity",
    "mut_insert",
    "mut_layer",
    "mut_layer_gene",
    "mut_neat",
    "mut_sequential",
    "mut_toggle_connection",
    "operator_parameters",
    "register_operator",
]
