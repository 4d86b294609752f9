"""``deap-nas`` command line.

    deap-nas run CONFIG|NAME [--set key=value ...] [--run-dir DIR]
    deap-nas resume RUN_DIR [--set budget.evaluations=200] [--force] [--break-lock]
    deap-nas report RUN_DIR [--top 10]
    deap-nas compare RUN_DIR [RUN_DIR ...] [--labels L1 L2 ...] --out FILE.png
    deap-nas export RUN_DIR [--rank 1 | --member 0] [--format state_dict export torchscript onnx] [--force]
    deap-nas select RUN_DIR [--k 5] [--candidates 10] [--rule reevaluate|search_samples]
    deap-nas train-final RUN_DIR [--top-k K] [--epochs N] [--device auto]
    deap-nas train-teacher TEACHER_CONFIG --out DIR [--set key=value ...] [--device auto]
    deap-nas train ARCH.json [--data fashion_mnist_mini] [--epochs 5] [--out DIR]
    deap-nas describe ARCH.json [--input-shape 1,28,28] [--dot FILE]
    deap-nas datasets
    deap-nas configs
    deap-nas study NAME CONFIG|CONFIG_NAME [--set params.k=v ...] [--dir DIR] [--force]
    deap-nas study resume DIR
    deap-nas tabulate RUN_DIR [RUN_DIR ...] [--out DIR]
    deap-nas results STUDY_DIR [STUDY_DIR ...] --out PAGE.md [--copy-plots DIR] [--title T] [--intro MD]

Bad input (a missing file, an invalid architecture, an unknown data set, a bad option
value or config value, a run directory locked by another process) and file system errors
(a read-only folder, a full disk, a file where a folder belongs) end with a one-line
message on stderr and exit code 2. An interrupted ``run`` / ``resume`` (Ctrl-C, SIGTERM)
prints the resume command and exits 130 / 143.

A config may be given by the name of a config shipped with the package (``deap-nas
configs`` lists them): ``deap-nas run immunecs-fashion-mnist-quick``. Checking a config
imports no torch, so a mistake in it is reported within a second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .arch import Architecture, ArchitectureError


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2."""


def _read_arch(path: str) -> Architecture:
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"architecture file {p} is a directory, not a file")
    if not p.is_file():
        raise UsageError(f"architecture file not found: {p}")
    try:
        return Architecture.from_json(p.read_text())
    except ArchitectureError as e:
        raise UsageError(f"{p}: {e}") from None
    except (TypeError, UnicodeDecodeError) as e:  # wrong JSON structure ("nodes": 5), binary file
        raise UsageError(f"{p}: malformed architecture description ({e})") from None


def _arch_head(path: str, given: str | None, default: str) -> tuple[Any, str]:
    """The head to build ``path``'s network with: ``--head`` when given, else the head the
    file records (best/, export/), else ``default``; and, in that last case, the note to
    print once the command's checks have passed (a file written before heads were
    recorded), else an empty string."""
    from .arch import HeadSpec, recorded_head

    try:
        if given is not None:
            return HeadSpec.parse(given), ""
        recorded = recorded_head(Path(path).read_text())
    except ValueError as e:  # an unknown --head, or a bad recorded head
        raise UsageError(f"{path}: {e}" if given is None else f"--head: {e}") from None
    if recorded is not None:
        return recorded, ""
    note = (f"deap-nas: note: {path} records no head (written before heads were recorded); "
            f"using {default} (choose with --head)")
    return HeadSpec.parse(default), note


def _print_note(note: str) -> None:
    if note:
        print(note, file=sys.stderr, flush=True)


def _head_label(head: Any) -> str:
    """``mlp3`` for a head at its defaults, else ``concat_pool(dropout=0.5)``."""
    from .arch import HEAD_DEFAULTS

    if head.params == HEAD_DEFAULTS[head.name]:
        return head.name
    return f"{head.name}({', '.join(f'{k}={v}' for k, v in sorted(head.params.items()))})"


def _out_dir(path: str | None, option: str = "--out") -> None:
    """Refuse an output folder that is a file (or lies below one) before any work."""
    if path is None:
        return
    for p in (Path(path), *Path(path).parents):
        if p.exists():
            if not p.is_dir():
                raise UsageError(f"{option} {path}: {p} is a file, not a directory")
            return


