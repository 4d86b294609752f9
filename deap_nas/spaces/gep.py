"""Gene expression programming chromosomes in Karva notation, generic and torch-free.

Ferreira, "Gene Expression Programming: a New Adaptive Algorithm for Solving Problems",
Complex Systems 13(2), 2001, sec. 2-3. A *gene* is a fixed-length list of symbols: a head of
``h`` symbols (functions or terminals) followed by a tail of ``t = h (n - 1) + 1``
terminals, ``n`` being the largest arity of the function set. This length guarantees that
every gene decodes to a valid expression tree whatever its symbols. A *chromosome* is one
or more genes of the same layout laid end to end in a flat list (plain strings, so DEAP
clones and JSON snapshots are trivial).

Karva decoding (sec. 3.1) reads a gene breadth-first: the first symbol is the root, the
next ``arity(root)`` symbols are its children left to right, then the children of those,
level by level, until every function has its arguments. The symbols after that (the
non-coding region) are ignored.

:class:`GepSpec` describes the symbols; the operators in :mod:`deap_nas.ops.gep` take one,
so they work on any chromosome of this layout (NASGEP cells and ADF genes, or a symbolic
regression problem in plain DEAP).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def tail_length(head: int, max_arity: int) -> int:
    """Ferreira's tail length ``t = h (n - 1) + 1``."""
    if head < 1 or max_arity < 1:
        raise ValueError(f"head and max_arity must be >= 1, got {head} and {max_arity}")
    return head * (max_arity - 1) + 1


@dataclass
class GepSpec:
    """Symbols and layout of a GEP chromosome.

    - ``functions``: symbol -> arity (>= 1).
    - ``terminals``: terminal symbols (arity 0); may change between calls (a gene pool).
    - ``head``: head length h; ``n_genes``: genes per chromosome.
    """

    functions: Mapping[str, int]
    terminals: Sequence[str]
    head: int
    n_genes: int = 1
    _arity: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.head, bool) or not isinstance(self.head, int) or self.head < 1:
            raise ValueError(f"head: must be an integer >= 1, got {self.head!r}")
        if isinstance(self.n_genes, bool) or not isinstance(self.n_genes, int) or self.n_genes < 1:
            raise ValueError(f"n_genes: must be an integer >= 1, got {self.n_genes!r}")
        if not self.functions:
            raise ValueError("functions: give at least one function")
        for f, a in self.functions.items():
            if isinstance(a, bool) or not isinstance(a, int) or a < 1:
                raise ValueError(f"functions: arity of {f!r} must be an integer >= 1, got {a!r}")
        self.terminals = list(self.terminals)
        if not self.terminals:
            raise ValueError("terminals: give at least one terminal")
        both = set(self.functions) & set(self.terminals)
        if both:
            raise ValueError(f"symbols both function and terminal: {sorted(both)}")
        self._arity = {**dict(self.functions), **{t: 0 for t in self.terminals}}

    @property
    def max_arity(self) -> int:
        return max(self.functions.values())

    @property
    def tail(self) -> int:
        return tail_length(self.head, self.max_arity)

    @property
    def gene_length(self) -> int:
        return self.head + self.tail

    @property
    def length(self) -> int:
        return self.gene_length * self.n_genes

    def arity(self, symbol: str) -> int:
        try:
            return self._arity[symbol]
        except KeyError:
            raise ValueError(f"unknown GEP symbol {symbol!r}") from None

    def is_function(self, symbol: str) -> bool:
        return symbol in self.functions

    def is_head(self, position: int) -> bool:
        """Whether a chromosome position lies in a gene's head."""
        return position % self.gene_length < self.head

    def gene_slices(self) -> list[slice]:
        g = self.gene_length
        return [slice(i * g, (i + 1) * g) for i in range(self.n_genes)]

    # ------------------------------------------------------------------ checks
    def check(self, chromosome: Sequence[str], where: str = "chromosome") -> None:
        """ValueError unless the layout holds: right length, known symbols, terminals only in tails."""
        if len(chromosome) != self.length:
            raise ValueError(f"{where}: length {len(chromosome)}, expected {self.length}")
        for i, s in enumerate(chromosome):
            if s not in self._arity:
                raise ValueError(f"{where}: unknown symbol {s!r} at position {i}")
            if not self.is_head(i) and self.is_function(s):
                raise ValueError(f"{where}: function {s!r} in the tail (position {i})")

    # ------------------------------------------------------------------ random genes
    def draw_head_symbol(self, rng: Any = random, function_prob: float = 0.5, exclude: str | None = None) -> str:
        """One head symbol: a function with probability ``function_prob``, else a terminal,
        each uniform within its kind (geppy's ``generate_genome`` and ``mutate_uniform``
        draw the kind first, 50/50). ``exclude`` is avoided when its kind has another symbol."""
        check_probability("function_prob", function_prob)
        pool = list(self.functions) if rng.random() < function_prob else list(self.terminals)
        return rng.choice([s for s in pool if s != exclude] or pool)

    def random_chromosome(self, rng: Any = random, head_functions_only: bool = False,
                          function_prob: float = 0.5) -> list[str]:
        """A random chromosome. The root of each gene is a function (so no gene starts as a
        lone terminal); the other head positions hold a function with probability
        ``function_prob`` (0.5 as in GEP practice; only functions with
        ``head_functions_only``), else a terminal, each uniform within its kind; tail
        symbols are uniform over the terminals.

        Drawing the kind first matters when the kinds differ in size: a cell of NASGEP has
        2 functions and up to 100 gene terminals, so a uniform draw over all symbols would
        put a function in a head position 2% to 4% of the time and nearly every cell would
        express only two genes."""
        check_probability("function_prob", function_prob)
        out: list[str] = []
        for _ in range(self.n_genes):
            for i in range(self.head):
                if i == 0 or head_functions_only:
                    out.append(rng.choice(list(self.functions)))
                else:
                    out.append(self.draw_head_symbol(rng, function_prob))
            out.extend(rng.choice(self.terminals) for _ in range(self.tail))
        return out


