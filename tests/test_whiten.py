"""GCN + ZCA whitening (deap_nas.data.whiten) and its data-preparation option."""

import numpy as np
import pytest
import torch

from deap_nas.data import datasets as datasets_mod
from deap_nas.data.prepare import prepare_data, prepare_from_config
from deap_nas.data.splits import stratified_split
from deap_nas.data.whiten import fit_preprocessing, global_contrast_normalize
from deap_nas.evaluation import ImageData, load_dataset, register_dataset
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.schema import ConfigError

torch.set_num_threads(1)


def _correlated_images(n=3000, shape=(3, 4, 4), seed=0) -> np.ndarray:
    """uint8 images with strongly correlated pixels (a smooth random mixing of noise)."""
    rng = np.random.default_rng(seed)
    d = int(np.prod(shape))
    mix = rng.normal(size=(d, d)) * 0.3 + np.eye(d) + 0.5
    x = rng.normal(size=(n, d)) @ mix
    x = (x - x.min()) / (x.max() - x.min()) * 255
    return x.round().astype(np.uint8).reshape(n, *shape)


def _cov(x: torch.Tensor) -> torch.Tensor:
    x = x.reshape(x.shape[0], -1).to(torch.float64)
    x = x - x.mean(dim=0)
    return x.T @ x / x.shape[0]


def test_gcn_zero_mean_and_norm_scale_per_image():
    x = torch.from_numpy(_correlated_images(50).reshape(50, -1)).to(torch.float64) / 255
    for scale in (1.0, 55.0):
        g = global_contrast_normalize(x, scale)
        assert torch.allclose(g.mean(dim=1), torch.zeros(50, dtype=torch.float64), atol=1e-12)
        assert torch.allclose(g.norm(dim=1), torch.full((50,), scale, dtype=torch.float64))
    flat = global_contrast_normalize(torch.full((2, 8), 0.5, dtype=torch.float64))
    assert torch.equal(flat, torch.zeros(2, 8, dtype=torch.float64))  # a constant image stays 0
    images = torch.from_numpy(_correlated_images(20))
    out = fit_preprocessing(images, gcn=True, gcn_scale=1.0).apply(images)
    assert out.dtype == torch.float32 and out.shape == images.shape
    assert torch.allclose(out.reshape(20, -1).norm(dim=1), torch.ones(20), atol=1e-5)


def test_zca_whitened_training_data_has_identity_covariance():
    images = torch.from_numpy(_correlated_images())
    raw = _cov(images.to(torch.float64) / 255)
    off = raw - torch.diag(torch.diag(raw))
    assert off.abs().max() > 0.5 * torch.diag(raw).min()  # the input is far from white
    out = fit_preprocessing(images, whiten="zca", zca_epsilon=1e-9).apply(images)
    assert torch.allclose(_cov(out), torch.eye(48, dtype=torch.float64), atol=1e-4)
    assert out.reshape(len(out), -1).mean(dim=0).abs().max() < 1e-4
    # with a real epsilon the eigenvalues l become l / (l + eps), the same eigenvectors
    pre = fit_preprocessing(images, whiten="zca", zca_epsilon=0.01)
    lam = torch.linalg.eigvalsh(raw)
    got = torch.linalg.eigvalsh(_cov(pre.apply(images)))
    assert torch.allclose(got, lam / (lam + 0.01), atol=1e-5)


def test_gcn_then_zca_is_white_except_the_constant_direction():
    images = torch.from_numpy(_correlated_images())
    out = fit_preprocessing(images, gcn=True, gcn_scale=55.0, whiten="zca", zca_epsilon=1e-9).apply(images)
    d = 48
    ones = torch.full((d, d), 1.0 / d, dtype=torch.float64)  # GCN removes each image's mean
    assert torch.allclose(_cov(out), torch.eye(d, dtype=torch.float64) - ones, atol=1e-4)


def test_transform_is_deterministic_and_applied_unchanged_to_other_images():
    images = torch.from_numpy(_correlated_images())
    a = fit_preprocessing(images, gcn=True, whiten="zca")
    b = fit_preprocessing(images.clone(), gcn=True, whiten="zca")
    assert a.record()["sha256"] == b.record()["sha256"] and torch.equal(a.matrix, b.matrix)
    other = torch.from_numpy(_correlated_images(10, seed=5))
    assert torch.equal(a.apply(other), b.apply(other))
    # a row is transformed alone as in a batch (no statistics of the batch are used)
    assert torch.allclose(a.apply(other[3:4])[0], a.apply(other)[3], atol=1e-6)


@pytest.fixture
def toy_dataset():
    """A registered data set whose validation rows a test can replace."""
    state = {"images": _correlated_images(400, (3, 6, 6)), "labels": np.arange(400) % 4}

    @register_dataset("toy_whiten")
    def _toy(split, root, download):
        imgs = state["images"] if split == "train" else state["images"][:40]
        labels = state["labels"] if split == "train" else state["labels"][:40]
        return ImageData("toy_whiten", split, imgs, labels, list("abcd"), "memory")

    yield state
    del datasets_mod.DATASETS["toy_whiten"]


