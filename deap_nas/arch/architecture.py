"""The shared architecture description: a small DAG of layer nodes (docs/architecture.md).

Every genome family decodes to an :class:`Architecture`; the builder, the parameter
count, hashing, deduplication, drawing, export and weight inheritance are written once
against it. Pure Python: no torch.

A :class:`Node` has an integer ``id`` (>= 0, unique), an ``op`` name registered in
:data:`deap_nas.arch.opspec.OPS`, ``params`` for that op, ``inputs`` (node ids, or
:data:`INPUT` for the network's input) and a ``merge`` mode combining several inputs.
The architecture's ``output`` node (by default the last node listed) feeds the head.
Nodes that do not lead to the output are dead: kept in the description, but neither
built nor counted nor hashed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ArchitectureError
from .heads import HeadSpec
from .merge import MERGES, MergePlan, plan_merge
from .opspec import Shape, get_op

INPUT = -1
FORMAT = "deap_nas.arch/1"


@dataclass
class Node:
    """One layer or block of an architecture."""

    id: int
    op: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[int, ...] = (INPUT,)
    merge: str = "none"
    align: bool = True

    def __post_init__(self) -> None:
        self.inputs = tuple(self.inputs)
        self.params = dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "op": self.op, "params": _jsonable(self.params)}
        d["inputs"] = list(self.inputs)
        d["merge"] = self.merge
        if not self.align:
            d["align"] = False
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Node:
        known = {"id", "op", "params", "inputs", "merge", "align"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ArchitectureError(f"node {d.get('id', '?')}: unknown field(s) {unknown}")
        for key in ("id", "op"):
            if key not in d:
                raise ArchitectureError(f"node entry {dict(d)!r} has no '{key}'")
        where = f"node {d['id']!r}"
        if not isinstance(d["op"], str):
            raise ArchitectureError(f"{where}: 'op' must be a string, got {d['op']!r}")
        params = d.get("params") or {}
        if not isinstance(params, Mapping):
            raise ArchitectureError(f"{where}: 'params' must be a mapping, got {params!r}")
        inputs = d.get("inputs", (INPUT,))
        if not isinstance(inputs, (list, tuple)):
            raise ArchitectureError(f"{where}: 'inputs' must be a list of node ids, got {inputs!r}")
        merge = d.get("merge", "none")
        if not isinstance(merge, str):
            raise ArchitectureError(f"{where}: 'merge' must be a string, got {merge!r}")
        align = d.get("align", True)
        if not isinstance(align, bool):
            raise ArchitectureError(f"{where}: 'align' must be true or false, got {align!r}")
        return cls(id=d["id"], op=d["op"], params=dict(params), inputs=tuple(inputs), merge=merge, align=align)


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


class Architecture:
    """A validated-on-demand DAG of :class:`Node` objects with one output node."""

    def __init__(self, nodes: Iterable[Node], output: int | None = None, name: str = "") -> None:
        self.nodes: list[Node] = list(nodes)
        if not self.nodes:
            raise ArchitectureError("an architecture needs at least one node")
        self.output: int = self.nodes[-1].id if output is None else output
        self.name = name

    # ---------------------------------------------------------------- structure

    def node(self, node_id: int) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise ArchitectureError(f"no node with id {node_id}")

    def __len__(self) -> int:
        return len(self.nodes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Architecture) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Architecture({len(self.nodes)} nodes, output={self.output}, hash={self.hash()})"

    def resolved_params(self) -> dict[int, dict[str, Any]]:
        """Every node's params with defaults filled in; errors name the node."""
        out = {}
        for n in self.nodes:
            try:
                out[n.id] = get_op(n.op).resolve(n.params)
            except ValueError as e:
                raise ArchitectureError(f"node {n.id} ({n.op}): {e}") from None
        return out

    def check_structure(self) -> None:
        """Ids, ops, params, merges, references, acyclicity and the output (no shapes)."""
        seen: set[int] = set()
        for n in self.nodes:
            if isinstance(n.id, bool) or not isinstance(n.id, int) or n.id < 0:
                raise ArchitectureError(f"node id must be an integer >= 0, got {n.id!r}")
            if n.id in seen:
                raise ArchitectureError(f"duplicate node id {n.id}")
            seen.add(n.id)
        for n in self.nodes:
            if n.merge not in MERGES:
                raise ArchitectureError(f"node {n.id}: unknown merge '{n.merge}'; use one of {list(MERGES)}")
            if not n.inputs:
                raise ArchitectureError(f"node {n.id}: has no inputs")
            if n.merge == "none" and len(n.inputs) != 1:
                raise ArchitectureError(
                    f"node {n.id}: {len(n.inputs)} inputs need merge 'add' or 'concat', not 'none'"
                )
            if len(set(n.inputs)) != len(n.inputs):
                raise ArchitectureError(f"node {n.id}: repeated input in {list(n.inputs)}")
            for i in n.inputs:
                if i != INPUT and i not in seen:
                    raise ArchitectureError(f"node {n.id}: input {i} is not a node of this architecture")
                if i == n.id:
                    raise ArchitectureError(f"node {n.id}: takes its own output as input")
        if self.output not in seen:
            raise ArchitectureError(f"output node {self.output} is not a node of this architecture")
        self.resolved_params()
        self.topological_order(live_only=False)

    def topological_order(self, live_only: bool = True) -> list[int]:
        """Node ids, inputs before consumers, ties in listing order; a cycle raises."""
        ids = [n.id for n in self.nodes]
        keep = self.live_ids() if live_only else set(ids)
        by_id = {n.id: n for n in self.nodes}
        state: dict[int, int] = {}
        order: list[int] = []

        def visit(i: int, path: list[int]) -> None:
            if state.get(i) == 2:
                return
            if state.get(i) == 1:
                cycle = path[path.index(i):] + [i]
                raise ArchitectureError(f"cycle through nodes {' -> '.join(map(str, cycle))}")
            state[i] = 1
            for j in by_id[i].inputs:
                if j != INPUT:
                    visit(j, path + [i])
            state[i] = 2
            order.append(i)

        for i in ids:
            if i in keep:
                visit(i, [])
        return order

    def live_ids(self) -> set[int]:
        """Ids of the nodes on a path to the output."""
        by_id = {n.id: n for n in self.nodes}
        live, stack = set(), [self.output]
        while stack:
            i = stack.pop()
            if i in live or i == INPUT or i not in by_id:
                continue
            live.add(i)
            stack.extend(by_id[i].inputs)
        return live

    def consumers(self) -> dict[int, list[int]]:
        """For each live node id (and INPUT): the live nodes that read it."""
        live = self.live_ids()
        out: dict[int, list[int]] = {INPUT: [], **{i: [] for i in live}}
        for n in self.nodes:
            if n.id in live:
                for i in n.inputs:
                    out[i].append(n.id)
        return out

    # ---------------------------------------------------------------- shapes and size

    def infer(self, input_shape: Shape) -> dict[int, tuple[MergePlan, Shape]]:
        """Per live node, in topological order: its merge plan and its output shape.

        Raises ArchitectureError naming the node for any impossible shape (a kernel larger
        than its input, inputs that cannot be merged).
        """
        self.check_structure()
        input_shape = _check_shape(input_shape)
        params = self.resolved_params()
        by_id = {n.id: n for n in self.nodes}
        shapes: dict[int, Shape] = {INPUT: input_shape}
        out: dict[int, tuple[MergePlan, Shape]] = {}
        for i in self.topological_order():
            n = by_id[i]
            where = f"node {i} ({n.op})"
            plan = plan_merge(n.merge, [shapes[j] for j in n.inputs], n.align, where)
            try:
                shape = get_op(n.op).out_shape(plan.out_shape, params[i])
            except ArchitectureError as e:
                raise ArchitectureError(f"{where}: {e}") from None
            shapes[i] = shape
            out[i] = (plan, shape)
        return out

    def validate(self, input_shape: Shape | None = None) -> None:
        """Raise ArchitectureError naming the problem; with ``input_shape`` check shapes too."""
        if input_shape is None:
            self.check_structure()
        else:
            self.infer(input_shape)

    def shapes(self, input_shape: Shape) -> dict[int, Shape]:
        """Output shape ``(C, H, W)`` of every live node."""
        return {i: s for i, (_, s) in self.infer(input_shape).items()}

    def output_shape(self, input_shape: Shape) -> Shape:
        return self.infer(input_shape)[self.output][1]

    def num_params(
        self,
        input_shape: Shape,
        num_classes: int | None = None,
        head: str | Mapping[str, Any] | HeadSpec | None = None,
    ) -> int:
        """Trainable parameters of the built network; the head is counted when
        ``num_classes`` is given. Equals ``sum(p.numel() for p in build(...).parameters())``."""
        info = self.infer(input_shape)
        params = self.resolved_params()
        by_id = {n.id: n for n in self.nodes}
        total = 0
        for i, (plan, _) in info.items():
            total += plan.num_params + get_op(by_id[i].op).num_params(plan.out_shape, params[i])
        if num_classes is not None:
            total += HeadSpec.parse(head).num_params(info[self.output][1], num_classes)
        return total

    def macs(
        self,
        input_shape: Shape,
        num_classes: int | None = None,
        head: str | Mapping[str, Any] | HeadSpec | None = None,
    ) -> int:
        """Multiply-accumulates of one forward pass for one image: every convolution and
        linear layer of the live nodes, their merge aligners and (with ``num_classes``) the
        head; BatchNorm, activations, pooling, padding, resizing, add and concat count 0
        (docs/objectives.md). FLOPs = 2 x MACs."""
        info = self.infer(input_shape)
        params = self.resolved_params()
        by_id = {n.id: n for n in self.nodes}
        total = 0
        for i, (plan, _) in info.items():
            total += plan.macs + get_op(by_id[i].op).macs(plan.out_shape, params[i])
        if num_classes is not None:
            total += HeadSpec.parse(head).macs(info[self.output][1], num_classes)
        return total

    # ---------------------------------------------------------------- identity

    def hash(self) -> str:
        """Canonical hash: equal for equal graphs whatever the node numbering."""
        from .canonical import canonical_hash

        return canonical_hash(self)

    # ---------------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"format": FORMAT, "output": self.output}
        if self.name:
            d["name"] = self.name
        d["nodes"] = [n.to_dict() for n in self.nodes]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Architecture:
        if not isinstance(d, Mapping) or not isinstance(d.get("nodes"), list):
            raise ArchitectureError("an architecture dict needs a 'nodes' list")
        if not all(isinstance(n, Mapping) for n in d["nodes"]):
            raise ArchitectureError("each entry of 'nodes' must be a mapping")
        fmt = d.get("format", FORMAT)
        if fmt != FORMAT:
            raise ArchitectureError(f"unsupported architecture format '{fmt}' (expected '{FORMAT}')")
        nodes = [Node.from_dict(n) for n in d["nodes"]]
        return cls(nodes, output=d.get("output"), name=d.get("name", ""))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ArchitectureError(f"architecture JSON is not valid JSON: {e}") from None
        return cls.from_dict(data)

    def to_dot(self, input_shape: Shape | None = None) -> str:
        from .dot import to_dot

        return to_dot(self, input_shape)

    def copy(self) -> Architecture:
        return Architecture.from_dict(self.to_dict())


def _check_shape(shape: Any) -> Shape:
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 3
        or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in shape)
    ):
        raise ArchitectureError(f"input shape must be (channels, height, width) of positive ints, got {shape!r}")
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def sequential(ops: Iterable[tuple[str, Mapping[str, Any]] | str], name: str = "") -> Architecture:
    """A chain of nodes 0, 1, 2, ... each reading the previous one: the common case."""
    nodes = []
    for i, spec in enumerate(ops):
        op, params = (spec, {}) if isinstance(spec, str) else (spec[0], dict(spec[1]))
        nodes.append(Node(i, op, params, inputs=(i - 1 if i else INPUT,)))
    return Architecture(nodes, name=name)
