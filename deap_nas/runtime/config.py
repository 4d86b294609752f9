"""Run configuration: YAML (a ``SafeLoader`` that refuses duplicate keys,
:mod:`.yaml_strict`) -> validated objects.

Sections: ``seed``, ``data``, ``space``, ``algorithm``, ``operators``, ``training``
(partial evaluation of each candidate), ``evaluation``, ``final_training``, ``budget``,
``parallel``, ``output`` and, for a multi-objective search, ``objectives`` (a list:
:mod:`deap_nas.evaluation.objectives`, docs/objectives.md). ``space``, ``algorithm`` and each operator are a ``name`` plus
that entry's own parameters, validated by the entry's ``Params`` dataclass (or, for
operators, the function's signature). Every error names the field path, e.g.
``training.lr: must be > 0, got -1`` or ``algorithm.population_size: expected an
integer, got 'ten'``; the CLI prints it and exits with code 2.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..algorithms import ALGORITHMS, Budget
from ..arch import HeadSpec
from ..checks import check_amount
from ..evaluation.config import SCHEDULE_SETTINGS, TrainConfig
from ..evaluation.objectives import Objective, parse_objectives
from ..ops import OPERATORS, OperatorSpaceError, check_operators, operator_parameters
from ..spaces import SPACES
from .schema import ConfigError, check_finite, convert, from_mapping, to_plain
from .yaml_strict import load_yaml_text, read_text_file

BACKENDS = ("auto", "serial", "process", "scoop", "dask")


@dataclass
class DataConfig:
    """Which images a search trains and validates on (see ``prepare_data``)."""

    name: str = "fashion_mnist_mini"
    root: str | None = None
    val_fraction: float | None = 0.1
    val_per_class: int | None = None
    train_subset: float | int | None = None
    val_subset: float | int | None = None
    download: bool = False
    #: draw a new stratified train/val subset each generation (a loop that asks
    #: for fresh data per generation): the data seed of generation g is a
    #: deterministic function of (run seed, g), see ``worker.generation_data_seed``
    resample: bool = False
    #: freeze the stratified training subset (``train_subset`` per class) and validation
    #: set (``val_per_class`` per class) in this .npz file, created on first use and
    #: reloaded by later runs (a fixed mini data set, e.g. 100 images per class); relative to the
    #: working directory. None: the usual split (see ``prepare_data``)
    mini_file: str | None = None
    #: where a mini file's validation images come from: "heldout" (held out of the
    #: training split: selection never sees the test set) or "test" (the paper's variant)
    mini_test_source: str = "heldout"
    #: global contrast normalisation per image (zero mean, L2 norm ``gcn_scale``), before
    #: whitening; see ``deap_nas.data.whiten``
    gcn: bool = False
    gcn_scale: float = 55.0
    #: null or "zca": ZCA whitening fitted on the training part only (``zca_epsilon`` is added
    #: to the covariance spectrum), applied to train, validation and test on the device
    whiten: str | None = None
    zca_epsilon: float = 0.1

    def __post_init__(self) -> None:
        from ..data.whiten import check_preprocessing

        check_preprocessing(self.gcn, self.gcn_scale, self.whiten, self.zca_epsilon)
        if not isinstance(self.resample, bool):
            raise ValueError(f"resample: must be true or false, got {self.resample!r}")
        if self.mini_test_source not in ("heldout", "test"):
            raise ValueError(f"mini_test_source: must be 'heldout' or 'test', got {self.mini_test_source!r}")
        if self.mini_file is not None:
            if not isinstance(self.mini_file, str) or not self.mini_file:
                raise ValueError(f"mini_file: must be a file path, got {self.mini_file!r}")
            for name in ("train_subset", "val_per_class"):
                v = getattr(self, name)
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise ValueError(f"{name}: a mini_file needs a per-class count (an integer >= 1), got {v!r}")
            if self.resample or self.val_subset is not None:
                raise ValueError("mini_file: a frozen mini data set cannot be combined with resample or val_subset")
        elif self.mini_test_source != "heldout":
            raise ValueError("mini_test_source: 'test' needs a mini_file")
        if self.val_per_class is None and (self.val_fraction is None or not 0 < self.val_fraction < 1):
            raise ValueError(f"val_fraction: must be in (0, 1) unless val_per_class is set, got {self.val_fraction}")
        if self.val_per_class is not None and self.val_per_class < 1:
            raise ValueError(f"val_per_class: must be >= 1, got {self.val_per_class}")
        for name in ("train_subset", "val_subset"):
            check_amount(name, getattr(self, name))


@dataclass
class EvaluationConfig:
    """How a genome becomes a fitness."""

    head: str | dict[str, Any] | None = None  # None: the space's default head
    cache: bool = True  # do not train an architecture hash twice
    repeats: int = 1  # trainings per candidate (different seeds); fitness = mean
    penalty: float = 0.0  # fitness of a failed candidate (status recorded beside it)
    fail_fast: bool = False  # stop the search at the first crashed evaluation
    save_weights: bool = True  # keep each candidate's best-epoch weights in the run dir
    #: mimicry (knowledge distillation): train with the distillation loss against this teacher's
    #: logits (``training.distill_alpha`` / ``distill_temperature``); see runtime/teacher.py
    teacher: dict[str, Any] | None = None
    #: share the best weights of reusable blocks across candidates in
    #: <run>/weight_store; needs a space with ``weight_store_keys``
    weight_store: bool = False
    #: ``"module:function"`` that replaces real training: called with each
    #: :class:`~deap_nas.runtime.worker.EvalTask`, returns the record fields of a training
    #: (``status``, ``accuracy``, ...). For surrogate or tabular benchmarks and for testing
    #: the search machinery without torch; None: train the network.
    trainer: str | None = None
    #: seconds after which a candidate that has not answered is stopped from outside its
    #: worker (the worker process is killed and replaced; status ``timeout``). None: twice
    #: ``training.time_limit`` plus 60 s when a time limit is set, else no limit. Enforced
    #: by the process backend only (docs/architecture.md, "Reliability rules")
    hard_timeout: float | None = None

    def __post_init__(self) -> None:
        if self.hard_timeout is not None and (isinstance(self.hard_timeout, bool)
                                              or not isinstance(self.hard_timeout, (int, float))
                                              or not self.hard_timeout > 0):
            raise ValueError(f"hard_timeout: must be a number of seconds > 0, got {self.hard_timeout!r}")
        if self.trainer is not None:
            from .worker import load_trainer

            load_trainer(self.trainer)
        if self.repeats < 1:
            raise ValueError(f"repeats: must be >= 1, got {self.repeats}")
        HeadSpec.parse(self.head) if self.head is not None else None
        if self.teacher is not None:
            from .teacher import teacher_kind

            teacher_kind(self.teacher)


@dataclass
class FinalTrainingConfig:
    """``deap-nas train-final``: full training of the best architectures; test set used once."""

    top_k: int = 1
    min_evaluations: int = 1  # > 1: re-evaluate candidates to this many results, pick the best mean
    candidates: int = 10  # how many top architectures the re-evaluation considers
    #: how ``min_evaluations`` is met: "reevaluate" (re-train the top ``candidates``) or
    #: "search_samples" (no training: the best mean among architectures the search itself
    #: trained at least ``min_evaluations`` times; deap_nas/analysis/selection.py)
    selection: str = "reevaluate"
    val_fraction: float = 0.1  # held out of the training split to pick the best epoch
    train_subset: float | int | None = None  # None: the whole training split (papers); quick configs: less
    seeds: tuple[int, ...] = (0,)
    training: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=20))
    head: str | dict[str, Any] | None = None
    channels: int | None = None  # widen the stem (final training with more channels)
    #: which architectures: "ranking" (best mean search accuracy first) or "found" (those
    #: the search reported as found, in that order, e.g. networks above a target accuracy)
    source: str = "ranking"
    #: order of the printed / written table (final/table.csv): "rank" or "ratio" (accuracy
    #: per million parameters, descending)
    sort: str = "rank"
    #: mimicry in final training: a teacher spec as for ``evaluation.teacher``
    teacher: dict[str, Any] | None = None
    #: how the journal ranks architectures: "mean" accuracy over their trainings, or their
    #: "best" one (for loops that train a network further, whose latest accuracy is its best-trained one)
    rank_by: str = "mean"

    def __post_init__(self) -> None:
        if self.source not in ("ranking", "found"):
            raise ValueError(f"source: must be 'ranking' or 'found', got {self.source!r}")
        if self.sort not in ("rank", "ratio"):
            raise ValueError(f"sort: must be 'rank' or 'ratio', got {self.sort!r}")
        if self.teacher is not None:
            from .teacher import teacher_kind

            teacher_kind(self.teacher)
        if self.top_k < 1:
            raise ValueError(f"top_k: must be >= 1, got {self.top_k}")
        if self.min_evaluations < 1:
            raise ValueError(f"min_evaluations: must be >= 1, got {self.min_evaluations}")
        if self.selection not in ("reevaluate", "search_samples"):
            raise ValueError(f"selection: must be 'reevaluate' or 'search_samples', got {self.selection!r}")
        if self.candidates < self.top_k:
            raise ValueError(f"candidates: {self.candidates} < top_k {self.top_k}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction: must be in (0, 1), got {self.val_fraction}")
        if not self.seeds:
            raise ValueError("seeds: give at least one seed")
        if self.rank_by not in ("mean", "best"):
            raise ValueError(f"rank_by: must be 'mean' or 'best', got {self.rank_by!r}")
        if isinstance(self.train_subset, float) and not 0 < self.train_subset <= 1:
            raise ValueError(f"train_subset: a fraction must be in (0, 1], got {self.train_subset}")
        if isinstance(self.train_subset, int) and self.train_subset < 1:
            raise ValueError(f"train_subset: a per-class count must be >= 1, got {self.train_subset}")


@dataclass
class DaskSecurity:
    """TLS files of a client of a remote Dask scheduler (``distributed.security.Security``)."""

    ca_file: str | None = None  # the certificate authority that signed the scheduler's and workers' certificates
    cert: str | None = None  # this client's certificate
    key: str | None = None  # its private key (None: inside ``cert``)

    def __post_init__(self) -> None:
        for name in ("ca_file", "cert"):
            if not getattr(self, name):
                raise ValueError(f"{name}: give the path of a PEM file")
        if self.key is not None and not self.key:
            raise ValueError("key: give the path of a PEM file, or null when cert holds the key")


@dataclass
class DaskConfig:
    """``parallel.dask``: where a ``backend: dask`` run sends its candidates (docs/running.md,
    "Dask on one or several hosts"; checks in :mod:`deap_nas.runtime.dask_backend`)."""

    #: null: a local cluster of ``parallel.workers`` processes on the loopback interface;
    #: else the address of a running scheduler, ``tls://host:port`` (or ``tcp://``)
    scheduler: str | None = None
    threads_per_worker: int = 1  # candidates one worker process runs at once (local cluster)
    #: local cluster: TLS with temporary certificates, held in memory (default on: another user
    #: of this host cannot reach the loopback scheduler without them); false: plain tcp
    tls: bool | None = None
    security: DaskSecurity | None = None  # remote scheduler: TLS files, required for tls://
    allow_insecure: bool = False  # accept tcp:// to a host other than this one (unauthenticated pickles)
    retries: int = 2  # runs of a task whose worker was lost, after the first, before it is ``crashed``
    resources: dict[str, float] | None = None  # what each task asks of a worker, e.g. {GPU: 1}
    dashboard: bool = False  # local cluster: the dashboard on 127.0.0.1:8787 (needs bokeh)

    def __post_init__(self) -> None:
        from .dask_backend import check_dask_settings

        check_dask_settings(self)


@dataclass
class ParallelConfig:
    """How evaluations are spread: serial, a spawn-based process pool, SCOOP or Dask."""

    backend: str = "auto"  # auto: scoop under `python -m scoop`, process if workers > 1, else serial
    workers: int = 1  # process pool size; with backend dask, the local cluster's size
    device: str = "auto"  # auto | cpu | cuda; worker i uses GPU i mod n
    threads: int | None = None  # torch CPU threads per worker (None: cores // workers, parallel.plan_threads)
    dask: DaskConfig | None = None  # backend dask: its settings (None: the defaults)
    workers_per_device: int = 1  # device cuda: workers i*k .. i*k+k-1 share GPU i mod n (docs/running.md)
    #: share of a GPU's memory one worker may take (None: 1/workers_per_device when > 1, else no cap)
    memory_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.workers < 1:
            raise ValueError(f"workers: must be >= 1, got {self.workers}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device: must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads: must be >= 1, got {self.threads}")
        if self.workers_per_device < 1:
            raise ValueError(f"workers_per_device: must be >= 1, got {self.workers_per_device}")
        if self.memory_fraction is not None and not 0 < self.memory_fraction <= 1:
            raise ValueError(f"memory_fraction: must be in (0, 1], got {self.memory_fraction}")


@dataclass
class OutputConfig:
    dir: str = "runs"
    name: str | None = None  # run directory name; default: config file stem + time stamp
    plots: bool = True
    keep_snapshots: int = 3
    progress: bool = True
    tensorboard: bool = False  # RUN/tensorboard/ event files (needs the tensorboard extra; docs/logging.md)

    def __post_init__(self) -> None:
        if self.keep_snapshots < 1:
            raise ValueError(f"keep_snapshots: must be >= 1, got {self.keep_snapshots}")


@dataclass
class NamedSection:
    """A registry entry chosen by ``name`` with its validated parameters."""

    name: str
    params: Any  # the entry's Params dataclass instance, or a dict for operators
    probability: float = 1.0  # operators only


@dataclass
class RunConfig:
    seed: int
    data: DataConfig
    space: NamedSection
    algorithm: NamedSection
    operators: dict[str, NamedSection]
    training: TrainConfig
    evaluation: EvaluationConfig
    final_training: FinalTrainingConfig
    budget: Budget
    parallel: ParallelConfig
    output: OutputConfig
    source: str = ""  # the file it was read from
    #: the ``objectives:`` section; empty: a single-objective search (validation accuracy)
    objectives: tuple[Objective, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`parse_config` turns back into an equal config. Fields
        added after the first release (:data:`LATER_FIELDS`) appear only when not at their
        default, so the configs and fingerprints of earlier runs stay what they were."""
        d = {
            "seed": self.seed,
            "data": to_plain(self.data),
            "space": {"name": self.space.name, **to_plain(self.space.params)},
            "algorithm": {"name": self.algorithm.name, **to_plain(self.algorithm.params)},
            "operators": {
                role: {"name": op.name, "probability": op.probability, **to_plain(op.params)}
                for role, op in self.operators.items()
            },
            "training": to_plain(self.training),
            "evaluation": to_plain(self.evaluation),
            "final_training": to_plain(self.final_training),
            "budget": to_plain(self.budget),
            "parallel": to_plain(self.parallel),
            "output": to_plain(self.output),
        }
        if self.objectives:  # a section added later: absent from single-objective dumps
            d["objectives"] = [o.to_dict() for o in self.objectives]
        for section, defaults in LATER_FIELDS.items():
            for key, default in defaults.items():
                if key in d[section] and d[section][key] == default:
                    del d[section][key]
        trainings = [d["training"], d["final_training"].get("training")]
        for i, training in enumerate(t for t in trainings if isinstance(t, dict)):
            for key in SCHEDULE_SETTINGS:  # unset: the schedule ignores it
                if training.get(key, 0) is None:
                    del training[key]
            if i:  # final_training.training: the training section's later fields
                for key, default in LATER_FIELDS["training"].items():
                    if training.get(key, default) == default:
                        training.pop(key, None)
            augment = training.get("augment")
            if isinstance(augment, dict):
                for key, default in LATER_AUGMENT_FIELDS.items():
                    if augment.get(key, default) == default:
                        augment.pop(key, None)
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def fingerprint(self) -> str:
        """Hash of everything that changes results (not ``parallel`` or ``output``)."""
        d = self.to_dict()
        for key in ("parallel", "output"):
            d.pop(key)
        for training in (d["training"], d["final_training"].get("training")):
            if isinstance(training, dict):  # unset schedule settings hash as the earlier dumps wrote them
                for key, value in EARLIER_SCHEDULE_DEFAULTS.items():
                    training.setdefault(key, value)
        d["budget"] = {}  # a resumed run may be given a larger budget
        d["evaluation"].pop("hard_timeout", None)  # ... or a hard timeout (a stuck run)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


