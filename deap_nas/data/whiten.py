"""Global contrast normalisation and ZCA whitening of image data, on the device.

A :class:`Preprocessing` is fitted on the *training* images only (:func:`fit_preprocessing`)
and then applied, unchanged, to every split (train, validation, test), so validation and
test statistics never reach the transform. Both steps follow the usual definitions
(Goodfellow et al. 2013, "Maxout networks", and its pylearn2 preprocessing):

- **GCN** (global contrast normalisation), per image over all its pixels and channels:
  ``x <- scale * (x - mean(x)) / max(||x - mean(x)||_2, 1e-8)``: zero mean and L2 norm
  ``scale`` per image (``gcn_scale``; 55 makes the average squared pixel about 1 for
  32x32x3 images, as pylearn2's CIFAR-10 data set).
- **ZCA whitening**: with the training mean ``mu`` and covariance ``C = U diag(l) U^T``
  (divided by N), ``x <- (x - mu) W`` with ``W = U diag(1 / sqrt(l + epsilon)) U^T``;
  the whitened training data has covariance ``U diag(l / (l + epsilon)) U^T``, the
  identity where ``l >> epsilon``. ``W`` does not depend on the signs of the columns of
  ``U`` or on the basis chosen inside a repeated ``l``, so the transform is unique.

Pixels are ``uint8 / 255`` before either step. Statistics are accumulated in float64 in
chunks (no float64 copy of the whole split); the result is float32 images (N, C, H, W).
:func:`check_preprocessing` (the option check, used by the config) does not import torch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported on first use: the option check is torch-free
    import torch

__all__ = [
    "WHITEN_CHOICES",
    "Preprocessing",
    "check_preprocessing",
    "fit_preprocessing",
    "global_contrast_normalize",
    "zca_matrix",
]

#: values of ``whiten``
WHITEN_CHOICES = (None, "zca")
_CHUNK = 4096
_MIN_DIVISOR = 1e-8


def check_preprocessing(gcn: Any, gcn_scale: Any, whiten: Any, zca_epsilon: Any) -> None:
    """ValueError naming the option (``gcn``, ``gcn_scale``, ``whiten``, ``zca_epsilon``)."""
    if not isinstance(gcn, bool):
        raise ValueError(f"gcn: must be true or false, got {gcn!r}")
    for name, v in (("gcn_scale", gcn_scale), ("zca_epsilon", zca_epsilon)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or v == float("inf"):
            raise ValueError(f"{name}: must be a finite number > 0, got {v!r}")
    if whiten not in WHITEN_CHOICES:
        raise ValueError(f"whiten: must be null or 'zca', got {whiten!r}")


def global_contrast_normalize(x: torch.Tensor, scale: float = 55.0) -> torch.Tensor:
    """GCN of a float batch (N, D) (one image per row): zero mean, L2 norm ``scale``.
    A constant image (norm below 1e-8) stays at zero."""
    import torch

    x = x - x.mean(dim=1, keepdim=True)
    norm = x.norm(dim=1, keepdim=True)
    norm = torch.where(norm < _MIN_DIVISOR, torch.ones_like(norm), norm)
    return x * (scale / norm)


def zca_matrix(cov: torch.Tensor, epsilon: float) -> torch.Tensor:
    """``U diag(1 / sqrt(l + epsilon)) U^T`` of a symmetric covariance (float64)."""
    import torch

    evals, evecs = torch.linalg.eigh(cov)
    evals = evals.clamp_min(0.0)
    return (evecs * (1.0 / torch.sqrt(evals + epsilon))) @ evecs.T


@dataclass
class Preprocessing:
    """A fitted transform: GCN (optional) then ZCA (optional), on one device."""

    gcn: bool
    gcn_scale: float
    whiten: str | None
    zca_epsilon: float
    mean: torch.Tensor | None = None  # (D,) float64, ZCA's training mean (after GCN)
    matrix: torch.Tensor | None = None  # (D, D) float64, the ZCA matrix
    fitted_on: int = 0  # training images the statistics came from

    def _rows(self, images: torch.Tensor) -> torch.Tensor:
        import torch

        x = images.reshape(images.shape[0], -1).to(torch.float64).div_(255.0)
        return global_contrast_normalize(x, self.gcn_scale) if self.gcn else x

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> float32 (N, C, H, W) on the images' device, in chunks."""
        import torch

        out = torch.empty(images.shape, dtype=torch.float32, device=images.device)
        flat = out.view(images.shape[0], -1)
        for start in range(0, images.shape[0], _CHUNK):
            x = self._rows(images[start:start + _CHUNK])
            if self.matrix is not None:
                x = (x - self.mean) @ self.matrix
            flat[start:start + _CHUNK] = x.to(torch.float32)
        return out

    def record(self) -> dict[str, Any]:
        """JSON-safe description: the options, the images fitted on and a digest of the
        fitted statistics (equal digests: the same transform)."""
        rec: dict[str, Any] = {"gcn": self.gcn, "gcn_scale": self.gcn_scale, "whiten": self.whiten,
                               "zca_epsilon": self.zca_epsilon, "fitted_on": self.fitted_on}
        if self.matrix is not None:
            h = hashlib.sha256()
            for t in (self.mean, self.matrix):
                h.update(t.detach().cpu().contiguous().numpy().tobytes())
            rec["sha256"] = h.hexdigest()[:16]
        return rec


def fit_preprocessing(train_images: torch.Tensor, *, gcn: bool = False, gcn_scale: float = 55.0,
                      whiten: str | None = None, zca_epsilon: float = 0.1) -> Preprocessing:
    """Fit on uint8 training images (N, C, H, W) on their device: the ZCA mean and matrix
    of the (GCN-normalised) training rows; nothing to fit for GCN alone."""
    import torch

    check_preprocessing(gcn, gcn_scale, whiten, zca_epsilon)
    pre = Preprocessing(gcn, float(gcn_scale), whiten, float(zca_epsilon), fitted_on=int(train_images.shape[0]))
    if whiten is None:
        return pre
    n = int(train_images.shape[0])
    if n < 2:
        raise ValueError(f"whiten: needs at least 2 training images, got {n}")
    dim = int(train_images[0].numel())
    total = torch.zeros(dim, dtype=torch.float64, device=train_images.device)
    for start in range(0, n, _CHUNK):
        total += pre._rows(train_images[start:start + _CHUNK]).sum(dim=0)
    mean = total / n
    cov = torch.zeros(dim, dim, dtype=torch.float64, device=train_images.device)
    for start in range(0, n, _CHUNK):
        x = pre._rows(train_images[start:start + _CHUNK]) - mean
        cov += x.T @ x
    pre.mean, pre.matrix = mean, zca_matrix(cov / n, zca_epsilon)
    return pre
