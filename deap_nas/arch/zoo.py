"""Hand-designed reference networks as :class:`~deap_nas.arch.Architecture` objects.

The members of a distillation teacher ensemble (``deap-nas train-teacher``) are built
from these; a config names one as a mapping ``{family: NAME, **params}``
(:func:`reference_architecture`). Both follow the CIFAR variants of their papers, with
the ``gap_linear`` head (global average pooling, linear) after the final BN-ReLU:

- :func:`wide_resnet`: WRN-``depth``-``width`` (Zagoruyko and Komodakis 2016, Table 1):
  conv3x3(16), three groups of ``(depth - 4) / 6`` ``wrn_block`` of 16k, 32k, 64k
  channels (strides 1, 2, 2), BN-ReLU. WRN-28-10 has 36.5 M parameters.
- :func:`densenet`: DenseNet (L = ``depth``, k = ``growth``; Huang et al. 2017, sec. 3
  "Implementation Details"): conv3x3(16; 2k for the bottleneck variant), three dense
  blocks of ``(depth - 4) / 3`` layers (``/ 6`` with bottlenecks) joined by
  ``dense_transition`` layers, BN-ReLU. "Wide-DenseNet" is a DenseNet with a large
  growth rate (EIGEN's teacher: L = 40, k = 60).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .architecture import Architecture, sequential

__all__ = ["FAMILIES", "densenet", "reference_architecture", "wide_resnet"]


def _depth(depth: Any, per_block: int, name: str) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 4 + per_block or (depth - 4) % per_block:
        raise ValueError(f"depth: {name} needs depth = 4 + {per_block} n with n >= 1, got {depth!r}")
    return (depth - 4) // per_block


def _positive_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name}: must be an integer >= 1, got {v!r}")
    return v


def wide_resnet(depth: int = 28, width: int = 10, dropout: float = 0.0) -> Architecture:
    """WRN-``depth``-``width`` with ``dropout`` between the two convolutions of each block."""
    n = _depth(depth, 6, "wide_resnet")
    _positive_int("width", width)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout: must be in [0, 1), got {dropout!r}")
    ops: list[tuple[str, dict[str, Any]]] = [("conv", {"channels": 16, "bn": False, "act": None, "bias": False})]
    for group, stride in enumerate((1, 2, 2)):
        for i in range(n):
            params = {"channels": 16 * width * 2**group, "stride": stride if i == 0 else 1, "dropout": float(dropout)}
            ops.append(("wrn_block", params))
    ops.append(("bn_act", {}))
    return sequential(ops, name=f"wrn-{depth}-{width}")


def densenet(depth: int = 40, growth: int = 12, bottleneck: bool = False, compression: float = 1.0) -> Architecture:
    """DenseNet (``bottleneck``: -B, ``compression`` < 1: -C) of ``depth`` layers, growth ``growth``."""
    if not isinstance(bottleneck, bool):
        raise ValueError(f"bottleneck: must be true or false, got {bottleneck!r}")
    n = _depth(depth, 6 if bottleneck else 3, "densenet")
    _positive_int("growth", growth)
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) or not 0 < compression <= 1:
        raise ValueError(f"compression: must be in (0, 1], got {compression!r}")
    block = "dense_bottleneck_block" if bottleneck else "dense_block"
    stem = 2 * growth if bottleneck else 16
    ops: list[tuple[str, dict[str, Any]]] = [("conv", {"channels": stem, "bn": False, "act": None, "bias": False})]
    for b in range(3):
        ops.append((block, {"growth": growth, "layers": n, "transition": False}))
        if b < 2:
            ops.append(("dense_transition", {"compression": float(compression)}))
    ops.append(("bn_act", {}))
    return sequential(ops, name=f"densenet-{depth}-{growth}{'-b' if bottleneck else ''}")


FAMILIES: dict[str, Callable[..., Architecture]] = {"wide_resnet": wide_resnet, "densenet": densenet}


def reference_architecture(spec: Mapping[str, Any]) -> Architecture:
    """The network of ``{family: NAME, **params}``; ValueError naming the bad key."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"expected a mapping such as {{family: wide_resnet, depth: 28, width: 10}}, got {spec!r}")
    params = dict(spec)
    family = params.pop("family", None)
    if family not in FAMILIES:
        raise ValueError(f"family: must be one of {sorted(FAMILIES)}, got {family!r}")
    import inspect

    known = set(inspect.signature(FAMILIES[family]).parameters)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown parameter of {family}; known: {', '.join(sorted(known))}")
    return FAMILIES[family](**params)
