"""Macro-NAS plots (regularized evolution, ``neat`` space): best-so-far accuracy and its
CDF (the paper's Fig. 3), evolved-genome frequencies (Fig. 4), the Mann-Whitney U test
and ``deap-nas compare`` on two tiny real runs."""

from __future__ import annotations

import copy
import math
import random

import pytest

from deap_nas.analysis.plots import (
    aggregate_curves,
    best_so_far,
    final_best,
    mann_whitney_u,
    mann_whitney_u_normal,
    neat_frequencies,
    plot_best_so_far,
    plot_neat_genomes,
    run_label,
    search_records,
    write_plots,
)
from deap_nas.cli import main
from deap_nas.ops.neat import mut_neat
from deap_nas.spaces.neat import LAYER_CHOICES, NeatParams, NeatSpace

PNG = b"\x89PNG\r\n\x1a\n"
SPACE = NeatSpace(NeatParams(channels=8))


def _assert_png(path, min_size=5000):
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > min_size


def _record(eval_id, status="ok", accuracy=None, generation=1, genome=None, **extra):
    return {"eval_id": eval_id, "generation": generation, "status": status,
            "accuracy": accuracy if status == "ok" else None, "genome": genome, **extra}  # fmt: skip


def _journal(seed, n=40, sample_size=5, population=10):
    """A synthetic aging-evolution journal: random neat genomes, then mutated children of
    the best of ``sample_size`` of the last ``population``; validity from the decoder,
    fake accuracies for the valid ones."""
    rng = random.Random(seed)
    pop, out = [], []
    for i in range(n):
        if i < population:
            genome = SPACE.random_individual(rng)
        else:
            window = pop[-population:]
            parent = max(rng.sample(window, min(sample_size, len(window))), key=lambda t: t[1])
            genome = copy.deepcopy(parent[0])
            mut_neat(genome, rng=rng)
        try:
            SPACE.validate(genome)
            acc = 0.6 + 0.3 * rng.random()
        except ValueError:
            acc = None
        pop.append((genome, -1.0 if acc is None else acc))
        status = "ok" if acc is not None else "invalid"
        out.append(_record(i, status, acc, generation=i + 1, genome=SPACE.to_json(genome)))
    return out


# ---------------------------------------------------------------------- best so far
def test_best_so_far_by_hand():
    journal = [
        _record(2, "ok", 0.50, generation=2),
        _record(0, "invalid"),
        _record(1, "ok", 0.40),
        _record(3, "nan", generation=2),
        _record(4, "ok", 0.70, generation=3, cached=True),
        _record(5, "ok", 0.65, generation=3),
        _record(6, "ok", 0.99, generation=-1),  # final selection: not search
        _record(7, "timeout", generation=4),
    ]
    curve = best_so_far(journal)
    assert math.isnan(curve[0])
    assert curve[1:] == [0.40, 0.50, 0.50, 0.70, 0.70, 0.70]
    assert [e["eval_id"] for e in search_records(journal)] == [0, 1, 2, 3, 4, 5, 7]
    assert final_best(journal) == 0.70
    assert best_so_far([]) == [] and math.isnan(final_best([]))
    assert math.isnan(final_best([_record(0, "invalid")]))


def test_best_so_far_is_monotone_on_synthetic_journals():
    for seed in range(4):
        journal = _journal(seed)
        curve = best_so_far(journal)
        assert len(curve) == len(journal)
        finite = [v for v in curve if math.isfinite(v)]
        assert finite and all(a <= b for a, b in zip(finite, finite[1:], strict=False))
        assert finite[-1] == max(e["accuracy"] for e in journal if e["status"] == "ok")


def test_aggregate_curves():
    nan = math.nan
    xs, mean, lo, hi = aggregate_curves([[nan, 0.5, 0.6, 0.8], [0.4, 0.4, 0.7]])
    assert xs == [2, 3]  # from the first evaluation where both have a success, to the shorter's end
    assert mean == pytest.approx([0.45, 0.65]) and lo == [0.4, 0.6] and hi == [0.5, 0.7]
    # a run that never succeeds: fall back to the runs with a value
    xs, mean, _, _ = aggregate_curves([[nan, nan], [0.3, 0.4]])
    assert xs == [1, 2] and mean == [0.3, 0.4]
    assert aggregate_curves([[], []]) == ([], [], [], [])


