"""Defaults shared by the CLI, the dashboards and the notebooks.

The database path comes from ``--db``, else the ``OPEVAL_DB`` environment
variable, else ``data/opeval.duckdb`` under the current directory (where
``make demo`` builds the demo database).
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB = Path("data") / "opeval.duckdb"


def default_db() -> str:
    return os.environ.get("OPEVAL_DB", str(DEFAULT_DB))
