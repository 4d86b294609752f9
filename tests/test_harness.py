"""The cross-product harness: every algorithm x each space it supports, through the whole
runtime, with the torch-free fake trainer (``evaluation.trainer:
deap_nas.testing:fake_trainer``), so a search takes a fraction of a second and the
checks can be exhaustive instead of sampled.

Combinations (:data:`CASES`; spaces, operators and parameters from the shipped quick
configs, experiments/configs/*_quick.yaml, with budgets small enough for ~0.1 s runs):
random_search x {sequential, neat}, simple_ga x sequential, aging_evolution x neat
(serial, and asynchronous with two children in flight), immunecs x immunecs_fashion,
eigen x eigen, nasgep x nasgep, minigen x minigen; and the multi-objective loops
(docs/objectives.md: fitness vectors, a Pareto front as the hall of fame, failed
``constraint`` candidates): nsga2 x sequential, nsga2 with SPEA2 selection x neat,
aging_pareto x neat (serial and asynchronous), random_search x sequential with three
objectives.

Checks, each a test per combination:

- (a) ``cache``: the fitness cache on and off request the same trainings (same
  evaluation ids, architectures and requests, weight files named by what they hold), with
  a trainer that ignores the repeat's seed (else a second training of an architecture,
  cache off, scores differently and the searches part); with it on, cache hits are
  journaled ``cached: true`` and not trained; NASGEP continues training its individuals
  with the cache on (a bug once: the cache swallowed NASGEP's continued epochs);
- (b) ``parallel``: a process pool (2 workers) gives the serial run's journal triples
  (eval_id, arch_hash, fitness), final search state, weight files and best list; SCOOP
  (``python -m scoop -n 2 experiments/run.py``) too, for three algorithms
  (:data:`SCOOP_CASES`);
- (c) ``kill``: a run killed in-process at the first training after its k-th journal
  record (the trainer raises KeyboardInterrupt, or a BaseException that no handler of the
  runtime catches, as kill -9 leaves a run), then resumed, equals the uninterrupted run
  (journal, final search state, trainings, weight files, best list), for every k; one run
  killed three times (a resumed run killed again); one killed, moved to another directory
  and resumed there. fsync is off in these tests (tests/test_runtime_resume.py kills
  real processes);
- (d) ``budget``: the evaluation budget is met exactly (run.json usage and journal);
- (e) ``seed``: a loop driven by ask/tell with ``seed=3`` gives the same batches, fitness
  values and hall of fame after ``random.seed(1)`` and ``random.seed(2)``, and leaves the
  global ``random`` alone, with a plain toolbox (the loop binds its generator) and with
  the runtime's (one generator for both); the runtime's toolbox (``build_toolbox(...,
  rng=...)``) draws the same individuals and operator results either way.

Bugs found are marked ``xfail(strict=True)`` with the reason. ``test_summary`` prints
the number of combinations x checks.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from deap_nas.algorithms import ALGORITHMS, Budget, SearchControl
from deap_nas.arch import ArchitectureError
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.evaluator import Evaluator
from deap_nas.runtime.journal import read_journal
from deap_nas.runtime.search import evaluation_context, make_space, resume_run, start_run
from deap_nas.runtime.toolbox import build_toolbox
from deap_nas.runtime.worker import EvalTask, derive_seed
from deap_nas.testing import calls, fake_fitness, fake_trainer

from .run_helpers import ENV, check, journal, snapshot, triples

REPO = Path(__file__).resolve().parents[1]
FAKE = "deap_nas.testing:fake_trainer"

# ---------------------------------------------------------------------- the combinations
COMMON: dict[str, Any] = {
    "seed": 0,
    "data": {"name": "fashion_mnist_mini"},
    "training": {"epochs": 1, "batch_size": 32},
    "evaluation": {"trainer": FAKE},
    "parallel": {"backend": "serial", "threads": 1},
    "output": {"plots": False, "progress": False, "keep_snapshots": 1000},
}
SEQUENTIAL = {"name": "sequential", "min_depth": 2, "max_depth": 5, "stem_channels": 16, "max_channels": 64,
              "head": "concat_pool"}  # random_search_quick.yaml
NEAT = {"name": "neat", "channels": 16, "initial_layers": 4, "head": "mlp3"}  # regevo_fashion_mnist_quick.yaml

CASES: dict[str, dict[str, Any]] = {
    "random_search-sequential": {
        "space": SEQUENTIAL,
        "algorithm": {"name": "random_search", "population_size": 5, "hall_of_fame": 5},
        "budget": {"evaluations": 13},
    },
    "random_search-neat": {
        "space": NEAT,
        "algorithm": {"name": "random_search", "population_size": 5, "hall_of_fame": 5},
        "budget": {"evaluations": 13},
    },
    "simple_ga-sequential": {  # as tests/test_runtime_resume.py
        "space": SEQUENTIAL,
        "algorithm": {"name": "simple_ga", "population_size": 4, "tournament_size": 2, "elites": 1, "mutpb": 1.0},
        "operators": {"mutate": {"name": "mut_sequential"}, "mate": {"name": "cx_one_point"}},
        "budget": {"evaluations": 18},
    },
    "aging_evolution-neat": {
        "space": NEAT,
        "algorithm": {"name": "aging_evolution", "population_size": 5, "sample_size": 2, "cycles": 40,
                      "in_flight": 1, "hall_of_fame": 5},
        "operators": {"mutate": {"name": "mut_neat", "p_mutate": 0.7, "p_add": 0.25, "p_identity": 0.05}},
        "budget": {"evaluations": 16},
    },
    "aging_evolution-neat-async": {  # the asynchronous steady state: children in flight in the snapshots
        "space": NEAT,
        "algorithm": {"name": "aging_evolution", "population_size": 5, "sample_size": 2, "cycles": 40,
                      "in_flight": 2, "hall_of_fame": 5},
        "operators": {"mutate": {"name": "mut_neat", "p_mutate": 0.7, "p_add": 0.25, "p_identity": 0.05}},
        "budget": {"evaluations": 16},
    },
    "immunecs-immunecs_fashion": {  # immunecs_fashion_mnist_quick.yaml
        "data": {"name": "fashion_mnist_mini", "resample": True},
        "space": {"name": "immunecs_fashion", "stem_channels": 16},
        "algorithm": {"name": "immunecs", "population_size": 4, "n_clones": 2, "n_augment": 1, "n_insert": 2,
                      "rho": 0.2, "patience": 2, "tau": 0.0075, "max_generations": 5, "hall_of_fame": 6},
        "training": {"epochs": 2, "batch_size": 64},
        "evaluation": {"save_weights": True},
        "budget": {"evaluations": 26},
    },
    "eigen-eigen": {  # eigen_cifar10_quick.yaml
        "space": {"name": "eigen", "max_layers": 6, "channel_choices": [8, 16, 24], "conv_channels": 16},
        "algorithm": {"name": "eigen", "population_size": 4, "step_size_primary": 8, "step_size_secondary": 2,
                      "t1": 20, "t2": 30, "t3": 10, "p": 2, "q": 1, "saturation_patience": 2,
                      "saturation_delta": 0.0, "duplication": True, "duplication_repeats": 1, "mimic_parent": True,
                      "max_generations": 8, "hall_of_fame": 3},
        "operators": {"mutate": {"name": "mut_eigen"}},
        "training": {"epochs": 100, "batch_size": 64, "distill_alpha": 0.9, "distill_temperature": 5.0,
                     "keep_best_state": True},
        "evaluation": {"save_weights": True},
        "budget": {"evaluations": 22},
    },
    "nasgep-nasgep": {  # nasgep_cifar10_quick.yaml, with the cache on (the quick config has it off)
        "space": {"name": "nasgep", "channels": 8, "cells_per_stage": 1, "cell_head": 4, "gene_head": 1,
                  "random_genes": 3},
        "algorithm": {"name": "nasgep", "population_size": 3, "reduction_population": 3, "gene_pool_size": 8,
                      "gene_pool_max": 12, "genes_min": 2, "genes_max": 3, "max_epochs": 3, "tc_fraction": 0.75,
                      "max_generations": 6, "hall_of_fame": 3},
        "training": {"epochs": 1, "batch_size": 32, "max_params": 300000, "keep_best_state": True},
        "evaluation": {"cache": True, "save_weights": True, "weight_store": True},
        "budget": {"evaluations": 27},
    },
    "minigen-minigen": {  # minigen_cifar10_quick.yaml; a higher target so that it runs a few rounds
        "space": {"name": "minigen", "channels": [8, 12, 16], "input_channels": [8, 16], "keep_resolution": False},
        "algorithm": {"name": "minigen", "population_size": 5, "elite": 2, "generations_per_round": 2,
                      "restart_threshold": 0.6, "target_accuracy": 0.8, "n_found": 6, "decay": 0.01,
                      "reevaluate_survivors": True, "hall_of_fame": 5},
        "operators": {"mate": {"name": "cx_cells", "indpb": 0.5},
                      "mutate": {"name": "mut_minigen", "p_op": 0.5, "p_channel": 0.3, "p_list": 0.2}},
        "training": {"epochs": 4, "batch_size": 32, "score": "last"},
        "evaluation": {"cache": True, "save_weights": False},
        "budget": {"evaluations": 24},
    },
    # multi-objective loops (docs/objectives.md): fake params = 1,000 per node, macs = 20 per parameter
    "nsga2-sequential": {
        "space": SEQUENTIAL,
        "algorithm": {"name": "nsga2", "population_size": 4},
        "operators": {"mutate": {"name": "mut_sequential"}, "mate": {"name": "cx_one_point"}},
        "objectives": [{"name": "accuracy"}, {"name": "params", "max": 5000, "reference": 8000}],
        "budget": {"evaluations": 18},
    },
    "nsga2-spea2-neat": {
        "space": NEAT,
        "algorithm": {"name": "nsga2", "population_size": 4, "selection": "spea2"},
        "operators": {"mutate": {"name": "mut_neat", "p_mutate": 0.7, "p_add": 0.25, "p_identity": 0.05}},
        "objectives": [{"name": "accuracy"}, {"name": "macs", "reference": 200000}],
        "budget": {"evaluations": 15},
    },
    "aging_pareto-neat": {
        "space": NEAT,
        "algorithm": {"name": "aging_pareto", "population_size": 5, "sample_size": 2, "in_flight": 1},
        "operators": {"mutate": {"name": "mut_neat", "p_mutate": 0.7, "p_add": 0.25, "p_identity": 0.05}},
        "objectives": [{"name": "accuracy"}, {"name": "params", "reference": 20000}],
        "budget": {"evaluations": 14},
    },
    "aging_pareto-neat-async": {
        "space": NEAT,
        "algorithm": {"name": "aging_pareto", "population_size": 5, "sample_size": 2, "in_flight": 2},
        "operators": {"mutate": {"name": "mut_neat", "p_mutate": 0.7, "p_add": 0.25, "p_identity": 0.05}},
        "objectives": [{"name": "accuracy"}, {"name": "params", "reference": 20000}],
        "budget": {"evaluations": 14},
    },
    "random_search-mo-sequential": {
        "space": SEQUENTIAL,
        "algorithm": {"name": "random_search", "population_size": 5},
        "objectives": [{"name": "accuracy"}, {"name": "params", "max": 5000, "reference": 8000},
                       {"name": "macs", "reference": 200000}],
        "budget": {"evaluations": 13},
    },
}
IDS = list(CASES)
#: with W > 1 children in flight, the order in which they join depends on training times
#: under a pool (aging.py: "two runs with the same seed may differ"): serial only
PARALLEL_CASES = [c for c in IDS if not c.endswith("-async")]
SCOOP_CASES = ["aging_evolution-neat", "eigen-eigen", "nasgep-nasgep", "nsga2-sequential"]
#: ask/tell drives the serial loop (``steps``): the async variant is the same loop there
LOOP_CASES = [c for c in IDS if not c.endswith("-async")]
CHECKS = ("cache", "parallel", "kill", "budget", "seed")


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def config_of(case: str, **sections: dict[str, Any]) -> dict[str, Any]:
    """The config mapping of ``case``, with ``sections`` merged in."""
    return merge(merge(COMMON, CASES[case]), sections)


def run(config: dict[str, Any], run_dir: Path) -> Path:
    start_run(parse_config(config), run_dir)
    return run_dir


def meta(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "run.json").read_text())


def search_state(run_dir: Path) -> str:
    """What must be bit-identical between equivalent runs (as tests/test_runtime_resume.py),
    from the newest snapshot; the run directory's absolute path (in EIGEN's teacher spec)
    reads ``<run>``."""
    snap = snapshot(run_dir)
    keys = ("generation", "next_eval_id", "population", "hall_of_fame", "logbook", "evaluator")
    text = json.dumps({k: snap[k] for k in keys}, sort_keys=True, indent=1)
    return text.replace(str(run_dir.resolve()), "<run>").replace(str(run_dir.absolute()), "<run>")


def files(run_dir: Path, sub: str) -> dict[str, str]:
    d = run_dir / sub
    return {p.name: p.read_text() for p in sorted(d.iterdir())} if d.is_dir() else {}


def assert_same_run(got: Path, want: Path) -> None:
    """Same journal triples, final search state, trainings, weight files and best list."""
    g, w = journal(got), journal(want)
    ids = [r["eval_id"] for r in g]
    assert len(ids) == len(set(ids)), f"{got}: an eval_id journaled twice"
    assert triples(g) == triples(w)
    assert search_state(got) == search_state(want)
    assert calls(got) == calls(want), "a training was repeated (or lost)"
    assert files(got, "weights") == files(want, "weights")
    assert files(got, "best") == files(want, "best")
    assert meta(got)["status"] == "finished"
    assert meta(got)["usage"]["evaluations"] == meta(want)["usage"]["evaluations"]
    assert meta(got)["stop_reason"] == meta(want)["stop_reason"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("harness")


@pytest.fixture(scope="module")
def reference(workdir) -> Callable[..., Path]:
    """``reference(case, trainer=FAKE)``: the uninterrupted serial run of a case (made
    once per module)."""
    made: dict[tuple[str, str], Path] = {}

    def get(case: str, trainer: str = FAKE) -> Path:
        if (case, trainer) not in made:
            name = f"ref-{case}" if trainer == FAKE else f"ref-{case}-{trainer.rpartition(':')[2]}"
            made[case, trainer] = run(config_of(case, evaluation={"trainer": trainer}), workdir / name)
        return made[case, trainer]

    return get


# ---------------------------------------------------------------------- (a) fitness cache
def seedless_trainer(task: EvalTask) -> dict[str, Any]:
    """:func:`~deap_nas.testing.fake_trainer` as if every training were repeat 0: with the
    cache off, a second training of an architecture gets the next repeat's seed and (as a
    real training would) another accuracy, so the searches part; without the seed, cache on
    and off must request the very same trainings."""
    return fake_trainer(dataclasses.replace(task, seed=derive_seed(0, task.arch_hash, 0)))


def canonical_requests(records: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """(eval_id, arch_hash, request) per record, in id order; a weights or state file in a
    request is named by what it holds (the architecture and request that wrote it, nested),
    since the cache-on run points at the file of the first training of a twin."""
    by_id = {r["eval_id"]: r for r in records}
    memo: dict[int, str] = {}

    def of_file(path: str | None) -> str | None:
        if not path:
            return path
        m = re.search(r"(\d{6})(\.state)?\.pt$", path)
        assert m and int(m.group(1)) in by_id, f"a weights path of no evaluation: {path}"
        return identity(int(m.group(1))) + (m.group(2) or "")

    def identity(eid: int) -> str:
        if eid not in memo:
            r = by_id[eid]
            if r.get("cached") and r.get("cached_from"):
                memo[eid] = identity(r["cached_from"][0])
            else:
                memo[eid] = f"{r['arch_hash']}<{request_text(r)}>"
        return memo[eid]

    def request_text(r: dict[str, Any]) -> str:
        req = copy.deepcopy(r.get("request") or {})
        start = req.get("start") or {}
        for k in ("weights", "state"):
            start[k] = of_file(start.get(k))
        if req.get("teacher"):  # EIGEN's mimicry: the parent's weights file
            teacher = json.loads(req["teacher"])
            teacher["weights"] = of_file(teacher.get("weights"))
            req["teacher"] = teacher
        req.pop("repeat", None)
        return json.dumps(req, sort_keys=True)

    return [(r["eval_id"], r["arch_hash"], request_text(r)) for r in sorted(records, key=lambda r: r["eval_id"])]


@pytest.mark.parametrize("case", IDS)
def test_cache_on_and_off_request_the_same_trainings(workdir, case):
    on = run(config_of(case, evaluation={"cache": True, "trainer": "tests.test_harness:seedless_trainer"}),
             workdir / f"cache-on-{case}")
    off = run(config_of(case, evaluation={"cache": False, "trainer": "tests.test_harness:seedless_trainer"}),
              workdir / f"cache-off-{case}")
    j_on, j_off = journal(on), journal(off)
    assert canonical_requests(j_on) == canonical_requests(j_off)
    assert triples(j_on) == triples(j_off)  # (journal order differs: a hit is journaled before the batch trains)
    # cache on: a hit is journaled as cached and not trained (no weight file of its own)
    hits = [r for r in j_on if r.get("cached")]
    undecoded = [r for r in j_on if r["status"] == "invalid" and not r.get("cached")]  # no training either
    assert calls(on) + len(hits) + len(undecoded) == len(j_on)
    for r in hits:
        assert not (on / "weights" / f"{r['eval_id']:06d}.pt").exists()
        assert r["cached_from"] and all(i < r["eval_id"] for i in r["cached_from"])
    # cache off: only architectures failing before training (invalid, too large) are reused
    assert all(r["status"] in ("invalid", "too_large") for r in j_off if r.get("cached"))
    assert calls(off) >= calls(on)
    if case.startswith("nasgep"):  # the individuals are trained further with the cache on
        cont = [r for r in j_on if r.get("role") == "continuation" and r["request"]["start"]["kind"] == "continue"]
        assert cont, "NASGEP with the cache on: no continued training in the journal"
        trained = [r for r in cont if not r.get("cached")]
        assert trained, "NASGEP with the cache on: every continued training was answered by the cache"
        assert all(r["epochs_total"] == r["request"]["start"]["until"] for r in trained)
        assert not any(r.get("inherit_note") for r in j_on)


# ---------------------------------------------------------------------- (b) parallel backends
@pytest.mark.parametrize("case", PARALLEL_CASES)
def test_process_pool_equals_serial(workdir, reference, case):
    ref = reference(case)
    pool = run(config_of(case, parallel={"backend": "process", "workers": 2}), workdir / f"pool-{case}")
    assert triples(journal(pool)) == triples(journal(ref))
    assert search_state(pool) == search_state(ref)
    assert files(pool, "weights") == files(ref, "weights")
    assert files(pool, "best") == files(ref, "best")


@pytest.mark.parametrize("case", SCOOP_CASES)
def test_scoop_equals_serial(workdir, reference, case):
    ref = reference(case)
    d = workdir / f"scoop-{case}"
    d.mkdir()
    config = config_of(case, parallel={"backend": "auto"}, output={"progress": True})
    (d / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(REPO), ENV.get("PYTHONPATH", "")])}
    r = subprocess.run(
        [sys.executable, "-m", "scoop", "-n", "2", str(REPO / "experiments" / "run.py"), "config.yaml",
         "--run-dir", "run"],
        cwd=d, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    check(r)
    assert re.search(r"^run run: .* scoop evaluation, \d+ torch threads? per worker", r.stderr, re.M), r.stderr[-4000:]
    assert triples(journal(d / "run")) == triples(journal(ref))
    assert search_state(d / "run") == search_state(ref)
    assert files(d / "run", "weights") == files(ref, "weights")


# ---------------------------------------------------------------------- (c) kill and resume
KILL_ENV = "DEAP_NAS_HARNESS_KILL"  # "<journal path>|<k>": die at the first training after k records
KILLER = "tests.test_harness:killing_trainer"


class Killed(BaseException):
    """What a kill -9 leaves: no handler of the runtime runs (not an Exception, not a
    KeyboardInterrupt, which the runtime records as an interruption)."""


def killing_trainer(task: EvalTask) -> dict[str, Any]:
    """:func:`~deap_nas.testing.fake_trainer`, except that with :data:`KILL_ENV` set it
    dies at the first training once the journal has k records: :class:`Killed` for an even
    k, KeyboardInterrupt (Ctrl-C, which the runtime records as "interrupted") for an odd k."""
    spec = os.environ.get(KILL_ENV)
    if spec:
        path, k = spec.rsplit("|", 1)
        if Path(path).exists() and len(read_journal(path)) >= int(k):
            raise (KeyboardInterrupt if int(k) % 2 else Killed)(f"killed after {k} journal records")
    return fake_trainer(task)


def run_killed(config: dict[str, Any], run_dir: Path, ks: list[int], monkeypatch) -> list[int]:
    """Start a run and kill it after ``ks[0]`` records, resume it and kill it after
    ``ks[1]``, ..., then resume it to the end. Returns the journal lengths at the kills."""
    killed = []
    for i, k in enumerate(ks):
        monkeypatch.setenv(KILL_ENV, f"{run_dir / 'journal.jsonl'}|{k}")
        try:
            if i == 0:
                run(config, run_dir)
            else:
                resume_run(run_dir)
        except (Killed, KeyboardInterrupt):
            killed.append(len(journal(run_dir)))
        else:
            break  # it finished before a training came after k records
    monkeypatch.delenv(KILL_ENV)
    if len(killed) == len(ks):
        resume_run(run_dir)
    return killed


@pytest.mark.parametrize("case", IDS)
def test_kill_after_each_evaluation_then_resume_equals_uninterrupted_run(workdir, reference, monkeypatch, case):
    # durability is not what is tested here (tests/test_runtime_resume.py kills with SIGKILL): no fsync
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    config = config_of(case, evaluation={"trainer": KILLER})
    ref = reference(case, KILLER)
    records = journal(ref)
    n = len(records)
    gens = [r["generation"] for r in records]
    mid = [k for k in range(1, n) if gens[k - 1] == gens[k]]  # the kill lands inside a generation
    if case.startswith(("aging_evolution", "aging_pareto")):  # a generation is one evaluation: every kill
        # loses a child in flight
        mid = list(range(1, n))
    assert mid, "no generation with two evaluations: no mid-generation kill"
    failures, kills = [], 0
    for k in range(1, n):
        d = workdir / f"kill-{case}-{k}"
        killed = run_killed(config, d, [k], monkeypatch)
        kills += len(killed)
        try:
            assert_same_run(d, ref)
        except AssertionError as e:
            failures.append(f"k={k} (killed at {killed}): {str(e)[:300]}")
    assert not failures, "\n".join(failures)
    # a kill comes at the first training after k records: none when only untrained records follow
    # (with W children in flight, up to W - 1 trainings start before the records before them)
    trained_after = [k for k in range(1, n) if any(r.get("fake_trainer") and not r.get("cached") for r in records[k:])]
    early = CASES[case]["algorithm"].get("in_flight", 1) - 1
    assert len(trained_after) - early <= kills <= len(trained_after), f"{kills} of {n - 1} runs were killed"
    # one run killed three times (a resumed run killed again), the last kill mid-generation
    d = workdir / f"kill3-{case}"
    killed = run_killed(config, d, [n // 4, n // 2, mid[-1]], monkeypatch)
    assert len(killed) >= 2, killed
    assert_same_run(d, ref)


def test_a_resumed_run_is_marked_running(workdir, monkeypatch):
    config = config_of("simple_ga-sequential", evaluation={"trainer": KILLER})
    d = workdir / "status"
    monkeypatch.setenv(KILL_ENV, f"{d / 'journal.jsonl'}|3")  # odd k: Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        run(config, d)
    assert (meta(d)["status"], meta(d)["stop_reason"]) == ("interrupted", "interrupted by the user")
    monkeypatch.setenv(KILL_ENV, f"{d / 'journal.jsonl'}|8")  # even k: what kill -9 leaves
    with pytest.raises(Killed):
        resume_run(d)
    assert (meta(d)["status"], meta(d)["stop_reason"]) == ("running", None)


@pytest.mark.parametrize("case", IDS)
def test_resume_in_a_moved_run_directory_equals_uninterrupted_run(workdir, reference, monkeypatch, case):
    """A run directory is self-contained: killed mid-run, moved (copied off a cluster) and
    resumed there, it finishes as the uninterrupted run."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    config = config_of(case, evaluation={"trainer": KILLER})
    ref = reference(case, KILLER)
    d = workdir / f"moved-{case}"
    monkeypatch.setenv(KILL_ENV, f"{d / 'journal.jsonl'}|{2 * (len(journal(ref)) // 4)}")
    with pytest.raises(Killed):
        run(config, d)
    monkeypatch.delenv(KILL_ENV)
    there = d.rename(workdir / f"moved-{case}-there")
    resume_run(there)
    assert_same_run(there, ref)


