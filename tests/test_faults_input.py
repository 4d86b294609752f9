"""Fault injection, bad input: every bad config value and every bad path given to the CLI
(``deap_nas.cli.main([...])`` in-process) ends with exit code 2, one line on stderr
(``deap-nas: error: ...``, no traceback) naming the key or path, and nothing written:
the file tree of the test folder is the same before and after (:func:`refused`).

Searches use the fake trainer (``deap_nas.testing:fake_trainer``), so a config that is
wrongly accepted finishes in a fraction of a second and the test fails on the run
directory it wrote. Read-only folders are made with ``chmod 555``; as root (who ignores
modes) the writes into them are refused by patched ``os.mkdir`` / ``os.open`` /
``io.open`` (``EACCES``). A full disk is ``os.fsync`` raising ``ENOSPC``.

Bad configs (:data:`CONFIG_CASES`, ``run CONFIG``; the ``--set`` ones through the
command line; each row: key, value, what the message says):

==============================  ==================  =====================================
key                             value               refused because
==============================  ==================  =====================================
training.lr                     .inf / -.inf / .nan not finite (was accepted: every
                                                    candidate nan)
training.momentum               .nan                not finite
training.distill_temperature    .inf                not finite
budget.hours                    .inf                not finite
evaluation.penalty              .nan                not finite
data.val_fraction               .nan                not finite
data.gcn_scale                  .inf                not finite
operators.mutate.probability    .nan                not finite
operators.mutate.p_layer        .inf                not finite (untyped operator params)
space.channel_mults[1]          .inf                not finite (in a list)
algorithm.population_size       10^12               <= 1000000 (was accepted)
training.batch_size             10^9                <= 65536 (was accepted)
space.max_channels              10^9                <= 65536 (was accepted)
space.stem_channels             10^6                <= 65536
training.eval_batch_size        10^7                <= 65536
training.epochs                 10^9                <= 100000
parallel.workers / threads      10^6                <= 4096
evaluation.repeats              10^9                <= 10000
final_training.channels         10^9                <= 65536
final_training.training.        10^9                <= 65536 (nested training section)
batch_size
space.max_depth                 10^9                <= 10000
algorithm.hall_of_fame          10^9                <= 1000000
training.lr                     'fast' / -1 / 0     not a number / must be > 0
training.epochs                 0 / 1.5             integer >= 1
training.batch_size             'big'               not an integer
training.optimizer / schedule   rmsprop / linear    not one of the choices
training.betas                  [0.9]               needs two values
training.no_such_key            1                   unknown key
trainin (section)               {}                  unknown section
algorithm.name / space.name     nope                unknown entry
algorithm.population_size       -3 / true           bounds / type
parallel.backend                mpi                 not a backend
parallel.device                 tpu                 not a device name
parallel.device                 cuda:7              no CUDA device (torch.cuda patched)
parallel.device                 cuda:7              2 devices only (was a data error)
output.keep_snapshots           0                   >= 1
evaluation.trainer              no_such.module:fn   cannot import
seed                            'abc'               not an integer
budget                          (missing)           needs a budget
final_training.seeds            []                  at least one seed
data.train_subset               1.5                 fraction in (0, 1]
training (duplicate key)        lr twice            duplicate key, both lines (was
                                                    accepted silently)
training (duplicate section)    training twice      duplicate key
(YAML syntax)                   'a: [1,'            not valid YAML, one line
(not a mapping)                 '- a'               a config is a mapping
--set training.lr=.inf          via --set           not finite
--set training.batch_size=1e9   via --set           not an integer
--set training                  no '='              expected key.path=value
--set training=5                a section replaced  expected a mapping
--set evaluation.repeats={a: 1, a: 2}               duplicate key in a --set value
study config                    duplicate key       duplicate key (``study``)
teacher config                  duplicate key       duplicate key (``train-teacher``)
==============================  ==================  =====================================

Accepted on purpose: ``--set training.lr=1e6`` (PyYAML reads ``1e6`` as a string; a
float field reads it as a number) and ``--set training.lr=1.5e-3``; a string field keeps
such a string (``output.name: 1e6``) — :func:`test_float_numerals_accepted`.

Bad paths (:data:`PATH_CASES` and the tests after it):

================================================  ==========================================
path                                              refused because
================================================  ==========================================
run: config file missing                          not found
run: config is a directory                        a directory, not a file
run: config not UTF-8                             not UTF-8 (was a traceback)
run: config unreadable (EACCES)                   cannot be read (was a traceback)
run: --run-dir is a file                          a file, not a run directory (traceback)
run: --run-dir below a file                       Not a directory (was a traceback)
run: --run-dir in a read-only folder              Permission denied (was a traceback)
run: output.dir read-only                         Permission denied (was a traceback)
run: output.dir is a file                         File exists / Not a directory (traceback)
run: disk full at the first write (ENOSPC)        No space left, run dir removed (traceback)
run: data.root missing (real trainer)             data set not found
run: evaluation.teacher missing                   teacher not found
resume: missing folder / a file / no run.json     not a run directory
resume: run.json damaged                          damaged
resume: config.yaml not UTF-8                     not UTF-8 (was a traceback)
resume: config.yaml with a duplicate key          duplicate key
resume: a read-only run directory                 Permission denied (was a traceback)
describe: arch missing / a directory              not found / a directory
describe: arch not UTF-8 / not JSON               malformed
describe: --dot into a missing folder             No such file (was a traceback)
train: arch missing                               not found
train: --out is a file                            a file (was: trained, then a traceback)
report / export / tabulate: missing run dir       not found
study: config missing / not UTF-8                 one line each
study resume: study.yaml with a duplicate key     duplicate key (was silently accepted)
train-teacher: config missing / a directory       one line each
================================================  ==========================================

:func:`test_summary` prints the counts (tried / refused with one clear line).
"""

