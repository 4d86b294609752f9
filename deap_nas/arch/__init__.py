"""The shared architecture description (pure Python, no torch).

    >>> from deap_nas.arch import Architecture, Node, INPUT, sequential
    >>> a = sequential([("conv", {"channels": 16}), ("pool", {"type": "max"}), "identity"])
    >>> a.output_shape((1, 28, 28))
    (16, 14, 14)
"""

from . import block_ops, conv_ops, misc_ops, pool_ops, reference_ops  # noqa: F401  (register the ops)
from .architecture import FORMAT, INPUT, Architecture, Node, sequential
from .canonical import canonical_form, canonical_hash
from .errors import ArchitectureError
from .heads import HEAD_DEFAULTS, HeadSpec
from .merge import MERGES, MergePlan, plan_merge
from .opspec import OPS, OpSpec, Shape, get_op, register_op
from .record import architecture_with_head, recorded_head

__all__ = [
    "FORMAT",
    "HEAD_DEFAULTS",
    "INPUT",
    "MERGES",
    "OPS",
    "Architecture",
    "ArchitectureError",
    "HeadSpec",
    "MergePlan",
    "Node",
    "OpSpec",
    "Shape",
    "architecture_with_head",
    "canonical_form",
    "canonical_hash",
    "get_op",
    "plan_merge",
    "recorded_head",
    "register_op",
    "sequential",
]
