"""Mapping -> dataclass conversion with errors that name the field path.

``from_mapping(Cls, data, "training")`` checks every key against the dataclass's fields
(unknown keys are errors listing the known ones), converts values by the field's type
annotation (int, float, bool, str, None, tuples, lists, dicts and nested dataclasses;
floats must be finite, and a string such as '1e6' in a float field is read as a number),
checks the upper bounds of :data:`deap_nas.checks.LIMITS` (values that would exhaust
memory or time), then runs the class's ``__post_init__``; any ``ValueError`` it raises is re-raised as a
:class:`ConfigError` prefixed with the path, e.g. ``training.lr: must be > 0, got -1``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from ..checks import check_limits

T = TypeVar("T")


class ConfigError(ValueError):
    """A bad configuration value; the message starts with the field path."""


_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null"}


def _type_name(tp: Any) -> str:
    if tp in _NAMES:
        return _NAMES[tp]
    if dataclasses.is_dataclass(tp) or typing.get_origin(tp) is dict:
        return "a mapping"
    if typing.get_origin(tp) in (list, tuple):
        return "a list"
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def convert(tp: Any, value: Any, path: str) -> Any:
    """``value`` checked (and, for ints given where floats are wanted, converted) to ``tp``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        others = [a for a in args if a is not type(None)]
        if len(others) == 1 and dataclasses.is_dataclass(others[0]):  # a section or null: its own errors
            return convert(others[0], value, path)
        # an exact type match first: 5 stays an int in ``float | int``
        args = sorted(args, key=lambda a: 0 if type(value) is a else 1)
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(arg, value, path)
            except ConfigError as e:
                errors.append(str(e))
        names = " or ".join(_type_name(a) for a in args)
        raise ConfigError(f"{path}: expected {names}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return from_mapping(tp, value, path)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{path}: expected {len(args)} values, got {len(value)}")
            items = [convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))]
        else:
            item = args[0] if args else Any
            items = [convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        args = typing.get_args(tp)
        vt = args[1] if len(args) == 2 else Any
        return {str(k): convert(vt, v, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        return _float(value, path)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{path}: expected null, got {value!r}")
        return None
    return value


def _float(value: Any, path: str) -> float:
    """A finite float from a number, or from a string Python reads as one: YAML 1.1
    (PyYAML) reads ``1e6`` without a dot as the string '1e6'."""
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ConfigError(f"{path}: expected a number, got {value!r}") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path}: expected a number, got {value!r}")
    else:
        try:
            number = float(value)
        except OverflowError:  # an int beyond the float range
            raise ConfigError(f"{path}: must be a finite number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{path}: must be a finite number, got {value!r}")
    return number


def check_finite(data: Any, path: str) -> None:
    """Refuse a non-finite float (``.inf``, ``.nan``) anywhere in ``data``, also in
    sections without a typed schema (operator parameters, heads, teachers)."""
    if isinstance(data, float) and not math.isfinite(data):
        raise ConfigError(f"{path or 'config'}: must be a finite number, got {data!r}")
    if isinstance(data, Mapping):
        for k, v in data.items():
            check_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            check_finite(v, f"{path}[{i}]")


def from_mapping(cls: type[T], data: Mapping[str, Any] | None, path: str) -> T:
    """Build dataclass ``cls`` from ``data``; every error names ``path.field``."""
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ConfigError(f"{where}: unknown key; known keys: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = convert(hints[name], value, f"{path}.{name}" if path else name)
    try:
        check_limits(kwargs)
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as e:
        raise ConfigError(_prefix(str(e), path)) from None


def _prefix(message: str, path: str) -> str:
    """Turn ``TrainConfig.lr: ...`` or ``lr: ...`` into ``path.lr: ...``."""
    head, sep, rest = message.partition(": ")
    if sep and " " not in head:
        field = head.split(".")[-1]
        return f"{path}.{field}: {rest}" if path else f"{field}: {rest}"
    return f"{path}: {message}" if path else message


def to_plain(obj: Any) -> Any:
    """A dataclass tree as plain dicts / lists (YAML- and JSON-safe)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj
