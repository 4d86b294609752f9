"""Reporting side of the runtime: journal / logbook files, ranking, summary, plots, best
models, export and final training, on a fake run directory laid out exactly as in
docs/run_directory.md, whose journal comes from real (tiny, 1-epoch) trainings."""

from __future__ import annotations

import json
import math
import random
import shutil
import statistics

import pytest
import torch
import yaml

from deap_nas.analysis.export import export_model
from deap_nas.analysis.final import train_final, widen, width_factor
from deap_nas.analysis.plots import pareto_front, write_plots
from deap_nas.analysis.report import (
    NotARunDirectoryError,
    latest_snapshot,
    load_run,
    rank_architectures,
    summary_table,
    write_best,
)
from deap_nas.arch import Architecture, HeadSpec
from deap_nas.evaluation import TrainConfig, prepare_data, train_architecture
from deap_nas.nn import build
from deap_nas.runtime.config import parse_config
from deap_nas.runtime.journal import (
    append_journal,
    read_journal,
    read_logbook_csv,
    write_json,
    write_logbook_csv,
)
from deap_nas.spaces import SequentialParams, SequentialSpace

SPACE_PARAMS = {"min_depth": 1, "max_depth": 2, "stem_channels": 8, "max_channels": 16}
SPACE = SequentialSpace(SequentialParams(**SPACE_PARAMS))
HEAD = SPACE.default_head
CONFIG = {
    "budget": {"evaluations": 6},
    "data": {"name": "fashion_mnist_mini"},
    "space": {"name": "sequential", **SPACE_PARAMS},
    "training": {"epochs": 1},
    "final_training": {"top_k": 2, "training": {"epochs": 1}},
}
PNG = b"\x89PNG\r\n\x1a\n"


def _entry(eval_id, gen, genome, arch, *, repeat=0, seed=0, result=None, weights=None, cached=False):
    """A journal record as docs/run_directory.md describes it."""
    r = result.to_dict() if result is not None else None
    ok = r is not None and r["status"] == "ok"
    acc = r["best_acc"] if ok else None
    return {
        "eval_id": eval_id,
        "generation": gen,
        "arch_hash": arch.hash(),
        "repeat": repeat,
        "seed": seed,
        "genome": SPACE.to_json(genome),
        "architecture": arch.to_dict(),
        "fitness": [acc] if ok else [0.0],
        "status": r["status"] if r else "invalid",
        "message": r["message"] if r else "node 2 (pool): kernel 5 larger than its 1x1 input",
        "cached": cached,
        "accuracy": acc,
        "params": r["num_params"] if r else None,
        "best_epoch": r["best_epoch"] if r else None,
        "epochs": r["epochs_run"] if r else 0,
        "iterations": r["iterations"] if r else 0,
        "time_build": r["time_build"] if r else 0.0,
        "time_train": r["time_train"] if r else 0.0,
        "time_eval": r["time_eval"] if r else 0.0,
        "time_total": (r["time_build"] + r["time_train"] + r["time_eval"]) if r else 0.0,
        "images_per_sec": r["images_per_sec"] if r else 0.0,
        "device": "cpu",
        "worker": "test:0",
        "weights": weights,
        "history": r["history"] if r else [],
        "finished": "2025-01-01T00:00:00",
    }


def _logbook(journal):
    rows = []
    for gen in sorted({e["generation"] for e in journal}):
        fits = [e["fitness"][0] for e in journal if e["generation"] == gen]
        rows.append(
            {
                "gen": gen,
                "nevals": len(fits),
                "best": max(fits),
                "mean": statistics.fmean(fits),
                "std": statistics.pstdev(fits),
                "worst": min(fits),
                "failed": sum(1 for e in journal if e["generation"] == gen and e["status"] != "ok"),
            }
        )
    return rows


