"""Op registry, torch half: op name -> factory(input_shape, resolved params) -> nn.Module.

Each name must also have an :class:`deap_nas.arch.OpSpec` (shape and parameter count);
a new op is two registrations, one per layer::

    @register_op
    class Swish(OpSpec): name = "swish"; ...          # deap_nas.arch

    @register_module("swish")
    def make_swish(shape, p): return nn.SiLU()        # deap_nas.nn
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from torch import nn

from ..arch import OPS, ArchitectureError, Shape

ModuleFactory = Callable[[Shape, dict[str, Any]], nn.Module]

MODULES: dict[str, ModuleFactory] = {}


def register_module(name: str) -> Callable[[ModuleFactory], ModuleFactory]:
    """Decorator: register the module factory of op ``name`` (its OpSpec must exist)."""

    def deco(fn: ModuleFactory) -> ModuleFactory:
        if name not in OPS:
            raise ValueError(f"op '{name}' has no OpSpec in deap_nas.arch; register that first")
        if name in MODULES:
            raise ValueError(f"a module factory for op '{name}' is already registered")
        MODULES[name] = fn
        return fn

    return deco


def named(layers: dict[str, nn.Module]) -> nn.Sequential:
    """An ``nn.Sequential`` with readable submodule names, in the dict's order."""
    return nn.Sequential(OrderedDict(layers))


def make_module(op: str, in_shape: Shape, params: dict[str, Any]) -> nn.Module:
    """The module of ``op`` for an input of ``in_shape`` with resolved ``params``."""
    try:
        factory = MODULES[op]
    except KeyError:
        raise ArchitectureError(
            f"op '{op}' has no torch module; registered: {', '.join(sorted(MODULES))}"
        ) from None
    return factory(in_shape, params)
