"""The evaluation request: its cache key is built from every field (by construction),
it round-trips through JSON, and it says what a result is."""

from __future__ import annotations

import dataclasses
import json

import pytest

from deap_nas.evaluation.request import (
    NOT_IN_KEY,
    EvalRequest,
    Start,
    key_field_names,
    legacy_request,
)

#: a non-default value for every field, to show that each one changes the key
START_VALUES = {"kind": "resume", "weights": "w.pt", "reinit": (1,), "state": "s.pt", "until": 3, "note": "why"}
REQUEST_VALUES = {"overrides": (("max_iterations", 5),), "stop_iteration": 4, "teacher": '{"a": 1}',
                  "data_seed": 9, "weight_store": True, "arch_hash": "other", "repeat": 2}


def _start(**kw):
    base = {"kind": "inherit", "weights": "p.pt"}
    return Start(**{**base, **kw})


def test_every_field_is_in_the_key_unless_it_says_why_not():
    fields = [f"Start.{f.name}" for f in dataclasses.fields(Start)] + [
        f"EvalRequest.{f.name}" for f in dataclasses.fields(EvalRequest) if f.name != "start"]
    assert set(START_VALUES) == {f.name for f in dataclasses.fields(Start)}, "a new Start field needs a value here"
    assert set(REQUEST_VALUES) | {"start"} == {f.name for f in dataclasses.fields(EvalRequest)}
    base = EvalRequest(start=_start(), arch_hash="h")
    for name in fields:
        owner, field = name.split(".")
        if owner == "Start":
            kw = {"kind": "continue", "weights": "p.pt"} if field in ("until", "weights") else {}
            if field == "kind":
                changed = dataclasses.replace(base, start=Start("continue", weights="p.pt"))
            elif field == "state":
                changed = dataclasses.replace(base, start=Start("resume", state="s.pt"))
                base_for = EvalRequest(start=Start("resume", state="t.pt"), arch_hash="h")
                assert changed.key() != base_for.key()
                continue
            elif field == "reinit":
                changed = dataclasses.replace(base, start=_start(reinit=(1,)))
            else:
                start = Start(**{**{"kind": "inherit", "weights": "p.pt"}, **kw, field: START_VALUES[field]})
                changed = dataclasses.replace(base, start=start)
                if field == "until":
                    base_for = EvalRequest(start=Start("continue", weights="p.pt"), arch_hash="h")
                    assert changed.key() != base_for.key()
                    continue
        else:
            changed = dataclasses.replace(base, **{field: REQUEST_VALUES[field]})
        if name in NOT_IN_KEY:
            assert changed.key() == base.key(), f"{name} is documented as not in the key"
            assert NOT_IN_KEY[name]
        else:
            assert changed.key() != base.key(), f"{name} does not change the cache key"
    assert set(NOT_IN_KEY) == {"Start.note", "EvalRequest.repeat"}
    assert len(key_field_names()) == len(fields) - len(NOT_IN_KEY)


def test_plain_scratch_key_is_the_hash_and_json_round_trip():
    assert EvalRequest(arch_hash="abc").key() == "abc"
    req = EvalRequest.resumed("weights/1.state.pt").with_overrides(max_iterations=9).paused_at(5).completed(
        arch_hash="abc", teacher={"weights": "t.pt"}, data_seed=3, repeat=1)
    back = EvalRequest.from_dict(json.loads(json.dumps(req.to_dict())))
    assert back == req and back.key() == req.key() and back.teacher_spec == {"weights": "t.pt"}


def test_roles_say_what_a_result_is():
    assert EvalRequest().role() == "repeat"
    assert EvalRequest.inherit({"weights": "w.pt"}, reinit=[2]).role() == "repeat"
    assert EvalRequest().paused_at(3).role() == "stage"
    assert EvalRequest.resumed("s.pt").role() == "continuation"
    assert EvalRequest.continued({"weights": "w.pt"}, until=2).role() == "continuation"


