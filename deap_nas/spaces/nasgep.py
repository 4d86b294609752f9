"""NASGEP search space: GEP cells over pools of ADF genes (torch-free).

Alves & de Oliveira, "Optimizing Neural Architecture Search using Limited GPU Time in a
Dynamic Search Space: A Gene Expression Programming Approach" (arXiv:2005.07669), sec.
III-C/D, IV-A, Figs. 2-5.

Genome (a :class:`~deap_nas.spaces.types.GepIndividual`, a dict of plain values)::

    {"normal": [9 symbols], "reduction": [9 symbols],
     "genes": {"normal": {"n4": [3 symbols], ...}, "reduction": {"r2": [...], ...}}}

- A **cell** chromosome (Karva, :mod:`deap_nas.spaces.gep`) has head 4 and tail 5
  (functions ``add`` and ``cat``, arity 2); its terminals are ADF gene ids of its pool.
- An **ADF gene** has head 1 and tail 2; its functions are ``add`` (arity 2) and the
  convolutions (arity 1, applied to their argument); its terminals are convolutions
  applied to a cell input (``sep_3x5@h1``) and, for normal cells only, the previous cells'
  outputs themselves (``h1`` = h_{i-1}, ``h2`` = h_{i-2}). The genes a cell uses are
  copied into the genome, so decoding needs nothing but the genome; the loop
  (:mod:`deap_nas.algorithms.nasgep`) keeps the gene pools.
- Convolution blocks are ReLU -> conv -> BN (``order: act_conv_bn``): ``pw`` (1x1),
  ``dw_KxL`` (depthwise), ``sep_KxL`` (depthwise then pointwise) and ``isep_KxL``
  (pointwise then depthwise) for KxL in 3x3, 5x5, 3x5, 5x3, 1x7, 7x1. The paper's text
  calls "separable" the pointwise-first order and "inverse" the other; the op set is the
  same, we keep the usual names (``sep_conv`` = depthwise first).

Decode -> :class:`~deap_nas.arch.Architecture` (Fig. 3, CIFAR): a 3x3 conv stem (conv ->
BN) to ``channels``; three stages of ``cells_per_stage`` normal cells with a reduction cell
between stages; BN -> ReLU (``bn_act``); the head ``gap_linear`` (global average pooling,
linear). Each cell reads h_{i-1} and h_{i-2} (the stem for the first cells). Merges:
``add`` and ``cat`` become identity nodes with merge add / concat; the widest input of an
add comes first, so the shared merge lifts narrower inputs by a 1x1 conv ("a point-wise
convolution is applied when an input encounters another feature map with lower channel
size", sec. III-D). A cell's output is brought to the cell width by a 1x1 conv block when
it differs (concatenations widen it); reduction cells double the width and, as Fig. 5
says, their convolutions that read an input have stride 2.

Our choices where the paper is silent:

- h_{i-2} of a cell whose h_{i-1} is smaller (the cell after a reduction) first passes a
  1x1 conv block with stride 2 to h_{i-1}'s width (as DARTS's preprocessing does).
- A reduction cell computes at its input width and ends with the 1x1 block to twice it.
- Random genomes (:meth:`NasgepSpace.random_individual`, used for the random-sampling
  ablation) draw ``random_genes`` fresh genes per cell type.
- Random heads (cells and genes): the root is a function, every other head position a
  function with probability ``head_function_prob`` (0.5), else a terminal, as GEP
  implementations draw them (geppy); the paper gives no distribution.
- Weight-store keys (:meth:`NasgepSpace.weight_store_keys`): a conv block of a gene is
  keyed by the gene's symbols, its position in the gene and the width it works at, then
  by its own kind, stride and width (sec. III-D: "convolution block or gene").
"""

from __future__ import annotations

import copy
import hashlib
import random
from dataclasses import dataclass
from typing import Any

from ..arch import INPUT, Architecture, Node
from .base import SearchSpace, check_input_shape_and_head, register_space
from .gep import GepSpec, Tree, check_probability, karva_decode
from .types import GepIndividual

