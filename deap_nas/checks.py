"""Value checks shared by the torch-free ``Params`` dataclasses (spaces, algorithms,
studies): each raises ValueError starting with the field name, which the config loader
prefixes with the section (``algorithm.population_size: must be an integer >= 2``)."""

from __future__ import annotations

from typing import Any


def check_int(name: str, v: Any, lo: int) -> None:
    """``v`` is an int (not a bool) >= ``lo``."""
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{name}: must be an integer >= {lo}, got {v!r}")
