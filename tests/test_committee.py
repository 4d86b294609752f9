"""Neural committee of ImmuNeCS (section 3.5): vote formula, member selection, export, training."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from deap_nas.arch import sequential
from deap_nas.data.device import DeviceDataset
from deap_nas.evaluation import (
    Committee,
    CommitteeResult,
    TrainConfig,
    evaluate_committee,
    prepare_data,
    select_members,
    train_committee,
)
from deap_nas.nn import build

SHAPE = (1, 8, 8)
K = 3


class FixedLogits(nn.Module):
    """A member that returns the same logits for every sample of the batch."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.register_buffer("logits", torch.tensor(logits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], -1)


LOGITS = [[2.0, 0.0, -1.0], [0.0, 3.0, 0.5], [-1.0, 0.2, 1.5]]


def by_hand(affinities: list[float], logits: list[list[float]], batch: int) -> torch.Tensor:
    """G(x) = sum_j f_j / (sum_m f_m) * softmax(logits_j), written out term by term."""
    total = sum(affinities)
    g = torch.zeros(K)
    for f, z in zip(affinities, logits, strict=True):
        e = [torch.exp(torch.tensor(v)) for v in z]
        s = sum(e)
        g = g + (f / total) * torch.stack([v / s for v in e])
    return g.expand(batch, -1)


def toy_committee(affinities: list[float]) -> Committee:
    return Committee([FixedLogits(z) for z in LOGITS], affinities)


def tiny_arch(channels: int, name: str = ""):
    return sequential(
        [("conv", {"channels": channels}), ("pool", {"type": "max", "kernel": 2})], name=name
    )


def tiny_networks(seed: int = 0) -> list[nn.Module]:
    torch.manual_seed(seed)
    nets = [build(tiny_arch(c, f"m{c}"), SHAPE, K) for c in (4, 6, 8)]
    for net in nets:  # non-trivial BN statistics so eval mode matters
        with torch.no_grad():
            for name, buf in net.named_buffers():
                if name.endswith("running_mean"):
                    buf.normal_(0, 0.3)
                elif name.endswith("running_var"):
                    buf.uniform_(0.5, 2.0)
    return nets


# ---------------------------------------------------------------------- the vote
def test_vote_matches_affinity_weighted_softmax_average():
    aff = [0.9, 0.6, 0.3]
    x = torch.zeros(5, *SHAPE)
    g = toy_committee(aff)(x)
    assert g.shape == (5, K)
    assert torch.allclose(g, by_hand(aff, LOGITS, 5), atol=1e-6)
    assert torch.allclose(g.sum(1), torch.ones(5), atol=1e-6)  # weights normalised


def test_member_probabilities_are_softmax_outputs():
    x = torch.zeros(2, *SHAPE)
    p = toy_committee([1.0, 1.0, 1.0]).member_probabilities(x)
    assert p.shape == (3, 2, K)
    for j, z in enumerate(LOGITS):
        assert torch.allclose(p[j], torch.softmax(torch.tensor(z), 0).expand(2, -1))


def test_equal_affinities_give_plain_average():
    x = torch.zeros(4, *SHAPE)
    g = toy_committee([0.7, 0.7, 0.7])(x)
    plain = torch.stack([torch.softmax(torch.tensor(z), 0) for z in LOGITS]).mean(0)
    assert torch.allclose(g, plain.expand(4, -1), atol=1e-6)


def test_scaling_affinities_does_not_change_the_vote():
    x = torch.zeros(1, *SHAPE)
    assert torch.allclose(toy_committee([1.0, 2.0, 3.0])(x), toy_committee([10.0, 20.0, 30.0])(x))


def test_zero_affinity_member_has_no_influence():
    x = torch.zeros(3, *SHAPE)
    with_zero = toy_committee([0.8, 0.0, 0.4])(x)
    without = Committee([FixedLogits(LOGITS[0]), FixedLogits(LOGITS[2])], [0.8, 0.4])(x)
    assert torch.allclose(with_zero, without, atol=1e-6)
    assert torch.allclose(with_zero, by_hand([0.8, 0.4], [LOGITS[0], LOGITS[2]], 3), atol=1e-6)


