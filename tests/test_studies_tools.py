"""Each study on tiny settings (fashion_mnist_mini, 1 epoch, 8-channel networks, CPU): the
printed statistics are recomputed here from the journals the runtime wrote, a study run
again in its directory trains nothing, and config mistakes name the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from deap_nas.cli import main
from deap_nas.runtime.schema import ConfigError
from deap_nas.studies import load_study_config, run_study, spearman
from deap_nas.studies.base import parse_study_config

REPO = Path(__file__).resolve().parents[1]

RUN: dict[str, Any] = {
    "data": {"name": "fashion_mnist_mini", "train_subset": 10, "val_per_class": 5},
    "space": {"name": "immunecs_fashion", "stem_channels": 8},
    "algorithm": {"name": "immunecs", "population_size": 2},
    "training": {"epochs": 1, "batch_size": 32, "optimizer": "adam", "lr": 0.003},
    "evaluation": {"save_weights": True},
    "final_training": {"train_subset": 12, "val_fraction": 0.1, "training": {"epochs": 1, "batch_size": 32}},
    "budget": {"generations": 1},
    "parallel": {"threads": 1, "device": "cpu"},
    "output": {"progress": False, "plots": False},
}


def study(name: str, params: dict[str, Any], tmp: Path, run: dict[str, Any] | None = None, **extra: Any):
    data = {"study": name, "run": RUN if run is None else run, "params": params,
            "output": {"progress": False, "plots": True}, **extra}  # fmt: skip
    return parse_study_config(data, where=tmp)


def journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_locality_statistics_match_the_journals_and_a_rerun_trains_nothing(tmp_path: Path):
    cfg = study("locality", {"depths": [2, 3], "parents_per_depth": 3, "clones": 2, "bootstrap": 10}, tmp_path)
    cfg.output.title, cfg.output.reference = "Locality, tiny", "The source reports r = 0.53 at depth 3."
    res = run_study(cfg, tmp_path / "s")
    parents = journal(tmp_path / "s" / "parents" / "journal.jsonl")
    clones = journal(tmp_path / "s" / "clones" / "journal.jsonl")
    assert len(parents) == 6 and len(clones) == 12
    assert [len(p["genome"]) for p in parents] == [2, 2, 2, 3, 3, 3]
    # every clone inherited from its own parent's weights file, a different architecture
    by_weights = {f"../parents/{p['weights']}": p for p in parents}
    clone_accs: dict[int, list[float]] = {}
    for c in clones:
        assert c["request"]["start"]["kind"] == "inherit"
        parent = by_weights[c["request"]["start"]["weights"]]
        assert c["arch_hash"] != parent["arch_hash"] and c["inherited"]["copied"]
        clone_accs.setdefault(parent["eval_id"], []).append(c["accuracy"])
    assert all(len(v) == 2 for v in clone_accs.values())
    import statistics

    xs = [p["accuracy"] for p in parents]
    means = [statistics.fmean(clone_accs[p["eval_id"]]) for p in parents]
    stds = [statistics.stdev(clone_accs[p["eval_id"]]) for p in parents]
    assert res["spearman_mean"]["all"].r == pytest.approx(spearman(xs, means).r, nan_ok=True)
    assert res["spearman_std"]["depth 3"].r == pytest.approx(spearman(xs[3:], stds[3:]).r, nan_ok=True)
    assert (tmp_path / "s" / "plots" / "locality.png").stat().st_size > 10_000
    assert "(a) parent affinity vs clones' mean affinity" in (tmp_path / "s" / "summary.txt").read_text()
    # results.md: the section `deap-nas results` assembles (title, command, reference, summary, plots)
    md = (tmp_path / "s" / "results.md").read_text()
    assert md.startswith("## Locality, tiny\n") and "deap-nas study resume" in md
    assert "**Reference.** The source reports r = 0.53 at depth 3." in md
    assert res["summary"].strip() in md and "](plots/locality.png)" in md

    again = run_study(cfg, tmp_path / "s")  # resume: every evaluation comes from the journals
    assert journal(tmp_path / "s" / "clones" / "journal.jsonl") == clones
    assert again["summary"] == res["summary"]
    other = study("locality", {"depths": [2], "parents_per_depth": 3, "clones": 2}, tmp_path)
    with pytest.raises(ValueError, match="another config"):
        run_study(other, tmp_path / "s")


def test_partial_evaluation_trains_fully_with_and_without_inheritance(tmp_path: Path):
    cfg = study("partial_evaluation", {"depths": [2], "per_depth": 4, "bootstrap": 10}, tmp_path)
    res = run_study(cfg, tmp_path / "s")
    partial = journal(tmp_path / "s" / "partial" / "journal.jsonl")
    inherit = journal(tmp_path / "s" / "full_inherit" / "journal.jsonl")
    scratch = journal(tmp_path / "s" / "full_scratch" / "journal.jsonl")
    assert [r["arch_hash"] for r in inherit] == [r["arch_hash"] for r in partial] == [r["arch_hash"] for r in scratch]
    for p, i, s in zip(partial, inherit, scratch, strict=True):
        assert i["request"]["start"]["weights"] == f"../partial/{p['weights']}"
        assert i["inherited"]["copied"] and s["request"]["start"]["kind"] == "scratch"
        assert 0 <= i["test_accuracy"] <= 1 and 0 <= s["test_accuracy"] <= 1
        assert i["seed"] == s["seed"]  # the same seed: only the initial weights differ
    assert [a["full_test_acc_inherit"] for a in res["architectures"]] == [r["test_accuracy"] for r in inherit]
    # test_accuracy is the saved best-epoch weights measured on the test split
    import torch

    from deap_nas.arch import Architecture
    from deap_nas.evaluation import evaluate, prepare_data
    from deap_nas.nn import build

    data = prepare_data("fashion_mnist_mini", train_subset=12, with_test=True)
    net = build(Architecture.from_dict(inherit[0]["architecture"]), (1, 28, 28), 10, "concat_pool")
    net.load_state_dict(torch.load(tmp_path / "s" / "full_inherit" / inherit[0]["weights"], weights_only=True))
    assert evaluate(net, data.test) == pytest.approx(inherit[0]["test_accuracy"])
    assert res["spearman"]["scratch"]["all"].r == pytest.approx(
        spearman([r["accuracy"] for r in partial], [r["test_accuracy"] for r in scratch]).r, nan_ok=True)
    assert (tmp_path / "s" / "plots" / "partial_evaluation.png").is_file()


def test_progressive_appends_one_layer_with_inherited_weights(tmp_path: Path):
    cfg = study("progressive", {"depths": [1, 2], "per_depth": 3, "bootstrap": 10}, tmp_path)
    res = run_study(cfg, tmp_path / "s")
    before = journal(tmp_path / "s" / "before" / "journal.jsonl")
    after = journal(tmp_path / "s" / "after" / "journal.jsonl")
    for b, a in zip(before, after, strict=True):
        assert a["genome"][:-1] == b["genome"] and len(a["genome"]) == len(b["genome"]) + 1
        assert a["request"]["start"]["reinit"] == [len(a["genome"])]
        assert len(b["genome"]) + 1 not in a["inherited"]["copied"]
    assert [x["before"] for x in res["pairs"]] == [r["accuracy"] for r in before]
    q1 = res["question1"]["all"]["all"]
    gains = [a["accuracy"] - b["accuracy"] for a, b in zip(after, before, strict=True)]
    assert q1["mean_gain"] == pytest.approx(sum(gains) / len(gains))
    assert "Q2: does augmenting the stronger" in res["summary"]


def test_seeds_search_vs_random_transfer_and_tabulate(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = {**RUN, "space": {"name": "sequential", "stem_channels": 8, "max_depth": 3, "max_channels": 16},
           "algorithm": {"name": "random_search", "population_size": 2}, "budget": {"evaluations": 2},
           "evaluation": {"save_weights": False}}  # fmt: skip
    res = run_study(study("seeds", {"n": 2}, tmp_path, run=run), tmp_path / "seeds")
    rows = res["table"]["rows"]
    assert [r["seed"] for r in rows] == [0, 1] and all(r["evaluations"] == 2 for r in rows)
    for r in rows:
        accs = [e["accuracy"] for e in journal(Path(r["run"]) / "journal.jsonl")]
        assert r["best_val"] == max(accs)
    assert "| **mean** |" in (tmp_path / "seeds" / "table.md").read_text()
    # a larger budget resumes the finished runs; another config in the same place is refused
    more = run_study(study("seeds", {"n": 2}, tmp_path, run={**run, "budget": {"evaluations": 3}}), tmp_path / "seeds",
                     force=True)  # fmt: skip
    assert [r["evaluations"] for r in more["table"]["rows"]] == [3, 3]
    assert len(journal(tmp_path / "seeds" / "seed_0" / "journal.jsonl")) == 3
    other = {**run, "budget": {"evaluations": 3}, "training": {**RUN["training"], "lr": 0.01}}
    with pytest.raises(ValueError, match="holds a run of another config"):
        run_study(study("seeds", {"n": 2}, tmp_path, run=other), tmp_path / "seeds", force=True)
    rows = more["table"]["rows"]
    # already-finished run directories only: read, never rerun
    res2 = run_study(parse_study_config({"study": "seeds", "params": {"n": 0, "runs": ["seeds/seed_1"]},
                                         "output": {"progress": False}}, where=tmp_path), tmp_path / "t")  # fmt: skip
    assert res2["table"]["rows"][0]["best_val"] == rows[1]["best_val"]

    ga = {**run, "algorithm": {"name": "simple_ga", "population_size": 2, "tournament_size": 2},
          "operators": {"mutate": {"name": "mut_sequential"}, "mate": {"name": "cx_one_point"}}}  # fmt: skip
    params = {"seeds": [0, 1], "methods": {"ga": {"run": ga, "points": [{"budget.evaluations": 4}]},
                                           "random": {"run": run, "points": [{"budget.evaluations": 3}]}}}  # fmt: skip
    res3 = run_study(study("search_vs_random", params, tmp_path, run={}), tmp_path / "svr")
    assert [r["evaluations"] for r in res3["runs"]["ga"]] == [4, 4]
    assert [r["evaluations"] for r in res3["runs"]["random"]] == [3, 3]
    mw = res3["tests"]["all"]["mann_whitney"]
    a, b = [r["best_val"] for r in res3["runs"]["ga"]], [r["best_val"] for r in res3["runs"]["random"]]
    assert mw.statistic == sum((x > y) + 0.5 * (x == y) for x in a for y in b)
    assert (tmp_path / "svr" / "plots" / "search_vs_random.png").is_file()
    assert (tmp_path / "svr" / "plots" / "best_so_far.png").is_file()

    tparams = {"source": "seeds/seed_0", "members": "top_k", "top_k": 2,
               "datasets": [{"name": "fashion_mnist_mini", "label": "small", "train_subset": 5},
                            {"name": "fashion_mnist_mini", "label": "large", "train_subset": 15}]}  # fmt: skip
    res4 = run_study(study("transfer", tparams, tmp_path, run={}), tmp_path / "tr")
    small = journal(tmp_path / "tr" / "train_small" / "journal.jsonl")
    assert len(small) == 2 and all("test_accuracy" in r for r in small)
    assert [a["small"] for a in res4["architectures"]] == [r["test_accuracy"] for r in small]

    assert main(["tabulate", str(tmp_path / "seeds" / "seed_0"), str(tmp_path / "seeds" / "seed_1"),
                 "--title", "rs"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "| seed_0 | 0 | 3 |" in out and "CPU-hours" in out


def test_config_errors_name_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(ConfigError, match=r"params\.clones: must be an integer >= 2"):
        study("locality", {"clones": 1}, tmp_path)
    with pytest.raises(ConfigError, match=r"params\.colones: unknown key"):
        study("locality", {"colones": 3}, tmp_path)
    with pytest.raises(ConfigError, match=r"training\.lr: must be > 0"):
        study("locality", {}, tmp_path, run={**RUN, "training": {"lr": -1}})
    with pytest.raises(ConfigError, match="base: study locality needs a run config"):
        study("locality", {}, tmp_path, run={})
    with pytest.raises(ConfigError, match="methods: give at least two"):
        study("search_vs_random", {"methods": {"a": {"run": RUN}}}, tmp_path, run={})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"study": "progressive", "run": RUN}))
    assert main(["study", "locality", str(tmp_path / "c.yaml")]) == 2
    assert "is for study 'progressive', not 'locality'" in capsys.readouterr().err
    assert main(["study", "nonsense", str(tmp_path / "c.yaml")]) == 2
    assert "unknown study 'nonsense'" in capsys.readouterr().err


def test_run_sections_merge_unless_renamed():
    from deap_nas.studies.base import merge

    base = {"algorithm": {"name": "immunecs", "tau": 0.01, "patience": 2}, "training": {"epochs": 15, "lr": 0.1}}
    out = merge(base, {"algorithm": {"name": "random_search", "population_size": 4}, "training": {"epochs": 2}})
    assert out["algorithm"] == {"name": "random_search", "population_size": 4}
    assert out["training"] == {"epochs": 2, "lr": 0.1}
    assert merge(base, {"algorithm": {"name": "immunecs", "tau": 0.0}})["algorithm"]["patience"] == 2
    assert base["training"]["epochs"] == 15  # the base is not changed


@pytest.mark.parametrize("path", sorted((REPO / "experiments" / "studies").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_study_configs_are_valid(path: Path):
    cfg = load_study_config(path)
    assert cfg.study in path.name or cfg.study.replace("_", "") in path.name.replace("_", "")


@pytest.mark.gpu
def test_partial_evaluation_on_cuda_records_the_device_and_gpu_hours(tmp_path: Path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    run = {**RUN, "parallel": {"device": "cuda"}}
    run_study(study("partial_evaluation", {"depths": [2], "per_depth": 3, "scratch": False, "bootstrap": 10},
                    tmp_path, run=run), tmp_path / "s")  # fmt: skip
    for phase in ("partial", "full_inherit"):
        recs = journal(tmp_path / "s" / phase / "journal.jsonl")
        assert all(r["status"] == "ok" and r["device"].startswith("cuda") for r in recs)
    srun = {**run, "space": {"name": "sequential", "stem_channels": 8, "max_depth": 3},
            "algorithm": {"name": "random_search", "population_size": 2}, "budget": {"evaluations": 2}}  # fmt: skip
    res = run_study(study("seeds", {"n": 1}, tmp_path, run=srun), tmp_path / "g")
    assert res["table"]["device"] == "GPU" and "GPU-hours" in res["table"]["markdown"]
