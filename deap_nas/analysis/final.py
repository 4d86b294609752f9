"""``deap-nas train-final``: full training of a run's best architectures, test set used once.

For each of the ``top_k`` ranked architectures (``final_training.source: found``: the
architectures the search reported as found, in that order) and each seed of ``final_training.seeds``:
hold a validation split out of the full training split (it picks the best epoch), train
with ``final_training.training``, reload the best epoch and measure test accuracy once.
Results go to ``final/results.json`` and ``final/results.csv``, one row per architecture
(accuracy, parameters, accuracy-to-parameter ratio; sorted by ``final_training.sort``) to
``final/table.csv``, weights to
``final/<hash>_seed<k>.pt`` (``<hash>`` is the searched architecture's hash, also when
``final_training.channels`` widens it; ``trained_hash`` and ``architecture`` in the
results describe the network actually trained). With ``final_training.teacher`` every
model trains with the distillation loss against that teacher (mimicry); each record's
``loss`` says which loss trained it (``classification`` or ``distillation``), and a
missing, incomplete or mismatched teacher is an error before any training.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..arch import Architecture
from ..runtime.journal import write_csv, write_json
from ..runtime.schema import to_plain
from .report import load_run, rank_architectures, run_config, search_head

__all__ = ["resolve_device", "train_final", "widen", "width_factor"]

_CSV_FIELDS = (
    "rank", "arch_hash", "trained_hash", "seed", "status", "val_acc", "test_acc", "search_accuracy",
    "params", "epochs", "best_epoch", "seconds", "device", "weights", "loss", "message",
)  # fmt: skip


def widen(arch: Architecture, factor: float) -> Architecture:
    """A copy of ``arch`` with every integer node parameter ``channels`` multiplied by
    ``factor`` (rounded, at least 1). Relative widths (``channel_mult``, ``growth``,
    ``None`` = keep) are left alone, so they follow the widened stem."""
    if not factor > 0:
        raise ValueError(f"widen: factor must be > 0, got {factor}")
    out = arch.copy()
    for node in out.nodes:
        c = node.params.get("channels")
        if isinstance(c, int) and not isinstance(c, bool):
            node.params["channels"] = max(1, int(round(c * factor)))
    return out


def width_factor(arch: Architecture, channels: int) -> float:
    """``channels`` / the first node's explicit ``channels`` (the stem width)."""
    for node in arch.nodes:
        c = node.params.get("channels")
        if isinstance(c, int) and not isinstance(c, bool) and c > 0:
            return channels / c
    raise ValueError("final_training.channels: the architecture has no node with explicit 'channels' to widen")


def final_data_section(config: Any) -> dict[str, Any]:
    """The ``data:`` mapping of final training: the search's data set (name, root,
    download) and input preprocessing (GCN / whitening, refitted on the final training
    split) split by ``final_training.val_fraction`` / ``train_subset``, without the
    search's subsets or mini file (final training uses the full training split)."""
    from ..data.prepare import PREPROCESS_KEYS

    d = to_plain(config.data)
    ft = config.final_training
    return {"name": d["name"], "root": d.get("root"), "download": d.get("download"),
            "val_fraction": ft.val_fraction, "train_subset": ft.train_subset,
            **{k: d[k] for k in PREPROCESS_KEYS if k in d}}


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; other names unchanged."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _printer(tag: str, epochs: int, log: Callable[[str], Any]) -> Callable[[dict[str, Any]], None]:
    def on_epoch(h: dict[str, Any]) -> None:
        log(
            f"  [{tag}] epoch {h['epoch']}/{epochs}  loss {h['train_loss']:.4f}  "
            f"val {h['val_acc']:.4f}  lr {h['lr']:.3g}  {h['seconds']:.1f}s"
        )

    return on_epoch


def _count(arch: Architecture, data: Any, head: Any) -> str:
    try:
        return f"{arch.num_params(data.input_shape, data.num_classes, head):,}"
    except ValueError:  # an invalid architecture: train_architecture reports why
        return "?"


def _table(results: list[dict[str, Any]]) -> str:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault(r["arch_hash"], []).append(r)
    header = f"{'hash':<20}  {'test accuracy':>17}  {'seeds':>5}  {'params':>10}  {'acc/Mparams':>11}"
    lines = [header, "-" * len(header)]
    for h, rs in groups.items():
        accs = [r["test_acc"] for r in rs if r["test_acc"] is not None]
        params = rs[0]["params"]
        if accs:
            mean = statistics.fmean(accs)
            std = statistics.pstdev(accs) if len(accs) > 1 else 0.0
            acc = f"{mean:.4f} ± {std:.4f}"
            ratio = f"{mean / (params / 1e6):.3f}" if params else "-"
        else:
            acc, ratio = "failed", "-"
        p = f"{params:,}" if isinstance(params, int) else "-"
        lines.append(f"{h:<20}  {acc:>17}  {f'{len(accs)}/{len(rs)}':>5}  {p:>10}  {ratio:>11}")
    return "\n".join(lines)