def test_real_networks_vote_by_hand_in_eval_mode():
    nets = tiny_networks()
    aff = [0.5, 0.8, 0.2]
    committee = Committee(nets, aff)
    committee.train()  # members still vote in eval mode
    assert not any(m.training for m in committee.members)
    x = torch.randn(6, *SHAPE)
    with torch.no_grad():
        expected = sum(
            (f / sum(aff)) * torch.softmax(net.eval()(x), 1)
            for f, net in zip(aff, nets, strict=True)
        )
        got = committee(x)
    assert torch.allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize(
    ("n", "aff"),
    [
        (0, []),
        (3, [0.5, -0.1, 0.2]),
        (3, [0.0, 0.0, 0.0]),
        (3, [float("nan"), 1.0, 1.0]),
        (3, [1.0, 1.0]),
    ],
)
def test_bad_affinities_are_rejected(n, aff):
    with pytest.raises(ValueError, match="affinities"):
        Committee([FixedLogits(z) for z in LOGITS[:n]], aff)


# ---------------------------------------------------------------------- selection
def test_select_members():
    aff = [0.50, 0.90, 0.10, 0.70, 0.30, 0.80, 0.20, 0.60, 0.40, 0.95, 0.05, 0.65]
    assert select_members(aff) == sorted(range(12), key=lambda i: -aff[i])
    assert select_members(aff, fraction=1 / 3) == [9, 1, 5, 3]  # N/3 = 4 of 12 (CIFAR-10)
    assert select_members(aff, k=2) == [9, 1]
    assert select_members(aff, k=50) == select_members(aff)
    assert select_members([0.3, 0.1, 0.2, 0.4, 0.5], fraction=1 / 3) == [4, 3]  # round(5/3) = 2
    assert select_members([0.1, 0.2], fraction=0.01) == [1]  # at least one
    assert select_members([0.5, 0.5, 0.4], k=2) == [0, 1]  # ties: lower index first
    with pytest.raises(ValueError):
        select_members(aff, fraction=0.5, k=2)
    with pytest.raises(ValueError):
        select_members(aff, fraction=0.0)
    with pytest.raises(ValueError):
        select_members(aff, k=0)


# ---------------------------------------------------------------------- export
def test_save_load_round_trip(tmp_path):
    committee = Committee(tiny_networks(), [0.5, 0.8, 0.2], classes=["a", "b", "c"])
    path = tmp_path / "committee.pt"
    committee.save(path)
    raw = torch.load(path, weights_only=True)  # plain data + tensors only
    assert raw["format"] == "deap_nas.committee"
    assert len(raw["members"]) == 3
    json.loads(raw["members"][0]["arch"])
    loaded = Committee.load(path)
    assert loaded.classes == ["a", "b", "c"]
    assert torch.equal(loaded.affinities, committee.affinities)
    x = torch.randn(4, *SHAPE)
    with torch.no_grad():
        assert torch.equal(loaded(x), committee(x))
        assert torch.equal(loaded.member_probabilities(x), committee.member_probabilities(x))


def test_save_needs_deap_nas_networks(tmp_path):
    with pytest.raises(TypeError, match="member 0"):
        toy_committee([1.0, 1.0, 1.0]).save(tmp_path / "x.pt")


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_torchscript_trace_matches(tmp_path):
    committee = Committee(tiny_networks(), [0.5, 0.8, 0.2])
    x = torch.randn(4, *SHAPE)
    with torch.no_grad():
        traced = torch.jit.trace(committee, x)
        y = torch.randn(7, *SHAPE)
        assert torch.allclose(traced(y), committee(y), atol=1e-6)
    traced.save(str(tmp_path / "committee.ts"))
    again = torch.jit.load(str(tmp_path / "committee.ts"))
    with torch.no_grad():
        assert torch.allclose(again(y), committee(y), atol=1e-6)


