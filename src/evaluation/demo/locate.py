"""Where the notebooks find their database, and the instant their analyses look from."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..store import db
from .common import AS_OF

DB_ENV = "OPEVAL_DB"


def demo_database(default: str | Path = "../data/opeval.duckdb") -> tuple[Path, pd.Timestamp]:
    """``(path, as_of)`` of the database a notebook explores.

    The path is ``$OPEVAL_DB``, else ``default`` (the notebooks' folder sits
    beside ``data/``); a missing file raises FileNotFoundError saying how to
    make one. ``as_of`` is the database's ``demo_as_of`` setting (``opeval demo``
    stores it), else the demo world's end (:data:`evaluation.demo.AS_OF`).
    """
    path = Path(os.environ.get(DB_ENV, default)).resolve()
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `opeval demo` from the repository "
                                f"root or set {DB_ENV}")
    con = db.connect(path, read_only=True)
    try:
        setting = db.get_setting(con, "demo_as_of")
    finally:
        con.close()
    return path, pd.Timestamp(setting) if setting else AS_OF
