"""The study runtime: config, study directory, evaluation phases and whole runs.

A study config (YAML, ``yaml.safe_load``) names a run config to take the search space,
data, partial-evaluation training, final training and parallel settings from, and the
study's own parameters::

    study: locality                      # optional; must match the CLI's NAME when given
    base: ../configs/immunecs_fashion_mnist_quick.yaml   # relative to this file
    run: {data: {name: fashion_mnist_mini}}              # deep-merged into the base
    seed: 0
    params: {depths: [3, 9], parents_per_depth: 50, clones: 10}
    output: {dir: runs/studies, name: null}

A study directory holds ``study.yaml`` (the resolved config: the merged run config
included), ``study.json`` (status, fingerprint, wall time), one sub-directory per
evaluation *phase* (``journal.jsonl`` and ``weights/`` written by the runtime's
:class:`~deap_nas.runtime.evaluator.Evaluator`) or per whole run (an ordinary run
directory), ``results.json``, ``summary.txt`` and ``plots/``.

Resume: a study draws every genome from ``random.Random(seed)`` and asks its phases for
evaluations in a fixed order, and evaluation ids are handed out in request order, so a
study run again in its directory (``deap-nas study resume DIR``, or the same command with
``--dir DIR``) takes every evaluation its journals already hold instead of training it
again; runs are resumed from their snapshots (finished ones are only read).

Evaluations differ from a search in one way: ``data.resample`` is switched off, so every
candidate of a phase is trained and validated on the same subset.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..registry import Registry
from ..runtime.config import RunConfig, absolute_paths, apply_overrides, parse_config, read_yaml
from ..runtime.journal import read_journal, write_json
from ..runtime.rundir import atomic_write_text
from ..runtime.schema import ConfigError, from_mapping, to_plain

__all__ = [
    "STUDIES",
    "Study",
    "StudyConfig",
    "StudyEntry",
    "load_study_config",
    "merge",
    "register_study",
    "run_study",
    "resume_study",
]


@dataclass
class StudyEntry:
    """A registered study: its parameters dataclass and its function
    ``fn(study: Study, params) -> dict`` (the results, JSON-safe, with a ``"summary"`` text)."""

    name: str
    params: type
    fn: Callable[..., dict[str, Any]]
    needs_base: bool = True


STUDIES: Registry[StudyEntry] = Registry("study")


def register_study(name: str, params: type, needs_base: bool = True):
    """Decorator registering ``fn(study, params) -> results`` as study ``name``."""

    def deco(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        STUDIES.register(name)(StudyEntry(name, params, fn, needs_base))
        return fn

    return deco


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` deep-merged into it: mappings are merged, anything else is
    replaced, and so is a named section given another ``name`` (``algorithm: {name:
    random_search}`` over an ``immunecs`` section drops the ImmuNeCS parameters)."""
    out = copy.deepcopy(dict(base))
    for k, v in extra.items():
        old = out.get(k)
        renamed = isinstance(old, Mapping) and isinstance(v, Mapping) and "name" in v and v["name"] != old.get("name")
        if isinstance(v, Mapping) and isinstance(old, Mapping) and not renamed:
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_run_mapping(base: Any, run: Any, where: Path, path: str) -> dict[str, Any]:
    """A run config mapping: the YAML file ``base`` (relative to ``where``) with ``run``
    deep-merged into it. Errors name ``path`` (``base`` / ``run``)."""
    data: dict[str, Any] = {}
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}base: expected a path to a run config, got {base!r}")
        p = Path(base)
        if not p.is_absolute():
            p = where / p
        data = absolute_paths(read_yaml(p), p.parent)
    if run is not None:
        if not isinstance(run, Mapping):
            raise ConfigError(f"{path}run: expected a mapping of run-config sections, got {run!r}")
        data = merge(data, absolute_paths(dict(run), where))
    return data


@dataclass
class StudyOutput:
    dir: str = "runs/studies"
    name: str | None = None  # default: study name + config stem + time stamp
    plots: bool = True
    progress: bool = True
    title: str | None = None  # heading of results.md (default: from the study)
    reference: str | None = None  # Markdown printed in results.md: what the source reports, to compare


