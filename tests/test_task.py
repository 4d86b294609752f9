"""Architecture -> trained result: prepare_data, train_architecture, weight inheritance.

Includes the evaluation milestone's acceptance test: a small CNN trained for 2 epochs on
a stratified 1,000-image Fashion-MNIST subset on the CPU is clearly above chance (real
data when it is installed, the packaged 2,000-image subset otherwise).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deap_nas.evaluation.task as task
from deap_nas.arch import sequential
from deap_nas.evaluation import (
    DatasetNotFoundError,
    TrainConfig,
    evaluate,
    load_dataset,
    normalization_stats,
    prepare_data,
    train_architecture,
)
from deap_nas.nn import build, node_key, transfer_weights

MINI = "fashion_mnist_mini"
SHAPE = (1, 28, 28)

# conv 16 -> max pool -> conv 32 -> max pool: 32x7x7 features into a linear head
SMALL_CNN = [
    ("conv", {"channels": 16}),
    ("pool", {"type": "max", "kernel": 2}),
    ("conv", {"channels": 32}),
    ("pool", {"type": "max", "kernel": 2}),
]


def small_cnn(name: str = "small_cnn"):
    return sequential(SMALL_CNN, name=name)


def quick(**kw) -> TrainConfig:
    base = {"epochs": 1, "optimizer": "adam", "lr": 3e-3, "batch_size": 32, "schedule": "none"}
    return TrainConfig(**{**base, **kw})


def curve(result) -> list[tuple]:
    """The history without wall times."""
    return [(h["epoch"], h["train_loss"], h["val_acc"], h["lr"]) for h in result.history]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No data root, download switch or cache from the caller's environment."""
    monkeypatch.setenv("DEAP_NAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DEAP_NAS_DATA", raising=False)
    monkeypatch.delenv("DEAP_NAS_DOWNLOAD", raising=False)


@pytest.fixture(scope="module")
def mini():
    """30 training images per class (300) and 10% of the packaged training split (200)."""
    return prepare_data(MINI, train_subset=30, seed=0)


@pytest.fixture(scope="module")
def trained(mini):
    """The small CNN after one epoch, with its best state kept."""
    result = train_architecture(small_cnn(), mini, quick(keep_best_state=True), head="linear")
    assert result.ok, result.message
    return result


# --- acceptance -----------------------------------------------------------------------


def _thousand_images():
    """(data, source): 100 images per class from real Fashion-MNIST, else the mini set."""
    try:
        data = prepare_data(
            "fashion_mnist", train_subset=100, val_per_class=100, seed=0, download=False
        )
        return data, "fashion_mnist"
    except DatasetNotFoundError:
        # 200 per class; a 10% validation split leaves 180 per class to draw 100 from
        return prepare_data(MINI, train_subset=100, seed=0), MINI


def test_small_cnn_two_epochs_on_1000_images_is_clearly_above_chance() -> None:
    data, source = _thousand_images()
    assert len(data.train) == 1000 and data.num_classes == 10
    assert np.bincount(data.train.labels.numpy(), minlength=10).tolist() == [100] * 10
    config = TrainConfig(epochs=2, optimizer="adam", lr=3e-3, batch_size=32, schedule="none")
    result = train_architecture(small_cnn(), data, config, head="linear", seed=0)
    assert result.status == "ok", result.message
    assert result.epochs_run == 2 and result.device == "cpu"
    # chance is 0.10; observed 0.76-0.81 over seeds 0-7 on both sources
    assert result.best_acc >= 0.6, (source, result.history)
    assert result.num_params == small_cnn().num_params(SHAPE, 10, "linear")


# --- prepare_data ---------------------------------------------------------------------


