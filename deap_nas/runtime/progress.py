"""Progress display during a search: one line per generation, one per evaluation."""

from __future__ import annotations

import math
import sys
from typing import Any, TextIO

from ..algorithms import Budget, SearchControl, SearchState


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def _eta(budget: Budget, control: SearchControl) -> float:
    """Seconds left by the tightest of the evaluation, generation and time budgets."""
    u = control.usage
    rate = u.seconds / max(u.evaluations, 1)
    candidates = []
    if budget.evaluations is not None:
        candidates.append((budget.evaluations - u.evaluations) * rate)
    if budget.generations is not None and u.generations:
        candidates.append((budget.generations - u.generations) * u.seconds / u.generations)
    if budget.hours is not None:
        candidates.append(budget.hours * 3600 - u.seconds)
    return max(0.0, min(candidates)) if candidates else math.inf


class Progress:
    """Prints to ``stream`` (stderr by default); ``enabled=False`` silences it."""

    def __init__(self, control: SearchControl, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.control = control
        self.enabled = enabled
        self.stream = stream or sys.stderr

    def line(self, text: str) -> None:
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def __call__(self, state: SearchState) -> None:
        c, b, u = self.control, self.control.budget, self.control.usage
        rec: dict[str, Any] = state.logbook[-1] if state.logbook else {}
        budget = f"/{b.evaluations}" if b.evaluations is not None else ""
        per_hour = u.evaluations / u.seconds * 3600 if u.seconds > 0 else 0.0
        if "hypervolume" in rec:  # a multi-objective loop: the front, not a best accuracy
            result = (f"front {rec.get('front')} | hypervolume {_acc(rec.get('hypervolume'))} | "
                      f"best accuracy {_acc(rec.get('best_accuracy'))}")
        else:
            best_so_far = state.hall_of_fame[0].fitness.values[0] if len(state.hall_of_fame) else math.nan
            result = (f"best {_acc(rec.get('best'))} mean {_acc(rec.get('mean'))} | "
                      f"best so far {_acc(best_so_far)}")
        self.line(
            f"gen {state.generation:>3} | evals {u.evaluations}{budget} ({u.trained} trained) | "
            f"{result} | {per_hour:.0f} evals/h | "
            f"elapsed {_duration(u.seconds)} ETA {_duration(_eta(b, c))}"
        )


def _acc(v: Any) -> str:
    """An accuracy for the progress line; "-" when there is none (e.g. a generation
    whose children were all discarded early, a generation of failed evaluations)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "-"
    return f"{x:.4f}" if math.isfinite(x) else "-"
