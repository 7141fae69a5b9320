"""Where the notebooks find their database, and the day their analyses look from."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from .. import localtime
from ..store import db, settings
from .common import AS_OF

DB_ENV = "OPEVAL_DB"


def demo_database(default: str | Path = "../data/opeval.duckdb") -> tuple[Path, dt.date]:
    """``(path, as_of)`` of the database a notebook explores.

    The path is ``$OPEVAL_DB``, else ``default`` (the notebooks' folder sits
    beside ``data/``); a missing file raises FileNotFoundError saying how to
    make one. ``as_of`` is the last day of the demo world, a date: the local day
    (of the database's time zone) that ends at its ``demo_as_of`` setting
    (``opeval demo`` stores the world's end, 2025-07-01 00:00), else at
    :data:`evaluation.demo.AS_OF`. A date means the end of that day for every
    analysis and command (:mod:`evaluation.period`), so ``--as-of 2025-06-30``
    and ``as_of=dt.date(2025, 6, 30)`` look from the world's end.
    """
    path = Path(os.environ.get(DB_ENV, default)).resolve()
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `opeval demo` from the repository "
                                f"root or set {DB_ENV}")
    con = db.connect(path, read_only=True)
    try:
        setting = db.get_setting(con, "demo_as_of")
        zone = settings.timezone(con)
    finally:
        con.close()
    end = (pd.Timestamp(setting) if setting else AS_OF).to_pydatetime()
    return path, localtime.local_date(end - dt.timedelta(microseconds=1), zone)
