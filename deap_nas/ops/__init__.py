"""DEAP operators, torch-free: ``mutX`` / ``cxX`` / ``selX`` per paper family.

    >>> from deap_nas.ops import OPERATORS
    >>> sorted(OPERATORS)[:3]
    ['augment', 'clone_population', 'cx_one_point']
"""

from . import aging, eigen, gep, immunecs, minigen, nasgep, neat, sequential  # noqa: F401  (register their operators)
from .aging import remove_oldest, sel_aging_tournament, set_birth
from .compat import (
    OperatorSpaceError,
    check_operator,
    check_operators,
    check_toolbox,
    operator_genomes,
)
from .eigen import (
    mut_alter_channels,
    mut_alter_filter_size,
    mut_alter_stride,
    mut_eigen,
    mut_insert_concatenation,
    mut_insert_convolution,
    mut_insert_pooling,
    mut_remove_concatenation,
    mut_remove_convolution,
    mut_remove_pooling,
)
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
    clone_population,
    inheritance_request,
    make_augmented_copies,
    mut_hypermutation,
    mutation_rate,
    random_insertion,
    sel_best_n,
)
from .minigen import (
    cx_cells,
    mean_accuracy,
    mut_minigen,
    performance_score,
    sel_softmax,
    sel_top_k,
    softmax_probabilities,
    stamp_birth,
)
from .nasgep import mut_nasgep
from .neat import mut_add_node, mut_identity, mut_layer_gene, mut_neat, mut_toggle_connection
from .registry import ANY, OPERATOR_GENOMES, OPERATORS, operator_parameters, register_operator
from .sequential import cx_one_point, mut_delete, mut_insert, mut_layer, mut_sequential

__all__ = [
    "ANY",
    "OPERATORS",
    "OPERATOR_GENOMES",
    "OperatorSpaceError",
    "check_operator",
    "check_operators",
    "check_toolbox",
    "operator_genomes",
    "mut_alter_channels",
    "mut_alter_filter_size",
    "mut_alter_stride",
    "mut_eigen",
    "mut_insert_concatenation",
    "mut_insert_convolution",
    "mut_insert_pooling",
    "mut_remove_concatenation",
    "mut_remove_convolution",
    "mut_remove_pooling",
    "SeenRegistry",
    "augment",
    "clone_population",
    "make_augmented_copies",
    "inheritance_request",
    "mut_hypermutation",
    "mutation_rate",
    "random_insertion",
    "sel_best_n",
    "cx_one_point",
    "cx_cells",
    "mean_accuracy",
    "mut_minigen",
    "mut_nasgep",
    "performance_score",
    "sel_softmax",
    "sel_top_k",
    "softmax_probabilities",
    "stamp_birth",
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
