"""``deap-nas train-teacher``: train a teacher ensemble for mimicry (knowledge distillation).

A teacher config (YAML) names reference networks (:mod:`deap_nas.arch.zoo`), the seeds
each is trained with, the data and the training::

    seed: 0                                   # the train / validation split
    data: {name: cifar10, val_fraction: 0.1}
    members: [{family: densenet, depth: 40, growth: 60}]
    seeds: [0, 1, 2, 3]                       # members = members x seeds
    head: gap_linear
    training: {epochs: 300, optimizer: sgd, lr: 0.1, ...}

Each member is trained on the training split (its best validation epoch kept) and tested
once on the test split. The output directory holds ``member_NN.json`` (architecture),
``member_NN.pt`` (weights) and ``manifest.json`` (format, config, data set and class
count, each member's files and validation / test accuracy, the ensemble's accuracy).
Every file is written atomically, the manifest after each member: a killed call keeps
the members that finished, and the same command continues with the next one. A manifest
is ``complete`` only when every member is trained; only then can it teach
(``evaluation.teacher: {ensemble: DIR}``, :mod:`deap_nas.runtime.teacher`). The
ensemble's output is the mean of its members' logits
(:class:`~deap_nas.evaluation.ensemble.LogitEnsemble`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..arch import Architecture, HeadSpec
from ..arch.zoo import reference_architecture
from ..checks import check_amount
from ..evaluation.config import TrainConfig
from .config import apply_overrides, read_yaml
from .journal import write_json
from .schema import ConfigError, from_mapping, to_plain

FORMAT = "deap_nas.teacher_ensemble/1"
MANIFEST = "manifest.json"
COMBINE = "mean_logits"


@dataclass
class TeacherDataConfig:
    """The data a teacher is trained on (the training split; the test split tests it once)."""

    name: str = "cifar10"
    root: str | None = None
    download: bool = False
    val_fraction: float = 0.1  # held out of the training split to pick each member's best epoch
    train_subset: float | int | None = None  # None: the whole training split
    #: input preprocessing, as a search's ``data:`` section (``deap_nas.data.whiten``); a
    #: student run must use the same, or its teacher would see inputs it was not trained on
    gcn: bool = False
    gcn_scale: float = 55.0
    whiten: str | None = None
    zca_epsilon: float = 0.1

    def __post_init__(self) -> None:
        from ..data.whiten import check_preprocessing

        check_preprocessing(self.gcn, self.gcn_scale, self.whiten, self.zca_epsilon)
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction: must be in (0, 1), got {self.val_fraction}")
        check_amount("train_subset", self.train_subset)


@dataclass
class TeacherConfig:
    """A teacher config: ``members`` (reference networks) x ``seeds``, trained alike."""

    members: list[dict[str, Any]] = field(default_factory=list)
    seeds: tuple[int, ...] = (0,)
    seed: int = 0
    data: TeacherDataConfig = field(default_factory=TeacherDataConfig)
    head: str | dict[str, Any] = "gap_linear"
    training: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=20))

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("members: give at least one network, e.g. [{family: wide_resnet, depth: 28, width: 10}]")
        for i, spec in enumerate(self.members):
            try:
                reference_architecture(spec)
            except ValueError as e:
                raise ConfigError(f"members[{i}].{e}") from None
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: give at least one seed, without repeats, got {list(self.seeds)}")
        HeadSpec.parse(self.head)

    def plan(self) -> list[tuple[dict[str, Any], int]]:
        """The members to train, in order: (network spec, seed)."""
        return [(dict(spec), seed) for spec in self.members for seed in self.seeds]


def load_teacher_config(path: str | Path, overrides: Sequence[str] = ()) -> TeacherConfig:
    """Read, override (``--set key=value``) and validate a teacher config; errors name the key."""
    return from_mapping(TeacherConfig, apply_overrides(read_yaml(path), overrides), "")


def read_manifest(root: str | Path, key: str = "teacher.ensemble") -> dict[str, Any]:
    """The manifest of a complete ensemble; ValueError (naming ``key``) when it is missing,
    unreadable or incomplete."""
    import json

    path = Path(root) / MANIFEST
    hint = f"train it with `deap-nas train-teacher TEACHER_CONFIG --out {root}`"
    if not path.is_file():
        raise ValueError(f"{key}: no teacher ensemble at {root} (no {MANIFEST}); {hint}")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{key}: {path} is not readable JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{key}: {path} is not a teacher ensemble manifest ({FORMAT})")
    if not manifest.get("complete"):
        done, total = len(manifest.get("members", [])), manifest.get("planned", "?")
        raise ValueError(f"{key}: the ensemble at {root} is incomplete ({done} of {total} members); {hint}")
    for m in manifest["members"]:
        for f in (m["architecture"], m["weights"]):
            if not (Path(root) / f).is_file():
                raise ValueError(f"{key}: {Path(root) / f} is missing; {hint}")
    return manifest


def preprocessing_of(section: Any) -> dict[str, Any]:
    """The preprocessing options (``PREPROCESS_KEYS``) of a data section or config, with
    the defaults filled in; what a teacher and its students must share."""
    from ..data.prepare import PREPROCESS_KEYS

    plain = section if isinstance(section, Mapping) else to_plain(section)
    defaults = to_plain(TeacherDataConfig())
    return {k: plain.get(k, defaults[k]) for k in PREPROCESS_KEYS}


def check_data(manifest: dict[str, Any], root: Any, data_name: str | None = None, num_classes: int | None = None,
               input_shape: Sequence[int] | None = None, key: str = "teacher.ensemble",
               preprocessing: Mapping[str, Any] | None = None) -> None:
    """ValueError when the ensemble was trained on another data set, class count, image
    shape or input preprocessing (a manifest without a record had none)."""
    d = manifest["data"]
    had = d.get("preprocessing") or preprocessing_of({})
    for what, want, have in (("data set", data_name, d["name"]), ("class count", num_classes, d["num_classes"]),
                             ("image shape", None if input_shape is None else list(input_shape), d["input_shape"]),
                             ("preprocessing", None if preprocessing is None else dict(preprocessing), had)):
        if want is not None and want != have:
            raise ValueError(f"{key}: the ensemble at {root} was trained with {what} {have!r}, this run uses {want!r}")


def load_ensemble(root: str | Path, input_shape: Sequence[int], num_classes: int, key: str = "teacher.ensemble") -> Any:
    """The complete ensemble at ``root``, checked against the data's image shape and class
    count, as a :class:`~deap_nas.evaluation.ensemble.LogitEnsemble` (CPU, eval mode)."""
    manifest = read_manifest(root, key)
    check_data(manifest, root, None, int(num_classes), tuple(input_shape), key)
    return load_ensemble_unchecked(Path(root), manifest, input_shape, num_classes)


def _start_manifest(config: TeacherConfig, out: Path, data: Any) -> dict[str, Any]:
    """The manifest of ``out`` to continue (same config) or a new one; ValueError when
    ``out`` holds an ensemble of another config."""
    import json

    plain = to_plain(config)
    path = out / MANIFEST
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("format") != FORMAT or old.get("config") != json.loads(json.dumps(plain)):
            raise ValueError(f"--out {out}: holds a teacher ensemble of another config; give another directory")
        old["members"] = [m for m in old["members"] if (out / m["weights"]).is_file()]
        return old
    return {"format": FORMAT, "complete": False, "planned": len(config.plan()), "config": plain,
            "combine": COMBINE, "head": HeadSpec.parse(config.head).to_dict(),
            "data": {"name": config.data.name, "preprocessing": preprocessing_of(config.data),
                     "num_classes": data.num_classes,
                     "input_shape": list(data.input_shape), "classes": list(data.classes),
                     "train": len(data.train), "val": len(data.val), "test": len(data.test)},
            "members": []}


def _save_weights(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` through a temporary file and a rename: complete or absent."""
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _train_member(config: TeacherConfig, out: Path, data: Any, index: int, spec: dict[str, Any], seed: int,
                  device: str, log: Callable[[str], Any]) -> dict[str, Any]:
    """Train member ``index``, test it once, write its files; its manifest entry."""
    from ..evaluation import evaluate, train_architecture
    from ..nn import build

    arch = reference_architecture(spec)
    head = HeadSpec.parse(config.head).to_dict()
    tcfg = dataclasses.replace(config.training, keep_best_state=True)
    tag = f"member {index + 1}/{len(config.plan())} {arch.name} seed {seed}"
    log(f"[{tag}] training {arch.num_params(data.input_shape, data.num_classes, head):,} parameters on {device}")
    start = time.perf_counter()

    def on_epoch(h: dict[str, Any]) -> None:
        log(f"  [{tag}] epoch {h['epoch']}/{tcfg.epochs}  loss {h['train_loss']:.4f}  val {h['val_acc']:.4f}  "
            f"lr {h['lr']:.3g}  {h['seconds']:.1f}s")

    res = train_architecture(arch, data, tcfg, head=head, seed=seed, on_epoch=on_epoch)
    if not res.ok or res.best_state is None:
        raise RuntimeError(f"[{tag}] training failed ({res.status}: {res.message}); the ensemble stays incomplete")
    net = build(arch, data.input_shape, data.num_classes, head)
    net.load_state_dict(res.best_state)
    test_acc = evaluate(net.to(data.test.device), data.test, tcfg.eval_batch_size, amp=tcfg.amp,
                        channels_last=tcfg.channels_last)
    stem = f"member_{index:02d}"
    from .journal import atomic_write_text

    atomic_write_text(out / f"{stem}.json", arch.to_json() + "\n")
    _save_weights(res.best_state, out / f"{stem}.pt")
    log(f"[{tag}] best epoch {res.best_epoch}: val {res.best_acc:.4f}  test {test_acc:.4f}")
    return {"index": index, "name": arch.name, "network": spec, "seed": seed, "architecture": f"{stem}.json",
            "weights": f"{stem}.pt", "arch_hash": arch.hash(), "params": res.num_params, "val_acc": res.best_acc,
            "test_acc": test_acc, "best_epoch": res.best_epoch, "epochs": res.epochs_run,
            "seconds": time.perf_counter() - start}


