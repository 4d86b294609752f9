"""Stratified subsets and train/validation splits, normalisation statistics.

Every choice is drawn from ``np.random.default_rng(seed)`` (never numpy's global
generator), one permutation per class in sorted class order, so a seed always gives the
same indices, and for one seed a smaller per-class subset is contained in a larger one.
``SplitRecord`` keeps what was done (kind, seed, sizes, indices, a digest of the labels)
as JSON, so a run can record exactly which images it used.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "SplitRecord",
    "labels_digest",
    "normalization_stats",
    "stratified_split",
    "stratified_subset",
]


def _as_labels(labels: Any) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("labels are empty")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {arr.dtype}")
    return arr


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def _check_choice(fraction: Any, per_class: Any, names: tuple[str, str]) -> None:
    if (fraction is None) == (per_class is None):
        raise ValueError(f"give exactly one of {names[0]} and {names[1]}")
    if fraction is not None:
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
            raise ValueError(f"{names[0]} must be a number in (0, 1], got {fraction!r}")
        if not (0.0 < float(fraction) <= 1.0):
            raise ValueError(f"{names[0]} must be in (0, 1], got {fraction!r}")
    elif isinstance(per_class, bool) or not isinstance(per_class, numbers.Integral):
        raise ValueError(f"{names[1]} must be a positive int, got {per_class!r}")
    elif per_class < 1:
        raise ValueError(f"{names[1]} must be >= 1, got {per_class!r}")


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5 + 1e-9))


def stratified_subset(
    labels: Any,
    *,
    fraction: float | None = None,
    per_class: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Sorted int64 indices of a class-stratified random subset of `labels`.

    Per class, `fraction` picks round(fraction * n_class) images (rounded half up; may be
    0 for a tiny class) and `per_class` picks exactly that many (ValueError naming the
    class if it has fewer). Exactly one of the two must be given.
    """
    _check_choice(fraction, per_class, ("fraction", "per_class"))
    arr = _as_labels(labels)
    rng = np.random.default_rng(_check_seed(seed))
    picks = []
    for cls in np.unique(arr):
        members = np.flatnonzero(arr == cls)
        order = rng.permutation(len(members))  # full permutation: smaller subsets nest
        if per_class is not None:
            if len(members) < per_class:
                raise ValueError(
                    f"class {cls} has only {len(members)} items, fewer than per_class={per_class}"
                )
            k = int(per_class)
        else:
            k = _round_half_up(float(fraction) * len(members))
        picks.append(members[order[:k]])
    return np.sort(np.concatenate(picks)).astype(np.int64, copy=False)


def stratified_split(
    labels: Any,
    *,
    val_fraction: float | None = None,
    val_per_class: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) sorted int64 indices: disjoint, covering all, val stratified by class.

    The validation part is ``stratified_subset(labels, fraction=val_fraction,
    per_class=val_per_class, seed=seed)``; the rest is train. val_fraction must be < 1.
    """
    _check_choice(val_fraction, val_per_class, ("val_fraction", "val_per_class"))
    if val_fraction is not None and float(val_fraction) >= 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    arr = _as_labels(labels)
    val = stratified_subset(arr, fraction=val_fraction, per_class=val_per_class, seed=seed)
    keep = np.ones(len(arr), dtype=bool)
    keep[val] = False
    train = np.flatnonzero(keep).astype(np.int64, copy=False)
    if train.size == 0:
        raise ValueError("the split leaves no training items")
    return train, val


def labels_digest(labels: Any) -> str:
    """sha256 hex digest of labels as little-endian int64: ties a record to its labels."""
    data = np.ascontiguousarray(np.asarray(labels), dtype="<i8")
    return hashlib.sha256(data.tobytes()).hexdigest()


@dataclass(eq=False)
class SplitRecord:
    """What a subset or split did, and its indices; ``to_dict()`` is JSON-ready.

    kind is "subset" (indices: {"subset": ...}) or "split" (indices: {"train", "val"});
    for a split, fraction / per_class describe the validation part.
    """

    kind: str
    seed: int
    fraction: float | None
    per_class: int | None
    num_items: int
    labels_sha256: str
    indices: dict[str, np.ndarray] = field(default_factory=dict)
    dataset: str = ""

    @classmethod
    def subset(
        cls,
        labels: Any,
        *,
        fraction: float | None = None,
        per_class: int | None = None,
        seed: int = 0,
        dataset: str = "",
    ) -> SplitRecord:
        """Run ``stratified_subset`` and record it."""
        idx = stratified_subset(labels, fraction=fraction, per_class=per_class, seed=seed)
        return cls(
            "subset",
            int(seed),
            None if fraction is None else float(fraction),
            None if per_class is None else int(per_class),
            len(labels),
            labels_digest(labels),
            {"subset": idx},
            dataset,
        )

    @classmethod
    def split(
        cls,
        labels: Any,
        *,
        val_fraction: float | None = None,
        val_per_class: int | None = None,
        seed: int = 0,
        dataset: str = "",
    ) -> SplitRecord:
        """Run ``stratified_split`` and record it."""
        train, val = stratified_split(
            labels, val_fraction=val_fraction, val_per_class=val_per_class, seed=seed
        )
        return cls(
            "split",
            int(seed),
            None if val_fraction is None else float(val_fraction),
            None if val_per_class is None else int(val_per_class),
            len(labels),
            labels_digest(labels),
            {"train": train, "val": val},
            dataset,
        )

    def check(self, labels: Any) -> None:
        """Raise ValueError unless `labels` are the ones this record was made from."""
        if len(labels) != self.num_items or labels_digest(labels) != self.labels_sha256:
            raise ValueError(
                f"labels do not match this {self.kind} record "
                f"({self.num_items} items, sha256 {self.labels_sha256[:12]}...)"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dataset": self.dataset,
            "seed": self.seed,
            "fraction": self.fraction,
            "per_class": self.per_class,
            "num_items": self.num_items,
            "labels_sha256": self.labels_sha256,
            "indices": {k: [int(i) for i in v] for k, v in self.indices.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SplitRecord:
        return cls(
            kind=d["kind"],
            seed=int(d["seed"]),
            fraction=d.get("fraction"),
            per_class=d.get("per_class"),
            num_items=int(d["num_items"]),
            labels_sha256=d["labels_sha256"],
            indices={k: np.asarray(v, dtype=np.int64) for k, v in d["indices"].items()},
            dataset=d.get("dataset", ""),
        )


def normalization_stats(
    images: np.ndarray, chunk: int = 2048
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) of uint8 (N, C, H, W) images in [0, 1] units.

    std is the population std (ddof=0) over all pixels. Exact: per-channel value
    histograms are accumulated chunk by chunk, with no float copy of the whole set.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError("images must be a uint8 array of shape (N, C, H, W)")
    if images.size == 0:
        raise ValueError("images are empty")
    channels = images.shape[1]
    counts = np.zeros((channels, 256), dtype=np.int64)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk]
        for c in range(channels):
            counts[c] += np.bincount(block[:, c].reshape(-1), minlength=256)
    values = np.arange(256, dtype=np.int64)
    n = int(counts[0].sum())
    means, stds = [], []
    for c in range(channels):
        s1 = int(counts[c] @ values)
        s2 = int(counts[c] @ (values * values))
        var = (s2 * n - s1 * s1) / (n * n)  # exact integers until this division
        means.append(s1 / n / 255.0)
        stds.append(math.sqrt(max(var, 0.0)) / 255.0)
    return tuple(means), tuple(stds)
