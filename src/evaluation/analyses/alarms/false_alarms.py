"""False-alarm rates: the share of closed alarms whose close reason is *false alarm*.

The guide asks a reason on closing — event handled, false alarm, or other —
so the false-alarm rate of a group is ``false_alarm closes / closed alarms``
(alarms not closed yet have no verdict and stay out of the denominator).
Takes :func:`evaluation.analyses.alarms.prep.instances` output.
"""
from __future__ import annotations

import ibis
from ibis import _

DIMENSIONS = ("definition", "resource_id", "event_type", "hour", "weekday")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def with_time_parts(inst: ibis.Table) -> ibis.Table:
    """Adds ``hour`` (0–23) and ``weekday`` (0 Monday … 6 Sunday) of the raise."""
    return inst.mutate(hour=_.raised_at.hour(), weekday=_.raised_at.day_of_week.index())


def as_cube(t: ibis.Table, dims=DIMENSIONS) -> ibis.Table:
    """Closed and false counts per definition, resource, event type, hour and
    weekday (or the ``dims`` given) — every rate below is a sum over it, so the
    alarms are scanned once. A table that already is such a cube is returned as is."""
    if "false_alarms" in t.columns and "hour" in t.columns:
        return t
    return (with_time_parts(t).group_by(list(dims))
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
