"""DEAP operators, torch-free: ``mutX`` / ``cxX`` / ``selX`` per paper family.

    >>> from deap_nas.ops import OPERATORS
    >>> sorted(OPERATORS)[:3]
    ['cx_one_point', 'mut_delete', 'mut_insert']
"""

from . import sequential  # noqa: F401  (registers its operators)
from .registry import OPERATORS, operator_parameters, register_operator
from .sequential import cx_one_point, mut_delete, mut_insert, mut_layer, mut_sequential

__all__ = [
    "OPERATORS",
    "cx_one_point",
    "mut_delete",
    "mut_insert",
    "mut_layer",
    "mut_sequential",
    "operator_parameters",
    "register_operator",
]