def test_plot_best_so_far(tmp_path):
    runs = [("evolution", _journal(0)), ("evolution", _journal(1)),
            ("random", _journal(2, sample_size=1)), ("random", _journal(3, sample_size=1))]  # fmt: skip
    plot_best_so_far(runs, tmp_path / "band.png")
    _assert_png(tmp_path / "band.png")
    plot_best_so_far(runs, tmp_path / "lines.png", seeds_band=False)
    _assert_png(tmp_path / "lines.png")
    plot_best_so_far(runs[:1], tmp_path / "one.png")
    _assert_png(tmp_path / "one.png")
    plot_best_so_far([], tmp_path / "sub" / "empty.png")
    _assert_png(tmp_path / "sub" / "empty.png", 1000)
    plot_best_so_far([("failed", [_record(0, "invalid")])], tmp_path / "failed.png")
    _assert_png(tmp_path / "failed.png", 1000)


def test_run_label():
    assert run_label({"algorithm": {"name": "aging_evolution", "sample_size": 25}}) == "aging_evolution S=25"
    assert run_label({"algorithm": {"name": "random_search", "population_size": 10}}) == "random_search"
    assert run_label({}) == "run"


# ---------------------------------------------------------------------- evolved genomes
def _genome(nodes, connections):
    return {"nodes": [{"id": i, "layer": layer} for i, layer in nodes],
            "connections": [{"src": s, "dst": d, "enabled": e} for s, d, e in connections],
            "next_id": len(nodes)}  # fmt: skip


def test_neat_frequencies_by_hand():
    # -2 -> CONV_3.N -> POOL_2.M -> 99, plus a dead branch 0 -> CONV_5.H and a disabled skip
    a = _genome([(0, "CONV_3.N"), (1, "POOL_2.M"), (2, "CONV_5.H")],
                [(-2, 0, True), (0, 1, True), (1, 99, True), (0, 2, True), (-2, 99, False)])  # fmt: skip
    # two parallel CONV_3.N branches: the (INPUT, CONV_3.N) edge counts once for the genome
    b = _genome([(0, "CONV_3.N"), (1, "CONV_3.N")],
                [(-2, 0, True), (0, 99, True), (-2, 1, True), (1, 99, True), (0, 1, False)])  # fmt: skip
    no_path = _genome([(0, "CONV_2.H")], [(-2, 0, False), (0, 99, True)])
    journal = [
        _record(0, "ok", 0.8, genome=a),
        _record(1, "ok", 0.7, genome=b),
        _record(2, "invalid", genome=no_path),
        _record(3, "oom", genome=a),
        _record(4, "ok", 0.9, generation=-1, genome=b),  # final selection: not counted
    ]
    f = neat_frequencies(journal)
    assert (f["genomes"], f["invalid"], f["failed"]) == (2, 1, 1)
    assert f["edges"] == {
        ("INPUT", "CONV_3.N"): 2,
        ("CONV_3.N", "POOL_2.M"): 1,
        ("POOL_2.M", "OUTPUT"): 1,
        ("CONV_3.N", "OUTPUT"): 1,
    }
    assert f["sources"] == ("INPUT", *LAYER_CHOICES) and f["destinations"] == (*LAYER_CHOICES, "OUTPUT")
    frac = f["edge_fraction"]
    src, dst = f["sources"].index, f["destinations"].index
    assert frac[src("INPUT")][dst("CONV_3.N")] == 1.0
    assert frac[src("CONV_3.N")][dst("OUTPUT")] == 0.5
    assert frac[src("CONV_3.N")][dst("CONV_5.H")] == 0.0  # dead branch
    assert sum(map(sum, frac)) == pytest.approx(2.5)
    assert f["choices"] == {**dict.fromkeys(LAYER_CHOICES, 0), "CONV_3.N": 3, "POOL_2.M": 1}
    assert f["node_counts"] == [2, 2]


def test_plot_neat_genomes(tmp_path):
    journal = _journal(0, n=60) + [dict(e, eval_id=e["eval_id"] + 60) for e in _journal(1, n=60)]
    f = neat_frequencies(journal)
    valid = sum(e["status"] == "ok" for e in journal)
    assert f["genomes"] == valid > 0 and f["invalid"] == len(journal) - valid
    assert sum(f["choices"].values()) == sum(f["node_counts"])
    assert all(0 <= v <= 1 for row in f["edge_fraction"] for v in row)
    plot_neat_genomes(journal, tmp_path / "genomes.png")
    _assert_png(tmp_path / "genomes.png", 20000)
    plot_neat_genomes([], tmp_path / "empty.png")
    _assert_png(tmp_path / "empty.png", 1000)
    plot_neat_genomes([_record(0, "invalid")], tmp_path / "invalid.png")
    _assert_png(tmp_path / "invalid.png", 1000)


