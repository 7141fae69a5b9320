"""The database's local time: reading times sent without an offset, local days, printing.

Operators send local time. A database has one IANA time zone (setting
``timezone``, ``opeval config timezone Europe/Paris``; default ``UTC``), and:

- a time **without offset** in any input (tables, message logs) is read in that
  zone; a time with an offset (``Z``, ``+02:00``) keeps its own;
- everything is stored as naive UTC;
- every rule about **days** (an M5 due the same day, a cut restored the same day,
  ``--as-of DATE``, per-day figures) uses that zone's calendar days;
- outputs print times in that zone with their offset (ISO 8601).

Two local times need a rule because clocks change. A wall time that occurs twice
(the hour when clocks go back) is read as its *second* occurrence; a wall time
that does not exist (the hour skipped when clocks go forward) is read with the
offset in force *before* the change (02:30 becomes 03:30 summer time). These are
DuckDB's (ICU's) choices, so a table loaded through DuckDB and a message parsed
in Python agree (a property test checks it).

In the engine, a local day is the date of the time plus its offset; the offset
is a ``CASE`` over the zone's offset changes around the analysed period
(:func:`local_day`), which DuckDB and Spark both run, and nothing at all when
the zone is UTC.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.types as ir

from .errors import OpevalError

UTC = "UTC"
SETTING = "timezone"
#: Offset changes are listed this far around an analysed period (see :func:`local_day`).
SPAN = dt.timedelta(days=366)


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; a one-line :class:`OpevalError` when there is none."""
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")):
            raise ValueError
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise OpevalError(f"timezone: {name!r} is not an IANA time zone name "
                          "(e.g. Europe/Paris, UTC)") from None


def to_utc(local: dt.datetime, name: str) -> dt.datetime:
    """A naive wall time of zone ``name`` as naive UTC (module doc: the DST rules)."""
    if name == UTC:
        return local
    z = zone(name)
    first, second = local.replace(tzinfo=z, fold=0), local.replace(tzinfo=z, fold=1)
    chosen = first
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(dt.UTC).astimezone(z).replace(tzinfo=None)
        chosen = second if round_trip == local else first   # twice: the second; never: before
    return (chosen - chosen.utcoffset()).replace(tzinfo=None)


def aware(value: dt.datetime, name: str) -> dt.datetime:
    """Naive UTC ``value`` as an aware datetime of zone ``name``."""
    return value.replace(tzinfo=dt.UTC).astimezone(zone(name))


def day_start(day: dt.date, name: str) -> dt.datetime:
    """Naive UTC instant at which local day ``day`` begins in zone ``name``."""
    return to_utc(dt.datetime.combine(day, dt.time()), name)


def day_end(day: dt.date, name: str) -> dt.datetime:
    """Naive UTC instant at which local day ``day`` ends (the next day begins)."""
    return day_start(day + dt.timedelta(days=1), name)


def local_date(value: dt.datetime, name: str) -> dt.date:
    """The local calendar day of naive UTC ``value`` in zone ``name``."""
    return aware(value, name).date()


def iso(value, name: str = UTC) -> str | None:
    """Naive UTC ``value`` (datetime, pandas Timestamp) printed in zone ``name`` with its
    offset, to the second: ``2025-03-03T11:00:00+01:00``. Dates print as dates."""
    if value is None:
        return None
    try:
        import pandas as pd
        if value is pd.NaT or (isinstance(value, float) and value != value):
            return None
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return aware(value, name).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def offset_changes(name: str, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """The offsets of zone ``name`` between naive UTC ``start`` and ``end``: the offset in
    force at ``start``, then each change as (naive UTC instant, new offset in seconds)."""
    z = zone(name)

    def off(t: dt.datetime) -> int:
        return int(t.replace(tzinfo=dt.UTC).astimezone(z).utcoffset().total_seconds())

    out = [(start, off(start))]
    step = dt.timedelta(hours=6)      # no zone changes offset twice within six hours
    t = start
    while t < end:
        nxt = min(t + step, end)
        if off(nxt) != out[-1][1]:
            lo, hi = t, nxt            # the change lies in (lo, hi]: bisect to the second
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if off(mid) == out[-1][1]:
                    lo = mid
                else:
                    hi = mid
            out.append((hi, off(hi)))
        t = nxt
    return out


#: A text ending in a UTC offset after a time of day (``…10:00Z``, ``…10:00:00+02:00``, ``…+0200``).
_OFFSET_RE = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)? *([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)$"


def timestamp_sql(expr: str, name: str) -> str:
    """DuckDB SQL reading the ISO 8601 text ``expr`` as naive UTC (NULL when it is no time).

    A text with an offset keeps it; one without is a wall time of zone ``name``
    (module doc). The session's own zone is UTC (:func:`evaluation.store.db.configure`).
    """
    with_offset = f"CAST(TRY_CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP)"
    if name == UTC:
        return with_offset
    zone(name)
    z = "'" + name.replace("'", "''") + "'"
    return (f"CASE WHEN regexp_matches({expr}, '{_OFFSET_RE}') THEN {with_offset} "
            f"ELSE timezone('UTC', timezone({z}, TRY_CAST({expr} AS TIMESTAMP))) END")


def local_time(ts: ir.TimestampValue, name: str, start: dt.datetime,
               end: dt.datetime) -> ir.TimestampValue:
    """Engine-side wall time in zone ``name`` of naive-UTC ``ts`` (naive: its hour and
    weekday are the local clock's), on every engine: the offset in force is a ``CASE``
    over the zone's changes.

    Exact for times within :data:`SPAN` of ``[start, end)``; beyond that the offset
    at the span's edge applies (only a time a year away from the period could differ,
    and no rule compares such times).
    """
    if name == UTC:
        return ts
    changes = offset_changes(name, start - SPAN, end + SPAN)
    if len(changes) == 1:
        offset = ibis.literal(changes[0][1])
    else:
        branches = [(ts < ibis.literal(at), prev) for (at, _), (_, prev)
                    in zip(changes[1:], changes[:-1])]
        offset = ibis.cases(*branches, else_=changes[-1][1])
    return ts + offset.as_interval("s")


def wall_time(ts: ir.TimestampValue, name: str,
              span: tuple[dt.datetime, dt.datetime] | None) -> ir.TimestampValue:
    """:func:`local_time` over ``span``, the period analysed, which only UTC may leave
    out (its wall time is ``ts`` itself)."""
    if name == UTC:
        return ts
    if span is None:
        raise ValueError(f"the wall time in {name} needs the period analysed (span)")
    return local_time(ts, name, *span)


def local_day(ts: ir.TimestampValue, name: str, start: dt.datetime,
              end: dt.datetime) -> ir.DateValue:
    """Engine-side local calendar day of naive-UTC ``ts`` (:func:`local_time`)."""
    return local_time(ts, name, start, end).date()


def database_zone(get_setting) -> str:
    """The zone recorded in a database (``get_setting(key)`` reads its settings)."""
    return get_setting(SETTING) or UTC
