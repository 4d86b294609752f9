"""``deap-nas export`` and ``best/``: formats that load back to the same outputs, an export
folder written completely or not at all, requirements checked before any work, the head
recorded with the architecture, and ``best/`` holding successful candidates with their
evaluation ids. One real (tiny) search trains the networks: parameter counts and weights
are the runtime's own."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import shutil
from pathlib import Path

import pytest
import torch

from deap_nas.analysis import export_formats
from deap_nas.analysis.export import export_model
from deap_nas.analysis.report import write_best
from deap_nas.arch import Architecture, HeadSpec, recorded_head
from deap_nas.cli import main
from deap_nas.nn import build
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.search import start_run
from deap_nas.spaces import SPACES

from .run_helpers import journal, snapshot, usage_error

HEAD = {"name": "linear"}
CONFIG = {
    "seed": 0,
    "data": {"name": "fashion_mnist_mini", "train_subset": 4},
    "space": {"name": "sequential", "min_depth": 1, "max_depth": 2, "stem_channels": 8, "max_channels": 8,
              "head": "concat_pool"},
    "evaluation": {"head": "linear"},  # neither the space's head nor describe's / train's default
    "algorithm": {"name": "random_search", "population_size": 3, "hall_of_fame": 3},
    "training": {"epochs": 1, "batch_size": 32},
    "budget": {"evaluations": 3},
    "parallel": {"backend": "serial", "threads": 1, "device": "cpu"},
    "output": {"plots": False, "progress": False},
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("search") / "run"
    start_run(parse_config(CONFIG), run)
    return run


def _searched_params(run: Path) -> dict[str, int]:
    return {r["arch_hash"]: r["params"] for r in journal(run) if r["status"] == "ok"}


# ---------------------------------------------------------------------- the head record
def test_best_records_the_search_head_and_rebuilds_with_its_parameter_count(run_dir, capsys):
    summary = json.loads((run_dir / "best" / "summary.json").read_text())
    assert summary["head"] == HEAD and summary["models"]
    searched = _searched_params(run_dir)
    for model in summary["models"]:
        path = run_dir / "best" / model["files"]["architecture"]
        assert recorded_head(path.read_text()) == HeadSpec.parse(HEAD)
        assert main(["describe", str(path)]) == 0
        out = capsys.readouterr()
        count = re.search(r"^parameters \(with linear head, 10 classes\): ([\d,]+)$", out.out, re.M)
        assert int(count.group(1).replace(",", "")) == searched[model["arch_hash"]] == model["params"]
        assert "records no head" not in out.err


@pytest.mark.parametrize("space", ["sequential", "neat", "immunecs_fashion", "eigen"])
def test_spaces_with_their_own_head_rebuild_with_the_searched_count(space, tmp_path, capsys):
    """Spaces whose default head is not describe's gap_linear: the best/ file carries it."""
    s = SPACES[space]()
    assert s.default_head != "gap_linear"
    arch = s.decode(s.random_individual(random.Random(1)))
    shape = tuple(getattr(s.params, "input_shape", (1, 28, 28)))
    params = sum(p.numel() for p in build(arch, shape, 10, s.default_head).parameters())
    run = tmp_path / "run"
    run.mkdir()
    result = {"eval_ids": [7], "arch_hash": arch.hash(), "status": "ok", "accuracy": 0.5, "params": params,
              "architecture": arch.to_dict(), "weights": None}
    write_best(run, [{"genome": None, "fitness": [0.5], "result": result}], head=s.default_head)
    path = run / "best" / f"rank01_{arch.hash()}.json"
    assert json.loads(path.read_text())["head"] == HeadSpec.parse(s.default_head).to_dict()  # with its parameters
    assert main(["describe", str(path), "--input-shape", ",".join(map(str, shape))]) == 0
    printed = re.search(r"\): ([\d,]+)$", capsys.readouterr().out, re.M).group(1)
    assert int(printed.replace(",", "")) == params


def test_a_file_without_a_head_uses_the_default_and_says_so_once(tmp_path, capsys):
    space = SPACES["sequential"]()
    arch = space.decode(space.random_individual(random.Random(0)))
    old = tmp_path / "old.json"
    old.write_text(arch.to_json())
    assert main(["describe", str(old)]) == 0
    out = capsys.readouterr()
    assert f"(with gap_linear head, 10 classes): {arch.num_params((1, 28, 28), 10, 'gap_linear'):,}" in out.out
    assert out.err.count("records no head") == 1 and "using gap_linear" in out.err
    assert main(["describe", str(old), "--head", "linear"]) == 0
    assert "records no head" not in capsys.readouterr().err


# ---------------------------------------------------------------------- best/
def test_best_has_real_eval_ids_and_only_successful_candidates(run_dir, tmp_path):
    ok = {r["arch_hash"]: r["eval_id"] for r in journal(run_dir) if r["status"] == "ok"}
    hof = snapshot(run_dir)["hall_of_fame"]
    summary = json.loads((run_dir / "best" / "summary.json").read_text())
    assert [m["eval_id"] for m in summary["models"]] == [ok[m["arch_hash"]] for m in summary["models"]]
    assert all(m["eval_ids"] == [m["eval_id"]] for m in summary["models"])

    failed = json.loads(json.dumps(hof[0]))
    failed["result"].update(status="nan", accuracy=None, weights=None, message="loss became nan")
    failed["fitness"] = [0.0]
    written = write_best(run_dir, [hof[1], failed, hof[2]], head="linear")
    models = json.loads((run_dir / "best" / "summary.json").read_text())["models"]
    assert [m["arch_hash"] for m in models] == [hof[1]["result"]["arch_hash"], hof[2]["result"]["arch_hash"]]
    assert [m["rank"] for m in models] == [1, 2] and all(m["status"] == "ok" for m in models)
    assert not any(hof[0]["result"]["arch_hash"] in p.name for p in written)
    write_best(run_dir, hof, head="linear")  # as the search left it


