"""The evaluation request: everything that decides what one training computes.

An algorithm says *how* an individual is to be trained by passing an
:class:`EvalRequest` with it (``toolbox.evaluate_population(inds, requests=...)`` or a
:class:`~deap_nas.algorithms.base.Batch`); nothing about an evaluation is carried as an
attribute of the individual. The runtime completes the request with what only it knows
(architecture hash, mimicry teacher, data-subset seed, weight store, repeat index:
:meth:`EvalRequest.completed`), carries it to the worker, records it in the journal
(``request``) and uses :meth:`EvalRequest.key` as the fitness-cache key.

The key is built from the fields themselves: every field is part of it unless its
metadata says ``key: False`` with a reason (:data:`NOT_IN_KEY`), and a test enumerates
the fields, so a field added later cannot be forgotten by the cache.

How a network starts (:class:`Start`, ``kind``):

- ``scratch``: fresh initialisation from the evaluation's seed (the weight store, when the
  run has one, may fill it: ``weight_store``);
- ``inherit``: the parent's weights file, except the node ids in ``reinit`` (and nodes
  whose shapes changed), which keep their fresh initialisation (weight
  inheritance from a parent);
- ``continue``: the individual's own weights file, trained further (``until``: the epoch
  count this training brings it to; e.g. one more epoch per generation);
- ``resume``: a paused training's saved state (optimizer, schedule, RNG), continued as if
  it had not stopped (training in stages).

What a result is (:meth:`EvalRequest.role`): a ``stage`` (paused: not a final accuracy),
a ``continuation`` (of an earlier training of the same network) or a ``repeat`` (a
complete training, repeat index ``repeat``). Reports average repeats only.

This module is torch-free and imports nothing else of the package (importing it runs
``deap_nas.evaluation``'s torch-free ``__init__``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

START_KINDS = ("scratch", "inherit", "continue", "resume")
ROLES = ("repeat", "stage", "continuation")

#: fields left out of the cache key, with the reason (a test checks this list against the metadata)
NOT_IN_KEY = {
    "Start.note": "a remark for the journal (why an inheritance fell back to scratch); same training",
    "EvalRequest.repeat": "repeats of one request are averaged under one key; the repeat picks the seed",
}


def _check_fields(cls: type, d: Mapping[str, Any], what: str) -> None:
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"{what}: unknown field(s) {unknown}")


def _no_key(reason: str) -> dict[str, Any]:
    return {"key": False, "reason": reason}


def _canonical(value: Any) -> Any:
    """A JSON-safe, order-independent copy of ``value`` (tuples as lists, keys sorted)."""
    return json.loads(json.dumps(value, sort_keys=True, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {value!r}")


@dataclass(frozen=True)
class Start:
    """How the network of one evaluation is initialised (module doc)."""

    kind: str = "scratch"
    weights: str | None = None  # inherit / continue: a weights file (run-relative or absolute)
    reinit: tuple[int, ...] = ()  # inherit: node ids that keep their fresh initialisation
    state: str | None = None  # resume: a paused training's state file
    until: int | None = None  # continue: the epoch count this training brings the network to
    note: str | None = field(default=None, metadata=_no_key(NOT_IN_KEY["Start.note"]))

    def __post_init__(self) -> None:
        if self.kind not in START_KINDS:
            raise ValueError(f"start.kind: one of {list(START_KINDS)}, got {self.kind!r}")
        object.__setattr__(self, "reinit", tuple(sorted(int(i) for i in self.reinit)))
        need = {"inherit": "weights", "continue": "weights", "resume": "state"}.get(self.kind)
        if need and not getattr(self, need):
            raise ValueError(f"start.{need}: needed for a {self.kind!r} start")
        if self.reinit and self.kind != "inherit":
            raise ValueError("start.reinit: only an 'inherit' start re-initialises nodes")
        if self.until is not None and (isinstance(self.until, bool) or not isinstance(self.until, int)
                                       or self.until < 1):
            raise ValueError(f"start.until: an integer >= 1, got {self.until!r}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _canonical(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Start:
        _check_fields(cls, d, "start")
        return cls(**{k: (tuple(v) if k == "reinit" else v) for k, v in d.items()})


@dataclass(frozen=True)
class EvalRequest:
    """One evaluation: how the network starts and how it is trained (module doc).

    Build it with the constructors (:meth:`scratch`, :meth:`inherit`, :meth:`continued`,
    :meth:`resumed`) and the modifiers (:meth:`with_overrides`, :meth:`paused_at`);
    the runtime fills in the rest. Frozen and JSON-serialisable (:meth:`to_dict`).
    """

    start: Start = field(default_factory=Start)
    overrides: tuple[tuple[str, Any], ...] = ()  # TrainConfig fields for this evaluation
    stop_iteration: int | None = None  # pause after this many iterations, saving the state
    teacher: str | None = None  # canonical JSON of the mimicry teacher spec (runtime)
    data_seed: int | None = None  # seed of the data subsets (data.resample; runtime)
    weight_store: bool = False  # load / offer blocks through the run's weight store (runtime)
    arch_hash: str | None = None  # the decoded architecture (runtime)
    repeat: int = field(default=0, metadata=_no_key(NOT_IN_KEY["EvalRequest.repeat"]))

    def __post_init__(self) -> None:
        if not isinstance(self.start, Start):
            raise TypeError(f"start: a Start, got {type(self.start).__name__}")
        pairs = self.overrides.items() if isinstance(self.overrides, Mapping) else self.overrides
        object.__setattr__(self, "overrides", tuple(sorted((str(k), _canonical(v)) for k, v in pairs)))
        s = self.stop_iteration
        if s is not None and (isinstance(s, bool) or not isinstance(s, int) or s < 1):
            raise ValueError(f"stop_iteration: an integer >= 1, got {s!r}")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def scratch(cls) -> EvalRequest:
        """Train from a fresh initialisation (the default)."""
        return cls()

    @classmethod
    def inherit(cls, parent_result: Mapping[str, Any] | None, reinit: Any = ()) -> EvalRequest:
        """Start from the weights of a parent's evaluation (``parent.result``), except the
        nodes in ``reinit``. A parent without saved weights gives a scratch start whose
        ``note`` says why (the journal records it)."""
        r = parent_result or {}
        if r.get("weights"):
            return cls(start=Start("inherit", weights=str(r["weights"]), reinit=tuple(reinit)))
        if not r:
            note = "parent not evaluated: no weights to inherit"
        elif r.get("status") not in (None, "ok"):
            note = f"parent evaluation {r.get('status')}: no weights to inherit"
        else:
            note = "parent has no saved weights (evaluation.save_weights off?)"
        return cls(start=Start("scratch", note=note))

    @classmethod
    def continued(cls, own_result: Mapping[str, Any] | None, until: int | None = None) -> EvalRequest:
        """Train the individual's own network further, from the weights of its last
        evaluation (``ind.result``); ``until`` is the epoch count it reaches. Without saved
        weights the training starts from scratch (``note`` says so)."""
        r = own_result or {}
        if r.get("weights"):
            return cls(start=Start("continue", weights=str(r["weights"]), until=until))
        return cls(start=Start("scratch", note="no weights to continue from: trained from scratch"))

    @classmethod
    def resumed(cls, train_state: str) -> EvalRequest:
        """Continue a paused training from its saved state (``ind.result["train_state"]``)."""
        return cls(start=Start("resume", state=str(train_state)))

    # ------------------------------------------------------------------ modifiers
    def with_overrides(self, **fields: Any) -> EvalRequest:
        """This request with training fields replaced (e.g. ``max_iterations=500``)."""
        merged = {**dict(self.overrides), **fields}
        return dataclasses.replace(self, overrides=tuple(merged.items()))

    def paused_at(self, iteration: int | None) -> EvalRequest:
        """This request pausing after ``iteration`` iterations (None: to the end)."""
        return dataclasses.replace(self, stop_iteration=iteration)

    def completed(self, **runtime_fields: Any) -> EvalRequest:
        """This request with the runtime's fields set (``arch_hash``, ``teacher`` as a spec
        mapping or None, ``data_seed``, ``weight_store``, ``repeat``)."""
        if "teacher" in runtime_fields and runtime_fields["teacher"] is not None \
                and not isinstance(runtime_fields["teacher"], str):
            runtime_fields["teacher"] = json.dumps(_canonical(runtime_fields["teacher"]), sort_keys=True)
        return dataclasses.replace(self, **runtime_fields)

    # ------------------------------------------------------------------ reading
    @property
    def overrides_dict(self) -> dict[str, Any]:
        return dict(self.overrides)

    @property
    def teacher_spec(self) -> dict[str, Any] | None:
        return json.loads(self.teacher) if self.teacher else None

    def role(self) -> str:
        """``stage`` (paused), ``continuation`` (continue / resume) or ``repeat``."""
        if self.stop_iteration is not None:
            return "stage"
        if self.start.kind in ("continue", "resume"):
            return "continuation"
        return "repeat"

    def key(self) -> str:
        """The fitness-cache key: ``arch_hash`` alone for a plain scratch request, else
        ``arch_hash|<canonical JSON of every other key field that is not at its default>``."""
        parts = _key_fields(self)
        parts.pop("arch_hash", None)
        head = self.arch_hash or "?"
        if not parts:
            return head
        return f"{head}|{json.dumps(parts, sort_keys=True, separators=(',', ':'))}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (what the journal records as ``request``)."""
        out: dict[str, Any] = {"start": self.start.to_dict()}
        for f in dataclasses.fields(self):
            if f.name == "start":
                continue
            v = getattr(self, f.name)
            out[f.name] = dict(v) if f.name == "overrides" else v
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EvalRequest:
        _check_fields(cls, d, "request")
        kw = dict(d)
        kw["start"] = Start.from_dict(kw.get("start") or {})
        kw["overrides"] = tuple((kw.get("overrides") or {}).items())
        return cls(**kw)


