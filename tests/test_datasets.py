"""Data set registry, IDX / image-folder / embedded loaders and their error messages."""

import gzip
import importlib.resources
import os
import sys
import tarfile
import time
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deap_nas.data import datasets as datasets_mod
from deap_nas.data import image_folder
from deap_nas.data.idx import IdxFormatError, read_idx
from deap_nas.evaluation import (
    DatasetNotFoundError,
    ImageData,
    available_datasets,
    load_dataset,
    register_dataset,
)

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
_REPO = Path(__file__).resolve().parents[1]
_SHARED = [_REPO.parent / "shared" / "datasets", _REPO / "shared" / "datasets"]
MNIST_DIR = next((p / "mnist" for p in _SHARED if (p / "mnist").is_dir()), None)
CIFAR_JPG = next(
    (p / "cifar10-jpg" / "cifar10_jpg.tar.gz" for p in _SHARED
     if (p / "cifar10-jpg" / "cifar10_jpg.tar.gz").is_file()),
    None,
)  # fmt: skip


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """A private cache; no data root or download switch from the caller's environment."""
    monkeypatch.setenv("DEAP_NAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DEAP_NAS_DATA", raising=False)
    monkeypatch.delenv("DEAP_NAS_DOWNLOAD", raising=False)


# --- helpers -----------------------------------------------------------------------


def _idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    head = bytes([0, 0, 0x08, arr.ndim]) + np.array(arr.shape, dtype=">i4").tobytes()
    return head + arr.tobytes()


