"""Evaluation: the training engine, its configuration, losses and the neural committee.

Data loading lives in :mod:`deap_nas.data`; its main names are re-exported here for
convenience. Importing this package does not import torch.
"""

import importlib

from ..data.datasets import (
    DatasetNotFoundError,
    ImageData,
    available_datasets,
    load_dataset,
    register_dataset,
)
from ..data.splits import (
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
    # neural committee (affinity-weighted ensemble)
    "Committee",
    "CommitteeResult",
    "evaluate_committee",
    "select_members",
    "train_committee",
]


_LAZY = {
    "AugmentConfig": "augment_config",
    "DeviceDataset": "deap_nas.data.device",
    "TrainConfig": "config",
    "TrainResult": "result",
    "train": "engine",
    "evaluate": "engine",
    "predict_logits": "engine",
    "PreparedData": "deap_nas.data.prepare",
    "prepare_data": "deap_nas.data.prepare",
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
    target = _LAZY[name]
    module = importlib.import_module(target if "." in target else f"deap_nas.evaluation.{target}")
    value = getattr(module, name)
    globals()[name] = value
    return value
