"""MiniGen operators: performance score, softmax parent selection, cell crossover, the
three-level mutation and top-k elitism (torch-free).

Zhang, Ebadi & Jing, "MiniGen", sec. III-C (eq. 1 and 2) and IV-D. Every operator draws
only from ``rng`` (default: the ``random`` module, DEAP's stream); operators edit in place
and never touch fitness (docs/architecture.md).

Individuals carry two plain attributes the loop sets (:func:`stamp_birth`):

- ``birth``: the generation the individual was created in (``gen_x``; reset to 0 by the
  restart rule of sec. IV-D);
- ``acc_history``: its mini-test accuracies, one per evaluation ("a result list for each
  network, which maintains a history of its performance scores").

- :func:`performance_score`: eq. 1, ``ps = mean(acc_history) - decay * |gen_c - gen_x|``
  (decay 0.01 in the paper; ``decay=0`` turns the age penalty off).
- :func:`sel_softmax`: eq. 2, ``k`` draws with replacement, individual c with probability
  ``exp(ps_c / T) / sum_j exp(ps_j / T)`` (the paper: T = 1, over the top 5).
- :func:`cx_cells`: uniform crossover at the cell level: each cell is swapped between the
  two parents with probability ``indpb`` (0.5), so each child takes every cell whole from
  one parent.
- :func:`mut_minigen`: the three levels of sec. III-C3b, per cell: the channel size is
  redrawn with ``p_channel`` (P_c), each operation with ``p_op`` (P_o), the whole action list
  with ``p_list`` (P_b); 0.3 / 0.5 / 0.2 in sec. IV-D.
- :func:`sel_top_k`: the k best by performance score (elitism, "keep k = 5 of n = 15").

Our readings (the paper's code is the reference where the text is silent):

- "Reassign a random operation": a redraw may give the same operation back (as
  ``random.choice`` in the authors' code), so a mutation changes an operation with
  probability ``p_op * (m - 1) / m`` for m choices; likewise for channels.
- ``"identity"`` is the skip connection around a block, so only the first position of a
  normal cell may become (or stop being) ``"identity"``; later positions draw from the
  other eight operations (the authors' code does the same).
- Input cell: its two operations are redrawn among its four convolutions; its skip
  connection is a gene of its own, redrawn with ``p_op`` among the five input options
  (``"identity"`` gives the skip, anything else none), which keeps the paper's rule that
  the list is 3 long exactly when it starts with ``"identity"``. Its channel is fixed.
- The authors' code raises every rate by up to 50% in later cells
  (``rate * (1 + 0.5 * i / 4)``); ``depth_ramp`` (default 0: the paper's flat rates)
  reproduces that.
- The channel, operation and list levels run in that order (the authors' code); a list
  redrawn by P_b replaces operations mutated just before.
- eq. 2's softmax over raw scores in [0, 1] is close to uniform; ``temperature`` < 1
  sharpens it (1 = the paper).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from ..spaces.minigen import IDENTITY, INPUT_OPS, NORMAL_OPS, OPERATIONS, MiniGenSpace
from .registry import ANY, register_operator


def stamp_birth(individual: Any, generation: int) -> Any:
    """Stamp a new individual: born in ``generation``, empty accuracy history."""
    individual.birth = int(generation)
    individual.acc_history = []
    return individual


def mean_accuracy(individual: Any) -> float:
    """Mean of ``acc_history`` (the fitness value when there is no history yet)."""
    history = getattr(individual, "acc_history", None) or []
    if history:
        return sum(history) / len(history)
    return individual.fitness.values[0] if individual.fitness.valid else 0.0


def decay_penalty(birth: int, generation: int, decay: float = 0.01) -> float:
    """eq. 1: ``decay * |gen_c - gen_x|`` (0.05 for a net born in generation 3, at 8)."""
    return decay * abs(generation - birth)


def performance_score(individual: Any, generation: int, decay: float = 0.01) -> float:
    """eq. 1: ``ps = mean accuracy - decay * |generation - birth|``."""
    return mean_accuracy(individual) - decay_penalty(getattr(individual, "birth", generation), generation, decay)


def softmax_probabilities(scores: Sequence[float], temperature: float = 1.0) -> list[float]:
    """eq. 2: ``exp(s_c / T) / sum_j exp(s_j / T)`` (computed stably)."""
    if not scores:
        raise ValueError("softmax_probabilities: no scores")
    if not temperature > 0:
        raise ValueError(f"temperature: must be > 0, got {temperature}")
    top = max(scores)
    weights = [math.exp((s - top) / temperature) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


@register_operator("sel_softmax", ANY)
def sel_softmax(individuals: Sequence[Any], k: int, scores: Sequence[float] | None = None,
                temperature: float = 1.0, rng: Any = random) -> list:
    """``k`` individuals drawn with replacement with the probabilities of eq. 2 over
    ``scores`` (default: the first fitness value)."""
    if not individuals:
        raise ValueError("sel_softmax: empty population")
    if scores is None:
        scores = [ind.fitness.values[0] for ind in individuals]
    if len(scores) != len(individuals):
        raise ValueError(f"sel_softmax: {len(scores)} scores for {len(individuals)} individuals")
    probs = softmax_probabilities(list(scores), temperature)
    return rng.choices(list(individuals), weights=probs, k=k)


@register_operator("sel_top_k", ANY)
def sel_top_k(individuals: Sequence[Any], k: int, generation: int = 0, decay: float = 0.01) -> list:
    """The ``k`` best by :func:`performance_score` at ``generation``; ties keep list order."""
    order = sorted(range(len(individuals)), key=lambda i: -performance_score(individuals[i], generation, decay))
    return [individuals[i] for i in order[:k]]


@register_operator("cx_cells", "minigen")
def cx_cells(ind1: Any, ind2: Any, indpb: float = 0.5, rng: Any = random) -> tuple[Any, Any]:
    """Swap each cell (``[c, b, actions]`` whole) between the parents with probability ``indpb``."""
    if len(ind1) != len(ind2):
        raise ValueError(f"cx_cells: genomes of {len(ind1)} and {len(ind2)} cells")
    for i in range(len(ind1)):
        if rng.random() < indpb:
            ind1[i], ind2[i] = ind2[i], ind1[i]
    return ind1, ind2


def _check_rate(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
        raise ValueError(f"{name}: must be a probability in [0, 1], got {v!r}")
    return float(v)


def mutate_actions(actions: list[str], input_cell: bool, p_op: float, rng: Any = random) -> list[str]:
    """Operation level (P_o) of one action list, returning the new list (see module doc)."""
    if input_cell:
        skip = actions[:1] == [IDENTITY]
        body = actions[1:] if skip else list(actions)
        if rng.random() < p_op:
            skip = rng.choice((IDENTITY, *INPUT_OPS)) == IDENTITY
        body = [rng.choice(INPUT_OPS) if rng.random() < p_op else a for a in body]
        return ([IDENTITY] if skip else []) + body
    out = list(actions)
    for j in range(len(out)):
        if rng.random() < p_op:
            out[j] = rng.choice(OPERATIONS if j == 0 and len(out) > 1 else NORMAL_OPS)
    return out


@register_operator("mut_minigen", "minigen")
def mut_minigen(individual: Any, space: MiniGenSpace, p_op: float = 0.5, p_channel: float = 0.3,
                p_list: float = 0.2, depth_ramp: float = 0.0, rng: Any = random) -> tuple[Any]:
    """The three mutation levels of sec. III-C3b on every cell, in place (module doc)."""
    p_op, p_channel, p_list = (_check_rate(n, v) for n, v in (("p_op", p_op), ("p_channel", p_channel),
                                                              ("p_list", p_list)))
    if isinstance(depth_ramp, bool) or not isinstance(depth_ramp, (int, float)) or depth_ramp < 0:
        raise ValueError(f"depth_ramp: must be a number >= 0, got {depth_ramp!r}")
    n = len(individual)
    for i, cell in enumerate(individual):
        scale = 1.0 + depth_ramp * (i / (n - 1) if n > 1 else 0.0)
        c, b, actions = cell
        if i > 0 and rng.random() < min(1.0, p_channel * scale):
            c = rng.choice(space.params.channels)
        actions = mutate_actions(actions, i == 0, min(1.0, p_op * scale), rng)
        if rng.random() < min(1.0, p_list * scale):
            actions = space.random_actions(i, rng)
        individual[i] = [c, b, actions]
    return (individual,)


__all__ = [
    "cx_cells",
    "decay_penalty",
    "mean_accuracy",
    "mutate_actions",
    "mut_minigen",
    "performance_score",
    "sel_softmax",
    "sel_top_k",
    "stamp_birth",
    "softmax_probabilities",
]
