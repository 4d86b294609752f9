"""ImmuNeCS search spaces: continuous genes binned into discrete layers (torch-free).

Frachon, Pang, Liu, Zheng & Kowalczyk, "ImmuNeCS: Neural Committee Search by an
Artificial Immune System", sec. 3.2-3.3, Table 1, Fig. 2 and sec. 4.2.

Genome (an :class:`~deap_nas.spaces.types.ImmuneIndividual`, a list of layer genes, one per
hidden layer v1..vL; the stem v0 is fixed and not stored). Each gene is a dict of plain
floats in [0, 1]::

    {"op": 0.61, "hp": [0.12, 0.80, 0.33], "indeg": 0.27, "src": 0.90, "agg": 0.45}

- ``op``: the operation type, binned into :attr:`ImmuneParams.op_types`.
- ``hp``: the operation's hyperparameters (Table 1), each binned into its value list;
  operations with fewer hyperparameters than the space's maximum ignore the tail.
- ``indeg`` (CIFAR-10 only): the indegree, binned into {1, 2}; always 1 for v1.
- ``src`` (CIFAR-10 only): the second input v_k, binned into k = 0 .. l-2 (sec. 3.3:
  "a tensor from any block B_k, 0 <= k < l-1"); the first input is always v_{l-1}.
- ``agg`` (CIFAR-10 only): the aggregation of a two-input node, binned into {add, concat}.

Binning (Fig. 2): a value v in [0, 1] with n choices expresses choice ``min(int(v * n),
n - 1)``, so mutations too small to change a choice are remembered in v. Genes not
expressed (``src`` / ``agg`` of a one-input node, ``hp`` of an identity) keep their values,
so they come back as they were when expressed again.

Decode -> :class:`~deap_nas.arch.Architecture`: node 0 is the stem, a 1x1 conv to
``stem_channels`` (64 for Fashion-MNIST, 32 for CIFAR-10), no BN, no activation (sec. 3.3);
hidden layer l is node l. Fashion-MNIST is strictly sequential. CIFAR-10 nodes with
indegree 2 read ``(l-1, k)`` merged by add or concat; the shared merge resolves spatial
mismatches by bilinear interpolation and channel counts by a 1x1 conv without BN or
activation, as the paper says. The head is ``concat_pool`` (adaptive concatenated avg+max
pooling, BN, dropout 0.2, linear).

Our readings where the paper is silent or ambiguous:

- Initial depth: the paper's L_ini is a parameter of Algorithm 1 with no value in sec. 4.2
  ("a small number of random hidden layers", sec. 3.4); random genomes draw their depth
  uniformly in [``min_initial_layers``, ``max_initial_layers``] (default 1..3).
- All genes of a random layer are uniform in [0, 1], the indegree included (so a random
  CIFAR-10 layer after v1 takes a second input with probability 1/2: the paper samples "the
  number of incoming edges ... randomly", sec. 3.4).
- Pool stride: not given; stride ``pool_stride`` = 2 with 'same' padding (the pool is the
  only way the Fashion-MNIST space downsamples). Convolutions are stride 1, 'same'.
- The Fashion pool widens by a bias-free 1x1 conv after pooling (see the ``pool`` op).
  Table 1 gives the CIFAR-10 pool no channel multiplier: it keeps the width there.
- DenseNet blocks: the number of dense layers per block is not in Table 1;
  ``dense_layers`` (default 4) fixes it.
- Yes/no hyperparameters bin as Table 1 lists them: [yes, no].
- Stem conv: no BN, no activation; it keeps a bias (the op's default without BN).
"""

# ruff: noqa: E741  (l is the layer index, as in the paper)
from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from typing import Any

from ..arch import INPUT, Architecture, Node
from ..checks import check_int
from .base import SearchSpace, check_input_shape_and_head, register_space
from .types import ImmuneIndividual

GENE_KEYS = ("op", "hp", "indeg", "src", "agg")
AGGREGATIONS = ("add", "concat")
YES_NO = (True, False)