# ---------------------------------------------------------------------- (d) budget
@pytest.mark.parametrize("case", IDS)
def test_evaluation_budget_is_met_exactly(reference, case):
    ref = reference(case)
    budget = CASES[case]["budget"]["evaluations"]
    m = meta(ref)
    assert m["status"] == "finished"
    assert m["usage"]["evaluations"] == budget
    assert m["stop_reason"].startswith("evaluation budget reached"), m["stop_reason"]
    records = journal(ref)
    assert len(records) == budget
    assert sorted(r["eval_id"] for r in records) == list(range(budget))
    assert snapshot(ref)["next_eval_id"] == budget


# ---------------------------------------------------------------------- (e) own seed
def _toolbox(case: str, rng: random.Random | None) -> tuple[Any, Any, Any]:
    """(config, space, toolbox) of the runtime for ``case``, no run directory."""
    config = parse_config(config_of(case, algorithm={"mimic_parent": False} if case.startswith("eigen") else {}))
    space = make_space(config)
    evaluator = Evaluator(space, evaluation_context(config, space), run_seed=config.seed)
    return config, space, build_toolbox(config, space, evaluator, map, rng=rng)


def fitness(ind: Any, space: Any, objectives: int = 1) -> tuple[float, ...]:
    """:func:`~deap_nas.testing.fake_fitness`; 0 for a genome that does not decode. With
    ``objectives`` > 1, the node count (x 1000, x 20000, ...) as the further objectives."""
    try:
        acc = fake_fitness(ind, space, seed=3)
        nodes = float(len(space.decode(ind).nodes))
    except (ArchitectureError, ValueError, KeyError, TypeError):
        acc, nodes = (0.0,), 99.0
    return acc + tuple(nodes * 1000 * 20**i for i in range(objectives - 1))


