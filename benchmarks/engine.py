"""Training throughput: the evaluation engine against a plain torchvision DataLoader loop.

Both sides train the same small CNN with the same optimiser, learning-rate schedule, batch
size, epochs and augmentation (pad-crop 2 + horizontal flip) on the same images, in one
run, and report training images/s (training steps only; evaluation excluded) and the final
validation accuracy (to show both train equally well).

- engine:   ``deap_nas.evaluation.train`` on ``DeviceDataset`` (uint8 on the device,
            index batches, augmentation on whole batches, one host sync per epoch;
            the pad border is black, as torchvision's RandomCrop pads before Normalize).
- baseline: a torch ``Dataset`` over the same uint8 images returning PIL images, per-sample
            torchvision transforms (RandomCrop(28, padding=2), RandomHorizontalFlip,
            ToTensor, Normalize), a ``DataLoader`` (shuffle, drop_last), and the usual
            ``loss.item()`` per step. It gets the engine's channels_last (every device);
            on CUDA also the same bf16 autocast, pinned memory and persistent workers, so the
            ratio measures the data path and synchronisation, not the arithmetic.

One warm-up epoch per method (on a throwaway model) runs before the timed runs; repeats
interleave the methods and the table shows medians.

    python benchmarks/engine.py                      # CPU unless CUDA is present
    python benchmarks/engine.py --synthetic          # no data set needed
    python benchmarks/engine.py --workers 2 --epochs 3 --repeats 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from deap_nas.data.device import DeviceDataset
from deap_nas.evaluation.augment import AugmentConfig
from deap_nas.evaluation.config import TrainConfig
from deap_nas.evaluation.engine import evaluate, train

LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 5e-4


def candidate(in_ch: int = 1, classes: int = 10) -> nn.Module:
    """The benchmark CNN: conv3x3(c->32)-BN-ReLU, conv(32->64, s2)-BN-ReLU, conv(64->64)-BN-ReLU,
    global average pool, linear."""

    def block(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
        return [
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]

    return nn.Sequential(
        *block(in_ch, 32),
        *block(32, 64, 2),
        *block(64, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, classes),
    )


# ---------------------------------------------------------------------- data
def load_data(
    dataset: str | None, n_train: int, n_val: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """First ``n_train`` / ``n_val`` rows of the train / test split of ``dataset``
    (fashion_mnist_mini falls back to fashion_mnist), else synthetic learnable data."""
    names = (
        []
        if dataset is None
        else [dataset] + (["fashion_mnist"] if dataset == "fashion_mnist_mini" else [])
    )
    for name in names:
        try:
            try:
                from deap_nas.evaluation import load_dataset  # type: ignore[attr-defined]
            except ImportError:
                from deap_nas.data.datasets import load_dataset
            tr, te = load_dataset(name, "train"), load_dataset(name, "test")
            return (
                tr.images[:n_train],
                tr.labels[:n_train],
                te.images[:n_val],
                te.labels[:n_val],
                name,
            )
        except Exception as e:  # fall back rather than fail the benchmark
            print(f"{name} unavailable ({type(e).__name__}: {str(e).splitlines()[0]})")
    print("using synthetic data")
    rng = np.random.default_rng(0)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:  # class k: brightness offset 16 k
        y = rng.integers(0, 10, n)
        x = rng.integers(0, 96, (n, 1, 28, 28)) + 16 * y[:, None, None, None]
        return x.astype(np.uint8), y.astype(np.int64)

    xtr, ytr = make(n_train)
    xva, yva = make(n_val)
    return xtr, ytr, xva, yva, "synthetic"


class PILImages(Dataset):
    """uint8 (N, C, H, W) images as PIL images through a per-sample torchvision transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Any) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        img = self.images[i]
        pil = (
            Image.fromarray(img[0])
            if img.shape[0] == 1
            else Image.fromarray(img.transpose(1, 2, 0))
        )
        return self.transform(pil), int(self.labels[i])


# ---------------------------------------------------------------------- engine side
def engine_config(epochs: int, batch_size: int) -> TrainConfig:
    return TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        optimizer="sgd",
        lr=LR,
        momentum=MOMENTUM,
        weight_decay=WEIGHT_DECAY,
        schedule="cosine",
        augment=AugmentConfig(pad=2, flip=True),
    )


def run_engine(
    tr: DeviceDataset, va: DeviceDataset, epochs: int, batch_size: int, seed: int
) -> dict[str, Any]:
    in_ch, classes = tr.shape[0], tr.num_classes
    t = time.perf_counter()
    res = train(
        lambda: candidate(in_ch, classes), tr, va, engine_config(epochs, batch_size), seed=seed
    )
    wall = time.perf_counter() - t
    if res.status != "ok":
        raise RuntimeError(f"engine run failed: {res.status}: {res.message}")
    return {
        "images_per_sec": res.images_per_sec,
        "train_s": res.time_train,
        "wall_s": wall,
        "val_acc": res.history[-1]["val_acc"],
        "images": res.iterations * batch_size,
    }


