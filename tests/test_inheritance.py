"""Weight inheritance (ImmuNeCS sec. 3.4): children start from their parent's saved weights
except the layers the mutation changed (and those whose shapes changed), which get the He
initialisation a from-scratch run with the same seed would get."""

import json
import random

import pytest
import torch

from deap_nas.arch import sequential
from deap_nas.evaluation.config import TrainConfig
from deap_nas.evaluation.task import prepare_data, train_architecture
from deap_nas.nn import build
from deap_nas.ops import augment, clone_population, mark_inheritance, random_insertion
from deap_nas.runtime.evaluator import Evaluator
from deap_nas.runtime.parallel import ParallelMap
from deap_nas.runtime.snapshot import individual_from_dict, individual_to_dict
from deap_nas.runtime.worker import EvalTask, inherited_init_state, run_task
from deap_nas.spaces import ImmuneFashionParams, ImmuneFashionSpace

HEAD = "gap_linear"
DATA = {"name": "fashion_mnist_mini", "val_fraction": 0.1, "train_subset": 8, "val_subset": 4}
CONTEXT = {"data": DATA, "training": {"epochs": 1}, "head": HEAD, "device": "cpu", "threads": 1, "data_seed": 0}


def conv(channels=8, kernel=3, act="relu"):
    return ("conv", {"channels": channels, "kernel": kernel, "bn": True, "act": act})


PARENT = sequential([conv(), conv(), conv()])


@pytest.fixture(scope="module")
def data():
    return prepare_data("fashion_mnist_mini", val_fraction=0.1, train_subset=8, val_subset=4, seed=0)


@pytest.fixture(scope="module")
def parent_path(data, tmp_path_factory):
    cfg = TrainConfig.from_dict({"epochs": 1, "keep_best_state": True})
    result = train_architecture(PARENT, data, cfg, head=HEAD, seed=3)
    assert result.ok and result.best_state is not None
    path = tmp_path_factory.mktemp("parent") / "parent.pt"
    torch.save(result.best_state, path)
    return path


def by_node(state, node_id):
    return {k: v for k, v in state.items() if k.startswith(f"nodes.n{node_id}_")}


def scratch_state(arch, data, seed):
    torch.manual_seed(seed)
    return build(arch, data.input_shape, data.num_classes, HEAD).state_dict()


def assert_same(a, b):
    assert a.keys() == b.keys() and a
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ------------------------------------------------------------------------------ unit


def test_appended_layer_inherits_every_parent_node(data, parent_path, monkeypatch):
    child = sequential([conv(), conv(), conv(), conv()])  # parent + one appended layer
    parent = torch.load(parent_path, weights_only=True)
    state, report = inherited_init_state(child, data, HEAD, 11, parent_path, exclude=[3])
    assert report.copied == [0, 1, 2] and report.skipped == {3: "changed by the mutation"}
    assert report.head_copied
    fresh = scratch_state(child, data, 11)
    for i in (0, 1, 2):
        assert_same(by_node(state, i), by_node(parent, i))
        assert not all(torch.equal(state[k], fresh[k]) for k in by_node(state, i))
    assert_same(by_node(state, 3), by_node(fresh, 3))  # He init of a from-scratch run, same seed
    assert_same({k: v for k, v in state.items() if k.startswith("head.")},
                {k: v for k, v in parent.items() if k.startswith("head.")})

    # run_task trains from exactly that state
    import deap_nas.evaluation.task as task_module

    seen = {}
    real = task_module.train_architecture

    def spy(*args, **kwargs):
        seen["init"] = {k: v.clone() for k, v in kwargs["init_state"].items()}
        return real(*args, **kwargs)

    monkeypatch.setattr(task_module, "train_architecture", spy)
    task = EvalTask(0, child.hash(), 0, 11, child.to_dict(), CONTEXT, init_weights=str(parent_path),
                    extra={"exclude": [3]})
    rec = run_task(task)
    assert rec["status"] == "ok", rec["message"]
    assert rec["inherited"]["copied"] == [0, 1, 2]
    assert rec["inherited"]["skipped"] == {"3": "changed by the mutation"}
    assert_same(seen["init"], state)
    json.dumps(rec)  # journal-safe


def test_mutated_clone_reinitialises_changed_and_reshaped_nodes(data, parent_path):
    parent = torch.load(parent_path, weights_only=True)
    # node 2 lost its activation (same shapes): re-initialised only because it is excluded
    child = sequential([conv(), conv(), conv(act=None)])
    state, report = inherited_init_state(child, data, HEAD, 5, parent_path, exclude=[2])
    assert report.copied == [0, 1] and report.skipped == {2: "changed by the mutation"}
    fresh = scratch_state(child, data, 5)
    assert_same(by_node(state, 2), by_node(fresh, 2))
    for i in (0, 1):
        assert_same(by_node(state, i), by_node(parent, i))

    # node 1 widened: node 1 is excluded, node 2 reads more channels (its shapes changed)
    wide = sequential([conv(), conv(channels=16), conv()])
    state, report = inherited_init_state(wide, data, HEAD, 5, parent_path, exclude=[1])
    assert report.copied == [0]
    assert report.skipped[1] == "changed by the mutation" and report.skipped[2].startswith("shape of")
    fresh = scratch_state(wide, data, 5)
    for i in (1, 2):
        assert_same(by_node(state, i), by_node(fresh, i))
    assert_same(by_node(state, 0), by_node(parent, 0))


def test_missing_parent_file_trains_from_scratch(tmp_path):
    arch = sequential([conv(), conv()])
    task = EvalTask(0, arch.hash(), 0, 1, arch.to_dict(), CONTEXT, init_weights=str(tmp_path / "gone.pt"),
                    extra={"exclude": []})
    rec = run_task(task)
    assert rec["status"] == "ok" and rec["accuracy"] is not None
    assert rec["inherited"] is None and "trained from scratch" in rec["inherit_note"]
    assert "gone.pt" in rec["inherit_note"]