def _shape(text: str) -> tuple[int, int, int]:
    try:
        c, h, w = (int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,H,W such as 1,28,28, got {text!r}") from None
    return (c, h, w)


def _subset(text: str) -> float | int:
    """A fraction (``0.2``) or a per-class count (``100``)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a fraction or a count, got {text!r}") from None


def cmd_describe(args: argparse.Namespace) -> int:
    arch = _read_arch(args.arch)
    head, note = _arch_head(args.arch, args.head, "gap_linear")
    try:
        shapes = arch.shapes(args.input_shape)
        n = arch.num_params(args.input_shape, args.classes, head)
    except (ArchitectureError, ValueError) as e:
        raise UsageError(str(e)) from None
    if args.dot:  # written before anything is printed: a bad path is the only line on stderr
        Path(args.dot).write_text(arch.to_dot(args.input_shape))
    _print_note(note)
    print(f"architecture {arch.name or args.arch}  hash {arch.hash()}")
    for node in arch.nodes:
        shape = "x".join(map(str, shapes[node.id])) if node.id in shapes else "(dead)"
        ins = ",".join("in" if i < 0 else str(i) for i in node.inputs)
        print(f"  {node.id:>3} {node.op:<24} <- {ins:<10} {node.merge:<7} {shape}")
    print(f"parameters (with {_head_label(head)} head, {args.classes} classes): {n:,}")
    if args.dot:
        print(f"dot written to {args.dot} (render: dot -Tpng {args.dot} -o arch.png)")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from .evaluation import available_datasets

    for name in available_datasets():
        print(name)
    return 0


def _device(name: str) -> str:
    import torch

    from .data.device import check_device

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        check_device(name)
    except ValueError as e:
        raise UsageError(f"--device {e}") from None
    return name


def _train_config(args: argparse.Namespace) -> Any:
    """The ``TrainConfig`` of ``deap-nas train``'s options; a bad value is a UsageError."""
    from .evaluation import AugmentConfig, TrainConfig

    try:
        augment = AugmentConfig(pad=args.pad_crop, flip=args.flip, erasing=args.erasing)
        return TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=args.optimizer,
            lr=args.lr,
            weight_decay=args.weight_decay,
            schedule=args.schedule,
            label_smoothing=args.label_smoothing,
            patience=args.patience,
            augment=augment,
            keep_best_state=args.out is not None or args.test,  # --test reloads the best weights
            deterministic=args.deterministic,
        )
    except ValueError as e:
        raise UsageError(str(e)) from None


