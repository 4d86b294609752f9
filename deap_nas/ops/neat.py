"""Mutations of the ``neat`` space (regularized-evolution macro NAS), DEAP-style.

Kyriakides & Margaritis, "Regularized Evolution for Macro Neural Architecture Search"
(AIAI 2020), sec. 3.1-3.2 and 4.1. The search uses mutation only:

- :func:`mut_layer_gene`: a node gets a different one of the 12 layer choices (sec. 3.1,
  "we mutate a gene by selecting a different layer setup from the 12 available").
- :func:`mut_toggle_connection`: a connection's enabled flag is reversed (sec. 3.1).
- :func:`mut_add_node`: a connection is split by a new node (sec. 3.2, Fig. 2).
- :func:`mut_identity`: the genome is left intact.
- :func:`mut_neat`: one of the above with p_mutate = 0.7 (node or connection),
  p_add = 0.25, p_identity = 0.05 (sec. 4.1).

All edit the individual in place and return ``(individual,)``, never clone and never touch
the fitness (docs/architecture.md); they draw only from ``rng`` (default: the ``random``
module, DEAP's stream). No ``space`` is needed: the layer choices are fixed by Table 1.

Departures from the reference code (NORD, ``rem/genome.py``), following the paper's text:
NORD's layer mutation may redraw the same choice and can pick the input/output genes (a
no-op), while here a layer node always gets a different choice; NORD's add-node splits
any connection, disabled ones included (``enabled_only=False`` reproduces that), while by
default we split an enabled one, so the new node starts on a live path.
"""

from __future__ import annotations

import random
from typing import Any

from ..spaces.neat import LAYER_CHOICES, allocate_id
from .registry import register_operator


@register_operator("mut_layer_gene", "neat")
def mut_layer_gene(individual: dict, rng: Any = random) -> tuple[dict]:
    """Give a uniformly chosen node a different, uniformly chosen layer choice (ids unchanged).

    Any layer node may be drawn, on a live path or not (the input and output are not layer
    genes). A genome without layer nodes is left unchanged.
    """
    nodes = individual["nodes"]
    if nodes:
        node = rng.choice(nodes)
        node["layer"] = rng.choice([c for c in LAYER_CHOICES if c != node["layer"]])
    return (individual,)


@register_operator("mut_toggle_connection", "neat")
def mut_toggle_connection(individual: dict, rng: Any = random) -> tuple[dict]:
    """Reverse the enabled flag of one uniformly chosen connection gene."""
    conns = individual["connections"]
    if conns:
        c = rng.choice(conns)
        c["enabled"] = not c["enabled"]
    return (individual,)


@register_operator("mut_add_node", "neat")
def mut_add_node(individual: dict, enabled_only: bool = True, rng: Any = random) -> tuple[dict]:
    """Split a random connection src -> dst by a new node (sec. 3.2).

    The connection is disabled; a node with the next innovation number and a uniformly
    chosen layer is added with enabled connections src -> new and new -> dst (appended
    to the gene lists). The connection is drawn among the enabled ones (or among all with
    ``enabled_only=False``, as NORD does); with none to draw from, nothing changes.
    Splitting an edge of an acyclic graph keeps it acyclic.
    """
    conns = individual["connections"]
    pool = [c for c in conns if c["enabled"]] if enabled_only else list(conns)
    if not pool:
        return (individual,)
    c = rng.choice(pool)
    layer = rng.choice(LAYER_CHOICES)
    c["enabled"] = False
    new = allocate_id(individual)
    individual["nodes"].append({"id": new, "layer": layer})
    conns.append({"src": c["src"], "dst": new, "enabled": True})
    conns.append({"src": new, "dst": c["dst"], "enabled": True})
    return (individual,)


@register_operator("mut_identity", "neat")
def mut_identity(individual: dict, rng: Any = random) -> tuple[dict]:
    """Leave the genome intact (``rng`` is accepted for a uniform interface, never used)."""
    return (individual,)


@register_operator("mut_neat", "neat")
def mut_neat(
    individual: dict,
    p_mutate: float = 0.7,
    p_add: float = 0.25,
    p_identity: float = 0.05,
    p_connection: float = 0.5,
    enabled_only: bool = True,
    rng: Any = random,
) -> tuple[dict]:
    """One mutation of the paper's scheme (sec. 3.2, 4.1).

    With weights ``p_mutate`` : ``p_add`` : ``p_identity`` (normalised by their sum) the
    genome gets a node-or-connection mutation, an added node, or nothing. The paper only
    says "the probability to mutate either a node or a connection was p_mutate"; the split
    is ``p_connection`` for :func:`mut_toggle_connection` and ``1 - p_connection`` for
    :func:`mut_layer_gene`, 0.5 by default (equal probability, as NORD's code does).
    ``enabled_only`` is passed to :func:`mut_add_node`.
    """
    weights = (p_mutate, p_add, p_identity)
    if any(not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(
            f"mut_neat: p_mutate, p_add and p_identity must be numbers >= 0 with a positive sum, got {weights}"
        )
    if isinstance(p_connection, bool) or not isinstance(p_connection, (int, float)) or not 0 <= p_connection <= 1:
        raise ValueError(f"mut_neat: p_connection must be a number in [0, 1], got {p_connection!r}")
    r = rng.random() * sum(weights)
    if r < p_mutate:
        if rng.random() < p_connection:
            return mut_toggle_connection(individual, rng=rng)
        return mut_layer_gene(individual, rng=rng)
    if r < p_mutate + p_add:
        return mut_add_node(individual, enabled_only=enabled_only, rng=rng)
    return mut_identity(individual)
