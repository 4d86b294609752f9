"""Image data sets as uint8 NCHW arrays, behind a small name registry.

``load_dataset(name, split, root, download)`` returns an ``ImageData``. Registered names:
``fashion_mnist``, ``mnist`` (raw IDX files, flat or in torchvision's ``<root>/MNIST/raw``
layout), ``cifar10`` (torchvision pickle batches, or the ``cifar10_jpg.tar.gz`` image
folder), ``cifar100`` (torchvision pickle batches), ``image_folder`` (a folder or tar of
class folders, see ``image_folder``) and ``fashion_mnist_mini`` (2,000 + 500 Fashion-MNIST
images shipped inside the package). Where roots are searched and when a download may run
is described in ``search_roots``. torchvision is imported only when it is used.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import idx
from .image_folder import is_archive, read_image_folder
from .roots import (
    DatasetNotFoundError,
    download_allowed,
    download_root,
    how_to_get,
    search_roots,
    unique,
)

__all__ = [
    "DATASETS",
    "DatasetNotFoundError",
    "ImageData",
    "SPLITS",
    "available_datasets",
    "load_dataset",
    "register_dataset",
]

SPLITS = ("train", "test")


@dataclass(eq=False, repr=False)
class ImageData:
    """One split of an image data set: uint8 images (N, C, H, W) and int64 labels (N,)."""

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    source: str

    def __post_init__(self) -> None:
        if not isinstance(self.images, np.ndarray) or self.images.dtype != np.uint8:
            raise ValueError(f"{self.name}: images must be a uint8 array")
        if self.images.ndim != 4:
            raise ValueError(f"{self.name}: images must be (N, C, H, W), got {self.images.shape}")
        labels = np.asarray(self.labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{self.name}: labels must be a 1-D integer array")
        self.labels = labels.astype(np.int64, copy=False)
        self.classes = [str(c) for c in self.classes]
        if len(self.labels) != len(self.images):
            raise ValueError(
                f"{self.name}: {len(self.images)} images but {len(self.labels)} labels"
            )
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError(f"{self.name}: labels outside 0..{len(self.classes) - 1}")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (
            f"ImageData(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"shape={self.shape}, classes={self.num_classes}, source={self.source!r})"
        )

    def class_counts(self) -> np.ndarray:
        """Images per class, (num_classes,) int64."""
        return np.bincount(self.labels, minlength=self.num_classes)

    def subset(self, indices: np.ndarray | list[int]) -> ImageData:
        """The images at `indices` (integer positions or a boolean mask), same metadata."""
        idx = np.asarray(indices)
        if idx.dtype != bool and not np.issubdtype(idx.dtype, np.integer):
            if idx.size:
                raise ValueError("subset indices must be integers or a boolean mask")
            idx = idx.astype(np.int64)
        return ImageData(
            self.name,
            self.split,
            self.images[idx],
            self.labels[idx],
            list(self.classes),
            self.source,
        )


Loader = Callable[[str, str | Path | None, bool | None], ImageData]
DATASETS: dict[str, Loader] = {}


def register_dataset(name: str) -> Callable[[Loader], Loader]:
    """Decorator registering `loader(split, root, download) -> ImageData` under `name`."""

    def decorate(loader: Loader) -> Loader:
        if name in DATASETS:
            raise ValueError(f"data set {name!r} is already registered")
        DATASETS[name] = loader
        return loader

    return decorate


def available_datasets() -> list[str]:
    """Registered data set names, sorted."""
    return sorted(DATASETS)


def load_dataset(
    name: str,
    split: str = "train",
    root: str | Path | None = None,
    download: bool | None = None,
) -> ImageData:
    """Load one split ('train' or 'test') of a registered data set.

    Raises ValueError for an unknown name or split and DatasetNotFoundError (a
    FileNotFoundError) naming every place looked in when the data is not found.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(available_datasets())}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return DATASETS[name](split, root, download)


# --- MNIST-style IDX sets -------------------------------------------------------------

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
MNIST_CLASSES = (
    "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
    "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
)  # fmt: skip
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


def _describe(folder: Path, found: tuple[Path | None, Path | None], split: str) -> str:
    if not folder.is_dir():
        return f"  {folder} (no such folder)"
    lacking = [n for n, f in zip(idx.expected_names(split), found, strict=True) if f is None]
    return f"  {folder} (lacks {', '.join(lacking)})"


