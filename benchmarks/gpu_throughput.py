"""Throughput on one device: candidates/hour and busy fraction with k concurrent worker
processes, and the engine's images/s against a plain loop, for random networks of each
space at the shipped quick and paper configs' sizes (benchmarks/candidates.py; synthetic
data of the configs' image shape, so nothing but the package and torch is needed).

For each candidate and each k in ``--k`` (default 1 2 4 8), k processes (spawned, each
with the data on the device) train the candidate again and again (one epoch of
``--n-train`` images with the config's batch size and optimiser; a new seed each time)
during a window of equal wall time after all are ready (start-up excluded). Reported:
trainings finished per hour, images/s summed over the workers, and the busy fraction: GPU
utilisation sampled through NVML (``torch.cuda.utilization``, needs pynvml) when
available, else the workers' CPU seconds over (window x cores) on CPU, else none. Then one
engine training and one minimal slicing loop (benchmarks/engine.py) per candidate give
images/s of each. ``--minutes`` splits a time budget over the windows.

    python benchmarks/gpu_throughput.py --json out.json          # on a CUDA machine, ~5 min
    python benchmarks/gpu_throughput.py --cpu --minutes 0.2 --k 1 2 --families sequential
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from candidates import SHIPPED, Candidate, candidate, synthetic  # noqa: E402

KS = (1, 2, 4, 8)


def _data(c: Candidate, n: int, device: str) -> tuple[Any, Any]:
    from deap_nas.data.device import DeviceDataset

    xtr, ytr = synthetic(n, c.input_shape, seed=0)
    xva, yva = synthetic(max(n // 8, 10), c.input_shape, seed=1)
    tr = DeviceDataset.from_numpy(xtr, ytr, device=device)
    return tr, DeviceDataset.from_numpy(xva, yva, tr.mean, tr.std, device, num_classes=10)


def _config(c: Candidate, n: int) -> Any:
    bs = min(c.training.batch_size, n)
    return dataclasses.replace(c.training, epochs=1, batch_size=bs, max_iterations=None, patience=None,
                               time_limit=None)


def worker(c: Candidate, n: int, device: str, threads: int, barrier: Any, window: float, out: Any) -> None:
    """Train ``c`` repeatedly for ``window`` seconds after every worker is ready; report
    (trainings finished in the window, their images, CPU seconds)."""
    from deap_nas.evaluation.engine import train

    torch.set_num_threads(threads)
    tr, va = _data(c, n, device)
    cfg = _config(c, n)
    train(c.module, tr, va, cfg, seed=0)  # warm-up, before the window
    barrier.wait()
    deadline, cpu0 = time.time() + window, time.process_time()
    done = images = 0
    while time.time() < deadline:
        r = train(c.module, tr, va, cfg, seed=done + 1)
        if time.time() <= deadline:
            done += 1
            images += r.iterations * cfg.batch_size
    out.put((done, images, time.process_time() - cpu0))


def _sample_utilisation(device: str, stop: threading.Event, samples: list[float]) -> None:
    while not stop.wait(0.2):
        try:
            samples.append(torch.cuda.utilization(torch.device(device)) / 100.0)
        except Exception:  # no pynvml / NVML: no busy fraction from the GPU
            return


def concurrent(c: Candidate, k: int, window: float, args: argparse.Namespace) -> dict[str, Any]:
    """k workers on one device for ``window`` seconds after all are ready."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(k + 1), ctx.Queue()
    threads = max(1, (os.cpu_count() or 1) // k) if args.device == "cpu" else 1
    procs = [ctx.Process(target=worker, args=(c, args.n_train, args.device, threads, barrier, window, out))
             for _ in range(k)]
    for p in procs:
        p.start()
    barrier.wait(timeout=600)  # all ready: the window starts in every worker
    samples: list[float] = []
    stop = threading.Event()
    sampler = None
    if args.device.startswith("cuda"):
        sampler = threading.Thread(target=_sample_utilisation, args=(args.device, stop, samples), daemon=True)
        sampler.start()
    results = [out.get(timeout=window + 600) for _ in procs]
    stop.set()
    for p in procs:
        p.join(timeout=60)
    done, images, cpu = (sum(r[i] for r in results) for i in range(3))
    if samples:
        busy, how = statistics.mean(samples), "nvml"
    elif args.device == "cpu":
        busy, how = min(1.0, cpu / (window * (os.cpu_count() or 1))), "cpu_time"
    else:
        busy, how = None, "unavailable (no pynvml)"
    return {"k": k, "window_s": window, "trainings": done, "candidates_per_hour": done * 3600.0 / window,
            "images_per_s": images / window, "busy_fraction": busy, "busy_source": how}


def engine_vs_loop(c: Candidate, args: argparse.Namespace) -> dict[str, float]:
    """images/s of one engine training and of the minimal slicing loop (after a warm-up)."""
    import engine as bench  # benchmarks/engine.py

    tr, va = _data(c, args.n_train, args.device)
    cfg = _config(c, args.n_train)
    images = (len(tr) // cfg.batch_size) * cfg.batch_size
    out = {}
    for name, fn in (("engine", bench.arm_engine), ("loop", bench.arm_slicing)):
        fn(c, cfg, tr, va, 99)
        t = bench.timed(fn, c, cfg, tr, va, 0)
        out[f"{name}_images_per_s"] = images / t["wall_s"]
    out["ratio"] = out["engine_images_per_s"] / out["loop_images_per_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else None)
    p.add_argument("--cpu", action="store_true", help="run on CPU with tiny sizes (a check, not a measurement)")
    p.add_argument("--k", type=int, nargs="+", default=list(KS), help="workers per device")
    p.add_argument("--families", nargs="+", default=list(SHIPPED), choices=list(SHIPPED))
    p.add_argument("--sizes", nargs="+", default=["quick", "paper"], choices=["quick", "paper"])
    p.add_argument("--minutes", type=float, default=4.0, help="budget for the measurement windows")
    p.add_argument("--n-train", type=int, default=None, help="images per training (default 2048; --cpu 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="OUT")
    args = p.parse_args(argv)
    if args.cpu:
        args.device = "cpu"
    if args.device is None:
        p.error("no CUDA device: give --cpu (or --device cpu) to run on the CPU")
    if args.n_train is None:
        args.n_train = 64 if args.device == "cpu" else 2048
    cands = [candidate(f, s, args.seed) for s in args.sizes for f in args.families]
    window = max(0.5, args.minutes * 60 / (len(cands) * (len(args.k) + 0.5)))
    print(f"device {args.device}; {len(cands)} candidates; k = {args.k}; window {window:.1f} s; "
          f"{args.n_train} images per training")
    rows = []
    for c in cands:
        row = {"candidate": c.name, "params": c.params, "batch_size": _config(c, args.n_train).batch_size,
               "concurrent": [concurrent(c, k, window, args) for k in args.k], **engine_vs_loop(c, args)}
        rows.append(row)
        print_row(row)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": args.device, "torch": torch.__version__,
                                               "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
                                               "args": vars(args), "rows": rows}, indent=2))
    return 0


def print_row(row: dict[str, Any]) -> None:
    print(f"\n{row['candidate']} ({row['params']} parameters, batch {row['batch_size']}): engine "
          f"{row['engine_images_per_s']:.0f} images/s, plain loop {row['loop_images_per_s']:.0f} "
          f"(ratio {row['ratio']:.2f})")
    print(f"  {'k':>3} {'cand/hour':>10} {'images/s':>10} {'busy':>6}  source")
    for r in row["concurrent"]:
        busy = "-" if r["busy_fraction"] is None else f"{r['busy_fraction']:.2f}"
        print(f"  {r['k']:>3} {r['candidates_per_hour']:>10.0f} {r['images_per_s']:>10.0f} {busy:>6}  {r['busy_source']}")


if __name__ == "__main__":
    sys.exit(main())
