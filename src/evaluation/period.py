"""What an as-of or since argument means, and which part of a period the data cover.

One rule for every command, page, notebook and report (README, "Periods"):

- An analysis covers a period ``[start, end)`` of naive UTC instants, its days
  those of the database's time zone (:mod:`evaluation.localtime`).
- ``as of`` a **date** ends the period at the end of that local day (the next
  local midnight); a **time** ends it at that instant (a time without offset is
  a wall time of the zone). Records stamped before the end are known, later
  ones are not.
- ``since`` a date starts the period at that day's local midnight; a time at
  that instant.
- Without ``as of``, the period ends at the end of the **last local day with
  data** (the day of the latest record the analysis reads) — never the
  machine's clock.
- The *data* of an analysis run from the local day of its first record to the
  local day of its last (:class:`Data`). A period that reaches beyond them lies
  (partly) **outside the data**: :meth:`Covered.warnings` says so, and the
  analyses count time only over the part the data cover
  (:attr:`Covered.observed_start`, :attr:`Covered.observed_end`) instead of
  extrapolating into days without any record.

Dates, datetimes and pandas Timestamps are accepted wherever an argument is:
a datetime object is naive UTC (aware ones are converted), as stored.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from . import localtime
from .errors import OpevalError

When = dt.date | dt.datetime


def parse(text: str | None, zone: str = localtime.UTC) -> When | None:
    """``YYYY-MM-DD`` as a date (a whole local day), or an ISO 8601 time as naive UTC (a
    time without offset is a wall time of ``zone``); a one-line error otherwise."""
    if text is None:
        return None
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text)
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise OpevalError(f"not an ISO 8601 date or time: {text!r}") from None
    if t.tzinfo is not None:
        return t.astimezone(dt.UTC).replace(tzinfo=None)
    return localtime.to_utc(t, zone)


def when(value, zone: str = localtime.UTC) -> When | None:
    """An argument as a date or a naive UTC datetime: text is :func:`parse`d; a datetime
    (or pandas Timestamp) is naive UTC, an aware one converted; a date stays a date."""
    if value is None:
        return None
    if isinstance(value, str):
        return parse(value, zone)
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return value
    raise OpevalError(f"not a date or time: {value!r}")


def end_of(as_of, zone: str = localtime.UTC) -> dt.datetime | None:
    """The exclusive end of a period as of ``as_of``: a date's next local midnight, a
    time itself."""
    v = when(as_of, zone)
    if v is None or isinstance(v, dt.datetime):
        return v
    return localtime.day_end(v, zone)


def start_of(since, zone: str = localtime.UTC) -> dt.datetime | None:
    """The start of a period since ``since``: a date's local midnight, a time itself."""
    v = when(since, zone)
    if v is None or isinstance(v, dt.datetime):
        return v
    return localtime.day_start(v, zone)


def asked(since, as_of, zone: str = localtime.UTC) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``(start, end)`` of the arguments (None where not given); a one-line error when the
    start is not before the end."""
    start, end = start_of(since, zone), end_of(as_of, zone)
    if start is not None and end is not None and start >= end:
        raise OpevalError("--since is not before --as-of")
    return start, end


def naive(value) -> dt.datetime | None:
    """A time from an engine (datetime, pandas Timestamp, aware or not) as naive UTC;
    None for None, NaT and NaN."""
    import pandas as pd
    if value is None or pd.isna(value):
        return None
    value = pd.Timestamp(value)
    if value.tzinfo is not None:
        value = value.tz_convert("UTC").tz_localize(None)
    return value.to_pydatetime()


@dataclass(frozen=True)
class Data:
    """The first and last instants the records of an analysis carry (naive UTC; None when
    there is no record). The data cover the local days from the first one's to the last
    one's, whole."""

    first: dt.datetime | None
    last: dt.datetime | None

    @classmethod
    def of(cls, times: Iterable) -> Data:
        """From the earliest to the latest of ``times`` (None, NaT and NaN skipped): pass
        the minimum and the maximum of each time column the analysis reads."""
        t = [x for x in map(naive, times) if x is not None]
        return cls(min(t), max(t)) if t else cls(None, None)

    @property
    def empty(self) -> bool:
        return self.last is None

    def first_day(self, zone: str) -> dt.date | None:
        return None if self.first is None else localtime.local_date(self.first, zone)

    def last_day(self, zone: str) -> dt.date | None:
        return None if self.last is None else localtime.local_date(self.last, zone)

    def start(self, zone: str) -> dt.datetime | None:
        """The local midnight the data begin with (None without data)."""
        d = self.first_day(zone)
        return None if d is None else localtime.day_start(d, zone)

    def end(self, zone: str) -> dt.datetime | None:
        """The end of the last local day with data: the default end of every period."""
        d = self.last_day(zone)
        return None if d is None else localtime.day_end(d, zone)


