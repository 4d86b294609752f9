"""Reading a finished (or running) run directory: ranking, text summary, best models.

Everything here reads the plain files of docs/run_directory.md (``config.yaml``,
``run.json``, ``journal.jsonl``, ``logbook.csv``, ``snapshots/``) and never trains.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..arch import Architecture, HeadSpec, architecture_with_head
from ..runtime.journal import read_journal, read_logbook_csv, write_json

__all__ = [
    "NotARunDirectoryError",
    "RunSummary",
    "latest_snapshot",
    "load_run",
    "rank_architectures",
    "run_config",
    "search_head",
    "summary_table",
    "write_best",
]


class NotARunDirectoryError(FileNotFoundError):
    """The path is not a deap_nas run directory (no ``config.yaml`` / ``run.json``)."""


@dataclass
class RunSummary:
    """The plain contents of a run directory."""

    path: Path
    config: dict[str, Any]  # config.yaml as a mapping
    run: dict[str, Any]  # run.json
    journal: list[dict[str, Any]] = field(default_factory=list)
    logbook: list[dict[str, Any]] = field(default_factory=list)


def _check_run_dir(run_dir: str | Path) -> Path:
    p = Path(run_dir)
    missing = [name for name in ("config.yaml", "run.json") if not (p / name).is_file()]
    if missing:
        why = "does not exist" if not p.exists() else f"has no {' and no '.join(missing)}"
        raise NotARunDirectoryError(
            f"{p} is not a deap_nas run directory: it {why} (see docs/run_directory.md)"
        )
    return p


def latest_snapshot(run_dir: str | Path) -> dict[str, Any] | None:
    """The newest snapshot that parses (``snapshots/gen_NNNNNN.json``), or None."""
    for path in sorted(Path(run_dir, "snapshots").glob("gen_*.json"), reverse=True):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a damaged snapshot: the previous one is used
        if isinstance(data, dict):
            return data
    return None


def load_run(run_dir: str | Path) -> RunSummary:
    """Config, run metadata, journal and logbook of ``run_dir``.

    Raises :class:`NotARunDirectoryError` (a ``FileNotFoundError``) naming the directory
    when it is not a run directory. A missing journal reads as empty; a missing
    ``logbook.csv`` falls back to the newest snapshot's logbook.
    """
    p = _check_run_dir(run_dir)
    config = yaml.safe_load((p / "config.yaml").read_text(encoding="utf-8")) or {}
    try:
        run = json.loads((p / "run.json").read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"{p / 'run.json'}: not valid JSON ({e})") from None
    journal_path = p / "journal.jsonl"
    journal = read_journal(journal_path) if journal_path.is_file() else []
    logbook_path = p / "logbook.csv"
    if logbook_path.is_file():
        logbook = read_logbook_csv(logbook_path)
    else:
        snap = latest_snapshot(p)
        logbook = list(snap.get("logbook", [])) if snap else []
    return RunSummary(path=p, config=config, run=run, journal=journal, logbook=logbook)


def run_config(run_dir: str | Path, overrides: Sequence[str] = ()):
    """The run's ``config.yaml`` (with ``key=value`` overrides applied in memory, not
    written back) validated into a :class:`~deap_nas.runtime.config.RunConfig`."""
    from ..runtime.config import apply_overrides, parse_config

    p = _check_run_dir(run_dir)
    data = yaml.safe_load((p / "config.yaml").read_text(encoding="utf-8")) or {}
    return parse_config(apply_overrides(data, overrides), source=str(p / "config.yaml"))


def search_head(config: Any) -> Any:
    """The head candidates were trained with: ``evaluation.head``, else the space's default."""
    if config.evaluation.head is not None:
        return config.evaluation.head
    from ..spaces import SPACES

    return SPACES[config.space.name](config.space.params).default_head


