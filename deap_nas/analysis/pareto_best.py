"""``best/`` of a multi-objective run: the Pareto front (docs/objectives.md).

:func:`write_front` writes every member of the run's front (the snapshot's hall of fame,
a DEAP ``ParetoFront`` of the feasible candidates) as ``frontNN_<hash>.json`` (architecture
with its head), ``.dot`` and ``.pt`` (weights), ``NN`` from 00 in the order of the first
objective, best first: the member index ``deap-nas report`` shows and ``deap-nas export
--member`` takes. ``summary.json`` lists them with their objective values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..arch import HeadSpec
from ..evaluation.objectives import Objective
from ..runtime.journal import write_json
from .pareto_front import front_hypervolume
from .report import _best_result, _eval_ids, _is_ok, write_member_files

__all__ = ["front_entries", "write_front"]


def front_entries(entries: Sequence[Mapping[str, Any]], objectives: Sequence[Objective]) -> list[Mapping[str, Any]]:
    """The successful ``entries`` (snapshot form) with a complete fitness vector, best
    first on the first objective (ties by the next ones, then hash)."""
    def key(e: Mapping[str, Any]) -> tuple:
        values = [float(v) for v in e["fitness"]]
        signed = tuple(-v if o.kind.direction == "max" else v for v, o in zip(values, objectives, strict=True))
        return signed, str(_best_result(e).get("arch_hash"))

    ok = [e for e in entries if _is_ok(_best_result(e)) and len(e.get("fitness") or ()) == len(objectives)]
    return sorted(ok, key=key)


def write_front(run_dir: str | Path, entries: Sequence[Mapping[str, Any]], objectives: Sequence[Objective],
                head: Any) -> list[Path]:
    """Write the front ``entries`` to ``best/`` (module docstring), replacing an earlier
    hall of fame or front there; returns the paths written."""
    root = Path(run_dir)
    out = root / "best"
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("rank[0-9]*_*"), *out.glob("front[0-9]*_*")]:
        old.unlink()
    written: list[Path] = []
    models = []
    members = front_entries(entries, objectives)
    for k, entry in enumerate(members):
        result = _best_result(entry)
        h = str(result["arch_hash"])
        files = write_member_files(root, result, head, f"front{k:02d}_{h}", written)
        eval_ids = _eval_ids(result)
        values = [float(v) for v in entry["fitness"]]
        models.append({"front_member": k, "arch_hash": h,
                       "objectives": {o.name: v for o, v in zip(objectives, values, strict=True)},
                       "fitness": values, "accuracy": result.get("accuracy"), "params": result.get("params"),
                       "status": result.get("status"), "eval_id": eval_ids[0] if eval_ids else None,
                       "eval_ids": eval_ids, "genome": entry.get("genome"), "files": files})  # fmt: skip
    hv = front_hypervolume([m["fitness"] for m in models], objectives)
    write_json(out / "summary.json", {
        "format": "deap_nas.best/1", "kind": "pareto_front", "head": HeadSpec.parse(head).to_dict(),
        "objectives": [o.to_dict() for o in objectives],
        "reference_point": {o.name: o.reference_point() for o in objectives},
        "hypervolume": hv, "models": models})  # fmt: skip
    written.append(out / "summary.json")
    return written
