"""TensorBoard event files of a run (``output.tensorboard: true``), in RUN/tensorboard/.

Two writers (two TensorBoard "runs"), each with its own step axis:

- ``evaluations/`` (step: ``eval_id``), one set per journal record as it is appended:
  ``evaluation/fitness`` (the journal's fitness, penalty for failures),
  ``evaluation/accuracy`` (successful records), ``evaluation/params``,
  ``evaluation/seconds`` (``time_total`` of a training; not for cache hits), and when a
  successful record beats every earlier one ``best/accuracy`` with the image
  ``best/architecture`` (its drawing: Graphviz ``dot`` when installed, else matplotlib).
- ``generations/`` (step: the logbook's ``gen``), after each snapshot: every numeric
  logbook column as ``generation/<column>`` (best, mean, std, worst, failed, nevals,
  ...), ``usage/evaluations``, ``usage/hours``, ``usage/device_hours``, and the image
  ``front/accuracy_vs_params`` (every successful training and the Pareto front) whenever
  the front has changed since it was last drawn.

**Resume.** Each writer starts with a ``purge_step``: TensorBoard hides the older events
at and after it. For evaluations it is the snapshot's id counter (or its lowest in-flight
id), and the journal records from there on are written again at once (the resumed run
reuses them without journaling them again); for generations it is the snapshot's last
logbook row, written again from the snapshot. So events written by the interrupted run
after its snapshot never show twice, and none journaled before the kill are lost. A
resume that finds no event files (the option switched on at the resume) writes the whole
journal and the snapshot's logbook. The
CSV / JSON files of the run directory are written as without this option.

Needs the ``tensorboard`` package (``pip install 'deap_nas[tensorboard]'``);
:func:`check_tensorboard` refuses a config that asks for it without the package.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .schema import ConfigError
from .snapshot import in_flight_ids

__all__ = ["EVALUATIONS", "GENERATIONS", "INSTALL_HINT", "TensorBoardLog", "check_tensorboard", "purge_steps"]

INSTALL_HINT = "output.tensorboard needs the tensorboard package: pip install 'deap_nas[tensorboard]'"
EVALUATIONS, GENERATIONS = "evaluations", "generations"
_EVENT_FILE = re.compile(r"events\.out\.tfevents\.(\d+)\.")


def check_tensorboard() -> None:
    """ConfigError (one line, the install command) unless TensorBoard logging can run."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None


