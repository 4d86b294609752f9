"""A small name -> object registry with decorator registration (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """``REG.register("name")(obj)``; unknown and duplicate names are clear errors."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self[name] = obj
            return obj

        return deco

    def get_or_raise(self, name: str) -> T:
        if name not in self:
            known = ", ".join(sorted(self)) or "none"
            raise ValueError(f"unknown {self.kind} '{name}'; known: {known}")
        return self[name]
