"""Final selection by mean accuracy over repeated evaluations (macro-NAS paper, sec. 4.2).

"We chose the architecture with the best average performance, out of the architectures
sampled at least 5 times". Two rules (``final_training.selection``):

- ``search_samples`` (:func:`select_search_samples`, the paper's rule): no training. An
  architecture (canonical hash) is "sampled" each time the search trained it: a
  successful, non-cached search record (``generation`` >= 0; a re-drawn, re-mutated or
  identity-mutated child that decodes to the same network is trained again when the
  fitness cache is off, as in the paper's configs). Its mean is over those trainings;
  the best mean among architectures with at least ``min_evaluations`` of them wins. When
  none has that many, the rule falls back to the largest count any architecture reached
  (the best mean among the most-sampled architectures), says so in the log and in
  ``final/selection.json`` (``threshold``, ``fallback``).
- ``reevaluate`` (:func:`reevaluate_candidates`): the ``candidates`` best architectures
  by mean validation accuracy are re-trained with the search's settings and fresh seeds
  (repeat numbers continue from the journal) until each has ``min_evaluations`` results;
  the ranking then keeps only architectures with that many. The re-evaluations are
  appended to the run's journal with ``generation: -1``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..runtime.journal import read_journal, write_json
from ..runtime.parallel import ParallelMap
from ..runtime.rundir import RunDir
from .report import rank_architectures

SELECTION_GENERATION = -1
RULES = ("reevaluate", "search_samples")
_TABLE_KEYS = ("rank", "arch_hash", "mean_accuracy", "std_accuracy", "count", "params")


def search_samples(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records that count as samples for :func:`select_search_samples`: trainings of
    the search itself (``generation`` >= 0) that succeeded and were not cache hits."""
    return [r for r in journal if (r.get("generation") or 0) >= 0 and not r.get("cached")
            and r.get("status") == "ok" and r.get("role", "repeat") != "stage"]


def select_search_samples(
    run_dir: str | Path, min_evaluations: int = 5, log: Callable[[str], Any] = print
) -> list[dict[str, Any]]:
    """The paper's rule (module doc): :func:`rank_architectures` of the search's own
    samples, restricted to architectures sampled at least ``min_evaluations`` times (or,
    when none is, as often as the most-sampled one), best mean first. Trains nothing;
    writes ``final/selection.json``."""
    if isinstance(min_evaluations, bool) or not isinstance(min_evaluations, int) or min_evaluations < 1:
        raise ValueError(f"min_evaluations must be an integer >= 1, got {min_evaluations!r}")
    run = RunDir(run_dir)
    run.read_meta()
    samples = search_samples(read_journal(run.journal) if run.journal.exists() else [])
    every = rank_architectures(samples)
    if not every:
        raise ValueError(f"{run.path}: no successful search evaluation to select from")
    most = max(row["count"] for row in every)
    threshold, fallback = min_evaluations, None
    if most < min_evaluations:
        threshold = most
        fallback = (f"no architecture was trained {min_evaluations} times during the search (at most {most}); "
                    f"selecting the best mean among those trained {most} times")
        log(f"final selection: {fallback}")
    selected = rank_architectures(samples, threshold)
    log(f"final selection: best mean of {len(selected)} architectures trained at least {threshold} times "
        f"during the search")
    write_json(run.path / "final" / "selection.json", {
        "rule": "search_samples",
        "min_evaluations": min_evaluations,
        "threshold": threshold,
        "fallback": fallback,
        "ranking": [{k: row[k] for k in _TABLE_KEYS} for row in selected],
    })
    return selected


def reevaluate_candidates(
    run_dir: str | Path,
    min_evaluations: int = 5,
    candidates: int = 10,
    log: Callable[[str], Any] = print,
) -> list[dict[str, Any]]:
    """Re-evaluate the top ``candidates`` until each has ``min_evaluations`` results and
    return :func:`rank_architectures` restricted to those (best first). The run
    directory is locked meanwhile (:mod:`deap_nas.runtime.lock`)."""
    from ..runtime.lock import acquire

    if min_evaluations < 1 or candidates < 1:
        raise ValueError(f"min_evaluations and candidates must be >= 1, got {min_evaluations}, {candidates}")
    run = RunDir(run_dir)
    run.read_meta()
    with acquire(run.path, log=log):  # re-evaluations append to the journal: not while a search runs
        return _reevaluate_locked(run, min_evaluations, candidates, log)


def _reevaluate_locked(run: RunDir, min_evaluations: int, candidates: int,
                       log: Callable[[str], Any]) -> list[dict[str, Any]]:
    from ..runtime.config import parse_config, read_yaml
    from ..runtime.search import make_space, preflight, run_evaluator

    config = parse_config(read_yaml(run.config_path))
    journal = read_journal(run.journal) if run.journal.exists() else []
    ranked = rank_architectures(journal)[:candidates]
    if not ranked:
        raise ValueError(f"{run.path}: no successful evaluation to select from")
    need = [(row, min_evaluations - row["count"]) for row in ranked if row["count"] < min_evaluations]
    total = sum(n for _, n in need)
    if total:
        preflight(config)
        space = make_space(config)
        pmap = ParallelMap.from_config(config.parallel)
        ev = run_evaluator(config, space, run, pmap, log, cache=False, repeats=1, fail_fast=False,
                           weight_store_dir=None)
        ev.replay.next_eval_id = 1 + max((int(r["eval_id"]) for r in journal), default=-1)
        counts = ev.replay.repeat_counts
        for r in journal:
            if not r.get("cached") and r.get("arch_hash") and r.get("repeat") is not None:
                h = r["arch_hash"]
                counts[h] = max(counts.get(h, 0), int(r["repeat"]) + 1)
        log(f"final selection: {total} re-evaluations so that the top {len(ranked)} have {min_evaluations} each")
        individuals = [space.from_json(row["genome"]) for row, n in need for _ in range(n)]
        try:
            ev.evaluate_population(individuals, generation=SELECTION_GENERATION)
        finally:
            pmap.close()
        journal = read_journal(run.journal)
    hashes = {row["arch_hash"] for row in ranked}
    selected = [r for r in rank_architectures(journal, min_evaluations) if r["arch_hash"] in hashes]
    for i, row in enumerate(selected, 1):
        row["rank"] = i
    write_json(run.path / "final" / "selection.json", {
        "rule": "reevaluate",
        "min_evaluations": min_evaluations,
        "candidates": len(ranked),
        "ranking": [{k: row[k] for k in _TABLE_KEYS} for row in selected],
    })
    return selected
