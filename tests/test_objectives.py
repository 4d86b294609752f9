"""The ``objectives:`` section, objective vectors, hard constraints and the measured fields
of a worker's record (docs/objectives.md); single-objective configs and records unchanged."""

import hashlib
import json

import pytest

from deap_nas.arch import sequential
from deap_nas.evaluation.objectives import (
    constraint_status,
    objective_vector,
    parse_objectives,
    weights,
)
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.schema import ConfigError

BASE = {"space": {"name": "sequential"}, "budget": {"evaluations": 4},
        "evaluation": {"trainer": "deap_nas.testing:fake_trainer"}}
MO = [{"name": "accuracy"}, {"name": "params", "max": 1000000}, {"name": "macs", "reference": 5e7},
      {"name": "latency", "batch_size": 1, "warmup": 3, "repeats": 10, "reference": 0.05}]


def test_a_config_without_objectives_dumps_and_hashes_as_before():
    config = parse_config(BASE)
    assert config.objectives == () and "objectives" not in config.to_dict()
    # values computed by the version before the section existed
    assert config.fingerprint() == "41ae8e5e543baee5"
    assert hashlib.sha256(config.to_yaml().encode()).hexdigest()[:16] == "e1663d9b677a5a43"


def test_the_section_round_trips_and_changes_the_fingerprint():
    config = parse_config({**BASE, "objectives": MO})
    assert [o.name for o in config.objectives] == ["accuracy", "params", "macs", "latency"]
    assert config.objectives[1].max == 1000000
    again = parse_config(config.to_dict())
    assert again.objectives == config.objectives and again.fingerprint() == config.fingerprint()
    assert config.fingerprint() != parse_config(BASE).fingerprint()
    assert weights(config.objectives) == (1.0, -1.0, -1.0, -1.0)
    short = parse_config({**BASE, "objectives": ["accuracy", {"name": "macs", "max": 1e6}]})
    assert short.to_dict()["objectives"] == [{"name": "accuracy"}, {"name": "macs", "max": 1e6}]
    assert [o.axis().reference for o in short.objectives] == [0.0, 1e6]  # max stands in for the reference


@pytest.mark.parametrize("objectives, message", [
    ({"name": "accuracy"}, "objectives: expected a list"),
    ([{"name": "accuracy"}, {"name": "flops"}], r"objectives\[1\]\.name: unknown objective 'flops'; known: accuracy"),
    ([{"name": "accuracy"}, {"name": "macs", "max": 9}, {"name": "macs", "max": 9}],
     r"objectives\[2\]: objective macs is listed twice"),
    ([{"name": "accuracy"}, {"name": "macs"}], r"objectives\[1\]\.reference: give the hypervolume reference point "
                                               "of macs"),
    ([{"name": "accuracy", "reference": 1.5}, {"name": "macs", "max": 9}],
     r"objectives\[0\]\.reference: must lie below the ideal 1.0 of accuracy, got 1.5"),
    ([{"name": "accuracy"}, {"name": "params", "reference": -1}],
     r"objectives\[1\]\.reference: must lie above the ideal 0.0 of params"),
    ([{"name": "params", "max": 9}, {"name": "macs", "max": 9}], "objectives: list accuracy among the objectives"),
    ([{"name": "accuracy"}], "objectives: give at least two objectives"),
    ([{"name": "accuracy"}, {"name": "params", "max": -5}], r"objectives\[1\]\.max: must be > 0"),
    ([{"name": "accuracy"}, {"name": "params", "max": "many"}], r"objectives\[1\]\.max: must be a finite number"),
    ([{"name": "accuracy"}, {"name": "latency", "max": 0.01}], r"objectives\[1\]\.max: objective latency is known "
                                                               "only measured"),
    ([{"name": "accuracy", "min": 0.5}, {"name": "macs", "max": 9}],
     r"objectives\[0\]\.min: unknown key of objective accuracy"),
    ([{"name": "accuracy"}, {"name": "latency", "repeats": 0, "reference": 1}], r"objectives\[1\]\.repeats: must be an integer in"),
    ([{"name": "accuracy"}, {"name": "latency", "batch_size": 1.5, "reference": 1}], r"objectives\[1\]\.batch_size: must be an"),
    ([{"name": "accuracy"}, 7], r"objectives\[1\]: expected a mapping"),
])  # fmt: skip
def test_bad_sections_are_one_line_errors(objectives, message):
    with pytest.raises(ConfigError, match=message) as e:
        parse_config({**BASE, "objectives": objectives})
    assert "\n" not in str(e.value)


