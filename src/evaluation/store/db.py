"""The DuckDB store: schema creation, recorded schema version and migrations.

One file holds every table of the contract plus the bookkeeping tables:
``meta`` (schema version, settings such as the OI codes of this database),
``load_log`` (each load: what, from where, when, counts, outcome),
``quarantine`` (each rejected input row with file, line, columns and reason) and
``messages`` (every e-Intervention message received, with the OI's answer),
``audit_log`` (purges and erasures of personal data) and the alerts' state
(``alerts``, ``alert_events``, ``alert_baselines``, ``alert_deliveries``:
:mod:`evaluation.alerts.store`).
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

import duckdb

from ..errors import OpevalError
from . import turns
from .schema import SCHEMA_VERSION, TABLES, Table, reference_sql


class StoreError(OpevalError):
    """A problem with the database file itself (missing, locked, wrong version)."""


class StoreBusy(StoreError):
    """Another process held the database (or the writer turn) for longer than the wait;
    ``holder`` says which (for the operator)."""

    def __init__(self, message: str, holder: str = "another process"):
        super().__init__(message, public=BUSY)
        self.holder = holder


BOOKKEEPING_DDL = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE SEQUENCE IF NOT EXISTS load_id_seq START 1",
    """CREATE TABLE IF NOT EXISTS load_log (
        load_id BIGINT NOT NULL, file_index INTEGER NOT NULL, kind VARCHAR NOT NULL,
        source VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP,
        status VARCHAR NOT NULL, strict BOOLEAN NOT NULL, rows_read BIGINT, accepted BIGINT,
        quarantined BIGINT, inserted BIGINT, updated BIGINT, unchanged BIGINT, message VARCHAR,
        PRIMARY KEY (load_id, file_index))""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        load_id BIGINT NOT NULL, kind VARCHAR NOT NULL, source_file VARCHAR NOT NULL,
        line BIGINT, columns VARCHAR, reason VARCHAR NOT NULL, raw VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS audit_log (
        recorded_at TIMESTAMP NOT NULL, action VARCHAR NOT NULL, subject VARCHAR, details VARCHAR,
        rows_affected BIGINT)""",
    """CREATE TABLE IF NOT EXISTS messages (
        load_id BIGINT NOT NULL, file_index INTEGER NOT NULL DEFAULT 0, line BIGINT NOT NULL,
        message VARCHAR,
        received_at TIMESTAMP, code_do VARCHAR, ref_interv_do VARCHAR, code_oc VARCHAR,
        ref_interv_oi VARCHAR, code_reponse INTEGER NOT NULL, libelle_reponse VARCHAR NOT NULL,
        description_reponse VARCHAR, effect VARCHAR NOT NULL, body VARCHAR,
        PRIMARY KEY (load_id, file_index, line))""",
]

ALERT_DDL = [
    "CREATE SEQUENCE IF NOT EXISTS alert_id_seq START 1",
    "CREATE SEQUENCE IF NOT EXISTS alert_event_seq START 1",
    """CREATE TABLE IF NOT EXISTS alerts (
        alert_id BIGINT PRIMARY KEY, rule VARCHAR NOT NULL, key VARCHAR NOT NULL,
        domain VARCHAR NOT NULL, title VARCHAR NOT NULL, evidence VARCHAR NOT NULL,
        link VARCHAR NOT NULL, subject VARCHAR NOT NULL, state VARCHAR NOT NULL,
        active BOOLEAN NOT NULL, fired_at TIMESTAMP NOT NULL, last_seen_at TIMESTAMP NOT NULL,
        cleared_at TIMESTAMP, acknowledged_by VARCHAR, acknowledged_at TIMESTAMP,
        resolved_by VARCHAR, resolved_at TIMESTAMP, note VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS alert_events (
        event_id BIGINT PRIMARY KEY, alert_id BIGINT NOT NULL, event_at TIMESTAMP NOT NULL,
        event VARCHAR NOT NULL, actor VARCHAR, note VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS alert_baselines (
        rule VARCHAR NOT NULL, key VARCHAR NOT NULL, value VARCHAR NOT NULL,
        observed_at TIMESTAMP NOT NULL, PRIMARY KEY (rule, key))""",
    """CREATE TABLE IF NOT EXISTS alert_deliveries (
        event_id BIGINT NOT NULL, recipient VARCHAR NOT NULL, channel VARCHAR NOT NULL,
        sent_at TIMESTAMP NOT NULL, status VARCHAR NOT NULL, attempts INTEGER NOT NULL,
        detail VARCHAR)""",
]
"""The alerts' state (:mod:`evaluation.alerts.store`), kept with the data so that it
survives a restart and follows the writers' turns."""


def table_ddl(table: Table) -> str:
    """CREATE TABLE for one contract table; PRIMARY KEY where every key column is required."""
    cols = [f'"{c.name}" {c.type}' + (" NOT NULL" if c.required else "") for c in table.columns]
    if table.primary_key:
        cols.append("PRIMARY KEY (" + ", ".join(f'"{k}"' for k in table.key) + ")")
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" (\n  ' + ",\n  ".join(cols) + "\n)"


# Version -> statements that bring a database from version-1 to version. A new
# database is created at the current version directly (``_create``).
MIGRATIONS: dict[int, list[str]] = {
    # 2: the targets remember the message that declared them (M1 and M3 both count), the
    # M5 reports count the clients set aside, and PTO references are stored normalised.
    2: ["ALTER TABLE intervention_targets ADD COLUMN declared_in VARCHAR",
        "ALTER TABLE outage_reports ADD COLUMN clients_set_aside INTEGER",
        f"UPDATE outages SET pto = {reference_sql('pto')} "
        f"WHERE pto IS DISTINCT FROM {reference_sql('pto')}",
        f"UPDATE intervention_targets SET pto = {reference_sql('pto')} "
        f"WHERE pto IS DISTINCT FROM {reference_sql('pto')}"],
    # 3: the alerts' state.
    3: ALERT_DDL,
}


def configure(con: duckdb.DuckDBPyConnection, path: str | None = None,
              spill: str | None = None) -> duckdb.DuckDBPyConnection:
    """Session settings every opeval connection uses: UTC, no extension downloads, and
    where DuckDB spills what does not fit in memory: ``spill`` when given, beside the
    database file (DuckDB's own ``<file>.tmp``) for a file, else a directory of this
    process under the system's temporary directory — never the current folder, which
    is DuckDB's default for an in-memory database."""
    con.execute("SET TimeZone = 'UTC'")
    if spill is None and (path is None or path == ":memory:"):
        spill = os.path.join(tempfile.gettempdir(), f"opeval-{os.getpid()}.tmp")
    if spill is not None:
        con.execute("SET temp_directory = " + "'" + spill.replace("'", "''") + "'")
    con.execute("SET autoinstall_known_extensions = false")
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:
        pass  # inside Jupyter without ipywidgets DuckDB refuses any progress-bar setting (and shows none)
    return con


def _create(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in BOOKKEEPING_DDL + ALERT_DDL:
        con.execute(stmt)
    for table in TABLES.values():
        con.execute(table_ddl(table))


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction after an error, never hiding that error: DuckDB may
    have ended the transaction itself (a COMMIT that failed, e.g. on a full disk) or
    invalidated the database, and ROLLBACK then fails with a message of its own."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The recorded schema version, or None for a database opeval never initialised."""
    has_meta = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
    ).fetchone()[0]
    if not has_meta:
        return None
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else None


def migrate(con: duckdb.DuckDBPyConnection, target: int = SCHEMA_VERSION,
            migrations: dict[int, list[str]] | None = None) -> int:
    """Create or upgrade the schema to ``target`` in one transaction; return the old version."""
    migrations = MIGRATIONS if migrations is None else migrations
    current = schema_version(con)
    if current is not None and current > target:
        raise StoreError(
            f"database schema version {current} is newer than this opeval understands ({target})")
    if current == target:
        return current
    con.execute("BEGIN TRANSACTION")
    try:
        if current is None:
            _create(con)
            start = target
        else:
            start = current
        for version in range(start + 1, target + 1):
            for stmt in migrations.get(version, []):
                con.execute(stmt)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(target)])
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    return current or 0


