"""Operators declare the genomes they work on; configs and toolboxes are checked against the space."""

from __future__ import annotations

import inspect
import os
import random
from pathlib import Path

import pytest
import yaml
from deap import base, tools

from deap_nas.cli import main
from deap_nas.ops import (
    ANY,
    OPERATOR_GENOMES,
    OPERATORS,
    OperatorSpaceError,
    check_operator,
    check_operators,
    check_toolbox,
    mut_neat,
    mut_sequential,
)
from deap_nas.ops.registry import PART_KINDS
from deap_nas.spaces import SPACES, NeatSpace, SequentialSpace

CONFIGS = Path(__file__).resolve().parent.parent / "experiments" / "configs"


def package_operators() -> dict[str, object]:
    return {n: fn for n, fn in OPERATORS.items() if fn.__module__.split(".")[0] in ("deap_nas", "deap")}


def test_every_registered_operator_declares_its_genomes():
    kinds = {cls.genome_kind for cls in SPACES.values()} | set(PART_KINDS)
    missing = sorted(set(package_operators()) - set(OPERATOR_GENOMES))
    assert not missing, f"operators without a genomes= declaration: {missing}"
    for name in package_operators():
        declared = OPERATOR_GENOMES[name]
        assert declared == ANY or (declared and declared <= kinds), (name, declared)


def test_every_space_has_a_genome_kind():
    assert all(cls.genome_kind for cls in SPACES.values())
    assert SPACES["immunecs_fashion"].genome_kind == SPACES["immunecs_cifar10"].genome_kind == "immunecs"


def _space_arguments(fn, space):
    params = inspect.signature(fn).parameters
    return {"space": space} if "space" in params else {}


def test_declared_mutations_and_crossovers_work_on_their_spaces():
    """The declarations are true: each mut_ / cx_ operator declared for a space kind varies
    random genomes of every space of that kind (with its default parameters)."""
    for name, fn in package_operators().items():
        declared = OPERATOR_GENOMES[name]
        if declared == ANY or not name.startswith(("mut_", "cx_")) or declared <= set(PART_KINDS):
            continue
        for space_name, cls in SPACES.items():
            if cls.genome_kind not in declared:
                continue
            space, rng = cls(), random.Random(0)
            kw = {**_space_arguments(fn, space), "rng": rng}
            inds = [space.random_individual(rng) for _ in range(2)]
            for ind in inds:
                ind.fitness.values = (0.5,)   # a parent's affinity (ImmuNeCS hypermutation)
            out = fn(*inds, **kw) if name.startswith("cx_") else fn(inds[0], **kw)
            assert isinstance(out, tuple), (name, space_name)


def test_misfits_are_one_line_naming_role_operator_and_spaces():
    with pytest.raises(OperatorSpaceError, match=r"^operators\.mutate: mut_neat works on genomes of space neat, "
                                                 r"not sequential$"):
        check_operators({"mutate": "mut_neat", "select": "sel_tournament"}, "sequential")
    with pytest.raises(OperatorSpaceError, match="genomes of spaces immunecs_cifar10, immunecs_fashion, not neat"):
        check_operator("mut_hypermutation", NeatSpace())
    check_operators({"mutate": "mut_neat", "select": "sel_best"}, NeatSpace)   # fits
    check_operator(lambda ind: (ind,), "sequential")                           # unknown: not judged


def test_check_toolbox_reads_registrations():
    tb = base.Toolbox()
    tb.register("mutate", mut_neat)
    tb.register("select", tools.selTournament, tournsize=3)
    tb.register("evaluate", len)
    with pytest.raises(OperatorSpaceError, match=r"^toolbox\.mutate: mut_neat works on genomes of space neat"):
        check_toolbox(tb, SequentialSpace())
    tb.register("mutate", mut_sequential, space=SequentialSpace())
    tb.space = SequentialSpace()
    check_toolbox(tb)


def test_paper_configs_fit_their_spaces():
    for path in sorted(CONFIGS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and data.get("operators"):
            check_operators(data["operators"], data["space"]["name"])


def test_cli_refuses_a_misfit_before_writing_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = {
        "space": {"name": "sequential", "max_depth": 3},
        "algorithm": {"name": "aging_evolution", "population_size": 2, "sample_size": 1},
        "operators": {"mutate": {"name": "mut_neat"}},
        "evaluation": {"trainer": "deap_nas.testing:fake_trainer"},
        "budget": {"evaluations": 3},
        "output": {"dir": "runs", "plots": False, "progress": False},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    code = main(["run", "c.yaml"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["deap-nas: error: operators.mutate: mut_neat works on genomes of space neat, "
                                 "not sequential"]
    assert sorted(os.listdir(tmp_path)) == ["c.yaml"]
