"""write_plots draws the plots registered with register_plot whose space / algorithm match
the run's config (deap_nas.analysis.plots module docstring)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deap_nas.analysis.plots import PLOTS, register_plot, write_plots
from deap_nas.runtime.journal import write_json, write_logbook_csv

GENERAL = ["fitness.png", "accuracy_vs_params.png", "best_so_far.png", "best_so_far_time.png"]


def _run_dir(root: Path, space: str, algorithm: str, logbook: list[dict] | None = None) -> Path:
    """A run directory with an empty journal: config.yaml naming the space and algorithm."""
    root.mkdir(parents=True)
    config = {"space": {"name": space}, "algorithm": {"name": algorithm}}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    write_json(root / "run.json", {})
    (root / "journal.jsonl").write_text("")
    write_logbook_csv(root / "logbook.csv", logbook or [{"gen": 0, "best": 0.5, "mean": 0.4}])
    return root


@pytest.fixture
def registered():
    """Names registered by a test, removed from the registry afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        PLOTS.pop(name, None)


def test_the_built_in_plots_are_registered_in_drawing_order():
    assert list(PLOTS)[:6] == ["fitness", "accuracy_vs_params", "best_so_far", "best_so_far_time", "genomes",
                              "best_generation"]
    assert (PLOTS["genomes"].space, PLOTS["genomes"].algorithm) == ("neat", None)
    assert (PLOTS["best_generation"].space, PLOTS["best_generation"].algorithm) == (None, "minigen")
    assert all(PLOTS[n].space is None and PLOTS[n].algorithm is None for n in list(PLOTS)[:3])


def test_space_and_algorithm_plots_are_drawn_only_for_matching_runs(tmp_path, registered):
    calls = []

    def draw(run, path):
        calls.append((run.path.name, path.name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")

    register_plot("t_space", space="sequential")(draw)
    register_plot("t_algo", algorithm="aging_evolution")(draw)
    register_plot("t_both", space="sequential", algorithm="random_search")(draw)
    registered += ["t_space", "t_algo", "t_both"]

    a = _run_dir(tmp_path / "a", "sequential", "random_search")
    b = _run_dir(tmp_path / "b", "neat", "aging_evolution")
    assert [p.name for p in write_plots(a)] == [*GENERAL, "t_space.png", "t_both.png"]
    assert [p.name for p in write_plots(b)] == [*GENERAL, "genomes.png", "t_algo.png"]
    assert calls == [("a", "t_space.png"), ("a", "t_both.png"), ("b", "t_algo.png")]


def test_a_plot_returning_false_writes_nothing(tmp_path, registered):
    register_plot("t_skip")(lambda run, path: False)
    registered.append("t_skip")
    paths = write_plots(_run_dir(tmp_path / "r", "sequential", "random_search"))
    assert [p.name for p in paths] == GENERAL
    assert not (tmp_path / "r" / "plots" / "t_skip.png").exists()


def test_minigen_runs_get_the_birth_generation_plot_when_the_logbook_has_it(tmp_path):
    rows = [{"gen": g, "best": 0.2 + 0.01 * g, "best_birth": g // 2} for g in range(4)]
    with_birth = _run_dir(tmp_path / "m", "minigen", "minigen", rows)
    assert [p.name for p in write_plots(with_birth)] == [*GENERAL, "best_generation.png"]
    without = _run_dir(tmp_path / "n", "minigen", "minigen")
    assert [p.name for p in write_plots(without)] == GENERAL


def test_register_plot_rejects_taken_and_path_like_names(registered):
    with pytest.raises(ValueError, match="plot 'fitness' is already registered"):
        register_plot("fitness")(lambda run, path: None)
    for bad in ("", "sub/name", "../x"):
        with pytest.raises(ValueError, match="plain file name"):
            register_plot(bad)
    assert list(PLOTS)[:6] == ["fitness", "accuracy_vs_params", "best_so_far", "best_so_far_time", "genomes",
                              "best_generation"]
