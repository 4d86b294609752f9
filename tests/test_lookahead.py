"""Random search keeps the process pool full across generation ends (deap_nas.runtime.lookahead):
the next generation's trainings are started early and taken over, and the run stays the
run without it."""

from __future__ import annotations

import json
import random

from deap_nas.runtime.parallel import ParallelMap

from .test_harness import config_of, files, journal, meta, run, search_state, triples

CASE = "random_search-sequential"


def test_random_search_trains_the_next_generation_early_and_equals_serial(tmp_path):
    ref = run(config_of(CASE), tmp_path / "serial")
    pool = run(config_of(CASE, parallel={"backend": "process", "workers": 2}), tmp_path / "pool")
    assert triples(journal(pool)) == triples(journal(ref))
    assert search_state(pool) == search_state(ref)
    assert files(pool, "weights") == files(ref, "weights")  # moved to their own names, none left over
    stats = meta(pool)["pool"]
    # 13 evaluations in generations of 5, 5, 3: the second and third were predicted (less
    # any duplicates the cache answers)
    trained_later = sum(1 for r in journal(pool) if r["generation"] > 1 and not r.get("cached")
                        and r["status"] not in ("invalid", "too_large"))
    assert stats["lookahead_taken_over"] == trained_later > 0
    assert stats["starts"] == 2 and 0.0 <= stats["idle_fraction"] <= 1.0
    assert "pool" not in meta(ref)
    assert json.loads((pool / "run.json").read_text())["parallel"]["threads"] == 1


def test_nothing_is_predicted_off_the_process_backend(tmp_path):
    from deap_nas.runtime.config import parse_config
    from deap_nas.runtime.rundir import RunDir
    from deap_nas.runtime.search import make_space, run_evaluator

    config = parse_config(config_of(CASE))
    space = make_space(config)
    evaluator = run_evaluator(config, space, RunDir.create(config, tmp_path / "r"), ParallelMap("serial"), print)
    evaluator.prefetch([space.random_individual(random.Random(0))], 2)
    assert not evaluator.lookahead.enabled() and evaluator.lookahead._hint is None