def _number(value: Any) -> float | None:
    """A finite float, else None (bools, strings, lists, nan)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def purge_steps(snapshot: Mapping[str, Any] | None) -> tuple[int, int]:
    """``(evaluation step, generation step)`` from which a resume writes events again."""
    if snapshot is None:
        return 0, 0
    ids = [int(snapshot.get("next_eval_id", 0)), *in_flight_ids(dict(snapshot))]
    logbook = snapshot.get("logbook") or []
    gen = _number(logbook[-1].get("gen")) if logbook else None
    return min(ids), int(gen) if gen is not None else 0


def _event_files(folder: Path) -> list[Path]:
    return [p for p in folder.glob("events.out.tfevents.*") if _EVENT_FILE.match(p.name)] if folder.is_dir() else []


def _after_older_files(folder: Path) -> None:
    """Wait until the clock second is later than every event file's in ``folder``:
    TensorBoard reads the files in name order (which starts with the second), and a
    purge must come after the events it hides."""
    stamps = [int(m.group(1)) for p in _event_files(folder) if (m := _EVENT_FILE.match(p.name))]
    if stamps:
        wait = max(stamps) + 1 - time.time()
        if wait > 0:
            time.sleep(wait)


class TensorBoardLog:
    """The event writers of one run (module doc); ``evaluation`` is the evaluator's
    journal hook, ``generation`` the snapshot hook; ``close`` at the end."""

    def __init__(self, run_dir: str | Path, snapshot: Mapping[str, Any] | None = None,
                 journal: Sequence[Mapping[str, Any]] = (), log: Callable[[str], None] | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        root = Path(run_dir) / "tensorboard"
        eval_step, gen_step = purge_steps(snapshot)
        if not _event_files(root / EVALUATIONS) and not _event_files(root / GENERATIONS):
            eval_step = gen_step = 0  # first events of this run (e.g. switched on at a resume): all of it
        writers = []
        for name, step in ((EVALUATIONS, eval_step), (GENERATIONS, gen_step)):
            (root / name).mkdir(parents=True, exist_ok=True)
            _after_older_files(root / name)
            writers.append(SummaryWriter(str(root / name), purge_step=step))
        self.evals, self.gens = writers
        self.log = log
        self.best = -math.inf
        self.records: dict[int, dict[str, Any]] = {}  # what the front figure needs, by eval_id
        self._front: tuple[int, ...] | None = None  # the front last drawn
        self._warned: set[str] = set()
        for rec in journal:  # before the purge step: known, not written again
            if isinstance(rec.get("eval_id"), int) and rec["eval_id"] < eval_step:
                self._remember(rec)
        for rec in journal:
            if isinstance(rec.get("eval_id"), int) and rec["eval_id"] >= eval_step:
                self.evaluation(rec)
        logbook = list((snapshot or {}).get("logbook") or [])
        self._rows = max(len(logbook) - 1, 0) if gen_step else 0
        self.generation(logbook, (snapshot or {}).get("usage"), front=False)

    # ------------------------------------------------------------------ evaluations
    def _remember(self, rec: Mapping[str, Any]) -> bool:
        """Keep what the front needs; True when ``rec`` is a new best accuracy."""
        keys = ("status", "accuracy", "params", "generation", "arch_hash", "cached")
        self.records[rec["eval_id"]] = {k: rec.get(k) for k in keys}
        acc = _number(rec.get("accuracy"))
        if rec.get("status") == "ok" and acc is not None and acc > self.best:
            self.best = acc
            return True
        return False

    def evaluation(self, rec: Mapping[str, Any]) -> None:
        """Scalars of one journal record (and the best network's drawing when it improves)."""
        step = rec.get("eval_id")
        if not isinstance(step, int) or isinstance(step, bool):
            return
        fitness = rec.get("fitness")
        values = {
            "evaluation/fitness": fitness[0] if isinstance(fitness, list) and fitness else None,
            "evaluation/accuracy": rec.get("accuracy") if rec.get("status") == "ok" else None,
            "evaluation/params": rec.get("params"),
            "evaluation/seconds": None if rec.get("cached") else rec.get("time_total"),
        }
        for tag, value in values.items():
            if (v := _number(value)) is not None:
                self.evals.add_scalar(tag, v, step)
        if self._remember(rec):
            self.evals.add_scalar("best/accuracy", self.best, step)
            self._draw_best(rec, step)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            if self.log is not None:
                self.log(message)

    def _draw_best(self, rec: Mapping[str, Any], step: int) -> None:
        from ..analysis.arch_drawing import architecture_image, has_dot
        from ..arch import Architecture

        if not isinstance(rec.get("architecture"), Mapping):
            return
        if not has_dot():
            self._warn_once("dot", "tensorboard: Graphviz dot not found; architecture images drawn with matplotlib")
        try:
            image = architecture_image(Architecture.from_dict(rec["architecture"]))
        except Exception as e:  # a drawing never stops the search
            self._warn_once("draw", f"tensorboard: architecture images skipped ({type(e).__name__}: {e})")
            return
        self.evals.add_image("best/architecture", image, step, dataformats="HWC")

    # ------------------------------------------------------------------ generations
    def generation(self, logbook: Sequence[Mapping[str, Any]], usage: Mapping[str, Any] | None = None,
                   front: bool = True) -> None:
        """The logbook rows not written yet (``usage`` with the last), the front when it
        changed (``front``), then flush both writers."""
        rows = list(logbook)[self._rows:]
        step = None
        for k, row in enumerate(rows):
            gen = _number(row.get("gen"))
            step = int(gen) if gen is not None else self._rows + k
            for key, value in row.items():
                if key != "gen" and (v := _number(value)) is not None:
                    self.gens.add_scalar(f"generation/{key}", v, step)
        self._rows = len(logbook)
        if step is not None and usage:
            scale = {"evaluations": ("evaluations", 1.0), "trained": ("trained", 1.0),
                     "seconds": ("hours", 3600.0), "device_seconds": ("device_hours", 3600.0)}  # fmt: skip
            for key, (name, div) in scale.items():
                if (v := _number(usage.get(key))) is not None:
                    self.gens.add_scalar(f"usage/{name}", v / div, step)
        if front and step is not None:
            self._draw_front(step)
        self.evals.flush()
        self.gens.flush()

    def _draw_front(self, step: int) -> None:
        from ..analysis.arch_drawing import figure_rgb
        from ..analysis.plots import pareto_front, plot_accuracy_vs_params

        ok = [(i, r) for i, r in sorted(self.records.items())
              if r["status"] == "ok" and not r.get("cached") and _number(r["accuracy"]) is not None
              and (_number(r["params"]) or 0) > 0]  # fmt: skip
        front = tuple(ok[k][0] for k in pareto_front([(float(r["params"]), float(r["accuracy"])) for _, r in ok]))
        if not front or front == self._front:
            return
        self._front = front
        fig = plot_accuracy_vs_params(list(self.records.values()), None, run_name=f"generation {step}")
        self.gens.add_image("front/accuracy_vs_params", figure_rgb(fig), step, dataformats="HWC")

    def close(self) -> None:
        """Flush and close both writers."""
        self.evals.close()
        self.gens.close()
