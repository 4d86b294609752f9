"""Training throughput: the evaluation engine against plain training loops, on random
networks of the package's spaces (benchmarks/candidates.py), in one run.

Arms, each training the same network (same seed, optimiser implementation, learning-rate
schedule, batch size, epochs, augmentation pad-crop 2 + horizontal flip, one validation
pass per epoch with the same ``evaluate``):

- engine:        ``deap_nas.evaluation.train`` as configured (``channels_last: auto``).
- engine_nchw:   the same with ``channels_last: false``.
- slicing:       a minimal plain loop: the whole training set normalised once into one
                 float tensor on the device, a permutation per epoch, index slicing per
                 batch, the package's batch augmentation, channels_last.
- dataloader:    a torch ``Dataset`` of PIL images with per-sample torchvision transforms
                 and a ``DataLoader`` (``--workers N`` adds a run with N workers), the usual
                 ``loss.item()`` per step, channels_last.

Each arm's wall time (``time.perf_counter``) and CPU time of this process
(``time.process_time``; DataLoader worker processes are not counted) cover building,
training and validation. Repeats interleave the arms; the table shows medians and the
ratios engine / slicing, engine / engine_nchw and engine / dataloader as speed-ups (the
other arm's time over the engine's: > 1 means the engine is faster).

    python benchmarks/engine.py                  # CPU unless CUDA is present
    python benchmarks/engine.py --quick          # a short run
    python benchmarks/engine.py --repeats 3 --epochs 2 --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from candidates import Candidate, candidate, synthetic  # noqa: E402

from deap_nas.data.device import DeviceDataset  # noqa: E402
from deap_nas.evaluation.augment import AugmentConfig, hflip, pad_crop  # noqa: E402
from deap_nas.evaluation.config import TrainConfig  # noqa: E402
from deap_nas.evaluation.engine import evaluate, train  # noqa: E402
from deap_nas.evaluation.losses import classification_loss  # noqa: E402
from deap_nas.evaluation.optim import lr_at, make_optimizer  # noqa: E402

FAMILIES = ("sequential", "neat", "minigen", "nasgep")
RATIOS = ("slicing", "engine_nchw", "dataloader")


def train_config(c: Candidate, epochs: int) -> TrainConfig:
    """The candidate's training, with ``epochs``, no stopping rule and pad-crop 2 + flip."""
    return dataclasses.replace(c.training, epochs=epochs, max_iterations=None, patience=None,
                               time_limit=None, augment=AugmentConfig(pad=2, flip=True))


# ---------------------------------------------------------------------- arms
def arm_engine(c: Candidate, cfg: TrainConfig, tr: DeviceDataset, va: DeviceDataset, seed: int) -> float:
    res = train(c.module, tr, va, cfg, seed=seed)
    if res.status != "ok":
        raise RuntimeError(f"{c.name}: engine run failed: {res.status}: {res.message}")
    return float(res.history[-1]["val_acc"])


