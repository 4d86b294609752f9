"""Run or resume a search from a config: the one place that wires every layer together.

    start_run(config)            a new run directory, RNGs seeded from ``config.seed``
    resume_run(run_dir)          continue from the newest valid snapshot

Both hand the algorithm a toolbox (operators, evaluation, parallel map) and a control
object (budget, snapshot and progress hooks). After every generation the state is
snapshotted atomically with all RNG states, so a killed run resumes to the same result.
"""

from __future__ import annotations

import random
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..algorithms import ALGORITHMS, SearchControl, SearchState
from ..spaces import SPACES
from .config import RunConfig, absolute_paths, apply_overrides, parse_config, read_yaml
from .environment import environment
from .evaluator import EvaluationFailed, Evaluator
from .interrupt import signal_name
from .journal import atomic_write_text, read_journal, write_logbook_csv
from .lock import RunLock, acquire
from .parallel import ParallelMap, plan_threads
from .progress import Progress
from .rundir import RunDir, RunDirError, now
from .schema import ConfigError, to_plain
from .snapshot import in_flight_ids, load_into, restore_rng, state_to_dict
from .toolbox import build_toolbox
from .worker import warm_worker


@dataclass
class SearchOutcome:
    run_dir: Path
    state: SearchState
    stop_reason: str | None
    space: Any


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def evaluation_context(config: RunConfig, space: Any) -> dict[str, Any]:
    """What every worker needs to train a candidate (plain data, sent with each task);
    ``teacher`` (absolute paths) only when ``evaluation.teacher`` is set."""
    context = {
        "data": to_plain(config.data),
        "training": config.training.to_dict(),
        "head": config.evaluation.head if config.evaluation.head is not None else space.default_head,
        "device": config.parallel.device,
        "threads": plan_threads(config.parallel).threads,
        "data_seed": config.seed,
    }
    if config.parallel.workers_per_device != 1:
        context["workers_per_device"] = config.parallel.workers_per_device
    if config.parallel.memory_fraction is not None:
        context["memory_fraction"] = config.parallel.memory_fraction
    if config.evaluation.trainer is not None:
        context["trainer"] = config.evaluation.trainer
    if config.objectives:  # only then: single-objective tasks and records stay as they were
        context["objectives"] = [o.to_dict() for o in config.objectives]
    if config.evaluation.teacher is not None:
        from .teacher import resolve_teacher

        context["teacher"] = resolve_teacher(config.evaluation.teacher)
    return context


def make_space(config: RunConfig) -> Any:
    return SPACES[config.space.name](config.space.params)


def _check_device(device: str) -> None:
    """``parallel.device`` exists on this machine (``cuda:7`` with two GPUs does not)."""
    if device.startswith("cuda"):
        from ..data.device import check_device

        try:
            check_device(device)
        except ValueError as e:
            raise ConfigError(f"parallel.device: {e}") from None


def _check_objective_device(config: RunConfig) -> None:
    """An objective only CUDA reports (``peak_memory``) with ``parallel.device: auto`` on a
    machine without CUDA (``cpu`` is refused by the config itself); a trainer is exempt."""
    needs = [o.name for o in config.objectives if o.kind.needs_cuda]
    if needs and config.evaluation.trainer is None and config.parallel.device == "auto":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"objectives: {needs[0]} is reported by CUDA devices only, and this machine has none")


