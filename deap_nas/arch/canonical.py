"""Canonical form and hash of an architecture, independent of node numbering.

Only live nodes count (dead nodes compute nothing). Each node gets two structural
signatures: ``up`` (a Merkle hash of its op, resolved params, merge and the ``up``
signatures of its inputs; sorted for ``add``, whose inputs commute, ordered for
``concat``) and ``down`` (a hash over its consumers' ``down`` signatures and the input
slot it fills). Nodes are then numbered in a topological order that always picks the
ready node with the smallest (up, down, numbers of its inputs) key, and the graph is
written with those numbers. Two graphs that differ only in numbering get the same text;
sharing a node differs from duplicating it (the numbers of inputs differ), so distinct
networks get distinct hashes.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .architecture import Architecture


def _h(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=list).encode()).hexdigest()


def canonical_form(arch: Architecture) -> dict[str, Any]:
    """The numbering-free description that :func:`canonical_hash` digests."""
    from .architecture import INPUT, _jsonable

    arch.check_structure()
    params = arch.resolved_params()
    by_id = {n.id: n for n in arch.nodes}
    topo = arch.topological_order()
    consumers = arch.consumers()

    def local(i: int) -> list[Any]:
        n = by_id[i]
        return [n.op, _jsonable(params[i]), n.merge, n.align]

    up: dict[int, str] = {INPUT: "input"}
    for i in topo:
        ins = [up[j] for j in by_id[i].inputs]
        if by_id[i].merge == "add":
            ins.sort()
        up[i] = _h([local(i), ins])

    down: dict[int, str] = {}
    for i in reversed(topo):
        refs = []
        for c in consumers[i]:
            slot = "add" if by_id[c].merge == "add" else by_id[c].inputs.index(i)
            refs.append([down[c], up[c], slot])
        down[i] = _h([sorted(refs), i == arch.output])

    number: dict[int, int] = {INPUT: -1}
    waiting = {i: [j for j in by_id[i].inputs if j != INPUT] for i in topo}
    done: set[int] = set()
    while len(done) < len(topo):
        ready = [i for i in topo if i not in done and all(j in done for j in waiting[i])]

        def key(i: int) -> tuple[str, str, list[int]]:
            ins = [number[j] for j in by_id[i].inputs]
            return (up[i], down[i], sorted(ins) if by_id[i].merge == "add" else ins)

        nxt = min(ready, key=key)
        number[nxt] = len(done)
        done.add(nxt)

    ordered = sorted(topo, key=lambda i: number[i])
    nodes = []
    for i in ordered:
        ins = [number[j] for j in by_id[i].inputs]
        if by_id[i].merge == "add":
            ins.sort()
        nodes.append([*local(i), ins])
    return {"nodes": nodes, "output": number[arch.output]}


def canonical_hash(arch: Architecture, length: int = 20) -> str:
    """Hex digest (``length`` characters) of :func:`canonical_form`."""
    return _h(canonical_form(arch))[:length]
