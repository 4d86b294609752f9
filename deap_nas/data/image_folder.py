"""Image-folder data sets: class sub-folders of images, as a folder or a tar archive.

Layout: ``<root>/<class>/.../<image>``. Optional top-level ``train/`` and ``test/`` folders
select the split (``val/`` and similar folders beside them are ignored); without them the
whole folder is the "train" split. One outer wrapper folder (``cifar10/train/...``) is
skipped. Class names are the sorted class folder names (the union over train and test,
so labels agree between splits); hidden files and folders are ignored.

All images are converted to one mode (RGB if any image is colour, else L; alpha is
dropped) and must share one size. A folder is decoded once into an uncompressed uint8
``.npz`` in ``cache_dir()/image_folder``; the cache key is the absolute path with the
archive's size and mtime (for a plain folder: every image file's name, size and mtime).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import time
import warnings
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

__all__ = ["cache_dir", "is_archive", "read_image_folder"]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
SPLIT_DIRS = frozenset({"train", "test", "val", "valid", "validation"})
LOADABLE_SPLITS = ("train", "test")
_CACHE_VERSION = 1
_PROGRESS_EVERY = 10_000
# PIL modes holding one grey channel; every other mode is read as RGB.
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})

Entry = tuple[tuple[str, ...], bytes | Path]  # (path parts, encoded bytes or file path)


def cache_dir() -> Path:
    """The deap_nas cache folder: ``$DEAP_NAS_CACHE``, else ``~/.cache/deap_nas``."""
    env = os.environ.get("DEAP_NAS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "deap_nas"


def is_archive(path: str | Path) -> bool:
    """Whether `path` names a tar archive this module reads (by its suffix)."""
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def _image_suffixes() -> dict[str, str]:
    """Image file suffix -> PIL format name."""
    from PIL import Image

    return Image.registered_extensions()


def _wanted(parts: tuple[str, ...], suffixes: dict[str, str]) -> bool:
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return PurePosixPath(parts[-1]).suffix.lower() in suffixes


def _list_folder(root: Path, suffixes: dict[str, str]) -> tuple[list[Entry], list]:
    """Image files under `root` and a (name, size, mtime) fingerprint of them."""
    entries: list[Entry] = []
    stats: list = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        rel = Path(dirpath).relative_to(root).parts
        for name in sorted(filenames):
            parts = (*rel, name)
            if not _wanted(parts, suffixes):
                continue
            path = Path(dirpath, name)
            st = path.stat()
            entries.append((parts, path))
            stats.append(["/".join(parts), st.st_size, st.st_mtime_ns])
    return entries, stats


def _list_archive(path: Path, suffixes: dict[str, str]) -> list[Entry]:
    """Image members of a tar archive with their bytes, read in one streaming pass."""
    entries: list[Entry] = []
    try:
        with tarfile.open(path, "r|*") as tf:
            for member in tf:
                if not member.isfile():
                    continue
                parts = tuple(p for p in PurePosixPath(member.name).parts if p not in ("", "."))
                if not parts or ".." in parts or parts[0] == "/" or not _wanted(parts, suffixes):
                    continue
                f = tf.extractfile(member)
                if f is not None:
                    entries.append((parts, f.read()))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ValueError(f"{path}: cannot read tar archive ({exc})") from exc
    return entries


def _layout(all_parts: list[tuple[str, ...]]) -> tuple[int, bool]:
    """(wrapper folders to skip, whether the next level holds split folders)."""
    depth = 0
    while True:
        rest = [p[depth:] for p in all_parts if len(p) - depth >= 2]
        if not rest:
            return depth, False
        firsts = {r[0] for r in rest}
        deep = all(len(r) >= 3 for r in rest)
        if deep and firsts <= SPLIT_DIRS:
            return depth, True
        if deep and len(firsts) == 1:
            depth += 1
            continue
        return depth, False


def _group(entries: list[Entry], source: Path) -> tuple[dict[str, list], bool]:
    """Entries grouped per split as sorted (class, relative path, payload) triples."""
    if not entries:
        raise ValueError(f"{source}: no images found (expected <class>/<image> folders)")
    depth, split_layout = _layout([parts for parts, _ in entries])
    groups: dict[str, list] = {}
    for parts, payload in entries:
        rest = parts[depth:]
        if split_layout:
            if len(rest) < 3 or rest[0] not in LOADABLE_SPLITS:
                continue
            split, rest = rest[0], rest[1:]
        elif len(rest) < 2:
            continue  # loose file beside the class folders
        else:
            split = "train"
        groups.setdefault(split, []).append((rest[0], "/".join(parts), payload))
    if not groups:
        raise ValueError(f"{source}: no images inside class folders")
    for items in groups.values():
        items.sort(key=lambda t: (t[0], t[1]))
    return groups, split_layout


def _open_image(payload: bytes | Path, fmt: str | None):
    from PIL import Image, UnidentifiedImageError

    fp = io.BytesIO(payload) if isinstance(payload, bytes) else payload
    if fmt is not None:
        try:  # the suffix's format first: skips probing every plugin (faster)
            return Image.open(fp, formats=[fmt])
        except UnidentifiedImageError:
            if isinstance(fp, io.BytesIO):
                fp.seek(0)
    return Image.open(fp)


def _decode_one(payload: bytes | Path, rel: str, source: Path, fmt: str | None) -> np.ndarray:
    try:
        with _open_image(payload, fmt) as im:
            target = "L" if im.mode in _GREY_MODES else "RGB"
            return np.asarray(im if im.mode == target else im.convert(target))
    except (OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"{source}: cannot decode image {rel!r} ({exc})") from exc


def _decode(groups: dict[str, list], source: Path, progress: bool) -> dict[str, tuple]:
    """Decode every split to (images NCHW uint8, labels int64); one mode and size for all."""
    classes = sorted({cls for items in groups.values() for cls, _, _ in items})
    label_of = {c: i for i, c in enumerate(classes)}
    total = sum(len(items) for items in groups.values())
    t0, done = time.perf_counter(), 0
    formats = _image_suffixes()
    if progress and total >= _PROGRESS_EVERY:
        print(
            f"deap_nas: decoding {total} images of {source} (once; cached in {cache_dir()})",
            file=sys.stderr,
            flush=True,
        )
    decoded: dict[str, list[np.ndarray]] = {}
    for split, items in groups.items():
        arrays = decoded.setdefault(split, [])
        for _, rel, payload in items:
            fmt = formats.get(PurePosixPath(rel).suffix.lower())
            arrays.append(_decode_one(payload, rel, source, fmt))
            done += 1
            if progress and done % _PROGRESS_EVERY == 0:
                print(
                    f"deap_nas: decoded {done}/{total} images of {source.name} "
                    f"({time.perf_counter() - t0:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    colour = any(a.ndim == 3 for arrays in decoded.values() for a in arrays)
    first_split = next(iter(groups))
    ref_rel, ref_hw = groups[first_split][0][1], decoded[first_split][0].shape[:2]
    out: dict[str, tuple] = {}
    for split, items in groups.items():
        arrays = decoded.pop(split)
        images = np.empty((len(arrays), 3 if colour else 1, *ref_hw), dtype=np.uint8)
        for i, (a, (_, rel, _)) in enumerate(zip(arrays, items, strict=True)):
            if a.shape[:2] != ref_hw:
                raise ValueError(
                    f"{source}: image size mismatch: {rel!r} is {a.shape[1]}x{a.shape[0]} "
                    f"(WxH), expected {ref_hw[1]}x{ref_hw[0]} like {ref_rel!r}"
                )
            images[i] = a.transpose(2, 0, 1) if a.ndim == 3 else a
        labels = np.fromiter((label_of[c] for c, _, _ in items), dtype=np.int64, count=len(items))
        out[split] = (images, labels, classes)
    return out


def _cache_file(source: Path, key: str, split: str) -> Path:
    stem = source.name
    for suffix in ARCHIVE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem) or "folder"
    return cache_dir() / "image_folder" / f"{stem}-{key[:16]}-{split}.npz"


def _cache_key(source: Path, stats: list | None) -> str:
    if stats is None:
        st = source.stat()
        info = {"path": str(source), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    else:
        info = {"path": str(source), "files": stats}
    info["version"] = _CACHE_VERSION
    return hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()


def _read_cache(path: Path) -> tuple | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["images"], z["labels"].astype(np.int64), [str(c) for c in z["classes"]]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # damaged: decode again and overwrite


def _write_cache(path: Path, images: np.ndarray, labels: np.ndarray, classes: list[str]) -> None:
    """Atomic write (temporary file + os.replace); a cache that cannot be written is skipped."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=path.stem + ".", suffix=".tmp", delete=False
        ) as f:
            tmp = f.name
            np.savez(f, images=images, labels=labels, classes=np.array(classes, dtype=str))
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        warnings.warn(f"deap_nas: could not write cache {path}: {exc}", stacklevel=3)