def _write_meta(run_dir, journal, logbook):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(parse_config(CONFIG).to_yaml())
    seconds = sum(e["time_total"] for e in journal) + 1.0
    usage = {
        "evaluations": len(journal),
        "trained": sum(1 for e in journal if not e["cached"] and e["status"] == "ok"),
        "generations": len(logbook),
        "seconds": seconds,
        "device_seconds": {"cpu": seconds - 1.0},
    }
    write_json(
        run_dir / "run.json",
        {
            "format": "deap_nas.run/1",
            "version": "0.1.0",
            "status": "finished",
            "stop_reason": f"evaluation budget reached ({len(journal)} >= 6)",
            "fingerprint": "0123456789abcdef",
            "config_source": "test.yaml",
            "created": "2025-01-01T00:00:00",
            "updated": "2025-01-01T00:01:00",
            "generation": len(logbook),
            "usage": usage,
        },
    )
    for e in journal:
        append_journal(run_dir / "journal.jsonl", e)
    write_logbook_csv(run_dir / "logbook.csv", logbook)
    return usage


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """6 evaluations in 2 generations: A, B, C (invalid) | A cached, A repeat 1, D."""
    root = tmp_path_factory.mktemp("run")
    (root / "weights").mkdir()
    rng = random.Random(0)
    genomes = [SPACE.random_individual(rng) for _ in range(4)]
    archs = [SPACE.decode(g) for g in genomes]
    assert len({a.hash() for a in archs}) == 4
    data = prepare_data("fashion_mnist_mini", train_subset=20, seed=0)
    cfg = TrainConfig(epochs=1, keep_best_state=True)

    def trained(eval_id, gen, i, repeat=0):
        seed = 1000 * i + repeat
        res = train_architecture(archs[i], data, cfg, head=HEAD, seed=seed)
        assert res.ok, res.message
        weights = f"weights/{eval_id:06d}.pt"
        torch.save(res.best_state, root / weights)
        return _entry(eval_id, gen, genomes[i], archs[i], repeat=repeat, seed=seed, result=res, weights=weights)

    journal = [trained(0, 1, 0), trained(1, 1, 1), _entry(2, 1, genomes[2], archs[2])]
    cached = dict(journal[0], eval_id=3, generation=2, cached=True, weights=None)
    journal += [cached, trained(4, 2, 0, repeat=1), trained(5, 2, 3)]
    logbook = _logbook(journal)
    usage = _write_meta(root, journal, logbook)

    ok = [e for e in journal if e["status"] == "ok" and not e["cached"]]
    best = sorted({e["arch_hash"]: e for e in sorted(ok, key=lambda e: e["accuracy"])}.values(),
                  key=lambda e: -e["accuracy"])  # fmt: skip
    hof = [
        {"genome": e["genome"], "fitness": e["fitness"], "result": {k: v for k, v in e.items() if k != "genome"}}
        for e in best
    ]
    (root / "snapshots").mkdir()
    write_json(
        root / "snapshots" / "gen_000002.json",
        {
            "format": "deap_nas.snapshot/1",
            "generation": 2,
            "next_eval_id": 6,
            "population": hof[:2],
            "hall_of_fame": hof,
            "logbook": logbook,
            "usage": usage,
            "rng": {"python": list(random.Random(1).getstate()[1][:3]), "numpy": {}, "torch": ""},
            "algorithm": {},
            "weight_store": {},
            "evaluator": {"repeat_counts": {archs[0].hash(): 2}},
        },
    )
    return root


# ---------------------------------------------------------------------- journal / logbook
def test_read_journal_skips_blank_lines_and_a_truncated_last_line(run_dir, tmp_path):
    lines = (run_dir / "journal.jsonl").read_text().splitlines()
    assert len(lines) == 6
    p = tmp_path / "journal.jsonl"
    p.write_text(lines[0] + "\n\n" + "\n".join(lines[1:]) + '\n{"eval_id": 6, "generat')
    records = read_journal(p)
    assert [r["eval_id"] for r in records] == [0, 1, 2, 3, 4, 5]
    assert records == read_journal(run_dir / "journal.jsonl")