def _write_mnist_like(folder: Path, n=6, gz=True, split="train", seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    prefix = "train" if split == "train" else "t10k"
    for stem, arr in (
        (f"{prefix}-images-idx3-ubyte", images),
        (f"{prefix}-labels-idx1-ubyte", labels),
    ):
        data = _idx_bytes(arr)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return images, labels


def _png(path: Path, size=(8, 6), mode="RGB", value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = (value, 255 - value, 7) if mode == "RGB" else value
    Image.new(mode, size, colour).save(path)


def _make_folder(root: Path, splits=("",)) -> Path:
    """Two classes: cat (RGB) and dog (grey), three 8x6 PNGs each, per split folder."""
    for split in splits:
        base = root / split if split else root
        for i in range(3):
            _png(base / "cat" / f"{i}.png", mode="RGB", value=10 * i)
            _png(base / "dog" / f"{i}.png", mode="L", value=100 + i)
    return root


def _tar(src: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w:gz") as tf:
        for p in sorted(src.rglob("*")):
            tf.add(p, arcname=p.relative_to(src).as_posix(), recursive=False)
    return dest


# --- registry and ImageData --------------------------------------------------------


def test_registry_names_and_errors():
    assert available_datasets() == [
        "cifar10", "cifar100", "fashion_mnist", "fashion_mnist_mini", "image_folder", "mnist",
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"unknown data set 'foo'; known: cifar10, cifar100, "):
        load_dataset("foo")
    with pytest.raises(ValueError, match="split"):
        load_dataset("fashion_mnist_mini", split="val")
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("mnist")(lambda split, root, download: None)


def test_register_custom_dataset():
    @register_dataset("toy_for_test")
    def _toy(split, root, download):
        images = np.zeros((4, 1, 2, 2), np.uint8)
        return ImageData("toy_for_test", split, images, np.array([0, 1, 0, 1]), ["a", "b"], "mem")

    try:
        data = load_dataset("toy_for_test", "test")
        assert data.split == "test" and data.num_classes == 2 and data.shape == (1, 2, 2)
    finally:
        del datasets_mod.DATASETS["toy_for_test"]


def test_image_data_validation_and_subset():
    images = np.arange(5 * 3 * 2 * 2, dtype=np.uint8).reshape(5, 3, 2, 2)
    data = ImageData(
        "x", "train", images, np.array([0, 1, 2, 1, 0], np.uint8), ["a", "b", "c"], "m"
    )
    assert data.labels.dtype == np.int64 and len(data) == 5
    sub = data.subset([4, 1])
    assert np.array_equal(sub.images, images[[4, 1]]) and sub.labels.tolist() == [0, 1]
    assert sub.classes == data.classes and "n=2" in repr(sub)
    assert data.class_counts().tolist() == [2, 2, 1]
    with pytest.raises(ValueError, match="uint8"):
        ImageData("x", "train", images.astype(np.float32), data.labels, data.classes, "m")
    with pytest.raises(ValueError, match="labels outside"):
        ImageData("x", "train", images, np.array([0, 1, 2, 3, 0]), data.classes, "m")
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        ImageData("x", "train", images, np.array([0, 1, 2, 0]), data.classes, "m")


# --- embedded and full Fashion-MNIST, MNIST ----------------------------------------


def _mini_npz():
    res = importlib.resources.files("deap_nas.data").joinpath("fashion_mnist_mini.npz")
    with res.open("rb") as f, np.load(f, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_fashion_mnist_mini():
    train = load_dataset("fashion_mnist_mini")
    test = load_dataset("fashion_mnist_mini", "test")
    assert train.images.shape == (2000, 1, 28, 28) and train.images.dtype == np.uint8
    assert test.images.shape == (500, 1, 28, 28)
    assert train.labels.dtype == np.int64 and train.num_classes == 10
    assert train.class_counts().tolist() == [200] * 10
    assert test.class_counts().tolist() == [50] * 10
    assert train.classes[0] == "T-shirt/top" and train.shape == (1, 28, 28)
    z = _mini_npz()
    assert int(z["seed"]) == 2017 and len(np.unique(z["train_indices"])) == 2000
    with pytest.raises(ValueError, match="no root"):
        load_dataset("fashion_mnist_mini", root="/tmp")


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_full_fashion_mnist_matches_mini():
    z = _mini_npz()
    for split, n in (("train", 60000), ("test", 10000)):
        full = load_dataset("fashion_mnist", split)  # found in the Debian location
        assert len(full) == n and full.shape == (1, 28, 28) and full.images.dtype == np.uint8
        assert full.source == str(FASHION_DIR)
        idx = z[f"{split}_indices"]
        assert np.array_equal(full.images[idx], z[f"{split}_images"])
        assert np.array_equal(full.labels[idx], z[f"{split}_labels"])


@pytest.mark.skipif(MNIST_DIR is None, reason="no shared/datasets/mnist beside the checkout")
def test_mnist_flat_and_torchvision_layout(tmp_path):
    data = load_dataset("mnist", "test", root=MNIST_DIR)
    assert len(data) == 10000 and data.shape == (1, 28, 28)
    assert data.class_counts().sum() == 10000 and data.num_classes == 10
    raw = tmp_path / "tv" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (raw / name).symlink_to(MNIST_DIR / name)
    again = load_dataset("mnist", "test", root=tmp_path / "tv")
    assert again.source == str(raw) and np.array_equal(again.images, data.images)


def test_idx_set_from_env_root_gz_and_plain(tmp_path, monkeypatch):
    images, labels = _write_mnist_like(tmp_path / "data" / "fashion-mnist", n=7)
    _write_mnist_like(tmp_path / "plain", n=3, gz=False, split="test")
    monkeypatch.setenv("DEAP_NAS_DATA", str(tmp_path / "data"))
    data = load_dataset("fashion_mnist")
    assert np.array_equal(data.images[:, 0], images) and data.labels.tolist() == labels.tolist()
    assert data.images.flags.writeable
    test = load_dataset("fashion_mnist", "test", root=tmp_path / "plain")  # flat, not gzipped
    assert test.images.shape == (3, 1, 28, 28)


def test_missing_files_message_names_every_place(tmp_path, monkeypatch):
    empty = tmp_path / "nothing_here"
    system = tmp_path / "system_fashion"
    monkeypatch.setattr(datasets_mod, "FASHION_MNIST_SYSTEM_DIR", system)
    monkeypatch.setenv("DEAP_NAS_DATA", str(empty))
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion_mnist", "test")
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for folder in (empty / "FashionMNIST" / "raw", empty / "fashion-mnist", empty):
        assert f"  {folder} (" in msg
    assert "t10k-images-idx3-ubyte" in msg and "apt-get install dataset-fashion-mnist" in msg
    assert "DEAP_NAS_DATA" in msg and "download=True" in msg
    assert str(empty / "FashionMNIST" / "raw") in info.value.looked_in[0]
    assert f"  {system} (" in msg  # the system folder is still searched with DEAP_NAS_DATA set
    with pytest.raises(DatasetNotFoundError, match="cifar-10-batches-py"):
        load_dataset("cifar10", root=empty)
    with pytest.raises(DatasetNotFoundError, match="cifar-100-python"):
        load_dataset("cifar100", root=empty)


def test_search_order_root_then_env_then_system_then_defaults(tmp_path, monkeypatch):
    """No root hides the others: a config's root, DEAP_NAS_DATA and the system folder are
    searched in that order, and the first that holds the files wins."""
    system = tmp_path / "system_fashion"
    monkeypatch.setattr(datasets_mod, "FASHION_MNIST_SYSTEM_DIR", system)
    _write_mnist_like(system, n=5, split="test", seed=1)
    env = tmp_path / "env"
    monkeypatch.setenv("DEAP_NAS_DATA", str(env))
    wrong_root = tmp_path / "config_root"  # a config written for another machine
    assert load_dataset("fashion_mnist", "test", root=wrong_root).source == str(system)
    _write_mnist_like(env / "fashion-mnist", n=4, split="test", seed=2)
    assert load_dataset("fashion_mnist", "test", root=wrong_root).source == str(env / "fashion-mnist")
    _write_mnist_like(wrong_root, n=3, split="test", seed=3)
    data = load_dataset("fashion_mnist", "test", root=wrong_root)
    assert data.source == str(wrong_root) and len(data) == 3
    roots = datasets_mod.search_roots(wrong_root, (system,))
    assert [r.path for r in roots[:3]] == [wrong_root, env, system]
    assert [r.explicit for r in roots[:3]] == [True, True, False]


def test_partial_folder_says_what_is_lacking(tmp_path):
    _write_mnist_like(tmp_path, n=2)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"lacks train-labels-idx1-ubyte"):
        load_dataset("mnist", root=tmp_path)


def _fake_torchvision(monkeypatch, cls, name="MNIST"):
    tv = types.ModuleType("torchvision")
    tv.datasets = types.ModuleType("torchvision.datasets")
    setattr(tv.datasets, name, cls)
    monkeypatch.setitem(sys.modules, "torchvision", tv)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", tv.datasets)


def test_download_only_when_allowed(tmp_path, monkeypatch):
    calls = []

    class FakeMNIST:  # writes the raw files as torchvision's download does
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            _write_mnist_like(Path(root) / "MNIST" / "raw", n=4)

    _fake_torchvision(monkeypatch, FakeMNIST)
    with pytest.raises(DatasetNotFoundError):
        load_dataset("mnist", root=tmp_path)  # default: no download
    assert calls == []
    monkeypatch.setenv("DEAP_NAS_DOWNLOAD", "1")
    data = load_dataset("mnist", root=tmp_path)
    assert calls == [(str(tmp_path), True, True)] and len(data) == 4
    assert data.source == str(tmp_path / "MNIST" / "raw")


def test_failed_download_is_reported(tmp_path, monkeypatch):
    class NoNetwork:
        def __init__(self, root, train, download):
            raise OSError("network unreachable")

    _fake_torchvision(monkeypatch, NoNetwork)
    with pytest.raises(DatasetNotFoundError, match="download into .* failed: network unreachable"):
        load_dataset("mnist", root=tmp_path, download=True)


def test_cifar_pickle_batches_through_torchvision(tmp_path, monkeypatch):
    class FakeCIFAR10:  # stands in for torchvision's reader of the pickle batches
        classes = list(datasets_mod.CIFAR10_CLASSES)

        def __init__(self, root, train, download):
            assert Path(root) == tmp_path and not download
            if not train:
                raise RuntimeError("Dataset not found or corrupted.")
            self.data = np.arange(2 * 32 * 32 * 3, dtype=np.uint8).reshape(2, 32, 32, 3)
            self.targets = [3, 9]

    _fake_torchvision(monkeypatch, FakeCIFAR10, "CIFAR10")
    (tmp_path / "cifar-10-batches-py").mkdir()
    data = load_dataset("cifar10", root=tmp_path / "cifar-10-batches-py")  # the folder itself
    assert data.images.shape == (2, 3, 32, 32) and data.images.flags.c_contiguous
    assert data.images[1, 2, 0, 1] == (32 * 32 * 3 + 3 + 2) % 256  # HWC -> CHW
    assert data.labels.tolist() == [3, 9] and data.source == str(tmp_path / "cifar-10-batches-py")
    with pytest.raises(ValueError, match="torchvision cannot read it"):
        load_dataset("cifar10", "test", root=tmp_path)


# --- IDX format errors --------------------------------------------------------------


def test_corrupt_idx_files(tmp_path):
    bad_magic = tmp_path / "bad"
    bad_magic.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(IdxFormatError, match=f"{bad_magic}: not an IDX file"):
        read_idx(bad_magic)
    good = _idx_bytes(np.zeros((4, 28, 28), np.uint8))
    short = tmp_path / "short"
    short.write_bytes(good[:-10])
    with pytest.raises(IdxFormatError, match="truncated"):
        read_idx(short)
    long = tmp_path / "long"
    long.write_bytes(good + b"\x00")
    with pytest.raises(IdxFormatError, match="longer than"):
        read_idx(long)
    cut_gz = tmp_path / "cut.gz"
    cut_gz.write_bytes(gzip.compress(good)[:-12])
    with pytest.raises(IdxFormatError, match="cut.gz"):
        read_idx(cut_gz)
    assert read_idx(_write_bytes(tmp_path / "ok", good)).shape == (4, 28, 28)


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_corrupt_idx_in_data_set(tmp_path):
    _write_mnist_like(tmp_path, n=5)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    with pytest.raises(IdxFormatError, match="train-images-idx3-ubyte.gz: truncated"):
        load_dataset("mnist", root=tmp_path)


# --- image folders -------------------------------------------------------------------


def test_image_folder_directory_and_cache(tmp_path, monkeypatch):
    root = _make_folder(tmp_path / "pets")
    (root / "cat" / ".DS_Store").write_bytes(b"junk")
    (root / "dog" / "._0.png").write_bytes(b"not a png")  # macOS resource fork
    (root / "README.txt").write_text("ignored")
    data = load_dataset("image_folder", root=root)
    assert data.images.shape == (6, 3, 6, 8) and data.images.dtype == np.uint8
    assert data.classes == ["cat", "dog"] and data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.images[1, :, 0, 0].tolist() == [10, 245, 7]
    assert data.images[4, :, 0, 0].tolist() == [101, 101, 101]  # grey -> RGB
    assert data.source == str(root.absolute())
    cache = list((tmp_path / "cache" / "image_folder").iterdir())
    assert [p.suffix for p in cache] == [".npz"]  # no temporary files left behind

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(image_folder, "_decode", no_decode)
    again = load_dataset("image_folder", root=root)
    assert np.array_equal(again.images, data.images) and again.classes == data.classes
    os.utime(root / "dog" / "2.png", ns=(1, 1))  # a changed file invalidates the cache
    with pytest.raises(AssertionError, match="decoded again"):
        load_dataset("image_folder", root=root)
    with pytest.raises(ValueError, match="no top-level train/ and test/ folders"):
        load_dataset("image_folder", "test", root=root)


def test_image_folder_tar_with_splits_and_cache(tmp_path, monkeypatch):
    src = _make_folder(tmp_path / "src" / "pets", splits=("train", "test"))
    _png(src / "test" / "dog" / "9.png", mode="L", value=3)
    archive = _tar(tmp_path / "src", tmp_path / "pets.tar.gz")  # with a wrapper folder
    train = load_dataset("image_folder", "train", root=archive)
    test = load_dataset("image_folder", "test", root=archive)
    assert len(train) == 6 and len(test) == 7 and test.classes == ["cat", "dog"]
    assert test.class_counts().tolist() == [3, 4] and train.shape == (3, 6, 8)
    names = sorted(p.name for p in (tmp_path / "cache" / "image_folder").iterdir())
    assert len(names) == 2 and names[0].startswith("pets-") and names[0].endswith("-test.npz")
    monkeypatch.setattr(image_folder, "_list_archive", None)  # would fail if the tar is read
    again = load_dataset("image_folder", "test", root=archive)
    assert np.array_equal(again.images, test.images)


def test_image_folder_grey_only_and_plain_tar(tmp_path):
    for cls in ("a", "b", "c"):
        _png(tmp_path / "g" / cls / "x.png", mode="L", value=ord(cls))
    data = load_dataset("image_folder", root=_tar(tmp_path / "g", tmp_path / "g.tar"))
    assert data.images.shape == (3, 1, 6, 8) and data.images[:, 0, 0, 0].tolist() == [97, 98, 99]


def test_image_folder_size_mismatch_names_the_file(tmp_path):
    root = _make_folder(tmp_path / "pets")
    _png(root / "dog" / "big.png", size=(9, 6), mode="L")
    with pytest.raises(ValueError, match=r"'dog/big.png' is 9x6 \(WxH\), expected 8x6"):
        load_dataset("image_folder", root=root)


def test_image_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="needs root"):
        load_dataset("image_folder")
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_dataset("image_folder", root=tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        load_dataset("image_folder", root=tmp_path / "empty")
    _png(tmp_path / "bad" / "cat" / "0.png")
    (tmp_path / "bad" / "cat" / "1.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot decode image 'cat/1.png'"):
        load_dataset("image_folder", root=tmp_path / "bad")
    _make_folder(tmp_path / "onlytrain", splits=("train",))
    with pytest.raises(ValueError, match="no 'test/' folder"):
        load_dataset("image_folder", "test", root=tmp_path / "onlytrain")


def test_cifar10_reads_jpeg_image_folder(tmp_path):
    classes = datasets_mod.CIFAR10_CLASSES
    for split in ("train", "test"):
        for i, cls in enumerate(classes):
            path = tmp_path / "src" / split / cls / "0000.jpg"
            path.parent.mkdir(parents=True)
            Image.new("RGB", (32, 32), (i * 20, 0, 0)).save(path, quality=95)
    (tmp_path / "root" / "cifar10-jpg").mkdir(parents=True)
    _tar(tmp_path / "src", tmp_path / "root" / "cifar10-jpg" / "cifar10_jpg.tar.gz")
    data = load_dataset("cifar10", "test", root=tmp_path / "root")
    assert data.name == "cifar10" and data.classes == list(classes)
    assert data.images.shape == (10, 3, 32, 32) and data.labels.tolist() == list(range(10))
    assert data.source.endswith("cifar10-jpg/cifar10_jpg.tar.gz")


@pytest.mark.slow
@pytest.mark.skipif(CIFAR_JPG is None, reason="no shared/datasets/cifar10-jpg")
def test_cifar10_real_jpeg_tarball(capsys):
    t0 = time.perf_counter()
    train = load_dataset("cifar10", "train", root=CIFAR_JPG)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    test = load_dataset("cifar10", "test", root=CIFAR_JPG)
    train2 = load_dataset("cifar10", "train", root=CIFAR_JPG)
    cached = time.perf_counter() - t0
    assert train.images.shape == (50000, 3, 32, 32) and test.images.shape == (10000, 3, 32, 32)
    assert train.class_counts().tolist() == [5000] * 10
    assert test.class_counts().tolist() == [1000] * 10
    assert np.array_equal(train.images, train2.images)
    with capsys.disabled():
        print(f"\ncifar10 JPEG: first load {first:.1f} s, cached train+test {cached:.2f} s")
