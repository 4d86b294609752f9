"""The training step captured in a CUDA graph: one launch per step instead of one per kernel.

The engine captures its step (batch fetch, augmentation, forward, loss, backward, optimiser
step, loss sum) once and replays it with a new index tensor and learning rate copied into
static device tensors. That is valid only when every step launches the same kernels on
tensors of the same shapes: :func:`blocker` says why not when it is not. The first
:data:`WARMUP_STEPS` steps run eagerly on a side stream (cuDNN's algorithm search, the
optimiser's state and other lazily created tensors exist before the capture, as the
PyTorch CUDA graph notes ask); a capture that raises leaves the engine on the eager step.
The fused optimisers read the learning rate from a device tensor, so the schedule still
changes it every step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from .config import TrainConfig

__all__ = ["WARMUP_STEPS", "StepGraph", "blocker"]

#: eager steps on a side stream before the capture
WARMUP_STEPS = 3


def blocker(
    config: TrainConfig,
    device: torch.device,
    *,
    uneven_batches: bool,
    fused_optimizer: bool,
    steps_left: int,
) -> str:
    """Why the training step of ``config`` on ``device`` is not captured ("" = capture it):
    ``cuda_graph: off``, not a CUDA device, AutoAugment (per-image host code), batches of
    different sizes (``uneven_batches``: no ``drop_last`` and a smaller last batch), an
    optimiser that is not fused (``fused: off``; the others read the learning rate on the
    host) or too few steps left to pay for the warm-up and the capture."""
    if config.cuda_graph == "off":
        return "cuda_graph: off"
    if device.type != "cuda":
        return "not a CUDA device"
    if config.augment.autoaugment:
        return "augment.autoaugment runs per image on the host"
    if uneven_batches:
        return "the last batch is smaller (drop_last off or fewer images than batch_size)"
    if not fused_optimizer:
        return "the optimiser is not fused (fused: off)"
    if steps_left <= WARMUP_STEPS + 1:
        return f"{steps_left} steps: too few to capture"
    return ""


class StepGraph:
    """One captured training step on ``device`` and its static inputs (the batch's row
    indices, the learning rate). Use: :meth:`warming` around each of the first
    :data:`WARMUP_STEPS` eager steps, then :meth:`capture` once and :meth:`replay` for
    every step from then on (the capture itself runs nothing)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.side = torch.cuda.Stream(device)
        self.warm = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.idx: torch.Tensor | None = None
        self.lr: torch.Tensor | None = None

    @property
    def warming_up(self) -> bool:
        return self.warm < WARMUP_STEPS

    @contextlib.contextmanager
    def warming(self) -> Iterator[None]:
        """Run the enclosed eager step on the side stream, ordered after and before the
        device's current stream."""
        current = torch.cuda.current_stream(self.device)
        self.side.wait_stream(current)
        with torch.cuda.stream(self.side):
            yield
        current.wait_stream(self.side)
        self.warm += 1

    def capture(
        self,
        idx: torch.Tensor,
        lr: float,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        body: Callable[[torch.Tensor], None],
    ) -> None:
        """Capture ``body(static_idx)`` (the step without ``zero_grad``: the gradients are
        set to None first, so the captured backward writes them). The optimiser's groups
        get the device learning-rate tensor; ``generator`` (augmentation) is registered so
        that each replay draws new numbers."""
        self.idx = idx.clone()
        self.lr = torch.full((), lr, dtype=torch.float32, device=self.device)
        for group in optimizer.param_groups:
            group["lr"] = self.lr
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize(self.device)
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(generator)
        with torch.cuda.graph(graph):
            body(self.idx)
        self.graph = graph

    def replay(self, idx: torch.Tensor, lr: float | None) -> None:
        """One step on rows ``idx``; ``lr``: the new learning rate, None when unchanged."""
        assert self.graph is not None and self.idx is not None and self.lr is not None
        self.idx.copy_(idx)
        if lr is not None:
            self.lr.fill_(lr)
        self.graph.replay()