def _day(t: dt.datetime, zone: str) -> dt.date:
    return localtime.local_date(t, zone)


def _last_day(end: dt.datetime, zone: str) -> dt.date:
    return localtime.local_date(end - dt.timedelta(microseconds=1), zone)


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class Covered:
    """A period ``[start, end)`` of zone ``zone`` and the data of the analysis over it
    (``data`` None: not measured, the period counts as covered whole)."""

    start: dt.datetime
    end: dt.datetime
    zone: str = localtime.UTC
    data: Data | None = None

    @property
    def observed_start(self) -> dt.datetime:
        """Where the part of the period with data begins (``end`` when there is none)."""
        if self.data is None:
            return self.start
        s = self.data.start(self.zone)
        return self.end if s is None else min(max(self.start, s), self.end)

    @property
    def observed_end(self) -> dt.datetime:
        """Where the part of the period with data ends (never before :attr:`observed_start`)."""
        if self.data is None:
            return self.end
        e = self.data.end(self.zone)
        return self.observed_start if e is None else max(min(self.end, e), self.observed_start)

    @property
    def observed_hours(self) -> float:
        return (self.observed_end - self.observed_start).total_seconds() / 3600.0

    @property
    def outside(self) -> bool:
        """Whether any of the period lies outside the data."""
        return self.observed_start > self.start or self.observed_end < self.end

    def as_dict(self) -> dict:
        """What an output says of its period: start, end (exclusive) and their local days,
        the zone, the data's days and the part of the period they cover."""
        z = self.zone
        return {"start": localtime.iso(self.start, z), "end": localtime.iso(self.end, z),
                "first_day": _day(self.start, z).isoformat(),
                "last_day": _last_day(self.end, z).isoformat() if self.end > self.start
                else _day(self.start, z).isoformat(),
                "time_zone": z,
                "data": None if self.data is None or self.data.empty else {
                    "first_day": self.data.first_day(z).isoformat(),
                    "last_day": self.data.last_day(z).isoformat()},
                "observed": {"start": localtime.iso(self.observed_start, z),
                             "end": localtime.iso(self.observed_end, z),
                             "hours": round(self.observed_hours, 3)}}

    def warnings(self, consequence: str) -> list[str]:
        """One line for each side of the period outside the data, ending with what the
        analysis does about it (``consequence``); empty when the data cover the period."""
        z = self.zone
        if self.data is None:
            return []
        if self.data.empty:
            return [f"the data hold no record: every figure of the period is empty; {consequence}"]
        first, last = self.data.first_day(z), self.data.last_day(z)
        p_first = _day(self.start, z)
        p_last = _last_day(self.end, z) if self.end > self.start else p_first
        if p_first > last or p_last < first:
            side = "after" if p_first > last else "before"
            return [(f"the period {p_first} .. {p_last} lies {side} the data ({first} .. {last}): "
                    f"no record covers it; {consequence}")]
        out = []
        if p_first < first:
            out.append(f"the period starts on {p_first} but the data on {first}: the "
                       f"{_days((first - p_first).days)} before have no record; {consequence}")
        if p_last > last:
            out.append(f"the period ends on {p_last} but the data on {last}: the "
                       f"{_days((p_last - last).days)} after have no record; {consequence}")
        return out


def describe(p: dict) -> str:
    """One line naming a result's period (:meth:`Covered.as_dict`), as the CLI's text
    reports, the pages and the HTML report print it."""
    data = p.get("data")
    return (f"period {p['first_day']} .. {p['last_day']} ({p['time_zone']}: {p['start']} to "
            f"{p['end']}, end excluded); records "
            + (f"{data['first_day']} .. {data['last_day']}" if data else "none"))


__all__ = ["Covered", "Data", "asked", "describe", "end_of", "naive", "parse", "start_of", "when"]
