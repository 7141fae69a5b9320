"""Analyses: engine-agnostic functions over Ibis tables (no I/O, no Panel)."""
