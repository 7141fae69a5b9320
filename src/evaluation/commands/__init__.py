"""One module per ``opeval`` sub-command; see :mod:`evaluation.cli`."""
