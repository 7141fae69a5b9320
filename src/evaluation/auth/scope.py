"""A role as filters in the query layer: what a principal's analyses and pages may read.

:func:`scoped_tables` wraps :class:`~evaluation.store.engine.Tables` so that every
table an analysis asks for is already restricted (Ibis filters, so the engine
does the work and no analysis needs to know about roles):

* tables outside the role (:data:`~evaluation.auth.roles.TABLE_ACCESS`) are empty;
* an alarm operator limited to systems reads only those systems' systems,
  devices, faults, maintenance and alarms (alarms with no system are left out);
* an OC reads its own cuts (``outages.code_oc``) and M5 reports
  (``outage_reports.code_oc``), the PMs where it has either, and the
  interventions at those PMs with the DO code replaced by its keyed pseudonym
  and the DO's own reference removed (flow 2: an OC learns that an intervention
  happened, not who ordered it); it reads no intervention targets (the DO's
  customers);
* roles that may not see customer lines in clear
  (:data:`~evaluation.auth.roles.PTO_IN_CLEAR`) read PTO references as keyed
  pseudonyms (:func:`evaluation.store.privacy.pseudonym`, prefix ``PTO``) — an OC
  keeps its own customers' references, which it sent itself.

The dashboards' state classes open the database by path, so the server hands
each restricted principal a database of its own: :class:`ScopedStores`
materialises ``scoped_tables`` into a private DuckDB file (one per scope and
version of the store, rebuilt when the store changes) and the pages read that
file. A page therefore cannot show a row outside the role even if it forgot to
filter: the row is not in the file it reads.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

import ibis

from ..analyses.outages.pseudonym import PREFIX as DO_PREFIX
from ..store import db, privacy
from ..store.engine import Tables
from ..store.schema import LOAD_ORDER, TABLES
from ..views.queries import stamp
from .roles import NETWORK_TABLES, PTO_IN_CLEAR, RAW_RECORDS, Principal

log = logging.getLogger(__name__)

PSEUDONYM_FUNCTION = "opeval_pseudonym"
PTO_PREFIX = "PTO"


@ibis.udf.scalar.builtin(name=PSEUDONYM_FUNCTION)
def _pseudonym(value: str, prefix: str) -> str:
    """Keyed pseudonym of ``value`` (registered on each DuckDB connection by :func:`register_pseudonym`)."""


def pseudonym_sql(column_sql: str, prefix: str) -> str:
    """SQL calling the pseudonym function on ``column_sql`` (after :func:`register_pseudonym`)."""
    if not prefix.isalnum():
        raise ValueError(f"bad pseudonym prefix {prefix!r}")
    return f"{PSEUDONYM_FUNCTION}({column_sql}, '{prefix}')"


def register_pseudonym(con, key: bytes) -> None:
    """Define ``opeval_pseudonym(value, prefix)`` on a DuckDB connection (NULL stays NULL)."""
    import duckdb

    def fn(value, prefix):
        return None if value is None else privacy.pseudonym(value, key, prefix)

    try:
        con.remove_function(PSEUDONYM_FUNCTION)
    except (duckdb.InvalidInputException, duckdb.CatalogException):
        pass
    con.create_function(PSEUDONYM_FUNCTION, fn, ["VARCHAR", "VARCHAR"], "VARCHAR",
                        null_handling="special", side_effects=False)


class ScopedTables(Tables):
    """:class:`Tables` whose every table is filtered for ``principal``."""

    def __init__(self, base: Tables, principal: Principal):
        super().__init__(base.backend, base.views, base.engine)
        self.base = base
        self.principal = principal

    def __getitem__(self, name: str) -> ibis.Table:
        return restrict(self.base, self.principal, name)


def scoped_tables(tables: Tables, principal: Principal, key: bytes | None = None) -> Tables:
    """``tables`` as ``principal`` may read them (the same object for an unrestricted admin).

    ``key`` is the pseudonym key; on DuckDB it is registered on the connection
    (needed by every role that reads pseudonyms).
    """
    if principal.unrestricted:
        return tables
    if key is not None:
        con = getattr(tables.backend, "con", None)
        if con is None:
            raise ValueError("pseudonyms in scoped tables need a DuckDB backend")
        register_pseudonym(con, key)
    return ScopedTables(tables, principal)


def _empty(t: ibis.Table) -> ibis.Table:
    return t.filter(ibis.literal(False))


def _pto(t: ibis.Table) -> ibis.Table:
    return t.mutate(pto=_pseudonym(t.pto, PTO_PREFIX))


def oc_pms(base: Tables, oc: str) -> ibis.Column:
    """PMs where OC ``oc`` has cuts or M5 reports (the PMs it is present at)."""
    cuts = base["outages"]
    reports = base["outage_reports"]
    iv = base["interventions"]
    from_reports = iv.filter(iv.ref_interv_oi.isin(
        reports.filter(reports.code_oc == oc).ref_interv_oi)).select("pm_id")
    return cuts.filter(cuts.code_oc == oc).select("pm_id").union(from_reports).pm_id


def restrict(base: Tables, who: Principal, name: str) -> ibis.Table:
    """Table ``name`` of ``base`` as ``who`` may read it (module docstring)."""
    t = base[name]
    if who.unrestricted:
        return t
    if name not in TABLES:
        return t if who.role in RAW_RECORDS else _empty(t)
    if not who.may_read(name):
        return _empty(t)
    if who.role == "alarm_operator" and who.systems and "system_id" in t.columns:
        t = t.filter(t.system_id.isin(list(who.systems)))
    if who.role == "oc":
        oc = who.oc
        if name in ("outages", "outage_reports"):
            t = t.filter(t.code_oc == oc)
        elif name in ("pms", "interventions"):
            t = t.filter(t.pm_id.isin(oc_pms(base, oc)))
            if name == "interventions":
                t = t.mutate(code_do=_pseudonym(t.code_do, DO_PREFIX),
                             ref_interv_do=ibis.null(str))
        return t.select(*TABLES[name].column_names)
    if "pto" in t.columns and who.role not in PTO_IN_CLEAR:
        t = _pto(t)
    return t.select(*TABLES[name].column_names)


# ------------------------------------------------------------------ scoped database files


def read_pseudonym_key(path: str | os.PathLike) -> bytes | None:
    """The store's pseudonym key, read without writing (None when it has none yet)."""
    con = db.connect(path, read_only=True)
    try:
        value = db.get_setting(con, "pseudonym_key")
    finally:
        con.close()
    return bytes.fromhex(value) if value else None


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def materialise(src: str | os.PathLike, who: Principal, dest: str | os.PathLike, key: bytes) -> None:
    """Write into the new database ``dest`` every table of ``src`` as ``who`` may read it."""
    dest = Path(dest)
    con = db.connect(dest)
    try:
        con.execute(f"ATTACH {_sql_text(os.fspath(src))} AS src (READ_ONLY)")
        views = {}
        for name in (*LOAD_ORDER, "load_log", "quarantine", "messages"):
            views[name] = f"__src_{name}"
            con.execute(f'CREATE TEMP VIEW "{views[name]}" AS SELECT * FROM src.main."{name}"')
        backend = ibis.duckdb.from_connection(con)
        tables = scoped_tables(Tables(backend, views), who, key)
        con.execute("BEGIN TRANSACTION")
        for name in LOAD_ORDER:
            cols = ", ".join(f'"{c}"' for c in TABLES[name].column_names)
            sql = ibis.to_sql(tables[name], dialect="duckdb")
            con.execute(f'INSERT INTO main."{name}" ({cols}) {sql}')
        con.execute('INSERT INTO main.load_log SELECT * FROM src.main.load_log')
        if who.role in RAW_RECORDS:
            kinds = list(NETWORK_TABLES) if who.role == "network_operator" else list(TABLES)
            con.execute("INSERT INTO main.quarantine SELECT * FROM src.main.quarantine "
                        "WHERE list_contains(?, kind)", [kinds])
            con.execute("INSERT INTO main.messages SELECT * FROM src.main.messages")
        # Settings the pages read (as-of dates, OI codes), never the pseudonym key.
        con.execute("INSERT OR REPLACE INTO main.meta SELECT * FROM src.main.meta "
                    "WHERE key NOT IN ('pseudonym_key', 'schema_version')")
        con.execute("COMMIT")
        con.execute("DETACH src")
        con.execute("CHECKPOINT")
    finally:
        con.close()


