"""deap_nas.algorithms (filled by later issues)."""
