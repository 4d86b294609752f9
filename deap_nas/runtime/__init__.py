"""deap_nas.runtime (filled by later issues)."""
