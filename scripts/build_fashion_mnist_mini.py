"""Build deap_nas/data/fashion_mnist_mini.npz, its .json description and licence file.

A stratified subset of Fashion-MNIST (Zalando Research, MIT licence): 200 training
images per class from the training split and 50 per class from the test split, drawn
with a fixed seed. Rerunnable: the output is a pure function of the source files and the
seed, and an existing npz holding the same arrays is left untouched.

    python scripts/build_fashion_mnist_mini.py [--root FOLDER] [--out-dir DIR] [--check]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from deap_nas.data import idx
from deap_nas.data.datasets import load_dataset
from deap_nas.data.splits import stratified_subset

SEED = 2017
TRAIN_PER_CLASS = 200
TEST_PER_CLASS = 50
OUT_DIR = Path(__file__).resolve().parents[1] / "deap_nas" / "data"
NPZ, JSON, LICENSE = "fashion_mnist_mini.npz", "fashion_mnist_mini.json", "LICENSE-fashion-mnist"
COPYRIGHT = "Copyright © [2017] Zalando SE, https://tech.zalando.com"
LICENSE_TEXT = f"""The MIT License (MIT)

{COPYRIGHT}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the “Software”), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED “AS IS”, WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
"""


def _md5(path: Path, *, decompress: bool = False) -> str:
    opener = gzip.open if decompress and path.suffix == ".gz" else open
    h = hashlib.md5()
    with opener(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_arrays(root: str | None) -> tuple[dict[str, np.ndarray], dict]:
    """The npz arrays and a description of the source files."""
    arrays: dict[str, np.ndarray] = {}
    files: dict[str, dict] = {}
    classes: list[str] = []
    for split, per_class in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        data = load_dataset("fashion_mnist", split, root=root, download=False)
        picked = stratified_subset(data.labels, per_class=per_class, seed=SEED)
        arrays[f"{split}_images"] = np.ascontiguousarray(data.images[picked])
        arrays[f"{split}_labels"] = data.labels[picked]
        arrays[f"{split}_indices"] = picked
        classes = data.classes
        for path in idx.find_split_files(data.source, split):
            files[path.name] = {
                "path": str(path),
                "md5": _md5(path),
                "md5_uncompressed": _md5(path, decompress=True),
            }
        print(
            f"{split}: {len(picked)} of {len(data)} images ({per_class} per class) from {data.source}"
        )
    arrays["seed"] = np.array(SEED, dtype=np.int64)
    arrays["classes"] = np.array(classes, dtype=str)
    return arrays, files


def _same(path: Path, arrays: dict[str, np.ndarray]) -> bool:
    if not path.is_file():
        return False
    with np.load(path, allow_pickle=False) as z:
        return set(z.files) == set(arrays) and all(
            z[k].dtype == v.dtype and np.array_equal(z[k], v) for k, v in arrays.items()
        )


def _write_atomic(path: Path, write) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
        write(f)
    os.chmod(f.name, 0o644)
    os.replace(f.name, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="folder with the Fashion-MNIST IDX files (default: search)")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--check", action="store_true", help="only verify the existing npz")
    args = parser.parse_args(argv)

    arrays, files = build_arrays(args.root)
    out_dir: Path = args.out_dir
    npz = out_dir / NPZ
    if _same(npz, arrays):
        print(f"{npz}: up to date (identical arrays), not rewritten")
    elif args.check:
        print(f"{npz}: missing or different from a fresh build", file=sys.stderr)
        return 1
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(npz, lambda f: np.savez_compressed(f, **arrays))
        if not _same(npz, arrays):
            raise RuntimeError(f"{npz}: read-back differs from what was written")
        print(f"{npz}: written")
    if args.check:
        return 0

    meta = {
        "name": "fashion_mnist_mini",
        "description": "stratified subset of Fashion-MNIST: "
        f"{TRAIN_PER_CLASS} train and {TEST_PER_CLASS} test images per class",
        "source": "Fashion-MNIST, Zalando Research, https://github.com/zalandoresearch/fashion-mnist",
        "citation": "Han Xiao, Kashif Rasul, Roland Vollgraf. Fashion-MNIST: a Novel Image "
        "Dataset for Benchmarking Machine Learning Algorithms. arXiv:1708.07747, 2017.",
        "license": "MIT",
        "license_file": LICENSE,
        "copyright": COPYRIGHT,
        "builder": "scripts/build_fashion_mnist_mini.py (stratified_subset, per_class, seed)",
        "seed": SEED,
        "classes": [str(c) for c in arrays["classes"]],
        "counts": {
            "train": int(len(arrays["train_labels"])),
            "test": int(len(arrays["test_labels"])),
            "train_per_class": TRAIN_PER_CLASS,
            "test_per_class": TEST_PER_CLASS,
        },
        "arrays": {k: f"{v.dtype} {tuple(v.shape)}" for k, v in arrays.items()},
        "source_files": {
            name: {k: v for k, v in f.items() if k != "path"} for name, f in files.items()
        },
        "npz_bytes": npz.stat().st_size,
    }
    text = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    for name, content in ((JSON, text), (LICENSE, LICENSE_TEXT)):
        path = out_dir / name
        if path.is_file() and path.read_text(encoding="utf-8") == content:
            print(f"{path}: up to date")
        else:
            _write_atomic(path, lambda f, c=content: f.write(c.encode("utf-8")))
            print(f"{path}: written")
    print(f"{npz}: {npz.stat().st_size / 1e6:.2f} MB, seed {SEED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
