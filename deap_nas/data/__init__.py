"""deap_nas.data (filled by later issues)."""
