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
    "WithFitness",
]
