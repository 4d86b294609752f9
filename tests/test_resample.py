"""data.resample: each generation trains and validates on its own, reproducible subset."""

from __future__ import annotations

import pytest

from deap_nas.runtime import worker
from deap_nas.runtime.config import DataConfig
from deap_nas.runtime.evaluator import Evaluator
from deap_nas.runtime.schema import to_plain
from deap_nas.spaces import ImmuneFashionSpace


def _context(resample: bool) -> dict:
    data = to_plain(DataConfig(name="fashion_mnist_mini", val_fraction=0.2, train_subset=0.5, resample=resample))
    return {"data": data, "training": {"epochs": 1}, "head": "concat_pool", "device": "cpu", "threads": 1,
            "data_seed": 7}


def test_resample_config_validation():
    assert DataConfig().resample is False
    with pytest.raises(ValueError, match="resample"):
        DataConfig(resample="yes")


def test_context_unchanged_without_resample():
    ev = Evaluator(ImmuneFashionSpace(), _context(False), run_seed=7)
    assert ev.context_for(1) is ev.context and ev.context_for(2) is ev.context


def test_generations_get_different_reproducible_subsets():
    ev = Evaluator(ImmuneFashionSpace(), _context(True), run_seed=7)
    c1, c2 = ev.context_for(1), ev.context_for(2)
    assert c1["data_seed"] != c2["data_seed"]
    assert c1["data_seed"] == Evaluator(ImmuneFashionSpace(), _context(True), run_seed=7).context_for(1)["data_seed"]
    worker._CONTEXTS.clear()
    d1 = worker.context_for(c1).data.record
    d2 = worker.context_for(c2).data.record
    assert d1["train_indices"] != d2["train_indices"]
    assert d1["val_indices"] != d2["val_indices"]
    assert not set(d1["val_indices"]) & set(worker.context_for(c1).data.record["train_indices"])
    # at most MAX_CONTEXTS prepared contexts are kept (least recently used evicted)
    c3 = ev.context_for(3)
    worker.context_for(c1)  # c1 now most recent: c2 is evicted when c3 comes
    d3 = worker.context_for(c3).data.record
    assert len(worker._CONTEXTS) == worker.MAX_CONTEXTS == 2
    keys = list(worker._CONTEXTS)
    assert all(str(c["data_seed"]) in k for c, k in zip((c1, c3), keys, strict=True))
    worker._CONTEXTS.clear()
    again = worker.context_for(c1).data.record
    assert again["train_indices"] == d1["train_indices"] and again["val_indices"] == d1["val_indices"]
    assert d3["train_indices"] != d1["train_indices"]
    worker._CONTEXTS.clear()


def test_fitness_cache_is_per_generation_subset_with_resample():
    """With resample, an accuracy belongs to one generation's subsets: the same
    architecture requested in another generation is trained again (in the same
    generation it is a cache hit); without resample it is trained once."""
    import random

    from deap_nas.runtime.worker import EvalTask

    space = ImmuneFashionSpace()
    genome = space.random_individual(random.Random(3))
    for resample, trained_expected in ((True, [1, 0, 1]), (False, [1, 0, 0])):
        calls: list[EvalTask] = []

        def fake_map(fn, tasks, calls=calls):
            out = []
            for t in tasks:
                calls.append(t)
                out.append({"eval_id": t.eval_id, "status": "ok", "message": "", "accuracy": 0.5, "history": []})
            return out

        ev = Evaluator(space, _context(resample), run_seed=7, map_fn=fake_map)
        trained = []
        for generation in (1, 1, 2):
            before = len(calls)
            ind = space.from_json(space.to_json(genome))
            ev.evaluate_population([ind], generation=generation)
            trained.append(len(calls) - before)
            assert ind.fitness.values == (0.5,)
        assert trained == trained_expected
        seeds = {t.context["data_seed"] for t in calls}
        assert len(seeds) == (2 if resample else 1)