def test_evaluate_committee_counts_argmax_of_the_vote():
    committee = Committee(tiny_networks(), [0.5, 0.8, 0.2])
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (37, *SHAPE), dtype=torch.uint8, generator=gen)
    data = DeviceDataset(images, torch.randint(0, K, (37,), generator=gen), 0.5, 0.25, K)
    with torch.no_grad():
        pred = committee(data.normalize(data.images)).argmax(1)
    expected = (pred == data.labels).float().mean().item()
    assert evaluate_committee(committee, data, batch_size=8) == pytest.approx(expected)


# ---------------------------------------------------------------------- training
@pytest.fixture
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DEAP_NAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DEAP_NAS_DATA", raising=False)
    monkeypatch.delenv("DEAP_NAS_DOWNLOAD", raising=False)


@pytest.mark.usefixtures("_isolated_env")
def test_train_committee_on_fashion_mnist_mini():
    data = prepare_data("fashion_mnist_mini", train_subset=20, val_subset=10, with_test=True)
    small = data.test.subset(torch.arange(200))
    data.test = small
    shape, k = data.input_shape, data.num_classes
    archs = [tiny_arch(c, f"c{c}") for c in (4, 8)] + [sequential([("conv", {"channels": 6})])]
    torch.manual_seed(1)
    inherited = build(archs[0], shape, k).state_dict()
    members = [(archs[0], inherited, 0.6), (archs[1], None, 0.4), (archs[2], None, 0.3)]
    config = TrainConfig(
        epochs=1, optimizer="adam", lr=3e-3, batch_size=32, schedule="cosine_restarts", t0=1.0
    )
    lines: list[str] = []
    res = train_committee(members, data, config, seed=3, log=lines.append)
    assert isinstance(res, CommitteeResult)
    assert res.member_status == ["ok", "ok", "ok"]
    assert res.members_used == [0, 1, 2]
    assert all(0.0 <= a <= 1.0 for a in res.member_test_acc)
    assert 0.0 <= res.committee_test_acc <= 1.0
    assert res.best_member_test_acc == max(res.member_test_acc)
    assert res.member_test_acc[res.best_member] == res.best_member_test_acc
    assert res.member_affinity == [0.6, 0.4, 0.3]
    assert res.config["keep_best_state"] is True
    assert isinstance(res.committee, Committee)
    assert torch.allclose(res.committee.affinities, torch.tensor([0.6, 0.4, 0.3]))
    assert res.committee_test_acc == pytest.approx(evaluate_committee(res.committee, small))
    d = res.to_dict()
    assert "committee" not in d
    json.dumps(d, allow_nan=False)
    assert any("member 1/3" in line for line in lines) and "committee test" in lines[-1]


@pytest.mark.usefixtures("_isolated_env")
def test_train_committee_needs_test_split():
    data = prepare_data("fashion_mnist_mini", train_subset=5, val_subset=5)
    with pytest.raises(ValueError, match="test"):
        train_committee([(tiny_arch(4), None, 1.0)], data, TrainConfig(epochs=1))


# ---------------------------------------------------------------------- members of a run
def immunecs_run(tmp_path, name: str = "run", **final: object):
    """A tiny ImmuNeCS run with the fake trainer (no torch training): N = 4, N_i = 2,
    n_a = 1, stopped by its generation budget right after an augmentation (generation 2), so
    the final population is (N + N_i)(1 + n_a) = 12 networks of which 4 were selected."""
    from deap_nas.runtime.config import parse_config
    from deap_nas.runtime.search import start_run

    config = {
        "seed": 0,
        "data": {"name": "fashion_mnist_mini"},
        "space": {"name": "immunecs_fashion", "stem_channels": 8},
        "algorithm": {"name": "immunecs", "population_size": 4, "n_clones": 2, "n_augment": 1, "n_insert": 2,
                      "patience": 2, "tau": 1.0},
        "evaluation": {"trainer": "deap_nas.testing:fake_trainer", "save_weights": True},
        "final_training": {"top_k": 4, "candidates": 4, **final},
        "budget": {"generations": 2},
        "parallel": {"backend": "serial", "threads": 1},
        "output": {"plots": False, "progress": False},
    }  # fmt: skip
    start_run(parse_config(config), tmp_path / name)
    return tmp_path / name


