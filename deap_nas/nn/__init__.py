"""The torch side: op modules, ``build(arch, input_shape, num_classes, head)`` and weight transfer.

    >>> from deap_nas.arch import sequential
    >>> from deap_nas.nn import build
    >>> net = build(sequential([("conv", {"channels": 8})]), (1, 28, 28), 10)
"""

from . import blocks, layers, misc, reference  # noqa: F401  (register the op modules)
from .network import Network, NodeModule, build, init_weights, node_key
from .registry import MODULES, make_module, register_module
from .transfer import TransferReport, transfer_weights

__all__ = [
    "MODULES",
    "Network",
    "NodeModule",
    "TransferReport",
    "build",
    "init_weights",
    "make_module",
    "node_key",
    "register_module",
    "transfer_weights",
]