def preflight(config: RunConfig) -> None:
    """Fail early, before any run directory is written, when the data cannot be had or
    ``evaluation.teacher`` is missing or was trained on other data (``check_teacher``),
    when ``output.tensorboard`` lacks its package, or when a Dask run cannot start (``check_dask_ready``: no ``distributed``, a missing
    TLS file, a scheduler that does not answer).

    In a serial run the data are prepared here once and kept for every evaluation (the
    worker is this process); other backends load them in each worker, so only their
    presence is checked here. Raises DatasetNotFoundError or ConfigError.
    """
    from ..evaluation import DatasetNotFoundError, load_dataset
    from .parallel import resolve_backend
    from .worker import context_for

    _check_device(config.parallel.device)
    _check_objective_device(config)
    if config.parallel.backend == "dask":
        from .dask_backend import check_dask_ready

        try:
            check_dask_ready(config.parallel.dask)
        except RuntimeError as e:
            raise ConfigError(str(e)) from None
    if config.output.tensorboard:
        from .tensorboard_log import check_tensorboard

        check_tensorboard()
    if config.evaluation.trainer is not None:  # a replacement trainer brings its own data (or none)
        return
    if config.evaluation.teacher is not None:  # a missing or mismatched teacher: before any training
        from .teacher import check_teacher, resolve_teacher
        from .teacher_ensemble import preprocessing_of

        try:
            check_teacher(resolve_teacher(config.evaluation.teacher), config.data.name, "evaluation.teacher",
                          preprocessing_of(config.data))
        except ValueError as e:
            raise ConfigError(str(e)) from None
    space = make_space(config)
    try:
        if resolve_backend(config.parallel.backend, config.parallel.workers) == "serial":
            context_for(evaluation_context(config, space))
        else:
            d = config.data
            load_dataset(d.name, split="train", root=d.root, download=d.download)
    except DatasetNotFoundError:
        raise
    except (ValueError, RuntimeError) as e:
        raise ConfigError(f"data: {e}") from None


def run_evaluator(config: RunConfig, space: Any, run: RunDir, map_fn: Any, log: Callable[[str], None],
                  **overrides: Any) -> Evaluator:
    """The :class:`Evaluator` of a run directory as ``config.evaluation`` sets it up
    (``overrides``: Evaluator keywords that differ, e.g. ``cache=False``)."""
    ev = config.evaluation
    settings: dict[str, Any] = dict(
        run_seed=config.seed, map_fn=map_fn, journal_path=run.journal,
        weights_dir=run.weights if ev.save_weights else None, cache=ev.cache, repeats=ev.repeats,
        penalty=ev.penalty, fail_fast=ev.fail_fast, log=log,
        weight_store_dir=run.path / "weight_store" if ev.weight_store else None, hard_timeout=ev.hard_timeout,
        objectives=config.objectives)
    return Evaluator(space, evaluation_context(config, space), **{**settings, **overrides})


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def start_run(config: RunConfig, run_dir: str | Path | None = None) -> SearchOutcome:
    """Create a run directory for ``config`` and search until the budget is spent (the
    directory locked throughout: :mod:`deap_nas.runtime.lock`)."""
    preflight(config)
    path = RunDir.resolve_path(config, run_dir)
    new = RunDir.check_new(path)
    try:
        with acquire(path, log=_stderr) as lock:
            try:
                run = RunDir.create(config, path)
                return _execute(config, run, snapshot=None, journal=[], lock=lock)
            except KeyboardInterrupt as e:
                e.run_dir = path  # type: ignore[attr-defined]  # for the resume command the CLI prints
                raise
    except BaseException:
        if new is not None and not (path / "run.json").exists():  # never started: leave nothing
            shutil.rmtree(new, ignore_errors=True)
        raise


def resume_run(run_dir: str | Path, overrides: Sequence[str] = (), force: bool = False,
               break_lock: bool = False) -> SearchOutcome:
    """Continue the run in ``run_dir`` from its newest valid snapshot.

    ``overrides`` (``key=value``) may raise the budget or change parallelism; a change
    that alters results (a different fingerprint) is refused unless ``force``. The
    directory is locked while it runs; ``break_lock`` takes a lock held by another process.
    Overrides are written to config.yaml only once everything has been checked.
    """
    run = RunDir(run_dir)
    run.read_meta()  # not a run directory: refused before a lock file is written
    if run.config_path.is_file():
        read_yaml(run.config_path)  # an unreadable config too (read again under the lock)
    with acquire(run.path, break_lock=break_lock, log=_stderr) as lock:
        try:
            return _resume_locked(run, overrides, force, lock)
        except KeyboardInterrupt as e:
            e.run_dir = run.path  # type: ignore[attr-defined]
            raise


