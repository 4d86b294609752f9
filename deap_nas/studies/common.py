"""Helpers shared by the studies: checks, random architectures by depth, operators from a
config section, per-group correlations and run-directory metrics."""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..checks import check_int
from .stats import Correlation, spearman

ALL = "all"


def check_depths(depths: Sequence[int] | None) -> None:
    if depths is None:
        return
    if not depths:
        raise ValueError("depths: give at least one depth, or null for the space's own random depths")
    for d in depths:
        check_int("depths", d, 1)


def check_loess(frac: float, boot: int) -> None:
    if not 0 < frac <= 1:
        raise ValueError(f"loess_frac: must be in (0, 1], got {frac}")
    check_int("bootstrap", boot, 0)


def draw_architectures(study: Any, depths: Sequence[int] | None, per_depth: int) -> list[tuple[str, Any]]:
    """``per_depth`` random genomes at each depth (``space.random_genome(depth, rng)``, e.g.
    the ImmuNeCS spaces), as ``(group label, individual)``; ``depths`` None draws
    ``per_depth`` genomes from ``space.random_individual`` in one group ``all``. All draws
    come from ``study.rng``."""
    space = study.space
    if depths is None:
        return [(ALL, space.random_individual(study.rng)) for _ in range(per_depth)]
    if not hasattr(space, "random_genome"):
        raise ValueError(
            f"params.depths: space {study.run_config.space.name} cannot draw a genome of a given depth "
            "(no random_genome(depth)); set depths: null"
        )
    return [(f"depth {d}", space.random_genome(d, study.rng)) for d in depths for _ in range(per_depth)]


def operator(section: Mapping[str, Any], space: Any, role: str, **extra: Any) -> Any:
    """A registered operator from ``{name, ...params}`` as a callable ``(ind, rng)``;
    ``space``, ``rng`` and the ``extra`` keyword arguments (e.g. ``seen``) are passed where
    its signature takes them. Unknown names and parameters are errors naming ``role``."""
    from ..ops import OPERATORS

    spec = dict(section)
    name = spec.pop("name", None)
    if name not in OPERATORS:
        raise ValueError(f"{role}.name: unknown operator {name!r}; known: {', '.join(sorted(OPERATORS))}")
    fn = OPERATORS[name]
    accepted = inspect.signature(fn).parameters
    for key in spec:
        if key not in accepted:
            raise ValueError(f"{role}.{key}: unknown parameter of {name}")
    if "space" in accepted:
        spec["space"] = space
    spec.update({k: v for k, v in extra.items() if k in accepted})

    def apply(ind: Any, rng: Any) -> Any:
        kwargs = dict(spec)
        if "rng" in accepted:
            kwargs["rng"] = rng
        return fn(ind, **kwargs)

    return apply


def clone_for_mutation(parent: Any) -> Any:
    """A deep copy with an invalid fitness, ``parent_affinity`` set (as
    :func:`~deap_nas.ops.immunecs.clone_population` does) and no inheritance mark."""
    c = copy.deepcopy(parent)
    f = parent.fitness.values[0] if parent.fitness.valid else None
    del c.fitness.values
    c.__dict__.pop("result", None)
    c.parent_affinity = f
    return c


def inherit_across_phases(child: Any, parent: Any, parent_phase: Any, child_phase: Any) -> Any:
    """:func:`~deap_nas.ops.immunecs.inheritance_request` for a child evaluated in another
    phase than its parent: the parent's weights path (relative to the parent phase's
    directory) is rewritten relative to the child phase's directory
    (``../parents/weights/000003.pt``), so the child finds the file and the study
    directory can still be moved. Returns the child's request."""
    import dataclasses
    import os

    from ..ops.immunecs import inheritance_request

    req = inheritance_request(child, parent)
    src = req.start.weights
    if src and not os.path.isabs(src):
        rel = os.path.relpath(parent_phase.run_dir() / src, child_phase.run_dir())
        req = dataclasses.replace(req, start=dataclasses.replace(req.start, weights=rel))
    return req


def ok_value(ind: Any, key: str = "accuracy") -> float:
    """``ind.result[key]`` for a successful evaluation, else nan."""
    r = getattr(ind, "result", None) or {}
    if r.get("status") != "ok":
        return math.nan
    v = r.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def record_value(ind: Any, eval_key: str) -> float:
    """A field of the journal record behind ``ind`` (e.g. ``test_accuracy``), read from
    ``ind.record``, which :func:`attach_records` sets; nan when missing or failed."""
    rec = getattr(ind, "record", None) or {}
    if rec.get("status") != "ok":
        return math.nan
    v = rec.get(eval_key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def attach_records(ev: Any, individuals: Sequence[Any]) -> None:
    """Set ``ind.record`` to the phase journal's record of each individual's (first)
    evaluation id: the full record, with fields the fitness summary leaves out."""
    from ..runtime.journal import read_journal

    by_id = {r["eval_id"]: r for r in read_journal(ev.journal_path)}
    for ind in individuals:
        ids = (getattr(ind, "result", None) or {}).get("eval_ids") or []
        rec = by_id.get(ids[0]) if ids else None
        if rec is not None and rec.get("cached") and rec.get("cached_from"):
            src = by_id.get(rec["cached_from"][0])
            rec = {**(src or {}), **rec} if src else rec
        ind.record = rec or {}


def grouped_correlations(groups: Sequence[str], x: Sequence[float], y: Sequence[float]) -> dict[str, Correlation]:
    """Spearman of (x, y) over all points (``all``) and within each group label."""
    out = {ALL: spearman(x, y)}
    labels = list(dict.fromkeys(groups))
    if labels != [ALL]:
        for g in labels:
            idx = [i for i, gi in enumerate(groups) if gi == g]
            out[g] = spearman([x[i] for i in idx], [y[i] for i in idx])
    return out


def correlation_lines(title: str, corr: Mapping[str, Correlation]) -> list[str]:
    return [f"{title}"] + [f"  {g:<10} Spearman {c.text()}" for g, c in corr.items()]


def device_label(journal: Sequence[Mapping[str, Any]]) -> str:
    """``GPU`` when any training ran on CUDA, else ``CPU`` (from the records' ``device``)."""
    return "GPU" if any(str(r.get("device") or "").startswith("cuda") for r in journal) else "CPU"
