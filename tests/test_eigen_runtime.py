"""EIGEN's runtime pieces on CPU with tiny data: staged training (pause at T1, continue to
T3) equals one uninterrupted run; per-individual train_overrides / train_stage through the
evaluator (journal, cache key, consumption, snapshots); the eq. 3 distillation loss by
hand; teacher logits cached per data set; an EIGEN run end to end with mimicry."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch
import yaml

from deap_nas.evaluation import TrainConfig, prepare_data
from deap_nas.evaluation.engine import train
from deap_nas.evaluation.losses import distillation_loss
from deap_nas.evaluation.request import EvalRequest
from deap_nas.nn import build
from deap_nas.ops.eigen import insert_convolution, insert_pooling
from deap_nas.runtime.evaluator import Evaluator
from deap_nas.runtime.snapshot import individual_from_dict, individual_to_dict
from deap_nas.runtime.teacher import resolve_teacher, teacher_kind
from deap_nas.runtime.worker import _Context, teacher_logits_for
from deap_nas.spaces import EigenParams, EigenSpace

from .run_helpers import check, cli, snapshot

SPACE = EigenSpace(EigenParams(input_shape=(1, 28, 28), channel_choices=(4, 8), conv_channels=4))
DATA = {"name": "fashion_mnist_mini", "val_fraction": 0.2, "train_subset": 12, "val_subset": 10}
TRAINING = {"epochs": 50, "batch_size": 16, "lr": 0.1, "schedule": "multistep", "milestones": [2, 3],
            "weight_decay": 5e-4, "deterministic": True, "augment": {"flip": True, "pad": 2}}
CONTEXT = {"data": DATA, "training": TRAINING, "head": "linear", "device": "cpu", "threads": 1, "data_seed": 0}


def small_genome():
    g = SPACE.random_individual()
    rng = random.Random(0)
    insert_convolution(g, SPACE, rng)
    insert_pooling(g, SPACE, rng)
    insert_convolution(g, SPACE, rng)
    return g


@pytest.fixture(scope="module")
def data():
    return prepare_data("fashion_mnist_mini", val_fraction=0.2, train_subset=12, val_subset=10, seed=0)


def test_paused_and_continued_training_equals_one_run(data):
    arch = SPACE.decode(small_genome())
    cfg = TrainConfig(**{**TRAINING, "max_iterations": 26})  # 7 batches per epoch: pauses mid-epoch

    def fresh():
        torch.manual_seed(0)
        return build(arch, data.input_shape, data.num_classes, "linear")

    straight = fresh()
    a = train(straight, data.train, data.val, cfg, seed=3)
    staged = fresh()
    b1 = train(staged, data.train, data.val, cfg, seed=3, stop_iteration=5, keep_train_state=True)
    assert b1.iterations == 5 and "paused" in b1.message and b1.history[-1]["partial"]
    staged = fresh()
    b2 = train(staged, data.train, data.val, cfg, seed=3, resume_state=b1.train_state, stop_iteration=14,
               keep_train_state=True)
    staged = fresh()
    b3 = train(staged, data.train, data.val, cfg, seed=3, resume_state=b2.train_state)
    assert (a.iterations, b2.iterations, b3.iterations) == (26, 14, 26)
    sa, sb = straight.state_dict(), staged.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)  # weights and BN statistics, bit for bit
    full = [h for h in b3.history if not h.get("partial")]
    assert [(h["epoch"], h["train_loss"], h["val_acc"], h["lr"]) for h in full] == [
        (h["epoch"], h["train_loss"], h["val_acc"], h["lr"]) for h in a.history]
    with pytest.raises(ValueError, match="iterations"):  # another horizon: another LR schedule
        train(fresh(), data.train, data.val, TrainConfig(**{**TRAINING, "max_iterations": 30}),
              seed=3, resume_state=b1.train_state)


def test_distillation_loss_equals_a_hand_computation():
    s = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
    t = [[2.0, 1.0, 0.0], [1.0, 1.0, 4.0]]
    y = [1, 2]
    alpha, temp = 0.9, 5.0

    def softmax(v):
        e = [math.exp(x) for x in v]
        return [x / sum(e) for x in e]

    hand = 0.0
    for si, ti, yi in zip(s, t, y, strict=True):
        hard = -math.log(softmax(si)[yi])
        ps, pt = softmax([x / temp for x in si]), softmax([x / temp for x in ti])
        soft = -sum(p * math.log(q) for p, q in zip(pt, ps, strict=True))
        hand += (1 - alpha) * hard + alpha * temp**2 * soft
    hand /= 2
    got = distillation_loss(torch.tensor(s), torch.tensor(y), torch.tensor(t), alpha, temp)
    assert got.item() == pytest.approx(hand, rel=1e-6)


def read(path: Path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_train_overrides_and_stages_through_the_evaluator(tmp_path):
    journal = tmp_path / "journal.jsonl"
    ev = Evaluator(SPACE, dict(CONTEXT), run_seed=0, journal_path=journal, weights_dir=tmp_path / "weights")
    g = small_genome()
    a, b, c = (SPACE.from_json(SPACE.to_json(g)) for _ in range(3))
    three, five = EvalRequest().with_overrides(max_iterations=3), EvalRequest().with_overrides(max_iterations=5)
    ev.evaluate_population([a, b], generation=0, requests=[three, five])
    ev.evaluate_population([c], generation=0, requests=[three])
    r = read(journal)
    assert [x["iterations"] for x in r] == [3, 5, 3]
    assert [x["cached"] for x in r] == [False, False, True]  # 3 != 5 iterations: not reused
    assert r[0]["request"]["overrides"] == {"max_iterations": 3} and r[2]["cached_from"] == [0]
    assert a.result["request"]["overrides"] == {"max_iterations": 3}
    assert set(vars(a)) == {"fitness", "result"}  # nothing else is left on the individual

    # staged (a fresh evaluator: repeat 0, the seed an uninterrupted run gets): pause at 4
    # of 9 iterations, then continue; the state file lies in the run directory
    staged_journal = tmp_path / "staged" / "journal.jsonl"
    ev2 = Evaluator(SPACE, dict(CONTEXT), run_seed=0, journal_path=staged_journal,
                    weights_dir=tmp_path / "staged" / "weights")
    d = SPACE.from_json(SPACE.to_json(g))
    nine = EvalRequest().with_overrides(max_iterations=9)
    ev2.evaluate_population([d], generation=1, requests=[nine.paused_at(4)])
    assert d.result["iterations"] == 4 and d.result["train_state"] == "weights/000000.state.pt"
    assert d.result["role"] == "stage"
    assert (tmp_path / "staged" / d.result["train_state"]).is_file()
    resume = EvalRequest.resumed(d.result["train_state"]).with_overrides(max_iterations=9)
    ev2.evaluate_population([d], generation=1, requests=[resume])
    last = read(staged_journal)[-1]
    assert last["iterations"] == 9 and last["request"]["start"] == {
        "kind": "resume", "weights": None, "reinit": [], "state": "weights/000000.state.pt", "until": None,
        "note": None}
    assert last["train_state"] is None and last["role"] == "continuation"

    # one uninterrupted 9-iteration training ends the same way
    e = SPACE.from_json(SPACE.to_json(g))
    Evaluator(SPACE, dict(CONTEXT), run_seed=0, journal_path=tmp_path / "j3.jsonl").evaluate_population(
        [e], requests=[nine])
    (straight,) = read(tmp_path / "j3.jsonl")
    assert straight["seed"] == read(staged_journal)[0]["seed"]
    final = [h for h in last["history"] if not h.get("partial")]
    assert [(h["epoch"], h["train_loss"], h["val_acc"]) for h in final] == [
        (h["epoch"], h["train_loss"], h["val_acc"]) for h in straight["history"]]
    assert e.fitness.values == d.fitness.values or last["best_epoch"] != straight["best_epoch"]

    with pytest.raises(ValueError, match="overrides"):
        bad = SPACE.from_json(SPACE.to_json(g))
        ev.evaluate_population([bad], requests=[EvalRequest().with_overrides(max_iterations=0)])


def test_snapshot_keeps_an_individuals_own_attributes():
    ind = small_genome()
    ind.birth, ind.history = 3, [0.1, 0.2]
    back = individual_from_dict(json.loads(json.dumps(individual_to_dict(ind, SPACE))), SPACE)
    assert back.birth == 3 and back.history == [0.1, 0.2]


def test_teacher_logits_are_computed_once_and_change_the_training(tmp_path, data):
    arch = SPACE.decode(small_genome())
    torch.manual_seed(0)
    net = build(arch, data.input_shape, data.num_classes, "linear")
    torch.save(net.state_dict(), tmp_path / "t.pt")
    spec = resolve_teacher({"architecture": arch.to_dict(), "weights": "t.pt", "head": "linear"}, tmp_path)
    assert spec["weights"] == str(tmp_path / "t.pt")
    ctx = _Context(CONTEXT)
    first = teacher_logits_for(ctx, spec)
    assert first.shape == (len(ctx.data.train), 10) and teacher_logits_for(ctx, spec) is first
    with torch.no_grad():
        want = net.eval()(ctx.data.train.normalize(ctx.data.train.images[:4]))
    assert torch.allclose(first[:4], want, atol=1e-5)
    for bad, msg in (({}, "exactly one"), ({"committee": "x", "rank": 2}, "rank"), ({"architecture": "a"}, "weights")):
        with pytest.raises(ValueError, match=msg):
            teacher_kind(bad)

    ev_with = Evaluator(SPACE, {**CONTEXT, "teacher": spec}, run_seed=0, journal_path=tmp_path / "with.jsonl")
    ev_without = Evaluator(SPACE, dict(CONTEXT), run_seed=0, journal_path=tmp_path / "without.jsonl")
    x, y = small_genome(), small_genome()
    four = EvalRequest().with_overrides(max_iterations=4)
    ev_with.evaluate_population([x], requests=[four])
    ev_without.evaluate_population([y], requests=[four])
    (rx,), (ry,) = read(tmp_path / "with.jsonl"), read(tmp_path / "without.jsonl")
    assert rx["status"] == ry["status"] == "ok" and rx["seed"] == ry["seed"]
    # recorded relative to the run directory (a moved run keeps its cache keys), trained with it
    assert json.loads(rx["request"]["teacher"]) == {**spec, "weights": "t.pt"} and ry["request"]["teacher"] is None
    assert rx["history"][0]["train_loss"] != ry["history"][0]["train_loss"]  # the eq. 3 loss was used


def test_committee_and_export_teachers(tmp_path, data):
    from deap_nas.evaluation.committee import Committee
    from deap_nas.runtime.teacher import load_teacher, teacher_logits

    arch = SPACE.decode(small_genome())
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        nets.append(build(arch, data.input_shape, data.num_classes, "linear").eval())
    committee = Committee(nets, [0.6, 0.3])
    committee.save(tmp_path / "committee.pt")
    teacher = load_teacher(resolve_teacher({"committee": "committee.pt"}, tmp_path), data.input_shape, 10)
    logits = teacher_logits(teacher, data.train)
    x = data.train.normalize(data.train.images)
    with torch.no_grad():
        assert torch.allclose(torch.softmax(logits, 1), committee(x), atol=1e-5)  # log of the vote

    export = tmp_path / "export"
    export.mkdir()
    (export / "architecture.json").write_text(arch.to_json())
    torch.save(nets[1].state_dict(), export / "model.pt")
    (export / "meta.json").write_text(json.dumps({"head": "linear"}))
    teacher = load_teacher(resolve_teacher({"export": "export"}, tmp_path), data.input_shape, 10)
    with torch.no_grad():
        assert torch.allclose(teacher_logits(teacher, data.train), nets[1](x), atol=1e-5)


def test_configs_parse():
    from deap_nas.runtime.config import load_config

    root = Path(__file__).resolve().parents[1] / "experiments" / "configs"
    paper = load_config(root / "eigen_cifar10.yaml")
    p = paper.algorithm.params
    assert (p.population_size, p.step_size_primary, p.step_size_secondary, p.t1, p.t2, p.t3, p.p, p.q) == (
        10, 100, 10, 5000, 15000, 5000, 5, 2)
    t = paper.training
    assert (t.optimizer, t.lr, t.momentum, t.weight_decay, t.batch_size) == ("sgd", 0.1, 0.9, 5e-4, 128)
    assert (t.distill_alpha, t.distill_temperature) == (0.9, 5.0)
    quick = load_config(root / "eigen_cifar10_quick.yaml")
    assert quick.algorithm.params.mimic_parent and quick.space.name == "eigen"
    off = load_config(root / "eigen_cifar10.yaml", ["algorithm.secondary=false", "algorithm.duplication=false",
                                                     "evaluation.teacher=null"])
    assert not (off.algorithm.params.secondary or off.algorithm.params.duplication)
    # a config without a teacher is written (and fingerprinted) as before mimicry existed
    assert "teacher" not in off.to_dict()["evaluation"]
    taught = load_config(root / "eigen_cifar10.yaml", ["evaluation.teacher={committee: c.pt}"])
    assert taught.to_dict()["evaluation"]["teacher"] == {"committee": "c.pt"}
    assert taught.fingerprint() != paper.fingerprint()


CONFIG = {
    "seed": 0,
    "data": {"name": "fashion_mnist_mini", "train_subset": 10, "val_per_class": 5},
    "space": {"name": "eigen", "input_shape": [1, 28, 28], "max_layers": 4, "channel_choices": [4, 8],
              "conv_channels": 4},
    "algorithm": {"name": "eigen", "population_size": 3, "step_size_primary": 4, "step_size_secondary": 2,
                  "t1": 3, "t2": 3, "t3": 2, "p": 2, "q": 1, "saturation_patience": 1, "duplication_repeats": 1,
                  "mimic_parent": True, "max_generations": 3},
    "operators": {"mutate": {"name": "mut_eigen"}},
    "training": {"epochs": 50, "batch_size": 32, "lr": 0.1, "schedule": "multistep", "milestones": [2],
                 "weight_decay": 5e-4},
    "evaluation": {"save_weights": True},
    "budget": {"generations": 3},
    "parallel": {"threads": 1},
    "output": {"plots": False, "progress": True, "keep_snapshots": 10},
}


def search_state(snap):
    keys = ("generation", "next_eval_id", "population", "hall_of_fame", "logbook", "evaluator", "algorithm")
    return json.dumps({k: snap[k] for k in keys}, sort_keys=True)


@pytest.mark.slow
def test_eigen_run_with_mimicry_resumes_exactly(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    check(cli("run", "c.yaml", "--run-dir", "full", cwd=tmp_path, timeout=600))
    check(cli("run", "c.yaml", "--run-dir", "part", "--set", "budget.generations=1", cwd=tmp_path, timeout=600))
    check(cli("resume", "part", "--set", "budget.generations=3", cwd=tmp_path, timeout=600))
    full, part = snapshot(tmp_path / "full"), snapshot(tmp_path / "part")
    assert search_state(part) == search_state(full)
    records = read(tmp_path / "full" / "journal.jsonl")
    assert any(r["request"]["teacher"] for r in records)  # mimicry: the parent taught its children
    assert any(r["request"]["start"]["kind"] == "resume" for r in records)  # extinction stages
    assert any(r["role"] == "stage" for r in records)
    assert full["logbook"][0]["phase"] == "start"
    # a finished run's best model can teach another run
    from deap_nas.runtime.teacher import load_teacher

    net = load_teacher(resolve_teacher({"run": "full"}, tmp_path), (1, 28, 28), 10)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    # final training with mimicry (Table 5): the run's best model teaches the retraining
    r = cli("train-final", "full", "--epochs", "1", "--device", "cpu", "--set", "final_training.teacher.run=full",
            "--set", "final_training.train_subset=10", cwd=tmp_path, timeout=600)
    check(r)
    (model,) = json.loads((tmp_path / "full" / "final" / "results.json").read_text())["models"]
    assert model["status"] == "ok" and model["teacher"]["run"] == str(tmp_path / "full")