def test_splits_are_disjoint_stratified_and_recorded(mini) -> None:
    rec = mini.record
    train_idx, val_idx = np.array(rec["train_indices"]), np.array(rec["val_indices"])
    assert len(set(train_idx)) == len(train_idx) == 300
    assert len(set(val_idx)) == len(val_idx) == 200
    assert not set(train_idx) & set(val_idx)
    assert np.bincount(mini.train.labels.numpy(), minlength=10).tolist() == [30] * 10
    assert np.bincount(mini.val.labels.numpy(), minlength=10).tolist() == [20] * 10
    # the recorded indices are the rows of the training split that were used
    full = load_dataset(MINI, "train")
    assert np.array_equal(full.labels[train_idx], mini.train.labels.numpy())
    assert np.array_equal(full.images[val_idx], mini.val.images.numpy())
    assert rec["dataset"] == MINI and rec["seed"] == 0 and rec["train_subset"] == 30
    assert mini.input_shape == SHAPE and mini.num_classes == 10 and mini.test is None
    assert mini.classes == full.classes


def test_per_class_validation_and_subsets() -> None:
    data = prepare_data(MINI, val_per_class=10, val_subset=3, train_subset=0.1, seed=5)
    assert np.bincount(data.val.labels.numpy(), minlength=10).tolist() == [3] * 10
    assert np.bincount(data.train.labels.numpy(), minlength=10).tolist() == [19] * 10  # 10% of 190
    with pytest.raises(ValueError, match="fewer than per_class"):
        prepare_data(MINI, train_subset=500)
    with pytest.raises(ValueError, match="fraction or a per-class count"):
        prepare_data(MINI, train_subset="20")


def test_indices_reproduce_with_the_seed(mini) -> None:
    again = prepare_data(MINI, train_subset=30, seed=0)
    other = prepare_data(MINI, train_subset=30, seed=1)
    for key in ("train_indices", "val_indices"):
        assert again.record[key] == mini.record[key]
        assert other.record[key] != mini.record[key]
    assert torch.equal(again.train.images, mini.train.images)


def test_normalization_comes_from_the_training_part(mini) -> None:
    full = load_dataset(MINI, "train")
    mean, std = normalization_stats(full.images[mini.record["train_indices"]])
    for part in (mini.train, mini.val):
        assert part.mean == pytest.approx(mean) and part.std == pytest.approx(std)
    assert mini.record["mean"] == pytest.approx(list(mean))
    assert mini.record["std"] == pytest.approx(list(std))
    val_mean, _ = normalization_stats(full.images[mini.record["val_indices"]])
    assert val_mean != pytest.approx(mean, abs=1e-6)  # not the validation (or the full) stats


def test_with_test_loads_the_test_split() -> None:
    data = prepare_data(MINI, train_subset=5, with_test=True)
    assert data.test is not None and len(data.test) == 500
    assert data.test.shape == SHAPE and data.test.mean == data.train.mean
    assert np.bincount(data.test.labels.numpy(), minlength=10).tolist() == [50] * 10


