"""Load tabular input files into the store: validate, quarantine, upsert — in SQL.

A load is one ``opeval ingest KIND PATH…``: every file is read by a DuckDB bulk
reader (:mod:`.readers`), typed and checked column by column against the
contract (:mod:`.schema`), and applied in a single transaction, so the
database holds all of a load or none of it, even if the process dies midway.

Counts reconcile per file: ``read = accepted + quarantined`` and
``accepted = inserted + updated + unchanged``. A rejected row goes to the
``quarantine`` table with its file, line, the columns at fault and the reasons.
Re-loading the same rows changes nothing (rows are matched on the table's
natural key, null-safe); a row whose key exists with other values updates it.
Within one load the last row of a key wins; an earlier row with other values is
quarantined as superseded, an identical one counts as unchanged.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .. import localtime
from ..errors import InputError, LoadRejected
from . import db
from .readers import ReadOptions, _lit, _q, stage
from .schema import TABLES, Column, Table, reference_sql
from .settings import timezone
from .writer import writing

ProgressFn = Callable[[str], None]

_TYPE_WORDS = {
    "INTEGER": "an integer", "DOUBLE": "a number", "BOOLEAN": "true or false",
    "DATE": "an ISO date (YYYY-MM-DD)", "TIMESTAMP": "an ISO 8601 time",
}


@dataclass
class FileResult:
    source: str
    rows_read: int = 0
    quarantined: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass
class LoadResult:
    load_id: int
    kind: str
    status: str  # applied | rejected
    files: list[FileResult]

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    def summary(self) -> str:
        t = self.total
        return (f"{self.kind}: read {t('rows_read')}, accepted {t('accepted')} "
                f"(inserted {t('inserted')}, updated {t('updated')}, unchanged {t('unchanged')}), "
                f"quarantined {t('quarantined')}")


# ---------------------------------------------------------------- SQL pieces

def _parse(c: Column, r: str, zone: str) -> str:
    """SQL turning trimmed text ``r`` into the column's value, NULL when it does not parse
    (or, for a line reference, when it is an unknown marker)."""
    if c.reference:
        return reference_sql(r)
    if c.enum:
        return f"CASE WHEN lower({r}) IN ({', '.join(map(_lit, c.enum))}) THEN lower({r}) END"
    if c.pattern:
        return f"CASE WHEN regexp_full_match({r}, {_lit(c.pattern[1:-1])}) THEN {r} END"
    if c.type == "INTEGER":
        # Whole numbers only ("2" or "2.0", as pandas writes integer columns with
        # gaps); DuckDB's own cast would round "1.5" to 2.
        return (f"CASE WHEN regexp_full_match({r}, '[+-]?[0-9]{{1,15}}(\\.0*)?') "
                f"THEN TRY_CAST(split_part({r}, '.', 1) AS BIGINT) END")
    if c.type == "DOUBLE":
        return f"CASE WHEN isfinite(TRY_CAST({r} AS DOUBLE)) THEN TRY_CAST({r} AS DOUBLE) END"
    if c.type == "BOOLEAN":
        return (f"CASE WHEN lower({r}) IN ('true', 't', '1', 'yes', 'y') THEN true "
                f"WHEN lower({r}) IN ('false', 'f', '0', 'no', 'n') THEN false END")
    if c.type == "DATE":
        return f"TRY_CAST({r} AS DATE)"
    if c.type == "TIMESTAMP":
        # A time with an offset keeps it; one without is read in the database's zone.
        return localtime.timestamp_sql(r, zone)
    return r


def _what(c: Column) -> str:
    if c.enum:
        return "one of " + ", ".join(c.enum)
    if c.pattern:
        return f"matching {c.pattern[1:-1]}"
    return _TYPE_WORDS.get(c.type, "text")


def _column_error(table: Table, c: Column) -> str:
    """SQL giving '<column>: <reason>' for the first rule this column breaks, else NULL."""
    raw, val = _q("__r_" + c.name), _q(c.name)
    shown = f"'''' || left({raw}, 60) || ''''"
    cases = []
    if c.required and c.default is None:
        cases.append(f"WHEN {raw} IS NULL THEN {_lit(c.name + ': missing')}")
    if not c.reference:    # any text is a reference; an unknown marker is stored empty
        cases.append(f"WHEN {raw} IS NOT NULL AND {val} IS NULL THEN "
                     f"{_lit(c.name + ': not ' + _what(c) + ': ')} || {shown}")
    if c.min is not None:
        cases.append(f"WHEN {val} < {c.min} OR {val} > {c.max} THEN "
                     f"{_lit(c.name + ': ')} || {raw} || {_lit(f' outside [{c.min:g}, {c.max:g}]')}")
    if c.ref:
        rt, rc = c.ref.split(".")
        cases.append(f"WHEN {val} IS NOT NULL AND {val} NOT IN (SELECT {_q(rc)} FROM {_q(rt)}) "
                     f"THEN {_lit(c.name + ': unknown ' + rt + ' ')} || {shown}")
    for col, rt, agree in table.same_owner:
        if col == c.name:
            key = TABLES[rt].key[0]
            owner = f"(SELECT o.{_q(agree)} FROM {_q(rt)} o WHERE o.{_q(key)} = v.{val})"
            cases.append(f"WHEN {val} IS NOT NULL AND {owner} IS DISTINCT FROM v.{_q(agree)} THEN "
                         f"{_lit(c.name + ': ')} || {shown} || {_lit(' belongs to ' + agree + ' ')} "
                         f"|| coalesce({owner}, '?')")
    return ("CASE " + " ".join(cases) + " END") if cases else "NULL"


def _typed_sql(table: Table, staged: str, file_index: int, zone: str) -> str:
    """SELECT producing typed columns, ``__errors`` and ``__cols`` from a staging table;
    times without offset are read in ``zone``."""
    cols = table.columns
    level1 = ", ".join(f"NULLIF(trim({_q(c.name)}), '') AS {_q('__r_' + c.name)}" for c in cols)
    level2 = ", ".join([_q("__r_" + c.name) for c in cols]
                       + [f"{_parse(c, _q('__r_' + c.name), zone)} AS {_q(c.name)}" for c in cols])
    errors = [_column_error(table, c) for c in cols]
    names = [f"CASE WHEN ({e}) IS NOT NULL THEN {_lit(c.name)} END" for c, e in zip(cols, errors)]
    for chk in table.checks:
        errors.append(f"CASE WHEN {chk.sql} THEN {_lit(', '.join(chk.columns) + ': ' + chk.reason)} END")
        names.append(f"CASE WHEN {chk.sql} THEN {_lit(', '.join(chk.columns))} END")
    final = []
    for c in cols:
        v = _q(c.name)
        if c.default is not None:
            v = f"COALESCE({v}, {c.default!r})"
        final.append(f"TRY_CAST({v} AS {c.type}) AS {_q(c.name)}")
    return f"""SELECT __line, {file_index} AS __file, {', '.join(final)},
        NULLIF(concat_ws('; ', {', '.join(errors)}), '') AS __errors,
        NULLIF(concat_ws(', ', {', '.join(names)}), '') AS __cols
        FROM (SELECT __line, {level2} FROM (SELECT __line, {level1} FROM {staged})) AS v"""


def _key_match(table: Table, a: str, b: str) -> str:
    return " AND ".join(f"{a}.{_q(k)} IS NOT DISTINCT FROM {b}.{_q(k)}" for k in table.key)


# ---------------------------------------------------------------- the load

def ingest(con: duckdb.DuckDBPyConnection, kind: str, paths: Sequence[str | Path],
           strict: bool = False, progress: ProgressFn | None = None,
           options: ReadOptions | None = None) -> LoadResult:
    """Load ``paths`` as table ``kind``; return per-file counts. ``options``: the files'
    encoding and longest field (:class:`~evaluation.store.readers.ReadOptions`).

    Raises :class:`InputError` for an unreadable file (nothing is loaded) and,
    under ``strict``, :class:`LoadRejected` when any row is rejected (nothing is
    loaded; the rejection is recorded in ``load_log`` and ``quarantine``).
    """
    if kind not in TABLES:
        raise InputError(f"unknown kind {kind!r}; expected one of {', '.join(TABLES)}")
    table = TABLES[kind]
    step = progress or (lambda _msg: None)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    files: list[FileResult] = []
    cols = ", ".join(_q(c) for c in table.column_names)
    zone = timezone(con)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE __typed AS SELECT * FROM ("
                    + _typed_sql(table, "(SELECT NULL::BIGINT AS __line, "
                                 + ", ".join(f"NULL::VARCHAR AS {_q(c)}" for c in table.column_names)
                                 + " WHERE false)", 0, zone) + ")")
        con.execute("""CREATE OR REPLACE TEMP TABLE __quarantine (file_index INTEGER,
            line BIGINT, columns VARCHAR, reason VARCHAR, raw VARCHAR)""")
        for i, path in enumerate(map(Path, paths)):
            step(f"reading {path.name}")
            st = stage(con, path, table, f"__s{i}", options or ReadOptions())
            files.append(FileResult(str(path.resolve()), rows_read=st.rows + st.rejects,
                                    ignored_columns=st.ignored_columns))
            step(f"validating {path.name} ({st.rows} rows)")
            con.execute(f"INSERT INTO __typed {_typed_sql(table, st.table, i, zone)}")
            con.execute(f"""INSERT INTO __quarantine
                SELECT {i}, line, NULL, reason, raw FROM {st.table}_rejects""")
            con.execute(f"""INSERT INTO __quarantine
                SELECT {i}, t.__line, t.__cols, t.__errors, to_json(s)::VARCHAR
                FROM __typed t JOIN {st.table} s ON s.__line = t.__line
                WHERE t.__file = {i} AND t.__errors IS NOT NULL""")
        _resolve_duplicates(con, table, cols)
        _classify(con, table, cols)
        counts = con.execute("""SELECT __file, __state, count(*) FROM __final
            GROUP BY ALL""").fetchall()
        for f, state, n in counts:
            setattr(files[f], state, getattr(files[f], state) + n)
        for f, n in con.execute("SELECT file_index, count(*) FROM __quarantine GROUP BY ALL").fetchall():
            files[f].quarantined = n
        rejected = sum(f.quarantined for f in files)
        status = "rejected" if strict and rejected else "applied"
        load_id = _write_load(con, lambda: step(
            f"transaction open: applying {sum(f.accepted for f in files)} rows"
            if status == "applied" else f"rejecting the load: {rejected} rows quarantined"),
            kind, files, started, status, strict, table, cols,
            "SELECT ?, ?, (?)[file_index + 1], line, columns, reason, raw "
            "FROM __quarantine ORDER BY file_index, line")
    finally:
        for i in range(len(paths)):
            for suffix in ("", "_rejects"):
                con.execute(f"DROP TABLE IF EXISTS __s{i}{suffix}")
        for t in ("__typed", "__ranked", "__final", "__quarantine"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    result = LoadResult(load_id, kind, status, files)
    if status == "rejected":
        raise LoadRejected(f"--strict: {result.total('quarantined')} of {result.total('rows_read')} "
                           f"rows rejected, nothing loaded (see `opeval quarantine --load {load_id}`)")
    return result


def _resolve_duplicates(con, table: Table, cols: str) -> None:
    """Keep the last valid row of each key in the load; quarantine earlier, different ones."""
    key = ", ".join(_q(k) for k in table.key)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __ranked AS
        SELECT *, row_number() OVER w AS __rn, first_value(__h) OVER w AS __kept_h,
               first_value(__file) OVER w AS __kept_file, first_value(__line) OVER w AS __kept_line
        FROM (SELECT __file, __line, {cols}, hash({cols}) AS __h FROM __typed
              WHERE __errors IS NULL)
        WINDOW w AS (PARTITION BY {key} ORDER BY __file DESC, __line DESC)""")
    con.execute(f"""INSERT INTO __quarantine
        SELECT __file, __line, {_lit(', '.join(table.key))},
               'key repeated later in this load (file ' || (__kept_file + 1) || ', line '
               || __kept_line || ') with other values; the later row is kept',
               to_json(struct_pack({', '.join(f'{_q(c)} := {_q(c)}' for c in table.column_names)}))::VARCHAR
        FROM __ranked WHERE __rn > 1 AND __h <> __kept_h""")


