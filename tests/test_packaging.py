"""Install and run outside a checkout: shipped configs by name, ``python -m deap_nas``,
the wheel's contents, run.json's environment, config checks without torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deap_nas import shipped
from deap_nas.runtime.environment import environment, git_state

from .run_helpers import ENV, usage_error

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "experiments" / "configs" / "random_search_quick.yaml"
FAKE = "evaluation.trainer=deap_nas.testing:fake_trainer"


def test_shipped_configs_are_the_experiments_files():
    names = [c.name for c in shipped.shipped_configs("run")]
    assert "immunecs_fashion_mnist_quick" in names and "random_search_quick" in names
    assert {p.name for p in (REPO / "experiments" / "configs").glob("*.yaml")} == {f"{n}.yaml" for n in names}
    assert (REPO / "experiments" / "configs").resolve() == shipped.shipped_dir("run")  # one copy
    studies = {c.name: c for c in shipped.shipped_configs("study")}
    assert studies["seeds_quick"].study == "seeds"
    assert all(c.description for c in shipped.shipped_configs("run"))


def test_describe_takes_the_first_sentence_of_the_header():
    text = "# NASGEP on CIFAR-10 (Alves et al. 2020, sec.\n# IV-A). More text.\nseed: 0\n# not header\n"
    assert shipped.describe(text) == "NASGEP on CIFAR-10 (Alves et al. 2020, sec. IV-A)."
    assert shipped.describe("seed: 0\n") == ""


@pytest.mark.parametrize("name", ["immunecs-fashion-mnist-quick", "immunecs_fashion_mnist_quick",
                                  "immunecs_fashion_mnist_quick.yaml"])
def test_resolve_a_shipped_name(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Path(shipped.resolve_config(name)) == shipped.shipped_dir() / "immunecs_fashion_mnist_quick.yaml"


def test_a_file_wins_over_a_shipped_name_and_paths_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "random_search_quick.yaml").write_text("seed: 1\n")
    assert shipped.resolve_config("random_search_quick.yaml") == "random_search_quick.yaml"
    assert shipped.resolve_config("sub/missing.yaml") == "sub/missing.yaml"  # the loader names it


def test_unknown_name_is_one_line_with_close_names(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = usage_error(capsys, ["run", "immunecs-fashion-mnist-quik"])
    assert "immunecs-fashion-mnist-quik" in line and "close names: immunecs_fashion_mnist_quick" in line
    line = usage_error(capsys, ["study", "seeds", "seeds-quik"])
    assert "no shipped study config" in line and "seeds_quick" in line
    assert not list(tmp_path.iterdir())


def test_configs_command_lists_names_with_descriptions(capsys):
    from deap_nas.cli import main

    assert main(["configs"]) == 0
    out = capsys.readouterr().out
    assert "immunecs_fashion_mnist_quick" in out and "[search_vs_random]" in out
    assert "Random search on the embedded Fashion-MNIST subset" in out


def _python(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(REPO), ENV.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_run_a_shipped_config_by_name_outside_the_checkout(tmp_path, monkeypatch):
    from deap_nas.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["run", "random-search-quick", "--set", FAKE, "--set", "budget.evaluations=2",
                 "--set", "output.plots=false", "--set", "output.progress=false", "--run-dir", "r"]) == 0
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    assert Path(meta["config_source"]) == shipped.shipped_dir() / "random_search_quick.yaml"


@pytest.mark.parametrize("how", ["module", "file"])
def test_module_entry(how, tmp_path):
    """``python -m deap_nas``, and the same file run as a script (as SCOOP starts it)."""
    entry = ["-m", "deap_nas"] if how == "module" else [str(REPO / "deap_nas" / "__main__.py")]
    r = _python(*entry, "configs", cwd=tmp_path)
    assert r.returncode == 0 and "random_search_quick" in r.stdout, r.stderr
    r = _python(*entry, "run", "no-such-config", cwd=tmp_path)
    assert r.returncode == 2 and "no-such-config" in r.stderr


CHECK = """
import sys
from deap_nas.cli import main
code = main(sys.argv[1:])
print("torch" in sys.modules, code)
"""


@pytest.mark.parametrize("case", ["run", "study", "resume"])
def test_config_mistakes_are_reported_without_torch(case, tmp_path):
    if case == "run":
        bad = tmp_path / "bad.yaml"
        bad.write_text(QUICK.read_text().replace("evaluations: 20", "evaluationz: 20"))
        argv, key = ["run", str(bad)], "budget.evaluationz"
    elif case == "study":
        argv, key = ["study", "seeds", "seeds-quick", "--set", "run.training.epochz=1"], "training.epochz"
    else:  # a run directory as far as resume reads it before the config is checked
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "run.json").write_text(json.dumps({"format": "deap_nas.run/1"}))
        shutil.copy(QUICK, tmp_path / "run" / "config.yaml")
        argv, key = ["resume", "run", "--set", "training.epochz=3"], "training.epochz"
    r = _python("-c", CHECK, *argv, cwd=tmp_path)
    assert r.stdout.split() == ["False", "2"], r.stdout + r.stderr
    assert key in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_module_imports_no_torch():
    r = _python("-c", "import sys, deap_nas.cli, deap_nas.__main__; print('torch' in sys.modules)", cwd=REPO)
    assert r.stdout.strip() == "False", r.stderr


def test_environment_names_versions_and_the_checkout():
    env = environment()
    assert env["python"].count(".") == 2 and env["platform"]
    assert env["deap_nas"] and env["deap"] and env["numpy"] and "torch" in env
    if (REPO / ".git").exists() and shutil.which("git"):
        assert len(env["git"]["commit"]) == 40 and isinstance(env["git"]["dirty"], bool)


def test_git_state_is_none_outside_a_checkout_or_without_git(tmp_path, monkeypatch):
    assert git_state(tmp_path) is None  # an installed package: no .git next to it
    (tmp_path / ".git").mkdir()  # looks like a checkout, but git cannot read it
    assert git_state(tmp_path) is None
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # no git at all
    assert git_state(REPO) is None


def test_run_json_records_the_environment(tmp_path, monkeypatch):
    from deap_nas.runtime.config import load_config
    from deap_nas.runtime.search import resume_run, start_run

    monkeypatch.chdir(tmp_path)
    overrides = [FAKE, "budget.evaluations=2", "output.plots=false", "output.progress=false"]
    start_run(load_config(QUICK, overrides), "r")
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    assert meta["environment"]["deap_nas"] == environment()["deap_nas"]
    assert set(meta["environment"]) >= {"python", "platform", "torch", "torchvision", "deap", "numpy", "git"}
    assert "resumed_environment" not in meta
    resume_run("r", ["budget.evaluations=3"])
    assert json.loads((tmp_path / "r" / "run.json").read_text())["resumed_environment"]["python"]


@pytest.mark.slow  # 5-10 s: builds the wheel (pip)
def test_wheel_holds_the_shipped_configs_and_the_license(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "build", "dist", "*.egg-info", "__pycache__", ".ruff_cache"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "-w", str(tmp_path / "whl"), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (wheel,) = (tmp_path / "whl").glob("deap_nas-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind, folder in shipped.KINDS.items():
        for c in shipped.shipped_configs(kind):
            assert f"deap_nas/experiments/{folder}/{c.name}.yaml" in names
    assert "deap_nas/experiments/architectures/minigen/table3_index1.json" in names
    assert "deap_nas/__main__.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)


@pytest.mark.slow  # 10-20 s: starts SCOOP with two workers
def test_scoop_starts_the_package_entry_file(tmp_path):
    """What docs/install.md gives for SCOOP from an install: the file of deap_nas.__main__."""
    main_file = REPO / "deap_nas" / "__main__.py"
    r = _python("-m", "scoop", "-n", "2", str(main_file), "run", "random-search-quick", "--set", FAKE,
                "--set", "budget.evaluations=4", "--set", "output.plots=false", "--run-dir", "s", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "scoop evaluation" in r.stderr + r.stdout
    workers = {json.loads(line)["worker"] for line in (tmp_path / "s" / "journal.jsonl").read_text().splitlines()}
    assert len(workers) >= 1 and json.loads((tmp_path / "s" / "run.json").read_text())["status"] == "finished"
