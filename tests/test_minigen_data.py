"""The stratified mini data set frozen in a file (sec. IV-A, IV-B) and deterministic
evaluation of a MiniGen network on it (sec. IV-B), on the packaged Fashion-MNIST subset."""


import numpy as np
import pytest

import deap_nas.data.mini as mini_data
from deap_nas.data.mini import build_mini, load_mini, mini_dataset
from deap_nas.evaluation import TrainConfig, load_dataset, prepare_data, train_architecture
from deap_nas.runtime.config import DataConfig
from deap_nas.runtime.schema import ConfigError, from_mapping
from deap_nas.spaces import MiniGenParams, MiniGenSpace

NAME = "fashion_mnist_mini"  # 200 training and 50 test images per class, shipped in the package


def test_mini_set_is_stratified_and_held_out_of_the_training_split():
    m = build_mini(NAME, per_class=100, test_per_class=10, seed=4)
    assert np.bincount(m.train_labels).tolist() == [100] * 10  # exactly 100 per class
    assert np.bincount(m.test_labels).tolist() == [10] * 10  # 100 stratified test images
    train_idx, test_idx = m.meta["train_indices"], m.meta["test_indices"]
    assert not set(train_idx) & set(test_idx)  # test images held out of the training split
    full = load_dataset(NAME, "train")
    assert np.array_equal(m.train_images, full.images[train_idx])
    assert np.array_equal(m.test_labels, full.labels[test_idx])
    # the same indices prepare_data uses for val_per_class / train_subset with this seed
    d = prepare_data(NAME, val_per_class=10, train_subset=100, seed=4)
    assert d.record["train_indices"] == train_idx and d.record["val_indices"] == test_idx


def test_papers_variant_draws_the_mini_test_set_from_the_test_split():
    m = build_mini(NAME, per_class=100, test_per_class=10, test_source="test", seed=0)
    test = load_dataset(NAME, "test")
    assert np.array_equal(m.test_images, test.images[m.meta["test_indices"]])
    assert np.bincount(m.test_labels).tolist() == [10] * 10


def test_saved_file_is_reloaded_not_redrawn(tmp_path, monkeypatch):
    path = tmp_path / "mini.npz"
    first = mini_dataset(path, NAME, per_class=100, test_per_class=10, seed=1)
    assert path.is_file()

    def no_redraw(*a, **k):
        raise AssertionError("the file must be reloaded, not drawn again")

    monkeypatch.setattr(mini_data, "build_mini", no_redraw)
    again = mini_dataset(path, NAME, per_class=100, test_per_class=10, seed=1)
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        assert np.array_equal(getattr(first, field), getattr(again, field))
    assert load_mini(path).meta == first.meta
    with pytest.raises(ValueError, match="mini_file: .* made for"):
        mini_dataset(path, NAME, per_class=100, test_per_class=10, seed=2)  # another seed


def test_a_different_seed_draws_another_subset():
    a = build_mini(NAME, per_class=100, test_per_class=10, seed=1)
    b = build_mini(NAME, per_class=100, test_per_class=10, seed=2)
    assert a.meta["train_indices"] != b.meta["train_indices"]


def test_prepare_data_trains_and_validates_on_the_file(tmp_path):
    path = tmp_path / "mini.npz"
    d = prepare_data(NAME, mini_file=path, train_subset=100, val_per_class=10, seed=0)
    m = load_mini(path)
    assert len(d.train) == 1000 and len(d.val) == 100
    assert d.record["mini_file"] == str(path)
    assert d.record["val_indices"] == m.meta["test_indices"]


def test_data_config_checks_the_mini_fields():
    cfg = from_mapping(DataConfig, {"mini_file": "m.npz", "train_subset": 100, "val_per_class": 10}, "data")
    assert cfg.mini_test_source == "heldout"
    with pytest.raises(ConfigError, match="data.train_subset"):
        from_mapping(DataConfig, {"mini_file": "m.npz", "train_subset": 0.1, "val_per_class": 10}, "data")
    with pytest.raises(ConfigError, match="data.mini_test_source"):
        from_mapping(DataConfig, {"mini_test_source": "test"}, "data")


@pytest.fixture
def one_thread():
    """One torch thread: several OpenMP threads on a loaded 2-core machine crawl."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_two_evaluations_of_one_genome_give_the_same_accuracy(tmp_path, one_thread):
    data = prepare_data(NAME, mini_file=tmp_path / "m.npz", train_subset=10, val_per_class=5, seed=0)
    space = MiniGenSpace(MiniGenParams(channels=(4, 6), input_channels=(4, 6), input_shape=(1, 28, 28),
                                       keep_resolution=False))
    genome = space.from_json([[None, 1, ["identity", "3*3 conv", "5*5 conv"]],
                              [4, 1, ["identity", "3*3 dil conv", "3*3 maxpool"]],
                              [6, 1, ["1*7-7*1 conv", "3*3 avgpool"]],
                              [4, 1, ["3*3 conv", "3*3 conv"]], [6, 1, ["identity", "5*5 conv"]]])
    arch = space.decode(genome)
    cfg = TrainConfig(epochs=2, batch_size=16, optimizer="adam", lr=0.01, schedule="none", drop_last=False,
                      deterministic=True, score="last", amp="off")
    a = train_architecture(arch, data, cfg, seed=2809)
    b = train_architecture(arch, data, cfg, seed=2809)
    assert a.status == b.status == "ok"
    assert a.best_acc == b.best_acc and a.best_epoch == b.best_epoch == 2  # score: last
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    c = train_architecture(arch, data, cfg, seed=1)  # another seed: another training
    assert [h["train_loss"] for h in c.history] != [h["train_loss"] for h in a.history]