# ---------------------------------------------------------------------- baseline side
def make_loader(
    x: np.ndarray,
    y: np.ndarray,
    mean: tuple,
    std: tuple,
    batch_size: int,
    workers: int,
    device: torch.device,
) -> DataLoader:
    from torchvision import transforms as T

    h = x.shape[-1]
    tf = T.Compose(
        [
            T.RandomCrop(h, padding=2),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )
    return DataLoader(
        PILImages(x, y, tf),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )


def baseline_epochs(
    model: nn.Module, loader: DataLoader, epochs: int, device: torch.device
) -> tuple[float, int]:
    """Plain loop; returns (seconds in the training loop, images seen)."""
    amp = device.type == "cuda"
    cl = True  # the engine's "auto": NHWC on every device
    if cl:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    total = epochs * len(loader)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (1 + math.cos(math.pi * s / total)) / 2
    )
    loss_fn = nn.CrossEntropyLoss()
    seconds, images = 0.0, 0
    for _ in range(epochs):
        model.train()
        t = time.perf_counter()
        running = 0.0
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                out = model(x)
            loss = loss_fn(out.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item()
            images += x.shape[0]
        seconds += time.perf_counter() - t
    return seconds, images


def run_baseline(
    loader: DataLoader, va: DeviceDataset, epochs: int, seed: int, device: torch.device
) -> dict[str, Any]:
    torch.manual_seed(seed)
    model = candidate(va.shape[0], va.num_classes).to(device)
    t = time.perf_counter()
    seconds, images = baseline_epochs(model, loader, epochs, device)
    wall = time.perf_counter() - t
    acc = evaluate(model, va, 1024)  # same accuracy code for both sides
    return {
        "images_per_sec": images / seconds,
        "train_s": seconds,
        "wall_s": wall,
        "val_acc": acc,
        "images": images,
    }


# ---------------------------------------------------------------------- main
def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "images_per_sec": statistics.median(r["images_per_sec"] for r in runs),
        "train_s": statistics.median(r["train_s"] for r in runs),
        "val_acc": statistics.mean(r["val_acc"] for r in runs),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="also run the baseline with this many DataLoader workers (0 always runs)",
    )
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--dataset", default="fashion_mnist_mini", help="registered data set name")
    p.add_argument(
        "--synthetic", action="store_true", help="random learnable data instead of --dataset"
    )
    p.add_argument("--n-train", type=int, default=2000, help="training images (first rows)")
    p.add_argument("--n-val", type=int, default=500, help="validation images (first test rows)")
    p.add_argument("--json", metavar="OUT", help="write the figures as JSON")
    args = p.parse_args(argv)
    device = torch.device(args.device)

    xtr, ytr, xva, yva, data_name = load_data(
        None if args.synthetic else args.dataset, args.n_train, args.n_val
    )
    tr = DeviceDataset.from_numpy(xtr, ytr, device=device)
    va = DeviceDataset.from_numpy(xva, yva, tr.mean, tr.std, device, num_classes=tr.num_classes)
    worker_counts = [0] + ([args.workers] if args.workers else [])
    print(
        f"data: {data_name}, train {len(tr)}, val {len(va)}, image {tr.shape}; device {device}; "
        f"torch threads {torch.get_num_threads()}; epochs {args.epochs}; batch {args.batch_size}; "
        f"repeats {args.repeats}"
    )

    # warm-up: one epoch per method on a throwaway model (allocator, kernels, worker start)
    run_engine(tr, va, 1, args.batch_size, seed=123)
    loaders = {
        w: make_loader(xtr, ytr, tr.mean, tr.std, args.batch_size, w, device) for w in worker_counts
    }
    for loader in loaders.values():
        baseline_epochs(candidate(tr.shape[0], tr.num_classes).to(device), loader, 1, device)

    # repeats interleave the methods so that drift in machine speed hits all of them alike
    runs: dict[str, list[dict[str, Any]]] = {"engine": []}
    runs.update({f"torchvision_workers{w}": [] for w in worker_counts})
    for r in range(args.repeats):
        runs["engine"].append(run_engine(tr, va, args.epochs, args.batch_size, seed=r))
        for w, loader in loaders.items():
            runs[f"torchvision_workers{w}"].append(run_baseline(loader, va, args.epochs, r, device))
    results = {name: summarize(rs) for name, rs in runs.items()}

    base = results["torchvision_workers0"]["images_per_sec"]
    print()
    print(f"{'method':34s} {'images/s':>10s} {'train s':>9s} {'val acc':>8s} {'vs w=0':>7s}")
    print("-" * 72)
    labels = {"engine": "engine (DeviceDataset, batched aug)"}
    labels.update(
        {f"torchvision_workers{w}": f"torchvision DataLoader, {w} workers" for w in worker_counts}
    )
    for name, r in results.items():
        print(
            f"{labels[name]:34s} {r['images_per_sec']:10.0f} {r['train_s']:9.2f} {r['val_acc']:8.3f} "
            f"{r['images_per_sec'] / base:6.2f}x"
        )
    for w in worker_counts:
        ratio = (
            results["engine"]["images_per_sec"]
            / results[f"torchvision_workers{w}"]["images_per_sec"]
        )
        print(f"ratio engine / torchvision (workers={w}): {ratio:.2f}x")

    if args.json:
        out = {
            "data": data_name,
            "device": str(device),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "repeats": args.repeats,
            "torch_threads": torch.get_num_threads(),
            "results": results,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
