"""A generic sequential conv/pool search space (the runtime's reference space).

Modelled on ImmuNeCS's Fashion-MNIST space (sec. 3.3, Table 1) with discrete genes: a
fixed 1x1 stem conv without BN or activation, then ``min_depth``..``max_depth`` layers,
each a Conv or DSepConv (kernel, BatchNorm yes/no, ReLU yes/no), a Pool (max/avg,
kernel, channel multiplier; stride 2, the only layer that widens) or an Identity. The
genome is a list of layer genes, each a plain dict such as
``{"op": "conv", "kernel": 3, "bn": True, "relu": False}``.

ImmuNeCS's own space keeps every hyperparameter as a continuous value in [0, 1]
(issue 5); this discrete one serves random search and simple GAs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..arch import INPUT, Architecture, Node
from .base import SearchSpace, register_space
from .types import ListIndividual

LAYER_OPS = ("conv", "sep_conv", "pool", "identity")


@dataclass
class SequentialParams:
    """``space:`` section of a config for ``name: sequential``."""

    min_depth: int = 2
    max_depth: int = 8
    stem_channels: int = 32
    max_channels: int = 256
    ops: tuple[str, ...] = LAYER_OPS
    kernels: tuple[int, ...] = (1, 3, 5, 7)
    pool_kernels: tuple[int, ...] = (3, 5)
    channel_mults: tuple[float, ...] = (1.0, 4 / 3, 5 / 3, 2.0)
    head: str = "concat_pool"

    def __post_init__(self) -> None:
        if self.min_depth < 1:
            raise ValueError(f"min_depth: must be >= 1, got {self.min_depth}")
        if self.max_depth < self.min_depth:
            raise ValueError(f"max_depth: {self.max_depth} < min_depth {self.min_depth}")
        if self.stem_channels < 1 or self.max_channels < self.stem_channels:
            raise ValueError(
                f"max_channels: must be >= stem_channels {self.stem_channels}, got {self.max_channels}"
            )
        bad = [o for o in self.ops if o not in LAYER_OPS]
        if bad or not self.ops:
            raise ValueError(f"ops: must be a non-empty subset of {list(LAYER_OPS)}, got {list(self.ops)}")
        for name in ("kernels", "pool_kernels"):
            values = getattr(self, name)
            if not values or any(k < 1 for k in values):
                raise ValueError(f"{name}: must be a non-empty list of positive integers, got {list(values)}")
        if not self.channel_mults or any(m < 1.0 for m in self.channel_mults):
            raise ValueError(f"channel_mults: must be numbers >= 1, got {list(self.channel_mults)}")


@register_space("sequential")
class SequentialSpace(SearchSpace):
    """Strictly sequential conv / separable conv / pool / identity networks."""

    Params = SequentialParams

    def random_gene(self, rng: random.Random | Any = random) -> dict[str, Any]:
        """One layer gene drawn uniformly: op first, then its hyperparameters."""
        p = self.params
        op = rng.choice(p.ops)
        if op in ("conv", "sep_conv"):
            return {"op": op, "kernel": rng.choice(p.kernels), "bn": rng.random() < 0.5, "relu": rng.random() < 0.5}
        if op == "pool":
            return {
                "op": "pool",
                "type": rng.choice(("max", "avg")),
                "kernel": rng.choice(p.pool_kernels),
                "mult": rng.choice(p.channel_mults),
            }
        return {"op": "identity"}

    def random_individual(self, rng: random.Random | Any = random) -> ListIndividual:
        depth = rng.randint(self.params.min_depth, self.params.max_depth)
        return ListIndividual(self.random_gene(rng) for _ in range(depth))

    def decode(self, genome: Any) -> Architecture:
        p = self.params
        nodes = [Node(0, "conv", {"channels": p.stem_channels, "kernel": 1, "bn": False, "act": None})]
        channels = p.stem_channels
        for i, gene in enumerate(genome, start=1):
            op = gene["op"]
            if op in ("conv", "sep_conv"):
                params = {"kernel": gene["kernel"], "bn": gene["bn"], "act": "relu" if gene["relu"] else None}
            elif op == "pool":
                wanted = max(1, int(round(channels * gene["mult"])))
                widened = min(wanted, max(channels, p.max_channels))
                mult = widened / channels
                channels = widened
                params = {"type": gene["type"], "kernel": gene["kernel"], "stride": 2, "channel_mult": mult}
            elif op == "identity":
                params = {}
            else:
                raise ValueError(f"gene {i - 1}: unknown op {op!r}")
            nodes.append(Node(i, op, params, inputs=(i - 1,)))
        nodes[0].inputs = (INPUT,)
        return Architecture(nodes)

    def from_json(self, data: Any) -> ListIndividual:
        if not isinstance(data, list) or not all(isinstance(g, dict) and "op" in g for g in data):
            raise ValueError(f"a sequential genome is a list of layer genes with an 'op', got {data!r}")
        return ListIndividual(dict(g) for g in data)