LOCK_WAIT_ENV = "OPEVAL_LOCK_WAIT"
WRITER_WAIT = 300.0
"""Seconds a writer waits for its turn and for DuckDB's lock (``--wait``) by default."""
APPLY_WAIT = 60.0
"""Seconds a reader waits for a writer of this machine to finish applying its transaction."""


def lock_wait(read_only: bool) -> float:
    """Seconds to wait for a lock held by another process: ``$OPEVAL_LOCK_WAIT``, else 1 s
    for a reader (a dashboard query meeting a writer that is not opeval's) and
    :data:`WRITER_WAIT` for a writer (it queues behind other writers and readers)."""
    try:
        return max(0.0, float(os.environ[LOCK_WAIT_ENV]))
    except (KeyError, ValueError):
        return 1.0 if read_only else WRITER_WAIT


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


_HOLDER = re.compile(r"held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def lock_holder(message: str) -> str:
    """Who holds the file, from DuckDB's lock error: the process id, its name and
    command line (from ``/proc`` where there is one), for the operator's eyes."""
    m = _HOLDER.search(message)
    if m is None:
        return "another process"
    pid = int(m.group("pid"))
    name, cmdline = Path(m.group("exe")).name, ""
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip() or name
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        cmdline = " ".join(b" ".join(raw.split(b"\0")).decode("utf-8", "replace").split())
    except OSError:
        pass
    shown = f"{name} (PID {pid}"
    if cmdline:
        shown += ": " + (cmdline if len(cmdline) <= 120 else cmdline[:117] + "...")
    return shown + ")"


BUSY = "the database is being written by another program; try again in a moment"


def _busy(path: str, exc: BaseException, waited: float) -> StoreBusy:
    holder = lock_holder(str(exc))
    return StoreBusy(f"cannot open database {path}: it is locked by {holder}; "
                     f"gave up after {waited:g} s", holder)


def retry_locked(open_db, path: str, wait: float, on_wait=None, reader: bool = False):
    """``open_db()``, retried while another process holds DuckDB's lock on ``path``, up to
    ``wait`` seconds; ``on_wait(holder)`` is told who it waits for (about every 5 s).
    A lock still held at the end, or any other failure to open, is a :class:`StoreError`.

    A ``reader`` that meets the lock of an opeval writer of this machine applying its
    transaction waits for it to end (up to :data:`APPLY_WAIT` s) before it counts its own
    wait: the writer announced its apply only a moment before taking the file, and a
    short write (the alert run's record, a setting) otherwise shut a page out with
    :data:`BUSY` when it took more than the readers' second."""
    start = time.monotonic()
    told = None
    while True:
        try:
            return open_db()
        except duckdb.Error as exc:
            if reader and is_lock_error(exc) and _waited_for_apply(path):
                start = time.monotonic()
                continue
            waited = time.monotonic() - start
            if not is_lock_error(exc):
                raise StoreError(f"cannot open database {path}: {str(exc).splitlines()[0]}",
                                 public="the database file cannot be read") from None
            if waited >= wait:
                raise _busy(path, exc, round(waited)) from None
            if on_wait is not None and (told is None or time.monotonic() - told >= 5):
                told = time.monotonic()
                on_wait(lock_holder(str(exc)), waited)
            time.sleep(0.05)


def _waited_for_apply(path: str) -> bool:
    """Whether an opeval writer of this machine was applying to ``path`` and has ended
    (waited for here, up to :data:`APPLY_WAIT` s)."""
    writer = turns.status(path)
    if writer is None or writer.phase != turns.APPLYING:
        return False
    still = turns.wait_while_applying(path, APPLY_WAIT)
    return still is None or still.phase != turns.APPLYING


def connect(path: str | Path, read_only: bool = False, create: bool = True,
            wait: float | None = None, on_wait=None) -> duckdb.DuckDBPyConnection:
    """Open the store at ``path`` (``:memory:`` allowed), creating or migrating it.

    A reader first lets an opeval writer of this machine finish applying its
    transaction (up to :data:`APPLY_WAIT` s, :mod:`.turns`). Raises
    :class:`StoreError` with a one-line reason when the file is missing (and
    ``create`` is false or ``read_only``), locked by another process for longer
    than ``wait`` seconds (default :func:`lock_wait`; the reason names the
    process), or of a newer schema version.
    """
    path = str(path)
    if path != ":memory:":
        p = Path(path)
        if not p.exists() and (read_only or not create):
            raise StoreError(f"database {path} does not exist (build it with `opeval demo` "
                             f"or load data with `opeval ingest`)",
                             public="the database does not exist yet (build it with `opeval demo` "
                                    "or load data with `opeval ingest`)")
        if not read_only:
            p.parent.mkdir(parents=True, exist_ok=True)
        if read_only:
            turns.wait_while_applying(path, APPLY_WAIT)
    con = retry_locked(lambda: duckdb.connect(path, read_only=read_only), path,
                       lock_wait(read_only) if wait is None else wait, on_wait, reader=read_only)
    configure(con, path)
    if read_only:
        version = schema_version(con)
        if version != SCHEMA_VERSION:
            con.close()
            raise StoreError(f"database {path} has schema version {version}, this opeval needs "
                             f"{SCHEMA_VERSION}; open it once for writing to migrate it")
    else:
        migrate(con)
    return con


def stamp(path: str | Path) -> tuple:
    """What changes when the database changes: (size, mtime) of the file and its WAL."""
    out = []
    for p in (Path(path), Path(f"{path}.wal")):
        try:
            st = p.stat()
            out.append((st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


def get_setting(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else None


def set_setting(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])
