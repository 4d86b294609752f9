"""The teacher of mimicry (knowledge distillation): which network's logits a student imitates.

A teacher spec is a small dict (config ``evaluation.teacher``), one of::

    {"ensemble": "teachers/cifar10"}               # an ensemble written by `deap-nas train-teacher`
    {"committee": "runs/x/final/committee.pt"}     # a committee saved by `deap-nas committee`
    {"export": "runs/x/export"}                    # a directory written by `deap-nas export`
    {"run": "runs/x", "rank": 1}                   # a run directory's best model (best/, rank 1)
    {"architecture": "net.json", "weights": "net.pt", "head": "linear"}   # a saved network
    {"architecture": {<Architecture.to_dict()>}, "weights": ...}           # (inline, as in a record)

A strong teacher trained beforehand is an ``ensemble``: reference networks
(Wide-ResNet, DenseNet; :mod:`deap_nas.arch.zoo`) trained by ``deap-nas train-teacher``
(:mod:`deap_nas.runtime.teacher_ensemble`), whose logits are averaged; its manifest
records the data set, class count and image shape it was trained on, and
:func:`check_teacher` refuses a missing, incomplete or mismatched one before a run
starts. Any other network or committee this library trained can serve too (the best
network of an earlier search, or a committee of them). Relative paths are resolved against the working
directory when the run starts (:func:`resolve_teacher`), so workers get absolute paths.

The logits are computed once per prepared data set in each worker, on the training rows
without augmentation, and kept on the device (:func:`deap_nas.runtime.worker.teacher_logits_for`).
Departures, stated: (1) a committee outputs averaged probabilities, not logits; their
logarithm is used as its logits (softmax(log p / T) is p sharpened or flattened by T,
the usual treatment of an ensemble's soft targets); (2) a student sees augmented images
while the teacher's logits are those of the unaugmented image (computing them per
augmented batch would cost a teacher forward pass per step; the paper does not say);
(3) the inputs are normalised with the search's statistics, which may differ slightly
from those the teacher was trained with.

This module imports torch only inside the functions that load a teacher.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

KINDS = ("ensemble", "committee", "export", "run", "architecture")
ALLOWED = {"ensemble": {"ensemble"}, "committee": {"committee"}, "export": {"export"}, "run": {"run", "rank"},
           "architecture": {"architecture", "weights", "head"}}
PATH_KEYS = ("ensemble", "committee", "export", "run", "architecture", "weights")


def teacher_kind(spec: Mapping[str, Any]) -> str:
    """The kind of a teacher spec; ValueError naming the problem (keys as ``teacher.<key>``)."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"teacher: must be a mapping such as {{committee: PATH}}, got {spec!r}")
    kinds = [k for k in KINDS if k in spec]
    if len(kinds) != 1:
        raise ValueError(f"teacher: give exactly one of {list(KINDS)}, got keys {sorted(spec)}")
    kind = kinds[0]
    unknown = sorted(set(spec) - ALLOWED[kind])
    if unknown:
        raise ValueError(f"teacher.{unknown[0]}: unknown key for a '{kind}' teacher; known: {sorted(ALLOWED[kind])}")
    for key in PATH_KEYS:
        inline = key == "architecture" and isinstance(spec.get(key), Mapping)
        if key in spec and not isinstance(spec[key], str) and not inline:
            raise ValueError(f"teacher.{key}: must be a path, got {spec[key]!r}")
    if kind == "architecture" and "weights" not in spec:
        raise ValueError("teacher.weights: an 'architecture' teacher needs its weights file")
    rank = spec.get("rank", 1)
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"teacher.rank: must be an integer >= 1, got {rank!r}")
    return kind


def resolve_teacher(spec: Mapping[str, Any] | None, base: str | Path | None = None) -> dict[str, Any] | None:
    """The spec checked and with absolute paths (relative ones against ``base`` or the
    working directory); None stays None."""
    if spec is None:
        return None
    teacher_kind(spec)
    root = Path(base) if base is not None else Path.cwd()
    out = dict(spec)
    for key in PATH_KEYS:
        if key in out and isinstance(out[key], str):
            p = Path(out[key])
            out[key] = str(p if p.is_absolute() else (root / p).absolute())
    return out