#: section -> {field: default} of the fields added after runs existed (mimicry,
#: mini data sets, last-epoch score, found-list final training, ...): left out of
#: :meth:`RunConfig.to_dict` at their default, so older runs keep their fingerprint
LATER_FIELDS: dict[str, dict[str, Any]] = {
    "data": {"mini_file": None, "mini_test_source": "heldout", "gcn": False, "gcn_scale": 55.0, "whiten": None,
             "zca_epsilon": 0.1},
    "space": {"num_classes": 10},
    #: sample_with_replacement: the value that reproduces earlier runs (they sampled without
    #: replacement); a resumed earlier run must say so (--set ...=false), or it is refused
    "algorithm": {"duplication_modes": ["serial"], "sample_with_replacement": False, "max_params": None, "redraw": 0},
    "training": {"score": "best", "drop_path": 0.0, "fused": "auto", "cuda_graph": "auto"},
    "evaluation": {"teacher": None, "weight_store": False, "trainer": None, "hard_timeout": None},
    "parallel": {"dask": None, "workers_per_device": 1, "memory_fraction": None},
    "output": {"tensorboard": False},
    "final_training": {"teacher": None, "source": "ranking", "sort": "rank", "rank_by": "mean",
                       "selection": "reevaluate"},
}
#: the same for ``training.augment`` (and ``final_training.training.augment``)
LATER_AUGMENT_FIELDS: dict[str, Any] = {"autoaugment": False}
#: the values every training section's dump held for the six schedule settings before a
#: setting the schedule ignores became an error (:data:`~deap_nas.evaluation.config.SCHEDULE_SETTINGS`)
EARLIER_SCHEDULE_DEFAULTS: dict[str, Any] = {
    "t0": 10.0, "t_mult": 1.0, "eta_min": 0.0, "step_size": 30, "gamma": 0.1, "milestones": [],
}  # fmt: skip