from __future__ import annotations

import builtins
import copy
import errno
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from deap_nas.cli import main

FAKE = "deap_nas.testing:fake_trainer"
BASE: dict[str, Any] = {
    "seed": 0,
    "data": {"name": "fashion_mnist_mini"},
    "space": {"name": "sequential", "min_depth": 2, "max_depth": 4, "stem_channels": 8, "max_channels": 16},
    "algorithm": {"name": "simple_ga", "population_size": 4, "tournament_size": 2},
    "operators": {"mutate": {"name": "mut_sequential"}, "mate": {"name": "cx_one_point"}},
    "training": {"epochs": 1, "batch_size": 32},
    "evaluation": {"trainer": FAKE},
    "budget": {"evaluations": 4},
    "parallel": {"backend": "serial", "threads": 1},
    "output": {"dir": "runs", "plots": False, "progress": False},
}
COUNTS: dict[str, int] = {"config": 0, "path": 0}


# ------------------------------------------------------------------------ the checks
def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder below ``root``: (size, mtime_ns); folders size -1."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (-1 if p.is_dir() else st.st_size, st.st_mtime_ns)
    return out


def refused(capsys: Any, root: Path, argv: list[str], *expect: str, kind: str = "config") -> str:
    """``main(argv)`` exits 2 with one stderr line containing each of ``expect`` and
    changes nothing below ``root``; returns the line."""
    capsys.readouterr()
    before = tree(root)
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, f"exit code {code}\n{err}"
    assert len(lines) == 1 and lines[0].startswith("deap-nas: error: "), err
    for text in expect:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    assert tree(root) == before, f"files changed: {sorted(set(tree(root)) ^ set(before))}"
    COUNTS[kind] += 1
    return lines[0]


