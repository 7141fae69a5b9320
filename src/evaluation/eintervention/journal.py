"""The OI endpoint's journal: partners, every message received with its answer, the
flow-2 outbox and the request log, in one SQLite file beside the store.

Why a file of its own and not tables of the DuckDB store: the endpoint must make
each answered message durable before it answers (many tiny transactions per second),
while the dashboards and the loads keep the DuckDB file. DuckDB lets one process
hold a file for writing and then shuts every other process out, readers included;
SQLite in WAL mode lets one writer and any number of readers of other processes work
together (the CLI's ``opeval oi outbox``, the ``/data`` page), and commits a small
transaction with one ``fsync``. The endpoint copies the journal into the store
(tables ``messages``, ``interventions``, ``outages`` …) every second or so, in a
writer turn (:mod:`.live`); how far it got is recorded in the store itself
(``meta.oi_applied_seq``), in the same transaction, so a message is applied once.

File: ``<database>.oi.sqlite`` (:func:`journal_path`). Tables:

- ``meta``: the journal's random id (the store's mark names the journal it counts in);
- ``partners``: one row per token: the partner's code, role (``do`` / ``oc``), token id,
  scrypt hash of the token's secret, rate limit, creation and revocation times;
- ``inbox``: one row per message received, in order (``seq``): the log line as
  ``opeval ingest messages`` reads it, the answer given, the partner;
- ``outbox``: one row per M2/M4 to deliver to one OC, with its state (``pending``,
  ``delivered``, ``rejected`` by the OC, ``failed`` after the automatic retries),
  attempts, when its series of attempts began (creation, or the last manual retry),
  next attempt and last result;
- ``requests``: one row per HTTP request (partner, path, status, size, duration).
"""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
import uuid
from collections.abc import Iterable
from pathlib import Path

SUFFIX = ".oi.sqlite"
BUSY_MS = 10_000

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS partners (
    token_id TEXT PRIMARY KEY, code TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('do', 'oc')),
    token_hash TEXT NOT NULL, rate REAL NOT NULL, burst INTEGER NOT NULL,
    created_at TEXT NOT NULL, revoked_at TEXT);
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL, partner TEXT NOT NULL,
    message TEXT, line TEXT NOT NULL, code INTEGER NOT NULL, libelle TEXT NOT NULL,
    ref_interv_oi TEXT, http_status INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, message TEXT NOT NULL,
    ref_interv_oi TEXT NOT NULL, code_oc TEXT NOT NULL, url TEXT NOT NULL, body TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,
    series_at TEXT NOT NULL, next_at TEXT, last_at TEXT, last_result TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
CREATE TABLE IF NOT EXISTS requests (
    at TEXT NOT NULL, partner TEXT, remote TEXT, method TEXT NOT NULL, path TEXT NOT NULL,
    status INTEGER NOT NULL, bytes INTEGER NOT NULL, ms REAL NOT NULL, seq INTEGER, detail TEXT);
"""

STATES = ("pending", "delivered", "rejected", "failed")


def journal_path(db_path: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(db_path)}{SUFFIX}")


def now() -> str:
    """UTC now as ISO 8601 with microseconds and ``Z`` (sorts as text)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(value: dt.datetime) -> str:
    """A naive-UTC or aware datetime as the journal writes times."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def connect(db_path: str | os.PathLike, create: bool = True) -> sqlite3.Connection:
    """The journal of the store at ``db_path``; ``create`` makes it (and its tables) when
    missing. Autocommit off: callers commit. ``synchronous=FULL``: a commit is on disk."""
    path = journal_path(db_path)
    if not create and not path.exists():
        raise FileNotFoundError(f"{path}: no OI journal (start `opeval oi serve` or add a "
                                "partner first)")
    con = sqlite3.connect(path, timeout=BUSY_MS / 1000, check_same_thread=False,
                          isolation_level="DEFERRED")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    if create:
        con.executescript(DDL)
        con.execute("INSERT OR IGNORE INTO meta VALUES ('journal_id', ?)", [uuid.uuid4().hex])
        con.commit()
    return con


def identity(con: sqlite3.Connection) -> str:
    """This journal's random id: the store records how far it applied *this* journal."""
    return con.execute("SELECT value FROM meta WHERE key = 'journal_id'").fetchone()[0]


def read_only(db_path: str | os.PathLike) -> sqlite3.Connection | None:
    """A read-only connection for the pages and the CLI, or None when there is no journal."""
    path = journal_path(db_path)
    if not path.exists():
        return None
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_MS / 1000,
                          check_same_thread=False)
    con.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    return con


def pending(con: sqlite3.Connection, after: int) -> list[tuple[int, str]]:
    """(seq, log line) of every message received after ``after``, in order."""
    return con.execute("SELECT seq, line FROM inbox WHERE seq > ? ORDER BY seq",
                       [after]).fetchall()


def last_seq(con: sqlite3.Connection) -> int:
    return con.execute("SELECT coalesce(max(seq), 0) FROM inbox").fetchone()[0]


def log_requests(con: sqlite3.Connection, rows: Iterable[tuple]) -> None:
    """(at, partner, remote, method, path, status, bytes, ms, seq, detail) rows."""
    con.executemany("INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(rows))


def deliveries(con: sqlite3.Connection, state: str | None = None, limit: int = 1000) -> list[dict]:
    """Outbox rows, newest first (``state`` filters), as dicts for the CLI and ``/data``."""
    sql = ("SELECT id, message, ref_interv_oi, code_oc, state, attempts, created_at, next_at, "
           "last_at, last_result FROM outbox")
    args: list = []
    if state is not None:
        sql += " WHERE state = ?"
        args.append(state)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    cur = con.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def delivery_counts(con: sqlite3.Connection) -> dict[str, int]:
    """Number of deliveries in each state (every state named, zero included)."""
    counts = dict.fromkeys(STATES, 0)
    counts.update(con.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    return counts


def delivery_summary(db_path: str | os.PathLike) -> list[tuple]:
    """(OC, message, state, deliveries, last attempt, next attempt) of the flow-2 outbox
    of the endpoint on the store at ``db_path``, for the ``/data`` page; empty when no
    endpoint ever ran there."""
    con = read_only(db_path)
    if con is None:
        return []
    try:
        return con.execute(
            "SELECT code_oc, message, state, count(*), max(last_at), min(next_at) FROM outbox "
            "GROUP BY code_oc, message, state ORDER BY code_oc, message, state").fetchall()
    except sqlite3.Error:
        return []
    finally:
        con.close()