def _resume_locked(run: RunDir, overrides: Sequence[str], force: bool, lock: RunLock) -> SearchOutcome:
    meta = run.read_meta()
    if not run.config_path.is_file():
        raise RunDirError(f"{run.path} has no config.yaml")
    data = absolute_paths(apply_overrides(read_yaml(run.config_path), overrides), Path.cwd())  # --set paths: cwd
    config = parse_config(data, source=meta.get("config_source", ""))
    if config.fingerprint() != meta.get("fingerprint") and not force:
        raise RunDirError(
            f"the config of {run.path} differs from the one it was started with "
            f"(fingerprint {config.fingerprint()} != {meta.get('fingerprint')}); use --force to resume anyway"
        )
    preflight(config)
    progress = Progress(SearchControl(config.budget), enabled=config.output.progress)
    found = run.latest_snapshot(warn=progress.line)
    snap = found[0] if found else None
    journal = resume_journal(run, snap)
    progress.line(
        f"resuming {run.path} from "
        + (f"generation {snap['generation']} ({found[1].name})" if found and snap else "the start (no snapshot yet)")
        + f"; {len(journal)} journal records"
    )
    return _execute(config, run, snapshot=snap, journal=journal, lock=lock,
                    config_text=config.to_yaml() if overrides else None, resumed=True)


