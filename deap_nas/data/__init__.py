"""Data: every data set loader, split and subset, and one function from a data
description to prepared data on a device (:func:`prepare_from_config`).

Importing this package does not import torch (``prepare``, ``device`` and the mini-data
module do, on first use). The package also ships the embedded default data set
(``fashion_mnist_mini.npz``, 2,000 Fashion-MNIST images; see ``LICENSE-fashion-mnist``).
"""

import importlib

from .datasets import (
    DatasetNotFoundError,
    ImageData,
    available_datasets,
    load_dataset,
    register_dataset,
)
from .splits import SplitRecord, normalization_stats, stratified_split, stratified_subset

__all__ = [
    "DatasetNotFoundError",
    "DeviceDataset",
    "ImageData",
    "PreparedData",
    "SplitRecord",
    "available_datasets",
    "load_dataset",
    "mini_dataset",
    "normalization_stats",
    "prepare_data",
    "prepare_from_config",
    "register_dataset",
    "stratified_split",
    "stratified_subset",
]

_LAZY = {
    "DeviceDataset": "device",
    "PreparedData": "prepare",
    "prepare_data": "prepare",
    "prepare_from_config": "prepare",
    "mini_dataset": "mini",
}


def __getattr__(name: str):  # PEP 562: torch is imported on first use only
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"deap_nas.data.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
