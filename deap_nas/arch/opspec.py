"""Op specifications: parameters, output shape and parameter count of each op, without torch.

An :class:`OpSpec` is the pure-Python half of an op; :mod:`deap_nas.nn.registry` holds
the torch half (a module factory of the same name). The parameter count computed here
equals the built module's count, which ``tests/test_nn_build.py`` checks for every op.
:meth:`OpSpec.macs` counts the multiply-accumulates of one forward pass for one image
(the rule: docs/objectives.md; checked against the built module by ``tests/test_macs.py``).

Shapes are ``(channels, height, width)`` tuples of ints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ArchitectureError

Shape = tuple[int, int, int]

ACTIVATIONS = (None, "relu", "relu6")
CONV_ORDERS = ("conv_bn_act", "conv_act_bn", "act_conv_bn")
PADDINGS = ("same", "valid")


class OpSpec:
    """Base class of an op's pure-Python description.

    Subclasses set ``name``, ``defaults`` (every accepted parameter and its default) and
    implement :meth:`check`, :meth:`out_shape`, :meth:`num_params` and :meth:`macs`.
    """

    name: str = ""
    defaults: dict[str, Any] = {}
    doc: str = ""

    def resolve(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Defaults merged with ``params``; unknown names and bad values raise ValueError."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"op '{self.name}': unknown parameter(s) {unknown}; "
                f"accepted: {sorted(self.defaults)}"
            )
        resolved = {**self.defaults, **params}
        self.check(resolved)
        return resolved

    def check(self, p: dict[str, Any]) -> None:
        """Raise ValueError naming a bad parameter value; may normalise values in place."""

    def out_shape(self, s: Shape, p: dict[str, Any]) -> Shape:
        raise NotImplementedError

    def num_params(self, s: Shape, p: dict[str, Any]) -> int:
        raise NotImplementedError

    def macs(self, s: Shape, p: dict[str, Any]) -> int:
        """Multiply-accumulates of the op's convolutions and linear layers for one image of
        input shape ``s``; BatchNorm, activations, pooling, padding and dropout count 0."""
        raise NotImplementedError

    def describe(self, p: dict[str, Any]) -> str:
        """A short human label, used by Graphviz output."""
        base = self.resolve({})
        shown = {k: v for k, v in p.items() if v != base.get(k)}
        inner = ", ".join(f"{k}={_fmt(v)}" for k, v in shown.items())
        return f"{self.name}({inner})" if inner else self.name


def _fmt(v: Any) -> str:
    if isinstance(v, (tuple, list)) and len(v) == 2 and v[0] == v[1]:
        return str(v[0])
    if isinstance(v, (tuple, list)):
        return "x".join(str(x) for x in v)
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


OPS: dict[str, OpSpec] = {}


def register_op(cls: type[OpSpec]) -> type[OpSpec]:
    """Class decorator: register an :class:`OpSpec` subclass under its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in OPS:
        raise ValueError(f"op '{cls.name}' is already registered")
    OPS[cls.name] = cls()
    return cls


def get_op(name: str) -> OpSpec:
    """The registered spec of ``name``; an unknown name raises ArchitectureError listing all."""
    try:
        return OPS[name]
    except KeyError:
        raise ArchitectureError(f"unknown op '{name}'; known ops: {', '.join(sorted(OPS))}") from None


# ---------------------------------------------------------------------------------------
# value checks shared by the specs


def check_int(p: dict, key: str, lo: int = 1, allow_none: bool = False) -> None:
    v = p[key]
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"parameter '{key}' must be an integer >= {lo}, got {v!r}")


def check_choice(p: dict, key: str, choices: tuple) -> None:
    if p[key] not in choices:
        raise ValueError(f"parameter '{key}' must be one of {list(choices)}, got {p[key]!r}")


def check_bool(p: dict, key: str) -> None:
    if not isinstance(p[key], bool):
        raise ValueError(f"parameter '{key}' must be true or false, got {p[key]!r}")


def check_float(p: dict, key: str, lo: float, hi: float, lo_open: bool = False) -> None:
    v = p[key]
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    ok = ok and (lo < v if lo_open else lo <= v) and v <= hi
    if not ok:
        left = "(" if lo_open else "["
        raise ValueError(f"parameter '{key}' must be a number in {left}{lo}, {hi}], got {v!r}")


def check_kernel(p: dict, key: str = "kernel") -> None:
    """Normalise an int or a pair to a ``(kh, kw)`` tuple of positive ints."""
    v = p[key]
    if isinstance(v, int) and not isinstance(v, bool):
        v = (v, v)
    if (
        not isinstance(v, (tuple, list))
        or len(v) != 2
        or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in v)
    ):
        raise ValueError(f"parameter '{key}' must be an integer >= 1 or a pair of them, got {v!r}")
    p[key] = (int(v[0]), int(v[1]))


# ---------------------------------------------------------------------------------------
# arithmetic shared by the specs and the torch builder


def same_padding(kernel: int, dilation: int = 1) -> int:
    """Symmetric padding used by 'same' convolutions and pools with stride > 1."""
    return (dilation * (kernel - 1)) // 2


def conv_out_size(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    """Output length of a convolution along one axis (PyTorch's formula).

    'same' with stride 1 keeps the size (PyTorch pads asymmetrically for even kernels);
    with stride > 1 it pads ``dilation * (kernel - 1) // 2`` on both sides. A result below
    1 means the kernel is larger than its input: ArchitectureError.
    """
    if padding == "same" and stride == 1:
        return size
    pad = same_padding(kernel, dilation) if padding == "same" else 0
    return padded_out_size(size, dilation * (kernel - 1) + 1, stride, pad, padding)


def pool_out_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """Output length of a pooling window along one axis; 'same' pads ``(kernel - 1) // 2``."""
    pad = same_padding(kernel) if padding == "same" else 0
    return padded_out_size(size, kernel, stride, pad, padding)


def padded_out_size(size: int, extent: int, stride: int, pad: int, padding: str) -> int:
    """``(size + 2 pad - extent) // stride + 1``; ArchitectureError when the window does not fit."""
    out = (size + 2 * pad - extent) // stride + 1
    if out < 1 or (padding == "valid" and extent > size):
        raise ArchitectureError(
            f"kernel extent {extent} is larger than its input size {size} (padding '{padding}')"
        )
    return out


def conv_params(c_in: int, c_out: int, kh: int, kw: int, groups: int = 1, bias: bool = True) -> int:
    return (c_in // groups) * kh * kw * c_out + (c_out if bias else 0)


def bn_params(c: int) -> int:
    """BatchNorm affine weight and bias (running statistics are buffers, not parameters)."""
    return 2 * c



def conv_macs(c_in: int, c_out: int, kh: int, kw: int, out_hw: tuple[int, int], groups: int = 1) -> int:
    """Multiply-accumulates of one convolution for one image: every output element
    ``out_h * out_w * c_out`` takes ``kh * kw * c_in / groups`` products (biases not counted)."""
    return out_hw[0] * out_hw[1] * c_out * kh * kw * (c_in // groups)