def _key_fields(obj: Any) -> dict[str, Any]:
    """The non-default key fields of a Start / EvalRequest, nested (module doc)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if not f.metadata.get("key", True):
            continue
        v = getattr(obj, f.name)
        if isinstance(v, Start):
            sub = _key_fields(v)
            if sub != {"kind": "scratch"}:
                out[f.name] = sub
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if f.name == "kind" or v != default:
            out[f.name] = _canonical(dict(v) if f.name == "overrides" else v)
    return out


def key_field_names() -> list[str]:
    """Every field of a request that is part of the cache key (``start.kind`` style)."""
    names = [f"start.{f.name}" for f in dataclasses.fields(Start) if f.metadata.get("key", True)]
    names += [f.name for f in dataclasses.fields(EvalRequest) if f.metadata.get("key", True) and f.name != "start"]
    return names


def legacy_request(rec: Mapping[str, Any]) -> EvalRequest:
    """The request of a journal record written before requests existed (``inherit_from``,
    ``changed_layers``, ``train_overrides``, ``train_stage``, ``teacher``, ``data_seed``),
    so runs started with an older version resume with the same cache."""
    if isinstance(rec.get("request"), Mapping):
        return EvalRequest.from_dict(rec["request"])
    stage = rec.get("train_stage") or {}
    if stage.get("resume_from"):
        start = Start("resume", state=str(stage["resume_from"]))
    elif rec.get("inherit_from"):
        start = Start("inherit", weights=str(rec["inherit_from"]), reinit=tuple(rec.get("changed_layers") or ()))
    else:
        start = Start()
    req = EvalRequest(start=start, overrides=tuple((rec.get("train_overrides") or {}).items()),
                      stop_iteration=stage.get("stop_iteration"), data_seed=rec.get("data_seed"),
                      arch_hash=rec.get("arch_hash"), repeat=int(rec.get("repeat") or 0))
    return req.completed(teacher=rec.get("teacher")) if rec.get("teacher") else req
