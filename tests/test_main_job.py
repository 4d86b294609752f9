"""README's main job: the one command for a fresh machine runs an evolutionary search on the
embedded data and writes its best-so-far curve (run here with the fake trainer)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from deap_nas.runtime.config import load_config

from .run_helpers import check, cli

REPO = Path(__file__).resolve().parents[1]


def main_job_config() -> str:
    """The config path of the ``deap-nas run`` in README's "Two commands" section."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Two commands for a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert commands, "README's 'Two commands' section has no bash block"
    found = re.search(r"pip install -e \. && deap-nas run (\S+\.yaml)\s*$", commands[0].strip())
    assert found, f"the first command does not install and run a config: {commands[0]!r}"
    return found.group(1)


def test_main_job_is_an_evolutionary_search_on_the_embedded_data() -> None:
    path = REPO / main_job_config()
    assert path.is_file(), f"{path.relative_to(REPO)} does not exist"
    config = load_config(path)
    assert config.data.name == "fashion_mnist_mini", "the main job runs offline on the embedded subset"
    assert config.algorithm.name not in {"random_search"}, "the main job shows evolution at work"
    assert config.output.plots, "the main job draws its plots (best_so_far.png)"


def test_main_job_runs_and_writes_best_so_far(tmp_path: Path) -> None:
    run = tmp_path / "run"
    check(cli("run", REPO / main_job_config(), "--run-dir", run,
              "--set", "evaluation.trainer=deap_nas.testing:fake_trainer",
              "--set", "budget.evaluations=14", cwd=tmp_path))
    with open(run / "logbook.csv") as f:
        rows = list(csv.DictReader(f))
    best = [float(r["best_so_far"]) for r in rows]
    assert len(rows) == 14 and best == sorted(best), "one row per evaluation, best so far never falls"
    assert (run / "plots" / "best_so_far.png").stat().st_size > 0
