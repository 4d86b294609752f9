"""The fitness and individual classes of deap_nas (docs/architecture.md, docs/deap.md).

They are built as ``deap.creator.create`` builds its classes (a ``base.Fitness`` subclass
with ``weights``; a ``list`` / ``dict`` subclass whose ``__init__`` gives each instance a
fresh ``fitness``), but as plain module-level classes: nothing is put into
``deap.creator``, so a user's ``creator.create("FitnessMax", ...)`` neither collides with
them (no overwrite warning) nor replaces them, and a ``creator.FitnessMax`` the user made
earlier (with other weights) is never reused here. Being module-level, they pickle by
reference, so SCOOP, process-pool and Dask workers unpickle individuals to the same
classes. Genomes hold plain Python values only.
"""

from __future__ import annotations

from typing import Any

from deap import base


class FitnessMax(base.Fitness):
    """One objective, maximised (validation accuracy)."""

    weights = (1.0,)


_FITNESS_CLASSES: dict[tuple[float, ...], type[base.Fitness]] = {}


def fitness_class(weights: tuple[float, ...] | list[float]) -> type[base.Fitness]:
    """The fitness class with these DEAP ``weights`` (one class per weight tuple, made once):
    ``(1.0,)`` is :class:`FitnessMax`; a multi-objective search (docs/objectives.md) uses
    e.g. ``(1.0, -1.0)``: maximise accuracy, minimise parameters. Its instances pickle by
    their weights, so workers and copies get the same class back."""
    key = tuple(float(w) for w in weights)
    if not key or any(w == 0 or w != w for w in key):
        raise ValueError(f"fitness weights: a non-empty tuple of non-zero numbers, got {tuple(weights)!r}")
    if key == FitnessMax.weights:
        return FitnessMax
    cls = _FITNESS_CLASSES.get(key)
    if cls is None:
        cls = type(f"Fitness{_weights_name(key)}", (VectorFitness,), {"weights": key, "__module__": __name__})
        _FITNESS_CLASSES[key] = cls
    return cls


def _weights_name(weights: tuple[float, ...]) -> str:
    return "".join("Max" if w > 0 else "Min" for w in weights)


class VectorFitness(base.Fitness):
    """Base of the classes :func:`fitness_class` makes (several objectives)."""

    weights = (1.0, 1.0)

    def __reduce__(self) -> tuple:
        return _rebuild_fitness, (self.weights, self.wvalues)


def _rebuild_fitness(weights: tuple[float, ...], wvalues: tuple[float, ...]) -> base.Fitness:
    fit = fitness_class(weights)()
    fit.wvalues = tuple(wvalues)
    return fit


def set_fitness(ind: Any, values: Any, weights: tuple[float, ...] | None = None) -> None:
    """``ind.fitness.values = values``, first giving ``ind`` a fitness of ``weights``
    (:func:`fitness_class`) when its own has other weights: DEAP would silently drop the
    values past its weights' length. Without ``weights`` a length mismatch is a ValueError."""
    values = tuple(float(v) for v in (values if isinstance(values, (tuple, list)) else (values,)))
    if weights is not None and tuple(ind.fitness.weights) != tuple(float(w) for w in weights):
        ind.fitness = fitness_class(weights)()
    if len(values) != len(ind.fitness.weights):
        raise ValueError(f"fitness: {len(values)} values for the {len(ind.fitness.weights)} weights "
                         f"{tuple(ind.fitness.weights)} of {type(ind.fitness).__name__}")
    ind.fitness.values = values


class WithFitness:
    """Mixin: a fresh ``fitness`` instance per individual, as ``creator.create`` gives; a new
    individual class is ``class MyIndividual(WithFitness, list)`` (``fitness_class`` to change it)."""

    fitness_class: type[base.Fitness] = FitnessMax

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.fitness = self.fitness_class()
        super().__init__(*args, **kwargs)


class ListIndividual(WithFitness, list):
    """A genome that is a list of plain values (layer genes as dicts, numbers, strings)."""


class GraphIndividual(WithFitness, dict):
    """A genome that is a dict of plain values: node and connection genes (``neat`` space)."""


class ImmuneIndividual(WithFitness, list):
    """A list of ImmuNeCS layer genes, each a dict of plain floats in [0, 1] (``immunecs`` spaces)."""


class MiniGenIndividual(WithFitness, list):
    """MiniGen's five cells [channels, blocks, action list] (``minigen`` space)."""


class EigenIndividual(WithFitness, dict):
    """An EIGEN layer graph: a dict of plain values (layers, output, next_id; ``eigen`` space)."""


class GepIndividual(WithFitness, dict):
    """A NASGEP genome: two Karva cell chromosomes and the ADF genes they use (``nasgep`` space)."""


__all__ = [
    "EigenIndividual",
    "FitnessMax",
    "GepIndividual",
    "GraphIndividual",
    "ImmuneIndividual",
    "ListIndividual",
    "MiniGenIndividual",
    "VectorFitness",
    "WithFitness",
    "fitness_class",
    "set_fitness",
]
