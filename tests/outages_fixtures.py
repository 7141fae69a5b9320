"""Hand-made fibre-network stores for the outage and blacklist tests.

``store(**rows)`` creates an in-memory opeval store (the real schema) and
inserts the given rows (dicts; missing columns are NULL; line references
normalised as the loaders store them), returning the Ibis tables the analyses
take. ``D(...)`` builds a timestamp on 2025-03-03.
"""
from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from evaluation.store import db
from evaluation.store.engine import Tables
from evaluation.store.schema import TABLES, normalise_reference

DAY = dt.date(2025, 3, 3)


def D(hms: str, day: int = 0) -> dt.datetime:
    """``HH:MM:SS`` on 2025-03-03 (+ ``day`` days)."""
    h, m, s = map(int, hms.split(":"))
    return dt.datetime.combine(DAY + dt.timedelta(days=day), dt.time(h, m, s))


def insert(con, name: str, data: list[dict]) -> None:
    """Insert rows (dicts; missing columns NULL, references normalised as a load does) into
    contract table ``name``."""
    table = TABLES[name]
    cols = table.column_names
    refs = {c.name for c in table.columns if c.reference}
    df = pd.DataFrame([{c: normalise_reference(r.get(c)) if c in refs else r.get(c)
                        for c in cols} for r in data], columns=list(cols))
    df = df.astype(object).where(df.notna(), None)
    con.register("__rows", df)
    col_list = ", ".join(f'"{c}"' for c in cols)
    con.execute(f'INSERT INTO "{name}" ({col_list}) SELECT {col_list} FROM __rows')
    con.unregister("__rows")


def store(**rows: list[dict]) -> Tables:
    con = db.connect(":memory:")
    for name in ("pms", "interventions", "intervention_targets", "outage_reports", "outages"):
        data = rows.get(name, [])
        if not data:
            continue
        insert(con, name, data)
    return Tables(ibis.duckdb.from_connection(con),
                  settings=dict(con.execute("SELECT key, value FROM meta").fetchall()))


def interv(ref: str, pm: str, hd: dt.datetime, hf: dt.datetime | None, do: str = "DOAA",
           m1: dt.datetime | None = None, m3: dt.datetime | None = None) -> dict:
    return {"ref_interv_oi": ref, "ref_interv_do": "D-" + ref, "code_do": do, "code_oi": "OI01",
            "pm_id": pm, "started_at": hd, "ended_at": hf,
            "m1_received_at": m1 if m1 is not None else hd,
            "m3_received_at": m3 if m3 is not None else hf}


def cut(pm: str, pto: str | None, at: dt.datetime, oc: str = "OC01", ref: str | None = None,
        cause: str | None = None, churned: bool = False,
        restored: dt.datetime | None = None) -> dict:
    return {"code_oc": oc, "pm_id": pm, "pto": pto, "cut_at": at, "restored_at": restored,
            "cause": cause, "churned": churned, "ref_interv_oi": ref}


def report(ref: str, oc: str = "OC01", n: int = 0, at: dt.datetime | None = None) -> dict:
    return {"ref_interv_oi": ref, "code_oc": oc, "received_at": at, "clients_hs": n}


def pm(pm_id: str, lines: int = 100) -> dict:
    return {"pm_id": pm_id, "oi_code": "OI01", "lines": lines}
