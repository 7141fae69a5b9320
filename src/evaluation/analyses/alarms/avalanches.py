"""Avalanches: alarm floods by the minute, with their likely initiator and followers.

An operator position (a system) is in an *avalanche minute* when a fixed,
clock-aligned one-minute window holds at least ``rules.avalanche_min_alarms``
alarms (``rules.avalanche_window_s``, 10 in 60 s by default: a whole ISA-18.2
flood's worth packed into one minute). Consecutive avalanche minutes of one
system form one *avalanche*. Its first alarm — the earliest raise of its first
minute — is the *likely initiator*: in an upset the first alarm is the best
guess at the cause, the rest its followers (ISA-18.2: consequential alarms).
Raises at the same instant as the initiator are counted (``initiator_ties``):
with a log of 10-second resolution the first place is often shared, and the
tie is then broken by definition and resource only, which says nothing about
cause. :func:`initiators` counts how often the same alarm starts an avalanche.

Everything is computed in the engine on the numbered raises
(:func:`evaluation.analyses.alarms.prep.key_raises`); only avalanches come back.
"""
from __future__ import annotations

from dataclasses import dataclass

import ibis
import pandas as pd
from ibis import _

from .prep import KeyNames
from .rules import DEFAULT_RULES, AlarmRules

EPISODE_COLUMNS = ["system_id", "avalanche_id", "start", "end", "minutes", "alarms",
                   "peak_per_minute", "distinct_alarms", "initiator_definition",
                   "initiator_resource_id", "initiator_raised_at", "initiator_ties"]
FOLLOWER_COLUMNS = ["system_id", "avalanche_id", "rank", "definition", "resource_id", "alarms"]
INITIATOR_COLUMNS = ["rank", "definition", "resource_id", "avalanches", "share", "systems",
                     "first_start", "last_start"]