# ---------------------------------------------------------------------- ranking
def _is_ok(entry: Mapping[str, Any]) -> bool:
    acc = entry.get("accuracy")
    return (
        entry.get("status") == "ok"
        and isinstance(acc, (int, float))
        and math.isfinite(acc)
        and entry.get("arch_hash") is not None
    )


def rank_architectures(
    journal: Sequence[Mapping[str, Any]], min_evaluations: int = 1
) -> list[dict[str, Any]]:
    """Successful journal entries grouped by ``arch_hash``, best first.

    Only repeats are averaged: each record's request (``request``, ``role``; see
    :mod:`deap_nas.evaluation.request`) says what it is. Paused stages (training in stages)
    are not final accuracies and are left out; of the remaining records of a hash, those
    of its latest request (the last continuation of a network trained further, e.g.
    one more epoch per generation, or the one request of a scratch network) are the repeats, averaged
    over their seeds. Cached entries reuse an earlier result and add no repeat (a hash
    seen only as cached counts once). ``std`` is the population standard deviation (0
    for one repeat). Sorted by mean accuracy (descending), ties by fewer parameters, then
    hash. Each row: ``rank, arch_hash, mean_accuracy, std_accuracy, count, accuracies,
    best_accuracy, params, depth, weights, weights_eval_id, eval_ids, genome,
    architecture, generation``. ``weights`` is the best repeat's file (the best repeat
    that kept weights), or None.
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    cached_only: dict[str, Mapping[str, Any]] = {}
    for e in by_eval_id(journal):  # journal lines are in completion order
        if not _is_ok(e) or e.get("role") == "stage":
            continue
        h = str(e["arch_hash"])
        if e.get("cached"):
            cached_only.setdefault(h, e)
        else:
            groups.setdefault(h, []).append(e)
    for h, e in cached_only.items():
        groups.setdefault(h, [e])
    groups = {h: _latest_request(entries) for h, entries in groups.items()}

    rows = []
    for h, entries in groups.items():
        if len(entries) < min_evaluations:
            continue
        accs = [float(e["accuracy"]) for e in entries]
        by_acc = sorted(entries, key=lambda e: -float(e["accuracy"]))
        best = by_acc[0]
        with_weights = next((e for e in by_acc if e.get("weights")), None)
        arch = best.get("architecture") or {}
        rows.append(
            {
                "arch_hash": h,
                "mean_accuracy": statistics.fmean(accs),
                "std_accuracy": statistics.pstdev(accs) if len(accs) > 1 else 0.0,
                "count": len(accs),
                "accuracies": accs,
                "best_accuracy": float(best["accuracy"]),
                "params": best.get("params"),
                "depth": len(arch.get("nodes", [])),
                "weights": with_weights.get("weights") if with_weights else None,
                "weights_eval_id": with_weights.get("eval_id") if with_weights else None,
                "eval_ids": [e.get("eval_id") for e in entries],
                "generation": min((e.get("generation") or 0) for e in entries),
                "genome": best.get("genome"),
                "architecture": arch,
            }
        )
    rows.sort(key=lambda r: (-r["mean_accuracy"], _params_key(r["params"]), r["arch_hash"]))
    for i, r in enumerate(rows, start=1):
        r["rank"] = i
    return [{"rank": r.pop("rank"), **r} for r in rows]


def by_eval_id(journal: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Journal records in request order (``eval_id``; records without one last, ties in
    file order): the file is in completion order, which parallel workers change."""
    def key(e: Mapping[str, Any]) -> float:
        eid = e.get("eval_id")
        return float(eid) if isinstance(eid, int) and not isinstance(eid, bool) else math.inf

    return sorted(journal, key=key)