def _amp(device: torch.device) -> Any:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def arm_slicing(c: Candidate, cfg: TrainConfig, tr: DeviceDataset, va: DeviceDataset, seed: int) -> float:
    """The minimal loop: one normalised tensor, index slicing, batch augmentation."""
    dev = tr.device
    torch.manual_seed(seed)
    model = c.module().to(dev).to(memory_format=torch.channels_last)
    opt = make_optimizer(model.parameters(), cfg, dev)
    gen = torch.Generator(device=dev).manual_seed(seed)
    x_all, y_all = tr.normalize(tr.images), tr.labels
    bs, n = cfg.batch_size, len(tr)
    per_epoch = n // bs
    step, acc = 0, 0.0
    for _ in range(cfg.epochs):
        model.train()
        order = torch.randperm(n, generator=gen, device=dev)
        for start in range(0, per_epoch * bs, bs):
            idx = order[start:start + bs]
            x = hflip(pad_crop(x_all[idx], 2, gen, fill=tr.black), gen)
            x = x.contiguous(memory_format=torch.channels_last)
            for group in opt.param_groups:
                group["lr"] = lr_at(cfg, step / per_epoch, cfg.epochs)
            with _amp(dev):
                out = model(x)
            loss = classification_loss(out, y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        acc = evaluate(model, va, cfg.eval_batch_size)
    return acc


class PILImages(Dataset):
    """uint8 (N, C, H, W) images as PIL images through a per-sample torchvision transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Any) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        img = self.images[i]
        pil = Image.fromarray(img[0]) if img.shape[0] == 1 else Image.fromarray(img.transpose(1, 2, 0))
        return self.transform(pil), int(self.labels[i])


def make_loader(tr: DeviceDataset, batch_size: int, workers: int) -> DataLoader:
    from torchvision import transforms as T

    x, y = tr.images.cpu().numpy(), tr.labels.cpu().numpy()
    tf = T.Compose([T.RandomCrop(x.shape[-1], padding=2), T.RandomHorizontalFlip(), T.ToTensor(),
                    T.Normalize(tr.mean, tr.std)])
    return DataLoader(PILImages(x, y, tf), batch_size=batch_size, shuffle=True, drop_last=True,
                      num_workers=workers, pin_memory=tr.device.type == "cuda",
                      persistent_workers=workers > 0)


def arm_dataloader(loader: DataLoader) -> Callable[..., float]:
    def run(c: Candidate, cfg: TrainConfig, tr: DeviceDataset, va: DeviceDataset, seed: int) -> float:
        dev = tr.device
        torch.manual_seed(seed)
        model = c.module().to(dev).to(memory_format=torch.channels_last)
        opt = make_optimizer(model.parameters(), cfg, dev)
        step, acc, per_epoch = 0, 0.0, len(loader)
        for _ in range(cfg.epochs):
            model.train()
            for x, y in loader:
                x = x.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
                y = y.to(dev, non_blocking=True)
                for group in opt.param_groups:
                    group["lr"] = lr_at(cfg, step / per_epoch, cfg.epochs)
                with _amp(dev):
                    out = model(x)
                loss = classification_loss(out, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss.item()
                step += 1
            acc = evaluate(model, va, cfg.eval_batch_size)
        return acc

    return run


def timed(fn: Callable[..., float], *args: Any) -> dict[str, float]:
    """Wall and CPU seconds of ``fn(*args)`` (device work finished) and its accuracy."""
    w, p = time.perf_counter(), time.process_time()
    acc = fn(*args)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return {"wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - p, "val_acc": acc}


# ---------------------------------------------------------------------- one network
def bench_network(c: Candidate, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """All arms on one candidate: a warm-up run each, then ``--repeats`` interleaved runs."""
    xtr, ytr = synthetic(args.n_train, c.input_shape, seed=0)
    xva, yva = synthetic(args.n_val, c.input_shape, seed=1)
    tr = DeviceDataset.from_numpy(xtr, ytr, device=device)
    va = DeviceDataset.from_numpy(xva, yva, tr.mean, tr.std, device, num_classes=10)
    cfg = train_config(c, args.epochs)
    arms: dict[str, tuple[Callable[..., float], TrainConfig]] = {
        "engine": (arm_engine, cfg),
        "engine_nchw": (arm_engine, dataclasses.replace(cfg, channels_last=False)),
        "slicing": (arm_slicing, cfg),
        "dataloader": (arm_dataloader(make_loader(tr, cfg.batch_size, 0)), cfg),
    }
    if args.workers:
        arms[f"dataloader_w{args.workers}"] = (arm_dataloader(make_loader(tr, cfg.batch_size, args.workers)), cfg)
    for fn, arm_cfg in arms.values():  # warm-up: allocator, oneDNN / cuDNN primitives, workers
        fn(c, dataclasses.replace(arm_cfg, epochs=1), tr, va, 99)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in arms}
    for r in range(args.repeats):
        for name, (fn, arm_cfg) in arms.items():
            runs[name].append(timed(fn, c, arm_cfg, tr, va, r))
    med = {name: {k: statistics.median(x[k] for x in rs) for k in ("wall_s", "cpu_s", "val_acc")}
           for name, rs in runs.items()}
    eng = med["engine"]
    ratios = {f"engine/{name}": {"wall": med[name]["wall_s"] / eng["wall_s"], "cpu": med[name]["cpu_s"] / eng["cpu_s"]}
              for name in arms if name != "engine"}
    return {"network": c.name, "params": c.params, "batch_size": cfg.batch_size, "optimizer": cfg.optimizer,
            "images": args.n_train, "epochs": args.epochs, "medians": med, "ratios": ratios, "runs": runs}


def print_network(row: dict[str, Any]) -> None:
    print(f"\n{row['network']} ({row['params']} parameters, batch {row['batch_size']}, {row['optimizer']})")
    print(f"  {'arm':<16} {'wall s':>8} {'CPU s':>8} {'val acc':>8}")
    for name, m in row["medians"].items():
        print(f"  {name:<16} {m['wall_s']:8.2f} {m['cpu_s']:8.2f} {m['val_acc']:8.3f}")
    for name, r in row["ratios"].items():
        print(f"  speed-up {name:<22} wall {r['wall']:5.2f}x  CPU {r['cpu']:5.2f}x")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--families", nargs="+", default=list(FAMILIES), help="spaces to draw from")
    p.add_argument("--size", choices=("quick", "paper"), default="quick", help="the shipped configs' size")
    p.add_argument("--seed", type=int, default=0, help="architecture draw")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--n-train", type=int, default=2048)
    p.add_argument("--n-val", type=int, default=512)
    p.add_argument("--workers", type=int, default=0, help="also a DataLoader with this many workers")
    p.add_argument("--quick", action="store_true", help="short run: 512 images, 1 epoch, 1 repeat")
    p.add_argument("--json", metavar="OUT", help="write the figures as JSON")
    args = p.parse_args(argv)
    if args.quick:
        args.n_train, args.n_val, args.epochs, args.repeats = 512, 128, 1, 1
    device = torch.device(args.device)
    print(f"device {device}; torch threads {torch.get_num_threads()}; synthetic data, {args.n_train} "
          f"training images; epochs {args.epochs}; repeats {args.repeats} (medians)")
    rows = [bench_network(candidate(f, args.size, args.seed), args, device) for f in args.families]
    for row in rows:
        print_network(row)
    geo = {name: {k: statistics.geometric_mean(r["ratios"][f"engine/{name}"][k] for r in rows)
                  for k in ("wall", "cpu")} for name in RATIOS}
    print()
    for name, g in geo.items():
        print(f"geometric mean speed-up engine/{name}: wall {g['wall']:.2f}x, CPU {g['cpu']:.2f}x")
    if args.json:
        out = {"device": str(device), "torch_threads": torch.get_num_threads(), "args": vars(args),
               "networks": rows, "geomean": geo}
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
