"""``deap-nas committee``: the ImmuNeCS neural committee of a run (sec. 3.5 / 4.2).

Members (sec. 3.5: "we are left with N partially trained architectures. On the
Fashion-MNIST task, all architectures are retained. On CIFAR-10 ... we retain the best
N/3 candidates based on their affinity scores"): the candidates are the networks the
search's last selection kept, the ``N`` leading members of the final snapshot's population
(the loop's ``selected``; :func:`committee_candidates`), never the random insertions or
augmented copies that follow them and were never selected. Of these, the best by affinity
(fitness) are taken: ``top_k`` of them (``--top-k``; default ``final_training.top_k``:
12 = N on Fashion-MNIST, 4 = N/3 on CIFAR-10 in the paper configs) or ``round(fraction *
candidates)`` (``--fraction``); a count larger than the candidates is an error.

Architecture from the genome (decoded by the run's space), weights from
``result["weights"]`` (``torch.load(weights_only=True)``; a member without a weights file
trains from scratch, said in the log). Members train further, without reinitialisation,
with ``final_training.training`` (``epochs`` overrides) on ``prepare_data(data.name,
val_fraction=final_training.val_fraction, train_subset=final_training.train_subset,
with_test=True)``; the committee votes with affinity weights. Writes
``final/committee.pt`` (:meth:`~deap_nas.evaluation.committee.Committee.save`) and
``final/committee.json`` (``CommitteeResult.to_dict()`` plus the members' hashes).

A multi-objective run (an ``objectives:`` section) has a front, not a ranking: the
candidates are the members of its Pareto front (the final snapshot's hall of fame:
:func:`front_candidates`), ordered and weighted by their validation accuracy
(:func:`affinity`); without ``--top-k`` / ``--fraction`` the whole front votes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..runtime.journal import write_json
from .final import resolve_device
from .report import latest_snapshot, load_run, run_config, search_head

__all__ = ["affinity", "build_committee", "committee_candidates", "committee_members", "front_candidates"]


def committee_candidates(snapshot: dict[str, Any], config: Any) -> list[dict[str, Any]]:
    """The snapshot's population members a committee may take, successfully evaluated ones
    only: the ``selected`` leading members (``state.extra["selected"]`` of ImmuNeCS: the
    N its last selection kept); the whole population before the first selection
    (``selected`` None) or for a loop that does not record it. An ImmuNeCS snapshot written
    before ``selected`` existed takes the ``population_size`` leading members after
    generation 0 (the loop has always put the selected N first)."""
    pop = list(snapshot.get("population") or [])
    extra = snapshot.get("algorithm") or {}
    if "selected" in extra:
        n = extra["selected"]
    elif config.algorithm.name == "immunecs" and int(snapshot.get("generation") or 0) >= 1:
        n = config.algorithm.params.population_size
    else:
        n = None
    if n is not None:
        pop = pop[: int(n)]
    return [p for p in pop if p.get("fitness") is not None
            and (p.get("result") or {}).get("status", "ok") == "ok"]  # fmt: skip


def committee_members(
    run_dir: str | Path, top_k: int | None = None, fraction: float | None = None
) -> tuple[Any, list[dict[str, Any]]]:
    """``(config, members)``: the run's committee members (snapshot individuals), best
    affinity first (ties: population order). ``top_k`` / ``fraction`` override
    ``final_training.top_k`` (module docstring)."""
    run = load_run(run_dir)
    config = run_config(run.path)
    snap = latest_snapshot(run.path)
    if snap is None or not snap.get("population"):
        raise ValueError(f"{run.path}: no snapshot with a population")
    multi = bool(config.objectives)
    candidates = front_candidates(snap, config) if multi else committee_candidates(snap, config)
    if not candidates:
        raise ValueError(f"{run.path}: the final {'Pareto front' if multi else 'population'} has no "
                         "successfully evaluated member")
    n = len(candidates)
    if multi and top_k is None and fraction is None:
        top_k = n  # the whole front
    if top_k is not None and fraction is not None:
        raise ValueError("committee: give --top-k or --fraction, not both")
    if fraction is not None:
        if isinstance(fraction, bool) or not 0 < float(fraction) <= 1:
            raise ValueError(f"committee: --fraction must be in (0, 1], got {fraction!r}")
        count, source = max(1, math.floor(float(fraction) * n + 0.5)), f"--fraction {fraction}"
    else:
        count, source = (top_k, "--top-k") if top_k is not None else (config.final_training.top_k,
                                                                      "final_training.top_k")  # fmt: skip
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"committee: {source} must be an integer >= 1, got {count!r}")
        if count > n:
            raise ValueError(
                f"committee: {source} = {count} is larger than the {n} candidates (the networks the "
                f"search's last selection kept, successfully evaluated); give at most {n}")
    order = sorted(range(n), key=lambda i: (-affinity(candidates[i], config), i))
    return config, [candidates[i] for i in order[:count]]


def front_candidates(snapshot: dict[str, Any], config: Any) -> list[dict[str, Any]]:
    """A multi-objective run's committee candidates: the members of its Pareto front (the
    snapshot's hall of fame, every feasible candidate the search evaluated that no other
    dominates) with a complete objective vector."""
    n = len(config.objectives)
    return [p for p in snapshot.get("hall_of_fame") or [] if len(p.get("fitness") or ()) == n
            and (p.get("result") or {}).get("status", "ok") == "ok"]  # fmt: skip


def affinity(member: dict[str, Any], config: Any) -> float:
    """A member's vote weight and order: its fitness (single-objective), or the
    validation accuracy in its objective vector (multi-objective)."""
    names = [o.name for o in config.objectives]
    return float(member["fitness"][names.index("accuracy") if names else 0])


def build_committee(run_dir: str | Path, fraction: float | None = None, epochs: int | None = None,
                    device: str = "auto", log: Callable[[str], Any] = print,
                    top_k: int | None = None) -> dict[str, Any]:
    """Train the committee of :func:`committee_members` further and evaluate its vote."""
    import torch

    from ..data import prepare_from_config
    from ..evaluation.committee import train_committee
    from ..spaces import SPACES
    from .final import final_data_section

    run_path = Path(run_dir)
    config, chosen = committee_members(run_path, top_k=top_k, fraction=fraction)
    space = SPACES[config.space.name](config.space.params)
    ft = config.final_training
    changes: dict[str, Any] = {"keep_best_state": True}
    if epochs is not None:
        changes["epochs"] = epochs
    tcfg = dataclasses.replace(ft.training, **changes)
    dev = resolve_device(device)
    members, hashes = [], []
    for p in chosen:
        arch = space.decode(space.from_json(p["genome"]))
        w = (p.get("result") or {}).get("weights")
        state = None
        if w:
            path = Path(w) if Path(w).is_absolute() else run_path / w
            if path.is_file():
                state = torch.load(path, map_location="cpu", weights_only=True)
        if state is None:
            log(f"committee: member {arch.hash()[:8]} has no weights file ({w}): trains from scratch")
        members.append((arch, state, affinity(p, config)))
        hashes.append(arch.hash())
    data = prepare_from_config(final_data_section(config), with_test=True, seed=ft.seeds[0], device=dev)
    head = ft.head if ft.head is not None else search_head(config)
    log(f"committee: {len(members)} members, {tcfg.epochs} epochs on {dev}, {len(data.train)} training images")
    res = train_committee(members, data, tcfg, head=head, seed=ft.seeds[0], log=log)
    out = run_path / "final"
    out.mkdir(parents=True, exist_ok=True)
    if res.committee is not None:
        res.committee.save(out / "committee.pt")
    summary = {**res.to_dict(), "member_hashes": hashes, "fraction": fraction, "top_k": len(members),
               "device": dev}
    write_json(out / "committee.json", summary)
    for j, (h, acc) in enumerate(zip(hashes, res.member_test_acc, strict=True)):
        shown = "failed" if acc is None else f"{acc:.4f}"
        log(f"member {j}  {h[:12]}  affinity {members[j][2]:.4f}  test accuracy {shown}")
    log(f"best member (by test accuracy): {res.best_member_test_acc}")
    log(f"committee test accuracy: {res.committee_test_acc}")
    return summary
