"""Search objectives: what a multi-objective search optimises, torch-free (docs/objectives.md).

An objective is a registered *kind* (:data:`OBJECTIVES`: its direction, the journal record
field its value comes from, when it is known, its settings) and a configured
:class:`Objective` (a kind with its settings and an optional hard constraint ``max``).
The config's ``objectives:`` section is a list of them, read by :func:`parse_objectives`.

- :func:`objective_vector` turns a journal record into the tuple DEAP's fitness takes,
  in the listed order; :func:`weights` gives the matching DEAP weights (+1 maximise,
  -1 minimise).
- :func:`constraint_status` says whether an architecture breaks a hard constraint on a
  value known before training (parameters, MACs): such a candidate gets the status
  ``constraint`` and is not trained, as ``too_large`` for ``training.max_params``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "OBJECTIVES",
    "Objective",
    "ObjectiveKind",
    "constraint_status",
    "constraint_violation",
    "mean_vector",
    "measurements",
    "objective_vector",
    "parse_objectives",
    "weights",
]

CONSTRAINT_STATUS = "constraint"


@dataclass(frozen=True)
class ObjectiveKind:
    """A registered objective: direction, record field and settings with their bounds."""

    name: str
    direction: str  # "max" or "min"
    field: str  # the journal record field holding the value
    known: str  # "before training", "after training" or "measured"
    doc: str
    #: setting -> (default, lowest, highest): integer settings of the measurement
    settings: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    needs_cuda: bool = False
    #: the best value possible: the hypervolume's ideal point on this axis
    ideal: float = 0.0
    #: the hypervolume reference point when the config gives none (None: it must)
    default_reference: float | None = None

    @property
    def constrainable(self) -> bool:
        """A hard constraint is checked before training, so only on values known then."""
        return self.known == "before training"


OBJECTIVES: dict[str, ObjectiveKind] = {
    k.name: k
    for k in (
        ObjectiveKind("accuracy", "max", "accuracy", "after training",
                      "validation accuracy of the training (the single-objective fitness)",
                      ideal=1.0, default_reference=0.0),
        ObjectiveKind("params", "min", "params", "before training", "trainable parameters, head included"),
        ObjectiveKind("macs", "min", "macs", "before training",
                      "multiply-accumulates of one forward pass for one image (FLOPs = 2 x MACs)"),
        ObjectiveKind("latency", "min", "latency", "measured",
                      "median seconds of a forward pass on the evaluation device",
                      {"batch_size": (1, 1, 65536), "warmup": (3, 0, 10000), "repeats": (10, 1, 10000)}),
        ObjectiveKind("peak_memory", "min", "peak_memory", "measured",
                      "peak bytes of device memory allocated during the training (CUDA only)",
                      needs_cuda=True),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Objective:
    """One configured objective: a kind, its settings and an optional upper bound ``max``."""

    name: str
    max: float | None = None
    settings: dict[str, int] = field(default_factory=dict)
    #: the hypervolume reference point on this axis (None: the kind's default, else ``max``)
    reference: float | None = None

    @property
    def kind(self) -> ObjectiveKind:
        return OBJECTIVES[self.name]

    @property
    def direction(self) -> str:
        return self.kind.direction

    def reference_point(self) -> float:
        """``reference``, else the kind's default, else the hard constraint ``max``."""
        for v in (self.reference, self.kind.default_reference, self.max):
            if v is not None:
                return float(v)
        raise ValueError(f"objective {self.name}: no hypervolume reference point (give reference or max)")

    def axis(self) -> Any:
        """The :class:`~deap_nas.algorithms.pareto.Axis` the multi-objective loops use."""
        from ..algorithms.pareto import Axis

        return Axis(self.name, self.kind.direction, self.reference_point(), self.kind.ideal)

    def to_dict(self) -> dict[str, Any]:
        """The config entry (settings at their defaults included, so dumps are explicit)."""
        d: dict[str, Any] = {"name": self.name, **self.settings}
        if self.max is not None:
            d["max"] = self.max
        if self.reference is not None:
            d["reference"] = self.reference
        return d


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: must be a finite number, got {value!r}")
    return value


def _objective(entry: Any, where: str) -> Objective:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected a mapping such as {{name: params}}, got {entry!r}")
    rest = dict(entry)
    name = rest.pop("name", None)
    if name not in OBJECTIVES:
        raise ValueError(f"{where}.name: unknown objective {name!r}; known: {', '.join(OBJECTIVES)}")
    kind = OBJECTIVES[name]
    bound = rest.pop("max", None)
    reference = rest.pop("reference", None)
    known_keys = ["name", "reference", *kind.settings, *(["max"] if kind.constrainable else [])]
    for key in rest:
        if key not in kind.settings:
            raise ValueError(f"{where}.{key}: unknown key of objective {name}; known: {', '.join(known_keys)}")
    if bound is not None:
        if not kind.constrainable:
            raise ValueError(f"{where}.max: objective {name} is known only {kind.known}; hard constraints "
                             f"are checked before training (params, macs)")
        bound = _number(bound, f"{where}.max")
        if bound <= 0:
            raise ValueError(f"{where}.max: must be > 0, got {bound!r}")
    reference = _reference(reference, bound, kind, where)
    settings = {}
    for key, (default, lo, hi) in kind.settings.items():
        v = rest.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"{where}.{key}: must be an integer in [{lo}, {hi}], got {v!r}")
        settings[key] = v
    return Objective(name, bound, settings, reference)


