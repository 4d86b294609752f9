"""MiniGen's age-decay ablation (MiniGen sec. III-C, eq. 1 and Fig. 3) as a study.

``study: age_decay`` runs a MiniGen run config (``base``) once per (decay, seed) in
``<dir>/decay_<d>/seed_<s>`` (started, resumed or read, as every study run) and reads each
run's logbook, where the ``minigen`` loop records per generation ``best_birth``, the birth
generation of the highest-accuracy network in the population (Fig. 3's red line), and
``best`` (its accuracy, the green line). The paper's claim: without the decay the search
is "trapped" (the best network stays one born early: generation 3 in Fig. 3, left); with
it, the best keeps being replaced by newer networks (generation 11, right).

Per run: ``final_birth`` (the best network's birth generation at the last generation),
``changes`` (how often the best network changed) and ``mean_age`` (mean of generation -
birth generation). Per decay value: mean, std, best of each over the seeds. Between the
first two decay values (by default 0, no decay, and 0.01, the paper's), two-sided
Mann-Whitney U tests of ``final_birth`` and of ``mean_age`` over the seeds. Plot
``plots/age_decay.png``: one panel per decay value, Fig. 3's two lines for every seed.

With ``single_round: true`` (default) each run is one round of ``generations`` generations
(``generations_per_round`` above ``generations``) and the found-network stop
is disabled (``n_found`` and ``target_accuracy`` made unreachable), so every run lasts the
same number of generations and birth generations are on one axis (the restart rule resets
ages, sec. IV-D). A ``data.mini_file`` gets the seed in its name (``mini_seed1.npz``): the
mini data set is drawn with the run seed, and both decay values of one seed share it. The
paper does not say how many runs Fig. 3 shows (one each, it seems);
the seeds and the tests are ours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checks import check_int
from .base import register_study
from .stats import mann_whitney, summarize

__all__ = ["AgeDecayParams", "age_decay", "birth_statistics", "plot_age_decay"]


@dataclass
class AgeDecayParams:
    """``params:`` of ``study: age_decay``."""

    decays: tuple[float, ...] = (0.0, 0.01)  # eq. 1's coefficient; 0 = no decay (Fig. 3 left)
    seeds: tuple[int, ...] = (0, 1, 2)
    generations: int = 15  # generations per run (Fig. 3 shows about 12-25)
    single_round: bool = True  # no restart, no found-network stop (module doc)

    def __post_init__(self) -> None:
        if len(self.decays) < 2:
            raise ValueError(f"decays: give at least two values to compare (e.g. [0, 0.01]), got {list(self.decays)}")
        if len(set(self.decays)) != len(self.decays):
            raise ValueError(f"decays: repeated value in {list(self.decays)}")
        for d in self.decays:
            if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d < 0:
                raise ValueError(f"decays: each must be a number >= 0, got {d!r}")
        if not self.seeds:
            raise ValueError("seeds: give at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: repeated seed in {list(self.seeds)}")
        check_int("generations", self.generations, 1)
        if not isinstance(self.single_round, bool):
            raise ValueError(f"single_round: must be true or false, got {self.single_round!r}")

    def resolve(self, where: Path, run: dict[str, Any]) -> dict[str, Any]:
        algorithm = run.get("algorithm") or {}
        if algorithm.get("name") != "minigen":
            raise ValueError(f"base: the age-decay study needs a minigen run config, got algorithm "
                             f"{algorithm.get('name')!r}")  # fmt: skip
        return run


def birth_statistics(logbook: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``final_birth``, ``changes``, ``mean_age`` and the (generation, birth, accuracy)
    series of one run's logbook rows that have ``best_birth`` (module doc)."""
    rows = sorted((r for r in logbook if _finite(r.get("gen")) and _finite(r.get("best_birth"))),
                  key=lambda r: float(r["gen"]))  # fmt: skip
    if not rows:
        return {"final_birth": math.nan, "changes": math.nan, "mean_age": math.nan, "series": []}
    gens = [float(r["gen"]) for r in rows]
    births = [float(r["best_birth"]) for r in rows]
    accs = [float(r["best"]) if _finite(r.get("best")) else math.nan for r in rows]
    changes = sum(1 for a, b in zip(births, births[1:], strict=False) if a != b)
    mean_age = sum(g - b for g, b in zip(gens, births, strict=True)) / len(rows)
    return {"final_birth": births[-1], "changes": float(changes), "mean_age": mean_age,
            "series": [list(t) for t in zip(gens, births, accs, strict=True)]}  # fmt: skip


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _label(decay: float) -> str:
    return "no decay" if decay == 0 else f"decay {decay:g}"