def train_teacher(config: TeacherConfig, out: str | Path, device: str = "cpu",
                  log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Train the ensemble of ``config`` into ``out`` (continuing what an earlier call left
    there); returns the complete manifest."""
    from ..data import prepare_from_config
    from ..evaluation import evaluate

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    d = config.data
    section = {"name": d.name, "root": d.root, "download": d.download, "val_fraction": d.val_fraction,
               "train_subset": d.train_subset, **preprocessing_of(d)}
    data = prepare_from_config(section, seed=config.seed, device=device, with_test=True)
    log(f"data {data.name}: {len(data.train)} train / {len(data.val)} validation / {len(data.test)} test images")
    manifest = _start_manifest(config, out, data)
    done = {m["index"] for m in manifest["members"]}
    if done:
        log(f"{out}: {len(done)} of {manifest['planned']} members already trained, continuing")
    for index, (spec, seed) in enumerate(config.plan()):
        if index in done:
            continue
        manifest["members"].append(_train_member(config, out, data, index, spec, seed, device, log))
        manifest["members"].sort(key=lambda m: m["index"])
        write_json(out / MANIFEST, manifest)
    net = load_ensemble_unchecked(out, manifest, data.input_shape, data.num_classes).to(data.test.device)
    tcfg = config.training
    manifest["ensemble"] = {
        "val_acc": evaluate(net, data.val, tcfg.eval_batch_size, amp=tcfg.amp, channels_last=tcfg.channels_last),
        "test_acc": evaluate(net, data.test, tcfg.eval_batch_size, amp=tcfg.amp, channels_last=tcfg.channels_last),
        "params": sum(m["params"] for m in manifest["members"]),
    }
    manifest["complete"] = True
    write_json(out / MANIFEST, manifest)
    e = manifest["ensemble"]
    log(f"ensemble of {len(manifest['members'])}: val {e['val_acc']:.4f}  test {e['test_acc']:.4f}  "
        f"{e['params']:,} parameters -> {out / MANIFEST}")
    return manifest


def load_ensemble_unchecked(root: Path, manifest: dict[str, Any], input_shape: Sequence[int],
                            num_classes: int) -> Any:
    """The members of ``manifest`` (complete or not) as a LogitEnsemble."""
    import torch

    from ..evaluation.ensemble import LogitEnsemble
    from ..nn import build

    members = []
    for m in manifest["members"]:
        arch = Architecture.from_json((root / m["architecture"]).read_text())
        net = build(arch, tuple(input_shape), int(num_classes), manifest["head"])
        net.load_state_dict(torch.load(root / m["weights"], map_location="cpu", weights_only=True))
        members.append(net)
    return LogitEnsemble(members).eval()
