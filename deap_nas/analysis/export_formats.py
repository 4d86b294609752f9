"""The model files ``deap-nas export`` can write besides the state dict, and what each needs.

| format | file | how | needs |
|---|---|---|---|
| ``state_dict`` | ``model.pt`` | ``torch.save(net.state_dict())`` (always written) | |
| ``export`` | ``model.pt2`` | ``torch.export.export`` + ``torch.export.save`` | |
| ``torchscript`` | ``model.ts`` | ``torch.jit.trace`` (deprecated by PyTorch; kept) | |
| ``onnx`` | ``model.onnx`` | ``torch.onnx.export`` (the torch.export-based exporter) | ``onnx``, ``onnxscript``: the ``onnx`` extra |

Every file but ``model.onnx`` is loaded back after writing and must give the module's
outputs on the example batch (no ONNX runtime is a dependency). The batch dimension is
dynamic in ``model.pt2`` and ``model.onnx``.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["EXPORT_FORMATS", "FORMATS", "ExportFormat", "MissingRequirementError", "check_formats"]


class MissingRequirementError(RuntimeError):
    """A requested format needs a package that is not installed."""


@dataclass(frozen=True)
class ExportFormat:
    """One export format: its file name, the packages it needs, and its writer
    ``write(net, example, path)``."""

    name: str
    file: str
    requires: tuple[str, ...]
    write: Callable[[torch.nn.Module, torch.Tensor, Path], None] | None


def _same_outputs(what: str, path: Path, net: torch.nn.Module, loaded: Callable, example: torch.Tensor) -> None:
    with torch.no_grad():
        expected, got = net(example), loaded(example)
    if not torch.allclose(expected, got, rtol=1e-4, atol=1e-5):
        diff = (expected - got).abs().max().item()
        raise RuntimeError(f"{what} export of {path} differs from the model (max |diff| {diff:.3g})")


def write_torchscript(net: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """``model.ts``: the traced module, checked to load back with the same outputs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        traced = torch.jit.trace(net, example)
        traced.save(str(path))
        loaded = torch.jit.load(str(path), map_location="cpu")
    _same_outputs("TorchScript", path, net, loaded, example)


def _batch_dim() -> tuple[dict[int, object], ...]:
    return ({0: torch.export.Dim("batch")},)


def write_torch_export(net: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """``model.pt2``: ``torch.export`` program (dynamic batch), checked to load back
    (``torch.export.load(path).module()``) with the same outputs."""
    program = torch.export.export(net, (example,), dynamic_shapes=_batch_dim())
    torch.export.save(program, str(path))
    _same_outputs("torch.export", path, net, torch.export.load(str(path)).module(), example)


def write_onnx(net: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """``model.onnx`` (input ``images``, output ``logits``, dynamic batch)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        torch.onnx.export(net, (example,), str(path), dynamo=True, input_names=["images"],
                          output_names=["logits"], dynamic_shapes=_batch_dim(), external_data=False,
                          verbose=False)


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("state_dict", "model.pt", (), None),  # written by export_model itself
        ExportFormat("export", "model.pt2", (), write_torch_export),
        ExportFormat("torchscript", "model.ts", (), write_torchscript),
        ExportFormat("onnx", "model.onnx", ("onnx", "onnxscript"), write_onnx),
    )
}
EXPORT_FORMATS = tuple(FORMATS)


def check_formats(formats: Sequence[str]) -> list[ExportFormat]:
    """The requested formats, checked before any work: ``ValueError`` for an unknown
    name, :class:`MissingRequirementError` naming the package and the extra to install."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; known: {', '.join(EXPORT_FORMATS)}")
    chosen = [FORMATS[f] for f in dict.fromkeys(formats)]
    for fmt in chosen:
        for package in fmt.requires:
            if importlib.util.find_spec(package) is None:
                raise MissingRequirementError(
                    f"format {fmt.name} needs the {package} package: pip install 'deap_nas[{fmt.name}]'"
                )
    return chosen