def test_constructors_without_weights_fall_back_to_scratch_with_a_note():
    assert EvalRequest.inherit(None).start.note == "parent not evaluated: no weights to inherit"
    assert "crashed" in EvalRequest.inherit({"status": "crashed"}).start.note
    assert EvalRequest.continued({}).start.kind == "scratch"


@pytest.mark.parametrize("kw, msg", [
    ({"kind": "magic"}, "start.kind"),
    ({"kind": "inherit"}, "start.weights"),
    ({"kind": "resume"}, "start.state"),
    ({"kind": "scratch", "reinit": (1,)}, "start.reinit"),
    ({"kind": "continue", "weights": "w", "until": 0}, "start.until"),
])
def test_bad_starts_name_the_field(kw, msg):
    with pytest.raises(ValueError, match=msg):
        Start(**kw)


def test_legacy_journal_records_give_the_same_request():
    rec = {"arch_hash": "h", "inherit_from": "weights/1.pt", "changed_layers": [2], "repeat": 1,
           "train_overrides": {"max_iterations": 9}, "train_stage": {"stop_iteration": 4}}
    req = legacy_request(rec)
    assert req.start == Start("inherit", weights="weights/1.pt", reinit=(2,))
    assert req.overrides_dict == {"max_iterations": 9} and req.stop_iteration == 4 and req.repeat == 1


def test_report_averages_repeats_only():
    """EIGEN's T1/T2 stages and NASGEP's earlier epochs are not repeats: the ranking shows
    the final training (n = 1), not a mean over stages; true repeats are averaged."""
    from deap_nas.analysis.report import rank_architectures

    def rec(eid, h, acc, req, repeat=0):
        r = req.completed(arch_hash=h, repeat=repeat)
        return {"eval_id": eid, "arch_hash": h, "status": "ok", "accuracy": acc, "request": r.to_dict(),
                "role": r.role(), "cached": False, "architecture": {"nodes": []}}

    total = EvalRequest().with_overrides(max_iterations=30)
    journal = [
        rec(0, "eigen", 0.17, total.paused_at(10)),  # T1
        rec(1, "eigen", 0.18, EvalRequest.resumed("s0").with_overrides(max_iterations=30).paused_at(20)),  # T2
        rec(2, "eigen", 0.19, EvalRequest.resumed("s1").with_overrides(max_iterations=30)),  # T3: final
        rec(3, "gep", 0.10, EvalRequest()),  # epoch 1
        rec(4, "gep", 0.20, EvalRequest.continued({"weights": "w3"}, until=2)),  # epoch 2
        rec(5, "rep", 0.30, EvalRequest(), repeat=0),
        rec(6, "rep", 0.40, EvalRequest(), repeat=1),
    ]
    rows = {r["arch_hash"]: r for r in rank_architectures(journal)}
    assert rows["eigen"]["count"] == 1 and rows["eigen"]["mean_accuracy"] == 0.19
    assert rows["gep"]["count"] == 1 and rows["gep"]["mean_accuracy"] == 0.20
    assert rows["rep"]["count"] == 2 and rows["rep"]["mean_accuracy"] == pytest.approx(0.35)


def test_paper_loops_take_their_operators_from_the_toolbox():
    """``operators:`` applies to every loop: ImmuNeCS calls a registered ``hypermutate``."""
    from deap import base

    from deap_nas.algorithms import Budget, Immunecs, ImmuneSearchParams, SearchControl
    from deap_nas.ops.immunecs import mut_hypermutation
    from deap_nas.spaces import ImmuneFashionSpace

    space, calls = ImmuneFashionSpace(), []

    def spy(ind, **kw):
        calls.append(kw["rng"])
        return mut_hypermutation(ind, **kw)

    tb = base.Toolbox()
    tb.register("individual", space.random_individual)
    tb.register("hypermutate", spy)
    tb.space = space
    algo = Immunecs(tb, ImmuneSearchParams(population_size=3, n_clones=1, n_insert=0, n_augment=0), seed=2,
                    control=SearchControl(Budget(generations=2)))
    while (batch := algo.ask()) is not None:
        algo.tell([0.5 for _ in batch.individuals])
    assert len(calls) == 3 * 2 and all(r is algo.rng for r in calls)