def test_read_journal_names_a_corrupt_middle_line(run_dir, tmp_path):
    lines = (run_dir / "journal.jsonl").read_text().splitlines()
    p = tmp_path / "journal.jsonl"
    p.write_text("\n".join(lines[:2] + ['{"eval_id": 2, "stat'] + lines[3:]) + "\n")
    with pytest.raises(ValueError, match=r"line 3\b"):
        read_journal(p)
    p.write_text("\n".join(lines[:2] + ["[1, 2]"] + lines[3:]) + "\n")  # JSON, not an object
    with pytest.raises(ValueError, match=r"line 3\b"):
        read_journal(p)


def test_append_journal_after_a_crash_mid_write(tmp_path):
    p = tmp_path / "journal.jsonl"
    append_journal(p, {"eval_id": 0, "fitness": [0.5]})
    with open(p, "a") as f:
        f.write('{"eval_id": 1, "fitn')  # killed while writing
    append_journal(p, {"eval_id": 1, "fitness": [0.25]})
    assert read_journal(p) == [{"eval_id": 0, "fitness": [0.5]}, {"eval_id": 1, "fitness": [0.25]}]
    with open(p, "a") as f:
        f.write('{"eval_id": 2}')  # complete, only the newline missing: kept
    append_journal(p, {"eval_id": 3})
    assert [r["eval_id"] for r in read_journal(p)] == [0, 1, 2, 3]


def test_logbook_csv_round_trip(run_dir, tmp_path):
    rows = [
        {"gen": 1, "nevals": 10, "best": 0.8125, "mean": 1 / 3, "std": float("nan"), "note": None},
        {"gen": 2, "nevals": 10, "best": 0.9, "mean": 0.5, "std": 0.1, "note": "x", "failed": 2},
    ]
    p = tmp_path / "logbook.csv"
    write_logbook_csv(p, rows)
    assert p.read_text().splitlines()[0] == "gen,nevals,best,mean,std,note,failed"
    back = read_logbook_csv(p)
    assert isinstance(back[0]["gen"], int) and back[0]["mean"] == 1 / 3
    assert math.isnan(back[0]["std"])
    assert back[0]["note"] is None and back[0]["failed"] is None
    assert back[1] == rows[1]
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed
    assert read_logbook_csv(run_dir / "logbook.csv") == load_run(run_dir).logbook
    assert [r["gen"] for r in load_run(run_dir).logbook] == [1, 2]


# ---------------------------------------------------------------------- ranking and summary
def test_rank_architectures_groups_repeats_and_skips_cached_and_failed(run_dir):
    journal = read_journal(run_dir / "journal.jsonl")
    ranked = rank_architectures(journal)
    a, b, c, d = (journal[i]["arch_hash"] for i in (0, 1, 2, 5))
    assert {r["arch_hash"] for r in ranked} == {a, b, d}  # C failed
    row_a = next(r for r in ranked if r["arch_hash"] == a)
    assert row_a["count"] == 2  # two trainings; the cached entry adds no repeat
    assert row_a["eval_ids"] == [0, 4]
    accs = [journal[0]["accuracy"], journal[4]["accuracy"]]
    assert row_a["mean_accuracy"] == pytest.approx(statistics.fmean(accs))
    assert row_a["std_accuracy"] == pytest.approx(statistics.pstdev(accs))
    best_repeat = journal[0] if accs[0] >= accs[1] else journal[4]
    assert row_a["weights"] == best_repeat["weights"]
    assert row_a["depth"] == len(journal[0]["architecture"]["nodes"])
    assert Architecture.from_dict(row_a["architecture"]).hash() == a
    assert [r["rank"] for r in ranked] == [1, 2, 3]
    keys = [(-r["mean_accuracy"], r["params"]) for r in ranked]
    assert keys == sorted(keys)
    assert [r["arch_hash"] for r in rank_architectures(journal, min_evaluations=2)] == [a]