def _reference(value: Any, bound: float | None, kind: ObjectiveKind, where: str) -> float | None:
    """The checked ``reference`` of an entry: worse than the kind's ideal; required for an
    objective without a default reference or a ``max`` to stand in for it."""
    if value is None:
        if kind.default_reference is None and bound is None:
            raise ValueError(f"{where}.reference: give the hypervolume reference point of {kind.name} (a value "
                             f"worse than any candidate worth counting, in its units), or a hard constraint max")
        return None
    value = _number(value, f"{where}.reference")
    worse = value < kind.ideal if kind.direction == "max" else value > kind.ideal
    if not worse:
        side = "below" if kind.direction == "max" else "above"
        raise ValueError(f"{where}.reference: must lie {side} the ideal {kind.ideal} of {kind.name}, got {value!r}")
    return value


def parse_objectives(data: Any, device: str | None = None) -> tuple[Objective, ...]:
    """The validated ``objectives:`` list; ValueError naming the entry for any problem.
    ``device`` (``parallel.device``): ``cpu`` refuses objectives that need CUDA."""
    if not isinstance(data, (list, tuple)):
        raise ValueError(f"objectives: expected a list such as [{{name: accuracy}}, {{name: params}}], got {data!r}")
    out: list[Objective] = []
    for i, entry in enumerate(data):
        obj = _objective(entry, f"objectives[{i}]")
        if any(o.name == obj.name for o in out):
            raise ValueError(f"objectives[{i}]: objective {obj.name} is listed twice")
        if obj.kind.needs_cuda and device == "cpu":
            raise ValueError(f"objectives[{i}]: {obj.name} is reported by CUDA devices only, "
                             f"and parallel.device is cpu")
        out.append(obj)
    if not any(o.name == "accuracy" for o in out):
        raise ValueError("objectives: list accuracy among the objectives (every search trains for it)")
    if len(out) < 2:
        raise ValueError("objectives: give at least two objectives (accuracy alone is the single-objective "
                         "search: leave the section out)")
    return tuple(out)


def weights(objectives: Sequence[Objective]) -> tuple[float, ...]:
    """DEAP fitness weights in the listed order: 1.0 to maximise, -1.0 to minimise."""
    return tuple(1.0 if o.kind.direction == "max" else -1.0 for o in objectives)


def objective_vector(record: Mapping[str, Any], objectives: Sequence[Objective]) -> tuple[float, ...]:
    """The values of a successful journal record, in the listed order (the tuple DEAP's
    fitness takes with :func:`weights`). ValueError for a failed record or a missing value:
    a failed candidate has no vector (the search gives it a penalty of its own)."""
    where = f"evaluation {record.get('eval_id', '?')}"
    if record.get("status", "ok") != "ok":
        raise ValueError(f"{where}: status {record.get('status')} has no objective vector")
    values = []
    for o in objectives:
        v = record.get(o.kind.field)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{where}: no {o.kind.field} in the record (objective {o.name})")
        values.append(float(v))
    return tuple(values)


def mean_vector(records: Sequence[Mapping[str, Any]], objectives: Sequence[Objective],
                penalty: float = 0.0) -> tuple[float, ...]:
    """The fitness vector of one candidate from its records (one per repeat): the mean of
    each objective over the repeats when every one succeeded; otherwise ``penalty`` for a
    maximised objective and infinity for a minimised one, a vector the multi-objective
    loops never put on a front (they rank failed candidates apart: docs/objectives.md)."""
    if not records or any(r.get("status", "ok") != "ok" for r in records):
        return tuple(float(penalty) if o.kind.direction == "max" else math.inf for o in objectives)
    vectors = [objective_vector(r, objectives) for r in records]
    return tuple(sum(col) / len(col) for col in zip(*vectors, strict=True))


def constraint_status(arch_stats: Mapping[str, Any], objectives: Sequence[Objective]) -> tuple[str, str] | None:
    """``("constraint", message)`` when a value of ``arch_stats`` (``params``, ``macs``)
    exceeds its objective's ``max``, else None."""
    for o in objectives:
        if o.max is None:
            continue
        v = arch_stats.get(o.kind.field)
        if v is None:
            raise ValueError(f"constraint on {o.name}: the architecture's {o.kind.field} is not known")
        if v > o.max:
            return CONSTRAINT_STATUS, f"{o.kind.field} {v} > max {_plain(o.max)} (objective {o.name})"
    return None


def constraint_violation(arch_stats: Mapping[str, Any], objectives: Sequence[Objective]) -> float:
    """The largest relative excess ``(value - max) / max`` over the hard constraints (0.0
    when all hold): how far a ``constraint`` candidate is from feasible; the
    multi-objective loops prefer a smaller one among infeasible candidates."""
    excess = [(float(arch_stats[o.kind.field]) - o.max) / o.max for o in objectives
              if o.max is not None and arch_stats.get(o.kind.field) is not None]
    return max([0.0, *excess])


def _plain(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def measurements(objectives: Sequence[Mapping[str, Any] | Objective]) -> dict[str, dict[str, int]]:
    """The measurements a worker makes beyond a training: name -> settings, for the
    measured objectives (``latency``, ``peak_memory``)."""
    out = {}
    for o in objectives:
        obj = o if isinstance(o, Objective) else _objective(o, "objective")
        if obj.kind.known == "measured":
            out[obj.name] = dict(obj.settings)
    return out
