"""Transfer of found architectures to another data set (ImmuNeCS sec. 4.4).

"We therefore run ImmuNeCS on MNIST ... We obtain an NNC of 12 CNNs ... We train them
first on MNIST and obtain a final accuracy of 99.6%. We then train the same architectures
on Fashion-MNIST and measure a final accuracy of 92.8% ... the performance ranking of
architectures on MNIST is completely different to that on Fashion-MNIST."

Here: the architectures are a finished run's committee members (``members: population``:
the ``final_training.top_k`` best networks its last selection kept, as ``deap-nas committee``) or its ``top_k`` best by mean validation accuracy (``members:
top_k``); the run is ``source`` (a run directory) or, without one, the study's ``base``
config searched first into ``<dir>/search``. Each architecture is trained on every data
set of ``datasets`` (``name``, optionally ``label``, ``root`` and a smaller split:
``val_fraction``, ``train_subset``, ``val_subset``) with the run config's
``final_training`` settings (phase ``train_<label>``) and its test accuracy measured once. Statistics: per data set the mean
and best test accuracy and which architecture is best; for every pair of data sets the
Spearman correlation of the two accuracy rankings and the pairwise concordance.
The papers' committee accuracy on each data set is left out (``deap-nas committee`` gives
it on the search data set). Plot ``plots/transfer.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks import check_int
from .base import register_study
from .common import attach_records, record_value
from .stats import concordance, spearman, summarize


@dataclass
class TransferParams:
    """``params:`` of ``study: transfer``."""

    source: str | None = None  # finished run directory; null: search with the base config first
    members: str = "population"  # population | top_k
    top_k: int = 12
    datasets: tuple[dict[str, Any], ...] = field(
        default_factory=lambda: ({"name": "mnist"}, {"name": "fashion_mnist"})
    )

    def __post_init__(self) -> None:
        if self.members not in ("population", "top_k"):
            raise ValueError(f"members: population or top_k, got {self.members!r}")
        check_int("top_k", self.top_k, 2)
        if len(self.datasets) < 2:
            raise ValueError("datasets: give at least two data sets ({name: mnist}, {name: fashion_mnist})")
        from .base import DATA_KEYS

        for i, d in enumerate(self.datasets):
            if not isinstance(d, dict) or "name" not in d or not set(d) <= {"label", *DATA_KEYS}:
                raise ValueError(f"datasets[{i}]: a mapping with name and optionally label, "
                                 f"{', '.join(DATA_KEYS[1:])}; got {d!r}")  # fmt: skip
        names = [d.get("label", d["name"]) for d in self.datasets]
        if len(set(names)) != len(names):
            raise ValueError(f"datasets: repeated label {names} (give each entry its own label)")

    def resolve(self, where: Path, run: dict[str, Any]) -> dict[str, Any]:
        import yaml

        if self.source is not None:
            src = Path(self.source) if Path(self.source).is_absolute() else where / self.source
            if not (src / "config.yaml").is_file():
                raise ValueError(f"source: {src} is not a run directory (no config.yaml)")
            self.source = str(src.absolute())
            if not run:  # the run's own settings, unless the study gives a base
                run = yaml.safe_load((src / "config.yaml").read_text()) or {}
        elif not run:
            raise ValueError("source: give a finished run directory, or a base config to search with first")
        return run


def member_genomes(run_dir: Path, members: str, top_k: int) -> list[Any]:
    """Genomes (JSON) of a run's final population or of its ``top_k`` best architectures."""
    from ..analysis.report import latest_snapshot, load_run, rank_architectures

    if members == "population":  # the committee's members (deap-nas committee)
        from ..analysis.committee import committee_members

        if latest_snapshot(run_dir) is None:
            raise ValueError(f"{run_dir}: no snapshot with a population (use members: top_k)")
        return [p["genome"] for p in committee_members(run_dir)[1]]
    ranked = rank_architectures(load_run(run_dir).journal)[:top_k]
    if not ranked:
        raise ValueError(f"{run_dir}: the journal has no successful evaluation")
    return [r["genome"] for r in ranked]


@register_study("transfer", TransferParams, needs_base=False)
def transfer(study: Any, p: TransferParams) -> dict[str, Any]:
    space = study.space
    source = Path(p.source) if p.source else study.ensure_run("search", study.config.run)
    genomes = member_genomes(source, p.members, p.top_k)
    study.log(f"transfer: {len(genomes)} architectures of {source}")
    acc: dict[str, list[float]] = {}
    hashes: list[str] = []
    for ds in p.datasets:
        label = ds.get("label", ds["name"])
        nets = [space.from_json(g) for g in genomes]
        ev = study.phase(f"train_{label}", context=study.final_context(ds), cache=False, save_weights=False)
        study.evaluate(ev, nets, 0, f"transfer: training on {label}")
        attach_records(ev, nets)
        acc[label] = [record_value(n, "test_accuracy") for n in nets]
        hashes = [(n.result or {}).get("arch_hash") for n in nets]
    names = list(acc)
    lines = [f"transfer: {len(genomes)} architectures from {source}"]
    per_ds = {}
    for name in names:
        s = summarize(acc[name])
        best = max(range(len(genomes)), key=lambda i: acc[name][i] if acc[name][i] == acc[name][i] else -1.0)
        per_ds[name] = {**s, "best_index": best, "best_hash": hashes[best]}
        lines.append(f"  {name:<16} test accuracy mean {s['mean']:.4f} ± {s['std']:.4f}, best {s['best']:.4f} "
                     f"(architecture #{best + 1}, {hashes[best]})")
    pairs = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            c = spearman(acc[a], acc[b])
            k = concordance(acc[a], acc[b])
            pairs[f"{a} vs {b}"] = {"spearman": c, "concordance": k,
                                   "same_best": per_ds[a]["best_index"] == per_ds[b]["best_index"]}  # fmt: skip
            lines.append(f"  ranking {a} vs {b}: Spearman {c.text()}, pairwise concordance "
                         f"{'n/a' if k != k else f'{k:.3f}'}, same best architecture: "
                         f"{'yes' if pairs[f'{a} vs {b}']['same_best'] else 'no'}")  # fmt: skip
    if study.config.output.plots:
        from .plots import plot_scatter_loess

        a, b = names[:2]
        path = study.path / "plots" / "transfer.png"
        panel = {"title": f"test accuracy on {b} against {a}", "xlabel": f"test accuracy on {a}",
                 "ylabel": f"test accuracy on {b}", "groups": {"architectures": (acc[a], acc[b])},
                 "corr": {"architectures": pairs[f"{a} vs {b}"]["spearman"]}}  # fmt: skip
        plot_scatter_loess([panel], path, n_boot=0, seed=study.config.seed,
                           suptitle="Transfer of found architectures (ImmuNeCS sec. 4.4)")
        lines.append(f"plot: {path}")
    return {"summary": "\n".join(lines), "datasets": per_ds, "rankings": pairs,
            "architectures": [{"arch_hash": hashes[i], **{n: acc[n][i] for n in names}} for i in range(len(genomes))]}