def resume_journal(run: RunDir, snapshot: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The journal a resume replays. Refused (RunDirError, one line) when a line before
    the last is damaged (skipping it would lose a cached result and change the search),
    or when the journal is missing although the snapshot counts evaluations (resume
    equality and every report need them; an empty journal.jsonl resumes without them)."""
    if not run.journal.exists():
        done = int(snapshot.get("next_eval_id", 0)) if snapshot else 0
        if done:
            raise RunDirError(
                f"{run.journal} is missing but the snapshot counts {done} evaluations: without them the resume "
                "would differ from the uninterrupted run and reports would lose them; restore the journal, or "
                "create an empty journal.jsonl to resume without it")
        return []
    try:
        return read_journal(run.journal)
    except ValueError as e:
        raise RunDirError(f"{e}; repair or delete that line to resume") from None


def _restore(algo: Any, evaluator: Evaluator, control: SearchControl, snapshot: dict[str, Any],
             journal: list[dict[str, Any]]) -> None:
    """Load a snapshot into a fresh loop; a snapshot that passes ``check_snapshot`` but
    cannot be loaded is a RunDirError naming its generation."""
    try:
        control.usage = load_into(algo, snapshot)
        restore_rng(snapshot["rng"])
        evaluator.restore({**snapshot.get("evaluator", {}), "next_eval_id": snapshot.get("next_eval_id", 0),
                           "in_flight_ids": in_flight_ids(snapshot)}, journal)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise RunDirError(
            f"the snapshot of generation {snapshot.get('generation')} cannot be loaded ({type(e).__name__}: {e}); "
            "move it out of snapshots/ to resume from the previous one") from None


def _tensorboard(config: RunConfig, run: RunDir, snapshot: dict[str, Any] | None, journal: list[dict[str, Any]],
                 log: Callable[[str], None]) -> Any:
    """The run's :class:`~deap_nas.runtime.tensorboard_log.TensorBoardLog` with
    ``output.tensorboard``, else None."""
    if not config.output.tensorboard:
        return None
    from .tensorboard_log import TensorBoardLog

    return TensorBoardLog(run.path, snapshot, journal, log=log)


def _execute(config: RunConfig, run: RunDir, snapshot: dict[str, Any] | None, journal: list[dict[str, Any]],
             lock: RunLock, config_text: str | None = None, resumed: bool = False) -> SearchOutcome:
    space = make_space(config)
    control = SearchControl(config.budget)
    progress = Progress(control, enabled=config.output.progress)
    pmap = ParallelMap.from_config(config.parallel)
    evaluator = run_evaluator(config, space, run, pmap, progress.line)
    entry = ALGORITHMS[config.algorithm.name]
    loop_rng = random.Random(config.seed)
    toolbox = build_toolbox(config, space, evaluator, pmap, rng=loop_rng)
    algo = entry.cls(toolbox, config.algorithm.params, rng=loop_rng, control=control)
    if snapshot is not None:
        _restore(algo, evaluator, control, snapshot, journal)
    else:
        seed_everything(config.seed)
        evaluator.restore({}, journal)
    # everything checked: from here on the run directory is written
    if config_text is not None:  # resume --set overrides
        atomic_write_text(run.config_path, config_text)
    removed = run.remove_stale_temp_files()  # under the lock: leftovers of a killed process
    if removed:
        progress.line(f"removed {len(removed)} temporary file(s) left by a killed process")
    run.write_meta(status="running", stop_reason=None)  # a resumed run runs again
    if resumed:
        run.write_meta(resumed_environment=environment())  # what the latest resume runs with
    tb = _tensorboard(config, run, snapshot, journal, progress.line)
    if tb is not None:
        evaluator.on_record = tb.evaluation

    def checkpoint(st: SearchState) -> None:
        lock.refresh()  # heartbeat; stops here if another process broke the lock
        data = state_to_dict(algo, control.usage, evaluator.state())
        run.write_snapshot(st.generation, data, keep=config.output.keep_snapshots)
        write_logbook_csv(run.logbook_csv, [dict(r) for r in st.logbook], header=st.logbook.header)
        run.write_meta(generation=st.generation, usage=dict(vars(control.usage)))
        if tb is not None:
            tb.generation(st.logbook, dict(vars(control.usage)))

    control.callbacks = [checkpoint, progress]
    _announce(config, run, pmap, progress.line)
    try:
        evaluator.lookahead.discard()  # weights of predicted trainings a killed run left
        pmap.prepare(warm_worker, evaluator.context)  # pool workers warm up while the loop starts
        state = algo.run()
    except EvaluationFailed as e:
        run.write_meta(status="failed", stop_reason=str(e))
        raise
    except KeyboardInterrupt as e:
        how = signal_name(e)
        run.write_meta(status="interrupted", interrupted=now(), signal=how,
                       stop_reason="interrupted by the user" if how == "SIGINT" else f"interrupted by {how}")
        raise
    finally:
        pmap.close()
        evaluator.lookahead.discard()
        _pool_report(run, pmap, evaluator, progress.line)
        if tb is not None:
            tb.close()
    reason = control.reason
    run.write_meta(status="finished", stop_reason=reason, generation=state.generation, usage=dict(vars(control.usage)))
    progress.line(f"stopped: {reason}")
    finalize(run, state, space, config, progress.line)
    return SearchOutcome(run.path, state, reason, space)


def _announce(config: RunConfig, run: RunDir, pmap: ParallelMap, log: Callable[[str], None]) -> None:
    """The run's first progress line (with the torch threads per worker, also kept in
    run.json as ``parallel``), and a warning when the workers ask for more threads than
    there are cores."""
    plan = plan_threads(config.parallel)
    run.write_meta(parallel={"backend": pmap.backend, **plan.to_dict()})
    log(f"run {run.path}: {config.algorithm.name} on space {config.space.name}, data {config.data.name}, "
        f"{pmap.describe()} evaluation, {plan.describe()}")
    warning = plan.warning()
    if warning:
        log(warning)


def _pool_report(run: RunDir, pmap: ParallelMap, evaluator: Evaluator, log: Callable[[str], None]) -> None:
    """The process pool's warm-ups, idle time and trainings started before their
    generation (:mod:`.lookahead`), in run.json (``pool``) and one line."""
    stats = pmap.stats()
    if stats is None:
        return
    stats["lookahead_taken_over"] = evaluator.lookahead.adopted
    run.write_meta(pool=stats)
    log(f"workers: {stats['starts']} started, {stats['warmup_seconds']:.1f} s warming up; busy "
        f"{stats['busy_seconds']:.0f} of {stats['workers']} x {stats['seconds']:.0f} s "
        f"(idle {100 * stats['idle_fraction']:.0f}%); {stats['lookahead_taken_over']} trainings started "
        "before their generation")


def finalize(run: RunDir, state: SearchState, space: Any, config: RunConfig, log: Callable[[str], None]) -> None:
    """Best architectures and plots of a finished run."""
    from ..algorithms.base import individual_to_dict
    from ..analysis.report import write_best

    entries = [individual_to_dict(ind, space) for ind in state.hall_of_fame]
    head = config.evaluation.head if config.evaluation.head is not None else space.default_head
    if config.objectives:  # a multi-objective run: best/ is its Pareto front
        from ..analysis.pareto_best import write_front

        written = write_front(run.path, entries, config.objectives, head)
    else:
        written = write_best(run.path, entries, head=head)
    log(f"best architectures: {len(written)} files in {run.path / 'best'}")
    if config.output.plots:
        from ..analysis.plots import write_plots

        for path in write_plots(run.path):
            log(f"plot: {path}")
