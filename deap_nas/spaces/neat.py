"""The regularized-evolution macro space: NEAT-style node and connection genes (torch-free).

Kyriakides & Margaritis, "Regularized Evolution for Macro Neural Architecture Search"
(AIAI 2020), sec. 3.1-3.3 and 4.1; reference code: NORD, branch AIAI2020,
``nord/architectural_design/metaheuristics/evolutionary/rem``.

Genome (a :class:`~deap_nas.spaces.types.GraphIndividual`, a dict of plain values)::

    {"nodes": [{"id": 0, "layer": "CONV_3.N"}, ...],
     "connections": [{"src": -2, "dst": 0, "enabled": True}, ...],
     "next_id": 4}

- Layer genes (sec. 3.1): each node is one of the 12 choices of Table 1
  (:data:`LAYER_CHOICES`): a convolution with kernel 2, 3 or 5 and all (``N``) or half
  (``H``) of the fixed channel count, or an average (``A``) / max (``M``) pooling with
  kernel 2, 3 or 5.
- Connection genes (sec. 3.1): origin, destination and an enabled flag.
- Node ids are innovation numbers (sec. 3.2, "a unique number which indicates when the
  node was added"): unique within the genome, increasing in order of creation from 0;
  :data:`INPUT_ID` = -2 is the network input and :data:`OUTPUT_ID` = 99 its output (as in
  the paper), so the counter skips 99.
- Decoding (sec. 3.3): only nodes on an enabled input -> output path are built; a node
  with several inputs sums them after bilinear resizing to the first input's size and
  1x1 channel alignment (the shared Architecture's ``add`` merge). The head is three FC
  layers (``mlp3``). A conv node is conv -> ReLU6 -> BatchNorm -> Dropout2d(0.1).

Where this departs from the text or the reference code, and why:

- Innovation numbers are per genome (the paper's Fig. 2 numbering); NORD keeps one
  global counter per generation. Architectures are compared by the shared canonical
  hash, which ignores numbering, so nothing depends on global numbers.
- NORD's output id is 9999; the paper says 99, which we use.
- The paper's initial genome is "4 random layers"; see :meth:`NeatSpace.random_individual`.
- Convolutions keep a bias (``conv_bias``) although BatchNorm follows them: ReLU6 sits
  between, so the bias is not redundant, NORD uses ``nn.Conv2d``'s default bias, and only
  with it does REMNet at 128 channels have the paper's 791,338 parameters (sec. 4.2).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..arch import INPUT, Architecture, Node
from .base import SearchSpace, check_input_shape_and_head, register_space
from .types import GraphIndividual

INPUT_ID = -2
OUTPUT_ID = 99

#: Table 1 of the paper, in its order.
LAYER_CHOICES: tuple[str, ...] = (
    "CONV_2.H",
    "CONV_3.H",
    "CONV_5.H",
    "CONV_2.N",
    "CONV_3.N",
    "CONV_5.N",
    "POOL_2.A",
    "POOL_3.A",
    "POOL_5.A",
    "POOL_2.M",
    "POOL_3.M",
    "POOL_5.M",
)

PADDINGS = ("valid", "same")


@dataclass
class NeatParams:
    """``space:`` section of a config for ``name: neat``.

    - ``channels``: the fixed channel count C (sec. 3.1; 64 in sec. 4.1); ``.N`` convs have
      C filters, ``.H`` convs C // 2.
    - ``initial_layers``: random layers of a new genome (4 in sec. 3.2); 0 gives NORD's
      initial genome, a single input -> output connection.
    - ``padding``: of convs and pools. ``valid`` (no padding) by default: the paper calls
      architectures invalid whose "kernel size [is] greater than the input tensor size"
      (sec. 4.2), which only happens without padding, and NORD builds ``nn.Conv2d`` /
      pools with PyTorch's default padding 0. ``same`` is allowed.
    - ``pool_stride``: ``None`` = the kernel size (NORD: ``stride=kernel``).
    - ``dropout``: Dropout2d after each conv unit (0.1, sec. 3.3).
    - ``conv_bias``: convs keep their bias (see the module docstring).
    - ``input_shape``: ``(C, H, W)`` used by :meth:`NeatSpace.validate` and
      :meth:`NeatSpace.screen` (Fashion-MNIST); it must match the data.
    - ``num_classes``: classes of the data (10, sec. 3.3), for the parameter count of
      :meth:`NeatSpace.screen` (the last FC layer).
    - ``head``: the classifier head (``mlp3``: the paper's three FC layers, sec. 3.3).

    With these defaults the paper's best evolved network (sec. 4.2: two CONV_2.N, a
    CONV_3.N, a CONV_5.N, a POOL_5.A and a CONV_3.H in sequence) is valid at 28x28:
    28 -> 27 -> 26 -> 24 -> 20 -> 4 (pool 5, stride 5) -> 2; and REMNet (its first five
    layers, then two CONV_3.H branches from the pool summed at the output) has exactly the
    791,338 parameters the paper reports for 128 channels, which fixes valid padding,
    stride-1 convs, stride = kernel pools and biased convs as the paper's setting.
    """

    channels: int = 64
    initial_layers: int = 4
    padding: str = "valid"
    pool_stride: int | None = None
    dropout: float = 0.1
    conv_bias: bool = True
    input_shape: tuple[int, int, int] = (1, 28, 28)
    num_classes: int = 10
    head: str = "mlp3"

    def __post_init__(self) -> None:
        if isinstance(self.channels, bool) or not isinstance(self.channels, int) or self.channels < 2:
            raise ValueError(f"channels: must be >= 2, got {self.channels!r}")
        if isinstance(self.initial_layers, bool) or not isinstance(self.initial_layers, int) or self.initial_layers < 0:
            raise ValueError(f"initial_layers: must be >= 0, got {self.initial_layers!r}")
        if self.padding not in PADDINGS:
            raise ValueError(f"padding: must be one of {list(PADDINGS)}, got {self.padding!r}")
        if self.pool_stride is not None and (
            isinstance(self.pool_stride, bool) or not isinstance(self.pool_stride, int) or self.pool_stride < 1
        ):
            raise ValueError(f"pool_stride: must be null (= kernel) or >= 1, got {self.pool_stride!r}")
        ok = isinstance(self.dropout, (int, float)) and not isinstance(self.dropout, bool)
        if not ok or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.conv_bias, bool):
            raise ValueError(f"conv_bias: must be true or false, got {self.conv_bias!r}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ValueError(f"num_classes: must be an integer >= 2, got {self.num_classes!r}")
        self.input_shape = check_input_shape_and_head(self.input_shape, self.head)


def layer_op(choice: str, params: NeatParams | None = None) -> tuple[str, dict[str, Any]]:
    """The Architecture op and params of a Table 1 layer choice, e.g. ``"CONV_3.H"``.

    Conv: ``channels`` C or C // 2, conv -> ReLU6 -> BN -> Dropout2d (sec. 3.3). Pool:
    average or max, stride ``pool_stride`` (None = kernel).
    """
    p = params if params is not None else NeatParams()
    if choice not in LAYER_CHOICES:
        raise ValueError(f"unknown layer choice {choice!r}; use one of {list(LAYER_CHOICES)}")
    kind, rest = choice.split("_")
    kernel_text, variant = rest.split(".")
    kernel = int(kernel_text)
    if kind == "CONV":
        channels = p.channels if variant == "N" else p.channels // 2
        return "conv", {
            "channels": channels,
            "kernel": kernel,
            "padding": p.padding,
            "act": "relu6",
            "bn": True,
            "order": "conv_act_bn",
            "dropout": p.dropout,
            "bias": p.conv_bias,
        }
    return "pool", {
        "type": "avg" if variant == "A" else "max",
        "kernel": kernel,
        "stride": p.pool_stride,
        "padding": p.padding,
    }


# ------------------------------------------------------------------------ genome helpers


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_genome(genome: Any) -> None:
    """Raise ValueError naming the first structural problem of a genome.

    Checks: the three keys; node entries with an integer ``id`` >= 0 other than 99, unique,
    below ``next_id``, and a known ``layer``; connection entries with integer ``src`` /
    ``dst`` that name -2 (source only), 99 (destination only) or a node, not a self loop,
    no repeated (src, dst) pair, and a boolean ``enabled``.
    """
    if not isinstance(genome, Mapping):
        raise ValueError(f"a neat genome is a mapping with nodes, connections and next_id, got {type(genome).__name__}")
    for key in ("nodes", "connections", "next_id"):
        if key not in genome:
            raise ValueError(f"genome: missing key '{key}'")
    unknown = sorted(set(genome) - {"nodes", "connections", "next_id"})
    if unknown:
        raise ValueError(f"genome: unknown key(s) {unknown}")
    nodes, conns, next_id = genome["nodes"], genome["connections"], genome["next_id"]
    if not isinstance(nodes, list):
        raise ValueError(f"genome: 'nodes' must be a list, got {type(nodes).__name__}")
    if not isinstance(conns, list):
        raise ValueError(f"genome: 'connections' must be a list, got {type(conns).__name__}")
    if not _is_int(next_id) or next_id < 0:
        raise ValueError(f"genome: 'next_id' must be an integer >= 0, got {next_id!r}")
    ids: set[int] = set()
    for k, n in enumerate(nodes):
        where = f"node entry {k}"
        if not isinstance(n, Mapping):
            raise ValueError(f"{where}: must be a mapping, got {n!r}")
        for key in ("id", "layer"):
            if key not in n:
                raise ValueError(f"{where}: missing key '{key}'")
        extra = sorted(set(n) - {"id", "layer"})
        if extra:
            raise ValueError(f"{where}: unknown key(s) {extra}")
        i = n["id"]
        if not _is_int(i) or i < 0 or i == OUTPUT_ID:
            raise ValueError(f"{where}: id must be an integer >= 0 other than {OUTPUT_ID} (the output), got {i!r}")
        if i in ids:
            raise ValueError(f"duplicate node id {i}")
        if i >= next_id:
            raise ValueError(f"node {i}: id not below next_id {next_id}")
        if n["layer"] not in LAYER_CHOICES:
            raise ValueError(f"node {i}: unknown layer choice {n['layer']!r}; use one of {list(LAYER_CHOICES)}")
        ids.add(i)
    pairs: set[tuple[int, int]] = set()
    for k, c in enumerate(conns):
        where = f"connection entry {k}"
        if not isinstance(c, Mapping):
            raise ValueError(f"{where}: must be a mapping, got {c!r}")
        for key in ("src", "dst", "enabled"):
            if key not in c:
                raise ValueError(f"{where}: missing key '{key}'")
        extra = sorted(set(c) - {"src", "dst", "enabled"})
        if extra:
            raise ValueError(f"{where}: unknown key(s) {extra}")
        src, dst = c["src"], c["dst"]
        where = f"connection {src!r}->{dst!r}"
        if not _is_int(src) or not (src == INPUT_ID or src in ids):
            raise ValueError(f"{where}: source {src!r} is not the input ({INPUT_ID}) or a node of this genome")
        if not _is_int(dst) or not (dst == OUTPUT_ID or dst in ids):
            raise ValueError(f"{where}: destination {dst!r} is not the output ({OUTPUT_ID}) or a node of this genome")
        if src == dst:
            raise ValueError(f"{where}: a node cannot connect to itself")
        if (src, dst) in pairs:
            raise ValueError(f"{where}: repeated connection")
        pairs.add((src, dst))
        if not isinstance(c["enabled"], bool):
            raise ValueError(f"{where}: 'enabled' must be true or false, got {c['enabled']!r}")


def allocate_id(genome: dict[str, Any]) -> int:
    """The next innovation number of ``genome`` (never -2 or 99); advances ``next_id``."""
    i = genome["next_id"]
    if i == OUTPUT_ID:
        i += 1
    genome["next_id"] = i + 1
    return i


def enabled_path_nodes(genome: Mapping[str, Any]) -> set[int]:
    """Ids (the input and output included) on an enabled input -> output path.

    A node is kept when it is reachable forward from -2 and backward from 99 through
    enabled connections. The set is empty when no such path exists.
    """
    fwd: dict[int, list[int]] = {}
    bwd: dict[int, list[int]] = {}
    for c in genome["connections"]:
        if c["enabled"]:
            fwd.setdefault(c["src"], []).append(c["dst"])
            bwd.setdefault(c["dst"], []).append(c["src"])

    def reach(start: int, adj: dict[int, list[int]]) -> set[int]:
        seen, stack = {start}, [start]
        while stack:
            for j in adj.get(stack.pop(), ()):
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        return seen

    kept = reach(INPUT_ID, fwd) & reach(OUTPUT_ID, bwd)
    return kept if OUTPUT_ID in kept and INPUT_ID in kept else set()


def _find_cycle(nodes: list[int], inputs: dict[int, list[int]]) -> list[int]:
    """One cycle among ``nodes`` (each listed with its in-neighbours), as a closed path."""
    state: dict[int, int] = {}

    def visit(i: int, path: list[int]) -> list[int] | None:
        state[i] = 1
        path.append(i)
        for j in inputs.get(i, ()):
            if state.get(j) == 1:
                cyc = path[path.index(j):] + [j]
                return cyc[::-1]  # inputs point backwards: reverse to follow data flow
            if j in inputs and state.get(j) is None:
                found = visit(j, path)
                if found:
                    return found
        path.pop()
        state[i] = 2
        return None

    for i in nodes:
        if state.get(i) is None:
            found = visit(i, [])
            if found:
                return found
    return []


# ------------------------------------------------------------------------ the space


@register_space("neat")
class NeatSpace(SearchSpace):
    """NEAT-style graphs of Table 1 layers (regularized-evolution macro NAS)."""

    Params = NeatParams

    def layer_op(self, choice: str) -> tuple[str, dict[str, Any]]:
        """:func:`layer_op` with this space's parameters."""
        return layer_op(choice, self.params)

    def random_layer(self, rng: random.Random | Any = random) -> str:
        """One of the 12 layer choices, uniformly."""
        return rng.choice(LAYER_CHOICES)

    def random_individual(self, rng: random.Random | Any = random) -> GraphIndividual:
        """``initial_layers`` random layers chained -2 -> 0 -> 1 -> ... -> 99.

        The paper says only that "each individual consists of 4 random layers" (sec. 3.2);
        connecting them as a chain is our reading, consistent with its Fig. 2, where
        node additions grow a genome from a chain (add-node only splits connections).
        """
        ind = GraphIndividual(nodes=[], connections=[], next_id=0)
        for _ in range(self.params.initial_layers):
            ind["nodes"].append({"id": allocate_id(ind), "layer": self.random_layer(rng)})
        chain = [INPUT_ID, *(n["id"] for n in ind["nodes"]), OUTPUT_ID]
        ind["connections"] = [{"src": a, "dst": b, "enabled": True} for a, b in zip(chain, chain[1:], strict=False)]
        return ind

    def decode(self, genome: Any) -> Architecture:
        """The architecture of the nodes on enabled input -> output paths.

        Each kept layer becomes ``Node(id, op, params)`` reading its enabled in-connections
        from kept nodes in connection-gene order (-2 -> the architecture's INPUT); several
        inputs are summed (``merge="add"``). Node 99 becomes an ``identity`` node, the
        output. ValueError when no enabled path exists or the enabled graph has a cycle.
        """
        check_genome(genome)
        kept = enabled_path_nodes(genome)
        if not kept:
            raise ValueError("no enabled path from input to output")
        inputs: dict[int, list[int]] = {i: [] for i in kept if i != INPUT_ID}
        for c in genome["connections"]:
            if c["enabled"] and c["src"] in kept and c["dst"] in kept:
                inputs[c["dst"]].append(c["src"])
        # topological order (Kahn), ties in genome order; leftovers lie on a cycle
        layer_order = [n["id"] for n in genome["nodes"] if n["id"] in kept]
        rank = {i: k for k, i in enumerate([*layer_order, OUTPUT_ID])}
        pending = {i: sum(1 for j in ins if j != INPUT_ID) for i, ins in inputs.items()}
        consumers: dict[int, list[int]] = {}
        for i, ins in inputs.items():
            for j in ins:
                consumers.setdefault(j, []).append(i)
        ready = sorted((i for i, k in pending.items() if k == 0), key=rank.__getitem__)
        order: list[int] = []
        while ready:
            i = ready.pop(0)
            order.append(i)
            for m in consumers.get(i, ()):
                pending[m] -= 1
                if pending[m] == 0:
                    ready.append(m)
                    ready.sort(key=rank.__getitem__)
        if len(order) != len(inputs):
            left = [i for i in rank if i not in order]
            cycle = _find_cycle(left, {i: inputs[i] for i in left})
            raise ValueError(f"cycle through nodes {' -> '.join(map(str, cycle))}")
        layers = {n["id"]: n["layer"] for n in genome["nodes"]}
        nodes = []
        for i in order:
            ins = tuple(INPUT if j == INPUT_ID else j for j in inputs[i])
            merge = "add" if len(ins) > 1 else "none"
            if i == OUTPUT_ID:
                nodes.append(Node(OUTPUT_ID, "identity", {}, inputs=ins, merge=merge))
            else:
                op, params = self.layer_op(layers[i])
                nodes.append(Node(i, op, params, inputs=ins, merge=merge))
        return Architecture(nodes, output=OUTPUT_ID)

    def validate(self, genome: Any) -> None:
        """Raise ValueError / ArchitectureError for an invalid genome: no enabled path, a
        cycle, or a kernel larger than its input at ``params.input_shape``."""
        self.decode(genome).validate(self.params.input_shape)

    def screen(self, genome: Any, max_params: int | None = None) -> tuple[str, str, int | None] | None:
        """Torch-free check of a candidate before it is trained: None when it can be
        trained, else ``(status, message, params)``: ``invalid`` (no enabled path, a cycle,
        a kernel larger than its input at ``input_shape``: the paper's invalid networks,
        sec. 4.2) or ``too_large`` (more than ``max_params`` parameters, head included,
        counted from the architecture description at ``input_shape`` / ``num_classes``).
        """
        p = self.params
        try:
            n = self.decode(genome).num_params(p.input_shape, p.num_classes, p.head)
        except ValueError as e:  # ArchitectureError is a ValueError
            return ("invalid", str(e), None)
        if max_params is not None and n > max_params:
            return ("too_large", f"{n} parameters > max_params {max_params}", n)
        return None

    def to_json(self, genome: Any) -> dict[str, Any]:
        return {
            "nodes": [{"id": n["id"], "layer": n["layer"]} for n in genome["nodes"]],
            "connections": [
                {"src": c["src"], "dst": c["dst"], "enabled": c["enabled"]} for c in genome["connections"]
            ],
            "next_id": genome["next_id"],
        }

    def from_json(self, data: Any) -> GraphIndividual:
        check_genome(data)
        return GraphIndividual(self.to_json(data))

    def describe(self, genome: Any) -> str:
        """One line: connection genes in gene order, consecutive ones chained, each node
        labelled with its layer where first named, disabled runs marked ``(off)``.

        >>> NeatSpace().describe({"nodes": [{"id": 0, "layer": "CONV_3.N"}, {"id": 1, "layer": "POOL_2.M"}],
        ...     "connections": [{"src": -2, "dst": 0, "enabled": True}, {"src": 0, "dst": 99, "enabled": True},
        ...                     {"src": 0, "dst": 1, "enabled": False}], "next_id": 2})
        '-2>0:CONV_3.N>99 | 0>1:POOL_2.M (off)'
        """
        layers = {n["id"]: n["layer"] for n in genome["nodes"]}
        named: set[int] = set()

        def label(i: int) -> str:
            if i in layers and i not in named:
                named.add(i)
                return f"{i}:{layers[i]}"
            return str(i)

        parts: list[str] = []
        chain: list[str] = []
        end, on = None, None
        for c in genome["connections"]:
            if chain and c["src"] == end and c["enabled"] == on:
                chain.append(label(c["dst"]))
            else:
                if chain:
                    parts.append(">".join(chain) + ("" if on else " (off)"))
                chain = [label(c["src"]), label(c["dst"])]
            end, on = c["dst"], c["enabled"]
        if chain:
            parts.append(">".join(chain) + ("" if on else " (off)"))
        for i, layer in layers.items():
            if i not in named:
                parts.append(f"{i}:{layer} (unconnected)")
        return " | ".join(parts)