def earlier_training_dump(training: Any) -> Any:
    """A training mapping written by an earlier version (it lists all six schedule
    settings, as only a dump does) without the settings its schedule ignores that are at
    the earlier defaults, so the configs of earlier runs still parse; any other value is
    kept (and rejected by :class:`~deap_nas.evaluation.config.TrainConfig`)."""
    if not isinstance(training, Mapping) or not set(EARLIER_SCHEDULE_DEFAULTS) <= set(training):
        return training
    schedule = training.get("schedule", "cosine")
    out = dict(training)
    for key, default in EARLIER_SCHEDULE_DEFAULTS.items():
        if schedule not in SCHEDULE_SETTINGS[key][0] and out[key] == default:
            del out[key]
    return out


SECTIONS = (
    "seed", "data", "space", "algorithm", "operators", "training", "evaluation",
    "final_training", "budget", "parallel", "output", "objectives",
)  # fmt: skip


def _named(registry: Mapping[str, Any], data: Any, path: str, kind: str) -> tuple[str, dict[str, Any]]:
    if isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping with a 'name', got {data!r}")
    rest = dict(data)
    name = rest.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError(f"{path}.name: give the {kind} name; known: {', '.join(sorted(registry))}")
    if name not in registry:
        raise ConfigError(f"{path}.name: unknown {kind} '{name}'; known: {', '.join(sorted(registry))}")
    return name, rest