def ask_tell(case: str, global_seed: int, shared_rng: bool) -> dict[str, Any]:
    """Drive the case's loop by ask/tell with ``seed=3`` (``shared_rng``: with the
    runtime's setup instead, one generator seeded 3 for the loop and the toolbox) after
    ``random.seed(global_seed)``; what it asked, the fitness told and the hall of fame."""
    random.seed(global_seed)
    rng = random.Random(3) if shared_rng else None
    config, space, tb = _toolbox(case, rng)
    entry = ALGORITHMS[config.algorithm.name]
    seed: dict[str, Any] = {"rng": rng} if shared_rng else {"seed": 3}
    algo = entry.cls(tb, config.algorithm.params, control=SearchControl(Budget(**CASES[case]["budget"])), **seed)
    global_state = random.getstate()
    asked, told = [], []
    while (batch := algo.ask()) is not None:
        asked.append([space.to_json(i) for i in batch.individuals])
        values = [fitness(i, space, max(1, len(config.objectives))) for i in batch.individuals]
        told.append(values)
        algo.tell(values)
    hof = [(space.to_json(i), list(i.fitness.values)) for i in algo.state.hall_of_fame]
    return {"asked": asked, "told": told, "hall_of_fame": hof, "generation": algo.state.generation,
            "global_random_untouched": random.getstate() == global_state}


