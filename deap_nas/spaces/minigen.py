"""MiniGen search space: five cells of action lists (torch-free).

Zhang, Ebadi & Jing, "MiniGen: Efficient Evolutionary Search for Convolutional Neural
Networks", sec. III-B (encoding), Table I (operations), sec. IV-C (block scaling).

Genome (a :class:`~deap_nas.spaces.types.MiniGenIndividual`, plain values only)::

    [[None, 1, al_0], [c_1, b_1, al_1], [c_2, b_2, al_2], [c_3, b_3, al_3], [c_4, b_4, al_4]]

``None`` is the paper's "." (the input cell has no channel gene; :meth:`MiniGenSpace.from_json`
also reads a number there, as the paper prints one, and ignores it); ``c_i`` is a channel size,
``b_i`` the number of blocks of cell i and ``al_i`` its action list, a list of Table I's
operation names exactly as the paper spells them (``"3*3 dconv"``, ``"5*5 dconv"``,
``"3*3 conv"``, ``"5*5 conv"``, ``"1*7-7*1 conv"``, ``"3*3 dil conv"``, ``"identity"``,
``"3*3 maxpool"``, ``"3*3 avgpool"``).

Decoding (the network of sec. III-B, one :class:`~deap_nas.arch.Architecture`):

- **Input cell** (one block, stride 2): the fixed channel flow 3 -> 32 -> 64
  (``input_channels``) by its two operations, each of stride 2, chosen among 3x3 / 5x5
  conv and depthwise-separable conv. A leading ``"identity"`` makes the list 3 long and
  adds the skip connection of Table I: a 1x1 convolution of stride 2 (no BN, no ReLU)
  from the cell's input to its output, ``relu(body(x) + skip(x))``. With
  ``keep_resolution`` (the paper: "the spatial dimension is kept in 32 by 32 using padding
  throughout the network") every stride-2 operation reads a zero-padded input (a
  ``zero_pad`` node, then a ``valid`` convolution) whose padding keeps the 32x32 size,
  as the authors' code does (padding 17 for 3x3, 18 for 5x5, 16 for the 1x1 skip).
  ``keep_resolution: false`` uses ordinary 'same' padding instead: each stride-2
  operation halves the size and the skip's 1x1 conv gets the body's total stride.
- **Normal cells** (stride 1, channel size ``c_i`` for every operation): a 1x1
  convolution to ``c_i`` at the cell's entry (with bias, no BN or ReLU, as in the
  authors' code; the paper does not say how channels change between cells, and a cell
  whose list starts with a pooling operation needs it), then ``b_i`` blocks, each the
  whole action list again: the operations in sequence, each followed by BN and ReLU
  (pooling too: Table I's note, "for every operation ... apart from 'identity'"), and a
  leading ``"identity"`` adds the identity skip ``relu(body(x) + x)`` around the block.
- **Head**: global average pooling and a linear layer (``gap_linear``). The authors' code
  ends with a softmax fed to the cross-entropy loss; the engine's loss takes logits.

Operations (Table I): ``"3*3 dil conv"`` is a 3x3 convolution with dilation 2, as Table I
says (the authors' code uses a depthwise-separable dilated conv: ``dil_conv_separable``);
``"1*7-7*1 conv"`` is a 1x7 then a 7x1 convolution with one BN and ReLU after the pair;
pooling is 3x3 with stride 1 and 'same' padding.

Our readings where the paper is silent or ambiguous:

- Channel list: the text omits it; the authors' code uses {24, 40, 64, 80, 128, 256}.
- ``"identity"`` is a skip connection around its block (Table I, "from the input of a cell
  to the output of a cell"), so it is meaningful only as the first action; random lists
  and the mutation operators put it nowhere else (as the authors' code), and
  :meth:`MiniGenSpace.check_genome` rejects it elsewhere.
- Random normal-cell lists have 2 to 4 actions, identity included, and start with the
  identity with probability 1/2 (the authors' code); random input cells too.
- ``b_i`` of random genomes comes from ``blocks`` (the paper uses 1 for every cell; sec.
  IV-C's scaled model is ``blocks: [1, 2, 2, 4]``); no operator changes it.
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from typing import Any

from ..arch import INPUT, Architecture, Node
from ..checks import check_int
from .base import SearchSpace, check_input_shape_and_head, register_space
from .types import MiniGenIndividual

IDENTITY = "identity"
#: Table I, in the paper's order
OPERATIONS = (
    "3*3 dconv", "5*5 dconv", "3*3 conv", "5*5 conv", "1*7-7*1 conv", "3*3 dil conv",
    IDENTITY, "3*3 maxpool", "3*3 avgpool",
)  # fmt: skip
#: the operations a normal cell's list may hold after its first position (no identity)
NORMAL_OPS = tuple(op for op in OPERATIONS if op != IDENTITY)
#: the input cell's channel-changing operations (sec. III-B's list, without identity)
INPUT_OPS = ("3*3 conv", "3*3 dconv", "5*5 conv", "5*5 dconv")
CHANNELS = (24, 40, 64, 80, 128, 256)


@dataclass
class MiniGenParams:
    """``space:`` section for ``name: minigen``.

    - ``channels``: the channel list of normal cells (authors' code).
    - ``input_channels``: the input cell's fixed flow, 3 -> 32 -> 64 (sec. III-B).
    - ``num_cells``: normal cells (4: five cells with the input cell).
    - ``blocks``: ``b_i`` of random genomes, one per normal cell (paper: all 1).
    - ``min_actions`` / ``max_actions``: length range of random normal-cell lists.
    - ``identity_prob``: probability that a random list starts with ``"identity"``.
    - ``keep_resolution``: pad stride-2 input-cell operations to keep 32x32 (paper).
    - ``dil_conv_separable``: ``"3*3 dil conv"`` as a separable conv (authors' code).
    - ``input_shape`` / ``head``: as in every space.
    """

    channels: tuple[int, ...] = CHANNELS
    input_channels: tuple[int, ...] = (32, 64)
    num_cells: int = 4
    blocks: tuple[int, ...] | None = None
    min_actions: int = 2
    max_actions: int = 4
    identity_prob: float = 0.5
    keep_resolution: bool = True
    dil_conv_separable: bool = False
    input_shape: tuple[int, int, int] = (3, 32, 32)
    head: str = "gap_linear"

    def __post_init__(self) -> None:
        for name in ("channels", "input_channels"):
            v = getattr(self, name)
            if not isinstance(v, (list, tuple)) or not v:
                raise ValueError(f"{name}: must be a non-empty list of positive integers, got {v!r}")
            for c in v:
                check_int(name, c, 1)
            setattr(self, name, tuple(v))
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"channels: repeated value in {list(self.channels)}")
        if len(self.input_channels) != 2:
            raise ValueError(f"input_channels: the input cell has two operations (3 -> 32 -> 64), "
                             f"give two sizes, got {list(self.input_channels)}")
        check_int("num_cells", self.num_cells, 1)
        if self.blocks is None:
            self.blocks = (1,) * self.num_cells
        if not isinstance(self.blocks, (list, tuple)) or len(self.blocks) != self.num_cells:
            raise ValueError(f"blocks: give one block count per normal cell ({self.num_cells}), got {self.blocks!r}")
        for b in self.blocks:
            check_int("blocks", b, 1)
        self.blocks = tuple(self.blocks)
        check_int("min_actions", self.min_actions, 2)
        check_int("max_actions", self.max_actions, self.min_actions)
        p = self.identity_prob
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"identity_prob: must be a number in [0, 1], got {p!r}")
        for name in ("keep_resolution", "dil_conv_separable"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: must be true or false, got {getattr(self, name)!r}")
        self.input_shape = check_input_shape_and_head(self.input_shape, self.head)
        if self.keep_resolution and self.input_shape[1] != self.input_shape[2]:
            raise ValueError(f"keep_resolution: needs square images, input_shape is {self.input_shape}")


def keep_size_padding(size: int, extent: int, stride: int) -> int:
    """Zero padding on each side that keeps ``size`` through a ``valid`` window of
    ``extent`` and ``stride`` (the authors' 17 / 18 / 16 for 3x3 / 5x5 / 1x1 at 32, stride 2)."""
    return max(0, math.ceil(((size - 1) * stride + extent - size) / 2))


def split_actions(actions: list[str]) -> tuple[bool, list[str]]:
    """``(has identity skip, body operations)`` of an action list."""
    if actions and actions[0] == IDENTITY:
        return True, list(actions[1:])
    return False, list(actions)


@register_space("minigen")
class MiniGenSpace(SearchSpace):
    """The MiniGen encoding (module docstring)."""

    Params = MiniGenParams

    # ----------------------------------------------------------------- random genomes

    def random_input_actions(self, rng: Any = random) -> list[str]:
        """``["identity", a, b]`` with probability ``identity_prob``, else ``[a, b]``."""
        skip = [IDENTITY] if rng.random() < self.params.identity_prob else []
        return skip + [rng.choice(INPUT_OPS) for _ in range(len(self.params.input_channels))]

    def random_normal_actions(self, rng: Any = random) -> list[str]:
        """``min_actions``..``max_actions`` actions, a leading identity with ``identity_prob``."""
        p = self.params
        length = rng.randint(p.min_actions, p.max_actions)
        skip = [IDENTITY] if rng.random() < p.identity_prob else []
        return skip + [rng.choice(NORMAL_OPS) for _ in range(length - len(skip))]

    def random_actions(self, cell: int, rng: Any = random) -> list[str]:
        return self.random_input_actions(rng) if cell == 0 else self.random_normal_actions(rng)

    def random_individual(self, rng: Any = random) -> MiniGenIndividual:
        p = self.params
        cells: list[list[Any]] = [[None, 1, self.random_input_actions(rng)]]
        for i in range(p.num_cells):
            cells.append([rng.choice(p.channels), p.blocks[i], self.random_normal_actions(rng)])
        return MiniGenIndividual(cells)

    # ----------------------------------------------------------------- checks

    def check_genome(self, genome: Any) -> None:
        """Raise ValueError naming the first structural problem of a genome."""
        n = self.params.num_cells + 1
        if not isinstance(genome, list) or len(genome) != n:
            raise ValueError(f"a minigen genome is a list of {n} cells [c, b, actions], got {genome!r}")
        for i, cell in enumerate(genome):
            where = f"cell {i}"
            if not isinstance(cell, list) or len(cell) != 3:
                raise ValueError(f"{where}: must be [channels, blocks, actions], got {cell!r}")
            c, b, actions = cell
            if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
                raise ValueError(f"{where}: the action list must be a list of names, got {actions!r}")
            for a in actions:
                if a not in OPERATIONS:
                    raise ValueError(f"{where}: unknown operation {a!r}; Table I: {list(OPERATIONS)}")
            if IDENTITY in actions[1:]:
                raise ValueError(f"{where}: 'identity' (the skip connection) may only be the first action, got {actions}")
            _, body = split_actions(actions)
            if i == 0:
                if c is not None:
                    raise ValueError(f"{where}: the input cell has no channel size (the paper's '.'): use null, got {c!r}")
                if b != 1:
                    raise ValueError(f"{where}: the input cell has one block, got {b!r}")
                want = len(self.params.input_channels)
                if len(body) != want or any(a not in INPUT_OPS for a in body):
                    raise ValueError(f"{where}: the input cell needs {want} operations of {list(INPUT_OPS)} "
                                     f"after an optional 'identity', got {actions}")
            else:
                check_int(f"{where}: channels", c, 1)
                check_int(f"{where}: blocks", b, 1)
                if not body:
                    raise ValueError(f"{where}: the action list needs an operation besides 'identity', got {actions}")

    def validate(self, genome: Any) -> None:
        self.decode(genome).validate(self.params.input_shape)

    # ----------------------------------------------------------------- decode

    def _op(self, action: str, channels: int, stride: int, padding: str) -> tuple[str, dict[str, Any]]:
        """The architecture op of one Table I operation (BN and ReLU after it)."""
        base = {"channels": channels, "stride": stride, "padding": padding}
        if action in ("3*3 dconv", "5*5 dconv"):
            return "sep_conv", {**base, "kernel": int(action[0])}
        if action in ("3*3 conv", "5*5 conv"):
            return "conv", {**base, "kernel": int(action[0])}
        if action == "1*7-7*1 conv":
            return "fact_conv", {**base, "kernel": 7}
        if action == "3*3 dil conv":
            return ("sep_conv" if self.params.dil_conv_separable else "conv"), {**base, "kernel": 3, "dilation": 2}
        if action in ("3*3 maxpool", "3*3 avgpool"):
            return "pool", {"type": action[4:7], "kernel": 3, "stride": stride, "padding": padding}
        raise ValueError(f"no architecture op for {action!r}")

    def decode(self, genome: Any) -> Architecture:
        self.check_genome(genome)
        p = self.params
        nodes: list[Node] = []

        def add(op: str, params: dict[str, Any], inputs: tuple[int, ...], merge: str = "none") -> int:
            nid = len(nodes)
            nodes.append(Node(nid, op, params, inputs=inputs, merge=merge))
            return nid

        # input cell: stride 2, channels 3 -> 32 -> 64
        skip, body = split_actions(genome[0][2])
        size = p.input_shape[1]
        x = INPUT
        for action, c in zip(body, p.input_channels, strict=True):
            if p.keep_resolution:
                extent = 5 if action.startswith("5") else 3
                x = add("zero_pad", {"pad": keep_size_padding(size, extent, 2)}, (x,))
                op, params = self._op(action, c, 2, "valid")
            else:
                op, params = self._op(action, c, 2, "same")
            x = add(op, params, (x,))
        if skip:
            unit = {"channels": p.input_channels[-1], "kernel": 1, "bn": False, "act": None}
            if p.keep_resolution:
                s = add("zero_pad", {"pad": keep_size_padding(size, 1, 2)}, (INPUT,))
                s = add("conv", {**unit, "stride": 2, "padding": "valid"}, (s,))
            else:
                s = add("conv", {**unit, "stride": 2 ** len(body)}, (INPUT,))
            x = add("bn_act", {"bn": False, "act": "relu"}, (x, s), merge="add")
        # normal cells: stride 1, channel size c_i throughout
        for c, blocks, actions in genome[1:]:
            x = add("conv", {"channels": c, "kernel": 1, "bn": False, "act": None}, (x,))
            skip, body = split_actions(actions)
            for _ in range(blocks):
                block_in = x
                for action in body:
                    op, params = self._op(action, c, 1, "same")
                    x = add(op, params, (x,))
                    if op == "pool":
                        x = add("bn_act", {"bn": True, "act": "relu"}, (x,))
                if skip:
                    x = add("bn_act", {"bn": False, "act": "relu"}, (x, block_in), merge="add")
        return Architecture(nodes)

    # ----------------------------------------------------------------- JSON

    def to_json(self, genome: Any) -> list[list[Any]]:
        return [[c, b, list(actions)] for c, b, actions in genome]

    def from_json(self, data: Any) -> MiniGenIndividual:
        """The genome from JSON. The input cell's channel may be written ``"."`` (sec.
        III-B) or as a number, which is ignored and read as ``None``: the paper prints
        Table III's index 1 with ``128`` there (sec. IV-E) because the authors' code
        mutates that slot with the other cells' channels but never reads it (the input
        cell's flow is fixed, 3 -> 32 -> 64)."""
        if isinstance(data, list) and data and isinstance(data[0], list) and data[0]:
            c0 = data[0][0]
            if c0 == "." or (isinstance(c0, (int, float)) and not isinstance(c0, bool)):
                data = [[None, *data[0][1:]], *data[1:]]
        genome = copy.deepcopy(data)
        self.check_genome(genome)
        return MiniGenIndividual(genome)

    def describe(self, genome: Any) -> str:
        """The encoding as the paper prints it (``.`` for the input cell's channel)."""
        cells = []
        for c, b, actions in genome:
            cells.append(f"[{'.' if c is None else c}, {b}, {actions!r}]")
        return "[" + ", ".join(cells) + "]"


__all__ = [
    "CHANNELS",
    "IDENTITY",
    "INPUT_OPS",
    "NORMAL_OPS",
    "OPERATIONS",
    "MiniGenParams",
    "MiniGenSpace",
    "keep_size_padding",
    "split_actions",
]