def _snapshot(run):
    from deap_nas.analysis.report import latest_snapshot

    return latest_snapshot(run)


def test_committee_members_are_the_n_best_the_selection_kept(tmp_path):
    from deap_nas.analysis.committee import committee_members

    run = immunecs_run(tmp_path)
    snap = _snapshot(run)
    pop = snap["population"]
    assert snap["algorithm"]["selected"] == 4 and snap["logbook"][-1]["augmented"] == 1
    assert len(pop) == (4 + 2) * (1 + 1)  # selected, insertions, then their augmented copies
    selected = pop[:4]
    _, members = committee_members(run)  # final_training.top_k = 4 = N (Fashion-MNIST: all N)
    assert [m["genome"] for m in members] == [p["genome"] for p in sorted(selected, key=lambda p: -p["fitness"][0])]
    never_selected = {json.dumps(p["genome"]) for p in pop[4:]}
    assert not never_selected & {json.dumps(m["genome"]) for m in members}
    # CIFAR-10: the N/3 best; --top-k / --fraction override final_training.top_k
    best = sorted(selected, key=lambda p: -p["fitness"][0])
    assert [m["genome"] for m in committee_members(run, top_k=2)[1]] == [p["genome"] for p in best[:2]]
    assert [m["genome"] for m in committee_members(run, fraction=1 / 3)[1]] == [best[0]["genome"]]
    with pytest.raises(ValueError, match=r"--top-k = 5 is larger than the 4 candidates"):
        committee_members(run, top_k=5)
    with pytest.raises(ValueError, match="not both"):
        committee_members(run, top_k=2, fraction=0.5)


def test_committee_top_k_comes_from_the_config_and_is_checked(tmp_path):
    from deap_nas.analysis.committee import committee_members

    run = immunecs_run(tmp_path, top_k=3, candidates=3)
    assert len(committee_members(run)[1]) == 3
    run = immunecs_run(tmp_path, "big", top_k=6, candidates=6)
    with pytest.raises(ValueError, match=r"final_training\.top_k = 6 is larger than the 4 candidates"):
        committee_members(run)


def test_committee_cli_top_k_flag(tmp_path):
    """``deap-nas committee --top-k`` overrides the config and says when it asks too much
    (before any training)."""
    from .run_helpers import cli

    run = immunecs_run(tmp_path)
    r = cli("committee", str(run), "--top-k", "7", "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 2 and "--top-k = 7 is larger than the 4 candidates" in r.stderr


def test_paper_final_training_restarts_its_learning_rate():
    """Fashion-MNIST (sec. 4.2): lr 0.1/3, "1 restart after 35 epochs", 50 epochs: at epoch
    35 the rate is back at 0.1/3 (plain cosine gave 0.00687 there). CIFAR-10: restarts
    after 30 and 90 epochs of 210."""
    from pathlib import Path

    import yaml

    from deap_nas.evaluation.optim import lr_at
    from deap_nas.runtime.config import parse_config

    root = Path(__file__).resolve().parents[1] / "experiments" / "configs"
    fashion = parse_config(yaml.safe_load((root / "immunecs_fashion_mnist.yaml").read_text())).final_training
    t = fashion.training
    assert t.schedule == "cosine_restarts" and t.epochs == 50
    assert lr_at(t, 35, 50) == pytest.approx(0.1 / 3, rel=1e-5)
    assert lr_at(t, 34.99, 50) < 1e-3 and fashion.top_k == 12
    cifar = parse_config(yaml.safe_load((root / "immunecs_cifar10.yaml").read_text())).final_training
    t = cifar.training
    assert [lr_at(t, e, 210) == pytest.approx(0.005 / 3, rel=1e-4) for e in (0, 30, 90)] == [True] * 3
    assert lr_at(t, 89.9, 210) < 1e-5 and lr_at(t, 209.9, 210) < 1e-6 and cifar.top_k == 4