@pytest.mark.parametrize("shared_rng", [False, True], ids=["seed3", "runtime-rng"])
@pytest.mark.parametrize("case", LOOP_CASES)
def test_loop_is_reproducible_from_its_own_seed(case, shared_rng):
    a = ask_tell(case, 1, shared_rng)
    b = ask_tell(case, 2, shared_rng)
    assert sum(len(x) for x in a["asked"]) > 0
    assert a["asked"] == b["asked"]
    assert a["told"] == b["told"]
    assert a["hall_of_fame"] == b["hall_of_fame"]
    assert a["global_random_untouched"] and b["global_random_untouched"], "the loop drew from the global random"


@pytest.mark.parametrize("case", LOOP_CASES)
def test_runtime_toolbox_is_independent_of_the_global_random(case):
    def draws(global_seed: int) -> list[Any]:
        random.seed(global_seed)
        config, space, tb = _toolbox(case, random.Random(3))
        inds = [tb.individual() for _ in range(6)]
        out: list[Any] = [space.to_json(i) for i in inds]
        kw = {"step_size": 2} if config.algorithm.name == "eigen" else {}
        for i in range(0, 6, 2):
            if hasattr(tb, "mate"):
                a, b = tb.mate(tb.clone(inds[i]), tb.clone(inds[i + 1]))
                out += [space.to_json(a), space.to_json(b)]
            if hasattr(tb, "mutate"):
                (m,) = tb.mutate(tb.clone(inds[i]), **kw)
                out.append(space.to_json(m))
        return out

    assert draws(1) == draws(2)