def test_peak_memory_is_refused_on_the_cpu():
    objectives = [{"name": "accuracy"}, {"name": "peak_memory", "reference": 2e9}]
    with pytest.raises(ConfigError, match=r"objectives\[1\]: peak_memory is reported by CUDA devices only"):
        parse_config({**BASE, "objectives": objectives, "parallel": {"device": "cpu"}})
    assert parse_config({**BASE, "objectives": objectives}).objectives[1].name == "peak_memory"  # device auto


def test_objective_vector_and_constraints():
    objs = parse_objectives(MO)
    rec = {"eval_id": 3, "status": "ok", "accuracy": 0.8, "params": 1200, "macs": 50000, "latency": 0.002}
    assert objective_vector(rec, objs) == (0.8, 1200.0, 50000.0, 0.002)
    with pytest.raises(ValueError, match="evaluation 3: no latency in the record"):
        objective_vector({**rec, "latency": None}, objs)
    with pytest.raises(ValueError, match="evaluation 3: status constraint has no objective vector"):
        objective_vector({**rec, "status": "constraint"}, objs)
    assert constraint_status({"params": 1000000, "macs": 10**9}, objs) is None
    status, message = constraint_status({"params": 1000001, "macs": 10}, objs)
    assert status == "constraint" and message == "params 1000001 > max 1000000 (objective params)"
    capped = parse_objectives([{"name": "accuracy"}, {"name": "macs", "max": 2.5e6}])
    assert constraint_status({"params": 1, "macs": 2500001}, capped)[1] == "macs 2500001 > max 2500000 (objective macs)"


# ------------------------------------------------------------------------- worker records

DATA = {"name": "fashion_mnist_mini", "val_fraction": 0.1, "train_subset": 4, "val_subset": 2}
CONTEXT = {"data": DATA, "training": {"epochs": 1, "max_iterations": 1, "batch_size": 8}, "head": "gap_linear",
           "device": "cpu", "threads": 1, "data_seed": 0}
ARCH = sequential([("conv", {"channels": 4, "kernel": 3}), ("pool", {})])
#: the fields of a training's record as the version before objectives wrote them
RECORD_KEYS = {"eval_id", "status", "message", "accuracy", "params", "best_epoch", "epochs", "iterations",
               "time_build", "time_train", "time_eval", "time_total", "images_per_sec", "device", "worker",
               "weights", "history"}


def _run(context):
    from deap_nas.runtime.worker import EvalTask, run_task

    return run_task(EvalTask(0, ARCH.hash(), 0, 1, ARCH.to_dict(), context))


def test_records_carry_objective_fields_only_when_asked():
    plain = _run(CONTEXT)
    assert plain["status"] == "ok", plain["message"]
    assert set(plain) == RECORD_KEYS  # single-objective records: main's format

    objectives = [{"name": "accuracy"}, {"name": "macs", "reference": 1e6},
                  {"name": "latency", "warmup": 0, "repeats": 2, "reference": 1.0}]
    rec = _run({**CONTEXT, "objectives": objectives})
    assert rec["status"] == "ok", rec["message"]
    assert set(rec) == RECORD_KEYS | {"macs", "latency"}
    assert rec["macs"] == ARCH.macs((1, 28, 28), 10, "gap_linear") == 28 * 28 * 4 * 9 + 40
    assert rec["latency"] > 0
    same = [{k: v for k, v in h.items() if k != "seconds"} for h in (rec["history"] + plain["history"])]
    assert same[0] == same[1] and rec["accuracy"] == plain["accuracy"]  # the same training
    json.dumps(rec)


def test_a_broken_constraint_is_a_status_without_training():
    objectives = [{"name": "accuracy"}, {"name": "macs", "max": 1000}]
    rec = _run({**CONTEXT, "objectives": objectives})
    assert rec["status"] == "constraint" and rec["accuracy"] is None
    assert rec["message"] == "macs 28264 > max 1000 (objective macs)"
    assert rec["epochs"] == 0 and rec["iterations"] == 0 and rec["macs"] == 28264
