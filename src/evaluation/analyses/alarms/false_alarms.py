"""False-alarm rates: the share of closed alarms whose close reason is *false alarm*.

The guide asks a reason on closing — event handled, false alarm, or other —
so the false-alarm rate of a group is ``false_alarm closes / closed alarms``
(alarms not closed yet have no verdict and stay out of the denominator).
Takes :func:`evaluation.analyses.alarms.prep.instances` output.
"""
from __future__ import annotations

import datetime as dt

import ibis
from ibis import _

from ... import localtime

DIMENSIONS = ("definition", "resource_id", "event_type", "hour", "weekday")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def with_time_parts(inst: ibis.Table, zone: str = localtime.UTC,
                    span: tuple[dt.datetime, dt.datetime] | None = None) -> ibis.Table:
    """Adds ``hour`` (0–23) and ``weekday`` (0 Monday … 6 Sunday) of the raise on the
    clock of ``zone``, the database's time zone (exact for raises within a year of
    ``span``, the period analysed: :func:`evaluation.localtime.local_time`)."""
    at = localtime.wall_time(inst.raised_at, zone, span)
    return inst.mutate(hour=at.hour(), weekday=at.day_of_week.index())


def as_cube(t: ibis.Table, dims=DIMENSIONS, zone: str = localtime.UTC,
            span: tuple[dt.datetime, dt.datetime] | None = None) -> ibis.Table:
    """Closed and false counts per definition, resource, event type, hour and
    weekday (or the ``dims`` given; hours and weekdays on the clock of ``zone``,
    :func:`with_time_parts`) — every rate below is a sum over it, so the alarms are
    scanned once. A table that already is such a cube is returned as is."""
    if "false_alarms" in t.columns and "hour" in t.columns:
        return t
    return (with_time_parts(t, zone, span).group_by(list(dims))
            .agg(alarms=_.count(), closed=_.closed.cast("int64").sum(),
                 false_alarms=_.false_alarm.cast("int64").sum()))


def rates(inst_or_cube: ibis.Table, by: str | list[str]) -> ibis.Table:
    """False-alarm rate per ``by`` (any of the cube's dimensions).

    Columns: the ``by`` columns, ``alarms``, ``closed``, ``false_alarms``,
    ``false_alarm_rate`` (NULL when nothing was closed).
    """
    keys = [by] if isinstance(by, str) else list(by)
    cube = as_cube(inst_or_cube)
    return (cube.group_by(keys)
            .agg(alarms=_.alarms.sum(), closed=_.closed.sum(), false_alarms=_.false_alarms.sum())
            .mutate(false_alarm_rate=ibis.ifelse(
                _.closed > 0, _.false_alarms.cast("float64") / _.closed, ibis.null("float64")))
            .order_by(keys))


def overall(inst_or_cube: ibis.Table) -> ibis.Table:
    """One row: closed, false_alarms, false_alarm_rate over every alarm."""
    cube = as_cube(inst_or_cube)
    return cube.aggregate(closed=_.closed.sum(), false_alarms=_.false_alarms.sum()).mutate(
        false_alarm_rate=ibis.ifelse(_.closed > 0, _.false_alarms.cast("float64") / _.closed,
                                     ibis.null("float64")))
