"""``parallel.backend: dask`` on a local cluster (2 worker processes on 127.0.0.1), with
the fake trainer, against the serial run of the same config.

| fault / setting | outcome |
|---|---|
| a search on a 2-worker local cluster (simple GA: decisions use fitness) | equals the serial run (journal, search state, trainings, weight files, best list) |
| the same over TLS (``tls: true``, temporary certificates) | equals the serial run; the scheduler address is ``tls://127.0.0.1``; a hard timeout is said not to be enforced |
| a worker process dies (``os._exit``) on its first run of one candidate | Dask runs it again on a fresh worker; the run equals the serial run |
| a candidate kills its worker on every run, ``retries: 1`` | after 2 lost workers the candidate is ``crashed`` (naming the retries), the run finishes, the rest equals the serial run |
| a client of a separately started scheduler (``scheduler: tcp://127.0.0.1:PORT``) | equals the serial run; the scheduler's ``allowed_failures`` is set to ``retries`` |
| ``distributed`` not installed | one line naming ``pip install "deap_nas[dask]"``, no run directory |
| a scheduler that does not answer | one line naming ``parallel.dask.scheduler``, no run directory |
| bad ``parallel.dask`` values (tcp:// to another host, tls:// without security, ...) | a config error naming the key |
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from deap_nas.runtime.config import parse_config
from deap_nas.runtime.dask_backend import index_from_name
from deap_nas.runtime.schema import ConfigError
from deap_nas.runtime.search import start_run

from . import fault_trainers as F
from .run_helpers import journal, triples
from .test_harness import assert_same_run, config_of, files, meta, run

distributed = pytest.importorskip("distributed")

RANDOM = "random_search-sequential"
GA = "simple_ga-sequential"
DASK = {"backend": "dask", "workers": 2}


def dask(**settings: Any) -> dict[str, Any]:
    return {**DASK, "dask": settings} if settings else dict(DASK)


def dying(**evaluation: Any) -> dict[str, Any]:
    return {"trainer": "tests.fault_trainers:dask_dying_trainer", **evaluation}


def fault_id(ref: Path) -> int:
    """A trained evaluation of the second generation (after a snapshot)."""
    return min(r["eval_id"] for r in journal(ref) if r["generation"] >= 2 and r.get("fake_trainer")
               and not r.get("cached"))


def without(records: list[dict[str, Any]], eid: int) -> list[tuple[int, str, tuple[float, ...]]]:
    return [t for t in triples(records) if t[0] != eid]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dask")


@pytest.fixture(scope="module")
def ref_random(workdir) -> Path:
    return run(config_of(RANDOM), workdir / "ref-random")


# ---------------------------------------------------------------------- equal results
def test_a_dask_search_equals_the_serial_run(workdir):
    want = run(config_of(GA), workdir / "ref-ga")
    got = run(config_of(GA, parallel=DASK), workdir / "dask-ga")
    assert_same_run(got, want)
    workers = {r["worker"].rpartition(":")[2] for r in journal(got) if r.get("fake_trainer")}
    assert len(workers) == 2, "both local workers should have trained"


def test_a_tls_cluster_equals_the_serial_run_and_says_the_hard_timeout_is_not_enforced(workdir, ref_random, capsys):
    got = run(config_of(RANDOM, parallel=dask(tls=True), evaluation={"hard_timeout": 60},
                        output={"progress": True}), workdir / "dask-tls")
    assert_same_run(got, ref_random)
    err = capsys.readouterr().err
    assert "dask (local cluster x2 on 127.0.0.1 (TLS))" in err
    assert err.count("evaluation.hard_timeout is not enforced by the dask backend") == 1


def test_a_remote_scheduler_client_equals_the_serial_run(workdir, ref_random):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  silence_logs=40) as cluster:
        got = run(config_of(RANDOM, parallel=dask(scheduler=cluster.scheduler_address, retries=4)),
                  workdir / "dask-remote")
        assert cluster.scheduler.allowed_failures == 4
    assert_same_run(got, ref_random)


# ---------------------------------------------------------------------- lost workers
def test_a_worker_lost_mid_task_is_retried_and_the_run_equals_the_serial_run(workdir, ref_random, monkeypatch):
    x = fault_id(ref_random)
    folder = workdir / "once"
    folder.mkdir()
    monkeypatch.setenv(F.AT, str(x))
    monkeypatch.setenv(F.DIR, str(folder))
    got = run(config_of(RANDOM, evaluation=dying(), parallel=DASK), workdir / "dask-once")
    assert (folder / f"died-{x}").exists(), "the fault was not injected"
    assert_same_run(got, ref_random)


def test_a_candidate_that_kills_every_worker_is_crashed_once_retries_run_out(workdir, ref_random, monkeypatch):
    x = fault_id(ref_random)
    monkeypatch.setenv(F.AT, str(x))
    monkeypatch.delenv(F.DIR, raising=False)
    got = run(config_of(RANDOM, evaluation=dying(), parallel=dask(retries=1)), workdir / "dask-exhausted")
    recs = journal(got)
    rec = next(r for r in recs if r["eval_id"] == x)
    assert rec["status"] == "crashed" and rec["fitness"] == [0.0] and rec["weights"] is None
    assert "lost 2 times (parallel.dask.retries: 1)" in rec["message"]
    assert without(recs, x) == without(journal(ref_random), x)
    assert files(got, "weights") == {k: v for k, v in files(ref_random, "weights").items() if k != f"{x:06d}.pt"}
    assert meta(got)["status"] == "finished"


# ---------------------------------------------------------------------- refused before anything is written
def test_without_distributed_the_run_is_refused_in_one_line(workdir, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    target = workdir / "no-distributed"
    with pytest.raises(ConfigError, match=r'^parallel\.backend: dask needs the distributed package: '
                                          r'pip install "deap_nas\[dask\]"$'):
        start_run(parse_config(config_of(RANDOM, parallel=DASK)), target)
    assert not target.exists()


def test_a_scheduler_that_does_not_answer_is_refused_before_the_run_starts(workdir):
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = workdir / "no-scheduler"
    started = time.monotonic()
    with pytest.raises(ConfigError, match=rf"^parallel\.dask\.scheduler: cannot reach tcp://127\.0\.0\.1:{port}: "):
        start_run(parse_config(config_of(RANDOM, parallel=dask(scheduler=f"tcp://127.0.0.1:{port}"))), target)
    assert not target.exists() and time.monotonic() - started < 10


@pytest.mark.parametrize("settings, message", [
    ({"scheduler": "tcp://10.0.0.5:8786"}, r"scheduler: tcp://10\.0\.0\.5:8786 is unauthenticated .* allow_insecure"),
    ({"scheduler": "tls://10.0.0.5:8786"}, r"security: a tls:// scheduler needs"),
    ({"scheduler": "10.0.0.5:8786"}, r"scheduler: expected 'tls://host:port'"),
    ({"scheduler": "tcp://h:99999"}, r"scheduler: expected"),
    ({"scheduler": "tcp://10.0.0.5:8786", "security": {"ca_file": "ca.pem", "cert": "c.pem"}},
     r"security: TLS files need a tls:// scheduler"),
    ({"scheduler": "tls://h:8786", "security": {"cert": "c.pem"}}, r"security\.ca_file: give the path"),
    ({"scheduler": "tls://h:8786", "tls": True, "security": {"ca_file": "a", "cert": "b"}}, r"tls: a local-cluster"),
    ({"security": {"ca_file": "a", "cert": "b"}}, r"security: TLS files are for a remote scheduler"),
    ({"allow_insecure": True}, r"allow_insecure: only for a remote tcp://"),
    ({"retries": -1}, r"retries: must be >= 0"),
    ({"threads_per_worker": 0}, r"threads_per_worker: must be >= 1"),
    ({"resources": {"GPU": 0}}, r"resources: GPU must be > 0"),
    ({"resources": {"GPU": "one"}}, r"resources: expected a mapping or null"),
    ({"workers": 4}, r"workers: unknown key"),
    ({"tls": "yes"}, r"tls: expected true or false"),
])  # fmt: skip
def test_bad_dask_settings_are_one_line_errors_naming_the_key(settings, message):
    with pytest.raises(ConfigError, match=rf"^parallel\.dask\.{message}") as e:
        parse_config(config_of(RANDOM, parallel=dask(**settings)))
    assert "\n" not in str(e.value)


def test_accepted_dask_settings_round_trip_and_leave_the_fingerprint_alone():
    plain = parse_config(config_of(RANDOM))
    for settings in ({"scheduler": "tcp://127.0.0.1:8786"}, {"scheduler": "tcp://10.0.0.5:8786", "allow_insecure": True},
                     {"scheduler": "tls://[::1]:8786", "security": {"ca_file": "ca.pem", "cert": "c.pem", "key": "k"}},
                     {"tls": True, "retries": 0, "resources": {"GPU": 0.5}, "threads_per_worker": 2}):
        config = parse_config(config_of(RANDOM, parallel=dask(**settings)))
        assert parse_config(config.to_dict()) == config
        assert config.fingerprint() == plain.fingerprint()
    assert "dask" not in plain.to_dict()["parallel"]  # earlier runs' config.yaml stays as it was


def test_a_worker_index_comes_from_its_name():
    assert [index_from_name(n) for n in (0, 3, "gpu-host-2", "tcp://10.0.0.1:4567")] == [0, 3, 2, 4567]
    assert index_from_name("alpha") == index_from_name("alpha") > 9


def test_a_local_cluster_uses_tls_unless_told_not_to() -> None:
    """Other users of the host cannot reach a default local cluster: TLS is on by default;
    ``tls`` is refused for a remote scheduler, which has its own security."""
    from deap_nas.runtime.config import DaskConfig
    from deap_nas.runtime.dask_backend import local_tls

    assert local_tls(None) and local_tls(DaskConfig()) and local_tls(DaskConfig(tls=True))
    assert not local_tls(DaskConfig(tls=False))
    assert not local_tls(DaskConfig(scheduler="tcp://127.0.0.1:8786"))
    with pytest.raises(ValueError, match="tls: a local-cluster setting"):
        DaskConfig(scheduler="tcp://127.0.0.1:8786", tls=False)
