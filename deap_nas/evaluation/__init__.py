"""Evaluation: data sets, splits and the training engine.

Importing this package does not import torch; the data modules import torchvision only
when a loader needs it.
"""

import importlib

from deap_nas.evaluation.datasets import (
    DatasetNotFoundError,
    ImageData,
    available_datasets,
    load_dataset,
    register_dataset,
)
from deap_nas.evaluation.splits import (
    SplitRecord,
    normalization_stats,
    stratified_split,
    stratified_subset,
)

__all__ = [
    "DatasetNotFoundError",
    "ImageData",
    "SplitRecord",
    "available_datasets",
    "load_dataset",
    "normalization_stats",
    "register_dataset",
    "stratified_split",
    "stratified_subset",
    # training engine (imported on first use, see __getattr__)
    "AugmentConfig",
    "DeviceDataset",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "predict_logits",
    "train",
    # arch -> trained result (imports torch and deap_nas.nn)
    "PreparedData",
    "prepare_data",
    "train_architecture",
    # neural committee (ImmuNeCS section 3.5)
    "Committee",
    "CommitteeResult",
    "evaluate_committee",
    "select_members",
    "train_committee",
]


_LAZY = {
    "AugmentConfig": "augment",
    "DeviceDataset": "device_data",
    "TrainConfig": "config",
    "TrainResult": "result",
    "train": "engine",
    "evaluate": "engine",
    "predict_logits": "engine",
    "PreparedData": "task",
    "prepare_data": "task",
    "train_architecture": "task",
    "Committee": "committee",
    "CommitteeResult": "committee",
    "evaluate_committee": "committee",
    "select_members": "committee",
    "train_committee": "committee",
}


def __getattr__(name: str):  # PEP 562: the engine imports torch, so load it on first use
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"deap_nas.evaluation.{_LAZY[name]}")
    value = getattr(module, name)
    globals()[name] = value
    return value
