"""Device-resident image data set: uint8 images and int64 labels kept on the device.

Batches are index tensors into the resident tensors, so the training loop never runs
per-sample Python and never copies data from the host (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

__all__ = ["DeviceDataset", "check_device", "same_device"]


def check_device(name: str) -> None:
    """Raise ValueError naming ``name`` and the devices torch sees when ``name``
    (``cuda`` or ``cuda:N``) is not on this machine; ``auto``, ``cpu`` and other
    names pass (torch reports those itself)."""
    if not name.startswith("cuda"):
        return
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise ValueError(f"{name} asked for, but torch sees no CUDA device on this machine (use cpu or auto)")
    index = name.partition(":")[2]
    if index and (not index.isdigit() or int(index) >= count):
        raise ValueError(f"{name} asked for, but this machine has {count} CUDA device(s): "
                         f"cuda:0..cuda:{count - 1}")


def same_device(a: torch.device, b: torch.device) -> bool:
    """True when ``a`` and ``b`` name the same device (``cuda`` matches the current ``cuda:i``)."""
    if a.type != b.type:
        return False
    if a.index is None or b.index is None:
        current = torch.cuda.current_device() if a.type == "cuda" else None
        ia = current if a.index is None else a.index
        ib = current if b.index is None else b.index
        return ia == ib
    return a.index == b.index


def _as_channel_tuple(
    values: Sequence[float] | float, channels: int, name: str
) -> tuple[float, ...]:
    vals = [float(values)] * channels if np.isscalar(values) else [float(v) for v in values]
    if len(vals) != channels:
        raise ValueError(f"DeviceDataset.{name}: expected {channels} values, got {len(vals)}")
    return tuple(vals)


class DeviceDataset:
    """Images (N, C, H, W) uint8 and labels (N,) int64 on one device, with per-channel stats.

    ``mean`` and ``std`` are in [0, 1] pixel units; :meth:`normalize` maps a uint8 batch to
    ``(x / 255 - mean) / std`` in float32 on the device. Images already preprocessed
    (float32, e.g. whitened by :mod:`deap_nas.data.whiten`) are used as they are: mean 0,
    std 1, :meth:`normalize` only copies.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        mean: Sequence[float] | float | None = None,
        std: Sequence[float] | float | None = None,
        num_classes: int | None = None,
    ) -> None:
        if images.dtype not in (torch.uint8, torch.float32) or images.dim() != 4:
            raise ValueError(
                "DeviceDataset.images: expected uint8 or float32 (N, C, H, W), got "
                f"{images.dtype} {tuple(images.shape)}"
            )
        if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"DeviceDataset.labels: expected shape ({images.shape[0]},), got {tuple(labels.shape)}"
            )
        if labels.device != images.device:
            raise ValueError("DeviceDataset.labels: must be on the same device as images")
        self.images = images.contiguous()
        self.labels = labels.to(torch.int64)
        channels = images.shape[1]
        if self.preprocessed:
            if (mean is not None and set(_as_channel_tuple(mean, channels, "mean")) != {0.0}) or (
                std is not None and set(_as_channel_tuple(std, channels, "std")) != {1.0}
            ):
                raise ValueError("DeviceDataset: float32 (preprocessed) images take no mean / std")
            mean, std = 0.0, 1.0
        if mean is None or std is None:
            m, s = self._stats(self.images)
            mean = m if mean is None else mean
            std = s if std is None else std
        self.mean = _as_channel_tuple(mean, channels, "mean")
        self.std = _as_channel_tuple(std, channels, "std")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"DeviceDataset.std: must be > 0, got {self.std}")
        if num_classes is None:
            num_classes = int(self.labels.max().item()) + 1 if len(self.labels) else 0
        self.num_classes = int(num_classes)
        std_t = torch.tensor(self.std, dtype=torch.float32, device=images.device).view(1, -1, 1, 1)
        mean_t = torch.tensor(self.mean, dtype=torch.float32, device=images.device).view(
            1, -1, 1, 1
        )
        # (x / 255 - mean) / std == x * scale + shift
        self._scale = 1.0 / (255.0 * std_t)
        self._shift = -mean_t / std_t

    @staticmethod
    def _stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
        x = images.to(torch.float64).div_(255.0)
        return x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).clamp_min(1e-8).tolist()

    @classmethod
    def from_numpy(
        cls,
        images: np.ndarray,
        labels: np.ndarray,
        mean: Sequence[float] | float | None = None,
        std: Sequence[float] | float | None = None,
        device: torch.device | str = "cpu",
        num_classes: int | None = None,
    ) -> DeviceDataset:
        """Copy uint8 (N, C, H, W) images and integer labels to ``device`` once.

        ``mean``/``std`` default to the statistics of these images (pass the training
        set's statistics when building a validation set).
        """
        images = np.ascontiguousarray(images)
        if images.dtype != np.uint8:
            raise ValueError(f"DeviceDataset.images: expected uint8, got {images.dtype}")
        if images.ndim == 3:  # (N, H, W) grey
            images = images[:, None]
        img = torch.from_numpy(images).to(device)
        lab = torch.from_numpy(np.asarray(labels).astype(np.int64, copy=False)).to(device)
        return cls(img, lab, mean, std, num_classes)

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def preprocessed(self) -> bool:
        """True for float32 images, used without normalisation."""
        return self.images.dtype == torch.float32

    @property
    def device(self) -> torch.device:
        return self.images.device

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def __repr__(self) -> str:
        return (
            f"DeviceDataset(n={len(self)}, shape={self.shape}, classes={self.num_classes}, "
            f"device={self.device})"
        )

    # ------------------------------------------------------------------ batching
    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        n = len(self)
        return n // batch_size if drop_last else -(-n // batch_size)

    def batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[torch.Tensor]:
        """Yield int64 index tensors on the device.

        With ``shuffle`` the permutation is drawn on the device from ``generator`` (which
        must live on the same device); without it the order is 0..N-1.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        n = len(self)
        if shuffle:
            order = torch.randperm(n, generator=generator, device=self.device)
        else:
            order = torch.arange(n, device=self.device)
        stop = (n // batch_size) * batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            yield order[start : start + batch_size]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> float32 ``(x / 255 - mean) / std`` on the device (a float32
        batch of preprocessed images: a copy)."""
        if x.dtype == torch.float32:
            return x.clone()
        return x.to(torch.float32).mul_(self._scale).add_(self._shift)

    @property
    def black(self) -> torch.Tensor:
        """Normalized value of a raw 0 pixel, (1, C, 1, 1) on the device (a padding fill)."""
        return self._shift

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized float images and labels for an index tensor."""
        return self.normalize(self.images[index]), self.labels[index]

    # ------------------------------------------------------------------ copies
    def to(self, device: torch.device | str) -> DeviceDataset:
        """A copy on ``device`` (same statistics); ``self`` when already there."""
        if same_device(torch.device(device), self.device):
            return self
        return DeviceDataset(
            self.images.to(device), self.labels.to(device), self.mean, self.std, self.num_classes
        )

    def subset(self, index: torch.Tensor | Sequence[int] | np.ndarray) -> DeviceDataset:
        """Rows ``index`` as a new data set with the same statistics and class count."""
        if isinstance(index, torch.Tensor):
            idx = index.to(device=self.device, dtype=torch.int64)
        else:
            idx = torch.as_tensor(np.asarray(index), dtype=torch.int64, device=self.device)
        return DeviceDataset(
            self.images[idx], self.labels[idx], self.mean, self.std, self.num_classes
        )
