"""One function from a data description to prepared data on a device.

:func:`prepare_data` loads a named data set once, holds out a stratified validation
split from its *training* split (a search never sees the test set), optionally takes a
stratified subset of what remains (a fraction, or a per-class count), computes
normalisation statistics on the training part and moves everything to the device as
uint8. Optional preprocessing (``gcn``, ``whiten``: :mod:`deap_nas.data.whiten`) is fitted
on the training part only, on the device, and applied to every split; the prepared data
then holds float32 images and keeps the fitted transform (``PreparedData.preprocessing``),
so a consumer that keeps the prepared data (a worker keeps it per data description)
fits it once. :func:`prepare_from_config` is the same call from a config's ``data:`` section
(a mapping), used by every consumer (search workers, final training, committee, export),
so no caller unpacks the section by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import load_dataset
from .device import DeviceDataset
from .splits import normalization_stats, stratified_split, stratified_subset
from .whiten import Preprocessing, check_preprocessing, fit_preprocessing

#: the keys of a ``data:`` section that :func:`prepare_from_config` passes on
DATA_KEYS = ("name", "root", "val_fraction", "val_per_class", "train_subset", "val_subset", "download",
             "mini_file", "mini_test_source", "gcn", "gcn_scale", "whiten", "zca_epsilon")
#: the preprocessing keys among them (a consumer that rebuilds a data section keeps them)
PREPROCESS_KEYS = ("gcn", "gcn_scale", "whiten", "zca_epsilon")


@dataclass
class PreparedData:
    """Train / validation (/ test) splits of one data set, resident on one device."""

    name: str
    train: DeviceDataset
    val: DeviceDataset
    test: DeviceDataset | None
    classes: list[str]
    record: dict[str, Any] = field(default_factory=dict)
    preprocessing: Preprocessing | None = None  # fitted on ``train``, applied to every split

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(x) for x in self.train.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _pick(labels: np.ndarray, amount: float | int | None, seed: int) -> np.ndarray:
    """All indices, a stratified fraction (a float in (0, 1]) or a per-class count (an int)."""
    if amount is None:
        return np.arange(len(labels))
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise ValueError(f"subset size must be a fraction or a per-class count, got {amount!r}")
    if isinstance(amount, int):
        return stratified_subset(labels, per_class=amount, seed=seed)
    return stratified_subset(labels, fraction=amount, seed=seed)


def prepare_data(
    name: str = "fashion_mnist_mini",
    *,
    root: str | Path | None = None,
    val_fraction: float | None = 0.1,
    val_per_class: int | None = None,
    train_subset: float | int | None = None,
    val_subset: float | int | None = None,
    with_test: bool = False,
    seed: int = 0,
    device: Any = "cpu",
    download: bool | None = None,
    mini_file: str | Path | None = None,
    mini_test_source: str = "heldout",
    gcn: bool = False,
    gcn_scale: float = 55.0,
    whiten: str | None = None,
    zca_epsilon: float = 0.1,
) -> PreparedData:
    """Load ``name`` and split it; every index used is kept in ``record`` (JSON-safe).

    ``train_subset`` / ``val_subset``: a fraction (float) or a per-class count (int) of
    the training / validation part. ``with_test`` also loads the test split; use it only
    for final training.

    ``mini_file``: train on ``train_subset`` (a per-class count) images and validate on
    ``val_per_class`` per class, frozen in that file (created on first use, reloaded after:
    :func:`deap_nas.data.mini.mini_dataset`); ``mini_test_source="test"`` draws
    the validation images from the test split (as some papers do) instead of holding them
    out of the training split.

    ``gcn`` (global contrast normalisation to L2 norm ``gcn_scale`` per image) and
    ``whiten="zca"`` (ZCA with ``zca_epsilon`` added to the covariance spectrum) are fitted on the
    training images only and applied to train, validation and test (float32 images).
    """
    check_preprocessing(gcn, gcn_scale, whiten, zca_epsilon)
    options = {"gcn": gcn, "gcn_scale": gcn_scale, "whiten": whiten, "zca_epsilon": zca_epsilon}
    if mini_file is not None:
        return _preprocess(_prepare_mini(name, root, download, mini_file, mini_test_source, train_subset,
                                         val_per_class, val_subset, with_test, seed, device), options)
    full = load_dataset(name, split="train", root=root, download=download)
    train_idx, val_idx = stratified_split(
        full.labels,
        val_fraction=None if val_per_class else val_fraction,
        val_per_class=val_per_class,
        seed=seed,
    )
    train_idx = train_idx[_pick(full.labels[train_idx], train_subset, seed + 1)]
    val_idx = val_idx[_pick(full.labels[val_idx], val_subset, seed + 2)]
    mean, std = normalization_stats(full.images[train_idx])
    on_device = _device_maker(mean, std, device, full.num_classes)
    test = _test_split(name, root, download, on_device) if with_test else None
    record = {
        "dataset": name,
        "source": full.source,
        "seed": seed,
        "val_fraction": val_fraction,
        "val_per_class": val_per_class,
        "train_subset": train_subset,
        "val_subset": val_subset,
        "train_indices": train_idx.tolist(),
        "val_indices": val_idx.tolist(),
        "mean": list(mean),
        "std": list(std),
    }
    return _preprocess(PreparedData(
        name=name,
        train=on_device(full.images[train_idx], full.labels[train_idx]),
        val=on_device(full.images[val_idx], full.labels[val_idx]),
        test=test,
        classes=list(full.classes),
        record=record,
    ), options)


def _preprocess(data: PreparedData, options: dict[str, Any]) -> PreparedData:
    """Fit GCN / ZCA on ``data.train`` (uint8, on its device) and replace every split by
    its float32 transform; ``record["preprocess"]`` describes the fitted transform."""
    if not options["gcn"] and options["whiten"] is None:
        return data
    pre = fit_preprocessing(data.train.images, **options)

    def convert(split: DeviceDataset | None) -> DeviceDataset | None:
        if split is None:
            return None
        return DeviceDataset(pre.apply(split.images), split.labels, num_classes=split.num_classes)

    data.train, data.val, data.test = convert(data.train), convert(data.val), convert(data.test)
    data.preprocessing = pre
    data.record["preprocess"] = pre.record()
    return data


def _device_maker(mean: Any, std: Any, device: Any, num_classes: int) -> Any:
    """``(images, labels) -> DeviceDataset`` normalised with the training statistics."""

    def on_device(images: np.ndarray, labels: np.ndarray) -> DeviceDataset:
        return DeviceDataset.from_numpy(images, labels, mean, std, device=device, num_classes=num_classes)

    return on_device


def _test_split(name: str, root: Any, download: Any, on_device: Any) -> DeviceDataset:
    t = load_dataset(name, split="test", root=root, download=download)
    return on_device(t.images, t.labels)


def _prepare_mini(name: str, root: Any, download: Any, mini_file: str | Path, test_source: str,
                  train_subset: Any, val_per_class: Any, val_subset: Any, with_test: bool, seed: int,
                  device: Any) -> PreparedData:
    from ..data.mini import mini_dataset

    if val_subset is not None:
        raise ValueError("val_subset: not used with mini_file (val_per_class gives the mini test set)")
    mini = mini_dataset(mini_file, name, root=root, download=download, per_class=train_subset,
                        test_per_class=val_per_class, test_source=test_source, seed=seed)
    mean, std = normalization_stats(mini.train_images)
    on_device = _device_maker(mean, std, device, len(mini.classes))
    test = _test_split(name, root, download, on_device) if with_test else None
    record = {**{k_: v for k_, v in mini.meta.items() if not k_.endswith("_indices")},
              "mini_file": str(mini_file), "train_indices": mini.meta["train_indices"],
              "val_indices": mini.meta["test_indices"], "mean": list(mean), "std": list(std)}
    return PreparedData(name=name, train=on_device(mini.train_images, mini.train_labels),
                        val=on_device(mini.test_images, mini.test_labels), test=test,
                        classes=list(mini.classes), record=record)


def prepare_from_config(data: Mapping[str, Any], *, seed: int = 0, device: Any = "cpu",
                        with_test: bool = False) -> PreparedData:
    """:func:`prepare_data` from a config's ``data:`` section (a mapping with the keys of
    :data:`DATA_KEYS`; other keys such as ``resample`` are the runtime's and ignored)."""
    d = dict(data)
    if "name" not in d:
        raise ValueError("data: needs a name")
    kwargs = {k: d[k] for k in DATA_KEYS if k in d and k != "name"}
    kwargs.setdefault("mini_test_source", "heldout")
    if kwargs.get("mini_test_source") is None:
        kwargs["mini_test_source"] = "heldout"
    return prepare_data(d["name"], seed=seed, device=device, with_test=with_test, **kwargs)