def _operator(role: str, data: Any) -> NamedSection:
    path = f"operators.{role}"
    name, rest = _named(OPERATORS, data, path, "operator")
    probability = convert(float, rest.pop("probability", 1.0), f"{path}.probability")
    if not 0 <= probability <= 1:
        raise ConfigError(f"{path}.probability: must be in [0, 1], got {probability}")
    accepted = operator_parameters(OPERATORS[name])
    for key in rest:
        if key not in accepted:
            raise ConfigError(f"{path}.{key}: unknown parameter of {name}; known: {', '.join(sorted(accepted)) or 'none'}")
    return NamedSection(name, rest, probability)


def _final_section(data: Any) -> Any:
    if isinstance(data, Mapping) and "training" in data:
        return {**data, "training": earlier_training_dump(data["training"])}
    return data


def parse_config(data: Any, source: str = "") -> RunConfig:
    """Validate a config mapping (as loaded from YAML) into a :class:`RunConfig`."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"a config is a mapping of sections ({', '.join(SECTIONS)}), got {type(data).__name__}")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section; known sections: {', '.join(SECTIONS)}")
    check_finite(data, "")
    seed = convert(int, data.get("seed", 0), "seed")

    space_name, space_rest = _named(SPACES, data.get("space", {"name": "sequential"}), "space", "search space")
    space_params = from_mapping(SPACES[space_name].Params, space_rest, "space")
    algo_name, algo_rest = _named(ALGORITHMS, data.get("algorithm", {"name": "random_search"}), "algorithm", "algorithm")
    algo_params = from_mapping(ALGORITHMS[algo_name].params, algo_rest, "algorithm")
    ops = data.get("operators") or {}
    if not isinstance(ops, Mapping):
        raise ConfigError(f"operators: expected a mapping of role -> operator, got {ops!r}")
    operators = {str(role): _operator(str(role), spec) for role, spec in ops.items()}
    try:
        check_operators({role: op.name for role, op in operators.items()}, space_name)
    except OperatorSpaceError as e:
        raise ConfigError(str(e)) from None
    for role in ALGORITHMS[algo_name].roles:
        if role not in operators:
            raise ConfigError(
                f"operators.{role}: required by algorithm {algo_name}; e.g. "
                f"operators: {{{role}: {{name: {'mut_sequential' if role == 'mutate' else 'cx_one_point'}}}}}"
            )
    if "budget" not in data:
        raise ConfigError("budget: missing; set at least one of evaluations, generations, hours, device_hours")
    parallel = from_mapping(ParallelConfig, data.get("parallel"), "parallel")
    objectives = _objectives(data.get("objectives"), parallel.device)
    _check_multi_objective(algo_name, objectives)
    return RunConfig(
        seed=seed,
        data=from_mapping(DataConfig, data.get("data"), "data"),
        space=NamedSection(space_name, space_params),
        algorithm=NamedSection(algo_name, algo_params),
        operators=operators,
        training=from_mapping(TrainConfig, earlier_training_dump(data.get("training")), "training"),
        evaluation=from_mapping(EvaluationConfig, data.get("evaluation"), "evaluation"),
        final_training=from_mapping(FinalTrainingConfig, _final_section(data.get("final_training")), "final_training"),
        budget=from_mapping(Budget, data.get("budget"), "budget"),
        parallel=parallel,
        output=from_mapping(OutputConfig, data.get("output"), "output"),
        source=source,
        objectives=objectives,
    )


def _objectives(data: Any, device: str) -> tuple[Objective, ...]:
    """The ``objectives:`` section (absent or null: none, a single-objective search)."""
    if data is None:
        return ()
    try:
        return parse_objectives(data, device)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _check_multi_objective(algorithm: str, objectives: tuple[Objective, ...]) -> None:
    """An ``objectives:`` section needs a loop that handles several objectives, and a
    multi-objective loop needs the section (docs/objectives.md)."""
    mode = getattr(ALGORITHMS[algorithm].cls, "multi_objective", "no")
    if objectives and mode == "no":
        able = ", ".join(n for n in ALGORITHMS if getattr(ALGORITHMS[n].cls, "multi_objective", "no") != "no")
        raise ConfigError(f"objectives: algorithm {algorithm} optimises one objective (validation accuracy); "
                          f"with several objectives use one of {able}")
    if not objectives and mode == "only":
        raise ConfigError(f"objectives: missing; algorithm {algorithm} is a multi-objective search, e.g. "
                          "objectives: [{name: accuracy}, {name: params, reference: 1000000}]")


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``key.sub=value`` assignments (value parsed as YAML) applied to a copy of ``data``."""
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key.path=value")
        value = load_yaml_text(raw, f"--set {key}: value")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return data


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML config file (duplicate keys refused); every error is one line naming the
    file (missing, a directory, unreadable, not UTF-8, not YAML)."""
    p = Path(path)
    return load_yaml_text(read_text_file(p), str(p)) or {}


#: config keys that name input folders or files. A relative value is made absolute when the
#: config is read: against the config file's folder for a value in the file, against the
#: working directory for a ``--set`` value. The saved config of a run (``config.yaml``)
#: holds the absolute path, so a resume from any folder reads the same data. Paths to what
#: the user's own commands create (``data.mini_file``, a teacher ensemble written by
#: ``deap-nas train-teacher --out``, run directories) stay relative to the working
#: directory, where those commands wrote them.
PATH_KEYS: tuple[str, ...] = ("data.root",)


def absolute_paths(data: dict[str, Any], base: str | Path) -> dict[str, Any]:
    """A copy of ``data`` whose :data:`PATH_KEYS` values are absolute (relative ones joined
    to ``base``; ``~`` expanded). Absent or empty keys are left alone."""
    data = copy.deepcopy(data)
    for key in PATH_KEYS:
        *parents, leaf = key.split(".")
        node: Any = data
        for part in parents:
            node = node.get(part) if isinstance(node, Mapping) else None
        if not isinstance(node, dict) or not isinstance(node.get(leaf), str) or not node[leaf]:
            continue
        value = Path(node[leaf]).expanduser()
        node[leaf] = str(value if value.is_absolute() else (Path(base) / value).absolute())
    return data


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Read, override (``--set``) and validate a YAML config file; relative
    :data:`PATH_KEYS` resolve against the file's folder (``--set`` ones against the
    working directory)."""
    data = absolute_paths(read_yaml(path), Path(path).parent)
    data = absolute_paths(apply_overrides(data, overrides), Path.cwd())
    return parse_config(data, source=str(path))
