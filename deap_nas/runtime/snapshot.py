"""Snapshots: an algorithm's state, the budget used, evaluation ids and all RNG states.

Snapshots are data (docs/architecture.md): genomes through the
space's ``to_json``/``from_json``, RNG states as lists and base64 text, never pickles.
"""

from __future__ import annotations

import base64
import random
from typing import Any

import numpy as np

from ..algorithms import Usage
from ..algorithms.base import individual_from_dict, individual_to_dict
from .rundir import SNAPSHOT_FORMAT as FORMAT


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


def state_to_dict(algo: Any, usage: Usage, evaluator_state: dict[str, Any]) -> dict[str, Any]:
    """A snapshot: the algorithm's :meth:`~deap_nas.algorithms.base.Algorithm.state_dict`
    (population, hall of fame, logbook, its own state as ``algorithm`` and its RNG as
    ``loop_rng``), the budget used, the evaluator's ids and the global RNG states."""
    d = algo.state_dict()
    return {
        "format": FORMAT,
        "generation": d["generation"],
        "next_eval_id": evaluator_state.get("next_eval_id", 0),
        "population": d["population"],
        "hall_of_fame": d["hall_of_fame"],
        "hall_of_fame_size": d["hall_of_fame_size"],
        "in_flight": d["in_flight"],
        "logbook": d["logbook"],
        "usage": dict(vars(usage)),
        "rng": rng_state(),
        "algorithm": d["extra"],
        "loop_rng": d["rng"],
        "evaluator": evaluator_state,
    }


def load_into(algo: Any, d: dict[str, Any]) -> Usage:
    """Restore ``algo`` from a snapshot (see :func:`state_to_dict`); returns the usage."""
    if d.get("format") != FORMAT:
        raise ValueError(f"not a deap_nas snapshot (format {d.get('format')!r})")
    algo.load_state_dict({**d, "extra": d.get("algorithm") or {}, "rng": d.get("loop_rng")})
    return Usage(**d.get("usage", {}))


def in_flight_ids(d: dict[str, Any]) -> list[int]:
    """Evaluation ids of the evaluations in flight when the snapshot was taken."""
    ids = (d.get("algorithm") or {}).get("in_flight_ids") or [x.get("eval_ids") or [] for x in d.get("in_flight", [])]
    return [int(i) for group in ids for i in group]


__all__ = ["FORMAT", "in_flight_ids", "individual_from_dict", "individual_to_dict", "load_into", "restore_rng",
           "rng_state", "state_to_dict"]
