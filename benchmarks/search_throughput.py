"""Search throughput: evaluations per hour, serial against a process pool, and what a pool
worker's first task costs.

Part 1, a whole search. The same shipped config (default ``random_search_quick``) runs
serially and with a process pool of ``--workers`` workers, each in a fresh ``python -m
deap_nas run`` process; for each: wall seconds, CPU seconds of that process and its
workers (``getrusage(RUSAGE_CHILDREN)``), evaluations per hour (``run.json`` usage over
wall time) and the ratio pool / serial. ``--threads`` sets ``parallel.threads`` for both
(default: what the config ships), so the effect of threads x workers on a small machine
shows. Runs are interleaved over ``--repeats``; the table shows medians.

The pool arm also shows the fraction of worker time spent idle (``run.json`` ``pool``:
1 - busy seconds / (workers x pool seconds); warm-up counts as idle).

Part 2, the first task of a pool worker. ``--workers`` workers of the runtime's process
pool (``deap_nas.runtime.pool.WorkerPool``) get ``--tasks-per-worker`` trainings each of
one and the same architecture (the config's space, data and training), all submitted at
once. A worker's first task includes starting the process, imports, preparing the data and
whatever the first training pays once; the later ones are the steady state. The pool
starts warm as a search's does (``warm_worker``: imports, data, the first optimizer's
imports, before the first task; its seconds are printed on their own and the clock starts
after it); ``--cold`` measures a pool without it. Per worker:
the first task's seconds (from submission to its result), the median of its later ones
(between consecutive results), and their difference: the first-task cost.

    python benchmarks/search_throughput.py                          # both parts
    python benchmarks/search_throughput.py --part first-task --workers 2
    python benchmarks/search_throughput.py --part first-task --cold      # without the warm-up
    python benchmarks/search_throughput.py --threads 1 --repeats 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _percent(fraction: float) -> str:
    """A fraction as a percentage; "-" where there is none (a serial run has no pool)."""
    return "-" if fraction != fraction else f"{100 * fraction:.0f}%"


def run_search(config: str, overrides: list[str], workdir: Path) -> dict[str, float]:
    """One search in a fresh process: wall, CPU (process + workers), evaluations, per hour."""
    run_dir = workdir / f"run{len(list(workdir.iterdir()))}"
    cmd = [sys.executable, "-m", "deap_nas", "run", config, "--run-dir", str(run_dir),
           "--set", "output.plots=false", "--set", "output.progress=false", *sum((["--set", o] for o in overrides), [])]
    cpu0, t0 = _cpu_children(), time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - t0, _cpu_children() - cpu0
    meta = json.loads((run_dir / "run.json").read_text())
    usage, pool = meta["usage"], meta.get("pool") or {}
    return {"wall_s": wall, "cpu_s": cpu, "evaluations": usage["evaluations"],
            "evals_per_hour": usage["evaluations"] / wall * 3600,
            "idle_fraction": pool.get("idle_fraction", float("nan")),
            "warmup_s": pool.get("warmup_seconds", float("nan"))}


def part_search(args: argparse.Namespace) -> dict[str, Any]:
    threads = [f"parallel.threads={args.threads}"] if args.threads else []
    arms = {"serial": ["parallel.backend=serial", *threads],
            f"pool x{args.workers}": ["parallel.backend=process", f"parallel.workers={args.workers}", *threads]}
    out: dict[str, list[dict[str, float]]] = {name: [] for name in arms}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for name, overrides in arms.items():
                res = run_search(args.config, overrides, Path(tmp))
                out[name].append(res)
                print(f"  repeat {r + 1} {name:<10} {res['wall_s']:7.1f} s wall {res['cpu_s']:7.1f} s CPU "
                      f"{res['evals_per_hour']:7.0f} evals/h  workers idle {_percent(res['idle_fraction'])}",
                      flush=True)
    med = {name: {k: statistics.median(x[k] for x in runs) for k in runs[0]} for name, runs in out.items()}
    return {"config": args.config, "threads": args.threads or "as shipped", "median": med, "runs": out}


def part_first_task(args: argparse.Namespace) -> dict[str, Any]:
    from deap_nas.runtime.config import apply_overrides, parse_config, read_yaml
    from deap_nas.runtime.pool import WorkerPool
    from deap_nas.runtime.search import evaluation_context, make_space
    from deap_nas.runtime.worker import EvalTask, run_task, warm_worker
    from deap_nas.shipped import resolve_config

    data = read_yaml(resolve_config(args.config))
    if args.threads:
        data = apply_overrides(data, [f"parallel.threads={args.threads}"])
    config = parse_config(data)
    space = make_space(config)
    context = evaluation_context(config, space)
    arch = space.decode(space.random_individual(random.Random(0)))
    n = args.workers * args.tasks_per_worker
    tasks = [EvalTask(i, arch.hash(), 0, 1, arch.to_dict(), context) for i in range(n)]
    pool = WorkerPool(args.workers) if args.cold else WorkerPool(args.workers, warm_worker, (context,))
    done: list[tuple[float, str]] = []
    lock = threading.Lock()
    if not args.cold:  # the warm-up is reported on its own; the first task starts after it
        while len(pool.warmups) < args.workers:
            time.sleep(0.01)
        print("warm-up per worker: " + ", ".join(f"{w:.2f} s" for _, w in sorted(pool.warmups)))
    t0 = time.perf_counter()
    try:
        futures = [pool.submit(run_task, t) for t in tasks]
        for f in futures:
            f.add_done_callback(lambda f: _stamp(f, done, lock))
        for f in futures:
            f.result()
    finally:
        pool.close()
    return _first_task_table(done, t0)


def _stamp(fut: Any, done: list, lock: threading.Lock) -> None:
    with lock:
        done.append((time.perf_counter(), fut.result().get("worker", "?")))


def _first_task_table(done: list[tuple[float, str]], t0: float) -> dict[str, Any]:
    per: dict[str, dict[str, float]] = {}
    for worker in sorted({w for _, w in done}):
        times = sorted(t for t, w in done if w == worker)
        later = [b - a for a, b in zip(times, times[1:], strict=False)]
        first = times[0] - t0
        steady = statistics.median(later) if later else float("nan")
        per[worker] = {"first_s": first, "later_median_s": steady, "first_task_cost_s": first - steady}
    return per


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="random_search_quick", help="a shipped config name or a YAML file")
    ap.add_argument("--part", choices=("all", "search", "first-task"), default="all")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="parallel.threads (default: as the config ships)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--tasks-per-worker", type=int, default=3)
    ap.add_argument("--cold", action="store_true",
                    help="first task: a pool without the warm-up initializer (as before workers started warm)")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    args = ap.parse_args(argv)
    result: dict[str, Any] = {}
    if args.part in ("all", "search"):
        print(f"search: {args.config}, serial vs {args.workers} workers, threads {args.threads or 'as shipped'}")
        result["search"] = res = part_search(args)
        print(f"{'arm':<10} {'wall s':>8} {'CPU s':>8} {'evals/h':>8} {'idle %':>7}")
        for name, m in res["median"].items():
            print(f"{name:<10} {m['wall_s']:8.1f} {m['cpu_s']:8.1f} {m['evals_per_hour']:8.0f} "
                  f"{_percent(m['idle_fraction']):>7}")
        s, p = res["median"].values()
        print(f"ratio pool / serial: evals/h {p['evals_per_hour'] / s['evals_per_hour']:.2f}, "
              f"CPU per evaluation {p['cpu_s'] / p['evaluations'] / (s['cpu_s'] / s['evaluations']):.2f}")
    if args.part in ("all", "first-task"):
        print(f"first task: {args.workers} workers x {args.tasks_per_worker} trainings of one architecture")
        result["first_task"] = per = part_first_task(args)
        print(f"{'worker':<12} {'first s':>8} {'later s':>8} {'cost s':>8}")
        for w, r in per.items():
            print(f"{w:<12} {r['first_s']:8.2f} {r['later_median_s']:8.2f} {r['first_task_cost_s']:8.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