# ---------------------------------------------------------------------- the fake trainer itself
def _task(tmp: Path, eid: int, request: dict[str, Any] | None = None, weights: bool = True,
          nodes: int = 3, seed: int = 7, **training: Any) -> EvalTask:
    from deap_nas.evaluation.request import EvalRequest

    req = EvalRequest.from_dict(request).completed(arch_hash="h0") if request else EvalRequest(arch_hash="h0")
    return EvalTask(eid, "h0", 0, seed, {"nodes": [{}] * nodes}, {"training": {"epochs": 2, **training}},
                    str(tmp / "weights" / f"{eid:06d}.pt") if weights else None, request=req.to_dict())


def test_fake_trainer_contract(tmp_path):
    scratch = fake_trainer(_task(tmp_path, 0))
    assert scratch == fake_trainer(_task(tmp_path, 0))  # deterministic
    assert scratch["status"] == "ok" and 0.1 <= scratch["accuracy"] <= 0.9 + 0.09
    assert (scratch["params"], scratch["epochs"], scratch["iterations"]) == (3000, 2, 100)
    assert json.loads(Path(scratch["weights"]).read_text())["eval_id"] == 0
    assert fake_trainer(_task(tmp_path, 9, seed=8))["accuracy"] != scratch["accuracy"]  # the seed counts
    assert fake_trainer(_task(tmp_path, 9, weights=False))["weights"] is None
    # continue: the same network (the parent's base), one epoch more: a little better
    cont = fake_trainer(_task(tmp_path, 1, {"start": {"kind": "continue", "weights": scratch["weights"],
                                                      "until": 3}}, seed=99))
    assert cont["accuracy"] == pytest.approx(scratch["accuracy"] + 0.01)
    assert cont["inherited"]["from_eval_id"] == 0 and cont["epochs_total"] == 3
    lost = fake_trainer(_task(tmp_path, 2, {"start": {"kind": "continue", "weights": str(tmp_path / "no.pt")}}))
    assert lost["inherited"] is None and "from scratch" in lost["inherit_note"]
    inherit = fake_trainer(_task(tmp_path, 3, {"start": {"kind": "inherit", "weights": scratch["weights"],
                                                         "reinit": [2]}}))
    assert inherit["inherited"]["reinit"] == [2] and inherit["epochs_total"] == 4
    # staged: a paused stage scores less, its state file lies next to the weights; resumed to
    # the end, the training ends where the uninterrupted one does
    full = fake_trainer(_task(tmp_path, 4, {"overrides": {"max_iterations": 60}}))
    stage = fake_trainer(_task(tmp_path, 5, {"overrides": {"max_iterations": 60}, "stop_iteration": 20}))
    assert stage["accuracy"] < full["accuracy"] and stage["iterations"] == 20
    assert stage["train_state"] == str(tmp_path / "weights" / "000005.state.pt")
    assert Path(stage["train_state"]).is_file()
    stage2 = fake_trainer(_task(tmp_path, 6, {"start": {"kind": "resume", "state": stage["train_state"]},
                                              "overrides": {"max_iterations": 60}, "stop_iteration": 50}, seed=1))
    assert stage["accuracy"] < stage2["accuracy"] < full["accuracy"] and stage2["iterations"] == 50
    end = fake_trainer(_task(tmp_path, 7, {"start": {"kind": "resume", "state": stage2["train_state"]},
                                           "overrides": {"max_iterations": 60}}, seed=2))
    assert end["accuracy"] == full["accuracy"] and end["iterations"] == 60 and end["train_state"] is None
    assert end["resumed_from"] == {"eval_id": 6, "iteration": 50}
    gone = fake_trainer(_task(tmp_path, 8, {"start": {"kind": "resume", "state": str(tmp_path / "x.state.pt")}}))
    assert gone["status"] == "crashed" and gone["accuracy"] is None
    assert fake_trainer(_task(tmp_path, 10, nodes=5, max_params=4000))["status"] == "too_large"
    assert calls([scratch, cont, {**full, "cached": True}, {"status": "ok"}]) == 2


# ---------------------------------------------------------------------- summary
def test_summary(capsys):
    tests = {"cache": len(IDS), "parallel (process pool)": len(PARALLEL_CASES), "parallel (scoop)": len(SCOOP_CASES),
             "kill + resume": len(IDS), "moved + resume": len(IDS), "budget": len(IDS),
             "seed (ask/tell x 2)": 2 * len(LOOP_CASES),
             "seed (toolbox)": len(LOOP_CASES), "run.json status": 1, "fake trainer": 1}
    with capsys.disabled():
        print(f"\nharness: {len(IDS)} combinations x {len(CHECKS)} checks ({', '.join(CHECKS)}): "
              + ", ".join(f"{k} {v}" for k, v in tests.items()) + f"; {sum(tests.values())} tests")
    assert set(IDS) == set(CASES) and len(IDS) == 14  # 9 single-objective, 5 multi-objective