def check_teacher(spec: Mapping[str, Any] | None, data_name: str | None = None, key: str = "teacher",
                  preprocessing: Mapping[str, Any] | None = None) -> None:
    """ValueError naming ``key`` when the files of a resolved ``spec`` are missing, or an
    ensemble is incomplete or was trained on another data set than ``data_name`` or with
    other input ``preprocessing`` (GCN / whitening options) than the students'."""
    if spec is None:
        return
    kind = teacher_kind(spec)
    if kind == "ensemble":
        from .teacher_ensemble import check_data, read_manifest

        manifest = read_manifest(spec["ensemble"], f"{key}.ensemble")
        check_data(manifest, spec["ensemble"], data_name, key=f"{key}.ensemble", preprocessing=preprocessing)
        return
    for k in PATH_KEYS:
        if isinstance(spec.get(k), str) and not Path(spec[k]).exists():
            raise ValueError(f"{key}.{k}: {spec[k]} does not exist")


def _network(arch_json: Any, weights: Path, input_shape: Any, num_classes: int, head: Any) -> Any:
    import torch

    from ..arch import Architecture, recorded_head
    from ..nn import build

    arch = Architecture.from_dict(arch_json) if isinstance(arch_json, Mapping) else Architecture.from_json(arch_json)
    if head is None:  # the head the architecture file records (best/, export/), else the default
        head = recorded_head(arch_json)
    net = build(arch, tuple(input_shape), int(num_classes), head)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return net.eval()


def load_teacher(spec: Mapping[str, Any], input_shape: Any, num_classes: int) -> Any:
    """The teacher as an ``nn.Module`` (CPU, eval mode) mapping images to logits."""
    import torch
    from torch import nn

    kind = teacher_kind(spec)
    if kind == "ensemble":
        from .teacher_ensemble import load_ensemble

        return load_ensemble(spec["ensemble"], input_shape, num_classes)
    if kind == "committee":
        from ..evaluation.committee import Committee

        committee = Committee.load(spec["committee"])

        class LogProbabilities(nn.Module):
            """A committee's log vote probabilities, used as its logits."""

            def __init__(self, inner: nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return torch.log(self.inner(x).float().clamp_min(1e-12))

        return LogProbabilities(committee).eval()
    if kind == "export":
        root = Path(spec["export"])
        meta = json.loads((root / "meta.json").read_text())
        return _network((root / "architecture.json").read_text(), root / "model.pt", input_shape, num_classes,
                        meta.get("head"))
    if kind == "run":
        from ..analysis.report import run_config, search_head
        from ..arch import recorded_head

        root = Path(spec["run"])
        summary = json.loads((root / "best" / "summary.json").read_text())
        rank = int(spec.get("rank", 1))
        models = [m for m in summary["models"] if m.get("files", {}).get("weights")]
        if len(models) < rank:
            raise ValueError(f"teacher.run: {root} has {len(models)} best models with weights, rank {rank} asked")
        files = models[rank - 1]["files"]
        text = (root / "best" / files["architecture"]).read_text()
        head = recorded_head(text) or search_head(run_config(root))  # older best/ files record no head
        return _network(text, root / "best" / files["weights"], input_shape, num_classes, head)
    arch = spec["architecture"]
    return _network(arch if isinstance(arch, Mapping) else Path(arch).read_text(), Path(spec["weights"]),
                    input_shape, num_classes, spec.get("head"))


def teacher_logits(model: Any, data: Any, batch_size: int = 1024) -> Any:
    """``model``'s logits on every row of ``data`` (a DeviceDataset), float32 (N, K) on
    its device; ValueError when the teacher's class count differs from the data's."""
    from ..evaluation.engine import predict_logits

    model = model.to(data.device)
    logits = predict_logits(model, data, batch_size)
    if tuple(logits.shape) != (len(data), data.num_classes):
        raise ValueError(f"teacher: gives logits of shape {tuple(logits.shape)}, "
                         f"expected {(len(data), data.num_classes)} for this data set")
    return logits