@dataclass
class StudyConfig:
    """A validated study config (module doc)."""

    study: str
    seed: int
    run: dict[str, Any]  # the resolved run-config mapping ({} for studies without one)
    params: Any
    output: StudyOutput = field(default_factory=StudyOutput)
    source: str = ""

    def run_config(self, overrides: Sequence[str] = ()) -> RunConfig:
        """The run config (validated), seeded with the study's seed."""
        data = merge(apply_overrides(self.run, overrides), {"seed": self.seed})
        data.setdefault("budget", {"evaluations": 1})  # studies do not search; parse needs one
        return parse_config(data, source=self.source)

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "seed": self.seed, "run": self.run, "params": to_plain(self.params),
                "output": to_plain(self.output)}  # fmt: skip

    def fingerprint(self) -> str:
        """Hash of everything that changes results (not ``output``)."""
        d = self.to_dict()
        d.pop("output")
        d["run"] = {k: v for k, v in d["run"].items() if k not in ("parallel", "output")}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


#: data fields a study may change in a final-training context
DATA_KEYS = ("name", "root", "download", "val_fraction", "train_subset", "val_subset")

STUDY_KEYS = ("study", "base", "run", "seed", "params", "output")


def parse_study_config(data: Any, name: str | None = None, where: Path = Path("."), source: str = "") -> StudyConfig:
    """Validate a study config mapping; ``name`` is the CLI's study name (the config's
    ``study`` key must agree when both are given). ``base`` paths are relative to ``where``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"a study config is a mapping ({', '.join(STUDY_KEYS)}), got {type(data).__name__}")
    unknown = sorted(set(data) - set(STUDY_KEYS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key of a study config; known: {', '.join(STUDY_KEYS)}")
    given = data.get("study")
    if name is not None and given is not None and given != name:
        raise ConfigError(f"study: the config is for study '{given}', not '{name}'")
    study = name or given
    if not isinstance(study, str):
        raise ConfigError(f"study: give the study name; known: {', '.join(sorted(STUDIES))}")
    if study not in STUDIES:
        raise ConfigError(f"study: unknown study '{study}'; known: {', '.join(sorted(STUDIES))}")
    entry = STUDIES[study]
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed: expected an integer, got {seed!r}")
    run = resolve_run_mapping(data.get("base"), data.get("run"), where, "")
    if entry.needs_base and not run:
        raise ConfigError(f"base: study {study} needs a run config (base: path/to/config.yaml and/or run: {{...}})")
    params = from_mapping(entry.params, data.get("params"), "params")
    if hasattr(params, "resolve"):  # paths relative to the config file; run configs read now
        try:
            run = params.resolve(where, run)
        except ConfigError as e:
            raise ConfigError(str(e)) from None
        except ValueError as e:
            msg = str(e)
            raise ConfigError(msg if msg.startswith(("base", "params")) else f"params.{msg}") from None
    output = from_mapping(StudyOutput, data.get("output"), "output")
    cfg = StudyConfig(study, seed, run, params, output, source)
    if run:
        cfg.run_config()  # validate now: errors name the run-config field
    return cfg


def load_study_config(path: str | Path, name: str | None = None, overrides: Sequence[str] = ()) -> StudyConfig:
    """Read a study YAML, apply ``--set`` overrides (``params.clones=3``,
    ``run.training.epochs=1``) and validate."""
    p = Path(path)
    data = _absolute_run_paths(read_yaml(p), p.parent)
    data = _absolute_run_paths(apply_overrides(data, overrides), Path.cwd())
    return parse_study_config(data, name, where=p.parent, source=str(p))


def _absolute_run_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """``data`` with the input paths of its ``run:`` mapping made absolute against ``base``
    (the study file's folder, or the working directory for ``--set`` values)."""
    if isinstance(data.get("run"), dict):
        data = {**data, "run": absolute_paths(data["run"], base)}
    return data


class Study:
    """What a study function works with: its directory, config, run config, space, the
    RNG of genome draws, a log, evaluation phases and whole runs."""

    def __init__(self, path: Path, config: StudyConfig, log: Callable[[str], None]) -> None:
        self.path = path
        self.config = config
        self.log = log
        self.rng = random.Random(config.seed)
        self.run_config: RunConfig | None = config.run_config() if config.run else None
        self.space: Any = None
        if self.run_config is not None:
            from ..runtime.search import make_space

            self.space = make_space(self.run_config)
        self._maps: list[Any] = []

    # ------------------------------------------------------------------ phases
    def base_context(self) -> dict[str, Any]:
        """The partial-evaluation context of the run config, without resampling."""
        from ..runtime.search import evaluation_context

        ctx = evaluation_context(self.run_config, self.space)
        ctx["data"] = {**ctx["data"], "resample": False}
        return ctx

    def final_context(self, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Training to convergence with ``final_training`` (its training settings, split
        and head) on the run's data set, with test accuracy (``with_test``). ``data``
        replaces any of :data:`DATA_KEYS` (another data set, a smaller split)."""
        from ..analysis.report import search_head

        rc = self.run_config
        ft = rc.final_training
        ctx = self.base_context()
        d = {**ctx["data"], "val_fraction": ft.val_fraction, "val_per_class": None, "train_subset": ft.train_subset,
             "val_subset": None}  # fmt: skip
        if data:
            d.update({k: v for k, v in data.items() if k in DATA_KEYS})
        training = ft.training.to_dict()
        training["keep_best_state"] = True
        head = ft.head if ft.head is not None else search_head(rc)
        return {**ctx, "data": d, "training": training, "head": head, "with_test": True,
                "data_seed": ft.seeds[0]}  # fmt: skip

    def phase(self, name: str, context: dict[str, Any] | None = None, cache: bool | None = None,
              save_weights: bool = True) -> Any:  # fmt: skip
        """An :class:`~deap_nas.runtime.evaluator.Evaluator` journaling to ``<dir>/<name>/``;
        a journal left there by an earlier attempt is reused (module doc)."""
        from ..runtime.evaluator import Evaluator
        from ..runtime.parallel import ParallelMap

        rc = self.run_config
        folder = self.path / name
        folder.mkdir(parents=True, exist_ok=True)
        journal_path = folder / "journal.jsonl"
        if not self._maps:  # one map (process pool) shared by every phase
            self._maps.append(ParallelMap.from_config(rc.parallel))
        pmap = self._maps[0]
        ev = Evaluator(
            self.space,
            context if context is not None else self.base_context(),
            run_seed=self.config.seed,
            map_fn=pmap,
            journal_path=journal_path,
            weights_dir=folder / "weights" if save_weights else None,
            cache=rc.evaluation.cache if cache is None else cache,
            penalty=rc.evaluation.penalty,
            log=self.log,
        )
        journal = read_journal(journal_path) if journal_path.exists() else []
        ev.restore({}, journal)
        if journal:
            self.log(f"{name}: {len(journal)} evaluations journaled before are reused")
        return ev

    def evaluate(self, ev: Any, individuals: Sequence[Any], generation: int, what: str,
                 requests: Sequence[Any] | None = None) -> None:
        """Evaluate ``individuals`` (with their evaluation requests, default from scratch)
        in phase ``ev`` with a progress line before and after."""
        start = time.perf_counter()
        self.log(f"{what}: {len(individuals)} evaluations")
        ev.evaluate_population(list(individuals), generation=generation, requests=requests)
        ok = sum(1 for ind in individuals if (getattr(ind, "result", None) or {}).get("status") == "ok")
        self.log(f"{what}: done, {ok}/{len(individuals)} ok, {time.perf_counter() - start:.1f}s")

    # ------------------------------------------------------------------ whole runs
    def ensure_run(self, name: str, run_mapping: Mapping[str, Any]) -> Path:
        """The run directory ``<dir>/<name>`` of ``run_mapping``, searched to its end:
        started when absent, resumed when unfinished, only read when finished. A run there
        with another config is an error, unless only its budget differs: then it is
        resumed with the new budget."""
        from ..runtime.rundir import RunDir, RunDirError
        from ..runtime.search import resume_run, start_run

        path = self.path / name
        cfg = parse_config(dict(run_mapping), source=str(path / "config.yaml"))
        if (path / "run.json").is_file():
            meta = RunDir(path).read_meta()
            if meta.get("fingerprint") != cfg.fingerprint():
                raise RunDirError(f"{path} holds a run of another config; remove it or use another study directory")
            old = parse_config(read_yaml(path / "config.yaml"))
            budget = to_plain(cfg.budget)
            if to_plain(old.budget) != budget:
                self.log(f"run {name}: resuming with budget {budget}")
                resume_run(path, [f"budget.{k}={json.dumps(v)}" for k, v in budget.items()])
                return path
            if meta.get("status") == "finished":
                self.log(f"run {name}: finished before, read")
                return path
            self.log(f"run {name}: resuming")
            resume_run(path)
        else:
            self.log(f"run {name}: starting (seed {cfg.seed})")
            start_run(cfg, path)
        return path

    def close(self) -> None:
        for m in self._maps:
            m.close()
        self._maps.clear()


def _progress_log(enabled: bool) -> Callable[[str], None]:
    def log(text: str) -> None:
        if enabled:
            print(text, file=sys.stderr, flush=True)

    return log


def study_dir(config: StudyConfig) -> Path:
    stem = Path(config.source).stem if config.source else config.study
    name = config.output.name or f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    return Path(config.output.dir) / name


def run_study(config: StudyConfig, path: str | Path | None = None, force: bool = False,
              log: Callable[[str], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """Run (or continue, when ``path`` holds this study already) a study; returns its
    results (also in ``results.json`` and, as text, ``summary.txt``)."""
    from ..runtime.rundir import RunDirError

    p = Path(path) if path is not None else study_dir(config)
    meta_path = p / "study.json"
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("fingerprint") != config.fingerprint() and not force:
            raise RunDirError(
                f"{p} holds study '{meta.get('study')}' with another config (fingerprint {meta.get('fingerprint')} "
                f"!= {config.fingerprint()}); use another --dir, or --force to continue anyway"
            )
    p.mkdir(parents=True, exist_ok=True)
    atomic_write_text(p / "study.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    seconds = float(meta.get("seconds", 0.0))
    meta = {"format": "deap_nas.study/1", "study": config.study, "fingerprint": config.fingerprint(),
            "status": "running", "source": config.source, "seconds": seconds,
            "command": " ".join(sys.argv)}  # fmt: skip
    write_json(meta_path, meta)
    log = log or _progress_log(config.output.progress)
    log(f"study {config.study}: {p}")
    start = time.perf_counter()
    if config.run:
        from ..runtime.search import preflight

        preflight(config.run_config())
    study = Study(p, config, log)
    entry = STUDIES[config.study]
    try:
        results = entry.fn(study, config.params)
    except KeyboardInterrupt as e:
        write_json(meta_path, {**meta, "status": "interrupted", "seconds": seconds + time.perf_counter() - start})
        e.study_dir = p  # type: ignore[attr-defined]  # for the resume command the CLI prints
        raise
    finally:
        study.close()
    wall = seconds + time.perf_counter() - start
    results = {"study": config.study, "dir": str(p), "wall_seconds": wall, **results}
    if "results_md" not in results and "results_md" not in (results.get("evidence") or {}):
        from .results_md import render_study_md

        atomic_write_text(p / "results.md", render_study_md(config, p, results.get("summary", "")))
        results["results_md"] = "results.md"
    write_json(p / "results.json", _json_safe(results))
    atomic_write_text(p / "summary.txt", results.get("summary", "") + "\n")
    write_json(meta_path, {**meta, "status": "finished", "seconds": wall})
    return results


def resume_study(path: str | Path, force: bool = False, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Continue the study in ``path`` from its ``study.yaml``."""
    from ..runtime.rundir import RunDirError

    p = Path(path)
    if not (p / "study.yaml").is_file():
        raise RunDirError(f"{p} is not a study directory (no study.yaml)")
    data = apply_overrides(read_yaml(p / "study.yaml"), overrides)
    source = json.loads((p / "study.json").read_text()).get("source", "") if (p / "study.json").is_file() else ""
    config = parse_study_config(data, where=p, source=source)
    return run_study(config, p, force=force)


def _json_safe(obj: Any) -> Any:
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return _json_safe(obj.to_dict())
    if hasattr(obj, "item"):
        return _json_safe(obj.item())
    return obj