def set_key(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return data


DELETE = object()
INF, NAN = float("inf"), float("nan")


def write_config(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working folder holding ``base.yaml`` (the valid config)."""
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path / "base.yaml", BASE)
    return tmp_path


# ------------------------------------------------------------------- bad config values
#: (key, value, text the message contains); value DELETE removes the key
CONFIG_CASES: list[tuple[str, Any, str]] = [
    ("training.lr", INF, "finite"),
    ("training.lr", -INF, "finite"),
    ("training.lr", NAN, "finite"),
    ("training.momentum", NAN, "finite"),
    ("training.distill_temperature", INF, "finite"),
    ("budget.hours", INF, "finite"),
    ("evaluation.penalty", NAN, "finite"),
    ("data.val_fraction", NAN, "finite"),
    ("data.gcn_scale", INF, "finite"),
    ("operators.mutate.probability", NAN, "finite"),
    ("operators.mutate.p_layer", INF, "finite"),
    ("space.channel_mults", [1.0, INF], "finite"),
    ("algorithm.population_size", 10**12, "<= 1000000"),
    ("training.batch_size", 10**9, "<= 65536"),
    ("space.max_channels", 10**9, "<= 65536"),
    ("space.stem_channels", 10**6, "<= 65536"),
    ("training.eval_batch_size", 10**7, "<= 65536"),
    ("training.epochs", 10**9, "<= 100000"),
    ("parallel.workers", 10**6, "<= 4096"),
    ("parallel.threads", 10**6, "<= 4096"),
    ("evaluation.repeats", 10**9, "<= 10000"),
    ("final_training.channels", 10**9, "<= 65536"),
    ("final_training.training", {"batch_size": 10**9}, "<= 65536"),
    ("space.max_depth", 10**9, "<= 10000"),
    ("algorithm.hall_of_fame", 10**9, "<= 1000000"),
    ("training.lr", "fast", "expected a number"),
    ("training.lr", -1, "> 0"),
    ("training.lr", 0, "> 0"),
    ("training.epochs", 0, ">= 1"),
    ("training.epochs", 1.5, "integer"),
    ("training.batch_size", "big", "integer"),
    ("training.optimizer", "rmsprop", "rmsprop"),
    ("training.schedule", "linear", "linear"),
    ("training.betas", [0.9], "2 values"),
    ("training.no_such_key", 1, "unknown key"),
    ("trainin", {}, "unknown section"),
    ("algorithm.name", "nope", "unknown algorithm"),
    ("space.name", "nope", "unknown search space"),
    ("algorithm.population_size", -3, ">= 2"),
    ("algorithm.population_size", True, "integer"),
    ("parallel.backend", "mpi", "mpi"),
    ("parallel.device", "tpu", "tpu"),
    ("output.keep_snapshots", 0, ">= 1"),
    ("evaluation.trainer", "no_such.module:fn", "no_such"),
    ("seed", "abc", "integer"),
    ("budget", DELETE, "missing"),
    ("final_training.seeds", [], "seed"),
    ("data.train_subset", 1.5, "(0, 1]"),
]


@pytest.mark.parametrize(("key", "value", "expect"), CONFIG_CASES,
                         ids=[f"{k}={v!r}"[:60] for k, v, _ in CONFIG_CASES])
def test_bad_config_value(capsys: Any, here: Path, key: str, value: Any, expect: str) -> None:
    path = write_config(here / "bad.yaml", set_key(BASE, key, value))
    named = key if value is not DELETE else key.split(".")[0]
    if key == "space.channel_mults":
        named = "space.channel_mults[1]"
    if key == "final_training.training":
        named = "final_training.training.batch_size"
    refused(capsys, here, ["run", path], named, expect)


BASE_TEXT = yaml.safe_dump(BASE, sort_keys=False)
#: (config text, texts the message contains)
RAW_CASES: list[tuple[str, tuple[str, ...]]] = [
    (BASE_TEXT.replace("  epochs: 1\n", "  epochs: 1\n  lr: 0.1\n  lr: 10\n"), ("duplicate key 'lr'", "lines")),
    (BASE_TEXT + "training:\n  epochs: 3\n", ("duplicate key 'training'",)),
    ("seed: 0\ndata: [1,\n", ("bad.yaml", "not valid YAML", "line")),
    ("- a\n- b\n", ("a config is a mapping",)),
]


@pytest.mark.parametrize(("text", "expect"), RAW_CASES, ids=["dup-key", "dup-section", "syntax", "list"])
def test_bad_config_text(capsys: Any, here: Path, text: str, expect: tuple[str, ...]) -> None:
    refused(capsys, here, ["run", write_config(here / "bad.yaml", text)], *expect)


SET_CASES: list[tuple[str, tuple[str, ...]]] = [
    ("training.lr=.inf", ("training.lr", "finite")),
    ("training.batch_size=1e9", ("training.batch_size", "integer")),
    ("training", ("--set", "key.path=value")),
    ("training=5", ("training", "mapping")),
    ("evaluation.repeats={a: 1, a: 2}", ("--set evaluation.repeats", "duplicate key 'a'")),
]


@pytest.mark.parametrize(("item", "expect"), SET_CASES, ids=[s for s, _ in SET_CASES])
def test_bad_set(capsys: Any, here: Path, item: str, expect: tuple[str, ...]) -> None:
    refused(capsys, here, ["run", here / "base.yaml", "--set", item], *expect)


def _cuda(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.parametrize(("count", "expect"), [(0, "no CUDA device"), (2, "2 CUDA device(s): cuda:0..cuda:1")])
def test_missing_cuda_device(capsys: Any, here: Path, monkeypatch: pytest.MonkeyPatch, count: int,
                             expect: str) -> None:
    """``parallel.device: cuda:7`` where it does not exist: named when the run starts
    (before: a data error from the worker, after the run directory was written)."""
    _cuda(monkeypatch, count)
    refused(capsys, here, ["run", here / "base.yaml", "--set", "parallel.device=cuda:7"],
            "parallel.device", "cuda:7", expect)


def test_duplicate_key_in_study_and_teacher_configs(capsys: Any, here: Path) -> None:
    study = here / "study.yaml"
    study.write_text("study: locality\nbase: base.yaml\nparams:\n  clones: 2\n  clones: 3\n")
    refused(capsys, here, ["study", "locality", study, "--dir", here / "s"], "study.yaml", "duplicate key 'clones'")
    teacher = here / "teacher.yaml"
    teacher.write_text("data:\n  name: cifar10\n  name: fashion_mnist\n")
    refused(capsys, here, ["train-teacher", teacher, "--out", here / "t"], "teacher.yaml", "duplicate key 'name'")


def test_float_numerals_accepted(capsys: Any, here: Path) -> None:
    """``--set training.lr=1e6``: PyYAML (YAML 1.1) reads 1e6 as a string; a float field
    reads it as a number (was: "expected a number"); a string field keeps the string."""
    from deap_nas.runtime.config import load_config

    assert load_config(here / "base.yaml", ["training.lr=1e6"]).training.lr == 1e6
    assert load_config(here / "base.yaml", ["training.lr=1.5e-3"]).training.lr == 1.5e-3
    assert load_config(here / "base.yaml", ["output.name=1e6"]).output.name == "1e6"
    assert main(["run", str(here / "base.yaml"), "--set", "training.lr=1e6", "--run-dir", "ok"]) == 0
    assert (here / "ok" / "run.json").is_file()


# ------------------------------------------------------------------------- bad paths
@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], Path]:
    """Make a folder read-only (``chmod 555``; as root, patched creating calls refuse
    writes below it with EACCES, as the mode does for everyone else)."""
    roots: list[Path] = []

    def inside(path: Any) -> bool:
        try:
            p = Path(os.fsdecode(path)).absolute()
        except TypeError:  # a file descriptor
            return False
        return any(p == r or r in p.parents for r in roots)

    def denied(path: Any) -> PermissionError:
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

    if os.geteuid() == 0:
        real_mkdir, real_open, real_io_open = os.mkdir, os.open, io.open

        def mkdir(path: Any, *a: Any, **k: Any) -> None:
            if inside(path):
                raise denied(path)
            real_mkdir(path, *a, **k)

        def open_(path: Any, flags: int, *a: Any, **k: Any) -> int:
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
                raise denied(path)
            return real_open(path, flags, *a, **k)

        def io_open(file: Any, mode: str = "r", *a: Any, **k: Any) -> Any:
            if any(c in mode for c in "wax+") and inside(file):
                raise denied(file)
            return real_io_open(file, mode, *a, **k)

        monkeypatch.setattr(os, "mkdir", mkdir)
        monkeypatch.setattr(os, "open", open_)
        monkeypatch.setattr(io, "open", io_open)
        monkeypatch.setattr(builtins, "open", io_open)

    def make(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        roots.append(path.absolute())
        path.chmod(0o555)
        return path

    yield make
    for r in roots:
        r.chmod(0o755)


def _binary(path: Path) -> Path:
    path.write_bytes(b"seed: 0\ndata: \xff\xfe\x00\x81\n")
    return path


def _fake_run(path: Path, meta: str = '{"format": "deap_nas.run/1", "fingerprint": "x"}',
              config: bytes | None = None) -> Path:
    path.mkdir()
    (path / "run.json").write_text(meta)
    (path / "config.yaml").write_bytes(config if config is not None else BASE_TEXT.encode())
    return path


def _study_dir(path: Path) -> Path:
    path.mkdir()
    (path / "study.yaml").write_text("study: locality\nstudy: seeds\n")
    return path


#: name -> (setup(here) -> argv, texts the message contains)
PATH_CASES: dict[str, tuple[Callable[[Path], list[Any]], tuple[str, ...]]] = {
    "config-missing": (lambda h: ["run", h / "none.yaml"], ("none.yaml", "not found")),
    "config-directory": (lambda h: ["run", (h / "cfg.yaml").mkdir() or h / "cfg.yaml"], ("cfg.yaml", "directory")),
    "config-not-utf8": (lambda h: ["run", _binary(h / "bin.yaml")], ("bin.yaml", "not UTF-8")),
    "run-dir-is-file": (lambda h: ["run", h / "base.yaml", "--run-dir", h / "base.yaml"],
                        ("base.yaml", "is a file")),
    "run-dir-below-file": (lambda h: ["run", h / "base.yaml", "--run-dir", h / "base.yaml" / "r"],
                           ("base.yaml", "Not a directory")),
    "output-dir-is-file": (lambda h: ["run", h / "base.yaml", "--set", f"output.dir={h / 'base.yaml'}"],
                           ("base.yaml",)),
    "resume-missing": (lambda h: ["resume", h / "gone"], ("gone", "not a deap_nas run directory")),
    "resume-a-file": (lambda h: ["resume", h / "base.yaml"], ("base.yaml", "not a deap_nas run directory")),
    "resume-no-run-json": (lambda h: ["resume", (h / "empty").mkdir() or h / "empty"], ("empty", "no run.json")),
    "resume-damaged-run-json": (lambda h: ["resume", _fake_run(h / "r", meta="{")], ("run.json", "damaged")),
    "resume-config-not-utf8": (lambda h: ["resume", _fake_run(h / "r", config=b"seed: \xff\n")],
                               ("config.yaml", "not UTF-8")),
    "resume-config-duplicate-key": (lambda h: ["resume", _fake_run(h / "r", config=(BASE_TEXT + "seed: 1\n").encode())],
                                    ("config.yaml", "duplicate key 'seed'")),
    "describe-missing": (lambda h: ["describe", h / "a.json"], ("a.json", "not found")),
    "describe-directory": (lambda h: ["describe", (h / "a.json").mkdir() or h / "a.json"], ("a.json", "a directory")),
    "describe-not-utf8": (lambda h: ["describe", _binary(h / "a.json")], ("a.json",)),
    "describe-not-json": (lambda h: ["describe", write_config(h / "a.json", "{nodes")], ("a.json",)),
    "train-missing-arch": (lambda h: ["train", h / "a.json"], ("a.json", "not found")),
    "report-missing": (lambda h: ["report", h / "gone"], ("gone",)),
    "export-missing": (lambda h: ["export", h / "gone"], ("gone",)),
    "tabulate-missing": (lambda h: ["tabulate", h / "gone"], ("gone",)),
    "study-config-missing": (lambda h: ["study", "locality", h / "none.yaml"], ("none.yaml", "not found")),
    "study-config-not-utf8": (lambda h: ["study", "locality", _binary(h / "s.yaml")], ("s.yaml", "not UTF-8")),
    "study-resume-duplicate-key": (lambda h: ["study", "resume", _study_dir(h / "s")], ("study.yaml", "duplicate key")),
    "teacher-config-missing": (lambda h: ["train-teacher", h / "none.yaml", "--out", h / "t"], ("none.yaml",)),
    "teacher-config-directory": (lambda h: ["train-teacher", h, "--out", h / "t"], ("directory",)),
}


@pytest.mark.parametrize("name", list(PATH_CASES))
def test_bad_path(capsys: Any, here: Path, name: str) -> None:
    setup, expect = PATH_CASES[name]
    argv = setup(here)
    refused(capsys, here, argv, *expect, kind="path")


def test_describe_dot_into_missing_folder(capsys: Any, here: Path) -> None:
    from deap_nas.arch import sequential

    (here / "a.json").write_text(sequential([("conv", {"channels": 8})], name="t").to_json())
    refused(capsys, here, ["describe", here / "a.json", "--dot", here / "no" / "a.dot"], "a.dot", "No such file",
            kind="path")


def test_train_out_is_a_file(capsys: Any, here: Path) -> None:
    """Refused before any data is loaded or trained (was: trained, then a traceback)."""
    from deap_nas.arch import sequential

    (here / "a.json").write_text(sequential([("conv", {"channels": 8})], name="t").to_json())
    refused(capsys, here, ["train", here / "a.json", "--out", here / "base.yaml", "--device", "cpu"],
            "--out", "base.yaml", kind="path")


def test_config_unreadable(capsys: Any, here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = here / "secret.yaml"
    path.write_text(BASE_TEXT)
    real = Path.read_text

    def read_text(self: Path, *a: Any, **k: Any) -> str:
        if self.name == "secret.yaml":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", read_text)
    refused(capsys, here, ["run", path], "secret.yaml", "cannot be read", "Permission denied", kind="path")


def test_read_only_run_dir_and_output_dir(capsys: Any, here: Path, read_only: Callable[[Path], Path]) -> None:
    locked = read_only(here / "locked")
    refused(capsys, here, ["run", here / "base.yaml", "--run-dir", locked / "r"], "locked", "Permission denied",
            kind="path")
    refused(capsys, here, ["run", here / "base.yaml", "--run-dir", locked], "locked", "Permission denied",
            kind="path")
    refused(capsys, here, ["run", here / "base.yaml", "--set", f"output.dir={locked}"], "locked",
            "Permission denied", kind="path")


def test_read_only_resume(capsys: Any, here: Path, read_only: Callable[[Path], Path]) -> None:
    assert main(["run", str(here / "base.yaml"), "--run-dir", "r"]) == 0
    read_only(here / "r")
    refused(capsys, here, ["resume", here / "r"], "r", "Permission denied", kind="path")


def test_disk_full_at_first_write(capsys: Any, here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ENOSPC`` while the run directory is created: one line, and the run directory
    (and the output folder this call made) removed again."""
    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    refused(capsys, here, ["run", here / "base.yaml"], "No space left on device", "ENOSPC", kind="path")
    refused(capsys, here, ["run", here / "base.yaml", "--run-dir", "r"], "No space left on device", kind="path")


def test_missing_data_root_and_teacher(capsys: Any, here: Path) -> None:
    """Checked before the run directory is written (preflight), with the real trainer."""
    refused(capsys, here, ["run", here / "base.yaml", "--set", "evaluation.trainer=null", "--set",
                           "data.name=cifar10", "--set", f"data.root={here / 'no_data'}"], "cifar10", kind="path")
    refused(capsys, here, ["run", here / "base.yaml", "--set", "evaluation.trainer=null", "--set",
                           f"evaluation.teacher={{ensemble: {here / 'no_teacher'}}}"], "no_teacher", kind="path")


def test_merge_keys_may_be_overridden() -> None:
    """``<<: *anchor`` then the same key again is YAML's override, not a duplicate."""
    from deap_nas.runtime.yaml_strict import load_yaml_text

    text = "base: &b {lr: 0.1, epochs: 2}\ntraining:\n  <<: *b\n  lr: 0.2\n"
    assert load_yaml_text(text, "t")["training"] == {"lr": 0.2, "epochs": 2}


def test_summary(capsys: Any) -> None:
    """Counts of this module (run last in file order): tried = refused with one line."""
    with capsys.disabled():
        print(f"\nbad input refused with one clear line: {COUNTS['config']} configs, {COUNTS['path']} paths")