class ScopedStores:
    """Per-scope database files for one store, rebuilt when the store changes.

    Files live in a private directory (mode 0700) removed with :meth:`close`;
    each is named by a hash of the scope and the store's stamp, so a new load
    gives new files and pages built afterwards read the new data. The latest
    two versions of each scope are kept (a page opened before a load keeps
    working until the next one).
    """

    def __init__(self, path: str | os.PathLike, key: bytes | None = None,
                 directory: str | os.PathLike | None = None):
        self.path = os.fspath(path)
        self._fallback_key = key
        self.dir = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="opeval-scopes-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()
        self._versions: dict[tuple, list[Path]] = {}

    def key(self) -> bytes:
        """The store's pseudonym key, else ``$OPEVAL_PSEUDONYM_KEY``, else this server's key."""
        stored = read_pseudonym_key(self.path)
        if stored:
            return stored
        env = os.environ.get("OPEVAL_PSEUDONYM_KEY")
        if env:
            try:
                return bytes.fromhex(env)
            except ValueError:
                pass
        if self._fallback_key is None:
            import secrets
            self._fallback_key = secrets.token_bytes(32)
            log.warning("database %s has no pseudonym key: pseudonyms are stable only while "
                        "this server runs (set OPEVAL_PSEUDONYM_KEY or run `opeval export` once)",
                        self.path)
        return self._fallback_key

    def path_for(self, who: Principal) -> str:
        """The database file ``who``'s pages read (the store itself for an admin)."""
        if who.unrestricted:
            return self.path
        version = stamp(self.path)
        digest = hashlib.sha256(repr((who.scope_key, version)).encode()).hexdigest()[:20]
        target = self.dir / f"{who.role}-{digest}.duckdb"
        with self._guard:
            lock = self._locks.setdefault(who.scope_key, threading.Lock())
        with lock:
            if not target.exists():
                tmp = target.with_suffix(".building")
                for leftover in (tmp, Path(f"{tmp}.wal")):
                    leftover.unlink(missing_ok=True)
                materialise(self.path, who, tmp, self.key())
                os.replace(tmp, target)
                kept = self._versions.setdefault(who.scope_key, [])
                kept.append(target)
                while len(kept) > 2:
                    old = kept.pop(0)
                    for f in (old, Path(f"{old}.wal")):
                        f.unlink(missing_ok=True)
            return os.fspath(target)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
