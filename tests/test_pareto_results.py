"""Results of multi-objective runs: the Pareto front from the journal (report table,
hypervolume), ``best/`` as the front, ``export --member``, the committee from the front,
the ``pareto_front`` / ``hypervolume`` plots and ``compare`` of hypervolume curves.
Searches use the fake trainer (params = 1,000 per node, MACs = 20 x params)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from deap_nas.analysis.pareto_front import (
    dominates,
    format_value,
    front_hypervolume,
    hypervolume_curve,
    journal_front,
    run_objectives,
)
from deap_nas.analysis.report import latest_snapshot, summary_table
from deap_nas.cli import main
from deap_nas.evaluation.objectives import parse_objectives
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.journal import read_logbook_csv
from deap_nas.runtime.search import start_run

from .run_helpers import journal, usage_error

OBJECTIVES = [{"name": "accuracy"}, {"name": "params", "max": 5000, "reference": 10000},
              {"name": "macs", "reference": 200000}]  # fmt: skip


def config(algorithm: str = "nsga2", objectives: list | None = OBJECTIVES, plots: bool = False, seed: int = 0) -> dict:
    c = {
        "seed": seed,
        "algorithm": {"name": algorithm, "population_size": 6},
        "space": {"name": "sequential", "min_depth": 2, "max_depth": 5, "stem_channels": 16, "max_channels": 64},
        "operators": {"mutate": {"name": "mut_sequential"}, "mate": {"name": "cx_one_point"}},
        "data": {"name": "fashion_mnist_mini"},
        "evaluation": {"trainer": "deap_nas.testing:fake_trainer"},
        "budget": {"evaluations": 24},
        "parallel": {"backend": "serial", "device": "cpu", "threads": 1},
        "output": {"plots": plots, "progress": False},
    }
    if algorithm == "random_search":
        c.pop("operators")
    if objectives is not None:
        c["objectives"] = objectives
    return c


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pareto")
    out = {"mo": root / "mo", "rs": root / "rs", "so": root / "so"}
    start_run(parse_config(config(plots=True)), out["mo"])
    start_run(parse_config(config("random_search", seed=1)), out["rs"])
    start_run(parse_config(config("random_search", objectives=None, plots=True)), out["so"])
    return out


def _objs():
    return parse_objectives(OBJECTIVES)


def _ok(records):
    return [r for r in records if r["status"] == "ok"]


# ---------------------------------------------------------------------- the front
def test_dominates_follows_the_directions():
    objs = _objs()
    assert dominates((0.9, 3000, 60000), (0.8, 3000, 60000), objs)
    assert dominates((0.9, 2000, 60000), (0.9, 3000, 60000), objs)
    assert not dominates((0.9, 3000, 60000), (0.9, 3000, 60000), objs)
    assert not dominates((0.95, 4000, 80000), (0.9, 3000, 60000), objs)


def test_front_is_the_non_dominated_set_of_the_journal_and_the_searchs_front(runs):
    objs = _objs()
    records = journal(runs["mo"])
    front = journal_front(records, objs)
    vectors = {r["arch_hash"]: tuple(r["fitness"]) for r in _ok(records)}
    members = {m.arch_hash for m in front}
    for h, v in vectors.items():  # members dominated by nothing; everything else dominated by a member
        dominated = any(dominates(w, v, objs) for w in vectors.values())
        assert dominated == (h not in members), h
    assert [m.values[0] for m in front] == sorted((m.values[0] for m in front), reverse=True)
    hof = {(p["result"] or {}).get("arch_hash") for p in latest_snapshot(runs["mo"])["hall_of_fame"]}
    assert members == hof
    hv = read_logbook_csv(runs["mo"] / "logbook.csv")[-1]["hypervolume"]
    assert front_hypervolume([m.values for m in front], objs) == pytest.approx(float(hv))


def test_front_up_to_a_generation_uses_only_its_records(runs):
    objs = _objs()
    records = journal(runs["mo"])
    first = [r for r in records if r["generation"] <= 1]
    assert [m.arch_hash for m in journal_front(records, objs, max_generation=1)] == \
        [m.arch_hash for m in journal_front(first, objs)]


def test_hypervolume_curve_grows_to_the_fronts_hypervolume(runs):
    objs = _objs()
    records = journal(runs["mo"])
    run_meta = json.loads((runs["mo"] / "run.json").read_text())
    curve = hypervolume_curve(records, objs, run_meta)
    assert curve["evaluations"] == list(range(1, len(records) + 1))
    hv = curve["hypervolume"]
    assert all(b >= a for a, b in zip(hv, hv[1:], strict=False)) and hv[0] >= 0
    final = front_hypervolume([m.values for m in journal_front(records, objs)], objs)
    assert hv[-1] == pytest.approx(final) and curve["hypervolume_time"][-1] == pytest.approx(final)
    assert curve["wall_hours"] is not None and len(curve["wall_hours"]) == len(records)


def test_values_read_well():
    acc, params, macs = _objs()
    latency, memory = parse_objectives([{"name": "accuracy"}, {"name": "latency", "reference": 1},
                                        {"name": "peak_memory", "reference": 2**30}])[1:]
    assert format_value(acc, 0.912345) == "0.9123"
    assert format_value(params, 1234567.0) == "1,234,567"
    assert format_value(latency, 0.0021) == "2.100"
    assert format_value(memory, 3 * 2**20) == "3.0"
    assert format_value(macs, math.nan) == "-"


# ---------------------------------------------------------------------- report
def test_report_shows_the_front_hypervolume_and_failures(runs):
    objs = _objs()
    records = journal(runs["mo"])
    text = summary_table(runs["mo"])
    front = journal_front(records, objs)
    assert f"Pareto front: {len(front)} architectures" in text and "top " not in text
    rows = [line.split() for line in text.splitlines() if line[:3].strip().isdigit() and "  " in line]
    assert [r[4] for r in rows] == [m.arch_hash for m in front]
    assert rows[0][1] == f"{front[0].values[0]:.4f}" and rows[0][2] == f"{front[0].values[1]:,.0f}"
    hv = front_hypervolume([m.values for m in front], objs)
    assert f"hypervolume  {hv:.4f}" in text and "reference point accuracy 0.0000, params 10,000, MACs 200,000" in text
    constraint = sum(1 for r in records if r["status"] == "constraint")
    assert constraint > 0 and f"constraint {constraint} (a hard constraint broken" in text


def test_report_of_a_running_run_uses_what_the_journal_has(runs, tmp_path):
    run = tmp_path / "running"
    shutil.copytree(runs["mo"], run)
    lines = (run / "journal.jsonl").read_text().splitlines(keepends=True)
    (run / "journal.jsonl").write_text("".join(lines[:8]))
    front = journal_front(journal(run), _objs())
    assert front and f"Pareto front: {len(front)} architectures" in summary_table(run)


def test_single_objective_report_is_the_ranking(runs):
    text = summary_table(runs["so"])
    assert "Pareto" not in text and "top " in text and "hypervolume" not in text


# ---------------------------------------------------------------------- best/
def test_best_holds_exactly_the_front_members(runs):
    front = journal_front(journal(runs["mo"]), _objs())
    best = runs["mo"] / "best"
    summary = json.loads((best / "summary.json").read_text())
    assert summary["kind"] == "pareto_front"
    assert [m["arch_hash"] for m in summary["models"]] == [m.arch_hash for m in front]
    for k, (model, member) in enumerate(zip(summary["models"], front, strict=True)):
        assert model["front_member"] == k and model["files"]["architecture"] == f"front{k:02d}_{member.arch_hash}.json"
        assert model["objectives"] == dict(zip(["accuracy", "params", "macs"], member.values, strict=True))
    names = {p.name for p in best.iterdir()}
    assert not any(n.startswith("rank") for n in names)
    assert {n for n in names if n.endswith(".json") and n != "summary.json"} == \
        {f"front{k:02d}_{m.arch_hash}.json" for k, m in enumerate(front)}
    assert any(n.startswith("rank01_") for n in (p.name for p in (runs["so"] / "best").iterdir()))


# ---------------------------------------------------------------------- export
def test_export_picks_a_front_member(runs, tmp_path):
    import torch

    from deap_nas.analysis.report import run_config, search_head
    from deap_nas.arch import Architecture
    from deap_nas.nn import build

    run = tmp_path / "run"
    shutil.copytree(runs["mo"], run)
    member = journal_front(journal(run), _objs())[1]
    arch = Architecture.from_dict(member.row["architecture"])
    net = build(arch, (1, 28, 28), 10, search_head(run_config(run)))
    torch.save(net.state_dict(), run / member.row["weights"])  # the fake trainer keeps no real weights
    assert main(["export", str(run), "--member", "1", "--out", str(tmp_path / "exp")]) == 0
    meta = json.loads((tmp_path / "exp" / "meta.json").read_text())
    assert meta["front_member"] == 1 and meta["arch_hash"] == member.arch_hash and "rank" not in meta
    assert meta["objectives"]["params"] == member.values[1]


def test_export_refuses_a_member_out_of_range_or_a_rank(runs, capsys, tmp_path):
    n = len(journal_front(journal(runs["mo"]), _objs()))
    out = str(tmp_path / "x")
    line = usage_error(capsys, ["export", str(runs["mo"]), "--member", str(n), "--out", out])
    assert f"--member must be in 0..{n - 1}" in line
    assert "no ranking" in usage_error(capsys, ["export", str(runs["mo"]), "--rank", "2", "--out", out])
    assert "use --rank" in usage_error(capsys, ["export", str(runs["so"]), "--member", "0", "--out", out])
    assert not Path(out).exists()


# ---------------------------------------------------------------------- committee
def test_committee_candidates_are_the_front_by_accuracy(runs):
    from deap_nas.analysis.committee import committee_members

    front = journal_front(journal(runs["mo"]), _objs())
    _, members = committee_members(runs["mo"])
    hashes = [(m["result"] or {})["arch_hash"] for m in members]
    assert hashes == [m.arch_hash for m in front]  # the whole front, most accurate first
    _, one = committee_members(runs["mo"], top_k=1)
    assert [(m["result"] or {})["arch_hash"] for m in one] == hashes[:1]


# ---------------------------------------------------------------------- plots and compare
def test_plots_of_a_multi_objective_run_only(runs):
    from deap_nas.analysis.pareto_plots import front_generations

    assert (runs["mo"] / "plots" / "pareto_front.png").is_file()
    assert (runs["mo"] / "plots" / "hypervolume.png").is_file()
    assert not (runs["so"] / "plots" / "pareto_front.png").exists()
    assert not (runs["so"] / "plots" / "hypervolume.png").exists()
    fronts = front_generations(journal(runs["mo"]), _objs())
    gens = sorted({r["generation"] for r in journal(runs["mo"])})
    assert [g for g, _ in fronts] == gens
    assert fronts[-1][1] == [m.values for m in journal_front(journal(runs["mo"]), _objs())]


def test_compare_overlays_hypervolume_curves(runs, capsys, tmp_path):
    out = tmp_path / "cmp.png"
    assert main(["compare", str(runs["mo"]), str(runs["rs"]), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "final hypervolume" in text and "nsga2" in text and "random_search" in text and out.is_file()
    final = hypervolume_curve(journal(runs["rs"]), _objs())["hypervolume"][-1]
    assert f"{final:.4f} ± 0.0000" in text


def test_compare_refuses_other_objectives_or_reference_points(runs, capsys, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(runs["rs"], other)
    cfg = (other / "config.yaml").read_text().replace("reference: 200000", "reference: 300000")
    (other / "config.yaml").write_text(cfg)
    assert run_objectives({"objectives": [{"name": "accuracy"}, {"name": "macs", "reference": 300000}]})
    out = tmp_path / "cmp.png"
    line = usage_error(capsys, ["compare", str(runs["mo"]), str(other), "--out", str(out)])
    assert "same objectives and reference points" in line and "MACs 300,000" in line
    assert "single objective" in usage_error(capsys, ["compare", str(runs["mo"]), str(runs["so"]), "--out", str(out)])
    assert not out.exists()