def rank_by_best(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rank_architectures`` rows re-ranked by their best accuracy (ties: fewer
    parameters, then hash), ``rank`` renumbered (``final_training.rank_by: best``)."""
    out = sorted(rows, key=lambda r: (-r["best_accuracy"], r.get("params") or 0, r["arch_hash"]))
    return [{**r, "rank": i} for i, r in enumerate(out, start=1)]


def train_final(
    run_dir: str | Path,
    top_k: int | None = None,
    device: str = "auto",
    epochs: int | None = None,
    log: Callable[[str], Any] = print,
    overrides: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Train the run's ``top_k`` best architectures (default ``final_training.top_k``) once
    per seed of ``final_training.seeds`` and measure test accuracy once per trained model.

    ``epochs`` overrides ``final_training.training.epochs``. Returns one record per
    (architecture, seed), in rank then seed order; ``final/results.json`` is rewritten after
    every model, so an interrupted call keeps what finished.
    """
    run = load_run(run_dir)
    config = run_config(run.path, overrides)  # e.g. ["final_training.channels=128"]
    ft = config.final_training
    k = ft.top_k if top_k is None else top_k
    if k < 1:
        raise ValueError(f"top_k must be >= 1, got {k}")
    ranked = _select(run, ft, k, log)
    if not ranked:
        raise ValueError(f"{run.path}: the journal has no successful evaluation to train")
    changes: dict[str, Any] = {"keep_best_state": True}
    if epochs is not None:
        changes["epochs"] = epochs
    job = _Job(
        run_path=run.path,
        out=run.path / "final",
        head=ft.head if ft.head is not None else search_head(config),
        tcfg=dataclasses.replace(ft.training, **changes),
        device=resolve_device(device),
        log=log,
    )
    job.out.mkdir(parents=True, exist_ok=True)
    archs = [_final_architecture(entry, ft.channels) for entry in ranked]
    if ft.teacher is not None:  # mimicry: relative paths from the cwd; checked before any training
        from ..runtime.teacher import check_teacher, resolve_teacher
        from ..runtime.teacher_ensemble import preprocessing_of

        job.teacher_spec = resolve_teacher(ft.teacher)
        check_teacher(job.teacher_spec, config.data.name, "final_training.teacher", preprocessing_of(config.data))
        log(f"final training with mimicry (distillation loss) from the teacher {job.teacher_spec}")
    results: list[dict[str, Any]] = []
    for seed in ft.seeds:  # seeds outside: each split is loaded once
        data, teacher = _seed_data(job, config, seed)
        for entry, arch in zip(ranked, archs, strict=True):
            results.append(_train_one(job, entry, arch, data, teacher, seed))
            _write(job.out, run.path, job.head, job.tcfg, results)
    results.sort(key=lambda r: (r["rank"], ft.seeds.index(r["seed"])))
    _write(job.out, run.path, job.head, job.tcfg, results)
    from .tables import format_ratio_table, ratio_rows

    rows = ratio_rows(results, ft.sort)
    write_csv(job.out / "table.csv", rows)
    log(format_ratio_table(rows) if ft.sort == "ratio" else _table(results))
    return results


@dataclass
class _Job:
    """What every model of one :func:`train_final` call shares."""

    run_path: Path
    out: Path  # RUN_DIR/final
    head: Any
    tcfg: Any  # the TrainConfig of final training
    device: str
    log: Callable[[str], Any]
    teacher_spec: Any = None  # resolved final_training.teacher, or None


def _select(run: Any, ft: Any, k: int, log: Callable[[str], Any]) -> list[dict[str, Any]]:
    """The ``k`` architectures to train, best first: the search's own list
    (``source: found``), the best mean over the search's own trainings (``selection:
    search_samples``), the re-evaluated candidates (``min_evaluations`` > 1), or the
    journal's ranking by mean or (``rank_by: best``) best accuracy."""
    if ft.source == "found":  # the search's own list (MiniGen: networks above its target accuracy)
        from .tables import found_architectures

        return found_architectures(run.path, run.journal)[:k]
    if ft.selection == "search_samples":  # the macro-NAS paper's rule: best mean over >= k search trainings
        from .selection import select_search_samples

        return select_search_samples(run.path, ft.min_evaluations, log=log)[:k]
    if ft.min_evaluations > 1:  # best mean after re-evaluating the top candidates to k results each
        from .selection import reevaluate_candidates

        return reevaluate_candidates(run.path, ft.min_evaluations, max(ft.candidates, k), log=log)[:k]
    if ft.rank_by == "best":
        return rank_by_best(rank_architectures(run.journal))[:k]
    return rank_architectures(run.journal)[:k]


def _final_architecture(entry: dict[str, Any], channels: int | None) -> Architecture:
    """The ranked row's architecture, widened to ``channels`` stem channels when given."""
    arch = Architecture.from_dict(entry["architecture"])
    if channels is not None:
        arch = widen(arch, width_factor(arch, channels))
    return arch


def _seed_data(job: _Job, config: Any, seed: int) -> tuple[Any, Any]:
    """The data of final training split with ``seed`` (test set included) on the device,
    and the teacher's logits on its training rows when a teacher is given."""
    from ..data import prepare_from_config

    data = prepare_from_config(final_data_section(config), with_test=True, seed=seed, device=job.device)
    teacher = None
    if job.teacher_spec is not None:
        from ..runtime.teacher import load_teacher, teacher_logits

        job.log(f"teacher {job.teacher_spec}: logits of {len(data.train)} training images")
        model = load_teacher(job.teacher_spec, data.input_shape, data.num_classes)
        teacher = teacher_logits(model, data.train)
    return data, teacher


def _train_one(
    job: _Job, entry: dict[str, Any], arch: Architecture, data: Any, teacher: Any, seed: int
) -> dict[str, Any]:
    """Train ``arch`` (the ranked row ``entry``) with ``seed``; when it succeeds, test its
    best epoch's weights once and save them. Returns the results record."""
    from ..evaluation import train_architecture

    h = entry["arch_hash"]
    tag = f"rank {entry['rank']} {h[:8]} seed {seed}"
    job.log(f"[{tag}] training {_count(arch, data, job.head)} parameters on {job.device}")
    start = time.perf_counter()
    res = train_architecture(
        arch, data, job.tcfg, head=job.head, seed=seed, on_epoch=_printer(tag, job.tcfg.epochs, job.log),
        teacher_logits=teacher,
    )
    record: dict[str, Any] = {
        "rank": entry["rank"],
        "arch_hash": h,
        "trained_hash": arch.hash(),
        "seed": seed,
        "status": res.status,
        "message": res.message,
        "val_acc": res.best_acc,
        "test_acc": None,
        "search_accuracy": entry["mean_accuracy"],
        "params": res.num_params,
        "epochs": res.epochs_run,
        "best_epoch": res.best_epoch,
        "seconds": None,
        "device": res.device or job.device,
        "weights": None,
    }
    record["loss"] = "classification" if teacher is None else "distillation"
    if job.teacher_spec is not None:
        record["teacher"] = job.teacher_spec
    if res.ok and res.best_state is not None:
        _test_and_save(job, record, res.best_state, arch, data)
        job.log(f"[{tag}] best epoch {res.best_epoch}: val {res.best_acc:.4f}  test {record['test_acc']:.4f}")
    else:
        job.log(f"[{tag}] {res.status}: {res.message}")
    record["seconds"] = time.perf_counter() - start
    record["history"] = res.history
    record["architecture"] = arch.to_dict()
    return record


def _test_and_save(job: _Job, record: dict[str, Any], best_state: dict[str, Any], arch: Architecture,
                   data: Any) -> None:
    """Test accuracy of ``best_state`` (the one use of the test set) into ``record``, and
    the weights saved as ``final/<hash>_seed<k>.pt`` (``record["weights"]``)."""
    import torch

    from ..evaluation import evaluate
    from ..nn import build

    tcfg = job.tcfg
    net = build(arch, data.input_shape, data.num_classes, job.head)
    net.load_state_dict(best_state)
    net.to(data.test.device)
    record["test_acc"] = evaluate(
        net, data.test, tcfg.eval_batch_size, amp=tcfg.amp, channels_last=tcfg.channels_last
    )
    weights = job.out / f"{record['arch_hash']}_seed{record['seed']}.pt"
    torch.save(best_state, weights)
    record["weights"] = str(weights.relative_to(job.run_path))


def _write(out: Path, run_dir: Path, head: Any, tcfg: Any, results: list[dict[str, Any]]) -> None:
    write_json(
        out / "results.json",
        {
            "format": "deap_nas.final/1",
            "run_dir": str(run_dir),
            "head": head,
            "training": to_plain(tcfg),
            "models": results,
        },
    )
    write_csv(out / "results.csv", [{f: r.get(f) for f in _CSV_FIELDS} for r in results])
