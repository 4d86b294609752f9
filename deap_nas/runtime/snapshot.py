"""Search state <-> JSON: population, hall of fame, logbook and all RNG states.

Snapshots are data (DESIGN.md, "Nothing loads untrusted code"): genomes through the
space's ``to_json``/``from_json``, RNG states as lists and base64 text, never pickles.
"""

from __future__ import annotations

import base64
import random
from typing import Any

import numpy as np
from deap import tools

from ..algorithms import SearchState, Usage

FORMAT = "deap_nas.snapshot/1"


# plain attributes loops set on individuals: aging (birth, eval_ids), weight
# inheritance (inherit_from, inherit_note, changed_layers; deap_nas.ops.immunecs),
# training requests (train_overrides, train_stage; runtime/evaluator.py), MiniGen's
# accuracy history (acc_history; deap_nas.ops.minigen) and loop_state: a loop's own
# per-individual plain-JSON state (nasgep: epochs trained, reduction cell, dead)
TRACKED = ("birth", "eval_ids", "inherit_from", "inherit_note", "changed_layers", "train_overrides", "train_stage",
           "acc_history", "loop_state")


def individual_to_dict(ind: Any, space: Any) -> dict[str, Any]:
    d = {
        "genome": space.to_json(ind),
        "fitness": list(ind.fitness.values) if ind.fitness.valid else None,
        "result": getattr(ind, "result", None),
    }
    for attr in TRACKED:
        if hasattr(ind, attr):
            d[attr] = getattr(ind, attr)
    return d


def individual_from_dict(d: dict[str, Any], space: Any) -> Any:
    ind = space.from_json(d["genome"])
    if d.get("fitness") is not None:
        ind.fitness.values = tuple(d["fitness"])
    if d.get("result") is not None:
        ind.result = d["result"]
    for attr in TRACKED:
        if d.get(attr) is not None:
            setattr(ind, attr, d[attr])
    return ind


def rng_state() -> dict[str, Any]:
    import torch

    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode(),
    }


def restore_rng(state: dict[str, Any]) -> None:
    import torch

    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    raw = np.frombuffer(base64.b64decode(state["torch"]), dtype=np.uint8).copy()
    torch.set_rng_state(torch.from_numpy(raw))


def state_to_dict(state: SearchState, space: Any, usage: Usage, evaluator_state: dict[str, Any],
                  weight_store: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "generation": state.generation,
        "next_eval_id": evaluator_state.get("next_eval_id", 0),
        "population": [individual_to_dict(i, space) for i in state.population],
        "hall_of_fame": [individual_to_dict(i, space) for i in state.hall_of_fame],
        "hall_of_fame_size": state.hall_of_fame.maxsize,
        "in_flight": [individual_to_dict(i, space) for i in state.in_flight],
        "logbook": [dict(r) for r in state.logbook],
        "usage": dict(vars(usage)),
        "rng": rng_state(),
        "algorithm": state.extra,
        "weight_store": weight_store or {},
        "evaluator": evaluator_state,
    }


def state_from_dict(d: dict[str, Any], space: Any) -> tuple[SearchState, Usage]:
    if d.get("format") != FORMAT:
        raise ValueError(f"not a deap_nas snapshot (format {d.get('format')!r})")
    hof = tools.HallOfFame(int(d.get("hall_of_fame_size") or max(1, len(d["hall_of_fame"]))))
    members = [individual_from_dict(x, space) for x in d["hall_of_fame"]]
    hof.items = list(members)  # stored best first, as HallOfFame keeps them
    hof.keys = [m.fitness for m in reversed(members)]
    logbook = tools.Logbook()
    for rec in d["logbook"]:
        logbook.record(**rec)
    state = SearchState(
        generation=int(d["generation"]),
        population=[individual_from_dict(x, space) for x in d["population"]],
        hall_of_fame=hof,
        logbook=logbook,
        extra=dict(d.get("algorithm") or {}),
        in_flight=[individual_from_dict(x, space) for x in d.get("in_flight", [])],
    )
    return state, Usage(**d.get("usage", {}))