def check_probability(name: str, p: Any) -> None:
    """ValueError naming ``name`` unless ``p`` is a number in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: must be a probability in [0, 1], got {p!r}")


@dataclass
class Tree:
    """An expression tree node: a symbol and its children (empty for a terminal)."""

    symbol: str
    children: list[Tree] = field(default_factory=list)

    def to_tuple(self) -> Any:
        """``symbol`` for a terminal, ``(symbol, child, ...)`` otherwise (handy in tests)."""
        if not self.children:
            return self.symbol
        return (self.symbol, *[c.to_tuple() for c in self.children])

    def symbols(self) -> list[str]:
        """Symbols in depth-first order."""
        out = [self.symbol]
        for c in self.children:
            out.extend(c.symbols())
        return out


def karva_decode(gene: Sequence[str], arity: Any) -> Tree:
    """The expression tree of one gene in Karva notation (breadth-first, sec. 3.1).

    ``arity`` maps a symbol to its arity: a :class:`GepSpec` (its ``arity`` method), a
    mapping of the functions (other symbols are terminals) or a callable. Raises ValueError when the gene ends before every function
    has its arguments (a layout that violates the head/tail rule)."""
    if isinstance(arity, GepSpec):
        ar = arity.arity
    elif isinstance(arity, Mapping):
        functions = arity
        def ar(s: str) -> int:
            return int(functions.get(s, 0))

    else:
        ar = arity
    if not gene:
        raise ValueError("karva_decode: empty gene")
    root = Tree(gene[0])
    level = [root]
    pos = 1
    while level:
        nxt: list[Tree] = []
        for node in level:
            for _ in range(ar(node.symbol)):
                if pos >= len(gene):
                    raise ValueError(f"karva_decode: gene {list(gene)} ends before all arguments are read")
                child = Tree(gene[pos])
                pos += 1
                node.children.append(child)
                nxt.append(child)
        level = nxt
    return root


def coding_length(gene: Sequence[str], arity: Any) -> int:
    """How many leading symbols of ``gene`` its tree expresses (the open reading frame)."""
    return len(karva_decode(gene, arity).symbols())


def decode_chromosome(chromosome: Sequence[str], spec: GepSpec) -> list[Tree]:
    """One tree per gene (the caller links them, e.g. by a linking function)."""
    spec.check(chromosome)
    return [karva_decode(chromosome[s], spec) for s in spec.gene_slices()]


def expressed_terminals(chromosome: Sequence[str], spec: GepSpec) -> list[str]:
    """Terminals that appear in the expressed trees, in order, with repeats."""
    out = []
    for tree in decode_chromosome(chromosome, spec):
        out.extend(s for s in tree.symbols() if spec.arity(s) == 0)
    return out
