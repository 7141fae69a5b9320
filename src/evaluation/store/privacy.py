"""Retention, erasure of a customer line, pseudonyms — each recorded in the audit log.

opeval holds customer line references (PTO) in ``outages``,
``intervention_targets``, the raw e-Intervention messages (``messages.body``)
and rejected rows (``quarantine.raw``). Retention is each party's choice
(e-Intervention lot 1, chapter 3); these functions let the operator apply it:

- :func:`purge` deletes the records that ended before a date, in one
  transaction (reference data — systems, devices, PMs — is kept);
- :func:`erase_pto` replaces one PTO reference everywhere by a random token,
  so the line can no longer be linked to a customer while counts stay right
  (the cut still counts, and still matches the intervention's target);
- :func:`pseudonym` gives a keyed hash of a reference (a per-database secret
  key, created on first use), for exports and for the audit log, which must
  prove what was erased without keeping it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets

import duckdb

from . import db

# What "ended before the date" means per table; open records are never purged.
RETENTION: dict[str, str] = {
    "faults": "restored_at IS NOT NULL AND restored_at < $before",
    "maintenance": "coalesce(ended_at, started_at) < $before",
    "alarms": "coalesce(closed_at, cleared_at) < $before",
    "interventions": "coalesce(ended_at, started_at) < $before",
    "outages": "ref_interv_oi IS NULL AND coalesce(restored_at, cut_at) < $before",
    "messages": "received_at < $before",
    "quarantine": "load_id IN (SELECT load_id FROM load_log WHERE finished_at < $before)",
}
# Rows that belong to a purged intervention go with it.
CASCADE = {
    "intervention_targets": "ref_interv_oi IN (SELECT ref_interv_oi FROM __purged_iv)",
    "outage_reports": "ref_interv_oi IN (SELECT ref_interv_oi FROM __purged_iv)",
    "outages": "ref_interv_oi IN (SELECT ref_interv_oi FROM __purged_iv)",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def audit(con: duckdb.DuckDBPyConnection, action: str, subject: str | None,
          details: dict, rows: int) -> None:
    """Append one line to ``audit_log`` (inside the caller's transaction)."""
    con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?)",
                [_now(), action, subject, json.dumps(details, sort_keys=True, default=str), rows])


def pseudonym_key(con: duckdb.DuckDBPyConnection) -> bytes:
    """This database's secret key for pseudonyms, created on first use."""
    key = db.get_setting(con, "pseudonym_key")
    if key is None:
        key = secrets.token_hex(32)
        db.set_setting(con, "pseudonym_key", key)
    return bytes.fromhex(key)


def pseudonym(value: str, key: bytes, prefix: str = "P") -> str:
    """A stable keyed hash of ``value`` (HMAC-SHA256, 16 hex digits): same input, same
    pseudonym in one database; not reversible without the key."""
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16].upper()
    return f"{prefix}-{digest}"


def purge(con: duckdb.DuckDBPyConnection, before: dt.date, dry_run: bool = False) -> dict[str, int]:
    """Delete records that ended before ``before``; return rows per table (all or nothing)."""
    cutoff = dt.datetime.combine(before, dt.time())
    counts: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE __purged_iv AS SELECT ref_interv_oi
            FROM interventions WHERE {RETENTION['interventions']}""", {"before": cutoff})
        for table, cond in CASCADE.items():
            counts[table] = _delete(con, table, cond, {}, dry_run)
        for table, cond in RETENTION.items():
            counts[table] = counts.get(table, 0) + _delete(con, table, cond, {"before": cutoff},
                                                           dry_run)
        total = sum(counts.values())
        if not dry_run:
            audit(con, "purge", f"before {before.isoformat()}", counts, total)
        con.execute("ROLLBACK" if dry_run else "COMMIT")
    except BaseException:
        db.rollback(con)
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS __purged_iv")
    return counts


def _delete(con, table: str, cond: str, params: dict, dry_run: bool) -> int:
    sql = f"FROM {table} WHERE {cond}"
    n = con.execute(f"SELECT count(*) {sql}", params).fetchall()[0][0]
    if n and not dry_run:
        con.execute(f"DELETE {sql}", params)
    return n


def erase_pto(con: duckdb.DuckDBPyConnection, pto: str) -> dict[str, int]:
    """Replace PTO reference ``pto`` everywhere by one random token; return rows per table.

    The token (``ERASED-`` + 12 random hex digits) is the same for every
    occurrence, so a cut of that line still matches the intervention that
    targeted it, but nothing links it to the customer any more. The audit log
    keeps the line's pseudonym, not the reference.
    """
    token = "ERASED-" + secrets.token_hex(6).upper()
    # In raw text (a JSON message, a CSV line) only a whole reference is replaced,
    # not a reference that merely starts with it (FI-1 must not touch FI-12).
    edge = "[^0-9A-Za-z_-]"
    pattern = f"(^|{edge}){re.escape(pto)}({edge}|$)"
    counts: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table in ("outages", "intervention_targets"):
            counts[table] = con.execute(f"SELECT count(*) FROM {table} WHERE pto = ?",
                                        [pto]).fetchall()[0][0]
            con.execute(f"UPDATE {table} SET pto = ? WHERE pto = ?", [token, pto])
        for table, column in (("messages", "body"), ("quarantine", "raw")):
            counts[table] = con.execute(
                f"SELECT count(*) FROM {table} WHERE regexp_matches({column}, ?)", [pattern]
            ).fetchall()[0][0]
            con.execute(f"UPDATE {table} SET {column} = regexp_replace({column}, ?, ?, 'g') "
                        f"WHERE regexp_matches({column}, ?)", [pattern, rf"\1{token}\2", pattern])
        audit(con, "erase_pto", pseudonym(pto, pseudonym_key(con), "PTO"), counts,
              sum(counts.values()))
        con.execute("COMMIT")
    except BaseException:
        db.rollback(con)
        raise
    return counts
