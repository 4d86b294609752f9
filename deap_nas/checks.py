"""Value checks shared by the torch-free ``Params`` dataclasses (spaces, algorithms,
studies): each raises ValueError starting with the field name, which the config loader
prefixes with the section (``algorithm.population_size: must be an integer >= 2``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def check_int(name: str, v: Any, lo: int) -> None:
    """``v`` is an int (not a bool) >= ``lo``."""
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{name}: must be an integer >= {lo}, got {v!r}")


def check_amount(name: str, v: Any) -> None:
    """``v`` is None, a fraction in (0, 1] (a float) or a per-class count >= 1 (an int):
    how much of each class a subset keeps."""
    if isinstance(v, float) and not 0 < v <= 1:
        raise ValueError(f"{name}: a fraction must be in (0, 1], got {v}")
    if isinstance(v, int) and not isinstance(v, bool) and v < 1:
        raise ValueError(f"{name}: a per-class count must be >= 1, got {v}")


#: Upper bounds on integer settings whose huge values would exhaust memory or time before
#: any error appeared: (field names, bound, reason). Checked by name for every config
#: section (``runtime.schema.from_mapping``) and by :class:`~deap_nas.evaluation.TrainConfig`;
#: a list value (``channels: [16, 32]``) is checked item by item. docs/config.md, "Checks and limits".
LIMITS: tuple[tuple[frozenset[str], int, str], ...] = (
    (frozenset({"batch_size", "eval_batch_size"}), 65536, "one batch must fit in device memory"),
    (frozenset({"channels", "stem_channels", "max_channels", "conv_channels", "channel_choices",
                "input_channels", "growths"}), 65536, "a layer this wide does not fit in memory"),
    (frozenset({"population_size", "reduction_population", "gene_pool_size", "gene_pool_max", "sample_size",
                "tournament_size", "hall_of_fame", "elite", "elites", "n_clones", "n_insert", "n_augment",
                "in_flight", "candidates", "top_k"}),
     1_000_000, "every individual is kept in memory"),
    (frozenset({"min_depth", "max_depth", "max_layers", "min_initial_layers", "max_initial_layers",
                "initial_layers", "num_cells", "blocks", "min_actions", "max_actions", "cells_per_stage",
                "stages", "dense_layers", "genes_min", "genes_max"}), 10_000, "a network this deep cannot be built"),
    (frozenset({"epochs", "max_epochs"}), 100_000, "one training would never end"),
    (frozenset({"repeats", "min_evaluations"}), 10_000, "each repeat is a full training"),
    (frozenset({"workers", "threads", "workers_per_device"}), 4096, "each is a process or thread of this machine"),
)


def _limit_of(name: str) -> tuple[int, str] | None:
    for names, bound, reason in LIMITS:
        if name in names:
            return bound, reason
    return None


def check_limits(values: Mapping[str, Any]) -> None:
    """Raise ValueError (``name: must be <= bound (reason), got v``) for a value of
    ``values`` above its :data:`LIMITS` bound; other names and non-integers pass."""
    for name, value in values.items():
        limit = _limit_of(name)
        if limit is None:
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        for v in items:
            if isinstance(v, int) and not isinstance(v, bool) and v > limit[0]:
                raise ValueError(f"{name}: must be <= {limit[0]} ({limit[1]}), got {v}")
