"""``deap-nas committee``: the ImmuNeCS neural committee of a run (sec. 3.5 / 4.4).

Members are the final snapshot's population: architecture from the genome (decoded by the
run's space), weights from ``result["weights"]`` (``torch.load(weights_only=True)``;
a member without a weights file trains from scratch, said in the log), affinity = fitness.
``fraction`` keeps the best ``round(fraction * N)`` (CIFAR-10: 1/3), default all
(Fashion-MNIST). Members train further, without reinitialisation, with
``final_training.training`` (``epochs`` overrides) on ``prepare_data(data.name,
val_fraction=final_training.val_fraction, train_subset=final_training.train_subset,
with_test=True)``; the committee votes with affinity weights. Writes
``final/committee.pt`` (:meth:`~deap_nas.evaluation.committee.Committee.save`) and
``final/committee.json`` (``CommitteeResult.to_dict()`` plus the members' hashes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..runtime.journal import write_json
from .final import resolve_device
from .report import latest_snapshot, load_run, run_config, search_head

__all__ = ["build_committee"]


def build_committee(run_dir: str | Path, fraction: float | None = None, epochs: int | None = None,
                    device: str = "auto", log: Callable[[str], Any] = print) -> dict[str, Any]:
    import torch

    from ..data import prepare_from_config
    from ..evaluation.committee import select_members, train_committee
    from ..spaces import SPACES
    from .final import final_data_section

    run = load_run(run_dir)
    config = run_config(run.path)
    snap = latest_snapshot(run.path)
    if snap is None or not snap.get("population"):
        raise ValueError(f"{run.path}: no snapshot with a population")
    space = SPACES[config.space.name](config.space.params)
    pop = [p for p in snap["population"] if p.get("fitness") is not None]
    ok = [p for p in pop if (p.get("result") or {}).get("status", "ok") == "ok"]
    if not ok:
        raise ValueError(f"{run.path}: the final population has no successfully evaluated member")
    affinities = [float(p["fitness"][0]) for p in ok]
    chosen = select_members(affinities, fraction=fraction)
    ft = config.final_training
    changes: dict[str, Any] = {"keep_best_state": True}
    if epochs is not None:
        changes["epochs"] = epochs
    tcfg = dataclasses.replace(ft.training, **changes)
    dev = resolve_device(device)
    members, hashes = [], []
    for i in chosen:
        p = ok[i]
        arch = space.decode(space.from_json(p["genome"]))
        w = (p.get("result") or {}).get("weights")
        state = None
        if w:
            path = Path(w) if Path(w).is_absolute() else run.path / w
            if path.is_file():
                state = torch.load(path, map_location="cpu", weights_only=True)
        if state is None:
            log(f"committee: member {arch.hash()[:8]} has no weights file ({w}): trains from scratch")
        members.append((arch, state, affinities[i]))
        hashes.append(arch.hash())
    data = prepare_from_config(final_data_section(config), with_test=True, seed=ft.seeds[0], device=dev)
    head = ft.head if ft.head is not None else search_head(config)
    log(f"committee: {len(members)} of {len(ok)} members, {tcfg.epochs} epochs on {dev}, "
        f"{len(data.train)} training images")
    res = train_committee(members, data, tcfg, head=head, seed=ft.seeds[0], log=log)
    out = run.path / "final"
    out.mkdir(parents=True, exist_ok=True)
    if res.committee is not None:
        res.committee.save(out / "committee.pt")
    summary = {**res.to_dict(), "member_hashes": hashes, "fraction": fraction, "device": dev}
    write_json(out / "committee.json", summary)
    for j, (h, acc) in enumerate(zip(hashes, res.member_test_acc, strict=True)):
        shown = "failed" if acc is None else f"{acc:.4f}"
        log(f"member {j}  {h[:12]}  affinity {affinities[chosen[j]]:.4f}  test accuracy {shown}")
    log(f"best member (by test accuracy): {res.best_member_test_acc}")
    log(f"committee test accuracy: {res.committee_test_acc}")
    return summary