def _load_idx_set(
    name: str,
    split: str,
    root: str | Path | None,
    download: bool | None,
    *,
    classes: tuple[str, ...],
    subdirs: tuple[str, ...],
    torchvision_class: str,
    system_dirs: tuple[Path, ...] = (),
    hint: str = "",
) -> ImageData:
    folders = []
    for r in search_roots(root, system_dirs):
        if r.path in system_dirs:
            folders.append(r.path)
        else:
            folders += [r.path / s for s in subdirs] + ([r.path] if r.explicit else [])
    looked = []
    for folder in unique(folders):
        found = idx.find_split_files(folder, split)
        if found[0] and found[1]:
            return _idx_data(name, split, folder, found, classes)
        looked.append(_describe(folder, found, split))
    names = " and ".join(idx.expected_names(split))
    message = f"data set {name!r} ({split}) not found: looked for {names} in:\n" + "\n".join(looked)
    if download_allowed(download):
        target = download_root(root)
        try:
            import torchvision.datasets

            getattr(torchvision.datasets, torchvision_class)(
                str(target), train=split == "train", download=True
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise DatasetNotFoundError(
                f"{message}\nand the download into {target} failed: {exc}", looked
            ) from exc
        folder = target / torchvision_class / "raw"
        found = idx.find_split_files(folder, split)
        if found[0] and found[1]:
            return _idx_data(name, split, folder, found, classes)
        looked.append(_describe(folder, found, split))
    raise DatasetNotFoundError(f"{message}\n{how_to_get(root, hint)}", looked)


def _idx_data(
    name: str, split: str, folder: Path, found: tuple, classes: tuple[str, ...]
) -> ImageData:
    images, labels = idx.read_image_label_pair(*found)
    if len(labels) and labels.max() >= len(classes):
        raise idx.IdxFormatError(f"{found[1]}: label {labels.max()} >= {len(classes)} classes")
    return ImageData(name, split, images, labels, list(classes), str(folder))


@register_dataset("fashion_mnist")
def _fashion_mnist(split: str, root: str | Path | None, download: bool | None) -> ImageData:
    return _load_idx_set(
        "fashion_mnist",
        split,
        root,
        download,
        classes=FASHION_MNIST_CLASSES,
        subdirs=("FashionMNIST/raw", "fashion-mnist", "fashion_mnist"),
        torchvision_class="FashionMNIST",
        system_dirs=(FASHION_MNIST_SYSTEM_DIR,),
        hint="on Debian/Ubuntu: apt-get install dataset-fashion-mnist "
        f"(puts the files in {FASHION_MNIST_SYSTEM_DIR});",
    )


@register_dataset("mnist")
def _mnist(split: str, root: str | Path | None, download: bool | None) -> ImageData:
    return _load_idx_set(
        "mnist",
        split,
        root,
        download,
        classes=MNIST_CLASSES,
        subdirs=("MNIST/raw", "mnist"),
        torchvision_class="MNIST",
    )


# --- CIFAR ---------------------------------------------------------------------------

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
CIFAR10_JPG = "cifar10_jpg.tar.gz"


def _cifar10_jpg(r: Path) -> list[Path]:
    """Places in root `r` where the CIFAR-10 JPEG image folder (tar or extracted) may be."""
    return [
        r,  # the tarball itself, or an extracted folder with train/ and test/
        r / CIFAR10_JPG,
        r / "cifar10-jpg" / CIFAR10_JPG,
        r / "cifar10-jpg",
        r / "cifar10_jpg",
    ]


def _is_jpg_source(p: Path) -> bool:
    if p.is_file():
        return is_archive(p)
    return (p / "train" / CIFAR10_CLASSES[0]).is_dir()


def _load_cifar(name: str, split: str, root: str | Path | None, download: bool | None) -> ImageData:
    tv_class, folder = ("CIFAR10", "cifar-10-batches-py")
    if name == "cifar100":
        tv_class, folder = ("CIFAR100", "cifar-100-python")
    looked = []
    for r in (r.path for r in search_roots(root)):
        base = r.parent if r.name == folder else r
        if (base / folder).is_dir():
            return _cifar_torchvision(name, split, base, tv_class, folder, download=False)
        looked.append(f"  {base / folder} (torchvision pickle batches)")
        if name == "cifar10":
            for p in _cifar10_jpg(r):
                if _is_jpg_source(p):
                    return _cifar10_from_jpg(split, p)
                looked.append(f"  {p} (JPEG image folder, tar or extracted)")
    looked = list(dict.fromkeys(looked))
    message = f"data set {name!r} ({split}) not found; looked in:\n" + "\n".join(looked)
    if download_allowed(download):
        target = download_root(root)
        try:
            return _cifar_torchvision(name, split, target, tv_class, folder, download=True)
        except (OSError, RuntimeError, ValueError) as exc:
            raise DatasetNotFoundError(
                f"{message}\nand the download into {target} failed: {exc}", looked
            ) from exc
    hint = ""
    if name == "cifar10":
        hint = f"pass root=<a CIFAR-10 image folder or {CIFAR10_JPG}>;"
    raise DatasetNotFoundError(f"{message}\n{how_to_get(root, hint)}", looked)


def _cifar_torchvision(
    name: str, split: str, base: Path, tv_class: str, folder: str, *, download: bool
) -> ImageData:
    import torchvision.datasets

    try:
        ds = getattr(torchvision.datasets, tv_class)(
            str(base), train=split == "train", download=download
        )
    except RuntimeError as exc:  # torchvision's "Dataset not found or corrupted"
        if download:
            raise
        raise ValueError(f"{base / folder}: torchvision cannot read it ({exc})") from exc
    images = np.ascontiguousarray(np.asarray(ds.data, dtype=np.uint8).transpose(0, 3, 1, 2))
    labels = np.asarray(ds.targets, dtype=np.int64)
    return ImageData(name, split, images, labels, list(ds.classes), str(base / folder))


def _cifar10_from_jpg(split: str, path: Path) -> ImageData:
    images, labels, classes = read_image_folder(path, split)
    if tuple(classes) != CIFAR10_CLASSES:
        raise ValueError(f"{path}: class folders {classes} are not CIFAR-10's {CIFAR10_CLASSES}")
    return ImageData("cifar10", split, images, labels, classes, str(path.absolute()))


@register_dataset("cifar10")
def _cifar10(split: str, root: str | Path | None, download: bool | None) -> ImageData:
    return _load_cifar("cifar10", split, root, download)


@register_dataset("cifar100")
def _cifar100(split: str, root: str | Path | None, download: bool | None) -> ImageData:
    return _load_cifar("cifar100", split, root, download)


# --- folders of images and the embedded subset ----------------------------------------


@register_dataset("image_folder")
def _image_folder(split: str, root: str | Path | None, download: bool | None) -> ImageData:
    if root is None:
        raise ValueError("image_folder needs root=<folder of class folders, or a tar of one>")
    if download:
        raise ValueError("image_folder cannot download; point root at an existing folder")
    path = Path(root).expanduser().absolute()
    if not path.exists():
        raise DatasetNotFoundError(f"image folder {path} does not exist", [str(path)])
    images, labels, classes = read_image_folder(path, split)
    return ImageData("image_folder", split, images, labels, classes, str(path))


FASHION_MNIST_MINI = "fashion_mnist_mini.npz"


@register_dataset("fashion_mnist_mini")
def _fashion_mnist_mini(split: str, root: str | Path | None, download: bool | None) -> ImageData:
    """200 (train) / 50 (test) images per class of Fashion-MNIST, shipped in deap_nas.data."""
    if root is not None:
        raise ValueError("fashion_mnist_mini is package data; it takes no root")
    res = importlib.resources.files("deap_nas.data").joinpath(FASHION_MNIST_MINI)
    if not res.is_file():
        raise DatasetNotFoundError(
            f"package data {res} is missing; build it with scripts/build_fashion_mnist_mini.py",
            [str(res)],
        )
    with res.open("rb") as f, np.load(f, allow_pickle=False) as z:
        images, labels = z[f"{split}_images"], z[f"{split}_labels"]
        classes = [str(c) for c in z["classes"]]
    return ImageData("fashion_mnist_mini", split, images, labels, classes, str(res))