FASHION_OPS = ("conv", "sep_conv", "pool", "identity")
CIFAR_OPS = (
    "resnet_block",
    "resnet_bottleneck",
    "dense_block",
    "dense_bottleneck_block",
    "inception_resnet_a",
    "inception_resnet_b",
    "pool",
    "identity",
)


def bin_index(value: float, n: int) -> int:
    """The choice (0 .. n-1) a continuous value in [0, 1] expresses (Fig. 2)."""
    if n < 1:
        raise ValueError(f"bin_index: need at least one choice, got {n}")
    return min(max(int(value * n), 0), n - 1)


def clip01(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else float(value)


def _check_values(name: str, values: Any, kind: type | tuple[type, ...]) -> tuple:
    if not isinstance(values, (tuple, list)) or not values:
        raise ValueError(f"{name}: must be a non-empty list, got {values!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, kind) or v <= 0:
            raise ValueError(f"{name}: values must be positive numbers, got {v!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name}: repeated value in {list(values)}")
    return tuple(values)


@dataclass
class ImmuneParams:
    """Fields shared by both ImmuNeCS spaces (``space:`` section of a config).

    - ``stem_channels``: width of the fixed 1x1 stem conv (node 0).
    - ``min_initial_layers`` / ``max_initial_layers``: depth range of random genomes (L_ini).
    - ``rho``: the mutation factor of eq. 1 (0.2 in sec. 4.2), the default of the
      hypermutation operator.
    - ``op_sigma_scale``: the operation type is perturbed with sigma * scale (1 on
      Fashion-MNIST; 0.5 on CIFAR-10, "N(0, (sigma/2)^2)", sec. 4.2).
    - ``pool_types`` / ``pool_kernels`` / ``pool_stride``: Table 1's pool (stride: ours).
    - ``input_shape``: ``(C, H, W)`` for :meth:`ImmuneSpace.validate`.
    - ``head``: the classifier head (``concat_pool``, sec. 3.3).
    """

    stem_channels: int = 64
    min_initial_layers: int = 1
    max_initial_layers: int = 3
    rho: float = 0.2
    op_sigma_scale: float = 1.0
    pool_types: tuple[str, ...] = ("max", "avg")
    pool_kernels: tuple[int, ...] = (3, 5)
    pool_stride: int = 2
    input_shape: tuple[int, int, int] = (1, 28, 28)
    head: str = "concat_pool"

    def __post_init__(self) -> None:
        check_int("stem_channels", self.stem_channels, 1)
        check_int("min_initial_layers", self.min_initial_layers, 1)
        check_int("max_initial_layers", self.max_initial_layers, 1)
        if self.max_initial_layers < self.min_initial_layers:
            raise ValueError(
                f"max_initial_layers: must be >= min_initial_layers ({self.min_initial_layers}), "
                f"got {self.max_initial_layers}"
            )
        for name in ("rho", "op_sigma_scale"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"{name}: must be a number > 0, got {v!r}")
        if not isinstance(self.pool_types, (tuple, list)) or not self.pool_types or any(
            t not in ("max", "avg") for t in self.pool_types
        ):
            raise ValueError(f"pool_types: must be a non-empty list of 'max' / 'avg', got {self.pool_types!r}")
        self.pool_types = tuple(self.pool_types)
        self.pool_kernels = _check_values("pool_kernels", self.pool_kernels, int)
        check_int("pool_stride", self.pool_stride, 1)
        self.input_shape = check_input_shape_and_head(self.input_shape, self.head)


@dataclass
class ImmuneFashionParams(ImmuneParams):
    """``space:`` section for ``name: immunecs_fashion`` (Table 1, left).

    - ``conv_kernels``: kernel sizes of Conv and DSepConv.
    - ``channel_mults``: the pool's channel multipliers {1, 4/3, 5/3, 2}.
    """

    conv_kernels: tuple[int, ...] = (1, 3, 5, 7)
    channel_mults: tuple[float, ...] = (1.0, 4 / 3, 5 / 3, 2.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.conv_kernels = _check_values("conv_kernels", self.conv_kernels, int)
        self.channel_mults = _check_values("channel_mults", self.channel_mults, (int, float))
        if any(m < 1 for m in self.channel_mults):
            raise ValueError(f"channel_mults: must be >= 1 (pooling only widens), got {list(self.channel_mults)}")


@dataclass
class ImmuneCifarParams(ImmuneParams):
    """``space:`` section for ``name: immunecs_cifar10`` (Table 1, right).

    - ``block_kernels``: kernel sizes of the ResNet and Inception-ResNet blocks.
    - ``growths``: DenseNet growth factors; ``dense_layers``: dense layers per block (ours).
    - ``bottlenecks``: Inception-ResNet bottleneck factors.
    """

    stem_channels: int = 32
    op_sigma_scale: float = 0.5
    input_shape: tuple[int, int, int] = (3, 32, 32)
    block_kernels: tuple[int, ...] = (3, 5)
    growths: tuple[int, ...] = (12, 24, 36)
    dense_layers: int = 4
    bottlenecks: tuple[float, ...] = (0.1, 0.4, 0.75)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.block_kernels = _check_values("block_kernels", self.block_kernels, int)
        if any(k % 2 == 0 for k in self.block_kernels):
            raise ValueError(f"block_kernels: must be odd, got {list(self.block_kernels)}")
        self.growths = _check_values("growths", self.growths, int)
        check_int("dense_layers", self.dense_layers, 1)
        self.bottlenecks = _check_values("bottlenecks", self.bottlenecks, (int, float))


class ImmuneSpace(SearchSpace):
    """Shared code of the two ImmuNeCS spaces; subclasses set the op menu and connectivity."""

    Params: type = ImmuneParams
    genome_kind = "immunecs"  # both spaces' genomes are lists of ImmuNeCS layer genes
    #: whether nodes after v1 may take a second input (CIFAR-10)
    skip_connections: bool = False
    op_types: tuple[str, ...] = ()
    #: hyperparameter slots of every gene (the most any op of the menu has)
    num_hp: int = 0

    # ----------------------------------------------------------------- menu

    def hp_choices(self, op: str) -> list[tuple[str, tuple[Any, ...]]]:
        """``[(param name, discrete values)]`` of an op, in Table 1's order."""
        raise NotImplementedError

    def op_params(self, op: str, values: dict[str, Any]) -> dict[str, Any]:
        """Architecture params of an op from its discrete hyperparameter values."""
        return dict(values)

    # ----------------------------------------------------------------- genes

    def random_gene(self, rng: Any = random) -> dict[str, Any]:
        """A layer gene with every value uniform in [0, 1]."""
        gene: dict[str, Any] = {"op": rng.random(), "hp": [rng.random() for _ in range(self.num_hp)]}
        if self.skip_connections:
            gene["indeg"] = rng.random()
            gene["src"] = rng.random()
            gene["agg"] = rng.random()
        return gene

    def random_genome(self, depth: int, rng: Any = random) -> ImmuneIndividual:
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
        return ImmuneIndividual(self.random_gene(rng) for _ in range(depth))

    def random_individual(self, rng: Any = random) -> ImmuneIndividual:
        """``randint(min_initial_layers, max_initial_layers)`` random layers."""
        p = self.params
        return self.random_genome(rng.randint(p.min_initial_layers, p.max_initial_layers), rng)

    def op_index(self, gene: dict[str, Any]) -> int:
        return bin_index(gene["op"], len(self.op_types))

    def op_of(self, gene: dict[str, Any]) -> str:
        return self.op_types[self.op_index(gene)]

    def hp_indices(self, gene: dict[str, Any]) -> tuple[int, ...]:
        """Discrete choice of each hyperparameter the gene's op expresses."""
        return tuple(bin_index(v, len(vals)) for v, (_, vals) in zip(gene["hp"], self.hp_choices(self.op_of(gene)), strict=False))

    def indegree(self, genome: Any, l: int) -> int:
        """Indegree (1 or 2) of hidden layer v_l, l = 1 .. L (v1 always has 1)."""
        if not self.skip_connections or l < 2:
            return 1
        return 1 + bin_index(genome[l - 1]["indeg"], 2)

    def second_input(self, genome: Any, l: int) -> int | None:
        """The node k (0 <= k < l-1) feeding v_l's second input, or None."""
        if self.indegree(genome, l) != 2:
            return None
        return bin_index(genome[l - 1]["src"], l - 1)

    def aggregation(self, genome: Any, l: int) -> str:
        if self.indegree(genome, l) != 2:
            return "none"
        return AGGREGATIONS[bin_index(genome[l - 1]["agg"], len(AGGREGATIONS))]

    def connections(self, genome: Any) -> tuple[int | None, ...]:
        """Discretised second input of every layer (None: indegree 1)."""
        return tuple(self.second_input(genome, l) for l in range(1, len(genome) + 1))

    def layer_key(self, genome: Any, l: int) -> str:
        """Canonical text of v_l's discretised gene (op, expressed hps, inputs, merge)."""
        gene = genome[l - 1]
        op = self.op_of(gene)
        hps = ",".join(f"{name}={vals[i]!r}" for (name, vals), i in zip(self.hp_choices(op), self.hp_indices(gene), strict=True))
        k = self.second_input(genome, l)
        ins = f"{l - 1}" if k is None else f"{l - 1}+{k}:{self.aggregation(genome, l)}"
        return f"{op}({hps})<{ins}"

    def string_encoding(self, genome: Any) -> str:
        """The discretised architecture as a canonical string (the registry's key, sec. 3.4)."""
        self.check_genome(genome)
        return "|".join(self.layer_key(genome, l) for l in range(1, len(genome) + 1))

    def check_genome(self, genome: Any) -> None:
        """Raise ValueError naming the first structural problem of a genome."""
        if not isinstance(genome, list) or not genome:
            raise ValueError("an immunecs genome is a non-empty list of layer genes")
        keys = {"op", "hp", "indeg", "src", "agg"} if self.skip_connections else {"op", "hp"}
        for k, g in enumerate(genome):
            where = f"layer gene {k}"
            if not isinstance(g, dict):
                raise ValueError(f"{where}: must be a mapping, got {g!r}")
            if set(g) != keys:
                raise ValueError(f"{where}: keys must be {sorted(keys)}, got {sorted(g)}")
            hp = g["hp"]
            if not isinstance(hp, list) or len(hp) != self.num_hp:
                raise ValueError(f"{where}: 'hp' must be a list of {self.num_hp} values, got {hp!r}")
            for name in sorted(keys - {"hp"}) + ["hp"]:
                vals = hp if name == "hp" else [g[name]]
                for v in vals:
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                        raise ValueError(f"{where}: '{name}' values must be numbers in [0, 1], got {v!r}")

    # ----------------------------------------------------------------- decode

    def stem(self) -> Node:
        """Node 0: 1x1 conv to ``stem_channels``, no BN, no activation (sec. 3.3)."""
        return Node(0, "conv", {"channels": self.params.stem_channels, "kernel": 1, "bn": False, "act": None},
                    inputs=(INPUT,))  # fmt: skip

    def layer_node(self, genome: Any, l: int) -> Node:
        gene = genome[l - 1]
        op = self.op_of(gene)
        values = {name: vals[i] for (name, vals), i in zip(self.hp_choices(op), self.hp_indices(gene), strict=True)}
        k = self.second_input(genome, l)
        inputs = (l - 1,) if k is None else (l - 1, k)
        return Node(l, op, self.op_params(op, values), inputs=inputs, merge=self.aggregation(genome, l))

    def decode(self, genome: Any) -> Architecture:
        self.check_genome(genome)
        return Architecture([self.stem(), *(self.layer_node(genome, l) for l in range(1, len(genome) + 1))])

    def validate(self, genome: Any) -> None:
        """Raise ValueError / ArchitectureError when the genome is malformed or its
        architecture impossible at ``params.input_shape``."""
        self.decode(genome).validate(self.params.input_shape)

    def to_json(self, genome: Any) -> list[dict[str, Any]]:
        return [copy.deepcopy(dict(g)) for g in genome]

    def from_json(self, data: Any) -> ImmuneIndividual:
        genome = [dict(g, hp=list(g["hp"])) if isinstance(g, dict) and "hp" in g else g for g in data] \
            if isinstance(data, list) else data  # fmt: skip
        self.check_genome(genome)
        return ImmuneIndividual(copy.deepcopy(genome))

    def depth(self, genome: Any) -> int:
        return len(genome)

    def describe(self, genome: Any) -> str:
        return self.string_encoding(genome)


def mean_depth(population: Any) -> int:
    """The population's mean depth rounded half up (at least 1)."""
    return max(1, math.floor(sum(len(g) for g in population) / len(population) + 0.5))


@register_space("immunecs_fashion")
class ImmuneFashionSpace(ImmuneSpace):
    """Strictly sequential Conv / DSepConv / Pool / Identity layers (Table 1, left)."""

    Params = ImmuneFashionParams
    skip_connections = False
    op_types = FASHION_OPS
    num_hp = 3

    def hp_choices(self, op: str) -> list[tuple[str, tuple[Any, ...]]]:
        p = self.params
        if op in ("conv", "sep_conv"):
            return [("kernel", p.conv_kernels), ("bn", YES_NO), ("relu", YES_NO)]
        if op == "pool":
            return [("type", p.pool_types), ("kernel", p.pool_kernels), ("channel_mult", p.channel_mults)]
        return []

    def op_params(self, op: str, values: dict[str, Any]) -> dict[str, Any]:
        if op in ("conv", "sep_conv"):
            # channels None: only pooling widens (sec. 3.3)
            return {"kernel": values["kernel"], "bn": values["bn"], "act": "relu" if values["relu"] else None,
                    "stride": 1, "padding": "same"}  # fmt: skip
        if op == "pool":
            return {**values, "stride": self.params.pool_stride, "padding": "same"}
        return {}


@register_space("immunecs_cifar10")
class ImmuneCifarSpace(ImmuneSpace):
    """ResNet / DenseNet / Inception-ResNet blocks, pool and identity with optional skip
    inputs merged by add or concat (Table 1, right; sec. 3.3)."""

    Params = ImmuneCifarParams
    skip_connections = True
    op_types = CIFAR_OPS
    num_hp = 2

    def hp_choices(self, op: str) -> list[tuple[str, tuple[Any, ...]]]:
        p = self.params
        if op in ("resnet_block", "resnet_bottleneck"):
            return [("kernel", p.block_kernels), ("downsample", YES_NO)]
        if op in ("dense_block", "dense_bottleneck_block"):
            return [("growth", p.growths), ("transition", YES_NO)]
        if op in ("inception_resnet_a", "inception_resnet_b"):
            return [("kernel", p.block_kernels), ("bottleneck", p.bottlenecks)]
        if op == "pool":
            return [("type", p.pool_types), ("kernel", p.pool_kernels)]
        return []

    def op_params(self, op: str, values: dict[str, Any]) -> dict[str, Any]:
        if op in ("dense_block", "dense_bottleneck_block"):
            return {**values, "layers": self.params.dense_layers}
        if op == "pool":
            return {**values, "stride": self.params.pool_stride, "padding": "same", "channel_mult": 1.0}
        return dict(values)


__all__ = [
    "AGGREGATIONS",
    "CIFAR_OPS",
    "FASHION_OPS",
    "ImmuneCifarParams",
    "ImmuneCifarSpace",
    "ImmuneFashionParams",
    "ImmuneFashionSpace",
    "ImmuneParams",
    "ImmuneSpace",
    "bin_index",
    "clip01",
    "mean_depth",
]