# ---------------------------------------------------------------------- export formats
def _check_reload(out: Path, fmt: str, meta: dict) -> None:
    arch = Architecture.from_json((out / "architecture.json").read_text())
    head = recorded_head((out / "architecture.json").read_text())
    assert head == HeadSpec.parse(meta["head"]) == HeadSpec.parse(HEAD)
    net = build(arch, tuple(meta["input_shape"]), meta["num_classes"], head)
    net.load_state_dict(torch.load(out / "model.pt", weights_only=True))
    net.eval()
    x = torch.randn(3, *meta["input_shape"], generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = net(x)
        if fmt == "export":
            got = torch.export.load(str(out / "model.pt2")).module()(x)
        elif fmt == "torchscript":
            got = torch.jit.load(str(out / "model.ts"))(x)
        elif fmt == "onnx":
            ort = pytest.importorskip("onnxruntime")
            got = torch.from_numpy(ort.InferenceSession(str(out / "model.onnx")).run(None, {"images": x.numpy()})[0])
        else:
            got = expected
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("fmt", ["state_dict", "export", "torchscript", "onnx"])
def test_each_format_reloads_to_the_same_outputs(run_dir, tmp_path, fmt):
    if fmt == "onnx" and None in (importlib.util.find_spec("onnx"), importlib.util.find_spec("onnxscript")):
        pytest.skip("onnx / onnxscript are not installed (pip install 'deap_nas[onnx]')")
    out = tmp_path / fmt
    paths = export_model(run_dir, out_dir=out, formats=(fmt,))
    meta = json.loads((out / "meta.json").read_text())
    assert sorted(p.name for p in paths) == sorted(meta["files"]) == sorted(os.listdir(out))
    assert meta["params"] == _searched_params(run_dir)[meta["arch_hash"]]
    _check_reload(out, fmt, meta)


def test_a_missing_package_is_refused_before_anything_is_written(run_dir, tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    out = tmp_path / "export"
    line = usage_error(capsys, ["export", str(run_dir), "--out", str(out),
                                "--format", "state_dict", "torchscript", "onnx"])
    assert line == "deap-nas: error: format onnx needs the onnx package: pip install 'deap_nas[onnx]'"
    assert sorted(os.listdir(tmp_path)) == []


def _fail(*args):
    raise RuntimeError("injected failure in the second format")


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_an_export_is_all_files_or_none(run_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "export"
    failing = dict(export_formats.FORMATS, torchscript=export_formats.FORMATS["torchscript"].__class__(
        "torchscript", "model.ts", (), _fail))
    monkeypatch.setattr(export_formats, "FORMATS", failing)
    with pytest.raises(RuntimeError, match="injected"):
        export_model(run_dir, out_dir=out, formats=("export", "torchscript"))
    assert sorted(os.listdir(tmp_path)) == []  # no folder, no temporary sibling

    monkeypatch.undo()
    export_model(run_dir, out_dir=out, rank=1)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    line = usage_error(capsys, ["export", str(run_dir), "--out", str(out), "--rank", "2"])
    assert "exists" in line and "--force" in line
    monkeypatch.setattr(export_formats, "FORMATS", failing)
    with pytest.raises(RuntimeError, match="injected"):
        export_model(run_dir, out_dir=out, rank=2, formats=("export", "torchscript"), force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and sorted(os.listdir(tmp_path)) == ["export"]

    monkeypatch.undo()
    assert main(["export", str(run_dir), "--out", str(out), "--rank", "2", "--force"]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["rank"] == 2 and sorted(os.listdir(out)) == sorted(meta["files"])
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_a_stale_temporary_folder_of_a_killed_export_is_removed(run_dir, tmp_path):
    out = tmp_path / "export"
    dead = tmp_path / ".export.tmp-999999999"  # no such process
    dead.mkdir()
    (dead / "model.pt").write_bytes(b"half")
    export_model(run_dir, out_dir=out)
    assert sorted(os.listdir(tmp_path)) == ["export"]
    shutil.rmtree(out)


def test_teachers_from_best_and_saved_files_use_the_recorded_head(run_dir, tmp_path):
    from deap_nas.runtime.teacher import load_teacher, resolve_teacher

    top = json.loads((run_dir / "best" / "summary.json").read_text())["models"][0]
    net = load_teacher(resolve_teacher({"run": str(run_dir)}, tmp_path), (1, 28, 28), 10)
    assert sum(p.numel() for p in net.parameters()) == top["params"]
    spec = {"architecture": str(run_dir / "best" / top["files"]["architecture"]),
            "weights": str(run_dir / "best" / top["files"]["weights"])}
    net = load_teacher(resolve_teacher(spec, tmp_path), (1, 28, 28), 10)
    assert sum(p.numel() for p in net.parameters()) == top["params"]