def test_rank_architectures_sort_ties_by_fewer_params():
    def e(h, acc, params, cached=False, status="ok"):
        return {"arch_hash": h, "accuracy": acc, "params": params, "status": status, "cached": cached}

    journal = [e("big", 0.9, 500), e("small", 0.9, 100), e("best", 0.95, 900), e("x", None, 5, status="nan"),
               e("only_cached", 0.5, 10, cached=True)]  # fmt: skip
    ranked = rank_architectures(journal)
    assert [r["arch_hash"] for r in ranked] == ["best", "small", "big", "only_cached"]
    assert ranked[-1]["count"] == 1
    assert rank_architectures([]) == []


def test_summary_table(run_dir):
    text = summary_table(run_dir, top=10)
    journal = read_journal(run_dir / "journal.jsonl")
    for i in (0, 1, 5):
        assert journal[i]["arch_hash"] in text
    assert journal[2]["arch_hash"] not in text  # failed
    assert "finished" in text and "evaluation budget reached" in text
    assert "evaluations  6 (trained 4, cached 1, failed 1: invalid 1)" in text
    assert "device hours" in text and "evaluations/hour" in text
    assert "± 0.0000" in text  # single repeats
    assert len(summary_table(run_dir, top=1).splitlines()) == len(text.splitlines()) - 2


# ---------------------------------------------------------------------- plots
def _assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5000


def test_write_plots(run_dir):
    paths = write_plots(run_dir)
    assert [p.name for p in paths] == ["fitness.png", "accuracy_vs_params.png", "best_so_far.png",
                                       "best_so_far_time.png"]
    for p in paths:
        assert p.parent == run_dir / "plots"
        _assert_png(p)


def test_write_plots_without_successful_or_any_data(run_dir, tmp_path):
    journal = read_journal(run_dir / "journal.jsonl")
    failed = [dict(e, status="nan", accuracy=None, fitness=[float("nan")]) for e in journal]
    _write_meta(tmp_path / "failed", failed, [{"gen": 1, "nevals": 6, "best": float("nan"), "mean": float("nan"),
                                                "std": float("nan"), "failed": 6}])  # fmt: skip
    for p in write_plots(tmp_path / "failed"):
        _assert_png(p)
    _write_meta(tmp_path / "empty", [], [])
    (tmp_path / "empty" / "logbook.csv").unlink()
    for p in write_plots(tmp_path / "empty"):
        _assert_png(p)


def test_pareto_front():
    pts = [(100, 0.5), (200, 0.7), (150, 0.4), (300, 0.7), (400, 0.9), (100, 0.3)]
    assert pareto_front(pts) == [0, 1, 4]
    assert pareto_front([]) == []


# ---------------------------------------------------------------------- best models
def test_write_best_from_the_snapshot_hall_of_fame(run_dir):
    hof = latest_snapshot(run_dir)["hall_of_fame"]
    paths = write_best(run_dir, hof)
    best = run_dir / "best"
    summary = json.loads((best / "summary.json").read_text())
    assert len(summary["models"]) == len(hof) == 3
    for rank, (entry, model) in enumerate(zip(hof, summary["models"], strict=True), start=1):
        h = entry["result"]["arch_hash"]
        stem = f"rank{rank:02d}_{h}"
        assert model["files"] == {"architecture": f"{stem}.json", "dot": f"{stem}.dot", "weights": f"{stem}.pt"}
        arch = Architecture.from_json((best / f"{stem}.json").read_text())
        assert arch.hash() == h
        assert (best / f"{stem}.dot").read_text().startswith("digraph")
        state = torch.load(best / f"{stem}.pt", weights_only=True)
        original = torch.load(run_dir / entry["result"]["weights"], weights_only=True)
        assert all(torch.equal(state[k], original[k]) for k in original)
    assert len(paths) == 3 * 3 + 1
    write_best(run_dir, hof[:1])  # a second call replaces the earlier hall of fame
    assert len(list(best.glob("rank*"))) == 3


