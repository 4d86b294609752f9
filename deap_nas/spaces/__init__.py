"""deap_nas.spaces (filled by later issues)."""
