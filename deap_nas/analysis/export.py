"""``deap-nas export``: one searched architecture with its weights as a standalone model.

Writes ``export/model.pt`` (state dict of :func:`deap_nas.nn.build`'s network),
``architecture.json`` (with the head the search used), ``meta.json`` (input shape,
classes, head, input normalisation, accuracy, hash) and, on request, ``model.pt2``
(``torch.export``), ``model.ts`` (TorchScript, traced) or ``model.onnx``
(:mod:`deap_nas.analysis.export_formats`). The folder is written completely or not at
all (:mod:`deap_nas.analysis.atomic_dir`): every file goes to a temporary sibling that
replaces the folder only when all formats succeeded. The network expects ``(N, C, H, W)``
float32 input ``(uint8 / 255 - mean) / std``. A run whose data section applies GCN / ZCA
whitening (``deap_nas.data.whiten``) exports the fitted transform too:
``preprocessing.pt`` (an :class:`InputPreprocessing` state dict) and, in the traced files
(``model.pt2`` / ``model.ts`` / ``model.onnx``), the transform in front of the network, so
those take ``uint8 / 255`` directly; ``meta.json`` says which input a file expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..arch import Architecture, HeadSpec, architecture_with_head
from ..runtime.journal import write_json
from .atomic_dir import check_output, staged_dir
from .export_formats import EXPORT_FORMATS, ExportFormat, MissingRequirementError, check_formats
from .report import load_run, rank_architectures, run_config, search_head

__all__ = ["EXPORT_FORMATS", "InputPreprocessing", "MissingRequirementError", "export_model"]


class InputPreprocessing(torch.nn.Module):
    """A fitted GCN / ZCA transform (:class:`deap_nas.data.whiten.Preprocessing`) as a
    module: float32 ``uint8 / 255`` images in, the network's whitened input out (float32;
    the search computed it in float64)."""

    def __init__(self, pre: Any, shape: Sequence[int]) -> None:
        super().__init__()
        self.gcn, self.scale, self.shape = bool(pre.gcn), float(pre.gcn_scale), tuple(int(x) for x in shape)
        dim = int(torch.tensor(self.shape).prod())
        mean = pre.mean if pre.mean is not None else torch.zeros(dim)
        matrix = pre.matrix if pre.matrix is not None else torch.eye(dim)
        self.register_buffer("mean", mean.detach().to("cpu", torch.float32))
        self.register_buffer("matrix", matrix.detach().to("cpu", torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(x.shape[0], -1)
        if self.gcn:
            rows = rows - rows.mean(dim=1, keepdim=True)
            norm = rows.norm(dim=1, keepdim=True)
            rows = rows * (self.scale / torch.where(norm < 1e-8, torch.ones_like(norm), norm))
        return ((rows - self.mean) @ self.matrix).reshape(x.shape[0], *self.shape)


def _data_info(config: Any) -> tuple[dict[str, Any], Any]:
    """Input shape, classes and normalisation of the run's data, recomputed from the
    ``data`` section exactly as a search prepares it (seed = the run's seed), and the
    fitted GCN / ZCA transform (None without one)."""
    from ..data import prepare_from_config
    from ..runtime.schema import to_plain

    d = config.data
    data = prepare_from_config(to_plain(d), seed=config.seed, device="cpu")
    return {
        "input_shape": list(data.input_shape),
        "num_classes": data.num_classes,
        "classes": list(data.classes),
        "normalization": {
            "mean": data.record["mean"],
            "std": data.record["std"],
            "source": f"training part of '{d.name}' as split by the run's data section and seed",
        },
    }, data.preprocessing


def export_model(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    rank: int | None = None,
    formats: Sequence[str] = ("state_dict",),
    force: bool = False,
    member: int | None = None,
) -> list[Path]:
    """Export the ``rank``-th architecture (default 1) of the run (see :func:`rank_architectures`)
    with its best weights to ``out_dir`` (default ``RUN_DIR/export``), all files or none.

    ``formats``: any of :data:`EXPORT_FORMATS` (``state_dict`` is always written; see
    :mod:`deap_nas.analysis.export_formats`). Checked before any work: ``ValueError`` for
    an unknown format, :class:`MissingRequirementError` for a format whose package is
    missing, ``FileExistsError`` for an existing ``out_dir`` without ``force`` (with
    ``force`` it is replaced in one step once every file is written). Raises
    ``FileNotFoundError`` when the architecture's weights were not kept
    (``evaluation.save_weights: false``) and ``ValueError`` for a rank beyond the
    successful architectures. Returns the paths written.

    A multi-objective run has no ranking: ``member`` picks a member of its Pareto front
    (0 = best on the first objective, the ``#`` of ``deap-nas report`` and the ``NN`` of
    ``best/frontNN_<hash>``; default 0) and ``rank`` is refused; a single-objective run
    refuses ``member`` (:func:`deap_nas.analysis.pareto_front.chosen_member`).
    """
    chosen = check_formats(formats)
    run = load_run(run_dir)
    out = Path(out_dir) if out_dir is not None else run.path / "export"
    from .pareto_front import chosen_member

    picked = chosen_member(run, rank, member)
    if picked is None:
        rank = 1 if rank is None else rank
        entry, weights_path = _ranked_entry(run, rank)
    else:
        entry, weights_path = _weights_of(run, picked[0], f"front member {picked[1]}")
    check_output(out, force)
    config = run_config(run.path)
    head = HeadSpec.parse(search_head(config))
    arch = Architecture.from_dict(entry["architecture"])
    info, pre = _data_info(config)
    net = _load_network(arch, info, head, weights_path)
    data_input = "float32 (N, C, H, W) = (uint8 image / 255 - mean) / std"
    if pre is not None:
        info["preprocessing"] = pre.record()
        data_input = ("model.pt: float32 (N, C, H, W) after the run's GCN / ZCA transform (preprocessing.pt, "
                      "InputPreprocessing); model.pt2 / model.ts / model.onnx: float32 uint8 image / 255, "
                      "transform included")
    meta = {
        "format": "deap_nas.export/1",
        "arch_hash": entry["arch_hash"],
        **({"rank": rank} if picked is None else {"front_member": picked[1], "objectives": picked[2]}),
        "accuracy": entry["mean_accuracy"],
        "accuracy_std": entry["std_accuracy"],
        "repeats": entry["count"],
        "params": sum(p.numel() for p in net.parameters()),
        "dataset": config.data.name,
        **info,
        "head": head.to_dict(),
        "input": data_input,
        "weights_source": entry["weights"],
        "weights_eval_id": entry["weights_eval_id"],
        "run_dir": str(run.path),
    }
    with staged_dir(out, force) as tmp:
        names = [p.name for p in _write_model(net, arch, head, tuple(info["input_shape"]), tmp, chosen, pre)]
        write_json(tmp / "meta.json", {**meta, "files": names + ["meta.json"]})
    return [out / name for name in names + ["meta.json"]]


def _ranked_entry(run: Any, rank: int) -> tuple[dict[str, Any], Path]:
    """The ``rank``-th row of :func:`rank_architectures` of the run's journal and the path
    of its saved weights; ``ValueError`` / ``FileNotFoundError`` as :func:`export_model` says."""
    ranked = rank_architectures(run.journal)
    if not ranked:
        raise ValueError(f"{run.path}: the journal has no successful evaluation to export")
    if not 1 <= rank <= len(ranked):
        raise ValueError(f"rank must be in 1..{len(ranked)} (successful architectures of the run), got {rank}")
    return _weights_of(run, ranked[rank - 1], f"rank {rank}")


def _weights_of(run: Any, entry: dict[str, Any], which: str) -> tuple[dict[str, Any], Path]:
    """``entry`` and the path of its saved weights; ``FileNotFoundError`` naming ``which``
    (e.g. ``rank 2``, ``front member 1``) when they were not kept or are missing."""
    h = entry["arch_hash"]
    if not entry["weights"]:
        raise FileNotFoundError(
            f"architecture {h} ({which}) has no saved weights in {run.path} "
            "(evaluation.save_weights was off?); train it with `deap-nas train-final` instead"
        )
    weights_path = run.path / entry["weights"]
    if not weights_path.is_file():
        raise FileNotFoundError(f"weights of architecture {h} ({which}) not found: {weights_path}")
    return entry, weights_path


def _load_network(arch: Architecture, info: dict[str, Any], head: Any, weights_path: Path) -> torch.nn.Module:
    """The network of ``arch`` for the run's input shape and classes, with the saved
    weights loaded, on the CPU in eval mode."""
    from ..nn import build

    net = build(arch, tuple(info["input_shape"]), info["num_classes"], head)
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    net.eval()
    return net


def _write_model(
    net: torch.nn.Module, arch: Architecture, head: HeadSpec, shape: tuple[int, ...], out: Path,
    formats: Sequence[ExportFormat], pre: Any = None,
) -> list[Path]:
    """Write ``model.pt`` (state dict) and ``architecture.json`` (with ``head``) to ``out``
    and the file of each other format in ``formats`` (from a fixed random example batch);
    with a fitted GCN / ZCA transform ``pre`` also ``preprocessing.pt``, and the traced
    files include it. Returns the paths."""
    written = [out / "model.pt", out / "architecture.json"]
    torch.save(net.state_dict(), written[0])
    written[1].write_text(architecture_with_head(arch, head) + "\n", encoding="utf-8")
    example = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    if pre is not None:
        prep = InputPreprocessing(pre, shape)
        torch.save(prep.state_dict(), out / "preprocessing.pt")
        written.append(out / "preprocessing.pt")
        net = torch.nn.Sequential(prep, net).eval()
        example = torch.rand(2, *shape, generator=torch.Generator().manual_seed(0))
    for fmt in formats:
        if fmt.write is not None:
            fmt.write(net, example, out / fmt.file)
            written.append(out / fmt.file)
    return written