# ---------------------------------------------------------------------- export
@pytest.mark.filterwarnings("ignore:.*torch.jit:FutureWarning")
def test_export_state_dict_and_torchscript(run_dir):
    paths = export_model(run_dir, formats=("state_dict", "torchscript"))
    out = run_dir / "export"
    assert sorted(p.name for p in paths) == ["architecture.json", "meta.json", "model.pt", "model.ts"]
    meta = json.loads((out / "meta.json").read_text())
    top = rank_architectures(read_journal(run_dir / "journal.jsonl"))[0]
    assert meta["arch_hash"] == top["arch_hash"] and meta["accuracy"] == top["mean_accuracy"]
    assert meta["input_shape"] == [1, 28, 28] and meta["num_classes"] == 10
    assert meta["head"] == HeadSpec.parse(HEAD).to_dict()
    assert len(meta["normalization"]["mean"]) == 1 and meta["normalization"]["std"][0] > 0

    arch = Architecture.from_json((out / "architecture.json").read_text())
    net = build(arch, tuple(meta["input_shape"]), meta["num_classes"], meta["head"])
    net.load_state_dict(torch.load(run_dir / top["weights"], weights_only=True))
    net.eval()
    exported = torch.load(out / "model.pt", weights_only=True)
    assert exported.keys() == net.state_dict().keys()
    assert meta["params"] == arch.num_params((1, 28, 28), 10, HEAD)
    ts = torch.jit.load(str(out / "model.ts"))
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(ts(x), net(x), rtol=1e-5, atol=1e-5)

    second = export_model(run_dir, out_dir=run_dir / "export2", rank=2)
    assert json.loads(second[-1].read_text())["rank"] == 2
    with pytest.raises(ValueError, match="rank must be in 1..3"):
        export_model(run_dir, rank=4)
    with pytest.raises(ValueError, match="unknown export format"):
        export_model(run_dir, formats=("tflite",))


