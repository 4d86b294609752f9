"""The EIGEN space: a graph of convolution, pooling and concatenation layers (torch-free).

Ren et al., "EIGEN: Ecologically-Inspired GENetic Approach for Neural Network Structure
Searching from Scratch" (CVPR 2019), sec. 3 and 3.1 (search space of [27], Li et al.).

Genome (an :class:`~deap_nas.spaces.types.EigenIndividual`, a dict of plain values)::

    {"layers": [{"id": 0, "type": "conv", "inputs": [-1], "kernel": 3, "channels": 32, "stride": 1},
                {"id": 1, "type": "pool", "inputs": [0]},
                {"id": 2, "type": "concat", "inputs": [0, 1]}],      # (not valid: sizes differ)
     "output": 1,        # the layer that feeds the global pooling layer (-1: the input)
     "next_id": 3}

- Layers are listed in a topological order (every input is listed before its reader);
  ``-1`` (:data:`INPUT_ID`) is the network input.
- ``conv``: a convolution with kernel 1x1 or 3x3, 16/32/48/64/96 channels, stride 1 or 2,
  'same' padding, followed by BatchNorm and ReLU (sec. 3.1); inserted with 3x3, 32, 1.
- ``pool``: 2x2 pooling with stride 2 (sec. 3.1); max pooling (the paper does not say
  which kind; ours).
- ``concat``: the channel concatenation of two earlier layers (or the input) with the same
  feature-map size (sec. 3.1); no resizing, so a size mismatch makes the genome invalid.
- The poorly initialised individual (sec. 3.1, "only contains one global pooling layer")
  has no layers and ``output: -1``: the input goes straight to the global pooling layer
  and the linear classifier. Every network ends in one global average pooling node
  (:data:`GLOBAL_POOL_ID`) and a ``linear`` head.

Gene duplication (sec. 3.3) is here too, as pure genome arithmetic: :func:`blocks` splits
the live layers into blocks of the same output size, :func:`duplicate_block` repeats one.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..arch import INPUT, Architecture, ArchitectureError, Node
from .base import SearchSpace, check_input_shape_and_head, register_space
from .types import EigenIndividual

INPUT_ID = -1
GLOBAL_POOL_ID = 1_000_000
LAYER_TYPES = ("conv", "pool", "concat")
CONV_KEYS = ("kernel", "channels", "stride")


@dataclass
class EigenParams:
    """``space:`` section for ``name: eigen``.

    - ``channel_choices``, ``kernel_choices``, ``stride_choices``: the values the ALTER
      operators draw from (sec. 3.1: {16, 32, 48, 64, 96}, {1, 3}, {1, 2}).
    - ``conv_kernel``, ``conv_channels``, ``conv_stride``: an inserted convolution's
      setting (sec. 3.1: 3x3, 32, 1).
    - ``pool_type``: ``max`` or ``avg`` for the 2x2 / stride 2 pooling layers (ours: max).
    - ``max_layers``: insertions report that they cannot apply once the genome has this
      many layers (None: no limit, as in the paper; quick configs use a cap for CPU time).
    - ``input_shape``: ``(C, H, W)`` the operators check validity at (CIFAR-10).
    - ``head``: after the global pooling node (``linear``).
    """

    channel_choices: tuple[int, ...] = (16, 32, 48, 64, 96)
    kernel_choices: tuple[int, ...] = (1, 3)
    stride_choices: tuple[int, ...] = (1, 2)
    conv_kernel: int = 3
    conv_channels: int = 32
    conv_stride: int = 1
    pool_type: str = "max"
    max_layers: int | None = None
    input_shape: tuple[int, int, int] = (3, 32, 32)
    head: str = "linear"

    def __post_init__(self) -> None:
        for name in ("channel_choices", "kernel_choices", "stride_choices"):
            v = getattr(self, name)
            if not isinstance(v, (list, tuple)) or len(v) < 1 or not all(_is_int(x) and x >= 1 for x in v):
                raise ValueError(f"{name}: must be a non-empty list of positive integers, got {v!r}")
            setattr(self, name, tuple(int(x) for x in v))
        for name in ("conv_kernel", "conv_channels", "conv_stride"):
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                raise ValueError(f"{name}: must be a positive integer, got {v!r}")
        if self.pool_type not in ("max", "avg"):
            raise ValueError(f"pool_type: must be 'max' or 'avg', got {self.pool_type!r}")
        if self.max_layers is not None and (not _is_int(self.max_layers) or self.max_layers < 1):
            raise ValueError(f"max_layers: must be null or >= 1, got {self.max_layers!r}")
        self.input_shape = check_input_shape_and_head(self.input_shape, self.head)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# ------------------------------------------------------------------------ genome helpers


def check_genome(genome: Any) -> None:
    """Raise ValueError naming the first structural problem of an EIGEN genome: keys,
    layer fields, unique ids below ``next_id``, inputs listed earlier (or -1), a concat
    with two distinct inputs, an ``output`` that is -1 or a layer."""
    if not isinstance(genome, Mapping):
        raise ValueError(f"an eigen genome is a mapping with layers, output and next_id, got {type(genome).__name__}")
    for key in ("layers", "output", "next_id"):
        if key not in genome:
            raise ValueError(f"genome: missing key '{key}'")
    extra = sorted(set(genome) - {"layers", "output", "next_id"})
    if extra:
        raise ValueError(f"genome: unknown key(s) {extra}")
    if not isinstance(genome["layers"], list):
        raise ValueError("genome: 'layers' must be a list")
    if not _is_int(genome["next_id"]) or genome["next_id"] < 0:
        raise ValueError(f"genome: 'next_id' must be an integer >= 0, got {genome['next_id']!r}")
    seen: set[int] = set()
    for k, layer in enumerate(genome["layers"]):
        where = f"layer entry {k}"
        if not isinstance(layer, Mapping):
            raise ValueError(f"{where}: must be a mapping, got {layer!r}")
        t = layer.get("type")
        if t not in LAYER_TYPES:
            raise ValueError(f"{where}: 'type' must be one of {list(LAYER_TYPES)}, got {t!r}")
        allowed = {"id", "type", "inputs", *(CONV_KEYS if t == "conv" else ())}
        missing = sorted(allowed - set(layer))
        if missing:
            raise ValueError(f"{where}: missing key(s) {missing}")
        unknown = sorted(set(layer) - allowed)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}")
        i = layer["id"]
        if not _is_int(i) or i < 0 or i in seen or i >= genome["next_id"]:
            raise ValueError(f"{where}: id must be a new integer in [0, next_id), got {i!r}")
        ins = layer["inputs"]
        want = 2 if t == "concat" else 1
        if not isinstance(ins, list) or len(ins) != want:
            raise ValueError(f"layer {i} ({t}): needs a list of {want} input(s), got {ins!r}")
        for j in ins:
            if j != INPUT_ID and j not in seen:
                raise ValueError(f"layer {i}: input {j!r} is not -1 or a layer listed before it")
        if t == "concat" and ins[0] == ins[1]:
            raise ValueError(f"layer {i}: a concatenation needs two different inputs, got {ins}")
        if t == "conv":
            for key in CONV_KEYS:
                if not _is_int(layer[key]) or layer[key] < 1:
                    raise ValueError(f"layer {i}: '{key}' must be a positive integer, got {layer[key]!r}")
        seen.add(i)
    out = genome["output"]
    if out != INPUT_ID and out not in seen:
        raise ValueError(f"genome: output {out!r} is not -1 or a layer")


def layer_by_id(genome: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    return {layer["id"]: layer for layer in genome["layers"]}


def live_layer_ids(genome: Mapping[str, Any]) -> set[int]:
    """Ids of the layers on a path to the output (the others are not built)."""
    by_id = layer_by_id(genome)
    live: set[int] = set()
    stack = [genome["output"]]
    while stack:
        i = stack.pop()
        if i == INPUT_ID or i in live:
            continue
        live.add(i)
        stack.extend(by_id[i]["inputs"])
    return live


def prune(genome: dict[str, Any]) -> list[int]:
    """Remove the layers that no longer lead to the output; returns their ids."""
    live = live_layer_ids(genome)
    dead = [layer["id"] for layer in genome["layers"] if layer["id"] not in live]
    genome["layers"] = [layer for layer in genome["layers"] if layer["id"] in live]
    return dead


def allocate_id(genome: dict[str, Any]) -> int:
    i = genome["next_id"]
    genome["next_id"] = i + 1
    return i


def edges(genome: Mapping[str, Any]) -> list[tuple[int, int]]:
    """Every (source, reader) pair in gene order; the global pooling reads ``output``."""
    out = [(j, layer["id"]) for layer in genome["layers"] for j in layer["inputs"]]
    out.append((genome["output"], GLOBAL_POOL_ID))
    return out


def count(genome: Mapping[str, Any], layer_type: str) -> int:
    return sum(1 for layer in genome["layers"] if layer["type"] == layer_type)


def redirect(genome: dict[str, Any], old: int, new: int, reader: int | None = None) -> None:
    """Make ``reader`` (every reader when None; GLOBAL_POOL_ID = the output) read ``new``
    where it read ``old``."""
    for layer in genome["layers"]:
        if reader is None or layer["id"] == reader:
            layer["inputs"] = [new if j == old else j for j in layer["inputs"]]
    if genome["output"] == old and reader in (None, GLOBAL_POOL_ID):
        genome["output"] = new


def insert_layer(genome: dict[str, Any], layer: dict[str, Any], source: int, reader: int) -> None:
    """Put ``layer`` (id set, reading ``source``) on the edge ``source -> reader``, listed
    just before ``reader`` (at the end when the reader is the global pooling)."""
    redirect(genome, source, layer["id"], reader)
    layers = genome["layers"]
    pos = len(layers) if reader == GLOBAL_POOL_ID else next(k for k, x in enumerate(layers) if x["id"] == reader)
    layers.insert(pos, layer)


def describe(genome: Mapping[str, Any]) -> str:
    """One line: the live layers in gene order, e.g. ``0:conv3x3/32s1(-1) 1:pool(0) -> 1``."""
    live = live_layer_ids(genome)
    parts = []
    for layer in genome["layers"]:
        if layer["id"] not in live:
            continue
        if layer["type"] == "conv":
            label = f"conv{layer['kernel']}x{layer['kernel']}/{layer['channels']}s{layer['stride']}"
        else:
            label = layer["type"]
        parts.append(f"{layer['id']}:{label}({','.join(map(str, layer['inputs']))})")
    return " ".join(parts) + f" -> {genome['output']}" if parts else "global pooling only"


# ------------------------------------------------------------------------ blocks (sec. 3.3)


def blocks(genome: Mapping[str, Any], input_shape: tuple[int, int, int]) -> list[list[int]]:
    """The live layers split into blocks of the same output feature-map size (sec. 3.3:
    "the block includes the layers with activation map that have the same W and H"),
    largest size first; each block lists its layer ids in gene order."""
    shapes = EigenSpace(EigenParams(input_shape=input_shape)).decode(genome).shapes(input_shape)
    sizes: dict[tuple[int, int], list[int]] = {}
    for layer in genome["layers"]:
        if layer["id"] in shapes:
            sizes.setdefault(shapes[layer["id"]][1:], []).append(layer["id"])
    return [sizes[s] for s in sorted(sizes, key=lambda hw: (-hw[0] * hw[1], hw))]


def block_exits(genome: Mapping[str, Any], block: list[int]) -> list[int]:
    """Layers of ``block`` read from outside it (or feeding the global pooling)."""
    inside = set(block)
    exits = {src for src, reader in edges(genome) if src in inside and reader not in inside}
    return [i for i in block if i in exits]


DUPLICATION_MODES = ("serial", "parallel")


def toposort(genome: dict[str, Any]) -> None:
    """Re-list the layers in a topological order, in place, keeping the current order
    wherever it already is one (stable: the lowest-listed ready layer goes first)."""
    layers = genome["layers"]
    placed: set[int] = {INPUT_ID}
    out: list[dict[str, Any]] = []
    left = list(layers)
    while left:
        k = next((k for k, x in enumerate(left) if all(j in placed for j in x["inputs"])), None)
        if k is None:
            raise ValueError("genome: the layers form a cycle")
        placed.add(left[k]["id"])
        out.append(left.pop(k))
    genome["layers"] = out


def _copy_layers(genome: dict[str, Any], block: list[int], feed: Any, reduce: bool) -> dict[int, int]:
    """Append one copy of ``block`` (gene order) to the genome; ``feed(j)`` gives what a
    copied layer reads where the original reads ``j`` outside the block. With ``reduce``
    false an entry convolution gets stride 1 and an entry pooling is left out (its
    readers read its feed). Returns original id -> copy id (or the tensor standing in)."""
    by_id, inside = layer_by_id(genome), set(block)
    mapping: dict[int, int] = {}
    for i in block:
        src = by_id[i]
        ins = [mapping[j] if j in inside else feed(j) for j in src["inputs"]]
        is_entry = any(j not in inside for j in src["inputs"])
        if is_entry and not reduce and src["type"] == "pool":
            mapping[i] = ins[0]
            continue
        if src["type"] == "concat" and ins[0] == ins[1]:
            mapping[i] = ins[0]  # both halves collapsed onto one tensor
            continue
        new = {**copy.deepcopy(src), "id": allocate_id(genome), "inputs": ins}
        if is_entry and not reduce and src["type"] == "conv":
            new["stride"] = 1
        mapping[i] = new["id"]
        genome["layers"].append(new)
    return mapping


def duplicate_block(genome: dict[str, Any], block: list[int], times: int = 1,
                    mode: str = "serial") -> list[list[int]]:
    """Duplicate ``block`` (layers of one feature-map size, :func:`blocks`) ``times`` times,
    in place (sec. 3.3, Fig. 1); any block, with any number of entries and exits
    (:func:`block_exits`). Each copy has the block's layers with the same types and
    settings and new ids. Returns the new ids of each copy.

    - ``serial`` (the block repeated after itself, Fig. 1): a copy layer that reads from
      outside the block (the input, or the larger layer an entry reduction reads) reads
      the previous copy's *last* exit (in gene order) instead; so that the copy keeps the
      block's size an entry convolution gets stride 1 and an entry pooling is left out.
      Every reader outside the block of an exit ``e`` reads the last copy's ``e``; a part
      of the original block that then feeds nothing is removed (:func:`prune`).
    - ``parallel`` (copies side by side): a copy reads the block's own outside inputs
      (entry reductions kept), and every reader outside the block of an exit ``e`` reads
      the channel concatenation of ``e`` and its copies (new concat layers).

    The paper shows the combinations only in Fig. 1; both modes and their wiring are our
    reading. The layers are re-listed in a topological order (:func:`toposort`).
    """
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise ValueError(f"times: must be an integer >= 1, got {times!r}")
    if mode not in DUPLICATION_MODES:
        raise ValueError(f"mode: must be one of {list(DUPLICATION_MODES)}, got {mode!r}")
    inside = set(block)
    if not block or not inside <= live_layer_ids(genome):
        raise ValueError(f"block {block}: not a non-empty list of live layers")
    block = [x["id"] for x in genome["layers"] if x["id"] in inside]  # gene order
    exits = block_exits(genome, block)
    readers = {e: list(dict.fromkeys(r for src, r in edges(genome) if src == e and r not in inside)) for e in exits}
    copies: list[dict[int, int]] = []
    new_ids: list[list[int]] = []
    for _ in range(times):
        first = genome["next_id"]
        if mode == "serial":
            last = copies[-1][exits[-1]] if copies else exits[-1]
            copies.append(_copy_layers(genome, block, lambda j, last=last: last, reduce=False))
        else:
            copies.append(_copy_layers(genome, block, lambda j: j, reduce=True))
        new_ids.append(list(range(first, genome["next_id"])))
    for e in exits:
        new = copies[-1][e] if mode == "serial" else e
        for c in copies if mode == "parallel" else ():
            cat = {"id": allocate_id(genome), "type": "concat", "inputs": [new, c[e]]}
            genome["layers"].append(cat)
            new = cat["id"]
        for reader in readers[e]:
            redirect(genome, e, new, reader)
    toposort(genome)
    prune(genome)
    present = {x["id"] for x in genome["layers"]}
    return [[i for i in ids if i in present] for ids in new_ids]


# ------------------------------------------------------------------------ the space


@register_space("eigen")
class EigenSpace(SearchSpace):
    """EIGEN graphs of conv / pool / concat layers from a global-pooling-only start."""

    Params = EigenParams

    def random_individual(self, rng: random.Random | Any = random) -> EigenIndividual:
        """The paper's poor initialisation: no layers, one global pooling layer
        (sec. 3.1); ``rng`` is accepted for the interface and not used."""
        return EigenIndividual(layers=[], output=INPUT_ID, next_id=0)

    def new_conv(self, layer_id: int, source: int) -> dict[str, Any]:
        """An inserted convolution with the default setting (sec. 3.1: 3x3, 32, stride 1)."""
        p = self.params
        return {"id": layer_id, "type": "conv", "inputs": [source], "kernel": p.conv_kernel,
                "channels": p.conv_channels, "stride": p.conv_stride}

    def decode(self, genome: Any) -> Architecture:
        """Live layers as Architecture nodes (same ids), then global average pooling
        (node :data:`GLOBAL_POOL_ID`) reading ``output``. Concatenations do not align."""
        check_genome(genome)
        live = live_layer_ids(genome)
        nodes = []

        def src(j: int) -> int:
            return INPUT if j == INPUT_ID else j

        for layer in genome["layers"]:
            if layer["id"] not in live:
                continue
            ins = tuple(src(j) for j in layer["inputs"])
            if layer["type"] == "conv":
                params = {"channels": layer["channels"], "kernel": layer["kernel"], "stride": layer["stride"],
                          "padding": "same", "bn": True, "act": "relu", "order": "conv_bn_act"}
                nodes.append(Node(layer["id"], "conv", params, inputs=ins))
            elif layer["type"] == "pool":
                params = {"type": self.params.pool_type, "kernel": 2, "stride": 2, "padding": "same"}
                nodes.append(Node(layer["id"], "pool", params, inputs=ins))
            else:
                nodes.append(Node(layer["id"], "identity", {}, inputs=ins, merge="concat", align=False))
        nodes.append(Node(GLOBAL_POOL_ID, "global_pool", {"type": "avg"}, inputs=(src(genome["output"]),)))
        return Architecture(nodes, output=GLOBAL_POOL_ID)

    def validate(self, genome: Any) -> None:
        """ValueError / ArchitectureError for a broken genome or impossible shapes
        (a concat of different sizes, a pooling of a 1x1 map) at ``input_shape``."""
        self.decode(genome).validate(self.params.input_shape)

    def is_valid(self, genome: Any) -> bool:
        try:
            self.validate(genome)
        except (ValueError, ArchitectureError):
            return False
        return True

    def to_json(self, genome: Any) -> dict[str, Any]:
        return {"layers": copy.deepcopy(list(genome["layers"])), "output": genome["output"],
                "next_id": genome["next_id"]}

    def from_json(self, data: Any) -> EigenIndividual:
        check_genome(data)
        return EigenIndividual(self.to_json(data))

    def describe(self, genome: Any) -> str:
        return describe(genome)