def test_unknown_data_set_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown data set 'nope'.*fashion_mnist_mini"):
        prepare_data("nope")


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_missing_data_names_the_root(name, tmp_path, monkeypatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("DEAP_NAS_DATA", str(empty))
    with pytest.raises(DatasetNotFoundError) as info:
        prepare_data(name)
    assert str(empty) in str(info.value) and name in str(info.value)


# --- train_architecture ---------------------------------------------------------------


@pytest.fixture
def no_build(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("build() must not be called")

    monkeypatch.setattr(task, "build", refuse)


@pytest.mark.parametrize(
    "ops, reason",
    [
        ([("conv", {"kernel": 40, "padding": "valid"})], "larger than its input"),
        ([("conv", {"channels": 8}), ("warp_drive", {})], "unknown op 'warp_drive'"),
    ],
)
def test_invalid_architecture_is_a_status_without_building(mini, no_build, ops, reason) -> None:
    result = train_architecture(sequential(ops), mini, quick())
    assert result.status == "invalid" and not result.ok
    assert reason in result.message
    assert result.best_acc is None and result.history == [] and result.iterations == 0


def test_over_budget_architecture_is_too_large_without_building(mini, no_build) -> None:
    n = small_cnn().num_params(SHAPE, 10, "linear")
    result = train_architecture(small_cnn(), mini, quick(max_params=n - 1), head="linear")
    assert result.status == "too_large"
    assert str(n) in result.message and "max_params" in result.message
    assert result.num_params == n and result.best_acc is None and result.history == []


def test_budget_is_inclusive_and_counts_match_the_module(mini, trained) -> None:
    n = small_cnn().num_params(SHAPE, 10, "linear")
    assert trained.num_params == n
    net = build(small_cnn(), SHAPE, 10, "linear")
    assert sum(p.numel() for p in net.parameters()) == n
    result = train_architecture(
        small_cnn(), mini, quick(max_params=n, max_iterations=1), head="linear"
    )
    assert result.ok and result.num_params == n


def test_same_seed_same_history(mini, trained) -> None:
    again = train_architecture(small_cnn(), mini, quick(keep_best_state=True), head="linear")
    assert curve(again) == curve(trained)
    assert again.best_state.keys() == trained.best_state.keys()
    assert all(torch.equal(again.best_state[k], v) for k, v in trained.best_state.items())
    other = train_architecture(small_cnn(), mini, quick(), head="linear", seed=1)
    assert curve(other) != curve(trained)


def test_best_state_reproduces_best_acc(mini, trained) -> None:
    net = build(small_cnn(), SHAPE, 10, "linear")
    net.load_state_dict(trained.best_state)
    assert evaluate(net, mini.val) == trained.best_acc


def test_init_state_continues_from_trained_weights(mini, trained) -> None:
    # Without BatchNorm, a learning rate of ~0 leaves the network exactly where the parent
    # run ended. (With BatchNorm the extra epoch refreshes the running statistics, which
    # moves the accuracy by a few images; test_best_state_reproduces_best_acc covers that.)
    no_bn = sequential(
        [(op, {**p, "bn": False}) if op == "conv" else (op, p) for op, p in SMALL_CNN]
    )
    parent = train_architecture(no_bn, mini, quick(keep_best_state=True), head="linear")
    assert parent.ok and parent.best_acc > 0.3
    frozen = quick(lr=1e-9)
    resumed = train_architecture(no_bn, mini, frozen, head="linear", init_state=parent.best_state)
    fresh = train_architecture(no_bn, mini, frozen, head="linear")
    assert resumed.ok and fresh.ok
    assert resumed.best_acc == pytest.approx(parent.best_acc, abs=0.02)
    assert resumed.best_acc > fresh.best_acc + 0.2  # fresh weights stay near chance
    with pytest.raises(ValueError, match="init_state does not fit"):
        train_architecture(small_cnn(), mini, frozen, head="linear", init_state=parent.best_state)


def test_on_epoch_and_result_fields(mini) -> None:
    seen = []
    result = train_architecture(
        small_cnn(), mini, quick(epochs=2, max_iterations=12), head="linear", on_epoch=seen.append
    )
    assert result.ok and [e["epoch"] for e in seen] == [1, 2]
    assert result.iterations == 12 and result.epochs_run == 2  # 300 // 32 = 9 steps per epoch
    assert result.images_per_sec > 0 and result.time_build > 0 and result.best_state is None


# --- weight inheritance ---------------------------------------------------------------


def test_child_inherits_the_trained_parents_weights(mini, trained) -> None:
    parent = small_cnn("parent")
    child = sequential([*SMALL_CNN, ("conv", {"channels": 32})], name="child")
    child_net = build(child, SHAPE, 10, "linear")
    report = transfer_weights(trained.best_state, child_net)

    assert sorted(report.copied) == [0, 2]  # the parent's conv nodes; pools have no weights
    assert report.skipped == {1: "no weights", 3: "no weights", 4: "new node"}
    assert report.head_copied  # the appended conv keeps the 32x7x7 features
    child_state = child_net.state_dict()
    for i in (0, 2):
        prefix = f"nodes.{node_key(i, parent.nodes[i].op)}."
        keys = [k for k in trained.best_state if k.startswith(prefix)]
        assert keys and all(torch.equal(child_state[k], trained.best_state[k]) for k in keys)
    head = [k for k in trained.best_state if k.startswith("head.")]
    assert head and all(torch.equal(child_state[k], trained.best_state[k]) for k in head)

    # the child trains from its inherited state
    result = train_architecture(
        child, mini, quick(max_iterations=3), head="linear", init_state=child_net.state_dict()
    )
    assert result.ok and result.num_params == child.num_params(SHAPE, 10, "linear")
