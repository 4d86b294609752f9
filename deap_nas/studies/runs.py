"""Studies made of whole runs: the multi-seed driver and search against random search.

``study: seeds`` (issue 9, part 7) runs any run config (``base``) once per seed, each in
its own run directory ``<dir>/seed_<k>`` (started, resumed when unfinished, read when
finished), optionally adds already-finished run directories (``runs``), optionally trains
each run's best architecture (``final: train_final``) or its committee (``final:
committee``), and tabulates: one row per run, then mean, std and best of each metric and
the total cost in device-hours (GPU-hours when any training ran on CUDA, else CPU-hours;
wall hours beside). ``table.md`` (Markdown), ``table.tex`` (LaTeX rows) and
``table.csv`` are written; :func:`tabulate_runs` does the same for any run directories
(``deap-nas tabulate RUN_DIR ...``).

``study: search_vs_random`` (ImmuNeCS sec. 4.3, Fig. 7; macro-NAS paper, Fig. 3): each
method (e.g. ``immunecs`` and ``random``, or aging evolution with S = 25 and S = 1) has a
run config and a list of budget *points* (``--set``-style overrides, e.g.
``{budget.evaluations: 40}`` or, for ImmuNeCS, whose budget is steered by ``tau`` and
``max_generations``, ``{algorithm.max_generations: 4, budget.generations: 4}``); every
(method, point, seed) is one run directory. The metric of a run is its final best
validation accuracy (``best_val``), the test accuracy of its best architecture trained
with ``final_training`` (``test``), or its committee's test accuracy (``committee``, the
paper's measure). Statistics: per method and point the mean and std; between the first
two methods, over all runs, a two-sided Mann-Whitney U test and Welch's t test (the
paper: "p = 0.02 for the null hypothesis: Both methods yield the same average committee
test accuracy"), and the same per point index where both have that point. Plots
``plots/search_vs_random.png`` (metric against evaluations used, ImmuNeCS Fig. 7) and
``plots/best_so_far.png`` (best accuracy so far and accuracy CDFs of each method's runs at
its last point, the macro-NAS paper's Fig. 3). Against the ``baseline`` arm (default the
random-search one), per budget point, :mod:`.evidence` adds the final test accuracy on
fresh seeds (``final_seed_offset`` + run seed), the best validation accuracy at equal
trained networks and at equal wall time (:mod:`.budget`), their statistics
(:mod:`.compare`), three more plots and ``results.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks import check_int
from ..runtime.config import apply_overrides
from .base import register_study, resolve_run_mapping
from .common import device_label
from .stats import mann_whitney, summarize, welch_t

FINALS = ("none", "train_final", "committee")
METRICS = ("best_val", "test", "committee")


# ---------------------------------------------------------------------- run metrics
def run_metrics(run_dir: str | Path) -> dict[str, Any]:
    """What a (finished) run directory says about itself: seed, evaluations used, final
    best validation accuracy, test accuracy of the best architecture (mean over the
    ``final/results.json`` seeds of rank 1; ``final_seeds`` those seeds,
    ``test_measurements`` how many models of ``final/`` were tested, ``search_used_test``
    whether any search record holds a test accuracy) and committee test accuracy when
    present, wall and device seconds, and whether the device was a GPU."""
    from ..analysis.plots import final_best, search_records
    from ..analysis.report import load_run

    run = load_run(run_dir)
    usage = run.run.get("usage") or {}
    records = search_records(run.journal)
    device_s = usage.get("device_seconds")
    if device_s is None:
        device_s = sum(float(r.get("time_total") or 0.0) for r in run.journal if not r.get("cached"))
    out: dict[str, Any] = {
        "run": str(run.path),
        "seed": run.config.get("seed"),
        "status": run.run.get("status"),
        "evaluations": int(usage.get("evaluations") or len(records)),
        "best_val": final_best(run.journal),
        "test": math.nan,
        "committee": math.nan,
        "wall_seconds": float(usage.get("seconds") or 0.0),
        "device_seconds": float(device_s),
        "device": device_label(run.journal),
        "iterations": logbook_iterations(run.logbook),
    }
    out["search_used_test"] = any("test_accuracy" in r for r in run.journal)
    final = run.path / "final"
    out["final_seeds"], out["test_measurements"] = [], 0
    if (final / "results.json").is_file():
        models = json.loads((final / "results.json").read_text()).get("models", [])
        accs = [m["test_acc"] for m in models if m.get("rank") == 1 and m.get("test_acc") is not None]
        if accs:
            out["test"] = sum(accs) / len(accs)
        out["final_seeds"] = sorted({m["seed"] for m in models if m.get("rank") == 1})
        out["test_measurements"] = sum(1 for m in models if m.get("test_acc") is not None)
        out["device_seconds"] += sum(float(m.get("seconds") or 0.0) for m in models)
    if (final / "committee.json").is_file():
        c = json.loads((final / "committee.json").read_text())
        if c.get("committee_test_acc") is not None:
            out["committee"] = float(c["committee_test_acc"])
    return out


def logbook_iterations(logbook: Sequence[Mapping[str, Any]]) -> float:
    """Optimizer iterations a run trained, from its logbook's ``iterations`` column (the
    loops that count them, e.g. with paused and continued trainings, log them per
    generation); NaN when the logbook has no such column."""
    values = [r.get("iterations") for r in logbook]
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    return float(sum(numbers)) if numbers else math.nan


def finish_run(run_dir: Path, final: str, epochs: int | None, log: Any, seeds: Sequence[int] | None = None) -> None:
    """Train the run's best architecture (``train_final``, top 1) or committee, unless
    its result file is already there (a resumed study does not train it twice).
    ``seeds`` replaces ``final_training.seeds`` of ``train_final``; results already there
    from other seeds are an error (the test split is measured once per run)."""
    results = run_dir / "final" / "results.json"
    if final == "train_final" and results.is_file() and seeds is not None:
        done = sorted({m.get("seed") for m in json.loads(results.read_text()).get("models", [])})
        if done != sorted(seeds):
            raise ValueError(f"{results}: final training with seeds {done}, not the study's {sorted(seeds)}; "
                             "remove that final/ folder to retrain (its test accuracy was measured already)")
    if final == "train_final" and not results.is_file():
        from ..analysis.final import train_final

        overrides = [f"final_training.seeds={json.dumps(list(seeds))}"] if seeds is not None else []
        train_final(run_dir, top_k=1, epochs=epochs, log=log, overrides=overrides)
    elif final == "committee" and not (run_dir / "final" / "committee.json").is_file():
        from ..analysis.committee import build_committee

        build_committee(run_dir, epochs=epochs, log=log)


def _fmt(v: Any, digits: int = 4) -> str:
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else f"{v:.{digits}f}"
    return "-" if v is None else str(v)


def tabulate_runs(rows: Sequence[Mapping[str, Any]], title: str = "") -> dict[str, Any]:
    """The paper-ready table of several runs' :func:`run_metrics`: Markdown, LaTeX and a
    summary (mean, std, best per metric; total wall and device hours)."""
    metrics = [m for m in METRICS if any(math.isfinite(r.get(m, math.nan)) for r in rows)]
    kind = "GPU" if any(r.get("device") == "GPU" for r in rows) else "CPU"
    summary = {m: summarize([r[m] for r in rows]) for m in metrics}
    summary["evaluations"] = summarize([float(r["evaluations"]) for r in rows])
    total_device_h = sum(r["device_seconds"] for r in rows) / 3600
    total_wall_h = sum(r["wall_seconds"] for r in rows) / 3600
    names = {"best_val": "best val acc", "test": "test acc", "committee": "committee test acc"}
    head = ["run", "seed", "evaluations", *(names[m] for m in metrics), f"{kind}-hours", "wall hours"]
    md = ([f"**{title}**", ""] if title else []) + ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [Path(r["run"]).name, _fmt(r["seed"]), str(r["evaluations"]), *(_fmt(r[m]) for m in metrics),
                 f"{r['device_seconds'] / 3600:.3f}", f"{r['wall_seconds'] / 3600:.3f}"]  # fmt: skip
        md.append("| " + " | ".join(cells) + " |")
    for stat in ("mean", "std", "best"):
        cells = [f"**{stat}**", "", _fmt(summary["evaluations"][stat], 1), *(_fmt(summary[m][stat]) for m in metrics),
                 "", ""]  # fmt: skip
        md.append("| " + " | ".join(cells) + " |")
    md.append("| " + " | ".join(["**total**", "", "", *("" for _ in metrics), f"{total_device_h:.3f}",
                                 f"{total_wall_h:.3f}"]) + " |")  # fmt: skip
    line = "; ".join(
        f"{names[m]} {100 * summary[m]['mean']:.2f} ± {100 * summary[m]['std']:.2f} % "
        f"(best {100 * summary[m]['best']:.2f} %, n = {summary[m]['n']})" for m in metrics
    )
    line += f"; {total_device_h:.3f} {kind}-hours ({total_wall_h:.3f} wall hours) over {len(rows)} runs"
    tex = [
        "% " + " & ".join(["method", *(names[m] for m in metrics), f"{kind}-hours"]),
        " & ".join([title or "method",
                    *(f"${100 * summary[m]['mean']:.2f} \\pm {100 * summary[m]['std']:.2f}$ "
                      f"(${100 * summary[m]['best']:.2f}$)" for m in metrics),
                    f"{total_device_h:.2f}"]) + r" \\",
    ]  # fmt: skip
    return {"markdown": "\n".join(md), "latex": "\n".join(tex), "line": line, "summary": summary,
            "device_hours": total_device_h, "wall_hours": total_wall_h, "device": kind, "rows": list(rows)}


def write_table(path: Path, table: Mapping[str, Any]) -> None:
    from ..runtime.journal import atomic_write_text, write_csv

    atomic_write_text(path / "table.md", table["markdown"] + "\n\n" + table["line"] + "\n")
    atomic_write_text(path / "table.tex", table["latex"] + "\n")
    write_csv(path / "table.csv", table["rows"])


# ---------------------------------------------------------------------- seeds
@dataclass
class SeedsParams:
    """``params:`` of ``study: seeds``."""

    seeds: tuple[int, ...] | None = None  # explicit seeds; default 0 .. n-1
    n: int = 3
    runs: tuple[str, ...] = ()  # finished run directories to add to the table (read, never rerun)
    final: str = "none"  # none | train_final | committee
    final_epochs: int | None = None  # override final_training.training.epochs

    def __post_init__(self) -> None:
        check_int("n", self.n, 0)
        if self.final not in FINALS:
            raise ValueError(f"final: one of {', '.join(FINALS)}, got {self.final!r}")
        if self.seeds is not None and len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: repeated seed in {list(self.seeds)}")

    def seed_list(self) -> list[int]:
        return list(self.seeds) if self.seeds is not None else list(range(self.n))

    def resolve(self, where: Path, run: dict[str, Any]) -> dict[str, Any]:
        self.runs = tuple(str(Path(r) if Path(r).is_absolute() else (where / r)) for r in self.runs)
        if not run and self.seed_list() and not self.runs:
            raise ValueError("base: give a run config to run with several seeds, or finished runs in params.runs")
        return run


@register_study("seeds", SeedsParams, needs_base=False)
def seeds(study: Any, p: SeedsParams) -> dict[str, Any]:
    dirs: list[Path] = []
    if study.config.run:
        for s in p.seed_list():
            dirs.append(study.ensure_run(f"seed_{s}", {**study.config.run, "seed": s}))
    dirs += [Path(r) for r in p.runs]
    if not dirs:
        raise ValueError("params: no run to tabulate (no seeds and no runs)")
    for d in dirs[: len(dirs) - len(p.runs)]:
        finish_run(d, p.final, p.final_epochs, study.log)
    rows = [run_metrics(d) for d in dirs]
    from ..analysis.plots import run_label

    table = tabulate_runs(rows, title=run_label(study.config.run) if study.config.run else "")
    write_table(study.path, table)
    summary = "\n".join([table["markdown"], "", table["line"], f"tables: {study.path / 'table.md'}, table.tex, table.csv"])
    return {"summary": summary, "table": table}


# ---------------------------------------------------------------------- search vs random
@dataclass
class CompareParams:
    """``params:`` of ``study: search_vs_random``: ``methods`` maps a label to
    ``{base: run config path, run: {...}, points: [overrides, ...]}``."""

    methods: dict[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0, 1, 2)
    metric: str = "best_val"  # best_val | test | committee
    final_epochs: int | None = None
    #: the random-search arm the others are compared with; default: the arm named
    #: ``random``, else the (last) arm whose algorithm is random_search, else the last arm
    baseline: str | None = None
    #: final retraining (metric test) of the run with seed s uses seed final_seed_offset + s
    final_seed_offset: int = 10_000
    bootstrap: int = 10_000  # resamples of the difference-of-means interval (seed 0)
    alpha: float = 0.05  # significance level of the sentences in results.md
    title: str | None = None  # results.md heading; default "<arm> against <baseline>"

    def __post_init__(self) -> None:
        check_int("final_seed_offset", self.final_seed_offset, 0)
        check_int("bootstrap", self.bootstrap, 0)
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha: must be in (0, 1), got {self.alpha}")
        clash = sorted(set(self.seeds) & {self.final_seed_offset + s for s in self.seeds})
        if clash:
            raise ValueError(f"final_seed_offset: final seeds {clash} are also search seeds; use a larger offset")
        if self.baseline is not None and self.baseline not in self.methods:
            raise ValueError(f"baseline: no method {self.baseline!r}; methods: {', '.join(self.methods)}")
        if len(self.methods) < 2:
            raise ValueError("methods: give at least two methods (label: {base: ..., points: [...]})")
        if self.metric not in METRICS:
            raise ValueError(f"metric: one of {', '.join(METRICS)}, got {self.metric!r}")
        if not self.seeds:
            raise ValueError("seeds: give at least one seed")
        for label, m in self.methods.items():
            if not isinstance(m, Mapping) or not set(m) <= {"base", "run", "points"}:
                raise ValueError(f"methods.{label}: expected a mapping with base, run and points")
            pts = m.get("points", [{}])
            if not isinstance(pts, list) or not pts or not all(isinstance(x, Mapping) for x in pts):
                raise ValueError(f"methods.{label}.points: a non-empty list of overrides ({{budget.evaluations: 20}})")

    def resolve(self, where: Path, run: dict[str, Any]) -> dict[str, Any]:
        """Read every method's ``base`` now, so ``study.yaml`` holds the whole setup."""
        from ..runtime.config import parse_config

        for label, m in self.methods.items():
            mapping = resolve_run_mapping(m.get("base"), m.get("run"), where, f"params.methods.{label}.")
            points = [dict(x) for x in m.get("points", [{}])]
            for i, pt in enumerate(points):
                parse_config(point_mapping(mapping, pt, 0), source=f"params.methods.{label}.points[{i}]")
            self.methods[label] = {"run": mapping, "points": points}
        if self.baseline is None:
            randoms = [k for k, m in self.methods.items() if (m["run"].get("algorithm") or {}).get("name") == "random_search"]
            self.baseline = "random" if "random" in self.methods else (randoms or list(self.methods))[-1]
        return run

    def final_seeds(self, seed: int) -> list[int]:
        """The seeds of the final retraining of the run with ``seed``."""
        return [self.final_seed_offset + seed]


