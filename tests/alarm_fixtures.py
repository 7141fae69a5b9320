"""Hand-made alarm tables for the alarm-analysis tests (Ibis memtables with the contract's types)."""
from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from evaluation.store.schema import TABLES

T0 = dt.datetime(2024, 5, 6, 0, 0, 0)  # a Monday, 00:00 UTC

_TYPES = {"VARCHAR": "string", "INTEGER": "int64", "TIMESTAMP": "timestamp"}


def at(seconds: float = 0, **kw) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds, **kw)


def alarm_table(rows: list[dict]) -> ibis.Table:
    """Rows (dicts with any subset of the alarms columns) as an Ibis table."""
    cols = TABLES["alarms"].columns
    schema = ibis.schema({c.name: _TYPES[c.type] for c in cols})
    data = {c.name: [r.get(c.name) for r in rows] for c in cols}
    df = pd.DataFrame(data)
    for c in cols:
        if c.type == "TIMESTAMP":
            df[c.name] = pd.to_datetime(df[c.name])
        elif c.type == "INTEGER":
            df[c.name] = df[c.name].astype("Int64")
        else:
            df[c.name] = df[c.name].astype(object)
    return ibis.memtable(df, schema=schema)


def raises(definition: str, seconds: list[float], resource: str = "R1", system: str = "S1",
           prefix: str | None = None, **extra) -> list[dict]:
    """One alarm per raise time (seconds after T0) of one definition on one resource."""
    p = prefix or f"{system}-{definition}-{resource}"
    return [dict(alarm_id=f"{p}-{i:05d}", system_id=system, definition=definition,
                 resource_id=resource, raised_at=at(s), **extra) for i, s in enumerate(seconds)]
