"""Classifier head modules; parameter formulas in :mod:`deap_nas.arch.heads`."""

from __future__ import annotations

from torch import nn

from ..arch import HeadSpec, Shape
from .layers import GlobalPool
from .registry import named


def make_head(spec: HeadSpec, s: Shape, num_classes: int) -> nn.Sequential:
    """The head ``spec`` for a feature map of shape ``s``."""
    f = spec.features(s)
    if spec.name == "gap_linear":
        layers = {"pool": GlobalPool("avg"), "flatten": nn.Flatten(), "fc": nn.Linear(f, num_classes)}
    elif spec.name == "linear":
        layers = {"flatten": nn.Flatten(), "fc": nn.Linear(f, num_classes)}
    elif spec.name == "concat_pool":
        layers = {
            "pool": GlobalPool("avgmax"),
            "flatten": nn.Flatten(),
            "bn": nn.BatchNorm1d(f),
            "drop": nn.Dropout(spec.params["dropout"]),
            "fc": nn.Linear(f, num_classes),
        }
    elif spec.name == "mlp3":
        f1, f2 = spec.mlp_widths(s)
        layers = {
            "flatten": nn.Flatten(),
            "fc1": nn.Linear(f, f1),
            "act1": nn.ReLU(),
            "fc2": nn.Linear(f1, f2),
            "act2": nn.ReLU(),
        }
        if spec.params["dropout"] > 0:
            layers["drop"] = nn.Dropout(spec.params["dropout"])
        layers["fc3"] = nn.Linear(f2, num_classes)
    else:  # HeadSpec.parse admits only the names above
        raise ValueError(f"unknown head '{spec.name}'")
    return named(layers)
