"""Memory format: channels_last (NHWC, the engine's ``channels_last: auto``) against
contiguous NCHW, training the same candidate networks with the same seed in one run.

``auto`` turns channels_last on for every device. On CUDA, NHWC is cuDNN's fast
layout. On CPU, oneDNN's convolutions are also faster in NHWC, the depthwise ones by the
most (ImmuNeCS's DSepConv, MiniGen's dconv, NASGEP's depthwise blocks). This benchmark
keeps that choice honest. It trains each network for ``--epochs`` epochs with both
layouts, interleaved over ``--repeats`` (medians), and prints training images/s, the ratio
NHWC / NCHW and both validation accuracies. The accuracies should agree: the layout
changes the arithmetic's order, not the model.

    python benchmarks/memory_format.py                     # CPU unless CUDA is present
    python benchmarks/memory_format.py --epochs 2 --repeats 3 --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from typing import Any

import torch

from deap_nas.arch import Architecture, Node
from deap_nas.evaluation.config import TrainConfig
from deap_nas.evaluation.task import prepare_data, train_architecture

STEM = Node(0, "conv", {"channels": 16, "kernel": 1, "bn": False, "act": None}, [-1])


def _chain(*ops: tuple[str, dict[str, Any]]) -> Architecture:
    nodes = [STEM] + [Node(i + 1, op, params, [i]) for i, (op, params) in enumerate(ops)]
    return Architecture(nodes)


#: candidate networks of the kinds the searches draw (sequential ImmuNeCS-style layers)
NETWORKS: dict[str, Architecture] = {
    "conv 3x3 x2": _chain(("conv", {"kernel": 3, "bn": True, "act": "relu"}),
                          ("conv", {"kernel": 3, "bn": True, "act": "relu"})),
    "conv 5x5 + pool": _chain(("conv", {"kernel": 5, "bn": True, "act": "relu"}),
                              ("pool", {"type": "max", "kernel": 3, "stride": 2, "padding": "same"})),
    "sep_conv 5x5 x2": _chain(("sep_conv", {"kernel": 5, "bn": True, "act": "relu"}),
                              ("sep_conv", {"kernel": 5, "bn": True, "act": "relu"})),
    "sep_conv 7x7": _chain(("sep_conv", {"kernel": 7, "bn": True, "act": "relu"})),
}  # fmt: skip


def measure(arch: Architecture, data: Any, config: TrainConfig, channels_last: bool) -> tuple[float, float]:
    """(training images/s, validation accuracy) of one training run."""
    cfg = dataclasses.replace(config, channels_last=channels_last)
    r = train_architecture(arch, data, cfg, head="gap_linear", seed=1)
    if not r.ok:
        raise RuntimeError(f"training failed: {r.status} {r.message}")
    return float(r.images_per_sec), float(r.best_acc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dataset", default="fashion_mnist_mini")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)
    if args.device == "cpu":
        torch.set_num_threads(max(1, torch.get_num_threads()))
    data = prepare_data(args.dataset, seed=0, device=args.device)
    config = TrainConfig(epochs=args.epochs, batch_size=64, optimizer="adam", lr=0.01, schedule="none")
    print(f"data: {args.dataset}, train {len(data.train)}, val {len(data.val)}; device {args.device}; "
          f"torch threads {torch.get_num_threads()}; epochs {args.epochs}; repeats {args.repeats}")  # fmt: skip
    for arch in NETWORKS.values():  # warm-up: oneDNN primitive creation, allocator
        measure(arch, data, dataclasses.replace(config, epochs=1), True)
    rows = []
    header = f"{'network':<18} {'NCHW img/s':>11} {'NHWC img/s':>11} {'ratio':>7} {'acc NCHW':>9} {'acc NHWC':>9}"
    print(header)
    print("-" * len(header))
    for name, arch in NETWORKS.items():
        runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(args.repeats):
            for cl in (False, True):
                runs[cl].append(measure(arch, data, config, cl))
        ips = {cl: statistics.median(x[0] for x in v) for cl, v in runs.items()}
        acc = {cl: v[-1][1] for cl, v in runs.items()}
        ratio = ips[True] / ips[False]
        rows.append({"network": name, "nchw_ips": ips[False], "nhwc_ips": ips[True], "ratio": ratio,
                     "acc_nchw": acc[False], "acc_nhwc": acc[True]})  # fmt: skip
        print(f"{name:<18} {ips[False]:>11.0f} {ips[True]:>11.0f} {ratio:>6.2f}x {acc[False]:>9.4f} {acc[True]:>9.4f}")
    geo = statistics.geometric_mean(r["ratio"] for r in rows)
    print(f"geometric mean ratio NHWC / NCHW: {geo:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": args.device, "epochs": args.epochs, "rows": rows, "geomean_ratio": geo}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
