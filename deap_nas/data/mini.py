"""Stratified mini data sets frozen in a file.

A search may train every candidate on a mini data set, e.g. 100 images per class drawn
from the training split, and test it on a small stratified set. The default draws that set
from images *held out of the training split* (``test_source="heldout"``), so that
selection never sees the test set; ``test_source="test"`` draws it from the test split. The indices are exactly those of
:func:`deap_nas.data.prepare.prepare_data` with ``val_per_class`` / ``train_subset``
(per-class counts) and the same seed.

The set is drawn once and kept in a file that later runs reload: :func:`mini_dataset`
writes the images, labels, indices and a description to an ``.npz`` file the first time
and reloads that file afterwards (no pickles: ``allow_pickle=False``), so experiments
compare on the same subset. A file made for a different request (data set, seed, sizes,
source of the test images) is an error, never silently reused.

File layout (``numpy.savez_compressed``): ``train_images`` / ``test_images`` (uint8 NCHW),
``train_labels`` / ``test_labels`` (int64), ``classes`` (str), ``meta`` (a JSON string:
``format``, ``dataset``, ``source``, ``seed``, ``per_class``, ``test_per_class``,
``test_source``, ``train_indices``, ``test_indices`` into the source split(s),
``labels_sha256`` of the source training labels).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import load_dataset
from .splits import labels_digest, stratified_split, stratified_subset

__all__ = ["MINI_FORMAT", "TEST_SOURCES", "MiniData", "build_mini", "load_mini", "mini_dataset", "save_mini"]

MINI_FORMAT = "deap_nas.mini/1"
TEST_SOURCES = ("heldout", "test")
#: the fields of ``meta`` a request must match to reuse a file
REQUEST_KEYS = ("dataset", "seed", "per_class", "test_per_class", "test_source")


@dataclass(eq=False)
class MiniData:
    """A mini training set and a mini test set (uint8 images, int64 labels)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    def request(self) -> dict[str, Any]:
        return {k: self.meta.get(k) for k in REQUEST_KEYS}


def _check_count(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name}: the mini data set needs a per-class count (an integer >= 1), got {v!r}")
    return v


def build_mini(
    name: str,
    *,
    root: str | Path | None = None,
    download: bool | None = None,
    per_class: int = 100,
    test_per_class: int = 10,
    test_source: str = "heldout",
    seed: int = 0,
) -> MiniData:
    """Draw the stratified mini sets of data set ``name`` (module doc)."""
    _check_count("per_class", per_class)
    _check_count("test_per_class", test_per_class)
    if test_source not in TEST_SOURCES:
        raise ValueError(f"test_source: must be one of {list(TEST_SOURCES)}, got {test_source!r}")
    full = load_dataset(name, split="train", root=root, download=download)
    if test_source == "heldout":
        rest, test_idx = stratified_split(full.labels, val_per_class=test_per_class, seed=seed)
        train_idx = rest[stratified_subset(full.labels[rest], per_class=per_class, seed=seed + 1)]
        test_images, test_labels = full.images[test_idx], full.labels[test_idx]
    else:
        train_idx = stratified_subset(full.labels, per_class=per_class, seed=seed + 1)
        test = load_dataset(name, split="test", root=root, download=download)
        test_idx = stratified_subset(test.labels, per_class=test_per_class, seed=seed + 2)
        test_images, test_labels = test.images[test_idx], test.labels[test_idx]
    meta = {
        "format": MINI_FORMAT,
        "dataset": name,
        "source": full.source,
        "seed": int(seed),
        "per_class": int(per_class),
        "test_per_class": int(test_per_class),
        "test_source": test_source,
        "train_indices": [int(i) for i in train_idx],
        "test_indices": [int(i) for i in test_idx],
        "labels_sha256": labels_digest(full.labels),
    }
    return MiniData(np.ascontiguousarray(full.images[train_idx]), full.labels[train_idx].copy(),
                    np.ascontiguousarray(test_images), np.asarray(test_labels, dtype=np.int64).copy(),
                    list(full.classes), meta)


def save_mini(path: str | Path, mini: MiniData) -> Path:
    """Write ``mini`` to ``path`` atomically (a reader sees no file or the whole file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(
            tmp,
            train_images=mini.train_images,
            train_labels=mini.train_labels,
            test_images=mini.test_images,
            test_labels=mini.test_labels,
            classes=np.asarray(mini.classes, dtype=str),
            meta=np.asarray(json.dumps(mini.meta, sort_keys=True)),
        )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_mini(path: str | Path) -> MiniData:
    """Read a file written by :func:`save_mini`; ValueError naming the file if it is not one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            mini = MiniData(z["train_images"], z["train_labels"].astype(np.int64), z["test_images"],
                            z["test_labels"].astype(np.int64), [str(c) for c in z["classes"]], meta)
    except (KeyError, ValueError, OSError) as e:
        raise ValueError(f"{path}: not a mini data set file ({e})") from None
    if meta.get("format") != MINI_FORMAT:
        raise ValueError(f"{path}: not a mini data set file (format {meta.get('format')!r})")
    return mini


def mini_dataset(
    path: str | Path,
    name: str,
    *,
    root: str | Path | None = None,
    download: bool | None = None,
    per_class: int = 100,
    test_per_class: int = 10,
    test_source: str = "heldout",
    seed: int = 0,
) -> MiniData:
    """The mini data set in ``path``: reloaded when the file exists (and was made for the
    same request, else ValueError), otherwise drawn with :func:`build_mini` and saved."""
    want = {"dataset": name, "seed": int(seed), "per_class": per_class, "test_per_class": test_per_class,
            "test_source": test_source}
    path = Path(path)
    if path.is_file():
        mini = load_mini(path)
        if mini.request() != want:
            raise ValueError(f"mini_file: {path} holds a mini data set made for {mini.request()}, "
                             f"but this run asks for {want}; give another file name")
        return mini
    mini = build_mini(name, root=root, download=download, per_class=per_class, test_per_class=test_per_class,
                      test_source=test_source, seed=seed)
    save_mini(path, mini)
    return mini