def test_statistics_come_from_the_training_split_only(toy_dataset):
    kw = dict(val_fraction=0.25, seed=3, gcn=True, whiten="zca", zca_epsilon=0.01)
    first = prepare_data("toy_whiten", with_test=True, **kw)
    assert first.train.images.dtype == torch.float32 and first.preprocessing is not None
    assert first.record["preprocess"]["fitted_on"] == len(first.train) == 300
    # replace every validation image by noise: the transform and the training data stay
    _, val_idx = stratified_split(toy_dataset["labels"], val_fraction=0.25, seed=3)
    noisy = toy_dataset["images"].copy()
    noisy[val_idx] = np.random.default_rng(1).integers(0, 256, size=noisy[val_idx].shape, dtype=np.uint8)
    toy_dataset["images"] = noisy
    second = prepare_data("toy_whiten", with_test=False, **kw)
    assert second.record["preprocess"]["sha256"] == first.record["preprocess"]["sha256"]
    assert torch.equal(second.train.images, first.train.images)
    assert not torch.equal(second.val.images, first.val.images)
    # validation and test go through the training transform
    raw_val = torch.from_numpy(noisy[second.record["val_indices"]])
    assert torch.equal(second.val.images, first.preprocessing.apply(raw_val))
    assert torch.equal(second.val.normalize(second.val.images[:5]), second.val.images[:5])
    assert float(second.train.black.abs().sum()) == 0.0


def test_prepare_from_config_passes_the_options_and_default_is_unchanged(toy_dataset):
    plain = prepare_from_config({"name": "toy_whiten", "val_fraction": 0.25})
    assert plain.train.images.dtype == torch.uint8 and plain.preprocessing is None
    assert "preprocess" not in plain.record
    gcn = prepare_from_config({"name": "toy_whiten", "val_fraction": 0.25, "gcn": True, "gcn_scale": 2.0})
    norms = gcn.val.images.reshape(len(gcn.val), -1).norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, 2.0), atol=1e-5)
    assert gcn.preprocessing.matrix is None and gcn.record["preprocess"]["whiten"] is None


def test_mini_data_is_whitened_too(tmp_path):
    data = prepare_data("fashion_mnist_mini", mini_file=str(tmp_path / "m.npz"), train_subset=20, val_per_class=2,
                        whiten="zca", gcn=True)
    assert data.train.images.dtype == torch.float32 and data.record["preprocess"]["fitted_on"] == 200
    assert len(load_dataset("fashion_mnist_mini")) == 2000


@pytest.mark.parametrize(("section", "message"), [
    ({"whiten": "pca"}, r"data\.whiten: must be null or 'zca', got 'pca'"),
    ({"whiten": "zca", "zca_epsilon": 0}, r"data\.zca_epsilon: must be a finite number > 0"),
    ({"gcn": "yes"}, r"data\.gcn: expected true or false"),
    ({"gcn": True, "gcn_scale": -1.0}, r"data\.gcn_scale: must be a finite number > 0"),
    ({"zca_eps": 0.1}, r"data\.zca_eps: unknown key"),
])  # fmt: skip
def test_bad_options_are_config_errors(section, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"data": {"name": "fashion_mnist_mini", **section}, "budget": {"evaluations": 1}})
    if "zca_eps" not in section:  # prepare_data checks the same options itself
        key = message.split(r"\.", 1)[1].split(":")[0]
        with pytest.raises(ValueError, match=f"^{key}:"):
            prepare_data("fashion_mnist_mini", **section)


def test_config_round_trip_keeps_old_fingerprints():
    base = {"data": {"name": "fashion_mnist_mini"}, "budget": {"evaluations": 1}}
    plain = parse_config(base)
    assert "whiten" not in plain.to_dict()["data"]  # defaults left out: older runs keep their fingerprint
    on = parse_config({**base, "data": {"name": "fashion_mnist_mini", "gcn": True, "whiten": "zca"}})
    assert on.to_dict()["data"]["whiten"] == "zca" and on.fingerprint() != plain.fingerprint()
    assert parse_config(on.to_dict()).to_dict() == on.to_dict()


def test_paper_config_uses_gcn_and_zca():
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "eigen_cifar10.yaml"
    cfg = parse_config(yaml.safe_load(path.read_text()))
    assert cfg.data.gcn is True and cfg.data.whiten == "zca"


def test_training_on_whitened_data_with_padding_and_flips(toy_dataset):
    from deap_nas.evaluation import TrainConfig
    from deap_nas.evaluation.task import train_architecture
    from deap_nas.spaces.eigen import EigenParams, EigenSpace

    data = prepare_data("toy_whiten", val_fraction=0.25, gcn=True, whiten="zca")
    space = EigenSpace(EigenParams(input_shape=(3, 6, 6)))
    genome = {"layers": [{"id": 0, "type": "conv", "inputs": [-1], "kernel": 3, "channels": 8, "stride": 1}],
              "output": 0, "next_id": 1}
    cfg = TrainConfig(epochs=1, batch_size=64, augment={"pad": 2, "flip": True})
    result = train_architecture(space.decode(genome), data, cfg, head="linear", seed=0)
    assert result.status == "ok" and 0.0 <= result.best_acc <= 1.0, result.message
    bad = TrainConfig(epochs=1, batch_size=64, augment={"autoaugment": True})
    with pytest.raises(ValueError, match="autoaugment: needs uint8 images"):
        train_architecture(space.decode(genome), data, bad, head="linear", seed=0)