# ---------------------------------------------------------------------- Mann-Whitney U
# scipy.stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic"), scipy 1.17.1
MWU_CASES = [
    ([0.91, 0.93, 0.92, 0.94, 0.90], [0.88, 0.90, 0.89, 0.91], 18.0, 0.03196837300211803),
    ([1, 2, 3], [1, 2, 3], 4.5, 0.5902615116112394),
    ([0.5, 0.6], [0.7, 0.8, 0.9], 0.0, 0.978345928594604),
    ([3, 3, 3, 4, 5, 5, 7], [1, 2, 3, 3, 4, 6], 29.5, 0.11919055851447324),
    ([0.085, 0.085], [0.085, 0.085], 2.0, 1.0),
]


@pytest.mark.parametrize(("x", "y", "u", "p"), MWU_CASES)
def test_mann_whitney_fallback_matches_scipy_values(x, y, u, p):
    got_u, got_p = mann_whitney_u_normal(x, y)
    assert got_u == u and got_p == pytest.approx(p, rel=1e-12, abs=1e-15)


def test_mann_whitney_fallback_matches_scipy_if_installed():
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(0)
    for _ in range(20):
        x = [round(rng.random(), 2) for _ in range(rng.randint(2, 9))]
        y = [round(rng.random(), 2) for _ in range(rng.randint(2, 9))]
        ref = stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic")
        u, p = mann_whitney_u_normal(x, y)
        assert u == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue, rel=1e-9)


def test_mann_whitney_u():
    u, p, method = mann_whitney_u([0.9, 0.95, 0.93], [0.8, 0.85, 0.82])
    assert u == 9.0 and 0 < p < 0.1 and method in ("scipy", "normal approximation")
    with pytest.raises(ValueError, match="non-empty"):
        mann_whitney_u_normal([], [1.0])


# ---------------------------------------------------------------------- real runs, CLI
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny finished aging-evolution runs in the neat space: S=2 and S=1."""
    from deap_nas.runtime.config import parse_config
    from deap_nas.runtime.search import start_run

    root = tmp_path_factory.mktemp("macro_runs")
    dirs = []
    for s in (2, 1):
        config = parse_config({
            "space": {"name": "neat", "channels": 8},
            "algorithm": {"name": "aging_evolution", "population_size": 4, "sample_size": s},
            "operators": {"mutate": {"name": "mut_neat"}},
            "data": {"name": "fashion_mnist_mini", "train_subset": 5},
            "training": {"epochs": 1, "batch_size": 32},
            "budget": {"evaluations": 6},
            "parallel": {"threads": 1},
            "output": {"progress": False},
        })  # fmt: skip
        dirs.append(start_run(config, root / f"s{s}").run_dir)
    return dirs


def test_write_plots_of_a_neat_run(runs):
    paths = write_plots(runs[0])
    assert [p.name for p in paths] == ["fitness.png", "accuracy_vs_params.png", "best_so_far.png",
                                       "best_so_far_time.png", "genomes.png"]
    for p in paths:
        _assert_png(p, 1000)


def test_cli_compare(runs, tmp_path, capsys):
    out = tmp_path / "compare.png"
    assert main(["compare", *map(str, runs), "--out", str(out)]) == 0
    _assert_png(out)
    text = capsys.readouterr().out
    assert "aging_evolution S=2" in text and "aging_evolution S=1" in text
    assert "Mann-Whitney U test skipped" in text  # one run per label
    # the same two runs twice under two labels: aggregated as seeds, the test runs
    out2 = tmp_path / "seeds.png"
    argv = ["compare", *map(str, runs + runs), "--labels", "S=2", "S=1", "S=2", "S=1", "--out", str(out2)]
    assert main(argv) == 0
    _assert_png(out2)
    text = capsys.readouterr().out
    assert "Mann-Whitney U, one-sided (H1: 'S=2' > 'S=1')" in text and "p = " in text
    assert any(line.split()[:2] == ["S=2", "2"] for line in text.splitlines())


def test_cli_compare_errors(runs, tmp_path, capsys):
    out = str(tmp_path / "x.png")
    assert main(["compare", *map(str, runs), "--labels", "only-one", "--out", out]) == 2
    assert "--labels: got 1 label(s) for 2 run directories" in capsys.readouterr().err
    assert main(["compare", str(runs[0]), str(tmp_path), "--out", out]) == 2
    assert "is not a deap_nas run directory" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
