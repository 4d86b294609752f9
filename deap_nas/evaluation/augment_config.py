"""The augmentation settings (:class:`AugmentConfig`), torch-free so that a config can be
checked without importing torch; the transforms themselves are in :mod:`.augment`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["AugmentConfig"]


@dataclass
class AugmentConfig:
    """Batched training augmentation, applied in the order pad-crop, flip, cutout, erasing.

    ``pad``: pad-and-crop padding (0 = off); ``pad_mode``: "zero" (border = ``pad_fill``
    of :meth:`apply`; the engine uses a black pixel) | "reflect"; ``flip``:
    random horizontal flip; ``cutout``: square side (0 = off); ``erasing``: random-erasing
    probability (0 = off) with ``erasing_scale``, ``erasing_ratio`` and ``erasing_fill``
    ("zero" | "random").
    """

    pad: int = 0
    pad_mode: str = "zero"
    flip: bool = False
    cutout: int = 0
    erasing: float = 0.0
    erasing_scale: tuple[float, float] = (0.02, 0.33)
    erasing_ratio: tuple[float, float] = (0.3, 3.3)
    erasing_fill: str = "zero"
    #: AutoAugment's CIFAR-10 policy on the raw uint8 images first (see :func:`auto_augment`)
    autoaugment: bool = False

    def __post_init__(self) -> None:
        name = type(self).__name__

        def bad(field: str, why: str, value: Any) -> ValueError:
            return ValueError(f"{name}.{field}: {why}, got {value!r}")

        for f in ("pad", "cutout"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise bad(f, "must be an integer >= 0", v)
        if self.pad_mode not in ("zero", "reflect"):
            raise bad("pad_mode", "must be 'zero' or 'reflect'", self.pad_mode)
        if not isinstance(self.autoaugment, bool):
            raise bad("autoaugment", "must be a bool", self.autoaugment)
        if not isinstance(self.flip, bool):
            raise bad("flip", "must be a bool", self.flip)
        if (
            isinstance(self.erasing, bool)
            or not isinstance(self.erasing, int | float)
            or not 0 <= self.erasing <= 1
        ):
            raise bad("erasing", "must be a probability in [0, 1]", self.erasing)
        if self.erasing_fill not in ("zero", "random"):
            raise bad("erasing_fill", "must be 'zero' or 'random'", self.erasing_fill)
        for f, upper in (("erasing_scale", 1.0), ("erasing_ratio", math.inf)):
            v = getattr(self, f)
            try:
                lo, hi = (float(t) for t in v)
            except (TypeError, ValueError):
                raise bad(f, "must be a pair (low, high)", v) from None
            if not 0 < lo <= hi <= upper:
                raise bad(f, f"must satisfy 0 < low <= high <= {upper}", v)
            setattr(self, f, (lo, hi))
        self.erasing = float(self.erasing)

    @property
    def enabled(self) -> bool:
        """True when at least one transform is on."""
        return bool(self.pad or self.flip or self.cutout or self.erasing or self.autoaugment)

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Raise ValueError when these settings cannot apply to images of ``(C, H, W)``."""
        h, w = shape[-2], shape[-1]
        if self.pad_mode == "reflect" and self.pad and (self.pad >= h or self.pad >= w):
            raise ValueError(
                f"AugmentConfig.pad: reflect padding needs pad < image size, got {self.pad} for {h}x{w}"
            )

    def apply(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        pad_fill: float | torch.Tensor = 0.0,
    ) -> torch.Tensor:
        """Augment a float batch (B, C, H, W) on its device with ``generator``;
        ``pad_fill`` is the border value of zero padding (see :func:`pad_crop`)."""
        from .augment import cutout, hflip, pad_crop, random_erasing

        if self.pad:
            x = pad_crop(x, self.pad, generator, self.pad_mode, pad_fill)
        if self.flip:
            x = hflip(x, generator)
        if self.cutout:
            x = cutout(x, self.cutout, generator)
        if self.erasing:
            x = random_erasing(
                x,
                self.erasing,
                generator,
                self.erasing_scale,
                self.erasing_ratio,
                self.erasing_fill,
            )
        return x

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentConfig:
        """Build from a plain dict; unknown keys raise ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown key(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["erasing_scale"] = list(self.erasing_scale)
        d["erasing_ratio"] = list(self.erasing_ratio)
        if not d["autoaugment"]:  # off: left out, so configs written before it keep their form
            del d["autoaugment"]
        return d
