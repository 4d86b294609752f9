"""Drawings of a NASGEP run's best cells, like Figs. 4 and 5 of the paper.

``deap-nas draw-cells RUN [--rank K]`` takes the K-th member of the run's hall of fame (latest
snapshot) and writes to ``RUN/best/``:

- ``cells_rankKK.txt``: both cells as expressions with their genes expanded;
- ``normal_cell_rankKK.dot`` / ``reduction_cell_rankKK.dot``: Graphviz trees;
- ``normal_cell_rankKK.png`` / ``reduction_cell_rankKK.png``: the same trees drawn with
  matplotlib (no Graphviz needed): root ``h_i`` on top, inputs ``h_{i-1}``, ``h_{i-2}`` at the
  leaves; in the reduction cell the blocks reading an input have stride 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..spaces.gep import Tree, karva_decode
from ..spaces.nasgep import CELL_FUNCTIONS, INPUTS, NasgepSpace, symbol_label


def cell_tree(space: NasgepSpace, genome: Any, kind: str) -> Tree:
    """The cell as one labelled tree: gene terminals replaced by their expanded trees, and a
    conv terminal ``sep_3x3@h1`` drawn as the block over its input leaf."""
    genes = genome["genes"][kind]

    def gene(t: Tree) -> Tree:
        s = t.symbol
        if "@" in s:
            conv, _, src = s.partition("@")
            return Tree(symbol_label(conv), [Tree(symbol_label(src))])
        return Tree(symbol_label(s), [gene(c) for c in t.children])

    def cell(t: Tree) -> Tree:
        if t.symbol in CELL_FUNCTIONS:
            return Tree(symbol_label(t.symbol), [cell(c) for c in t.children])
        return gene(karva_decode(genes[t.symbol], space._gene_arity))

    return Tree("h_i", [cell(karva_decode(genome[kind], space._cell_arity))])


def _layout(tree: Tree) -> list[tuple[Tree, float, int, Tree | None]]:
    """(node, x, depth, parent): leaves at consecutive x, parents centred over children."""
    out: list[tuple[Tree, float, int, Tree | None]] = []
    next_x = [0.0]

    def walk(t: Tree, depth: int, parent: Tree | None) -> float:
        if not t.children:
            x = next_x[0]
            next_x[0] += 1.0
        else:
            xs = [walk(c, depth + 1, t) for c in t.children]
            x = sum(xs) / len(xs)
        out.append((t, x, depth, parent))
        return x

    walk(tree, 0, None)
    return out


def draw_tree_png(tree: Tree, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = _layout(tree)
    pos = {id(t): (x, -d) for t, x, d, _ in nodes}
    width = max(x for _, x, _, _ in nodes) + 1
    depth = max(d for _, _, d, _ in nodes) + 1
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * width), max(3.0, 0.9 * depth)))
    for _t, x, d, parent in nodes:
        if parent is not None:
            px, py = pos[id(parent)]
            ax.annotate("", xy=(px, py - 0.15), xytext=(x, -d + 0.15),
                        arrowprops={"arrowstyle": "->", "color": "0.4", "lw": 0.8})
    for t, x, d, _ in nodes:
        leaf = t.symbol.startswith("h_")
        ax.text(x, -d, t.symbol, ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round" if leaf else "square", "fc": "#dde8f5" if leaf else "white",
                      "ec": "0.3"})
    ax.set_xlim(-0.8, width - 0.2)
    ax.set_ylim(-depth + 0.4, 0.6)
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_best_cells(run_dir: str | Path, rank: int = 1) -> list[Path]:
    """Write the text, dot and PNG drawings of the rank-th hall-of-fame member's cells."""
    from ..runtime.rundir import RunDir
    from ..runtime.search import make_space
    from .report import run_config

    run = RunDir(Path(run_dir))
    config = run_config(run.path)
    space = make_space(config)
    if not isinstance(space, NasgepSpace):
        raise ValueError(f"{run.path}: not a NASGEP run (space '{config.space.name}')")
    found = run.latest_snapshot()
    if not found:
        raise ValueError(f"{run.path}: no snapshot yet")
    hof = found[0]["hall_of_fame"]
    if not 1 <= rank <= len(hof):
        raise ValueError(f"rank must be in 1..{len(hof)}, got {rank}")
    entry = hof[rank - 1]
    genome = entry["genome"]
    out = run.path / "best"
    out.mkdir(parents=True, exist_ok=True)
    tag = f"rank{rank:02d}"
    fitness = (entry.get("fitness") or [None])[0]
    lines = [f"NASGEP cells of hall-of-fame rank {rank} (fitness {fitness})"]
    written = []
    for kind in ("normal", "reduction"):
        lines.append(f"{kind}: {space.cell_expression(genome, kind)}")
        dot = out / f"{kind}_cell_{tag}.dot"
        dot.write_text(space.cell_dot(genome, kind, f"{kind} cell"), encoding="utf-8")
        png = out / f"{kind}_cell_{tag}.png"
        note = "\n(convolutions reading an input have stride 2)" if kind == "reduction" else ""
        draw_tree_png(cell_tree(space, genome, kind), png, f"{kind.capitalize()} cell, rank {rank}{note}")
        written += [dot, png]
    txt = out / f"cells_{tag}.txt"
    txt.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [txt, *written]


__all__ = ["INPUTS", "cell_tree", "draw_best_cells", "draw_tree_png"]