@register_study("age_decay", AgeDecayParams, needs_base=True)
def age_decay(study: Any, p: AgeDecayParams) -> dict[str, Any]:
    from ..analysis.report import load_run

    runs: dict[float, list[dict[str, Any]]] = {}
    for d in p.decays:
        for s in p.seeds:
            mapping = _run_mapping(study.config.run, d, s, p)
            path = study.ensure_run(f"decay_{d:g}/seed_{s}", mapping)
            stats = birth_statistics(load_run(path).logbook)
            runs.setdefault(d, []).append({"run": str(path), "seed": s, **stats})
    keys = ("final_birth", "changes", "mean_age")
    lines = [f"age decay (MiniGen eq. 1, Fig. 3): {p.generations} generations, seeds {list(p.seeds)}"]
    summary: dict[str, Any] = {}
    for d, rows in runs.items():
        summary[_label(d)] = {k: summarize([r[k] for r in rows]) for k in keys}
        parts = [f"{k} {summary[_label(d)][k]['mean']:.2f} ± {summary[_label(d)][k]['std']:.2f}" for k in keys]
        lines.append(f"  {_label(d):<12} " + "  ".join(parts) + f"  (n = {len(rows)})")
        lines.append("               final birth generation per seed: "
                     + ", ".join(f"{r['seed']}: {r['final_birth']:g}" for r in rows))  # fmt: skip
    a, b = list(runs)[:2]
    tests = {k: mann_whitney([r[k] for r in runs[b]], [r[k] for r in runs[a]]) for k in ("final_birth", "mean_age")}
    for k, t in tests.items():
        lines.append(f"  {k}, {_label(b)} vs {_label(a)}: {t.text()}")
    out: dict[str, Any] = {"runs": {_label(d): rows for d, rows in runs.items()}, "summary": "\n".join(lines),
                           "statistics": summary, "tests": tests}  # fmt: skip
    if study.config.output.plots:
        path = study.path / "plots" / "age_decay.png"
        plot_age_decay({_label(d): rows for d, rows in runs.items()}, path)
        out["summary"] += f"\nplot: {path}"
    return out


def _run_mapping(run: Mapping[str, Any], decay: float, seed: int, p: AgeDecayParams) -> dict[str, Any]:
    import copy

    data = copy.deepcopy(dict(run))
    data["seed"] = seed
    algorithm = dict(data.get("algorithm") or {})
    algorithm["decay"] = float(decay)
    budget = dict(data.get("budget") or {})
    budget["generations"] = p.generations
    if p.single_round:
        algorithm.update(generations_per_round=p.generations + 1, n_found=10**9, target_accuracy=1.0)
    data["algorithm"] = algorithm
    data["budget"] = budget
    section = dict(data.get("data") or {})
    if section.get("mini_file"):  # a mini data set is drawn with the run seed: one file per seed
        mini = Path(str(section["mini_file"]))
        section["mini_file"] = str(mini.with_name(f"{mini.stem}_seed{seed}{mini.suffix}"))
        data["data"] = section
    return data


def plot_age_decay(runs: Mapping[str, Sequence[Mapping[str, Any]]], path: str | Path) -> None:
    """Fig. 3 for several seeds: one panel per decay value; per seed the best network's
    birth generation (red, left axis) and its accuracy (green, right axis)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from ..analysis.plots import _no_data, _save

    n = max(1, len(runs))
    fig = Figure(figsize=(6.0 * n, 4.6), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (label, rows) in zip(axes, runs.items(), strict=False):
        series = [r for r in rows if r.get("series")]
        if not series:
            _no_data(ax, label, "no data: no logbook row with best_birth")
            continue
        ax2 = ax.twinx()
        for k, r in enumerate(series):
            g, birth, acc = zip(*r["series"], strict=True)
            alpha = 1.0 if k == 0 else 0.55
            ax.step(g, birth, where="mid", color="tab:red", alpha=alpha, label="birth generation" if k == 0 else None)
            ax2.plot(g, acc, color="tab:green", marker=".", alpha=alpha, label="best accuracy" if k == 0 else None)
        top = max(max(x[0] for x in r["series"]) for r in series)
        ax.plot([0, top], [0, top], color="0.5", linewidth=0.8, linestyle=":", label="born this generation")
        ax.set_title(f"{label} ({len(series)} seeds)")
        ax.set_xlabel("generation")
        ax.set_ylabel("birth generation of the best network", color="tab:red")
        ax2.set_ylabel("best accuracy", color="tab:green")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
        ax.legend(handles, labels, fontsize=7, loc="upper left")
    _save(fig, path)