@pytest.mark.filterwarnings("ignore:.*torch.jit:FutureWarning")
def test_export_of_a_whitened_run_carries_its_transform(run_dir, tmp_path):
    """A run whose data section applies GCN + ZCA exports the fitted transform: the traced
    model takes uint8 / 255 and equals the network on the run's own whitened input."""
    from deap_nas.data import prepare_from_config

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("export*"))
    config = dict(CONFIG, data={**CONFIG["data"], "gcn": True, "whiten": "zca", "zca_epsilon": 0.1})
    (run / "config.yaml").write_text(parse_config(config).to_yaml())
    paths = export_model(run, formats=("state_dict", "torchscript"))
    out = run / "export"
    assert sorted(p.name for p in paths) == ["architecture.json", "meta.json", "model.pt", "model.ts",
                                             "preprocessing.pt"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["preprocessing"]["whiten"] == "zca" and meta["preprocessing"]["gcn"] is True
    assert "transform included" in meta["input"]
    data = prepare_from_config(config["data"], seed=0, device="cpu", with_test=True)
    assert meta["preprocessing"]["sha256"] == data.preprocessing.record()["sha256"]
    arch = Architecture.from_json((out / "architecture.json").read_text())
    net = build(arch, tuple(meta["input_shape"]), meta["num_classes"], meta["head"])
    net.load_state_dict(torch.load(out / "model.pt", weights_only=True))
    net.eval()
    images = data.test.images[:6] if data.test is not None else data.val.images[:6]
    ts = torch.jit.load(str(out / "model.ts"))
    with torch.no_grad():
        expected = net(data.preprocessing.apply(images))
        torch.testing.assert_close(ts(images.float() / 255), expected, rtol=1e-3, atol=1e-3)


def test_export_without_weights_is_a_clear_error(run_dir, tmp_path):
    journal = [dict(e, weights=None) for e in read_journal(run_dir / "journal.jsonl")]
    _write_meta(tmp_path / "noweights", journal, _logbook(journal))
    with pytest.raises(FileNotFoundError, match="no saved weights.*save_weights"):
        export_model(tmp_path / "noweights")


# ---------------------------------------------------------------------- final training
def test_train_final(run_dir):
    lines = []
    results = train_final(run_dir, top_k=1, epochs=1, device="cpu", log=lines.append)
    top = rank_architectures(read_journal(run_dir / "journal.jsonl"))[0]
    assert len(results) == 1
    r = results[0]
    assert r["arch_hash"] == top["arch_hash"] and r["seed"] == 0 and r["status"] == "ok"
    assert 0.0 <= r["test_acc"] <= 1.0 and 0.0 <= r["val_acc"] <= 1.0 and r["epochs"] == 1
    saved = json.loads((run_dir / "final" / "results.json").read_text())
    assert saved["models"][0]["test_acc"] == r["test_acc"]
    state = torch.load(run_dir / "final" / f"{top['arch_hash']}_seed0.pt", weights_only=True)
    assert state.keys() == build(Architecture.from_dict(top["architecture"]), (1, 28, 28), 10, HEAD).state_dict().keys()
    csv_rows = read_logbook_csv(run_dir / "final" / "results.csv")
    assert csv_rows[0]["test_acc"] == pytest.approx(r["test_acc"])
    assert any("epoch 1/1" in line for line in lines)
    assert top["arch_hash"] in lines[-1] and "±" in lines[-1]


def test_train_final_widens_and_repeats_over_seeds(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("final", "export*", "plots", "best"))
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["final_training"].update(channels=16, seeds=[0, 1])
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    lines = []
    results = train_final(copy, top_k=1, epochs=1, device="cpu", log=lines.append)
    top = rank_architectures(read_journal(copy / "journal.jsonl"))[0]
    assert [r["seed"] for r in results] == [0, 1]
    wide = widen(Architecture.from_dict(top["architecture"]), 2.0)
    for r in results:
        assert r["arch_hash"] == top["arch_hash"] and r["trained_hash"] == wide.hash() != r["arch_hash"]
        assert r["params"] == wide.num_params((1, 28, 28), 10, HEAD) > top["params"]
        assert Architecture.from_dict(r["architecture"]) == wide
        assert (copy / r["weights"]).is_file()
    assert "2/2" in lines[-1]


def test_widen_scales_explicit_channels():
    arch = SPACE.decode([{"op": "conv", "kernel": 3, "bn": True, "relu": True},
                         {"op": "pool", "type": "max", "kernel": 3, "mult": 2.0}])  # fmt: skip
    assert width_factor(arch, 32) == 4.0
    wide = widen(arch, 4.0)
    assert wide.nodes[0].params["channels"] == 32 and arch.nodes[0].params["channels"] == 8
    assert wide.nodes[2].params["channel_mult"] == arch.nodes[2].params["channel_mult"]
    assert wide.output_shape((1, 28, 28)) == (64, 14, 14)
    n, n_wide = (a.num_params((1, 28, 28), 10, HEAD) for a in (arch, wide))
    assert n_wide > n
    assert n_wide == sum(p.numel() for p in build(wide, (1, 28, 28), 10, HEAD).parameters())
    assert widen(arch, 1.0) == arch
    assert widen(arch, 0.01).nodes[0].params["channels"] == 1
    with pytest.raises(ValueError, match="factor"):
        widen(arch, 0)


# ---------------------------------------------------------------------- not a run directory
def test_not_a_run_directory_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(NotARunDirectoryError, match=r"nope is not a deap_nas run directory: it does not exist"):
        load_run(missing)
    (tmp_path / "config.yaml").write_text("seed: 0\n")
    with pytest.raises(FileNotFoundError, match=r"is not a deap_nas run directory: it has no run.json"):
        summary_table(tmp_path)
    for call in (write_plots, export_model, train_final):
        with pytest.raises(FileNotFoundError, match="not a deap_nas run directory"):
            call(missing)
