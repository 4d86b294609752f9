"""Value checks shared by the torch-free ``Params`` dataclasses (spaces, algorithms,
studies): each raises ValueError starting with the field name, which the config loader
prefixes with the section (``algorithm.population_size: must be an integer >= 2``)."""

from __future__ import annotations

from typing import Any


def check_int(name: str, v: Any, lo: int) -> None:
    """``v`` is an int (not a bool) >= ``lo``."""
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{name}: must be an integer >= {lo}, got {v!r}")


def check_amount(name: str, v: Any) -> None:
    """``v`` is None, a fraction in (0, 1] (a float) or a per-class count >= 1 (an int):
    how much of each class a subset keeps."""
    if isinstance(v, float) and not 0 < v <= 1:
        raise ValueError(f"{name}: a fraction must be in (0, 1], got {v}")
    if isinstance(v, int) and not isinstance(v, bool) and v < 1:
        raise ValueError(f"{name}: a per-class count must be >= 1, got {v}")