KERNELS = ("3x3", "5x5", "3x5", "5x3", "1x7", "7x1")
CONV_KINDS = ("pw",) + tuple(f"{k}_{s}" for k in ("dw", "sep", "isep") for s in KERNELS)
CELL_FUNCTIONS = {"add": 2, "cat": 2}
INPUTS = ("h1", "h2")
KINDS = ("normal", "reduction")
OP_OF = {"pw": "conv", "dw": "dw_conv", "sep": "sep_conv", "isep": "inv_sep_conv"}


def conv_node_params(kind: str, stride: int = 1) -> tuple[str, dict[str, Any]]:
    """(op name, params) of a NASGEP conv block such as ``sep_3x5``: ReLU -> conv -> BN."""
    if kind == "pw":
        return "conv", {"kernel": 1, "stride": stride, "order": "act_conv_bn"}
    family, _, size = kind.partition("_")
    if family not in OP_OF or size not in KERNELS:
        raise ValueError(f"unknown NASGEP convolution {kind!r}; known: {', '.join(CONV_KINDS)}")
    kh, kw = (int(x) for x in size.split("x"))
    return OP_OF[family], {"kernel": [kh, kw], "stride": stride, "order": "act_conv_bn"}


def gene_terminals(kind: str, convs: tuple[str, ...]) -> list[str]:
    """Terminals of an ADF gene: each conv applied to h1 and h2, plus h1, h2 (normal only)."""
    out = [f"{c}@{h}" for c in convs for h in INPUTS]
    return out + list(INPUTS) if kind == "normal" else out


def gene_functions(convs: tuple[str, ...]) -> dict[str, int]:
    return {"add": 2, **{c: 1 for c in convs}}


def symbol_label(symbol: str) -> str:
    """Figure label of a symbol: ``sep 3x5``, ``isep 1x7``, ``dep 5x5``, ``+``, ``h_{i-1}``."""
    names = {"add": "+", "cat": "cat", "h1": "h_{i-1}", "h2": "h_{i-2}", "pw": "conv 1x1"}
    if symbol in names:
        return names[symbol]
    family, _, size = symbol.partition("_")
    return f"{'dep' if family == 'dw' else family} {size}"


@dataclass
class NasgepParams:
    """``space:`` section for ``name: nasgep``.

    - ``channels``: initial feature maps (16 in the search, 64 in final training, sec. IV-A).
    - ``cells_per_stage``: N normal cells per stage (3); ``stages``: 3 (Fig. 3).
    - ``cell_head`` / ``gene_head``: head lengths (4 and 1, sec. IV-A).
    - ``convs``: the convolution kinds genes may use (all 19 by default).
    - ``random_genes``: genes per cell type drawn by :meth:`NasgepSpace.random_individual`.
    - ``head_function_prob``: chance that a random head position (after the root, which is
      always a function) holds a function rather than a terminal, for cells and genes
      alike (0.5: GEP practice, geppy's ``generate_genome``; the paper says only "a random
      genotype (head and tail) is generated", sec. III-A). Also the chance that a mutated
      gene head symbol becomes a function (cells mutate to functions only, sec. III-E).
    - ``input_shape`` / ``head``: the data's image shape and the classifier head.
    """

    channels: int = 16
    cells_per_stage: int = 3
    stages: int = 3
    cell_head: int = 4
    gene_head: int = 1
    convs: tuple[str, ...] = CONV_KINDS
    random_genes: int = 5
    head_function_prob: float = 0.5
    input_shape: tuple[int, int, int] = (3, 32, 32)
    head: str = "gap_linear"

    def __post_init__(self) -> None:
        for name in ("channels", "cells_per_stage", "stages", "cell_head", "gene_head", "random_genes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {v!r}")
        if not isinstance(self.convs, (list, tuple)) or not self.convs:
            raise ValueError(f"convs: must be a non-empty list, got {self.convs!r}")
        for c in self.convs:
            if c not in CONV_KINDS:
                raise ValueError(f"convs: unknown convolution {c!r}; known: {', '.join(CONV_KINDS)}")
        self.convs = tuple(self.convs)
        check_probability("head_function_prob", self.head_function_prob)
        self.input_shape = check_input_shape_and_head(self.input_shape, self.head)


