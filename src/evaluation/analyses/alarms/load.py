"""Alarm load: counts per hour/day/priority/system, rates per operator position per
10 minutes against ISA-18.2 / EEMUA 191, and alarm floods.

An *operator position* is the group the alarms reach: by default the system
(each system's alarms go to the operators entitled to it — guide, alarm
configuration "users/roles who receive it"); ``by="assigned_to"`` gives the
load per operator who took the alarms in hand.
"""
from __future__ import annotations

import datetime as dt
import math

import ibis
from ibis import _

from .rules import AlarmRules


def counts_by_time(alarms: ibis.Table, unit: str = "h") -> ibis.Table:
    """Alarms per hour (``unit="h"``) or day (``"D"``): ``period``, ``alarms``."""
    return (alarms.mutate(period=_.raised_at.truncate(unit))
            .group_by("period").agg(alarms=_.count()).order_by("period"))


def counts_by(alarms: ibis.Table, column: str) -> ibis.Table:
    """Alarms per value of ``column`` (priority, system_id…) with their share of the load."""
    agg = _.alarms.sum() if "alarms" in alarms.columns else _.count()
    return (alarms.group_by(column).agg(alarms=agg)
            .mutate(share=_.alarms.cast("float64") / _.alarms.sum().over(ibis.window()))
            .order_by(column))


def _interval_numbers(alarms: ibis.Table, by: str, rules: AlarmRules) -> ibis.Table:
    """Each alarm with its operator ``position`` and the number of its fixed,
    clock-aligned interval since the epoch (``interval_no``)."""
    return alarms.mutate(position=_[by],
                         interval_no=(_.raised_at.epoch_seconds() // rules.interval_s)
                         .cast("int64"))


def interval_counts(alarms: ibis.Table, by: str = "system_id", rules: AlarmRules = AlarmRules()
                    ) -> ibis.Table:
    """Alarms per operator position per fixed, clock-aligned 10-minute interval.

    Columns ``position``, ``interval_start``, ``interval_no`` (index of the
    interval since the epoch), ``alarms``, ``flood`` (more than
    ``rules.flood_threshold`` alarms: ISA-18.2 flood). Takes alarms, or these
    counts already made (returned as they are).
    """
    if "interval_no" in alarms.columns:
        return alarms
    secs = rules.interval_s
    return (_interval_numbers(alarms, by, rules).group_by("position", "interval_no")
            .agg(alarms=_.count())
            .mutate(interval_start=(_.interval_no * secs).as_timestamp("s"),
                    flood=_.alarms > rules.flood_threshold))


def n_intervals(start: dt.datetime, end: dt.datetime, interval_s: int = 600) -> int:
    """Clock-aligned intervals touched by ``[start, end]`` (at least 1); naive times are UTC."""
    first = math.floor(_utc(start).timestamp() / interval_s)
    last = math.floor(_utc(end).timestamp() / interval_s)
    return max(1, last - first + 1)


def rates(alarms: ibis.Table, start: dt.datetime, end: dt.datetime, by: str = "system_id",
          rules: AlarmRules = AlarmRules()) -> ibis.Table:
    """Per operator position over ``[start, end]``: ``alarms``, ``avg_per_10min``,
    ``avg_per_hour``, ``avg_per_day``, ``peak_per_10min``, ``flood_intervals`` and
    ``flood_interval_share`` (the ISA-18.2 share of 10-minute periods with more
    than 10 alarms). Empty intervals count in the averages. Busiest first; positions
    with the same average in position order, so every engine lists them alike.
    """
    n = n_intervals(start, end, rules.interval_s)
    per_10 = 600 / rules.interval_s
    ic = interval_counts(alarms, by, rules)
    return (ic.group_by("position")
            .agg(alarms=_.alarms.sum(), peak_per_10min=_.alarms.max(),
                 flood_intervals=_.flood.cast("int64").sum())
            .mutate(intervals=ibis.literal(n, "int64"),
                    avg_per_10min=_.alarms.cast("float64") / n * per_10,
                    avg_per_hour=_.alarms.cast("float64") / n * per_10 * 6,
                    avg_per_day=_.alarms.cast("float64") / n * per_10 * 144,
                    flood_interval_share=_.flood_intervals.cast("float64") / n)
            .order_by(ibis.desc("avg_per_10min"), "position"))


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def floods(alarms: ibis.Table, by: str = "system_id", rules: AlarmRules = AlarmRules()
           ) -> ibis.Table:
    """Flood episodes: runs of consecutive flood intervals of one operator position.

    Columns ``position``, ``start``, ``end``, ``minutes`` (intervals × 10),
    ``intervals``, ``peak_per_10min``, ``alarms`` (raised during the episode),
    ``flood_id`` (the episode's first interval number, unique per position).
    """
    ic = interval_counts(alarms, by, rules).filter(_.flood)
    w = ibis.window(group_by="position", order_by="interval_no")
    isl = ic.mutate(flood_id=_.interval_no - ibis.row_number().over(w))
    secs = rules.interval_s
    return (isl.group_by("position", "flood_id")
            .agg(first_no=_.interval_no.min(), last_no=_.interval_no.max(),
                 intervals=_.count(), peak_per_10min=_.alarms.max(), alarms=_.alarms.sum())
            .mutate(start=(_.first_no * secs).as_timestamp("s"),
                    end=((_.last_no + 1) * secs).as_timestamp("s"),
                    minutes=_.intervals * (secs // 60), flood_id=_.first_no)
            .drop("first_no", "last_no")
            .order_by("start", "position"))


def flood_contributors(alarms: ibis.Table, by: str = "system_id", top: int = 3,
                       rules: AlarmRules = AlarmRules(), counts: ibis.Table | None = None
                       ) -> ibis.Table:
    """The definitions raising most alarms in each flood episode (``top`` per
    episode): ``position``, ``flood_id``, ``definition``, ``alarms``, ``rank``.
    ``counts`` may pass :func:`interval_counts` already computed."""
    ic = (counts if counts is not None else interval_counts(alarms, by, rules)).filter(_.flood)
    w = ibis.window(group_by="position", order_by="interval_no")
    isl = ic.mutate(island=_.interval_no - ibis.row_number().over(w))
    isl = isl.mutate(first_no=_.interval_no.min().over(
        ibis.window(group_by=["position", "island"]))).select("position", "interval_no", "first_no")
    j = _interval_numbers(alarms, by, rules).join(isl, ["position", "interval_no"])
    c = j.group_by("position", "first_no", "definition").agg(alarms=_.count())
    rank = ibis.row_number().over(ibis.window(group_by=["position", "first_no"],
                                              order_by=[ibis.desc("alarms"), "definition"]))
    return (c.mutate(rank=rank).filter(_.rank < top).mutate(rank=_.rank + 1)
            .rename(flood_id="first_no").order_by("position", "flood_id", "rank"))