def minute_numbers(raises: ibis.Table, rules: AlarmRules = DEFAULT_RULES) -> ibis.Table:
    """Each raise with the number of its clock-aligned avalanche window since the
    epoch (``minute_no``)."""
    return raises.mutate(minute_no=(_.raised_at.epoch_seconds() // rules.avalanche_window_s)
                         .cast("int64"))


def busy_intervals(counts: ibis.Table, systems: ibis.Table, rules: AlarmRules = DEFAULT_RULES
                   ) -> ibis.Table:
    """The intervals (of :func:`evaluation.analyses.alarms.load.interval_counts`)
    that hold enough alarms for an avalanche minute: ``sys_no``, ``interval_no``.
    ``systems``: ``sys_no`` and ``system_id``."""
    c = counts.filter(_.alarms >= rules.avalanche_min_alarms)
    return (c.join(systems, c.position.identical_to(systems.system_id))
            .select("sys_no", "interval_no"))


def candidates(raises: ibis.Table, rules: AlarmRules = DEFAULT_RULES,
               busy: ibis.Table | None = None) -> ibis.Table:
    """The raises that may belong to an avalanche, with ``minute_no``: all of them,
    or with ``busy`` (:func:`busy_intervals`) only those of intervals that hold
    enough alarms — a minute lies within one interval when its length divides
    the interval's, so a quieter interval holds no avalanche minute."""
    if busy is not None and rules.interval_s % rules.avalanche_window_s == 0:
        raises = (raises.mutate(interval_no=(_.raised_at.epoch_seconds() // rules.interval_s)
                                .cast("int64"))
                  .join(busy, ["sys_no", "interval_no"], how="semi").drop("interval_no"))
    return minute_numbers(raises, rules).select("sys_no", "alarm_no", "raised_at", "minute_no")


def avalanche_minutes(cand: ibis.Table, rules: AlarmRules = DEFAULT_RULES) -> ibis.Table:
    """The avalanche minutes of the :func:`candidates`: ``sys_no``, ``minute_no``,
    ``alarms`` (at least ``rules.avalanche_min_alarms``, boundary included) and
    ``avalanche_id`` (the number of the first minute of its avalanche:
    consecutive minutes of one system share it)."""
    counts = (cand.group_by("sys_no", "minute_no")
              .agg(alarms=_.count()).filter(_.alarms >= rules.avalanche_min_alarms))
    w = ibis.window(group_by="sys_no", order_by="minute_no")
    isl = counts.mutate(_island=_.minute_no - ibis.row_number().over(w))
    return (isl.mutate(avalanche_id=_.minute_no.min().over(
        ibis.window(group_by=["sys_no", "_island"]))).drop("_island"))


def members(cand: ibis.Table, minutes: ibis.Table) -> ibis.Table:
    """The raises of every avalanche (the :func:`candidates` in its minutes) with
    ``avalanche_id``, ``first`` (the initiator: the earliest, ties by alarm
    number, i.e. definition and resource; two raises of one alarm at one
    instant are alike) and ``tie`` (raised at the initiator's instant, the
    initiator too)."""
    m = minutes.select("sys_no", "minute_no", "avalanche_id")
    j = cand.join(m, ["sys_no", "minute_no"])
    order = ibis.window(group_by=["sys_no", "avalanche_id"],
                        order_by=["raised_at", "alarm_no"])
    j = j.mutate(first=ibis.row_number().over(order) == 0,
                 _t0=_.raised_at.min().over(ibis.window(group_by=["sys_no", "avalanche_id"])))
    return j.mutate(tie=_.raised_at == _._t0).drop("_t0")


def episodes(minutes: ibis.Table, mem: ibis.Table, rules: AlarmRules = DEFAULT_RULES
             ) -> ibis.Table:
    """One row per avalanche: ``sys_no``, ``avalanche_id``, ``start``, ``end``,
    ``minutes``, ``alarms``, ``peak_per_minute``, ``distinct_alarms``,
    ``initiator_alarm``, ``initiator_raised_at``, ``initiator_ties`` (other alarms
    raised at the same instant)."""
    secs = rules.avalanche_window_s
    per = (minutes.group_by("sys_no", "avalanche_id")
           .agg(minutes=_.count(), alarms=_.alarms.sum(), peak_per_minute=_.alarms.max(),
                _last=_.minute_no.max()))
    who = (mem.group_by("sys_no", "avalanche_id")
           .agg(distinct_alarms=_.alarm_no.nunique(),
                initiator_ties=_.tie.cast("int64").sum() - 1,
                initiator_alarm=_.alarm_no.min(where=_.first),
                initiator_raised_at=_.raised_at.min()))
    return (per.join(who, ["sys_no", "avalanche_id"])
            .mutate(start=(_.avalanche_id * secs).as_timestamp("s"),
                    end=((_._last + 1) * secs).as_timestamp("s"))
            .drop("_last"))


def followers(mem: ibis.Table, top: int) -> ibis.Table:
    """Per avalanche the ``top`` alarms raised most often in it after its initiator:
    ``sys_no``, ``avalanche_id``, ``rank``, ``alarm_no``, ``alarms``."""
    c = (mem.filter(~_.first).group_by("sys_no", "avalanche_id", "alarm_no")
         .agg(alarms=_.count()))
    rank = ibis.row_number().over(ibis.window(group_by=["sys_no", "avalanche_id"],
                                              order_by=[ibis.desc("alarms"), "alarm_no"]))
    return c.mutate(rank=rank + 1).filter(_.rank <= top)


def initiators(episode_df: pd.DataFrame) -> pd.DataFrame:
    """How often each alarm started an avalanche (from the small table of
    avalanches): ``rank``, ``definition``, ``resource_id``, ``avalanches``,
    ``share`` (of all avalanches), ``systems``, ``first_start``, ``last_start``."""
    if not len(episode_df):
        return pd.DataFrame(columns=INITIATOR_COLUMNS)
    g = (episode_df.groupby(["initiator_definition", "initiator_resource_id"], dropna=False)
         .agg(avalanches=("avalanche_id", "size"), systems=("system_id", "nunique"),
              first_start=("start", "min"), last_start=("start", "max")).reset_index()
         .rename(columns={"initiator_definition": "definition",
                          "initiator_resource_id": "resource_id"}))
    g["share"] = g.avalanches / len(episode_df)
    g = g.sort_values(["avalanches", "definition", "resource_id"],
                      ascending=[False, True, True]).reset_index(drop=True)
    g["rank"] = range(1, len(g) + 1)
    return g[INITIATOR_COLUMNS]


def raises_of(alarms: ibis.Table, system_id: str | None, start, end) -> ibis.Table:
    """The raises of one avalanche (the drill-down of an episode): the alarms of
    system ``system_id`` raised in ``[start, end)`` — its minutes — in time order
    (ties by definition and resource, as the initiator is chosen)."""
    t = alarms.filter(_.system_id.identical_to(system_id), _.raised_at >= start,
                      _.raised_at < end)
    return t.order_by("raised_at", "definition", "resource_id", "alarm_id")


@dataclass(frozen=True)
class Avalanches:
    """The avalanches of an analysis as small tables (columns in
    :data:`EPISODE_COLUMNS`, :data:`FOLLOWER_COLUMNS`, :data:`INITIATOR_COLUMNS`):
    ``episodes`` in time order, ``followers`` (the top followers of each, by
    rank) and ``initiators`` (most frequent first)."""

    episodes: pd.DataFrame
    followers: pd.DataFrame
    initiators: pd.DataFrame

    def summary(self) -> dict:
        """Counts for the KPIs: ``avalanches``, ``avalanche_minutes``,
        ``avalanche_alarms``."""
        e = self.episodes
        return {"avalanches": len(e), "avalanche_minutes": int(e.minutes.sum()) if len(e) else 0,
                "avalanche_alarms": int(e.alarms.sum()) if len(e) else 0}


def compute(raises: ibis.Table, keys: ibis.Table, names: KeyNames,
            rules: AlarmRules = DEFAULT_RULES, counts: ibis.Table | None = None) -> Avalanches:
    """Every avalanche of the numbered raises (of ``keys``), with initiator and
    followers; ``counts`` (the alarms per system and interval) speed it up."""
    busy = None
    if counts is not None:
        busy = busy_intervals(counts, keys.select("sys_no", "system_id").distinct(), rules)
    cand = candidates(raises, rules, busy).cache()
    minutes = avalanche_minutes(cand, rules).cache()
    mem = members(cand, minutes).cache()
    ep = episodes(minutes, mem, rules).execute()
    fol = followers(mem, rules.avalanche_top_followers).execute()
    for t in (mem, minutes, cand):
        t.release()
    if not len(ep):
        return Avalanches(pd.DataFrame(columns=EPISODE_COLUMNS),
                          pd.DataFrame(columns=FOLLOWER_COLUMNS), initiators(ep))
    ep = names.name_system(names.name_alarm(ep, "initiator_alarm", "initiator_"))
    ep = ep.sort_values(["start", "system_id"]).reset_index(drop=True)[EPISODE_COLUMNS]
    fol = names.name_system(names.name_alarm(fol))
    fol = fol.sort_values(["system_id", "avalanche_id", "rank"]).reset_index(drop=True)
    fol = fol[FOLLOWER_COLUMNS]
    return Avalanches(ep, fol, initiators(ep))
