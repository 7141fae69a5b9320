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


def rates(inst: ibis.Table, by: str | list[str]) -> ibis.Table:
    """False-alarm rate per ``by`` (any column or ``hour``/``weekday``).

    Columns: the ``by`` columns, ``alarms``, ``closed``, ``false_alarms``,
    ``false_alarm_rate`` (NULL when nothing was closed).
    """
    keys = [by] if isinstance(by, str) else list(by)
    t = with_time_parts(inst) if {"hour", "weekday"} & set(keys) else inst
    return (t.group_by(keys)
            .agg(alarms=_.count(), closed=_.closed.cast("int64").sum(),
                 false_alarms=_.false_alarm.cast("int64").sum())
            .mutate(false_alarm_rate=ibis.ifelse(
                _.closed > 0, _.false_alarms.cast("float64") / _.closed, ibis.null("float64")))
            .order_by(keys))


def overall(inst: ibis.Table) -> ibis.Table:
    """One row: closed, false_alarms, false_alarm_rate over every alarm."""
    return inst.aggregate(closed=_.closed.cast("int64").sum(),
                          false_alarms=_.false_alarm.cast("int64").sum()).mutate(
        false_alarm_rate=ibis.ifelse(_.closed > 0, _.false_alarms.cast("float64") / _.closed,
                                     ibis.null("float64")))
