"""Read MNIST-style IDX files (plain or gzip) with numpy only.

The IDX format (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type code, the
number of dimensions, one big-endian int32 per dimension, then the data in C order.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "IdxFormatError",
    "expected_names",
    "find_split_files",
    "read_idx",
    "read_image_label_pair",
]

# type code -> big-endian numpy dtype
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}


class IdxFormatError(ValueError):
    """An IDX file is corrupt, truncated or not what was expected."""


def _open(path: Path):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == _GZIP_MAGIC else open(path, "rb")


def _read_exact(f, n: int) -> bytes:
    data = f.read(n)
    return data if data is not None else b""


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzip detected by its magic bytes) into a native-endian array.

    Raises IdxFormatError naming the file when the header is bad, the data is shorter or
    longer than the header says, or the gzip stream is damaged.
    """
    path = Path(path)
    try:
        with _open(path) as f:
            head = _read_exact(f, 4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
                raise IdxFormatError(f"{path}: not an IDX file (bad magic number {head.hex()!r})")
            dtype, ndim = _IDX_TYPES[head[2]], head[3]
            if ndim == 0:
                raise IdxFormatError(f"{path}: IDX header declares 0 dimensions")
            dims_raw = _read_exact(f, 4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise IdxFormatError(f"{path}: truncated IDX header")
            shape = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">i4"))
            if any(d < 0 for d in shape):
                raise IdxFormatError(f"{path}: negative dimension in IDX header {shape}")
            out = np.empty(shape, dtype=dtype)
            view = memoryview(out.reshape(-1).view(np.uint8))
            got = 0
            while got < view.nbytes:
                n = f.readinto(view[got:])
                if not n:
                    break
                got += n
            if got < view.nbytes:
                raise IdxFormatError(
                    f"{path}: truncated: header says {shape} ({view.nbytes} data bytes), "
                    f"file holds only {got}"
                )
            if _read_exact(f, 1):
                raise IdxFormatError(f"{path}: longer than its header {shape} says")
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IdxFormatError(f"{path}: damaged gzip stream ({exc})") from exc
    return out if dtype.itemsize == 1 else out.astype(dtype.newbyteorder("="))


def _find(folder: Path, stems: list[str]) -> Path | None:
    for stem in stems:
        for suffix in ("", ".gz"):
            p = folder / f"{stem}{suffix}"
            if p.is_file():
                return p
    return None


def find_split_files(folder: str | Path, split: str) -> tuple[Path | None, Path | None]:
    """(images, labels) IDX files of `split` ('train' or 't10k' names) in `folder`, or None each.

    Accepts ``train-images-idx3-ubyte`` and ``train-images.idx3-ubyte`` spellings, each
    uncompressed (preferred, faster) or ``.gz``.
    """
    folder, prefix = Path(folder), _SPLIT_PREFIX[split]
    images = _find(folder, [f"{prefix}-images-idx3-ubyte", f"{prefix}-images.idx3-ubyte"])
    labels = _find(folder, [f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels.idx1-ubyte"])
    return images, labels


def expected_names(split: str) -> tuple[str, str]:
    """The canonical file names of `split`, for error messages."""
    prefix = _SPLIT_PREFIX[split]
    return f"{prefix}-images-idx3-ubyte[.gz]", f"{prefix}-labels-idx1-ubyte[.gz]"


def read_image_label_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images as uint8 (N, 1, H, W) and labels as int64 (N,) from an MNIST-style file pair."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise IdxFormatError(
            f"{images_path}: expected 3-D uint8 images, got {images.ndim}-D {images.dtype}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IdxFormatError(
            f"{labels_path}: expected 1-D uint8 labels, got {labels.ndim}-D {labels.dtype}"
        )
    if len(images) != len(labels):
        raise IdxFormatError(
            f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels"
        )
    return images[:, None], labels.astype(np.int64)
