"""The restart rule of MiniGen (sec. IV-D) on real data: the quick config on the embedded
Fashion-MNIST subset runs rounds of 2 generations; after generation 2 the rule fires.
Above the threshold the top networks are kept with their birth generation reset to 0;
below it the population is drawn again."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from deap_nas.runtime.config import parse_config
from deap_nas.runtime.search import start_run

CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "minigen_fashion_mnist_quick.yaml"


def run(tmp_path: Path, name: str, **algorithm):
    import torch

    data = yaml.safe_load(CONFIG.read_text())
    data = copy.deepcopy(data)
    data["data"]["mini_file"] = str(tmp_path / "mini.npz")
    data["algorithm"].update(algorithm)
    data["budget"]["generations"] = 3  # generations 0, 1, 2, then the restart and generation 3
    threads = torch.get_num_threads()
    try:
        return start_run(parse_config(data), tmp_path / name)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("threshold, kind", [(0.15, "kept"), (1.0, "random")])
def test_the_restart_rule_fires_after_the_round(tmp_path: Path, threshold: float, kind: str):
    out = run(tmp_path, kind, restart_threshold=threshold)
    rows = list(out.state.logbook)
    assert [(r["gen"], r["round"], r["round_gen"], r["restart"]) for r in rows] == [
        (0, 0, 0, ""), (1, 0, 1, ""), (2, 0, 2, ""), (3, 1, 0, kind)]
    extra = out.state.extra
    assert extra["restarts"] == {"kept": int(kind == "kept"), "random": int(kind == "random")}
    assert extra["round"] == 1 and extra["round_gen"] == 0
    pop = out.state.population
    assert all(ind.birth == 0 for ind in pop)  # the round starts again at generation 0
    if kind == "kept":
        assert rows[2]["best"] > threshold  # the best accuracy of generation 2 cleared it
        # the elite of generation 2 survive with their accuracy (born again in 0); only the
        # 2 new children are trained
        assert rows[3]["nevals"] == 2
    else:
        assert rows[2]["best"] <= threshold
        assert rows[3]["nevals"] == 4  # a whole new random population