# -------------------------------------------------------------------- operators and snapshots


def fashion_space():
    return ImmuneFashionSpace(ImmuneFashionParams(stem_channels=8))


def conv_gene():
    return {"op": 0.1, "hp": [0.4, 0.1, 0.1]}  # conv, kernel 3, bn, relu


def test_mark_inheritance_and_no_stale_marks():
    space = fashion_space()
    parent = space.from_json([conv_gene(), conv_gene()])
    parent.fitness.values = (0.5,)
    parent.result = {"status": "ok", "weights": "weights/000004.pt"}
    (clone,) = clone_population([parent], n_c=1)
    assert getattr(clone, "inherit_from", None) is None
    assert mark_inheritance(clone, parent) == "weights/000004.pt"
    assert clone.inherit_from == "weights/000004.pt" and clone.changed_layers == []
    # a copy of a marked individual does not keep its mark
    assert getattr(augment(clone, space, rng=random.Random(0)), "inherit_from", None) is None
    assert getattr(clone_population([clone], n_c=1)[0], "inherit_from", None) is None
    assert all(getattr(i, "inherit_from", None) is None for i in random_insertion([clone], 2, space=space))
    # parents without weights: the child trains from scratch, and says why
    for result, why in [({"status": "ok", "weights": None}, "no saved weights"),
                        ({"status": "crashed", "weights": None}, "crashed"), (None, "not evaluated")]:
        orphan = space.from_json([conv_gene()])
        if result is not None:
            orphan.result = result
        child = augment(orphan, space, rng=random.Random(1))
        assert mark_inheritance(child, orphan) is None
        assert why in child.inherit_note and child.changed_layers == [2]


def test_snapshot_keeps_inheritance_marks():
    space = fashion_space()
    ind = space.from_json([conv_gene(), conv_gene()])
    ind.inherit_from, ind.changed_layers = "weights/000002.pt", [2]
    back = individual_from_dict(json.loads(json.dumps(individual_to_dict(ind, space))), space)
    assert back.inherit_from == "weights/000002.pt" and back.changed_layers == [2]
    assert not back.fitness.valid
    ind2 = space.from_json([conv_gene()])
    ind2.inherit_from, ind2.inherit_note, ind2.changed_layers = None, "parent evaluation crashed", [1]
    back = individual_from_dict(json.loads(json.dumps(individual_to_dict(ind2, space))), space)
    assert back.inherit_note == "parent evaluation crashed" and back.changed_layers == [1]


# ------------------------------------------------------------------------- through the evaluator


def read_journal(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_evaluator_child_inherits_across_processes(tmp_path):
    space = fashion_space()
    context = {**CONTEXT, "head": space.default_head}
    journal = tmp_path / "journal.jsonl"
    ev = Evaluator(space, context, run_seed=0, journal_path=journal, weights_dir=tmp_path / "weights")
    parent = space.from_json([conv_gene(), conv_gene()])
    ev.evaluate_population([parent], generation=0)
    assert parent.result["status"] == "ok", parent.result["message"]
    assert parent.result["weights"] == "weights/000000.pt" and (tmp_path / parent.result["weights"]).is_file()
    assert "inherited" not in read_journal(journal)[0]  # nothing asked, nothing recorded

    child = augment(parent, space, rng=random.Random(0))
    child[-1] = conv_gene()  # keep the new layer a conv (any layer would do)
    mark_inheritance(child, parent)
    orphan = augment(parent, space, rng=random.Random(0))
    orphan[-1] = {"op": 0.1, "hp": [0.9, 0.1, 0.1]}  # conv, kernel 7
    orphan.inherit_from, orphan.changed_layers = "weights/999999.pt", [3]  # file missing
    pool = ParallelMap("process", 2)
    try:
        ev.map_fn = pool
        ev.evaluate_population([child, orphan], generation=1)
    finally:
        pool.close()
    recs = {r["eval_id"]: r for r in read_journal(journal)}
    rec, lost = recs[1], recs[2]
    assert rec["status"] == "ok" and rec["worker"] != recs[0]["worker"]  # another process
    assert rec["inherit_from"] == "weights/000000.pt" and rec["changed_layers"] == [3]
    assert rec["inherited"]["copied"] == [0, 1, 2]
    assert rec["inherited"]["skipped"] == {"3": "changed by the mutation"}
    assert lost["status"] == "ok" and lost["inherited"] is None and "999999.pt" in lost["inherit_note"]
    # consumed: a clone of the child does not inherit from the grandparent
    assert not hasattr(child, "inherit_from") and child.result["inherit_from"] == "weights/000000.pt"
    assert child.result["inherited"]["copied"] == [0, 1, 2]

    # a parent without saved weights: scratch training, the record says why
    no_weights = Evaluator(space, context, run_seed=0, journal_path=tmp_path / "j2.jsonl")
    kid = augment(parent, space, rng=random.Random(0))
    kid[-1] = {"op": 0.1, "hp": [0.0, 0.1, 0.1]}  # conv, kernel 1
    parent_without = space.from_json(space.to_json(parent))
    parent_without.result = {**parent.result, "weights": None}
    mark_inheritance(kid, parent_without)
    no_weights.evaluate_population([kid])
    (r,) = read_journal(tmp_path / "j2.jsonl")
    assert r["status"] == "ok" and r["inherited"] is None and "no saved weights" in r["inherit_note"]
    assert r["inherit_from"] is None and r["changed_layers"] == [3]
