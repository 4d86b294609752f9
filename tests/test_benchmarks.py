"""The benchmark scripts run (tiny settings, CPU) and write what they promise; no timing
is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_engine_benchmark_compares_four_arms_with_wall_and_cpu_ratios(tmp_path: Path) -> None:
    out = tmp_path / "engine.json"
    p = run("engine.py", "--quick", "--device", "cpu", "--families", "sequential", "--n-train", "128",
            "--json", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    data = json.loads(out.read_text())
    (row,) = data["networks"]
    assert row["network"] == "sequential/quick"
    assert set(row["medians"]) == {"engine", "engine_nchw", "slicing", "dataloader"}
    assert set(row["ratios"]) == {"engine/engine_nchw", "engine/slicing", "engine/dataloader"}
    assert all(r["wall"] > 0 and r["cpu"] > 0 for r in row["ratios"].values())
    assert "geometric mean speed-up engine/slicing: wall" in p.stdout


@pytest.mark.slow
def test_gpu_throughput_runs_on_cpu_with_a_flag(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    p = run("gpu_throughput.py", "--cpu", "--minutes", "0.03", "--k", "1", "2", "--families", "sequential",
            "--sizes", "quick", "--n-train", "32", "--json", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    (row,) = json.loads(out.read_text())["rows"]
    assert [r["k"] for r in row["concurrent"]] == [1, 2]
    assert all(r["trainings"] >= 0 and r["busy_source"] == "cpu_time" for r in row["concurrent"])
    assert row["engine_images_per_s"] > 0 and row["loop_images_per_s"] > 0
    assert "cand/hour" in p.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_gpu_throughput_without_cuda_asks_for_the_cpu_flag(tmp_path: Path) -> None:
    p = run("gpu_throughput.py", "--k", "1", cwd=tmp_path)
    assert p.returncode == 2 and "no CUDA device: give --cpu" in p.stderr