def _classify(con, table: Table, cols: str) -> None:
    """Mark each kept row inserted / updated / unchanged against the stored table."""
    key = ", ".join(_q(k) for k in table.key)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __final AS
        SELECT r.* EXCLUDE (__rn, __kept_h, __kept_file, __kept_line),
               CASE WHEN r.__rn > 1 THEN 'unchanged'
                    WHEN t.__th IS NULL THEN 'inserted'
                    WHEN t.__th = r.__h THEN 'unchanged' ELSE 'updated' END AS __state
        FROM __ranked r
        LEFT JOIN (SELECT {key}, hash({cols}) AS __th FROM {_q(table.name)}) t
          ON {_key_match(table, 'r', 't')}
        WHERE r.__rn = 1 OR r.__h = r.__kept_h""")


def _apply(con, table: Table, cols: str) -> None:
    others = [c for c in table.column_names if c not in table.key]
    if others:
        sets = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in others)
        con.execute(f"""UPDATE {_q(table.name)} AS t SET {sets}
            FROM (SELECT * FROM __final WHERE __state = 'updated') s
            WHERE {_key_match(table, 's', 't')}""")
    con.execute(f"""INSERT INTO {_q(table.name)} ({cols})
        SELECT {cols} FROM __final WHERE __state = 'inserted' ORDER BY __file, __line""")


def _write_load(con, opened: Callable[[], None], kind: str,
                files: list[FileResult], started: dt.datetime, status: str, strict: bool,
                table: Table, cols: str, quarantine_select: str) -> int:
    """One transaction: the ``load_log`` rows, the load's quarantined records
    (``quarantine_select`` reads ``__quarantine``; its parameters are the load id,
    the kind and the files' sources) and, when ``status`` is ``applied``, the rows
    of ``__final``. ``opened()`` runs once the transaction is open (progress).

    Everything before it only read the store; here, and only here, the store is
    written (:func:`evaluation.store.writer.writing`). Returns the load id."""
    with writing(con):
        load_id = con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
        con.execute("BEGIN TRANSACTION")
        opened()
        try:
            _log(con, load_id, kind, files, started, status, strict)
            con.execute("INSERT INTO quarantine " + quarantine_select,
                        [load_id, kind, [f.source for f in files]])
            if status == "applied":
                _apply(con, table, cols)
            con.execute("COMMIT")
        except BaseException:
            db.rollback(con)
            raise
    return load_id


def _log(con, load_id: int, kind: str, files: list[FileResult], started: dt.datetime,
         status: str, strict: bool) -> None:
    finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for i, f in enumerate(files):
        message = ("ignored columns: " + ", ".join(f.ignored_columns)) if f.ignored_columns else None
        con.execute("INSERT INTO load_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [load_id, i, kind, f.source, started, finished, status, strict, f.rows_read,
                     f.accepted if status == "applied" else 0, f.quarantined,
                     f.inserted if status == "applied" else 0,
                     f.updated if status == "applied" else 0,
                     f.unchanged if status == "applied" else 0, message])
