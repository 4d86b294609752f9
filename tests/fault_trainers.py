"""Trainers and pool functions that inject worker faults (tests/test_faults_workers.py).

Which evaluation a fault hits comes from environment variables, read in the worker
(spawned workers inherit the environment of the run that starts them):

- ``DEAP_NAS_FAULT_AT``: the evaluation id that dies (:func:`dying_trainer`), hangs
  (:func:`hanging_trainer`) or fails as an ordinary crash (:func:`failing_trainer`);
- ``DEAP_NAS_FAULT_DIR``: :func:`killing_trainer`'s folder (see there), and where
  :func:`dask_dying_trainer` leaves its marker.

Every other evaluation is :func:`deap_nas.testing.fake_trainer`. A fault that would
end the process (``os._exit``, sleeping for ever) happens only in a worker process,
never in a serial run's main process (the test run itself).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

from deap_nas.runtime.journal import read_journal
from deap_nas.testing import fake_trainer

AT = "DEAP_NAS_FAULT_AT"
DIR = "DEAP_NAS_FAULT_DIR"


def _hit(task: Any) -> bool:
    return str(task.eval_id) == os.environ.get(AT) and multiprocessing.parent_process() is not None


def dying_trainer(task: Any) -> dict[str, Any]:
    """Evaluation ``$DEAP_NAS_FAULT_AT`` kills its worker as a segfault's exit would."""
    if _hit(task):
        os._exit(139)
    return fake_trainer(task)


def hanging_trainer(task: Any) -> dict[str, Any]:
    """Evaluation ``$DEAP_NAS_FAULT_AT`` blocks for ever inside one call."""
    if _hit(task):
        time.sleep(10_000)
    return fake_trainer(task)


def failing_trainer(task: Any) -> dict[str, Any]:
    """Evaluation ``$DEAP_NAS_FAULT_AT`` fails as an ordinary crashed candidate (the
    reference for :func:`dying_trainer`: same status and fitness)."""
    if str(task.eval_id) == os.environ.get(AT):
        return {"status": "crashed", "message": "failed", "accuracy": None, "weights": None, "fake_trainer": True}
    return fake_trainer(task)


def killing_trainer(task: Any) -> dict[str, Any]:
    """:func:`fake_trainer`, logging each call to ``$DEAP_NAS_FAULT_DIR/trained.log``.
    Evaluation ``$DEAP_NAS_FAULT_AT`` (while ``$DEAP_NAS_FAULT_DIR/kill`` exists) waits
    until the run's journal holds the next evaluation's record (at most 20 s), then kills
    the main process with SIGKILL before answering: a kill -9 of a parallel run after a
    later evaluation finished and before an earlier one did."""
    folder = Path(os.environ[DIR])
    with open(folder / "trained.log", "a") as f:
        f.write(f"{task.eval_id}\n")
    marker = folder / "kill"
    if _hit(task) and marker.exists():
        journal = Path(task.weights_path).parent.parent / "journal.jsonl"
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if journal.exists() and any(r["eval_id"] == task.eval_id + 1 for r in read_journal(journal)):
                break
            time.sleep(0.05)
        marker.unlink()
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(10_000)  # the worker ends when it sees its parent gone
    return fake_trainer(task)


# ---------------------------------------------------------------------- pool functions
def square(x: int) -> int:
    return x * x


def die(code: int) -> None:
    os._exit(code)


def sleep_then(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def pid(_: Any = None) -> int:
    return os.getpid()


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def dask_dying_trainer(task: Any) -> dict[str, Any]:
    """Evaluation ``$DEAP_NAS_FAULT_AT`` kills its (Dask) worker process: on its first
    run only when ``$DEAP_NAS_FAULT_DIR`` is set (a marker file there remembers it), on
    every run otherwise."""
    if _hit(task):
        folder = os.environ.get(DIR)
        marker = Path(folder) / f"died-{task.eval_id}" if folder else None
        if marker is None or not marker.exists():
            if marker is not None:
                marker.touch()
            os._exit(1)
    return fake_trainer(task)
