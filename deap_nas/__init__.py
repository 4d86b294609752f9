"""deap_nas: evolutionary neural architecture search on DEAP and PyTorch.

Layers (see docs/architecture.md): ``arch`` (the shared architecture description, pure Python),
``nn`` (PyTorch builder), ``evaluation`` (data and training engine), ``spaces``,
``ops`` and ``algorithms`` (genomes, DEAP operators and loops, torch-free) and
``runtime`` (config, parallel map, run directories).
"""

__version__ = "0.1.0"