class _Builder:
    """Appends nodes and tracks each tensor's channels and downsampling factor."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.channels: dict[int, int] = {}
        self.scale: dict[int, int] = {}
        self.keys: dict[int, list[str]] = {}

    def add(self, op: str, params: dict[str, Any], inputs: list[int], merge: str, channels: int, scale: int,
            keys: list[str] | None = None) -> int:
        i = len(self.nodes)
        self.nodes.append(Node(i, op, params, inputs=tuple(inputs), merge=merge))
        self.channels[i], self.scale[i] = channels, scale
        if keys:
            self.keys[i] = keys
        return i

    def merge(self, how: str, inputs: list[int]) -> int:
        """An identity node adding or concatenating ``inputs`` (a repeated input is
        copied through an identity node first; for add, the widest input comes first)."""
        ins: list[int] = []
        for j in inputs:
            if j in ins:
                j = self.add("identity", {}, [j], "none", self.channels[j], self.scale[j])
            ins.append(j)
        if how == "add":
            ins.sort(key=lambda j: -self.channels[j])  # stable: ties keep their order
            c = self.channels[ins[0]]
        else:
            c = sum(self.channels[j] for j in ins)
        return self.add("identity", {}, ins, "add" if how == "add" else "concat", c, self.scale[ins[0]])


def _gene_hash(chrom: list[str]) -> str:
    return hashlib.sha1(".".join(chrom).encode()).hexdigest()[:12]


@register_space("nasgep")
class NasgepSpace(SearchSpace):
    """NASGEP cells over ADF genes (module docstring)."""

    Params = NasgepParams

    # ------------------------------------------------------------------ specs
    def cell_spec(self, gene_ids: list[str]) -> GepSpec:
        """Layout of a cell chromosome whose terminals are ``gene_ids``."""
        return GepSpec(CELL_FUNCTIONS, list(gene_ids), self.params.cell_head)

    def gene_spec(self, kind: str) -> GepSpec:
        """Layout of an ADF gene of cell type ``kind`` (normal or reduction)."""
        if kind not in KINDS:
            raise ValueError(f"gene kind must be one of {KINDS}, got {kind!r}")
        return GepSpec(gene_functions(self.params.convs), gene_terminals(kind, self.params.convs),
                       self.params.gene_head)

    def _gene_arity(self, symbol: str) -> int:
        if symbol == "add":
            return 2
        return 1 if symbol in CONV_KINDS else 0

    @staticmethod
    def _cell_arity(symbol: str) -> int:
        return CELL_FUNCTIONS.get(symbol, 0)

    # ------------------------------------------------------------------ genomes
    def random_gene(self, kind: str, rng: Any = random) -> list[str]:
        """A random ADF gene of cell type ``kind`` (root a function; ``head_function_prob``)."""
        return self.gene_spec(kind).random_chromosome(rng, function_prob=self.params.head_function_prob)

    def random_cell(self, gene_ids: list[str], rng: Any = random) -> list[str]:
        """A random cell chromosome over ``gene_ids`` (root a function; ``head_function_prob``)."""
        return self.cell_spec(gene_ids).random_chromosome(rng, function_prob=self.params.head_function_prob)

    def random_individual(self, rng: Any = random) -> GepIndividual:
        genes: dict[str, dict[str, list[str]]] = {}
        cells: dict[str, list[str]] = {}
        for kind in KINDS:
            prefix = kind[0]
            pool = {f"{prefix}{k}": self.random_gene(kind, rng) for k in range(self.params.random_genes)}
            cells[kind] = self.random_cell(sorted(pool), rng)
            used = {s for s in cells[kind] if s in pool}
            genes[kind] = {g: pool[g] for g in sorted(used)}
        return GepIndividual(normal=cells["normal"], reduction=cells["reduction"], genes=genes)

    def make_individual(self, normal: list[str], reduction: list[str], normal_genes: dict[str, list[str]],
                        reduction_genes: dict[str, list[str]]) -> GepIndividual:
        """A genome from two cells and the pools; only the genes the cells name are copied."""
        genes = {
            "normal": {g: list(normal_genes[g]) for g in sorted(set(normal) & set(normal_genes))},
            "reduction": {g: list(reduction_genes[g]) for g in sorted(set(reduction) & set(reduction_genes))},
        }
        return GepIndividual(normal=list(normal), reduction=list(reduction), genes=genes)

    def check_genome(self, genome: Any) -> None:
        """ValueError naming the problem (layout, unknown gene, symbol of the wrong kind)."""
        if not isinstance(genome, dict) or not {"normal", "reduction", "genes"} <= set(genome):
            raise ValueError("a NASGEP genome is a dict with 'normal', 'reduction' and 'genes'")
        for kind in KINDS:
            genes = genome["genes"].get(kind, {})
            self.cell_spec(sorted(genes) or ["?"]).check(genome[kind], f"{kind} cell")
            gspec = self.gene_spec(kind)
            for gid, chrom in genes.items():
                gspec.check(chrom, f"{kind} gene {gid}")

    def used_genes(self, genome: Any, kind: str) -> list[str]:
        """Gene ids the expressed part of a cell uses (with repeats, Karva order)."""
        tree = karva_decode(genome[kind], self._cell_arity)
        return [s for s in tree.symbols() if s not in CELL_FUNCTIONS]

    def to_json(self, genome: Any) -> Any:
        return copy.deepcopy(dict(genome))

    def from_json(self, data: Any) -> GepIndividual:
        return GepIndividual(copy.deepcopy(dict(data)))

    # ------------------------------------------------------------------ decoding
    def _emit_gene(self, b: _Builder, kind: str, chrom: list[str], h: dict[str, int], c: int, stride: int) -> int:
        tree = karva_decode(chrom, self._gene_arity)
        order: dict[int, int] = {}  # id(tree node) -> Karva position
        level, pos = [tree], 0
        while level:
            nxt = []
            for t in level:
                order[id(t)] = pos
                pos += 1
                nxt.extend(t.children)
            level = nxt
        ghash = _gene_hash(chrom)

        def keys(t: Tree, conv: str, st: int) -> list[str]:
            return [f"gene/{kind}/{ghash}/c{c}/p{order[id(t)]}", f"conv/{kind}/{conv}/s{st}/c{c}"]

        def emit(t: Tree) -> int:
            s = t.symbol
            if s in INPUTS:
                return h[s]
            if "@" in s:
                conv, _, src = s.partition("@")
                op, params = conv_node_params(conv, stride)
                return b.add(op, params, [h[src]], "none", c, b.scale[h[src]] * stride, keys(t, conv, stride))
            if s == "add":
                return b.merge("add", [emit(x) for x in t.children])
            child = emit(t.children[0])
            op, params = conv_node_params(s, 1)
            return b.add(op, params, [child], "none", b.channels[child], b.scale[child], keys(t, s, 1))

        return emit(tree)

    def _emit_cell(self, b: _Builder, kind: str, genome: Any, h1: int, h2: int, c_out: int) -> int:
        if b.scale[h2] != b.scale[h1] or b.channels[h2] != b.channels[h1]:
            st = b.scale[h1] // b.scale[h2]
            op, params = conv_node_params("pw", st)
            params["channels"] = b.channels[h1]
            h2 = b.add(op, params, [h2], "none", b.channels[h1], b.scale[h1])
        h = {"h1": h1, "h2": h2}
        c = b.channels[h1]
        stride = 2 if kind == "reduction" else 1
        genes = genome["genes"][kind]

        def emit(t: Tree) -> int:
            if t.symbol in CELL_FUNCTIONS:
                return b.merge(t.symbol, [emit(x) for x in t.children])
            if t.symbol not in genes:
                raise ValueError(f"{kind} cell uses gene {t.symbol!r}, which the genome does not hold")
            return self._emit_gene(b, kind, genes[t.symbol], h, c, stride)

        root = emit(karva_decode(genome[kind], self._cell_arity))
        if b.channels[root] != c_out or (kind == "reduction" and b.scale[root] == b.scale[h1]):
            op, params = conv_node_params("pw", 1 if b.scale[root] != b.scale[h1] else stride)
            params["channels"] = c_out
            root = b.add(op, params, [root], "none", c_out, b.scale[h1] * stride)
        return root

    def _build(self, genome: Any) -> _Builder:
        self.check_genome(genome)
        p = self.params
        b = _Builder()
        stem = b.add("conv", {"channels": p.channels, "kernel": 3, "act": None}, [INPUT], "none", p.channels, 1)
        h2 = h1 = stem
        c = p.channels
        for stage in range(p.stages):
            for _ in range(p.cells_per_stage):
                h2, h1 = h1, self._emit_cell(b, "normal", genome, h1, h2, c)
            if stage < p.stages - 1:
                c *= 2
                h2, h1 = h1, self._emit_cell(b, "reduction", genome, h1, h2, c)
        b.add("bn_act", {}, [h1], "none", c, b.scale[h1])
        return b

    def decode(self, genome: Any) -> Architecture:
        return Architecture(self._build(genome).nodes, name="nasgep")

    def weight_store_keys(self, genome: Any) -> dict[int, list[str]]:
        """Node id -> weight-store keys (most specific first) of every gene conv block."""
        return dict(self._build(genome).keys)

    # ------------------------------------------------------------------ drawing
    def cell_dot(self, genome: Any, kind: str, title: str = "") -> str:
        """Graphviz dot text of one cell as an expression tree with its genes expanded
        (like Figs. 4 and 5): the root ``h_i`` on top, inputs ``h_{i-1}``, ``h_{i-2}`` as leaves."""
        lines = [f'digraph "{title or kind}" {{', "  rankdir=BT;", '  node [shape=box, fontsize=10];']
        counter = [0]
        genes = genome["genes"][kind]

        def node(label: str, shape: str = "box") -> str:
            counter[0] += 1
            name = f"n{counter[0]}"
            lines.append(f'  {name} [label="{label}", shape={shape}];')
            return name

        def gene(t: Tree) -> str:
            s = t.symbol
            if "@" in s:
                conv, _, src = s.partition("@")
                me = node(symbol_label(conv))
                lines.append(f"  {node(symbol_label(src), 'ellipse')} -> {me};")
                return me
            me = node(symbol_label(s), "ellipse" if s in INPUTS else "box")
            for ch in t.children:
                lines.append(f"  {gene(ch)} -> {me};")
            return me

        def cell(t: Tree) -> str:
            if t.symbol in CELL_FUNCTIONS:
                me = node(symbol_label(t.symbol))
                for ch in t.children:
                    lines.append(f"  {cell(ch)} -> {me};")
                return me
            return gene(karva_decode(genes[t.symbol], self._gene_arity))

        root = cell(karva_decode(genome[kind], self._cell_arity))
        lines.append(f"  {root} -> {node('h_i', 'ellipse')};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def cell_expression(self, genome: Any, kind: str) -> str:
        """The cell as a bracketed expression with genes expanded, e.g.
        ``cat(+(sep 3x3(h_{i-1}), h_{i-2}), dep 5x5(h_{i-1}))``."""
        genes = genome["genes"][kind]

        def gene(t: Tree) -> str:
            s = t.symbol
            if "@" in s:
                conv, _, src = s.partition("@")
                return f"{symbol_label(conv)}({symbol_label(src)})"
            if not t.children:
                return symbol_label(s)
            return f"{symbol_label(s)}({', '.join(gene(c) for c in t.children)})"

        def cell(t: Tree) -> str:
            if t.symbol in CELL_FUNCTIONS:
                return f"{t.symbol}({', '.join(cell(c) for c in t.children)})"
            return gene(karva_decode(genes[t.symbol], self._gene_arity))

        return cell(karva_decode(genome[kind], self._cell_arity))