def cmd_train(args: argparse.Namespace) -> int:
    from .evaluation import DatasetNotFoundError, prepare_data, train_architecture

    arch = _read_arch(args.arch)
    head, note = _arch_head(args.arch, args.head, "concat_pool")
    _out_dir(args.out)
    device = _device(args.device)
    config = _train_config(args)
    started = time.time()
    try:
        data = prepare_data(
            args.data,
            root=args.root,
            val_fraction=args.val_fraction,
            train_subset=args.train_subset,
            seed=args.seed,
            device=device,
            with_test=args.test,
        )
    except (DatasetNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    print(
        f"data {data.name}: {len(data.train)} train / {len(data.val)} validation images "
        f"{'x'.join(map(str, data.input_shape))}, {data.num_classes} classes, on {device} "
        f"({time.time() - started:.1f}s)",
        flush=True,
    )
    try:
        n = arch.num_params(data.input_shape, data.num_classes, head)
        print(f"architecture {arch.name or args.arch} ({arch.hash()}): {n:,} parameters "
              f"with a {_head_label(head)} head", flush=True)
    except ValueError as e:  # ArchitectureError
        raise UsageError(f"{args.arch}: {e}") from None
    _print_note(note)

    def progress(entry: dict) -> None:
        print(
            f"  epoch {entry['epoch']:>3}/{config.epochs}  loss {entry['train_loss']:.4f}  "
            f"val acc {entry['val_acc']:.4f}  lr {entry['lr']:.4g}  {entry['seconds']:.1f}s",
            flush=True,
        )

    result = train_architecture(arch, data, config, head=head, seed=args.seed, on_epoch=progress)
    if result.ok:
        print(
            f"status ok: best val acc {result.best_acc:.4f} at epoch {result.best_epoch}, "
            f"{result.images_per_sec:,.0f} img/s, train {result.time_train:.1f}s"
        )
    else:
        print(f"status {result.status}: {result.message}")
    test_acc = None
    if args.test and result.ok and data.test is not None:
        from .evaluation import evaluate
        from .nn import build

        net = build(arch, data.input_shape, data.num_classes, head)
        net.load_state_dict(result.best_state)
        test_acc = evaluate(net.to(device), data.test, config.eval_batch_size)
        print(f"test accuracy {test_acc:.4f}")
    if args.out:
        _save(Path(args.out), arch, head, result, data.record, test_acc)
    return 0 if result.ok else 1


def _save(out: Path, arch: Architecture, head: Any, result, record: dict, test_acc: float | None) -> None:
    import torch

    from .arch import architecture_with_head

    out.mkdir(parents=True, exist_ok=True)
    (out / "architecture.json").write_text(architecture_with_head(arch, head) + "\n")
    (out / "architecture.dot").write_text(arch.to_dot())
    summary = {"result": result.to_dict(), "test_acc": test_acc, "data": record}
    (out / "result.json").write_text(json.dumps(summary, indent=1) + "\n")
    if result.best_state is not None:
        torch.save(result.best_state, out / "weights.pt")
    print(f"saved to {out}/ (architecture.json, architecture.dot, result.json, weights.pt)")


def _search_errors():
    from .evaluation import DatasetNotFoundError
    from .runtime.rundir import RunDirError
    from .runtime.schema import ConfigError

    return (ConfigError, RunDirError, DatasetNotFoundError)


def _search(start, run_dir: str | None = None) -> int:
    """Run ``start()`` (a new or resumed search); user mistakes exit 2, fail-fast exits 1,
    Ctrl-C 130 and SIGTERM 143, each after one line (an interruption names the resume
    command)."""
    import shlex

    from .runtime.evaluator import EvaluationFailed
    from .runtime.interrupt import exit_code, signal_name, sigterm_raises

    try:
        with sigterm_raises():
            outcome = start()
    except _search_errors() as e:
        raise UsageError(str(e)) from None
    except EvaluationFailed as e:
        print(f"deap-nas: search stopped (fail_fast): {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        where = getattr(e, "run_dir", None) or run_dir
        then = (f"; continue with: deap-nas resume {shlex.quote(str(where))}" if where
                else " before the run directory was created")
        print(f"deap-nas: interrupted by {signal_name(e)}{then}", file=sys.stderr, flush=True)
        return exit_code(e)
    _print_summary(outcome.run_dir)
    return 0


def _config_path(arg: str, kind: str = "run") -> str:
    """A config file path, or the shipped config named ``arg`` (see :mod:`deap_nas.shipped`)."""
    from .shipped import UnknownConfigError, resolve_config

    try:
        return resolve_config(arg, kind)
    except UnknownConfigError as e:
        raise UsageError(str(e)) from None


def cmd_configs(args: argparse.Namespace) -> int:
    from .shipped import shipped_configs

    for kind, title in (("run", "run and teacher configs: deap-nas run NAME (teacher configs: deap-nas "
                                "train-teacher NAME)"),
                        ("study", "study configs: deap-nas study STUDY NAME")):
        configs = shipped_configs(kind)
        width = max(len(c.name) for c in configs)
        print(f"{title}")
        for c in configs:
            study = f"[{c.study}] " if c.study else ""
            print(f"  {c.name:<{width}}  {study}{c.description}")
        print()
    print("either spelling works (immunecs-fashion-mnist-quick = immunecs_fashion_mnist_quick); "
          "a file of that name in the working directory comes first")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .runtime.config import load_config
    from .runtime.search import start_run

    path = _config_path(args.config)
    return _search(lambda: start_run(load_config(path, args.set), args.run_dir))


def cmd_resume(args: argparse.Namespace) -> int:
    from .runtime.search import resume_run

    return _search(lambda: resume_run(args.run_dir, args.set, force=args.force, break_lock=args.break_lock),
                   args.run_dir)


def _print_summary(run_dir: Path, top: int = 5) -> None:
    from .analysis.report import summary_table

    print(summary_table(run_dir, top=top))


def cmd_report(args: argparse.Namespace) -> int:
    from .analysis.plots import write_plots
    from .analysis.report import summary_table

    try:
        print(summary_table(args.run_dir, top=args.top))
        for path in write_plots(args.run_dir):
            print(f"plot: {path}")
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import math
    import statistics

    from .analysis.plots import final_best, mann_whitney_u, plot_best_so_far, run_label
    from .analysis.report import load_run

    if args.labels is not None and len(args.labels) != len(args.run_dirs):
        raise UsageError(
            f"--labels: got {len(args.labels)} label(s) for {len(args.run_dirs)} run director"
            f"{'y' if len(args.run_dirs) == 1 else 'ies'}; give one label per RUN_DIR"
        )
    runs = []
    for k, run_dir in enumerate(args.run_dirs):
        try:
            run = load_run(run_dir)
        except (FileNotFoundError, ValueError) as e:
            raise UsageError(str(e)) from None
        label = args.labels[k] if args.labels is not None else run_label(run.config)
        runs.append((label, run.journal, run))
    if any(run.config.get("objectives") for *_, run in runs):
        return _compare_pareto(runs, args.out)
    runs = [(label, journal) for label, journal, _ in runs]
    try:
        plot_best_so_far(runs, args.out)
    except (OSError, ValueError) as e:
        raise UsageError(f"--out {args.out}: {e}") from None
    finals: dict[str, list[float]] = {}
    for label, journal in runs:
        finals.setdefault(label, []).append(final_best(journal))
    width = max(len("label"), *(len(label) for label in finals))
    print(f"{'label':<{width}}  {'runs':>4}  final best accuracy (mean ± std over runs)")
    for label, values in finals.items():
        ok = [v for v in values if math.isfinite(v)]
        if ok:
            std = statistics.stdev(ok) if len(ok) > 1 else 0.0
            text = f"{statistics.fmean(ok):.4f} ± {std:.4f}"
            if len(ok) < len(values):
                text += f" ({len(values) - len(ok)} run(s) without a successful evaluation)"
        else:
            text = "- (no successful evaluation)"
        print(f"{label:<{width}}  {len(values):>4}  {text}")
    labels = list(finals)
    if len(labels) >= 2:
        a, b = labels[0], labels[1]
        x = [v for v in finals[a] if math.isfinite(v)]
        y = [v for v in finals[b] if math.isfinite(v)]
        if len(x) >= 2 and len(y) >= 2:
            u, p, method = mann_whitney_u(x, y)
            print(f"Mann-Whitney U, one-sided (H1: '{a}' > '{b}'): U = {u:g}, p = {p:.4g} ({method})")
        else:
            print(f"Mann-Whitney U test skipped: needs >= 2 runs with a result per label "
                  f"('{a}': {len(x)}, '{b}': {len(y)})")
    print(f"plot: {args.out}")
    return 0


def _compare_pareto(runs: list, out: str) -> int:
    """``compare`` on multi-objective runs: their hypervolume curves in one plot and the
    final hypervolume per label; runs with other objectives or reference points are refused."""
    import statistics

    from .analysis.pareto_front import hypervolume_curve
    from .analysis.pareto_plots import plot_hypervolume_compare, same_objectives

    try:
        objectives = same_objectives([(str(run.path), run.config) for *_, run in runs])
        plot_hypervolume_compare([(label, journal, run.run) for label, journal, run in runs], objectives, out)
    except ValueError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"--out {out}: {e}") from None
    finals: dict[str, list[float]] = {}
    for label, journal, _run in runs:
        curve = hypervolume_curve(journal, objectives)["hypervolume"]
        finals.setdefault(label, []).append(curve[-1] if curve else 0.0)
    width = max(len("label"), *(len(label) for label in finals))
    print(f"{'label':<{width}}  {'runs':>4}  final hypervolume (mean ± std over runs)")
    for label, values in finals.items():
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{label:<{width}}  {len(values):>4}  {statistics.fmean(values):.4f} ± {std:.4f}")
    print(f"plot: {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .analysis.export import export_model

    _out_dir(args.out)
    try:
        paths = export_model(args.run_dir, args.out, rank=args.rank, formats=tuple(args.format), force=args.force,
                             member=args.member)
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as e:
        raise UsageError(str(e)) from None
    for p in paths:
        print(f"wrote {p}")
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from .analysis.selection import reevaluate_candidates, select_search_samples

    try:
        if args.rule == "search_samples":
            rows = select_search_samples(args.run_dir, args.k)
        else:
            rows = reevaluate_candidates(args.run_dir, args.k, args.candidates)
    except _search_errors() + (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    k = min((r["count"] for r in rows), default=args.k)
    print(f"architectures evaluated at least {k} times, best mean validation accuracy first")
    print(f"{'rank':>4}  {'hash':<20}  {'accuracy':>15}  {'n':>3}  {'params':>10}")
    for r in rows:
        print(f"{r['rank']:>4}  {r['arch_hash']:<20}  {r['mean_accuracy']:.4f} ± {r['std_accuracy']:.4f}  "
              f"{r['count']:>3}  {r['params']:>10,}")
    return 0


def cmd_train_final(args: argparse.Namespace) -> int:
    from .analysis.final import train_final

    try:
        train_final(args.run_dir, top_k=args.top_k, device=_device(args.device), epochs=args.epochs,
                    overrides=args.set)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    return 0


def cmd_train_teacher(args: argparse.Namespace) -> int:
    from .evaluation import DatasetNotFoundError
    from .runtime.schema import ConfigError
    from .runtime.teacher_ensemble import load_teacher_config, train_teacher

    _out_dir(args.out)
    try:
        config = load_teacher_config(_config_path(args.config), args.set)
        train_teacher(config, args.out, device=_device(args.device), log=lambda s: print(s, flush=True))
    except (ConfigError, DatasetNotFoundError, FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    except RuntimeError as e:  # a member failed to train: what finished is kept
        print(f"deap-nas: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_draw_cells(args: argparse.Namespace) -> int:
    from .analysis.nasgep_cells import draw_best_cells

    try:
        paths = draw_best_cells(args.run_dir, args.rank)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    print(paths[0].read_text(), end="")
    for p in paths:
        print(f"wrote {p}")
    return 0


def cmd_committee(args: argparse.Namespace) -> int:
    from .analysis.committee import build_committee

    try:
        build_committee(args.run_dir, fraction=args.fraction, epochs=args.epochs, device=_device(args.device),
                        top_k=args.top_k)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    """Run or resume a study; Ctrl-C / SIGTERM leave it resumable and exit 130 / 143 after
    one line naming the resume command."""
    import shlex

    from .runtime.interrupt import exit_code, signal_name, sigterm_raises
    from .runtime.rundir import RunDirError
    from .runtime.schema import ConfigError
    from .studies import STUDIES, load_study_config, resume_study, run_study

    try:
        with sigterm_raises():
            if args.name == "resume":
                results = resume_study(args.target, force=args.force, overrides=args.set)
            else:
                if args.name not in STUDIES:
                    raise UsageError(f"unknown study '{args.name}'; known: {', '.join(sorted(STUDIES))}, or resume DIR")
                config = load_study_config(_config_path(args.target, "study"), args.name, args.set)
                results = run_study(config, args.dir, force=args.force)
    except (ConfigError, RunDirError, FileNotFoundError) + _search_errors() as e:
        raise UsageError(str(e)) from None
    except KeyboardInterrupt as e:
        where = getattr(e, "study_dir", None)
        then = f"; continue with: deap-nas study resume {shlex.quote(str(where))}" if where else ""
        print(f"deap-nas: study interrupted by {signal_name(e)}{then}", file=sys.stderr, flush=True)
        return exit_code(e)
    print(results.get("summary", ""))
    print(f"study directory: {results['dir']} ({results['wall_seconds']:.0f}s)")
    return 0


def cmd_tabulate(args: argparse.Namespace) -> int:
    from .studies.runs import run_metrics, tabulate_runs, write_table

    _out_dir(args.out)
    try:
        rows = [run_metrics(d) for d in args.run_dirs]
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    table = tabulate_runs(rows, title=args.title or "")
    print(table["markdown"])
    print()
    print(table["line"])
    print(table["latex"])
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        write_table(Path(args.out), table)
        print(f"tables: {args.out}/table.md, table.tex, table.csv")
    return 0


def _search_commands(sub: argparse._SubParsersAction) -> None:
    """``run`` and ``resume``: start a search from a config, continue a run directory."""
    r = sub.add_parser("run", help="run a search from a YAML config")
    r.add_argument("config", help="a YAML config, or the name of a shipped one (see `deap-nas configs`)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set budget.evaluations=50 (repeatable)")
    r.add_argument("--run-dir", help="run directory (default: output.dir/<config>-<time>)")
    r.set_defaults(func=cmd_run)

    rs = sub.add_parser("resume", help="continue a killed or finished run from its last snapshot")
    rs.add_argument("run_dir")
    rs.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="e.g. raise the budget: --set budget.evaluations=200")
    rs.add_argument("--force", action="store_true", help="resume even if the config changed")
    rs.add_argument("--break-lock", action="store_true",
                    help="take the run directory's lock (run.lock) from another process; only when that process "
                         "is gone (e.g. a crashed host whose lock has not yet gone stale)")
    rs.set_defaults(func=cmd_resume)


def _report_commands(sub: argparse._SubParsersAction) -> None:
    """``report`` and ``compare``: summary and plots of one run, curves of several."""
    rp = sub.add_parser("report", help="summary table and plots of a run directory")
    rp.add_argument("run_dir")
    rp.add_argument("--top", type=int, default=10)
    rp.set_defaults(func=cmd_report)

    cp = sub.add_parser("compare", help="best-so-far accuracy and accuracy CDFs of several runs in one plot "
                                        "(multi-objective runs: hypervolume curves)")
    cp.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    cp.add_argument("--labels", nargs="+", metavar="LABEL",
                    help="one label per RUN_DIR (default: the algorithm name, with S=<sample_size> for "
                         "aging_evolution); runs with equal labels are aggregated as seeds")
    cp.add_argument("--out", required=True, metavar="FILE.png", help="the PNG to write")
    cp.set_defaults(func=cmd_compare)


def _found_model_commands(sub: argparse._SubParsersAction) -> None:
    """What follows a search, on the architectures it found: ``export``, ``select``
    (re-evaluation), ``train-final``, ``draw-cells`` (NASGEP) and ``committee`` (ImmuNeCS)."""
    ex = sub.add_parser("export", help="export a found model (state dict, architecture JSON, torch.export, "
                                       "TorchScript, ONNX); all files or none")
    ex.add_argument("run_dir")
    ex.add_argument("--rank", type=int, default=None, help="which architecture (1 = best, the default)")
    ex.add_argument("--member", type=int, default=None, metavar="K",
                    help="multi-objective runs: which Pareto front member (0 = best on the first objective, "
                         "the default; the # column of `deap-nas report`, best/frontKK_*)")
    ex.add_argument("--out", help="output directory (default RUN_DIR/export)")
    ex.add_argument("--format", nargs="+", default=["state_dict"], choices=["state_dict", "export", "torchscript", "onnx"],
                    help="export: model.pt2 (torch.export); torchscript: model.ts; onnx: model.onnx (needs the onnx "
                         "extra); the state dict model.pt is always written")
    ex.add_argument("--force", action="store_true", help="replace an existing output directory (in one step)")
    ex.set_defaults(func=cmd_export)

    se = sub.add_parser("select", help="re-evaluate the best candidates k times; best mean accuracy first")
    se.add_argument("run_dir")
    se.add_argument("--k", type=int, default=5, help="evaluations per candidate (paper: 5)")
    se.add_argument("--candidates", type=int, default=10, help="architectures to re-evaluate (rule reevaluate)")
    se.add_argument("--rule", choices=["reevaluate", "search_samples"], default="reevaluate",
                    help="reevaluate: re-train the best candidates to k results each; search_samples (macro-NAS "
                         "sec. 4.2): no training, the best mean among architectures the search trained >= k times")
    se.set_defaults(func=cmd_select)

    tf = sub.add_parser("train-final", help="fully train the best architectures; test accuracy, once")
    tf.add_argument("run_dir")
    tf.add_argument("--top-k", type=int, default=None, help="default: final_training.top_k")
    tf.add_argument("--epochs", type=int, default=None, help="default: final_training.training.epochs")
    tf.add_argument("--device", default="auto")
    tf.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override final-training settings for this call, e.g. --set final_training.channels=128")
    tf.set_defaults(func=cmd_train_final)

    tt = sub.add_parser("train-teacher", help="train a teacher ensemble for mimicry (reference networks x seeds)")
    tt.add_argument("config", help="teacher config (YAML), e.g. experiments/configs/eigen_teacher_cifar10.yaml")
    tt.add_argument("--out", required=True, help="ensemble directory; an interrupted one is continued")
    tt.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a teacher-config value, e.g. --set training.epochs=1 (repeatable)")
    tt.add_argument("--device", default="auto")
    tt.set_defaults(func=cmd_train_teacher)

    dc = sub.add_parser("draw-cells", help="NASGEP: draw the best normal and reduction cells (paper Figs. 4-5)")
    dc.add_argument("run_dir")
    dc.add_argument("--rank", type=int, default=1, help="hall-of-fame rank (1 = best)")
    dc.set_defaults(func=cmd_draw_cells)

    cm = sub.add_parser("committee", help="ImmuNeCS: train the N best selected networks further and vote as a committee")
    cm.add_argument("run_dir")
    size = cm.add_mutually_exclusive_group()
    size.add_argument("--top-k", type=int, default=None,
                      help="the K best of the networks the last selection kept; default final_training.top_k")
    size.add_argument("--fraction", type=float, default=None,
                      help="the best round(F * N) of the N networks the last selection kept (CIFAR-10: 0.333)")
    cm.add_argument("--epochs", type=int, default=None, help="default: final_training.training.epochs")
    cm.add_argument("--device", default="auto")
    cm.set_defaults(func=cmd_committee)


def _describe_command(sub: argparse._SubParsersAction) -> None:
    """``describe``: shapes, parameter count and hash of an architecture JSON."""
    d = sub.add_parser("describe", help="shapes, parameter count and hash of an architecture JSON")
    d.add_argument("arch")
    d.add_argument("--input-shape", type=_shape, default=(1, 28, 28))
    d.add_argument("--classes", type=int, default=10)
    d.add_argument("--head", default=None,
                   help="gap_linear | linear | concat_pool | mlp3 (default: the head the file records, else gap_linear)")
    d.add_argument("--dot", help="also write Graphviz dot text to this file")
    d.set_defaults(func=cmd_describe)


def cmd_results(args: argparse.Namespace) -> int:
    from .studies.results_page import assemble_results_page

    try:
        out = assemble_results_page(args.study_dirs, args.out, copy_plots=args.copy_plots, title=args.title,
                                    intro=args.intro)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    print(f"results page: {out}" + (f" (plots copied to {args.copy_plots})" if args.copy_plots else ""))
    return 0


def _study_commands(sub: argparse._SubParsersAction) -> None:
    """``study`` (run or resume a validation study) and ``tabulate`` (table of finished runs)."""
    st = sub.add_parser("study", help="run a validation study (locality, partial_evaluation, progressive, "
                                      "search_vs_random, transfer, seeds) or resume one")
    st.add_argument("name", help="the study, or 'resume' to continue the study directory TARGET")
    st.add_argument("target", metavar="CONFIG|DIR", help="study config (YAML) or the name of a shipped one "
                                                         "(see `deap-nas configs`), or the directory to resume")
    st.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a study-config value, e.g. --set params.clones=3 --set run.training.epochs=1")
    st.add_argument("--dir", help="study directory (default: output.dir/<config>-<time>); an existing one of "
                                  "the same study is continued, reusing every journaled evaluation")
    st.add_argument("--force", action="store_true", help="continue a study directory whose config differs")
    st.set_defaults(func=cmd_study)

    tb = sub.add_parser("tabulate", help="one table (mean, std, best, device-hours) of finished run directories")
    tb.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    tb.add_argument("--title", help="method name for the table and the LaTeX row")
    tb.add_argument("--out", help="also write table.md, table.tex and table.csv to this directory")
    tb.set_defaults(func=cmd_tabulate)

    rs = sub.add_parser("results", help="one Markdown page from the results.md of several study directories")
    rs.add_argument("study_dirs", nargs="+", metavar="STUDY_DIR")
    rs.add_argument("--out", required=True, help="the page to write, e.g. docs/results.md")
    rs.add_argument("--copy-plots", help="copy the linked plots here (one folder per study) and link the copies")
    rs.add_argument("--title", default="Results", help="the page's heading")
    rs.add_argument("--intro", help="a Markdown file placed under the heading (a hand-written summary)")
    rs.set_defaults(func=cmd_results)


def _training_commands(sub: argparse._SubParsersAction) -> None:
    """``datasets`` (registered names) and ``train`` (one architecture JSON on a data set)."""
    s = sub.add_parser("datasets", help="list the registered data set names")
    s.set_defaults(func=cmd_datasets)

    c = sub.add_parser("configs", help="list the configs shipped with the package, with a one-line description")
    c.set_defaults(func=cmd_configs)

    t = sub.add_parser("train", help="train one architecture JSON on a data set")
    t.add_argument("arch")
    t.add_argument("--data", default="fashion_mnist_mini", help="data set name (see `deap-nas datasets`)")
    t.add_argument("--root", help="data root (default: $DEAP_NAS_DATA, then known locations)")
    t.add_argument("--head", default=None, help="gap_linear | linear | concat_pool | mlp3 (default: the head the "
                                                 "architecture file records, else concat_pool)")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--optimizer", default="adamw", help="sgd | adam | adamw")
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--weight-decay", type=float, default=5e-4)
    t.add_argument("--schedule", default="cosine", help="none | cosine | cosine_restarts | step | multistep")
    t.add_argument("--label-smoothing", type=float, default=0.0)
    t.add_argument("--patience", type=int, default=None, help="early-stopping patience in epochs")
    t.add_argument("--pad-crop", type=int, default=0, help="pad-and-crop augmentation padding")
    t.add_argument("--flip", action="store_true", help="horizontal-flip augmentation")
    t.add_argument("--erasing", type=float, default=0.0, help="random-erasing probability")
    t.add_argument("--val-fraction", type=float, default=0.1)
    t.add_argument("--train-subset", type=_subset, default=None, help="fraction or per-class count")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    t.add_argument("--deterministic", action="store_true")
    t.add_argument("--test", action="store_true", help="also report test accuracy (final training only)")
    t.add_argument("--out", help="directory for architecture, result and best weights")
    t.set_defaults(func=cmd_train)


def parser() -> argparse.ArgumentParser:
    """The ``deap-nas`` argument parser; sub-commands are added group by group, in the
    order ``--help`` lists them."""
    p = argparse.ArgumentParser(prog="deap-nas", description=__doc__.split("\n")[0])
    p.add_argument("--version", action="version", version=f"deap_nas {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    _search_commands(sub)
    _report_commands(sub)
    _found_model_commands(sub)
    _describe_command(sub)
    _study_commands(sub)
    _training_commands(sub)
    return p


def os_error_line(e: OSError) -> str:
    """An OSError as one line naming the path and the cause, e.g.
    ``runs/a/config.yaml: No space left on device (ENOSPC)``."""
    import errno

    name = errno.errorcode.get(e.errno or 0, "")
    cause = (e.strerror or str(e)) + (f" ({name})" if name else "")
    paths = [str(p) for p in (e.filename, e.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {cause}" if paths else cause


def _error(message: str) -> int:
    """Print ``message`` as the one line ``deap-nas: error: ...``; exit code 2."""
    print(f"deap-nas: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Bad input (UsageError, a config or run-directory error) and a
    file system error (OSError: read-only, disk full, a file where a folder belongs)
    end as one line on stderr with exit code 2."""
    from .evaluation import DatasetNotFoundError
    from .runtime.rundir import RunDirError
    from .runtime.schema import ConfigError

    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, ConfigError, RunDirError, DatasetNotFoundError) as e:
        return _error(str(e))
    except OSError as e:
        return _error(os_error_line(e))


if __name__ == "__main__":
    sys.exit(main())