def _latest_request(entries: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The entries of the request (key without the repeat) of the newest entry."""
    from ..runtime.cache import record_key

    newest = record_key(max(entries, key=lambda e: e.get("eval_id", -1)))
    return [e for e in entries if record_key(e) == newest]


def _params_key(params: Any) -> float:
    return float(params) if isinstance(params, (int, float)) else math.inf


# ---------------------------------------------------------------------- summary
def _device_seconds(usage: Mapping[str, Any], journal: Sequence[Mapping[str, Any]]) -> float:
    value = usage.get("device_seconds")
    if isinstance(value, Mapping):
        return float(sum(v for v in value.values() if isinstance(v, (int, float))))
    if isinstance(value, (int, float)):
        return float(value)
    return float(sum(e.get("time_total") or 0.0 for e in journal if not e.get("cached")))


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def evaluation_counts(journal: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``total``, ``trained`` (fresh ok), ``cached`` and ``failed`` with a count per status."""
    cached = sum(1 for e in journal if e.get("cached"))
    fresh = [e for e in journal if not e.get("cached")]
    trained = sum(1 for e in fresh if e.get("status") == "ok")
    by_status: dict[str, int] = {}
    for e in fresh:
        if e.get("status") != "ok":
            s = str(e.get("status"))
            by_status[s] = by_status.get(s, 0) + 1
    return {
        "total": len(journal),
        "trained": trained,
        "cached": cached,
        "failed": sum(by_status.values()),
        "failed_by_status": by_status,
    }


def summary_table(run_dir: str | Path, top: int = 10) -> str:
    """A readable text summary of a run: status, budget use and the ``top`` architectures;
    for a multi-objective run the Pareto front instead (:mod:`deap_nas.analysis.pareto_summary`)."""
    run = load_run(run_dir)
    usage = run.run.get("usage") or {}
    c = evaluation_counts(run.journal)
    failed = ", ".join(f"{k} {v}" for k, v in sorted(c["failed_by_status"].items()))
    seconds = float(usage.get("seconds") or 0.0)
    dev_hours = _device_seconds(usage, run.journal) / 3600
    n_eval = int(usage.get("evaluations") or c["total"])
    rate = f"{n_eval / (seconds / 3600):.1f}" if seconds > 0 else "-"
    lines = [
        f"run          {run.path}",
        f"status       {run.run.get('status', '?')}"
        + (f" ({run.run['stop_reason']})" if run.run.get("stop_reason") else ""),
        f"generation   {run.run.get('generation', usage.get('generations', '-'))}",
        f"evaluations  {c['total']} (trained {c['trained']}, cached {c['cached']}, "
        f"failed {c['failed']}{': ' + failed if failed else ''})",
        f"wall time    {_hms(seconds)}   device hours {dev_hours:.3f}   evaluations/hour {rate}",
        "",
    ]
    from .pareto_front import run_objectives

    objectives = run_objectives(run.config)
    if objectives:  # a multi-objective run: its result is the Pareto front
        from .pareto_summary import front_lines

        return "\n".join(lines + front_lines(run.journal, objectives))
    ranked = rank_architectures(run.journal)[:top]
    if not ranked:
        lines.append("no successful evaluation yet")
        return "\n".join(lines)
    header = f"{'rank':>4}  {'hash':<20}  {'accuracy':>15}  {'n':>3}  {'params':>10}  {'depth':>5}"
    lines += [f"top {len(ranked)} architectures (mean validation accuracy over repeats)", header]
    lines.append("-" * len(header))
    for r in ranked:
        acc = f"{r['mean_accuracy']:.4f} ± {r['std_accuracy']:.4f}"
        params = f"{r['params']:,}" if isinstance(r["params"], int) else "-"
        lines.append(
            f"{r['rank']:>4}  {r['arch_hash']:<20}  {acc:>15}  {r['count']:>3}  {params:>10}  {r['depth']:>5}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------- best models
def write_best(run_dir: str | Path, entries: Sequence[Mapping[str, Any]], head: Any = None) -> list[Path]:
    """Write hall-of-fame ``entries`` (snapshot form: ``{"genome", "fitness", "result"}``)
    to ``best/``: ``rankNN_<hash>.json`` (architecture with its ``head`` recorded), ``.dot``,
    ``.pt`` (copy of the weights, when kept) and ``summary.json``, replacing an earlier hall
    of fame there. Only successful candidates (status ok, finite accuracy) are written and
    ranked. ``head`` defaults to the run's search head (:func:`search_head`). Returns the
    paths written."""
    root = Path(run_dir)
    if head is None:
        head = search_head(run_config(root))
    out = root / "best"
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("rank[0-9]*_*"), *out.glob("front[0-9]*_*")]:  # a previous hall of fame
        old.unlink()
    written: list[Path] = []
    summary = []
    journal = None
    for rank, entry in enumerate([e for e in entries if _is_ok(_best_result(e))], start=1):
        result = _best_result(entry)
        h = str(result["arch_hash"])
        files = write_member_files(root, result, head, f"rank{rank:02d}_{h}", written)
        eval_ids = _eval_ids(result)
        if not eval_ids:  # a result written before it carried its ids: look them up
            journal = journal if journal is not None else load_run(root).journal
            eval_ids = _journal_eval_ids(journal, h)
        summary.append(
            {
                "rank": rank,
                "arch_hash": h,
                "fitness": list(entry.get("fitness") or []),
                "accuracy": result.get("accuracy"),
                "params": result.get("params"),
                "status": result.get("status"),
                "eval_id": eval_ids[0] if eval_ids else None,
                "eval_ids": eval_ids,
                "genome": entry.get("genome"),
                "files": files,
            }
        )
    write_json(out / "summary.json", {"format": "deap_nas.best/1", "head": HeadSpec.parse(head).to_dict(),
                                      "models": summary})
    written.append(out / "summary.json")
    return written


def write_member_files(root: Path, result: Mapping[str, Any], head: Any, stem: str,
                       written: list[Path]) -> dict[str, str]:
    """Write one best model to ``root/best``: ``<stem>.json`` (architecture with ``head``),
    ``.dot`` and ``.pt`` (a copy of its weights, when kept); appends the paths to
    ``written`` and returns ``files`` (kind -> file name) for ``summary.json``."""
    out = root / "best"
    arch = Architecture.from_dict(result["architecture"])
    files = {"architecture": f"{stem}.json", "dot": f"{stem}.dot"}
    (out / files["architecture"]).write_text(architecture_with_head(arch, head) + "\n", encoding="utf-8")
    (out / files["dot"]).write_text(arch.to_dot(), encoding="utf-8")
    written += [out / files["architecture"], out / files["dot"]]
    weights = result.get("weights")
    if weights and (root / weights).is_file():
        files["weights"] = f"{stem}.pt"
        shutil.copyfile(root / weights, out / files["weights"])
        written.append(out / files["weights"])
    return files


def _best_result(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A hall-of-fame entry's result, with ``arch_hash`` filled in from its architecture
    (empty when the genome did not decode)."""
    result = dict(entry.get("result") or {})
    if result.get("architecture") and result.get("arch_hash") is None:
        result["arch_hash"] = Architecture.from_dict(result["architecture"]).hash()
    return result


def _eval_ids(result: Mapping[str, Any]) -> list[int]:
    """The evaluation ids of a result: ``eval_ids`` (the evaluator's results) or a
    journal record's own ``eval_id``."""
    ids = result.get("eval_ids")
    if ids is None and result.get("eval_id") is not None:
        ids = [result["eval_id"]]
    return [int(i) for i in ids or [] if isinstance(i, int) and not isinstance(i, bool)]


def _journal_eval_ids(journal: Sequence[Mapping[str, Any]], arch_hash: str) -> list[int]:
    """The ids of the repeats :func:`rank_architectures` averages for ``arch_hash``."""
    row = next((r for r in rank_architectures(journal) if r["arch_hash"] == arch_hash), None)
    return [int(i) for i in row["eval_ids"] if isinstance(i, int)] if row else []
