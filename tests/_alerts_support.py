"""Hand-made stores for the alert tests: rows put into a database file, and one alert run."""
from __future__ import annotations

import datetime as dt

from evaluation.alerts.engine import run
from evaluation.store import db
from outages_fixtures import insert

NOW = dt.datetime(2025, 7, 1, 6, 0)
"""The clock of the runs (loads are dated by the clock, the data by their own times)."""


def put(path, **rows: list[dict]) -> None:
    """Insert rows (dicts; missing columns NULL) into tables of the store at ``path``."""
    con = db.connect(path)
    try:
        for name, data in rows.items():
            insert(con, name, data)
    finally:
        con.close()


def sql(path, statement: str, params=()) -> None:
    con = db.connect(path)
    try:
        con.execute(statement, list(params))
    finally:
        con.close()


def once(path, rule: str, **kw):
    """One run of one rule (no delivery); returns (fired, cleared) as lists of keys."""
    r = run(path, rules=[rule], now=kw.pop("now", NOW), **kw)
    assert not r.errors, r.errors
    return [e.alert.key for e in r.fired], [e.alert.key for e in r.cleared]


# ------------------------------------------------------------------ a fibre network

DAY = dt.datetime(2025, 3, 3, 9, 0)


def _iv(ref, pm, day, do="DOAA", hf=True):
    hd = DAY + dt.timedelta(days=day)
    return {"ref_interv_oi": ref, "ref_interv_do": "D-" + ref, "code_do": do, "code_oi": "OI01",
            "pm_id": pm, "started_at": hd, "ended_at": hd + dt.timedelta(hours=1) if hf else None,
            "m1_received_at": hd, "m3_received_at": hd + dt.timedelta(hours=1)}


def _m5(ref, day, oc="OCAA"):
    return {"ref_interv_oi": ref, "code_oc": oc, "clients_hs": 0,
            "received_at": DAY + dt.timedelta(days=day, hours=2)}


def _pms(*ids):
    return [{"pm_id": p, "oi_code": "OI01", "lines": 100} for p in ids]


def _cut(pm, ref, day, n, oc="OCAA"):
    return {"code_oc": oc, "pm_id": pm, "pto": f"FI-{pm}-{n:04d}", "ref_interv_oi": ref,
            "cut_at": DAY + dt.timedelta(days=day, minutes=30)}
