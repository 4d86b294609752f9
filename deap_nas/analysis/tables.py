"""Result tables of final training: accuracy, parameters and the accuracy-to-parameter
ratio (MiniGen's Table III), and the architectures a search reports as *found*.

``ratio`` is test accuracy (a fraction) divided by millions of parameters, as in Table
III (74.7% at 0.9M gives 0.83). Rows are one per architecture, the mean over its seeds.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .report import latest_snapshot, rank_architectures

__all__ = ["SORTS", "found_architectures", "format_ratio_table", "ratio_rows"]

SORTS = ("rank", "ratio")


def ratio_rows(results: Sequence[Mapping[str, Any]], sort: str = "ratio") -> list[dict[str, Any]]:
    """One row per architecture of ``train_final`` records: ``rank``, ``arch_hash``,
    ``test_acc`` (mean over seeds, None if all failed), ``seeds``, ``params``, ``ratio``;
    sorted by ``rank`` or by ``ratio`` (descending; failed last)."""
    if sort not in SORTS:
        raise ValueError(f"sort: must be one of {list(SORTS)}, got {sort!r}")
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in results:
        groups.setdefault(str(r["arch_hash"]), []).append(r)
    rows = []
    for h, rs in groups.items():
        accs = [float(r["test_acc"]) for r in rs if r.get("test_acc") is not None]
        params = rs[0].get("params")
        acc = statistics.fmean(accs) if accs else None
        ratio = acc / (params / 1e6) if acc is not None and params else None
        rows.append({"rank": rs[0].get("rank"), "arch_hash": h, "test_acc": acc, "seeds": len(accs),
                     "params": params, "ratio": ratio})
    if sort == "ratio":
        rows.sort(key=lambda r: (r["ratio"] is None, -(r["ratio"] or 0.0), r["rank"] or 0))
    else:
        rows.sort(key=lambda r: r["rank"] or 0)
    return rows


def format_ratio_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Table III as text: index (rank), accuracy, parameters (M), accuracy-to-parameter ratio."""
    header = f"{'rank':>4}  {'hash':<20}  {'acc.':>7}  {'parameters':>10}  {'acc-to-param ratio':>18}"
    lines = [header, "-" * len(header)]
    for r in rows:
        acc = f"{100 * r['test_acc']:.1f}%" if r["test_acc"] is not None else "failed"
        params = f"{r['params'] / 1e6:.2f}M" if r["params"] else "-"
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        lines.append(f"{r['rank'] if r['rank'] is not None else '-':>4}  {r['arch_hash']:<20}  {acc:>7}  "
                     f"{params:>10}  {ratio:>18}")
    return "\n".join(lines)


def found_architectures(run_dir: str | Path, journal: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The architectures the search reported as found (``found``, a list of hashes in the
    newest snapshot's algorithm state: MiniGen's networks above the target accuracy), in
    the order found, as :func:`~deap_nas.analysis.report.rank_architectures` rows whose
    ``rank`` is the order found (1 = first)."""
    snap = latest_snapshot(run_dir) or {}
    found = list((snap.get("algorithm") or {}).get("found") or [])
    if not found:
        raise ValueError(f"{run_dir}: the search reported no found architecture "
                         "(final_training.source: found needs e.g. a minigen run that found some)")
    by_hash = {r["arch_hash"]: r for r in rank_architectures(journal)}
    rows = []
    for i, h in enumerate(found, start=1):
        if h not in by_hash:
            raise ValueError(f"{run_dir}: found architecture {h} has no successful journal record")
        rows.append({**by_hash[h], "rank": i})
    return rows