def point_mapping(run: Mapping[str, Any], point: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The run mapping of one budget point and seed."""
    data = apply_overrides(dict(run), [f"{k}={json.dumps(v)}" for k, v in point.items()])
    data["seed"] = seed
    return data


@register_study("search_vs_random", CompareParams, needs_base=False)
def search_vs_random(study: Any, p: CompareParams) -> dict[str, Any]:
    final = {"test": "train_final", "committee": "committee"}.get(p.metric, "none")
    results: dict[str, list[dict[str, Any]]] = {}
    for label, m in p.methods.items():
        for i, pt in enumerate(m["points"]):
            for s in p.seeds:
                d = study.ensure_run(f"{label}/p{i}_seed{s}", point_mapping(m["run"], pt, s))
                finish_run(d, final, p.final_epochs, study.log, seeds=p.final_seeds(s) if final == "train_final" else None)
                results.setdefault(label, []).append({**run_metrics(d), "point": i})
    lines = [f"search vs random search: metric {p.metric}, seeds {list(p.seeds)}"]
    for label, rows in results.items():
        for i in sorted({r["point"] for r in rows}):
            sel = [r for r in rows if r["point"] == i]
            s = summarize([r[p.metric] for r in sel])
            ev = summarize([float(r["evaluations"]) for r in sel])
            lines.append(f"  {label:<12} point {i}: evaluations {ev['mean']:.1f}  {p.metric} "
                         f"{_fmt(s['mean'])} ± {_fmt(s['std'])} (best {_fmt(s['best'])}, n = {s['n']})")
    a, b = list(results)[:2]
    tests: dict[str, Any] = {}
    xa = [r[p.metric] for r in results[a]]
    xb = [r[p.metric] for r in results[b]]
    tests["all"] = {"mann_whitney": mann_whitney(xa, xb), "welch": welch_t(xa, xb)}
    lines.append(f"  {a} vs {b}, all runs: {tests['all']['mann_whitney'].text()}")
    lines.append(f"  {a} vs {b}, all runs: {tests['all']['welch'].text()}")
    n_points = min(len(p.methods[a]["points"]), len(p.methods[b]["points"]))
    for i in range(n_points if n_points > 1 else 0):
        ya = [r[p.metric] for r in results[a] if r["point"] == i]
        yb = [r[p.metric] for r in results[b] if r["point"] == i]
        tests[f"point {i}"] = {"mann_whitney": mann_whitney(ya, yb), "welch": welch_t(ya, yb)}
        lines.append(f"  point {i}: {tests[f'point {i}']['mann_whitney'].text()}")
    if study.config.output.plots:
        from .plots import plot_metric_vs_evaluations

        path = study.path / "plots" / "search_vs_random.png"
        names = {"best_val": "final best validation accuracy", "test": "test accuracy of the best architecture",
                 "committee": "committee test accuracy"}  # fmt: skip
        plot_metric_vs_evaluations({k: [(float(r["evaluations"]), r[p.metric]) for r in v] for k, v in results.items()},
                                   path, names[p.metric], title=f"{a} against {b}")
        lines.append(f"plot: {path}")
        # macro-NAS Fig. 3: best so far and accuracy CDFs of each method's runs at its last point
        from ..analysis.plots import plot_best_so_far
        from ..analysis.report import load_run

        curves = path.parent / "best_so_far.png"
        last = {k: max(r["point"] for r in v) for k, v in results.items()}
        plot_best_so_far([(k, load_run(r["run"]).journal) for k, v in results.items() for r in v
                          if r["point"] == last[k]], curves)  # fmt: skip
        lines.append(f"plot: {curves}")
    from .evidence import headline, study_evidence

    evidence = study_evidence(study, p, results)
    lines += [f"equal budgets against baseline {p.baseline}:", *headline(evidence),
              f"results: {study.path / 'results.md'}"]  # fmt: skip
    return {"summary": "\n".join(lines), "runs": results, "tests": tests, "evidence": evidence}
