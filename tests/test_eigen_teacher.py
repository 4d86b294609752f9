"""EIGEN's pre-trained teacher (sec. 4.1) and final training with mimicry (Table 5).

`deap-nas train-teacher` trains reference networks (here two tiny Wide-ResNets, one
iteration each on the embedded Fashion-MNIST subset) into an ensemble directory that
resumes member by member; the ensemble teaches a search (recorded in the request, so in
the cache key) and `train-final`; a missing, incomplete or mismatched ensemble is a clear
error before any training; the paper config uses it for both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from deap_nas.runtime.schema import ConfigError
from deap_nas.runtime.teacher import check_teacher, load_teacher, resolve_teacher, teacher_logits
from deap_nas.runtime.teacher_ensemble import load_teacher_config, train_teacher

from .run_helpers import check, cli

torch.set_num_threads(1)
CONFIGS = Path(__file__).resolve().parents[1] / "experiments" / "configs"
TEACHER = {
    "seed": 0,
    "data": {"name": "fashion_mnist_mini", "val_fraction": 0.2, "train_subset": 6},
    "members": [{"family": "wide_resnet", "depth": 10, "width": 1}],
    "seeds": [0, 1],
    "training": {"epochs": 1, "batch_size": 16, "max_iterations": 1, "lr": 0.05, "schedule": "none",
                 "deterministic": True},
}


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    root = tmp_path_factory.mktemp("teacher")
    (root / "t.yaml").write_text(yaml.safe_dump(TEACHER))
    lines: list[str] = []
    manifest = train_teacher(load_teacher_config(root / "t.yaml"), root / "ens", device="cpu", log=lines.append)
    return root, manifest, lines


def test_train_teacher_writes_a_complete_ensemble_with_accuracies(ensemble):
    root, manifest, lines = ensemble
    assert manifest["complete"] and manifest["combine"] == "mean_logits"
    assert manifest["data"]["name"] == "fashion_mnist_mini" and manifest["data"]["num_classes"] == 10
    assert [(m["name"], m["seed"]) for m in manifest["members"]] == [("wrn-10-1", 0), ("wrn-10-1", 1)]
    for m in manifest["members"]:
        assert 0 <= m["val_acc"] <= 1 and 0 <= m["test_acc"] <= 1
        assert (root / "ens" / m["weights"]).is_file() and (root / "ens" / m["architecture"]).is_file()
    assert 0 <= manifest["ensemble"]["test_acc"] <= 1
    assert json.loads((root / "ens" / "manifest.json").read_text()) == manifest
    assert any("member 2/2 wrn-10-1 seed 1" in line and "epoch 1/1" in line for line in lines)  # progress


def test_ensemble_teacher_gives_the_mean_of_its_members_logits(ensemble):
    from deap_nas.arch import Architecture
    from deap_nas.evaluation import prepare_data
    from deap_nas.nn import build

    root, manifest, _ = ensemble
    data = prepare_data("fashion_mnist_mini", val_fraction=0.2, train_subset=4, seed=1)
    teacher = load_teacher(resolve_teacher({"ensemble": "ens"}, root), data.input_shape, 10)
    logits = teacher_logits(teacher, data.train)
    members = []
    for m in manifest["members"]:
        net = build(Architecture.from_json((root / "ens" / m["architecture"]).read_text()), (1, 28, 28), 10)
        net.load_state_dict(torch.load(root / "ens" / m["weights"], weights_only=True))
        members.append(net.eval())
    x = data.train.normalize(data.train.images)
    with torch.no_grad():
        want = (members[0](x) + members[1](x)) / 2
    assert torch.allclose(logits, want, atol=1e-5) and not torch.allclose(members[0](x), members[1](x))


def test_train_teacher_continues_an_interrupted_ensemble_and_refuses_another_config(ensemble, tmp_path):
    import shutil

    root, manifest, _ = ensemble
    ens = tmp_path / "ens"
    shutil.copytree(root / "ens", ens)
    first = (ens / "member_00.pt").read_bytes()
    # as a run killed while training member 2 leaves it: member 1 and a manifest of it only
    (ens / "member_01.pt").unlink()
    (ens / "manifest.json").write_text(json.dumps({**manifest, "complete": False, "members": manifest["members"][:1]}))
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(TEACHER))
    with pytest.raises(ValueError, match="incomplete"):
        check_teacher(resolve_teacher({"ensemble": str(ens)}), "fashion_mnist_mini")
    r = cli("train-teacher", "t.yaml", "--out", "ens", "--device", "cpu", cwd=tmp_path)
    check(r)
    assert "1 of 2 members already trained" in r.stdout and "member 1/2" not in r.stdout
    assert "member 2/2 wrn-10-1 seed 1" in r.stdout
    again = json.loads((ens / "manifest.json").read_text())
    assert again["complete"] and [m["seed"] for m in again["members"]] == [0, 1]
    assert (ens / "member_00.pt").read_bytes() == first  # not trained again
    assert again["members"][1]["test_acc"] == manifest["members"][1]["test_acc"]  # same seed, same member
    r = cli("train-teacher", "t.yaml", "--out", "ens", "--set", "seeds=[0,2]", "--device", "cpu", cwd=tmp_path)
    check(r, 2)
    assert "another config" in r.stderr


def test_missing_or_mismatched_ensemble_is_a_clear_error(ensemble, tmp_path):
    root, _, _ = ensemble
    with pytest.raises(ValueError, match=r"evaluation\.teacher\.ensemble: no teacher ensemble at .*train-teacher"):
        check_teacher(resolve_teacher({"ensemble": "nowhere"}, tmp_path), "cifar10", "evaluation.teacher")
    spec = resolve_teacher({"ensemble": "ens"}, root)
    check_teacher(spec, "fashion_mnist_mini")
    with pytest.raises(ValueError, match="trained with data set 'fashion_mnist_mini', this run uses 'cifar10'"):
        check_teacher(spec, "cifar10")
    with pytest.raises(ValueError, match="class count 10, this run uses 100"):
        load_teacher(spec, (1, 28, 28), 100)
    with pytest.raises(ValueError, match="image shape"):
        load_teacher(spec, (3, 32, 32), 10)
    for bad, msg in (({"members": []}, "members"), ({"members": [{"family": "vgg"}]}, r"members\[0\]\.family"),
                     ({"member": []}, "member: unknown key"), ({"seeds": [1, 1]}, "seeds")):
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**TEACHER, **bad}))
        with pytest.raises(ConfigError, match=msg):
            load_teacher_config(tmp_path / "bad.yaml")


def test_a_teacher_trained_without_whitening_refuses_whitened_students(ensemble, tmp_path):
    """The teacher sees the students' inputs: an ensemble trained on raw images must not
    teach a run whose data section applies GCN + ZCA (nor the other way round)."""
    root, manifest, _ = ensemble
    assert manifest["data"]["preprocessing"] == {"gcn": False, "gcn_scale": 55.0, "whiten": None, "zca_epsilon": 0.1}
    spec = resolve_teacher({"ensemble": "ens"}, root)
    check_teacher(spec, "fashion_mnist_mini", preprocessing={"gcn": False, "gcn_scale": 55.0, "whiten": None,
                                                             "zca_epsilon": 0.1})
    whitened = {"gcn": True, "gcn_scale": 55.0, "whiten": "zca", "zca_epsilon": 0.1}
    with pytest.raises(ValueError, match="trained with preprocessing .*'whiten': None.*this run uses .*'zca'"):
        check_teacher(spec, "fashion_mnist_mini", "evaluation.teacher", preprocessing=whitened)
    paper_teacher = load_teacher_config(CONFIGS / "eigen_teacher_cifar10.yaml")
    paper_search = yaml.safe_load((CONFIGS / "eigen_cifar10.yaml").read_text())["data"]
    assert {k: getattr(paper_teacher.data, k) for k in whitened} == {k: paper_search[k] for k in whitened}


def test_final_training_data_keeps_the_search_preprocessing():
    from deap_nas.analysis.final import final_data_section
    from deap_nas.runtime.config import load_config

    section = final_data_section(load_config(CONFIGS / "eigen_cifar10.yaml"))
    assert (section["gcn"], section["whiten"], section["zca_epsilon"]) == (True, "zca", 0.1)


def search_config(teacher: dict | None) -> dict:
    return {
        "seed": 0,
        "data": {"name": "fashion_mnist_mini", "train_subset": 6, "val_per_class": 3},
        "space": {"name": "eigen", "input_shape": [1, 28, 28], "max_layers": 3, "channel_choices": [4],
                  "conv_channels": 4},
        "algorithm": {"name": "random_search", "population_size": 2},
        "training": {"epochs": 1, "batch_size": 16, "max_iterations": 1, "deterministic": True},
        "evaluation": {"teacher": teacher},
        "final_training": {"train_subset": 6, "seeds": [0], "candidates": 1,
                           "training": {"epochs": 1, "batch_size": 16, "max_iterations": 1}},
        "budget": {"evaluations": 2},
        "parallel": {"backend": "serial", "threads": 1},
        "output": {"plots": False, "progress": False},
    }


def test_a_run_refuses_a_missing_teacher_and_records_the_ensemble_in_its_requests(ensemble, tmp_path):
    from deap_nas.runtime.config import parse_config
    from deap_nas.runtime.search import start_run

    root, _, _ = ensemble
    with pytest.raises(ConfigError, match=r"evaluation\.teacher\.ensemble: no teacher ensemble"):
        start_run(parse_config(search_config({"ensemble": str(tmp_path / "none")})), tmp_path / "never")
    assert not (tmp_path / "never").exists()
    start_run(parse_config(search_config({"ensemble": str(root / "ens")})), tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "journal.jsonl").read_text().splitlines()]
    assert records and all(r["status"] == "ok" for r in records)
    assert all(json.loads(r["request"]["teacher"]) == {"ensemble": str(root / "ens")} for r in records)


def test_train_final_uses_the_distillation_loss_with_a_teacher(ensemble, tmp_path, monkeypatch):
    from deap_nas.analysis.final import train_final
    from deap_nas.evaluation import engine
    from deap_nas.runtime.config import parse_config
    from deap_nas.runtime.search import start_run

    root, _, _ = ensemble
    start_run(parse_config(search_config(None)), tmp_path / "run")
    calls = []
    real = engine.distillation_loss
    monkeypatch.setattr(engine, "distillation_loss", lambda *a, **k: calls.append(1) or real(*a, **k))
    with pytest.raises(ValueError, match=r"final_training\.teacher\.ensemble: no teacher ensemble"):
        train_final(tmp_path / "run", device="cpu", log=lambda s: None,
                    overrides=[f"final_training.teacher.ensemble={tmp_path / 'none'}"])
    assert calls == [] and not (tmp_path / "run" / "final" / "results.json").exists()  # nothing trained
    (plain,) = train_final(tmp_path / "run", device="cpu", log=lambda s: None)
    assert plain["loss"] == "classification" and calls == []
    (taught,) = train_final(tmp_path / "run", device="cpu", log=lambda s: None,
                            overrides=[f"final_training.teacher.ensemble={root / 'ens'}"])
    assert taught["loss"] == "distillation" and calls  # eq. 3 trained the model
    assert taught["teacher"] == {"ensemble": str(root / "ens")} and taught["status"] == "ok"


def test_paper_config_takes_the_ensemble_as_teacher_of_search_and_final_training():
    from deap_nas.runtime.config import load_config

    paper = load_config(CONFIGS / "eigen_cifar10.yaml")
    assert paper.evaluation.teacher == {"ensemble": "teachers/eigen_cifar10"}
    assert paper.final_training.teacher == {"ensemble": "teachers/eigen_cifar10"}  # Table 5, with mimicry
    assert not paper.algorithm.params.mimic_parent
    t = paper.final_training.training
    assert (t.distill_alpha, t.distill_temperature) == (0.9, 5.0)
    teacher = load_teacher_config(CONFIGS / "eigen_teacher_cifar10.yaml")
    assert [(s, seed) for s, seed in teacher.plan()] == [({"family": "densenet", "depth": 40, "growth": 60}, k)
                                                          for k in range(4)]  # four Wide-DenseNets k=60, L=40
    assert teacher.data.name == paper.data.name == "cifar10"
    quick = load_teacher_config(CONFIGS / "eigen_teacher_cifar10_quick.yaml")
    assert quick.data.name == "cifar10" and len(quick.plan()) == 2
