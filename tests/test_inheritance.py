"""Weight inheritance (ImmuNeCS sec. 3.4): children start from their parent's saved weights
except the layers the mutation changed (and those whose shapes changed), which get the He
initialisation a from-scratch run with the same seed would get."""

import json
import random

import pytest
import torch

from deap_nas.arch import sequential
from deap_nas.evaluation.config import TrainConfig
from deap_nas.evaluation.request import EvalRequest, Start
from deap_nas.evaluation.task import prepare_data, train_architecture
from deap_nas.nn import build
from deap_nas.ops import augment, clone_population, inheritance_request
from deap_nas.runtime.evaluator import Evaluator
from deap_nas.runtime.parallel import ParallelMap
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
    req = EvalRequest(start=Start("inherit", weights=str(parent_path), reinit=(3,)), arch_hash=child.hash())
    task = EvalTask(0, child.hash(), 0, 11, child.to_dict(), CONTEXT, request=req.to_dict())
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
    req = EvalRequest(start=Start("inherit", weights=str(tmp_path / "gone.pt")), arch_hash=arch.hash())
    task = EvalTask(0, arch.hash(), 0, 1, arch.to_dict(), CONTEXT, request=req.to_dict())
    rec = run_task(task)
    assert rec["status"] == "ok" and rec["accuracy"] is not None
    assert rec["inherited"] is None and "trained from scratch" in rec["inherit_note"]
    assert "gone.pt" in rec["inherit_note"]


# -------------------------------------------------------------------- operators and snapshots


def fashion_space():
    return ImmuneFashionSpace(ImmuneFashionParams(stem_channels=8))


def conv_gene():
    return {"op": 0.1, "hp": [0.4, 0.1, 0.1]}  # conv, kernel 3, bn, relu


def test_inheritance_request_and_no_stale_marks():
    space = fashion_space()
    parent = space.from_json([conv_gene(), conv_gene()])
    parent.fitness.values = (0.5,)
    parent.result = {"status": "ok", "weights": "weights/000004.pt"}
    (clone,) = clone_population([parent], n_c=1)
    assert not hasattr(clone, "result")  # a copy does not carry its parent's evaluation
    req = inheritance_request(clone, parent)
    assert req.start.kind == "inherit" and req.start.weights == "weights/000004.pt" and req.start.reinit == ()
    child = augment(parent, space, rng=random.Random(0))
    assert child.changed_layers == [3]  # the operator's annotation ...
    assert inheritance_request(child, parent).start.reinit == (3,)
    assert not hasattr(child, "changed_layers")  # ... consumed by the request
    # parents without weights: the child trains from scratch, and the request says why
    for result, why in [({"status": "ok", "weights": None}, "no saved weights"),
                        ({"status": "crashed", "weights": None}, "crashed"), (None, "not evaluated")]:
        orphan = space.from_json([conv_gene()])
        if result is not None:
            orphan.result = result
        req = inheritance_request(augment(orphan, space, rng=random.Random(1)), orphan)
        assert req.start.kind == "scratch" and why in req.start.note


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
    child_req = inheritance_request(child, parent)
    orphan = augment(parent, space, rng=random.Random(0))
    orphan[-1] = {"op": 0.1, "hp": [0.9, 0.1, 0.1]}  # conv, kernel 7
    orphan_req = EvalRequest(start=Start("inherit", weights="weights/999999.pt", reinit=(3,)))  # file missing
    pool = ParallelMap("process", 2)
    try:
        ev.map_fn = pool
        ev.evaluate_population([child, orphan], generation=1, requests=[child_req, orphan_req])
    finally:
        pool.close()
    recs = {r["eval_id"]: r for r in read_journal(journal)}
    rec, lost = recs[1], recs[2]
    assert rec["status"] == "ok" and rec["worker"] != recs[0]["worker"]  # another process
    assert rec["request"]["start"]["weights"] == "weights/000000.pt" and rec["request"]["start"]["reinit"] == [3]
    assert rec["inherited"]["copied"] == [0, 1, 2]
    assert rec["inherited"]["skipped"] == {"3": "changed by the mutation"}
    assert lost["status"] == "ok" and lost["inherited"] is None and "999999.pt" in lost["inherit_note"]
    # nothing is left on the child: a clone of it does not inherit from the grandparent
    assert set(vars(child)) == {"fitness", "result", "parent_affinity"}
    assert child.result["request"]["start"]["weights"] == "weights/000000.pt"
    assert child.result["inherited"]["copied"] == [0, 1, 2]

    # a parent without saved weights: scratch training, the record says why
    no_weights = Evaluator(space, context, run_seed=0, journal_path=tmp_path / "j2.jsonl")
    kid = augment(parent, space, rng=random.Random(0))
    kid[-1] = {"op": 0.1, "hp": [0.0, 0.1, 0.1]}  # conv, kernel 1
    parent_without = space.from_json(space.to_json(parent))
    parent_without.result = {**parent.result, "weights": None}
    no_weights.evaluate_population([kid], requests=[inheritance_request(kid, parent_without)])
    (r,) = read_journal(tmp_path / "j2.jsonl")
    assert r["status"] == "ok" and "no saved weights" in r["inherit_note"]
    assert r["request"]["start"]["kind"] == "scratch"
