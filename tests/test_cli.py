"""The ``deap-nas`` command: describe, datasets, train, and one-line errors (exit code 2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deap_nas.arch import Architecture, sequential
from deap_nas.cli import main
from deap_nas.evaluation import evaluate, prepare_data
from deap_nas.nn import build

from .run_helpers import usage_error

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "experiments" / "architectures" / "fashion_example.json"
TRAIN_FAST = ["--epochs", "1", "--train-subset", "20", "--batch-size", "64", "--seed", "0"]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No data root, download switch or cache from the caller's environment."""
    monkeypatch.setenv("DEAP_NAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DEAP_NAS_DATA", raising=False)
    monkeypatch.delenv("DEAP_NAS_DOWNLOAD", raising=False)


def small_arch(path: Path) -> Path:
    arch = sequential([("conv", {"channels": 8}), ("pool", {"type": "max"})], name="tiny")
    path.write_text(arch.to_json())
    return path




# --- describe and datasets -----------------------------------------------------------


def test_describe_prints_hash_and_parameter_count(capsys, tmp_path) -> None:
    dot = tmp_path / "arch.dot"
    assert main(["describe", str(EXAMPLE), "--dot", str(dot)]) == 0
    out = capsys.readouterr().out
    arch = Architecture.from_json(EXAMPLE.read_text())
    assert re.search(rf"^architecture fashion_example\s+hash {arch.hash()}$", out, re.M)
    count = re.search(r"^parameters \(with gap_linear head, 10 classes\): ([\d,]+)$", out, re.M)
    assert count and int(count.group(1).replace(",", "")) == arch.num_params((1, 28, 28), 10)
    for node in arch.nodes:  # one line per node with its op and shape
        assert re.search(rf"^\s+{node.id} {node.op}\s", out, re.M)
    assert dot.read_text().startswith("digraph")
    assert str(dot) in out


def test_describe_other_shape_and_head(capsys) -> None:
    argv = ["describe", str(EXAMPLE), "--input-shape", "3,32,32", "--classes", "100"]
    assert main([*argv, "--head", "linear"]) == 0
    out = capsys.readouterr().out
    n = Architecture.from_json(EXAMPLE.read_text()).num_params((3, 32, 32), 100, "linear")
    assert f"(with linear head, 100 classes): {n:,}" in out
    assert "unknown head 'mlp9'" in usage_error(capsys, [*argv, "--head", "mlp9"])


def test_datasets_lists_the_registry(capsys) -> None:
    assert main(["datasets"]) == 0
    names = capsys.readouterr().out.split()
    assert "fashion_mnist_mini" in names and "fashion_mnist" in names and names == sorted(names)


def test_installed_entry_point_help() -> None:
    exe = Path(sys.executable).parent / "deap-nas"
    if not exe.exists():
        pytest.skip("the deap-nas script is not installed in this environment")
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for word in ("train", "describe", "datasets"):
        assert word in done.stdout


# --- train -----------------------------------------------------------------------------


