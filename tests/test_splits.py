"""Stratified subsets / splits, their records, and normalisation statistics."""

import json

import numpy as np
import pytest

from deap_nas.evaluation import (
    SplitRecord,
    normalization_stats,
    stratified_split,
    stratified_subset,
)

# 3 classes of uneven size: 10, 20, 31 items, interleaved
LABELS = np.array([0] * 10 + [1] * 20 + [2] * 31)[np.random.default_rng(5).permutation(61)]


def _counts(idx, labels=LABELS):
    return np.bincount(labels[idx], minlength=3).tolist()


def test_per_class_exact_counts_sorted_unique():
    idx = stratified_subset(LABELS, per_class=7, seed=1)
    assert _counts(idx) == [7, 7, 7]
    assert idx.dtype == np.int64
    assert np.all(np.diff(idx) > 0)


def test_fraction_counts_round_half_up():
    idx = stratified_subset(LABELS, fraction=0.5, seed=0)
    assert _counts(idx) == [5, 10, 16]  # 15.5 -> 16
    assert len(stratified_subset(LABELS, fraction=1.0)) == len(LABELS)


def test_deterministic_for_a_seed_and_seeds_differ():
    a = stratified_subset(LABELS, per_class=5, seed=3)
    b = stratified_subset(LABELS, per_class=5, seed=3)
    c = stratified_subset(LABELS, per_class=5, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_smaller_subsets_nest_for_one_seed():
    small = stratified_subset(LABELS, per_class=4, seed=9)
    large = stratified_subset(LABELS, per_class=8, seed=9)
    assert set(small) <= set(large)


def test_global_numpy_rng_untouched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    stratified_subset(LABELS, per_class=3, seed=0)
    stratified_split(LABELS, val_fraction=0.2, seed=0)
    assert np.array_equal(np.random.get_state()[1], before)


def test_split_disjoint_covering_stratified():
    train, val = stratified_split(LABELS, val_fraction=0.2, seed=2)
    assert not set(train) & set(val)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(len(LABELS)))
    assert _counts(val) == [2, 4, 6]
    train, val = stratified_split(LABELS, val_per_class=3, seed=2)
    assert _counts(val) == [3, 3, 3] and _counts(train) == [7, 17, 28]


def test_per_class_too_large_names_the_class():
    with pytest.raises(ValueError, match="class 0 has only 10"):
        stratified_subset(LABELS, per_class=11)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"fraction": 0.5, "per_class": 2},
        {"fraction": 0.0},
        {"fraction": 1.5},
        {"fraction": -0.1},
        {"fraction": float("nan")},
        {"fraction": True},
        {"fraction": "0.5"},
        {"per_class": 0},
        {"per_class": 2.5},
        {"per_class": True},
        {"per_class": 2, "seed": -1},
        {"per_class": 2, "seed": None},
    ],
)
def test_bad_subset_arguments(kwargs):
    with pytest.raises(ValueError):
        stratified_subset(LABELS, **kwargs)


@pytest.mark.parametrize(
    "labels", [np.array([], dtype=np.int64), np.zeros((2, 3), dtype=int), np.array([0.0, 1.0])]
)
def test_bad_labels(labels):
    with pytest.raises(ValueError):
        stratified_subset(labels, fraction=0.5)


def test_bad_split_arguments():
    with pytest.raises(ValueError, match="exactly one"):
        stratified_split(LABELS)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        stratified_split(LABELS, val_fraction=1.0)
    with pytest.raises(ValueError, match="no training"):
        stratified_split(np.array([0, 1, 1, 0]), val_per_class=2)


def test_split_record_json_round_trip():
    rec = SplitRecord.split(LABELS, val_fraction=0.25, seed=7, dataset="toy/train")
    d = json.loads(json.dumps(rec.to_dict()))
    assert d["kind"] == "split" and d["seed"] == 7 and d["fraction"] == 0.25
    back = SplitRecord.from_dict(d)
    train, val = stratified_split(LABELS, val_fraction=0.25, seed=7)
    assert np.array_equal(back.indices["train"], train)
    assert np.array_equal(back.indices["val"], val)
    back.check(LABELS)
    with pytest.raises(ValueError, match="do not match"):
        back.check(LABELS[::-1])
    sub = SplitRecord.subset(LABELS, per_class=2, seed=1)
    assert (
        sub.to_dict()["indices"]["subset"]
        == stratified_subset(LABELS, per_class=2, seed=1).tolist()
    )


def test_normalization_stats_match_numpy():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(37, 3, 5, 4), dtype=np.uint8)
    mean, std = normalization_stats(images, chunk=8)
    x = images.astype(np.float64) / 255.0
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, x.std(axis=(0, 2, 3)), rtol=1e-12)
    grey = images[:, :1]
    (m,), (s,) = normalization_stats(grey)
    assert m == pytest.approx(x[:, 0].mean()) and s == pytest.approx(x[:, 0].std())


@pytest.mark.parametrize(
    "images",
    [
        np.zeros((2, 3, 4), np.uint8),
        np.zeros((2, 1, 4, 4), np.float32),
        np.zeros((0, 1, 4, 4), np.uint8),
    ],
)
def test_normalization_stats_bad_input(images):
    with pytest.raises(ValueError):
        normalization_stats(images)
