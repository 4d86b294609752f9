"""Graphviz dot text of an architecture (render with ``dot -Tpng``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .opspec import Shape, get_op

if TYPE_CHECKING:
    from .architecture import Architecture


def _quote(text: str) -> str:
    """A dot string literal; real newlines become dot's line breaks."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


def to_dot(arch: Architecture, input_shape: Shape | None = None) -> str:
    """Dot text: one box per node (op and changed params, output shape when
    ``input_shape`` is given), dead nodes dashed, merge mode on multi-input edges."""
    from .architecture import INPUT

    params = arch.resolved_params()
    shapes = arch.shapes(input_shape) if input_shape is not None else {}
    live = arch.live_ids()
    title = arch.name or f"arch {arch.hash()}"
    lines = [
        f"digraph {_quote(title)} {{",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];',
        f'  input [label={_quote("input" + (" " + _shape(input_shape) if input_shape else ""))}, fillcolor="#dddddd"];',
    ]
    for n in arch.nodes:
        label = f"{n.id}: {get_op(n.op).describe(params[n.id])}"
        if n.merge != "none":
            label = f"{label}\n[{n.merge}]"
        if n.id in shapes:
            label += f"\n{_shape(shapes[n.id])}"
        style = "" if n.id in live else ', style="rounded,dashed"'
        lines.append(f"  n{n.id} [label={_quote(label)}{style}];")
    for n in arch.nodes:
        for slot, i in enumerate(n.inputs):
            src = "input" if i == INPUT else f"n{i}"
            attr = f' [label="{slot}"]' if n.merge == "concat" else ""
            lines.append(f"  {src} -> n{n.id}{attr};")
    lines.append('  output [label="head", fillcolor="#dddddd"];')
    lines.append(f"  n{arch.output} -> output;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _shape(s: Shape | None) -> str:
    return "" if s is None else f"{s[0]}x{s[1]}x{s[2]}"
