"""Analysis of run directories: reports, plots, tables, export, final training, the
neural committee and candidate selection. Everything here reads the plain files of a
run directory (docs/run_directory.md); nothing here drives a search.

Paper-specific figures are registered by space or algorithm name
(:func:`deap_nas.analysis.plots.register_plot`) rather than special-cased.
"""
