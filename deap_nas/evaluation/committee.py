"""Neural network committee: an ensemble whose members vote with their affinity (fitness).

"Neural Committee Search": the final population's networks are trained
further (without re-initialising their weights) and combined by an affinity-weighted soft
majority vote. Given a sample ``X_i`` and a committee of ``N_NNC`` networks ``g_j`` with
affinity scores ``f_j``, each ``g_j(X_i)`` is a ``c``-dimensional probability vector
(softmax of the member's logits) and

    G(X_i) = sum_{j=1}^{N_NNC}  f_j / (sum_{m=1}^{N_NNC} f_m) * g_j(X_i)

(section 3.5); the committee's prediction is ``argmax G(X_i)``. The paper prints the
denominator's index as ``m = 0``; with members numbered 1..N_NNC that is a typo, and the
normalisation over all members (weights summing to 1, so ``G`` is again a probability
vector) is what is implemented here. Affinities must be finite and >= 0 with a positive
sum; a member with affinity 0 has weight 0 and no influence on the vote.

Which members (section 3.5, 4.2, 4.4): on Fashion-MNIST all N networks of the final
population; on CIFAR-10 the N/3 best by affinity (:func:`select_members` with
``fraction=1/3``). Final training in the paper: Fashion-MNIST Adam, lr 0.1/3, cosine annealing
with 1 restart after 35 epochs (SGDR t0 = 35), 50 epochs; CIFAR-10 lr 0.005/3, 2 restarts after 30 and 90
epochs (SGDR t0 = 30, t_mult = 2), 210 epochs; no early stopping. Those are TrainConfig
values (``schedule="cosine_restarts"``, ``t0``, ``t_mult``) given to :func:`train_committee`.

Departures: the affinity ``f_j`` is the search's affinity (best validation accuracy of the
partial evaluation) as the paper defines it; it is *not* recomputed after the final
training. :func:`train_committee` keeps each member's best-validation-epoch weights
(``keep_best_state``), so ``data.val`` should be a held-out part of the training split; the
paper trains on the full training set for a fixed number of epochs, which a caller gets
with a small validation split and no ``patience``.

A :class:`Committee` is one ``nn.Module``: :meth:`Committee.save` writes one file of plain
data and tensors (loadable with ``torch.load(weights_only=True)``), :meth:`Committee.load`
rebuilds the members with :func:`deap_nas.nn.build`, and ``torch.jit.trace`` works on it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..arch import Architecture, HeadSpec
from ..data.device import DeviceDataset
from ..nn import Network, build
from .config import TrainConfig
from .engine import evaluate
from .result import _json_safe
from .task import PreparedData, train_architecture

__all__ = [
    "Committee",
    "CommitteeResult",
    "evaluate_committee",
    "select_members",
    "train_committee",
]

FORMAT = "deap_nas.committee"
FORMAT_VERSION = 1


def _check_affinities(
    affinities: Sequence[float] | torch.Tensor, n: int | None = None
) -> list[float]:
    vals = [
        float(a)
        for a in (affinities.tolist() if isinstance(affinities, torch.Tensor) else affinities)
    ]
    if n is not None and len(vals) != n:
        raise ValueError(f"affinities: expected {n} values (one per member), got {len(vals)}")
    if not vals:
        raise ValueError("affinities: a committee needs at least one member")
    if not all(math.isfinite(a) and a >= 0 for a in vals):
        raise ValueError(f"affinities: must be finite and >= 0, got {vals}")
    if sum(vals) <= 0:
        raise ValueError(f"affinities: the sum must be > 0, got {vals}")
    return vals


class Committee(nn.Module):
    """Member networks combined by an affinity-weighted soft vote.

    ``forward(x)`` returns ``G(x)``, the (B, c) committee class probabilities (float32): the
    members' softmax outputs averaged with weights ``f_j / sum_m f_m``. The members always run
    in eval mode (``train()`` leaves them in eval): a committee is an inference model.
    ``classes`` (optional class names) travel with :meth:`save`.
    """

    affinities: torch.Tensor

    def __init__(
        self,
        members: Sequence[nn.Module],
        affinities: Sequence[float] | torch.Tensor,
        classes: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        members = list(members)
        vals = _check_affinities(affinities, len(members))
        self.members = nn.ModuleList(members)
        self.register_buffer("affinities", torch.tensor(vals, dtype=torch.float32))
        self.classes = list(classes) if classes is not None else None
        self.train(False)

    def train(self, mode: bool = True) -> Committee:
        super().train(mode)
        self.members.eval()  # the members always vote in eval mode (BN statistics, no dropout)
        return self

    @property
    def weights(self) -> torch.Tensor:
        """The vote weights ``f_j / sum_m f_m`` (sum to 1)."""
        return self.affinities / self.affinities.sum()

    def member_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """(N_NNC, B, c) float32: each member's softmax output ``g_j(x)``."""
        return torch.stack([torch.softmax(m(x).float(), dim=1) for m in self.members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``G(x) = sum_j f_j / (sum_m f_m) * g_j(x)`` (section 3.5), shape (B, c)."""
        probs = self.member_probabilities(x)
        # elementwise product and sum (not einsum/matmul): autocast keeps them in float32
        return (self.weights.to(probs.dtype).view(-1, 1, 1) * probs).sum(0)

    # ------------------------------------------------------------------ export
    def to_state(self) -> dict[str, Any]:
        """The committee as plain data and CPU tensors (what :meth:`save` writes)."""
        members = []
        for j, m in enumerate(self.members):
            if not isinstance(m, Network):
                raise TypeError(
                    f"Committee.save: member {j} is a {type(m).__name__}, not a deap_nas Network"
                )
            members.append(
                {
                    "arch": m.arch.to_json(indent=None),
                    "input_shape": [int(s) for s in m.input_shape],
                    "num_classes": int(m.num_classes),
                    "head": m.head_spec.to_dict(),
                    "state_dict": {k: v.detach().to("cpu") for k, v in m.state_dict().items()},
                }
            )
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "classes": self.classes,
            "affinities": self.affinities.detach().to("cpu", torch.float32),
            "members": members,
        }

    def save(self, path: str | Path) -> None:
        """Write one file (``torch.save`` of :meth:`to_state`; no pickled classes)."""
        torch.save(self.to_state(), Path(path))

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Committee:
        if state.get("format") != FORMAT or state.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"not a {FORMAT} v{FORMAT_VERSION} file: format={state.get('format')!r}, "
                f"version={state.get('version')!r}"
            )
        members = []
        for j, rec in enumerate(state["members"]):
            net = build(
                Architecture.from_json(rec["arch"]),
                tuple(rec["input_shape"]),
                int(rec["num_classes"]),
                HeadSpec.parse(dict(rec["head"])),
            )
            try:
                net.load_state_dict(rec["state_dict"])
            except RuntimeError as e:
                raise ValueError(
                    f"committee member {j}: weights do not fit its architecture: {e}"
                ) from e
            members.append(net)
        return cls(members, state["affinities"], state.get("classes"))

    @classmethod
    def load(cls, path: str | Path, map_location: torch.device | str = "cpu") -> Committee:
        """Read a file written by :meth:`save` (``torch.load(weights_only=True)``)."""
        state = torch.load(Path(path), map_location=map_location, weights_only=True)
        committee = cls.from_state(state)
        return committee.to(map_location)


def select_members(
    affinities: Sequence[float],
    fraction: float | None = None,
    k: int | None = None,
) -> list[int]:
    """Indices of the committee members, best affinity first (ties: lower index first).

    Neither ``fraction`` nor ``k``: all (Fashion-MNIST in the paper). ``fraction``: the best
    ``round(fraction * N)`` (at least 1), e.g. ``1/3`` for the N/3 of CIFAR-10 (N = 12 -> 4).
    ``k``: the best ``k`` (at most N).
    """
    vals = [float(a) for a in affinities]
    if any(not math.isfinite(a) for a in vals):
        raise ValueError(f"select_members: affinities must be finite, got {vals}")
    if fraction is not None and k is not None:
        raise ValueError("select_members: give fraction or k, not both")
    n = len(vals)
    count = n
    if fraction is not None:
        if isinstance(fraction, bool) or not 0 < float(fraction) <= 1:
            raise ValueError(f"select_members: fraction must be in (0, 1], got {fraction!r}")
        count = max(1, math.floor(float(fraction) * n + 0.5))
    elif k is not None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"select_members: k must be a positive integer, got {k!r}")
        count = min(k, n)
    order = sorted(range(n), key=lambda i: (-vals[i], i))
    return order[: min(count, n)]


def evaluate_committee(
    committee: Committee,
    data: DeviceDataset,
    batch_size: int = 1024,
    *,
    amp: str = "auto",
    channels_last: bool | str = "auto",
) -> float:
    """Top-1 accuracy in [0, 1] of ``argmax G(x)`` on ``data`` (the committee on
    ``data.device``); device-resident batches, one host sync at the end."""
    return evaluate(committee, data, batch_size, amp=amp, channels_last=channels_last)


@dataclass
class CommitteeResult:
    """Outcome of :func:`train_committee`.

    Per member (in the order given): ``member_status``, ``member_affinity`` (the search
    affinity used as vote weight), ``member_val_acc`` (best validation accuracy of the final
    training), ``member_test_acc`` (None for a member whose training failed; it is left out of
    the committee). ``best_member_test_acc`` is the max of the members' test accuracies,
    ``committee_test_acc`` the accuracy of the committee's vote. ``members_used`` indexes the
    members in the committee. ``committee`` (the module) is left out of :meth:`to_dict`.
    """

    member_status: list[str] = field(default_factory=list)
    member_affinity: list[float] = field(default_factory=list)
    member_val_acc: list[float | None] = field(default_factory=list)
    member_test_acc: list[float | None] = field(default_factory=list)
    members_used: list[int] = field(default_factory=list)
    best_member: int | None = None
    best_member_test_acc: float | None = None
    committee_test_acc: float | None = None
    train_results: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    committee: Committee | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite floats become None); the module is omitted."""
        return {k: _json_safe(v) for k, v in self.__dict__.items() if k != "committee"}


def train_committee(
    members: Sequence[tuple[Architecture, Mapping[str, torch.Tensor] | None, float]],
    data: PreparedData,
    config: TrainConfig,
    *,
    head: str | Mapping[str, Any] | HeadSpec | None = None,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> CommitteeResult:
    """Train each ``(arch, state_dict or None, affinity)`` further from its weights on
    ``data.train`` with ``config`` (best validation epoch kept), build the :class:`Committee`
    with the affinities as vote weights and evaluate members and committee on ``data.test``.

    Member ``j`` trains with seed ``seed + j``. A member whose training fails (status other
    than "ok") is reported and left out; RuntimeError when none is left.
    """
    if data.test is None:
        raise ValueError("train_committee: data has no test split (prepare_data(with_test=True))")
    if not members:
        raise ValueError("train_committee: no members")
    say = log or (lambda _msg: None)
    _check_affinities([m[2] for m in members])
    cfg = replace(config, keep_best_state=True)
    start = time.perf_counter()
    res = CommitteeResult(config=cfg.to_dict())
    nets: list[nn.Module] = []
    weights: list[float] = []
    test = data.test
    for j, (arch, state, affinity) in enumerate(members):
        name = arch.name or f"member {j}"
        say(f"committee: training member {j + 1}/{len(members)} ({name}, affinity {affinity:.4f})")
        tr = train_architecture(arch, data, cfg, head=head, seed=seed + j, init_state=state)
        res.member_status.append(tr.status)
        res.member_affinity.append(float(affinity))
        res.member_val_acc.append(tr.best_acc)
        res.train_results.append(tr.to_dict())
        if not tr.ok or tr.best_state is None:
            say(f"committee: member {j + 1} failed ({tr.status}: {tr.message}); left out")
            res.member_test_acc.append(None)
            continue
        net = build(arch, data.input_shape, data.num_classes, head)
        net.load_state_dict(tr.best_state)
        net.to(test.device).eval()
        acc = evaluate(net, test, cfg.eval_batch_size, amp=cfg.amp, channels_last=cfg.channels_last)
        res.member_test_acc.append(acc)
        res.members_used.append(j)
        nets.append(net)
        weights.append(float(affinity))
        say(
            f"committee: member {j + 1} val {tr.best_acc:.4f} (epoch {tr.best_epoch}), "
            f"test {acc:.4f}"
        )
    if not nets:
        raise RuntimeError(f"train_committee: every member failed: {res.member_status}")
    if sum(weights) <= 0:
        raise RuntimeError("train_committee: the members left all have affinity 0")
    committee = Committee(nets, weights, data.classes).to(test.device)
    accs = [(a, j) for j, a in enumerate(res.member_test_acc) if a is not None]
    res.best_member_test_acc, res.best_member = max(accs, key=lambda t: (t[0], -t[1]))
    res.committee_test_acc = evaluate_committee(
        committee, test, cfg.eval_batch_size, amp=cfg.amp, channels_last=cfg.channels_last
    )
    res.committee = committee
    res.seconds = time.perf_counter() - start
    say(
        f"committee: {len(nets)} members, best member test {res.best_member_test_acc:.4f}, "
        f"committee test {res.committee_test_acc:.4f}"
    )
    return res