def test_train_writes_a_run_directory(capsys, tmp_path) -> None:
    out = tmp_path / "run"
    assert main(["train", str(EXAMPLE), *TRAIN_FAST, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "200 train / 200 validation images" in printed and "status ok" in printed

    arch = Architecture.from_json((out / "architecture.json").read_text())
    assert arch == Architecture.from_json(EXAMPLE.read_text())
    assert (out / "architecture.dot").read_text().startswith("digraph")
    summary = json.loads((out / "result.json").read_text())
    result = summary["result"]
    assert result["status"] == "ok" and result["epochs_run"] == 1
    assert result["num_params"] == arch.num_params((1, 28, 28), 10, "concat_pool")
    assert summary["test_acc"] is None and len(summary["data"]["train_indices"]) == 200

    state = torch.load(out / "weights.pt", weights_only=True)
    net = build(arch, (1, 28, 28), 10, "concat_pool")
    net.load_state_dict(state)  # strict: every tensor present with its shape
    data = prepare_data("fashion_mnist_mini", train_subset=20, seed=0)
    assert data.record["val_indices"] == summary["data"]["val_indices"]
    assert evaluate(net, data.val) == pytest.approx(result["best_acc"])


def test_train_with_test_split_and_no_out(capsys, tmp_path) -> None:
    arch = small_arch(tmp_path / "tiny.json")
    assert main(["train", str(arch), *TRAIN_FAST, "--head", "linear", "--test"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^test accuracy 0\.\d{4}$", out, re.M)
    assert "saved to" not in out and not (tmp_path / "run").exists()


# --- bad input: one line on stderr, exit code 2 --------------------------------------------


def test_missing_architecture_file(capsys, tmp_path) -> None:
    missing = tmp_path / "nope.json"
    for command in ("describe", "train"):
        line = usage_error(capsys, [command, str(missing)])
        assert "architecture file not found" in line and str(missing) in line


@pytest.mark.parametrize(
    "text, reason",
    [
        ("{not json", "not valid JSON"),
        ('{"nodes": 5}', "needs a 'nodes' list"),
        ('{"nodes": [{"id": 0, "op": "conv", "inputs": 3}]}', "'inputs' must be a list"),
        ('{"nodes": [{"id": 0, "op": ["conv"]}]}', "'op' must be a string"),
        ('{"nodes": [{"id": 0, "op": "conv", "params": {"kernel": 0}}]}', "parameter 'kernel'"),
        ('{"nodes": [{"id": 0, "op": "teleport"}]}', "unknown op 'teleport'"),
    ],
)
def test_bad_architecture_json(capsys, tmp_path, text, reason) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    for command in ("describe", "train"):
        assert reason in usage_error(capsys, [command, str(path)])


def test_unreadable_architecture_file_names_the_file(capsys, tmp_path) -> None:
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    line = usage_error(capsys, ["describe", str(path)])
    assert str(path) in line and "malformed architecture" in line


def test_architecture_invalid_for_the_data(capsys, tmp_path) -> None:
    path = tmp_path / "wide.json"
    path.write_text(sequential([("conv", {"kernel": 40, "padding": "valid"})]).to_json())
    line = usage_error(capsys, ["train", str(path), *TRAIN_FAST])
    assert "kernel extent 40 is larger than its input size 28" in line
    line = usage_error(capsys, ["describe", str(path)])
    assert "larger than its input" in line
    assert main(["describe", str(path), "--input-shape", "1,64,64"]) == 0  # fits 64x64


def test_unknown_data_set(capsys, tmp_path) -> None:
    line = usage_error(capsys, ["train", str(small_arch(tmp_path / "a.json")), "--data", "nope"])
    assert "unknown data set 'nope'" in line and "fashion_mnist_mini" in line


def test_missing_data_set(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DEAP_NAS_DATA", str(tmp_path / "empty"))
    assert main(["train", str(small_arch(tmp_path / "a.json")), "--data", "mnist"]) == 2
    err = capsys.readouterr().err  # the not-found message lists every place looked in
    assert err.startswith("deap-nas: error: data set 'mnist'") and str(tmp_path / "empty") in err


@pytest.mark.parametrize(
    "option, field",
    [
        (["--epochs", "0"], "TrainConfig.epochs"),
        (["--optimizer", "lion"], "TrainConfig.optimizer"),
        (["--lr", "-1"], "TrainConfig.lr"),
        (["--pad-crop", "-2"], "AugmentConfig.pad"),
        (["--train-subset", "1.5"], "fraction"),
        (["--val-fraction", "1.0"], "val_fraction"),
        (["--head", "mlp9"], "unknown head 'mlp9'"),
    ],
)
def test_bad_option_values(capsys, tmp_path, option, field) -> None:
    arch = small_arch(tmp_path / "a.json")
    assert field in usage_error(capsys, ["train", str(arch), "--epochs", "1", *option])


def test_bad_option_syntax_is_an_argparse_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["describe", str(EXAMPLE), "--input-shape", "28x28"])
    assert info.value.code == 2 and "expected C,H,W" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda(capsys, tmp_path) -> None:
    line = usage_error(capsys, ["train", str(small_arch(tmp_path / "a.json")), "--device", "cuda"])
    assert "no CUDA device" in line
