"""How a node combines several inputs: the plan both the shape checker and the builder use.

Merge modes (docs/architecture.md): ``none`` (exactly one input), ``add`` and ``concat``.
The first input is the reference: other inputs are resized to its spatial size by
bilinear interpolation (ImmuNeCS sec. 3.3; macro NAS sec. 3.1 "scaled to the same size")
and, for ``add``, brought to its channel count by a bias-free 1x1 convolution without BN
or activation (ImmuNeCS: "pointwise convolutions without batch normalization nor
activation function"). ``align=False`` forbids both adjustments (EIGEN concatenates only
layers of the same feature-map size): a mismatch is then an ArchitectureError.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ArchitectureError
from .opspec import Shape

MERGES = ("none", "add", "concat")


@dataclass(frozen=True)
class MergePlan:
    """Per input: whether it is resized and the channels of its 1x1 aligner (or None)."""

    out_shape: Shape
    resize: tuple[bool, ...]
    align_channels: tuple[tuple[int, int] | None, ...]

    @property
    def num_params(self) -> int:
        return sum(a * b for a, b in (x for x in self.align_channels if x is not None))

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the 1x1 aligners (at the merged size) for one image;
        resizing, adding and concatenating count 0."""
        return self.num_params * self.out_shape[1] * self.out_shape[2]


def plan_merge(merge: str, shapes: list[Shape], align: bool = True, where: str = "node") -> MergePlan:
    """The merge of ``shapes`` (first is the reference); ArchitectureError if impossible."""
    if merge == "none" or len(shapes) == 1:
        if len(shapes) != 1:
            raise ArchitectureError(f"{where}: merge 'none' takes one input, got {len(shapes)}")
        return MergePlan(shapes[0], (False,), (None,))
    ref_c, ref_h, ref_w = shapes[0]
    resize, aligners = [], []
    for i, (c, h, w) in enumerate(shapes):
        spatial_differs = (h, w) != (ref_h, ref_w)
        channels_differ = merge == "add" and c != ref_c
        if not align and (spatial_differs or channels_differ):
            raise ArchitectureError(
                f"{where}: cannot {merge} inputs of shapes {shapes[0]} and {(c, h, w)} "
                f"(input {i}) with alignment off"
            )
        resize.append(spatial_differs)
        aligners.append((c, ref_c) if channels_differ else None)
    channels = ref_c if merge == "add" else sum(s[0] for s in shapes)
    out = (channels, ref_h, ref_w)
    return MergePlan(out, tuple(resize), tuple(aligners))
