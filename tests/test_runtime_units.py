"""Config validation, the sequential space and its operators, loops, and the evaluator."""

import json
import random
import sys
from collections import Counter
from pathlib import Path

import pytest
from deap import base, tools

from deap_nas.algorithms import Budget, SearchControl, random_search, simple_ga
from deap_nas.ops import cx_one_point, mut_delete, mut_insert, mut_layer, mut_sequential
from deap_nas.runtime.config import ConfigError, apply_overrides, load_config, parse_config
from deap_nas.runtime.evaluator import EvaluationFailed, Evaluator
from deap_nas.runtime.worker import EvalTask, derive_seed, run_task
from deap_nas.spaces import SequentialParams, SequentialSpace

QUICK = "experiments/configs/random_search_quick.yaml"
BUDGET = {"budget": {"evaluations": 10}}


# ------------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "data, message",
    [
        ({**BUDGET, "colour": 1}, "colour: unknown section"),
        ({**BUDGET, "training": {"epochz": 3}}, "training.epochz: unknown key; known keys: .*epochs"),
        ({**BUDGET, "training": {"epochs": "three"}}, "training.epochs: expected an integer, got 'three'"),
        ({**BUDGET, "training": {"lr": -1}}, r"training.lr: must be > 0"),
        ({**BUDGET, "algorithm": {"name": "random_search", "population_size": 0}}, "algorithm.population_size: must be >= 1"),
        ({**BUDGET, "algorithm": {"name": "random_search", "population_size": -3}}, "algorithm.population_size"),
        (
            {**BUDGET, "algorithm": {"name": "simple_ga", "population_size": 10, "tournament_size": 30},
             "operators": {"mate": "cx_one_point", "mutate": "mut_sequential"}},
            "algorithm.tournament_size: 30 > population_size 10",
        ),
        ({**BUDGET, "algorithm": {"name": "simple_ga"}}, "operators.mate: required by algorithm simple_ga"),
        ({**BUDGET, "algorithm": {"name": "annealing"}}, "algorithm.name: unknown algorithm 'annealing'; known: .*random_search"),
        ({**BUDGET, "space": {"name": "sequential", "min_depth": 4, "max_depth": 2}}, "space.max_depth: 2 < min_depth 4"),
        ({**BUDGET, "operators": {"mutate": {"name": "mut_sequential", "p_lyer": 1}}}, "operators.mutate.p_lyer: unknown parameter"),
        ({**BUDGET, "operators": {"mutate": {"name": "mut_sequential", "probability": 2}}}, r"operators.mutate.probability: must be in \[0, 1\]"),
        ({**BUDGET, "data": {"val_fraction": 1.5}}, "data.val_fraction: must be in"),
        ({**BUDGET, "parallel": {"backend": "mpi"}}, "parallel.backend: must be one of"),
        ({**BUDGET, "parallel": {"workers": 0}}, "parallel.workers: must be >= 1"),
        ({"budget": {}}, "budget: set at least one of"),
        ({}, "budget: missing"),
        ({"budget": {"evaluations": 0}}, "budget.evaluations: must be >= 1"),
        ({**BUDGET, "final_training": {"training": {"optimizer": "rmsprop"}}}, "final_training.training.optimizer"),
        ([1, 2], "a config is a mapping"),
    ],
)
def test_bad_configs_name_the_field(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_quick_config_loads_and_round_trips():
    config = load_config(QUICK)
    assert config.algorithm.name == "random_search"
    again = parse_config(config.to_dict())
    assert again.to_dict() == config.to_dict()
    assert again.fingerprint() == config.fingerprint()


def test_fingerprint_ignores_budget_parallel_and_output_only():
    a = parse_config({"budget": {"evaluations": 10}})
    b = parse_config({"budget": {"evaluations": 99}, "parallel": {"workers": 4}, "output": {"dir": "x"}})
    c = parse_config({"budget": {"evaluations": 10}, "training": {"epochs": 3}})
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


@pytest.mark.parametrize("section,key,value,extra", [
    ("data", "mini_file", "mini.npz", {"train_subset": 10, "val_per_class": 5}), ("training", "score", "last", {}),
    ("final_training", "sort", "ratio", {}), ("final_training", "source", "found", {}),
    ("training", "drop_path", 0.1, {}), ("final_training", "rank_by", "best", {}),
])
def test_later_fields_appear_only_when_set(section, key, value, extra):
    """Fields added after runs existed stay out of config.yaml / the fingerprint at their
    default (an older run directory still resumes), and count once set."""
    from deap_nas.runtime.config import LATER_FIELDS

    plain = parse_config({"budget": {"evaluations": 10}})
    assert key in LATER_FIELDS[section] and key not in plain.to_dict()[section]
    changed = parse_config({"budget": {"evaluations": 10}, section: {key: value, **extra}})
    assert changed.to_dict()[section][key] == value
    assert changed.fingerprint() != plain.fingerprint()
    assert parse_config(changed.to_dict()).to_dict() == changed.to_dict()


def test_set_overrides_parse_yaml_values(tmp_path):
    data = apply_overrides({"training": {"epochs": 1}}, ["training.epochs=4", "data.train_subset=0.5", "space.name=sequential"])
    assert data == {"training": {"epochs": 4}, "data": {"train_subset": 0.5}, "space": {"name": "sequential"}}
    with pytest.raises(ConfigError, match="expected key.path=value"):
        apply_overrides({}, ["training.epochs"])
    config = load_config(QUICK, ["algorithm.population_size=3"])
    assert config.algorithm.params.population_size == 3
    # an int stays an int in a float | int field (a per-class count, not a fraction)
    assert load_config(QUICK, ["data.train_subset=20"]).data.train_subset == 20


def test_missing_and_malformed_config_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_relative_data_root_resolves_against_the_config_file(tmp_path, monkeypatch):
    """A config's relative data.root means the same folder from any working directory;
    a --set value is relative to the working directory; the run keeps the absolute path."""
    import yaml

    from deap_nas.studies.base import load_study_config

    folder = tmp_path / "configs"
    folder.mkdir()
    cfg = folder / "c.yaml"
    cfg.write_text(yaml.safe_dump({**BUDGET, "data": {"name": "mnist", "root": "../data"}}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_config(cfg).data.root == str(tmp_path / "configs" / ".." / "data")
    assert load_config(cfg, ["data.root=mine"]).data.root == str(elsewhere / "mine")
    assert load_config(cfg, [f"data.root={tmp_path}"]).data.root == str(tmp_path)
    assert load_config(cfg, ["data.root=~/d"]).data.root == str(Path("~/d").expanduser())
    study = folder / "s.yaml"
    study.write_text(yaml.safe_dump({"study": "locality", "base": "c.yaml"}))
    mapping = load_study_config(study).run
    assert Path(mapping["data"]["root"]) == tmp_path / "configs" / ".." / "data"
    study.write_text(yaml.safe_dump({"study": "locality", "base": "c.yaml", "run": {"data": {"root": "x"}}}))
    assert load_study_config(study).run["data"]["root"] == str(folder / "x")


def test_missing_data_root_is_reported_before_a_run_directory_exists(tmp_path):
    from deap_nas.evaluation import DatasetNotFoundError
    from deap_nas.runtime.search import start_run

    config = load_config(QUICK, ["data.name=mnist", f"data.root={tmp_path / 'empty'}"])
    with pytest.raises(DatasetNotFoundError, match="empty"):
        start_run(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_cli_run_exits_2_on_a_bad_config(capsys, tmp_path):
    from deap_nas.cli import main

    assert main(["run", QUICK, "--set", "algorithm.population_size=0", "--run-dir", str(tmp_path / "r")]) == 2
    assert "algorithm.population_size: must be >= 1" in capsys.readouterr().err


# ------------------------------------------------------------------------ space and ops


@pytest.fixture
def space():
    return SequentialSpace(SequentialParams(min_depth=2, max_depth=5, stem_channels=8, max_channels=32))


def test_sequential_space_is_torch_free():
    import subprocess

    code = "import sys, deap_nas.spaces, deap_nas.ops, deap_nas.algorithms; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_random_individuals_respect_depth_and_decode(space):
    rng = random.Random(0)
    for _ in range(50):
        ind = space.random_individual(rng)
        assert 2 <= len(ind) <= 5
        arch = space.decode(ind)
        assert len(arch) == len(ind) + 1  # the stem
        shapes = arch.shapes((1, 28, 28))
        assert max(s[0] for s in shapes.values()) <= 32  # max_channels caps widening
        assert space.from_json(json.loads(json.dumps(space.to_json(ind)))) == ind


def test_decode_follows_the_genes(space):
    genome = space.from_json(
        [{"op": "conv", "kernel": 5, "bn": True, "relu": False}, {"op": "pool", "type": "avg", "kernel": 3, "mult": 2.0}]
    )
    arch = space.decode(genome)
    assert [n.op for n in arch.nodes] == ["conv", "conv", "pool"]
    assert arch.nodes[1].params == {"kernel": 5, "bn": True, "act": None}
    assert arch.output_shape((1, 28, 28)) == (16, 14, 14)


def test_operators_use_the_given_rng_only(space):
    ind = space.random_individual(random.Random(1))
    random.seed(123)
    before = random.getstate()
    mut_sequential(ind, space, rng=random.Random(5))
    assert random.getstate() == before


def test_mut_layer_changes_at_most_one_gene(space):
    rng = random.Random(2)
    for _ in range(30):
        ind = space.random_individual(rng)
        old = list(ind)
        (out,) = mut_layer(ind, space, rng=rng)
        assert out is ind and len(ind) == len(old)
        assert sum(a != b for a, b in zip(old, ind, strict=True)) <= 1


def test_insert_and_delete_respect_depth_bounds(space):
    rng = random.Random(3)
    ind = space.random_individual(rng)
    for _ in range(10):
        mut_insert(ind, space, rng=rng)
    assert len(ind) == 5
    for _ in range(10):
        mut_delete(ind, space, rng=rng)
    assert len(ind) == 2


def test_one_point_crossover_conserves_genes_and_bounds(space):
    rng = random.Random(4)
    for _ in range(30):
        a, b = space.random_individual(rng), space.random_individual(rng)
        pool = Counter(json.dumps(g, sort_keys=True) for g in [*a, *b])
        cx_one_point(a, b, space, rng=rng)
        assert 2 <= len(a) <= 5 and 2 <= len(b) <= 5
        assert Counter(json.dumps(g, sort_keys=True) for g in [*a, *b]) == pool


def test_mut_sequential_rejects_bad_weights(space):
    with pytest.raises(ValueError, match="weights must be >= 0"):
        mut_sequential(space.random_individual(), space, p_layer=0, p_insert=0, p_delete=0)


# ---------------------------------------------------------------------------- algorithms


def plain_toolbox(space):
    from deap_nas.ops import registry  # noqa: F401

    tb = base.Toolbox()
    tb.register("individual", space.random_individual)
    tb.register("population", tools.initRepeat, list, tb.individual)
    tb.register("evaluate", lambda ind: (sum(g.get("kernel", 0) for g in ind) / 40.0,))
    tb.register("mutate", mut_sequential, space=space)
    tb.register("mate", cx_one_point, space=space)
    return tb


def test_random_search_meets_the_evaluation_budget_exactly(space):
    random.seed(0)
    control = SearchControl(Budget(evaluations=23))
    state = random_search(plain_toolbox(space), control, population_size=5)
    assert control.usage.evaluations == 23
    assert [r["nevals"] for r in state.logbook] == [5, 5, 5, 5, 3]
    assert control.reason == "evaluation budget reached (23 >= 23)"


def test_simple_ga_with_plain_deap_toolbox_improves_and_keeps_elites(space):
    random.seed(1)
    control = SearchControl(Budget(generations=8))
    state = simple_ga(plain_toolbox(space), control, population_size=8, tournament_size=3, elites=1)
    bests = [r["best"] for r in state.logbook]
    assert len(bests) == 8 and control.reason.startswith("generation budget reached")
    assert all(b2 >= b1 for b1, b2 in zip(bests, bests[1:], strict=False))  # elitism: never worse
    assert state.hall_of_fame[0].fitness.values[0] == max(bests)


def test_budget_validation_and_wall_clock_stop():
    with pytest.raises(ValueError, match="set at least one"):
        Budget()
    control = SearchControl(Budget(hours=1.0))
    control.usage.seconds = 3601
    assert control.stop_reason().startswith("wall-clock budget reached")
    control = SearchControl(Budget(device_hours=0.5))
    control.evaluated(3, device_seconds=1800)
    assert control.stop_reason().startswith("device-hour budget reached")


# ----------------------------------------------------------------------------- evaluator


def fake_run_task(calls):
    def run(task: EvalTask):
        calls.append(task)
        if task.architecture["nodes"][1]["op"] == "identity":
            return {"eval_id": task.eval_id, "status": "crashed", "message": "boom", "accuracy": None, "time_total": 1.0}
        acc = (int(task.arch_hash[:4], 16) % 1000) / 1000 + task.repeat / 1e4
        return {"eval_id": task.eval_id, "status": "ok", "message": "", "accuracy": acc, "params": 10, "time_total": 1.0}

    return run


def genome(space, *ops):
    genes = []
    for op in ops:
        genes.append({"op": "identity"} if op == "identity" else {"op": "conv", "kernel": op, "bn": True, "relu": True})
    return space.from_json(genes)


def test_evaluator_cache_repeats_journal_and_failures(space, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("deap_nas.runtime.evaluator.run_task", fake_run_task(calls))
    journal = tmp_path / "journal.jsonl"
    ev = Evaluator(space, {}, run_seed=7, journal_path=journal, repeats=2, penalty=-1.0)
    a, a_twin, b, bad = genome(space, 3, 5), genome(space, 3, 5), genome(space, 5, 3), genome(space, "identity", 3)
    control = SearchControl(Budget(evaluations=100))
    ev.evaluate_population([a, a_twin, b, bad], generation=1, control=control)
    # a's twin in the same batch is not trained again; two repeats per trained candidate
    assert len(calls) == 6
    seeds = {(t.arch_hash, t.repeat): t.seed for t in calls}
    assert seeds[(calls[0].arch_hash, 0)] != seeds[(calls[0].arch_hash, 1)]
    assert calls[0].seed == derive_seed(7, calls[0].arch_hash, 0)
    assert a.fitness.values == a_twin.fitness.values
    assert a.fitness.values[0] == pytest.approx(sum(acc for acc in [(int(calls[0].arch_hash[:4], 16) % 1000) / 1000 + r / 1e4 for r in (0, 1)]) / 2)
    assert a_twin.result["cached"] and not a.result["cached"]
    assert bad.fitness.values == (-1.0,) and bad.result["status"] == "crashed" and bad.result["message"] == "boom"
    assert control.usage.evaluations == 4 and control.usage.trained == 6
    # a later batch with a known architecture is a cache hit: no training
    again = genome(space, 5, 3)
    ev.evaluate_population([again], generation=2)
    assert len(calls) == 6 and again.result["cached"] and again.fitness.values == b.fitness.values
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert sorted(r["eval_id"] for r in records) == list(range(len(records)))
    assert Counter(r["cached"] for r in records) == Counter({False: 6, True: 2})


def test_evaluator_without_cache_gives_new_seeds_to_a_repeated_architecture(space, monkeypatch):
    calls = []
    monkeypatch.setattr("deap_nas.runtime.evaluator.run_task", fake_run_task(calls))
    ev = Evaluator(space, {}, run_seed=0, cache=False)
    ev.evaluate_population([genome(space, 3, 3)])
    ev.evaluate_population([genome(space, 3, 3)])
    assert [t.repeat for t in calls] == [0, 1] and calls[0].seed != calls[1].seed


def test_fail_fast_stops_naming_the_candidate(space, monkeypatch):
    monkeypatch.setattr("deap_nas.runtime.evaluator.run_task", fake_run_task([]))
    ev = Evaluator(space, {}, run_seed=0, fail_fast=True)
    with pytest.raises(EvaluationFailed, match=r"evaluation 1 \(architecture \w+, generation 3\) crashed: boom"):
        ev.evaluate_population([genome(space, 3, 3), genome(space, "identity", 5)], generation=3)


def test_restore_reuses_journal_records_after_the_snapshot(space, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("deap_nas.runtime.evaluator.run_task", fake_run_task(calls))
    first = Evaluator(space, {}, run_seed=0, journal_path=tmp_path / "j.jsonl")
    first.evaluate_population([genome(space, 3, 3), genome(space, 5, 5)])
    journal = [json.loads(x) for x in (tmp_path / "j.jsonl").read_text().splitlines()]
    resumed = Evaluator(space, {}, run_seed=0, journal_path=tmp_path / "k.jsonl")
    resumed.restore({"next_eval_id": 1}, journal)  # snapshot taken after eval 0
    assert resumed.cache.lookup(journal[0]["arch_hash"]) == [journal[0]]
    assert resumed.cache.lookup(journal[1]["arch_hash"]) is None
    ind = genome(space, 5, 5)
    calls.clear()
    resumed.evaluate_population([ind])
    assert calls == []  # eval 1 came back from the journal, not trained again
    assert ind.fitness.values[0] == journal[1]["accuracy"]


# ------------------------------------------------------------- a real crash inside training


def test_a_candidate_that_raises_in_training_gets_status_crashed():
    from torch import nn

    from deap_nas.arch import OPS, OpSpec, register_op, sequential
    from deap_nas.nn import MODULES, register_module

    if "explode" not in OPS:

        @register_op
        class Explode(OpSpec):
            name = "explode"
            defaults = {}

            def out_shape(self, s, p):
                return s

            def num_params(self, s, p):
                return 0

    if "explode" not in MODULES:

        class Boom(nn.Module):
            def forward(self, x):
                raise RuntimeError("kaboom in forward")

        register_module("explode")(lambda s, p: Boom())

    arch = sequential([("conv", {"channels": 4}), "explode"])
    context = {
        "data": {"name": "fashion_mnist_mini", "val_fraction": 0.1, "train_subset": 5},
        "training": {"epochs": 1},
        "head": "gap_linear",
        "device": "cpu",
        "data_seed": 0,
    }
    rec = run_task(EvalTask(0, arch.hash(), 0, 1, arch.to_dict(), context))
    assert rec["status"] == "crashed" and "kaboom in forward" in rec["message"]
    OPS.pop("explode")
    MODULES.pop("explode")


def test_progress_line_shows_a_dash_for_a_missing_accuracy():
    import math

    from deap_nas.runtime.progress import _acc

    assert _acc(0.123456) == "0.1235"
    assert _acc(math.nan) == _acc(None) == _acc("x") == "-"
