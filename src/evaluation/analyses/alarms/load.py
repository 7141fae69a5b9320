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
import numpy as np
import pandas as pd
from ibis import _

from ... import localtime
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


def _touched(start: ibis.Value, end: ibis.Value, secs: int) -> ibis.Value:
    """Clock-aligned intervals of ``secs`` touched by ``[start, end]`` (at least 1),
    in the engine."""
    n = end.epoch_seconds() // secs - start.epoch_seconds() // secs + 1
    return ibis.greatest(n.cast("int64"), ibis.literal(1, "int64"))


def busy_hours(counts: ibis.Table, rules: AlarmRules = AlarmRules()) -> ibis.Table:
    """Per position: clock hours with more than ``rules.busy_hour_threshold`` alarms
    (ISA-18.2 "hours containing more than 30 alarms"), summed from the 10-minute
    counts of :func:`interval_counts`: ``position``, ``busy_hours``."""
    per_hour = 3600 // rules.interval_s
    hours = (counts.mutate(hour_no=_.interval_no // per_hour)
             .group_by("position", "hour_no").agg(alarms=_.alarms.sum()))
    return (hours.group_by("position")
            .agg(busy_hours=(_.alarms > rules.busy_hour_threshold).cast("int64").sum()))


def rates(alarms: ibis.Table, wins: ibis.Table, rules: AlarmRules = AlarmRules()) -> ibis.Table:
    """Per system (operator position) over its own observation window ``wins``
    (``system_id``, ``window_start``, ``window_end``: :func:`prep.windows`).

    Columns: ``position``, ``window_start``, ``window_end``, ``alarms``,
    ``intervals`` (10-minute intervals the window touches), ``avg_per_10min``,
    ``avg_per_hour``, ``avg_per_day``, ``peak_per_10min``, ``flood_intervals``,
    ``flood_interval_share`` (the ISA-18.2 share of 10-minute periods with more
    than 10 alarms), ``hours``, ``busy_hours`` and ``busy_hour_share`` (hours
    with more than 30 alarms), ``peak_to_average`` (the busiest interval's
    alarms over the average interval's). Empty intervals count in the averages; a system
    is not charged for intervals outside its own window. Busiest first;
    positions with the same average in position order, so every engine lists
    them alike.
    """
    per_10 = 600 / rules.interval_s
    ic = interval_counts(alarms, "system_id", rules)
    per = (ic.group_by("position")
           .agg(alarms=_.alarms.sum(), peak_per_10min=_.alarms.max(),
                flood_intervals=_.flood.cast("int64").sum()))
    busy = busy_hours(ic, rules).rename(_pos="position")
    w = wins.mutate(intervals=_touched(_.window_start, _.window_end, rules.interval_s),
                    hours=_touched(_.window_start, _.window_end, 3600)).rename(_sys="system_id")
    joined = (per.join(w, per.position.identical_to(w._sys)).drop("_sys"))
    joined = joined.join(busy, joined.position.identical_to(busy._pos)).drop("_pos")
    return (joined.mutate(avg_per_10min=_.alarms.cast("float64") / _.intervals * per_10,
                          peak_to_average=_.peak_per_10min.cast("float64") * _.intervals
                          / _.alarms,
                          avg_per_hour=_.alarms.cast("float64") / _.intervals * per_10 * 6,
                          avg_per_day=_.alarms.cast("float64") / _.intervals * per_10 * 144,
                          flood_interval_share=_.flood_intervals.cast("float64") / _.intervals,
                          busy_hour_share=_.busy_hours.cast("float64") / _.hours)
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


def priority_levels(alarms: ibis.Table, rules: AlarmRules = AlarmRules()) -> ibis.Table:
    """One row: alarms per ISA-18.2 priority level — ``high``, ``medium``, ``low``
    (the guide's priorities mapped by ``rules.high_priorities`` and
    ``rules.medium_priorities``; the rest are low) — and ``unprioritised``
    (no priority in the log). Compare the shares of the prioritised ones with
    the usual ~5 / 15 / 80 % (:func:`priority_distribution`)."""
    p = alarms.priority
    high = p.isin(list(rules.high_priorities)).fill_null(False)
    medium = p.isin(list(rules.medium_priorities)).fill_null(False)
    return alarms.aggregate(
        high=high.cast("int64").sum(), medium=medium.cast("int64").sum(),
        low=(p.notnull() & ~high & ~medium).cast("int64").sum(),
        unprioritised=p.isnull().cast("int64").sum())


def priority_distribution(levels: dict) -> dict:
    """Shares of high / medium / low among the prioritised alarms (counts from
    :func:`priority_levels`), ``None`` for each when the log carries no priority
    (a share of nothing is not 0 %)."""
    n = sum(int(levels.get(k) or 0) for k in ("high", "medium", "low"))
    out = {k: (int(levels.get(k) or 0) / n if n else None) for k in ("high", "medium", "low")}
    return dict(out, prioritised=n, unprioritised=int(levels.get("unprioritised") or 0))


WEEK_H = 168
EPOCH_SLOT = 72
"""The hour of the week (Monday 00:00 = 0) of the epoch, Thursday 1970-01-01 00:00."""


def hour_weekday_counts(cube: ibis.Table) -> ibis.Table:
    """Alarms per day of the week (``weekday``, 0 Monday … 6 Sunday) and hour of the
    day (``hour``, 0–23) of their raise, on the clock the cube was built with — from
    the false-alarm cube (:func:`evaluation.analyses.alarms.false_alarms.as_cube`) or
    any table with those columns and ``alarms``."""
    return cube.group_by("weekday", "hour").agg(alarms=_.alarms.sum())


def _local_segments(windows: pd.DataFrame, zone: str) -> tuple[np.ndarray, np.ndarray]:
    """The windows (``window_start``, ``window_end``, naive UTC, inclusive) as local
    clock hours since the epoch, first and last, one row per stretch of constant UTC
    offset: a window across a change of offset is cut there."""
    starts, ends = pd.to_datetime(windows["window_start"]), pd.to_datetime(windows["window_end"])
    lo, hi = [], []
    for s, e in zip(starts, ends):
        changes = localtime.offset_changes(zone, s.to_pydatetime(), e.to_pydatetime())
        cuts = [change[0] for change in changes[1:]]
        for a, b, change in zip([s.to_pydatetime(), *cuts],
                                [*(c - dt.timedelta(microseconds=1) for c in cuts),
                                 e.to_pydatetime()], changes):
            shift = dt.timedelta(seconds=change[1])
            lo.append(a + shift)
            hi.append(b + shift)
    return (units_since_epoch(pd.Series(lo, dtype="datetime64[us]"), 3600),
            units_since_epoch(pd.Series(hi, dtype="datetime64[us]"), 3600))


def slot_hours(windows: pd.DataFrame, zone: str = localtime.UTC) -> np.ndarray:
    """Clock hours observed per hour of the week (168, Monday 00:00 first) on the
    clock of ``zone``, summed over the systems' windows (``window_start``,
    ``window_end``): the hours each window touches, as for the hourly rates. Where the
    clock goes back, its repeated hour is observed twice; where it jumps, the skipped
    hour not at all."""
    out = np.zeros(WEEK_H, dtype="int64")
    if not len(windows):
        return out
    if zone == localtime.UTC:
        h0, h1 = (units_since_epoch(windows[c], 3600) for c in ("window_start", "window_end"))
    else:
        h0, h1 = _local_segments(windows, zone)
    slots = np.arange(WEEK_H)[:, None]
    # hours h of [h0, h1] with (h + EPOCH_SLOT) mod 168 == slot
    count = ((h1[None, :] + EPOCH_SLOT - slots) // WEEK_H
             - (h0[None, :] - 1 + EPOCH_SLOT - slots) // WEEK_H)
    return count.sum(axis=1)


def load_pattern(counts: pd.DataFrame, windows: pd.DataFrame,
                 zone: str = localtime.UTC) -> pd.DataFrame:
    """Hour-of-day × day-of-week load on the clock of ``zone`` (the database's): every
    one of the 168 hours of the week (``weekday`` 0 Monday … 6, ``hour`` 0–23) with
    ``alarms`` raised in it (``counts``, from a cube built with the same zone),
    ``hours`` observed (:func:`slot_hours`) and ``avg_per_hour`` (alarms per observed
    hour; NULL when none was observed, as the hour the clock skips in spring)."""
    grid = pd.DataFrame({"weekday": np.repeat(np.arange(7), 24), "hour": np.tile(np.arange(24), 7)})
    c = counts[["weekday", "hour", "alarms"]].astype("int64") if len(counts) else counts
    grid = grid.merge(c, on=["weekday", "hour"], how="left") if len(c) else grid.assign(alarms=0)
    grid["alarms"] = grid.alarms.fillna(0).astype("int64")
    grid["hours"] = slot_hours(windows, zone)
    grid["avg_per_hour"] = grid.alarms / grid.hours.where(grid.hours > 0)
    return grid


def units_since_epoch(times: pd.Series, unit_s: int) -> np.ndarray:
    """Whole ``unit_s``-second units since the epoch of naive UTC times (floor)."""
    return ((pd.to_datetime(times) - pd.Timestamp(0)) // pd.Timedelta(seconds=unit_s)).to_numpy()
