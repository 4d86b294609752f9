"""Every ``deap.creator`` type of deap_nas, created once at import (docs/architecture.md).

SCOOP workers and spawned processes import this module too, so pickled individuals
unpickle to the same classes everywhere. Genomes hold plain Python values only.
"""

from __future__ import annotations

from deap import base, creator

if not hasattr(creator, "FitnessMax"):
    creator.create("FitnessMax", base.Fitness, weights=(1.0,))
if not hasattr(creator, "ListIndividual"):
    # A genome that is a list of plain values (layer genes as dicts, numbers, strings).
    creator.create("ListIndividual", list, fitness=creator.FitnessMax)
if not hasattr(creator, "GraphIndividual"):
    # A genome that is a dict of plain values: node and connection genes (the ``neat`` space).
    creator.create("GraphIndividual", dict, fitness=creator.FitnessMax)

if not hasattr(creator, "ImmuneIndividual"):
    # A list of ImmuNeCS layer genes, each a dict of plain floats in [0, 1] (``immunecs`` spaces).
    creator.create("ImmuneIndividual", list, fitness=creator.FitnessMax)
if not hasattr(creator, "MiniGenIndividual"):
    # MiniGen's five cells [channels, blocks, action list] (``minigen`` space).
    creator.create("MiniGenIndividual", list, fitness=creator.FitnessMax)

if not hasattr(creator, "EigenIndividual"):
    # An EIGEN layer graph: a dict of plain values (layers, output, next_id; ``eigen`` space).
    creator.create("EigenIndividual", dict, fitness=creator.FitnessMax)

if not hasattr(creator, "GepIndividual"):
    # A NASGEP genome: two Karva cell chromosomes and the ADF genes they use (``nasgep`` space).
    creator.create("GepIndividual", dict, fitness=creator.FitnessMax)

FitnessMax = creator.FitnessMax
ListIndividual = creator.ListIndividual
GraphIndividual = creator.GraphIndividual
ImmuneIndividual = creator.ImmuneIndividual
EigenIndividual = creator.EigenIndividual
MiniGenIndividual = creator.MiniGenIndividual
GepIndividual = creator.GepIndividual
