"""The ``alarm_log`` ingest kind: a raw process-alarm log paired into ``alarms`` rows.

Input (contract §1 ``alarm_log``): one record per alarm event with
``timestamp``, ``tag``, ``type`` (also accepted as ``condition``: ``LL``, ``L``,
``H``, ``HH``… for a raise; the same word followed by a return-to-normal marker
such as ``NR``, ``RTN``, ``RECOVERED``, ``CLEARED`` or ``NORMAL`` for its return),
an optional ``description``, an optional system column (``system_id``,
``system``, ``case`` or ``plant``, first present wins) and an optional
``priority`` (1–5).

Pairing rule (one place, here): events are keyed by (system, tag, condition),
the condition being the type without its marker. A raise is paired with the
**next** return to normal of the same key, which becomes its ``cleared_at``.
A raise with no later return stays open (``cleared_at`` empty). A return whose
previous event of the key (in this load or already stored) is not a raise is an
*orphan*: it is quarantined with the reason. Each raise becomes one ``alarms``
row: ``definition`` = ``tag condition``, ``resource_id`` = tag, ``event_type``
= condition, ``comment`` = description, ``alarm_id`` =
``system/tag/condition/raise time`` (deterministic, so re-loading a log changes
nothing). Process logs carry no handling life cycle, so ``status`` and the
handling columns stay empty.

Loads are incremental: the alarms of the same keys already in the store take
part in the pairing, so a return arriving in a later file clears the alarm that
an earlier file left open (counted as ``updated``), and re-loading a file whose
raises were loaded before finds its returns paired, not orphaned.

Everything is bulk SQL (DuckDB window functions over the staged log); then the
rows go through the same validation, duplicate resolution, classification,
quarantine, load log and single transaction as any ``alarms`` load
(:mod:`evaluation.store.ingest`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .. import localtime
from ..errors import InputError, LoadRejected
from .ingest import (
    FileResult,
    LoadResult,
    ProgressFn,
    _classify,
    _resolve_duplicates,
    _typed_sql,
    _write_load,
)
from .readers import ReadOptions, _lit, _q, stage
from .schema import TABLES, Column, Table
from .settings import timezone

KIND = "alarm_log"
RETURN_MARKERS = ("NR", "RTN", "RECOVERED", "CLEARED", "NORMAL")
"""Words that, ending the type, mark a return to normal (`H NR`, `LOW RECOVERED`)."""

SYSTEM_COLUMNS = ("system_id", "system", "case", "plant")

# The shape the reader stages: every column optional at reader level, so that
# `type` or `condition` and any system column may be present; the checks below
# name what is missing.
LOG_SPEC = Table(KIND, tuple(Column(n) for n in (
    "timestamp", "tag", "type", "condition", "description", "priority", *SYSTEM_COLUMNS)),
    key=("timestamp", "tag", "type"), doc="Raw process-alarm event log.")

ALARMS = TABLES["alarms"]
_MARKER_RE = r"(?i)^(.*?)\s*\b(" + "|".join(RETURN_MARKERS) + r")\s*$"


@dataclass
class AlarmLogFileResult(FileResult):
    """Counts for one log file: records read, alarm rows written, returns paired.

    ``inserted``/``updated``/``unchanged`` count ``alarms`` rows (one per raise,
    plus stored alarms whose ``cleared_at`` a return of this file set);
    ``returns_paired`` the returns that closed at least one raise. Every record
    is either accepted or quarantined: ``read = accepted + quarantined``.
    """

    raises: int = 0
    returns_paired: int = 0

    @property
    def accepted(self) -> int:  # records, not rows: raises kept + returns paired
        return self.rows_read - self.quarantined

    @property
    def note(self) -> str:
        return (f"; {self.raises} raise(s) became alarms, "
                f"{self.returns_paired} return(s) to normal paired")


def _events_sql(staged: str, file_index: int, present: set[str], zone: str) -> str:
    """Typed events of one staged log file, with the reason a record is unusable; times
    without offset are read in ``zone``."""
    system = [f"NULLIF(trim({_q(c)}), '')" for c in SYSTEM_COLUMNS if c in present]
    system_sql = f"coalesce({', '.join(system)})" if system else "NULL"
    typ = "coalesce(NULLIF(trim(type), ''), NULLIF(trim(condition), ''))"
    ts_sql = localtime.timestamp_sql("""NULLIF(trim("timestamp"), '')""", zone)
    return f"""
    SELECT {file_index} AS __file, e.__line, e.ts, e.tag, e.typ, e.description, e.priority,
           e.system_id, e.is_return, e.cond,
           NULLIF(concat_ws('; ',
             CASE WHEN e.__ts_raw IS NULL THEN 'timestamp: missing'
                  WHEN e.ts IS NULL THEN 'timestamp: not an ISO 8601 time: ''' || left(e.__ts_raw, 60) || '''' END,
             CASE WHEN e.tag IS NULL THEN 'tag: missing' END,
             CASE WHEN e.typ IS NULL THEN 'type: missing' END,
             CASE WHEN e.typ IS NOT NULL AND e.is_return AND e.cond = ''
                  THEN 'type: return-to-normal marker without the condition it clears: '''
                       || e.typ || '''' END), '') AS __errors,
           NULL::VARCHAR AS __raw
    FROM (SELECT *, __marker <> '' AS is_return,
                 trim(CASE WHEN __marker <> '' THEN regexp_extract(typ, {_lit(_MARKER_RE)}, 1)
                           ELSE typ END) AS cond
          FROM (SELECT *, regexp_extract(typ, {_lit(_MARKER_RE)}, 2) AS __marker
                FROM (SELECT __line, NULLIF(trim("timestamp"), '') AS __ts_raw,
                       {ts_sql} AS ts,
                       NULLIF(trim(tag), '') AS tag, {typ} AS typ,
                       NULLIF(trim(description), '') AS description,
                       NULLIF(trim(priority), '') AS priority,
                       {system_sql} AS system_id
                FROM {staged}))) e
"""


def ingest_alarm_log(con: duckdb.DuckDBPyConnection, paths: Sequence[str | Path],
                     strict: bool = False, progress: ProgressFn | None = None,
                     options: ReadOptions | None = None) -> LoadResult:
    """Load raw alarm logs as ``alarms`` rows (pairing rule in the module docstring).

    Same guarantees as :func:`evaluation.store.ingest.ingest`: an unreadable
    file raises :class:`InputError` and nothing is loaded; under ``strict`` any
    quarantined record (an orphan return included) fails the whole load.
    """
    step = progress or (lambda _msg: None)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    files: list[AlarmLogFileResult] = []
    alarm_cols = ALARMS.column_names
    cols = ", ".join(_q(c) for c in alarm_cols)
    temps = ["__ev", "__seq", "__rows", "__typed", "__ranked", "__final", "__quarantine"]
    try:
        con.execute("""CREATE OR REPLACE TEMP TABLE __quarantine (file_index INTEGER,
            line BIGINT, columns VARCHAR, reason VARCHAR, raw VARCHAR)""")
        parts = []
        for i, path in enumerate(map(Path, paths)):
            step(f"reading {path.name}")
            st = stage(con, path, LOG_SPEC, f"__s{i}", options or ReadOptions())
            temps += [f"__s{i}", f"__s{i}_rejects"]
            present = st.columns
            for need, alts in (("timestamp", ("timestamp",)), ("tag", ("tag",)),
                               ("type", ("type", "condition"))):
                if not present & set(alts):
                    raise InputError(f"{path}: missing required column {need} for {KIND}")
            files.append(AlarmLogFileResult(str(path.resolve()), rows_read=st.rows + st.rejects,
                                            ignored_columns=st.ignored_columns))
            con.execute(f"""INSERT INTO __quarantine
                SELECT {i}, line, NULL, reason, raw FROM {st.table}_rejects""")
            parts.append(_events_sql(st.table, i, present, timezone(con)))
        step("pairing raises with their returns to normal")
        con.execute("CREATE OR REPLACE TEMP TABLE __ev AS " + " UNION ALL ".join(parts))
        con.execute("""INSERT INTO __quarantine
            SELECT __file, __line, 'timestamp, tag, type', __errors, __raw
            FROM __ev WHERE __errors IS NOT NULL""")
        # The same event twice (same system, tag, type and time) is one event.
        con.execute("""UPDATE __ev SET __errors = 'duplicate of file ' || (d.f + 1) || ', line ' || d.l
            FROM (SELECT __file, __line, first_value(__file) OVER w AS f,
                         first_value(__line) OVER w AS l, row_number() OVER w AS n
                  FROM __ev WHERE __errors IS NULL
                  WINDOW w AS (PARTITION BY system_id, tag, typ, ts ORDER BY __file, __line)) d
            WHERE d.n > 1 AND __ev.__file = d.__file AND __ev.__line = d.__line""")
        con.execute("""INSERT INTO __quarantine
            SELECT __file, __line, 'timestamp, tag, type', __errors, __raw
            FROM __ev WHERE __errors LIKE 'duplicate of file %'""")
        _pair(con)
        con.execute("""INSERT INTO __quarantine
            SELECT __file, __line, 'type',
                   'orphan return to normal: no open raise of ' || tag || ' ' || cond
                   || coalesce(' (system ' || system_id || ')', '')
                   || ' before ' || strftime(ts, '%Y-%m-%dT%H:%M:%S') || ' in this load or the store',
                   __raw
            FROM __seq WHERE __src = 'load' AND is_return AND NOT coalesce(prev_is_raise, false)""")
        step("validating the paired alarms")
        _typed_empty = _typed_sql(ALARMS, "(SELECT NULL::BIGINT AS __line, " + ", ".join(
            f"NULL::VARCHAR AS {_q(c)}" for c in alarm_cols) + " WHERE false)", 0, localtime.UTC)
        con.execute(f"CREATE OR REPLACE TEMP TABLE __typed AS SELECT * FROM ({_typed_empty})")
        for i in range(len(files)):
            con.execute(f"""CREATE OR REPLACE TEMP TABLE __a{i} AS
                SELECT __line, {cols} FROM __rows WHERE __file = {i}""")
            temps.append(f"__a{i}")
            # the paired rows carry the times read above, already in UTC
            con.execute(f"INSERT INTO __typed {_typed_sql(ALARMS, f'__a{i}', i, localtime.UTC)}")
            con.execute(f"""INSERT INTO __quarantine
                SELECT {i}, t.__line, t.__cols, t.__errors, r.__raw
                FROM __typed t JOIN __rows r ON r.__file = {i} AND r.__line = t.__line
                WHERE t.__file = {i} AND t.__errors IS NOT NULL""")
        _resolve_duplicates(con, ALARMS, cols)
        _classify(con, ALARMS, cols)
        for f, state, n in con.execute(
                "SELECT __file, __state, count(*) FROM __final GROUP BY ALL").fetchall():
            setattr(files[f], state, getattr(files[f], state) + n)
        for f, n in con.execute(
                "SELECT file_index, count(DISTINCT line) FROM __quarantine GROUP BY ALL").fetchall():
            files[f].quarantined = n
        for f, raises, paired in con.execute("""
                SELECT __file, count(*) FILTER (WHERE NOT is_return),
                       count(*) FILTER (WHERE is_return AND prev_is_raise)
                FROM __seq s WHERE __src = 'load'
                  AND NOT EXISTS (SELECT 1 FROM __quarantine q
                                  WHERE q.file_index = s.__file AND q.line = s.__line)
                GROUP BY ALL""").fetchall():
            files[f].raises, files[f].returns_paired = raises, paired
        for i in range(len(files)):  # the raw record, for the quarantined ones only
            con.execute(f"""UPDATE __quarantine q SET raw = to_json(s)::VARCHAR FROM __s{i} s
                WHERE q.file_index = {i} AND q.line = s.__line AND q.raw IS NULL""")
        rejected = sum(f.quarantined for f in files)
        status = "rejected" if strict and rejected else "applied"
        load_id = _write_load(con, lambda: step(
            f"transaction open: applying {con.execute('SELECT count(*) FROM __final').fetchone()[0]}"
            " alarms" if status == "applied" else f"rejecting the load: {rejected} records quarantined"),
            KIND, files, started, status, strict, ALARMS, cols,
            "SELECT ?, ?, (?)[file_index + 1], line, "
            "string_agg(DISTINCT columns, ', '), string_agg(reason, '; '), first(raw) "
            "FROM __quarantine GROUP BY file_index, line ORDER BY file_index, line")
    finally:
        for t in temps:
            con.execute(f"DROP TABLE IF EXISTS {t}")
    result = LoadResult(load_id, KIND, status, files)
    if status == "rejected":
        raise LoadRejected(f"--strict: {result.total('quarantined')} of {result.total('rows_read')} "
                           f"records rejected, nothing loaded (see `opeval quarantine --load {load_id}`)")
    return result


def _pair(con: duckdb.DuckDBPyConnection) -> None:
    """Build ``__seq`` (every event of the keys in this load, stored ones included,
    with its pairing) and ``__rows`` (the alarm rows to upsert, as text)."""
    definition = "CASE WHEN cond = '' THEN tag ELSE tag || ' ' || cond END"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __seq AS
    WITH ev AS (
        SELECT 'load' AS __src, __file, __line, ts, tag, cond, system_id, is_return,
               description, priority, __raw,
               {definition} AS definition,
               coalesce(system_id, '') || '/' || tag || '/' || cond || '/'
                 || strftime(ts, '%Y-%m-%dT%H:%M:%S')
                 || CASE WHEN microsecond(ts) % 1000000 <> 0
                         THEN '.' || lpad(CAST(microsecond(ts) % 1000000 AS VARCHAR), 6, '0')
                         ELSE '' END AS alarm_id
        FROM __ev WHERE __errors IS NULL),
    keyed AS (SELECT * FROM ev),
    keys AS (SELECT DISTINCT system_id, tag, cond, definition FROM ev),
    stored AS (
        SELECT a.* FROM alarms a JOIN keys k
          ON a.system_id IS NOT DISTINCT FROM k.system_id AND a.resource_id = k.tag
         AND a.event_type IS NOT DISTINCT FROM k.cond AND a.definition = k.definition),
    stored_raises AS (
        SELECT 'store' AS __src, -1 AS __file, NULL::BIGINT AS __line, raised_at AS ts,
               resource_id AS tag, event_type AS cond, system_id, false AS is_return,
               comment AS description, CAST(priority AS VARCHAR) AS priority, NULL AS __raw,
               definition, alarm_id
        FROM stored WHERE alarm_id NOT IN (SELECT alarm_id FROM keyed WHERE NOT is_return)),
    stored_returns AS (
        SELECT DISTINCT 'store' AS __src, -1 AS __file, NULL::BIGINT AS __line, cleared_at AS ts,
               resource_id AS tag, event_type AS cond, system_id, true AS is_return,
               NULL AS description, NULL AS priority, NULL AS __raw, definition, NULL AS alarm_id
        FROM stored s WHERE cleared_at IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM keyed k WHERE k.is_return AND k.ts = s.cleared_at
              AND k.tag = s.resource_id AND k.cond = s.event_type
              AND k.system_id IS NOT DISTINCT FROM s.system_id)),
    allev AS (
        SELECT __src, __file, __line, ts, tag, cond, system_id, is_return, description,
               priority, __raw, definition, alarm_id FROM keyed
        UNION ALL SELECT * FROM stored_raises
        UNION ALL SELECT * FROM stored_returns)
    SELECT *,
           lag(NOT is_return) OVER (PARTITION BY system_id, tag, cond
                                    ORDER BY ts, __file, __line) AS prev_is_raise,
           min(CASE WHEN is_return THEN {{'ts': ts, 'file': __file, 'line': __line}} END)
             OVER (PARTITION BY system_id, tag, cond ORDER BY ts DESC, __file DESC, __line DESC
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS next_return
    FROM allev""")
    # A raise whose next return is a load record of a file it belongs to
    # elsewhere is still its own row: rows from this load's raises sit at the
    # raise's line; stored alarms cleared by a return of this load sit at the
    # return's line.
    text = {c: f"CAST({c} AS VARCHAR)" for c in ALARMS.column_names}
    load_sel = dict(text, alarm_id="alarm_id", system_id="system_id", definition="definition",
                    event_type="cond", resource_id="tag", priority="priority",
                    raised_at="strftime(ts, '%Y-%m-%d %H:%M:%S.%f')",
                    cleared_at="strftime(next_return.ts, '%Y-%m-%d %H:%M:%S.%f')",
                    comment="description")
    for c in ("handled_at", "assigned_to", "escalated_at", "closed_at", "status", "close_reason"):
        load_sel[c] = "NULL"
    stored_sel = {c: f"CAST(a.{_q(c)} AS VARCHAR)" for c in ALARMS.column_names}
    stored_sel["cleared_at"] = "strftime(s.next_return.ts, '%Y-%m-%d %H:%M:%S.%f')"
    for c in ("raised_at", "handled_at", "escalated_at", "closed_at"):
        stored_sel[c] = f"strftime(a.{_q(c)}, '%Y-%m-%d %H:%M:%S.%f')"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __rows AS
        SELECT __file, __line, __raw, {', '.join(f'{v} AS {_q(c)}' for c, v in load_sel.items())}
        FROM __seq WHERE __src = 'load' AND NOT is_return
        UNION ALL
        SELECT s.next_return.file AS __file, s.next_return.line AS __line,
               to_json(a)::VARCHAR AS __raw,
               {', '.join(f'{v} AS {_q(c)}' for c, v in stored_sel.items())}
        FROM __seq s JOIN alarms a USING (alarm_id)
        WHERE s.__src = 'store' AND NOT s.is_return AND s.next_return.file >= 0""")