def read_image_folder(
    path: str | Path, split: str = "train", *, use_cache: bool = True, progress: bool = True
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images (N, C, H, W) uint8, labels (N,) int64 and class names of one split.

    `path` is a folder of class folders or a tar archive of one (see the module doc).
    Every split is decoded in the same pass and cached; later calls read the cache.
    """
    source = Path(path).expanduser().absolute()
    if split not in LOADABLE_SPLITS:
        raise ValueError(f"split must be one of {LOADABLE_SPLITS}, got {split!r}")
    if not source.exists():
        raise FileNotFoundError(f"image folder {source} does not exist")
    archive = source.is_file()
    if archive and not is_archive(source) and not tarfile.is_tarfile(source):
        raise ValueError(f"{source}: not a folder or a tar archive ({', '.join(ARCHIVE_SUFFIXES)})")

    suffixes = _image_suffixes()
    entries, stats = (None, None) if archive else _list_folder(source, suffixes)
    key = _cache_key(source, stats)
    if use_cache:
        cached = _read_cache(_cache_file(source, key, split))
        if cached is not None:
            return cached
    if archive:
        entries = _list_archive(source, suffixes)
    groups, split_layout = _group(entries, source)
    if split not in groups:
        if split_layout:
            raise ValueError(
                f"{source}: no '{split}/' folder with images (found: {', '.join(sorted(groups))})"
            )
        raise ValueError(
            f"{source} has no top-level train/ and test/ folders, so the whole folder is the "
            f"'train' split; split={split!r} does not exist"
        )
    result = _decode(groups, source, progress)
    if use_cache:
        for name, (images, labels, classes) in result.items():
            _write_cache(_cache_file(source, key, name), images, labels, classes)
    return result[split]
