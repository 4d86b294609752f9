"""An architecture as an RGB image: Graphviz ``dot`` when installed, else matplotlib.

:func:`architecture_image` renders the dot text of :func:`deap_nas.arch.to_dot` with the
``dot`` binary (``dot -Tpng``); without it (or when it fails) the same boxes (``id: op``,
merge mode, dead nodes dashed) are laid out by matplotlib on the Agg canvas, one row per
depth (longest path from the input). Used for TensorBoard images of the best network.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..arch import Architecture
from ..arch.architecture import INPUT
from ..arch.dot import to_dot
from ..arch.opspec import get_op

__all__ = ["architecture_image", "figure_rgb", "has_dot"]


def has_dot() -> bool:
    """Whether the Graphviz ``dot`` binary is on PATH."""
    return shutil.which("dot") is not None


def figure_rgb(fig: Figure) -> np.ndarray:
    """A matplotlib figure drawn on the Agg canvas as an ``(H, W, 3)`` uint8 array."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _dot_image(arch: Architecture, timeout: float = 30.0) -> np.ndarray | None:
    """``dot -Tpng`` of the architecture, or None when dot fails."""
    from PIL import Image

    try:
        out = subprocess.run(["dot", "-Tpng"], input=to_dot(arch).encode(), capture_output=True,
                             timeout=timeout, check=True).stdout  # fmt: skip
        return np.asarray(Image.open(io.BytesIO(out)).convert("RGB"))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _depths(arch: Architecture) -> dict[int, int]:
    """Longest-path depth of every node from the input (input: 0)."""
    depth: dict[int, int] = {INPUT: 0}
    order = arch.topological_order(live_only=False)
    for node_id in order:
        depth[node_id] = 1 + max((depth.get(i, 0) for i in arch.node(node_id).inputs), default=0)
    return depth


def _matplotlib_image(arch: Architecture) -> np.ndarray:
    """The architecture drawn by matplotlib: boxes per depth row, arrows for inputs."""
    params = arch.resolved_params()
    live = arch.live_ids()
    depth = _depths(arch)
    head = max(depth.values()) + 1
    labels: dict[Any, str] = {INPUT: "input", "head": "head"}
    rows: dict[int, list[Any]] = {0: [INPUT], head: ["head"]}
    for n in arch.nodes:
        text = f"{n.id}: {get_op(n.op).describe(params[n.id])}"
        labels[n.id] = text + (f"\n[{n.merge}]" if n.merge != "none" else "")
        rows.setdefault(depth[n.id], []).append(n.id)
    width = max(len(r) for r in rows.values())
    fig = Figure(figsize=(max(4.0, 2.6 * width), max(3.0, 0.9 * (head + 1))), dpi=90)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    pos = {key: ((i + 0.5) / len(r), 1 - (d + 0.5) / (head + 1)) for d, r in rows.items() for i, key in enumerate(r)}
    edges = [(i, n.id) for n in arch.nodes for i in n.inputs] + [(arch.output, "head")]
    for src, dst in edges:
        ax.annotate("", xy=pos[dst], xytext=pos[src], xycoords="axes fraction",
                    arrowprops={"arrowstyle": "->", "color": "0.4", "shrinkA": 12, "shrinkB": 12})  # fmt: skip
    for key, (x, y) in pos.items():
        dead = isinstance(key, int) and key != INPUT and key not in live
        ax.text(x, y, labels[key], ha="center", va="center", fontsize=8, transform=ax.transAxes,
                bbox={"boxstyle": "round", "facecolor": "#dddddd" if key in (INPUT, "head") else "#eef3fb",
                      "edgecolor": "0.3", "linestyle": "--" if dead else "-"})  # fmt: skip
    return figure_rgb(fig)


def architecture_image(arch: Architecture, use_dot: bool | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 drawing of ``arch``: Graphviz when ``use_dot`` (default: when
    the ``dot`` binary is installed) and it succeeds, else matplotlib."""
    if use_dot is None:
        use_dot = has_dot()
    image = _dot_image(arch) if use_dot else None
    return image if image is not None else _matplotlib_image(arch)
