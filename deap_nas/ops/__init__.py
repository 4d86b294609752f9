"""deap_nas.ops (filled by later issues)."""
