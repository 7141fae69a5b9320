"""Nuisance alarms: chattering, repeats, standing and stale alarms, bad actors, history.

All functions take the output of :func:`evaluation.analyses.alarms.prep.instances`
(alarms with ``gap_s`` and ``span_s``) unless stated otherwise.
"""
from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
from ibis import _

from ... import localtime
from .prep import (
    KEY,
    TIME_COLUMNS,
    ended_at,
    ended_unknown,
    facts,
    key_raises,
    millis,
    number_keys,
    seconds,
    with_key,
    with_window,
)
from .rules import OPEN_STATUSES, AlarmRules


def _inverse_run(gap_s):
    """1/r for a run length r in seconds (runs under one second count as one); NULL
    for the first raise of an alarm, which has no run."""
    return ibis.ifelse(gap_s.notnull(), 1.0 / ibis.greatest(gap_s, 1.0), ibis.null("float64"))


def flag_nuisance(inst: ibis.Table, rules: AlarmRules = AlarmRules()) -> ibis.Table:
    """Mark each raise: ``chatter`` and ``repeat``.

    ``chatter`` — ISA-18.2 / EEMUA 191: this raise is the 3rd (or later) of the
    same alarm within 60 s, i.e. the raise ``chatter_raises - 1`` raises back
    is at most ``chatter_window_s`` earlier (raises at 0, 30, 60 s chatter; at
    0, 30, 61 s they do not).
    ``repeat`` — the same definition on the same resource was raised at most
    ``repeat_window_s`` earlier (the guide's "history review" of a repetitive
    alarm; the window is a parameter, boundary included).
    """
    return inst.mutate(
        chatter=(_.span_s <= rules.chatter_window_s).fill_null(False),
        repeat=(_.gap_s <= rules.repeat_window_s).fill_null(False),
    )


def chatter_index(inst: ibis.Table, by=KEY) -> ibis.Table:
    """Chatter index ψ per alarm (Kondaveeti et al. 2013).

    The run length r of a raise is the time since the previous raise of the
    same alarm, in seconds (the sample unit of a log with second resolution;
    runs shorter than one second count as one). With P_r the share of runs of
    length r, ψ = Σ_r P_r / r — i.e. the mean of 1/r over the runs. ψ is 1
    when the alarm re-raises every second and tends to 0 for alarms that come
    rarely; an alarm with ψ ≥ 0.05 is considered chattering. Columns: the
    ``by`` keys, ``runs``, ``chatter_index``, ``median_run_s``.
    """
    runs = inst.filter(_.gap_s.notnull())
    return (runs.group_by(list(by))
            .agg(runs=_.count(),
                 chatter_index=_inverse_run(_.gap_s).mean(),
                 median_run_s=_.gap_s.median()))


def key_facts(alarms: ibis.Table, rules: AlarmRules = AlarmRules(),
              keys: ibis.Table | None = None, raises: ibis.Table | None = None) -> ibis.Table:
    """Per alarm key (system, definition, resource): additive facts.

    Everything per definition, per resource or overall is a sum (or min/max)
    of these rows. Each distinct key first gets a number (``key_id``,
    :func:`evaluation.analyses.alarms.prep.number_keys`), so the
    one window of the analysis — the gaps between raises of the same alarm,
    :func:`evaluation.analyses.alarms.prep.key_raises` — sorts (number, time) pairs
    rather than three strings; then two group-bys on that number (the window
    pass and the plain per-alarm facts) meet the key strings again. ``keys``
    and ``raises`` pass those two tables when the caller made (and cached) them.
    Columns: ``alarms``, ``priority`` (highest =
    lowest number), ``chatter_raises``, ``repeat_alarms``, ``runs`` (raises with
    a previous raise of the same alarm), ``inv_run_sum`` (Σ 1/r, for ψ),
    ``short_gaps`` (re-raises within the chatter window of the previous raise)
    and ``short_gap_max_s`` (the largest such gap),
    ``closed``, ``false_alarms``, ``handled``, ``handle_sum_s``, ``cleared``,
    ``clear_sum_s``, ``fleeting`` (returned to normal at most ``rules.fleeting_s``
    after the raise),
    ``escalated_or_expired``, ``first_raised``, ``last_raised``, ``last_record``
    (the latest time any of its records carries).
    """
    window = rules.chatter_window_s
    keys = number_keys(alarms) if keys is None else keys
    raises = key_raises(alarms, keys, rules.chatter_raises) if raises is None else raises
    f = with_key(facts(alarms), keys)
    flagged = flag_nuisance(raises, rules)
    a = (flagged.group_by("key_id")
         .agg(alarms=_.count(),
              chatter_raises=_.chatter.cast("int64").sum(),
              repeat_alarms=_.repeat.cast("int64").sum(), runs=_.gap_s.count(),
              inv_run_sum=_inverse_run(_.gap_s).sum(),
              short_gaps=(_.gap_s <= window).fill_null(False).cast("int64").sum(),
              short_gap_max_s=ibis.ifelse(_.gap_s <= window, _.gap_s,
                                          ibis.null("float64")).max(),
              first_raised=_.raised_at.min(), last_raised=_.raised_at.max()))
    b = (f.group_by("key_id")
         .agg(priority=_.priority.min(),
              closed=_.closed.cast("int64").sum(), false_alarms=_.false_alarm.cast("int64").sum(),
              handled=_.handle_s.count(), handle_sum_s=_.handle_s.sum(),
              cleared=_.clear_s.count(), clear_sum_s=_.clear_s.sum(),
              fleeting=(_.clear_s <= rules.fleeting_s).fill_null(False).cast("int64").sum(),
              **{f"_last_{c}": _[c].max() for c in TIME_COLUMNS[1:]},
              escalated_or_expired=((_.escalated_at.notnull()
                                     | _.status.isin(("escalated", "expired")))
                                    .fill_null(False).cast("int64").sum())))
    # the latest record of a key from the latest of each of its times (cheaper
    # than a greatest over every alarm's times)
    lasts = [f"_last_{c}" for c in TIME_COLUMNS[1:]]
    out = (keys.drop("alarm_no", "sys_no").join(a, "key_id").join(b, "key_id")
           .drop("key_id"))
    return out.mutate(last_record=ibis.greatest(
        _.last_raised, *[_[c].fill_null(_.last_raised) for c in lasts])).drop(*lasts)


def per_alarm(facts: ibis.Table, by=("definition", "resource_id")) -> ibis.Table:
    """Per definition and resource (or any ``by``): load, chattering, repeats, false
    alarms, handling — from :func:`key_facts` (or straight from flagged instances).

    Columns: the ``by`` keys, ``alarms``, ``systems``, ``priority``,
    ``chatter_raises``, ``chattering`` (any chatter raise), ``repeat_alarms``,
    ``runs``, ``chatter_index`` (ψ over the runs, every system pooled),
    ``closed``, ``false_alarms``, ``false_alarm_rate`` (false / closed, NULL
    without closed alarms), ``mean_handle_s``, ``mean_clear_s``,
    ``short_gaps``, ``short_gap_max_s``, ``fleeting``, ``cleared``,
    ``escalated_or_expired``, ``first_raised``, ``last_raised``.
    """
    if "inv_run_sum" not in facts.columns:
        facts = key_facts(facts)

    def ratio(num, den):
        return ibis.ifelse(den > 0, num.cast("float64") / den, ibis.null("float64"))

    return (facts.group_by(list(by))
            .agg(alarms=_.alarms.sum(), systems=_.system_id.nunique(), priority=_.priority.min(),
                 chatter_raises=_.chatter_raises.sum(), repeat_alarms=_.repeat_alarms.sum(),
                 runs=_.runs.sum(), inv_run_sum=_.inv_run_sum.sum(),
                 short_gaps=_.short_gaps.sum(),
                 closed=_.closed.sum(), false_alarms=_.false_alarms.sum(),
                 handled=_.handled.sum(), handle_sum_s=_.handle_sum_s.sum(),
                 cleared=_.cleared.sum(), clear_sum_s=_.clear_sum_s.sum(),
                 short_gap_max_s=_.short_gap_max_s.max(), fleeting=_.fleeting.sum(),
                 escalated_or_expired=_.escalated_or_expired.sum(),
                 first_raised=_.first_raised.min(), last_raised=_.last_raised.max())
            .mutate(chattering=_.chatter_raises > 0,
                    chatter_index=ratio(_.inv_run_sum, _.runs),
                    false_alarm_rate=ratio(_.false_alarms, _.closed),
                    mean_handle_s=ratio(_.handle_sum_s, _.handled),
                    mean_clear_s=ratio(_.clear_sum_s, _.cleared))
            .drop("inv_run_sum", "handle_sum_s", "clear_sum_s", "handled")
            .order_by(ibis.desc("alarms"), *by))


def nuisance_alarms(facts: ibis.Table) -> ibis.Table:
    """One row: chattering and fleeting alarms counted as (system, definition)
    pairs — one definition chattering in two systems is two alarms to tune, on
    two resources of one system one — from :func:`key_facts`.

    Columns ``chattering_alarms`` (pairs with a raise that was the 3rd within
    60 s), ``fleeting_alarms`` (pairs with a fleeting raise), ``fleeting_raises``.
    ISA-18.2's target for both counts is zero.
    """
    pairs = (facts.group_by("system_id", "definition")
             .agg(chatter=_.chatter_raises.sum(), fleeting=_.fleeting.sum()))
    return pairs.aggregate(chattering_alarms=(_.chatter > 0).cast("int64").sum(),
                           fleeting_alarms=(_.fleeting > 0).cast("int64").sum(),
                           fleeting_raises=_.fleeting.sum())


def _cut(cut) -> ibis.Value:
    return cut if isinstance(cut, ibis.Value) else ibis.literal(cut, type="timestamp")


def is_active(alarms: ibis.Table, cut) -> ibis.Value:
    """An alarm stands at ``cut`` (a time, or a column: each system's window end)
    when it was raised by then and has neither returned to normal nor been
    closed by then, and did not expire (guide: an expired alarm leaves the
    list). A status closed or expired without a time counts as ended."""
    cut = _cut(cut)
    ended = ended_at(alarms)
    return ((alarms.raised_at <= cut) & (ended.isnull() | (ended > cut))
            & ~ended_unknown(alarms))


def standing_facts(alarms: ibis.Table, wins: ibis.Table, rules: AlarmRules = AlarmRules()
                   ) -> ibis.Table:
    """The alarms that stand at the end of their system's window ``wins`` or stood
    more than ``rules.stale_after_h`` in it — one pass for :func:`standing` and
    :func:`stale_episodes`, whichever table they are given.

    An alarm stands from its raise until it returned to normal or was closed;
    one still standing at the window end is counted to that end. Adds
    ``window_end``, ``ended_at`` (NULL: still standing at the end), ``stood_h``
    and ``active`` (standing at the end). An alarm closed or expired by status
    with no time has no known duration: it neither stands nor has an episode.
    """
    if "stood_h" in alarms.columns:
        return alarms
    # Before the join, drop what cannot qualify: an alarm that ended by the
    # earliest window end and stood at most the stale limit neither stands at
    # its window's end nor has an episode.
    e = ended_at(alarms)
    limit_ms = round(rules.stale_after_h * 3_600_000)
    alarms = alarms.filter(e.isnull() | (e > wins.window_end.min())
                           | (millis(e, alarms.raised_at) > limit_ms))
    t = with_window(alarms, wins)
    end = ended_at(t)
    active = is_active(t, t.window_end)
    until = ibis.ifelse(end.notnull() & (end <= t.window_end), end, t.window_end)
    t = t.mutate(ended_at=ibis.ifelse(end <= t.window_end, end, ibis.null("timestamp")),
                 stood_h=seconds(until, t.raised_at) / 3600.0, active=active,
                 unknown=ended_unknown(t))
    return (t.filter(_.active | (~_.unknown & (_.stood_h > rules.stale_after_h)))
            .select("alarm_id", "system_id", "definition", "resource_id", "priority",
                    "raised_at", "status", "handled_at", "window_end", "ended_at", "stood_h",
                    "active"))


def standing(alarms: ibis.Table, wins: ibis.Table, rules: AlarmRules = AlarmRules()
             ) -> ibis.Table:
    """Alarms standing at the end of their system's observation window ``wins``
    (:func:`evaluation.analyses.alarms.prep.windows`) with their age at that end;
    ``stale`` when older than ``rules.stale_after_h`` (ISA-18.2: active more
    than 24 h); ``unhandled`` when nobody took it in hand. Takes the alarms or
    their :func:`standing_facts`."""
    t = standing_facts(alarms, wins, rules).filter(_.active)
    return (t.mutate(age_h=_.stood_h, stale=_.stood_h > rules.stale_after_h,
                     unhandled=_.handled_at.isnull())
            .select("alarm_id", "system_id", "definition", "resource_id", "priority",
                    "raised_at", "status", "unhandled", "age_h", "stale")
            .order_by(ibis.desc("age_h"), "alarm_id"))


def stale_episodes(alarms: ibis.Table, wins: ibis.Table, rules: AlarmRules = AlarmRules()
                   ) -> ibis.Table:
    """Every alarm that stood more than ``rules.stale_after_h`` at some time in its
    system's window — those that returned to normal or were closed later too.

    It is stale from ``stale_from`` (raise + 24 h) until it ended, or its
    window did (:func:`standing_facts`; takes the alarms or those facts).
    Columns ``alarm_id``, ``system_id``, ``definition``, ``resource_id``,
    ``priority``, ``raised_at``, ``stale_from``, ``ended_at`` (NULL: still
    standing at ``window_end``), ``window_end``, ``stood_h``.
    """
    limit_s = round(rules.stale_after_h * 3600)
    return (standing_facts(alarms, wins, rules).filter(_.stood_h > rules.stale_after_h)
            .mutate(stale_from=_.raised_at + ibis.interval(seconds=limit_s))
            .select("alarm_id", "system_id", "definition", "resource_id", "priority",
                    "raised_at", "stale_from", "ended_at", "window_end", "stood_h")
            .order_by(ibis.desc("stood_h"), "alarm_id"))


def stale_levels(episodes: ibis.Table, zone: str = localtime.UTC,
                 span: tuple[dt.datetime, dt.datetime] | None = None) -> ibis.Table:
    """Stale alarms standing at once, per system and day, from :func:`stale_episodes`.

    A sweep over the episodes: +1 when an alarm turns stale, −1 when it ends
    (or its window does). Events at the same instant are netted first, so an
    end and a start at one instant do not overlap, and two ends at one instant
    leave no level between them. Per ``system_id`` and ``day`` of an event:
    ``max_level`` (most stale alarms standing at once after any instant of the
    day), ``net`` (its starts minus its ends) and ``first_t`` (the wall time of its
    first event). The level a day starts with is the sum of ``net`` over the days
    before it (see :func:`daily_stale_max`).

    Days are those of ``zone``, the database's time zone (ISA-18.2's "on any day"
    is the operators' day; :mod:`evaluation.localtime`: per-day figures use the
    zone's days): ``day`` is the local midnight and ``first_t`` a local wall time,
    both naive, exact for events within a year of ``span``, the period analysed
    (:func:`evaluation.localtime.local_time`).
    """
    starts = episodes.select("system_id", t=_.stale_from, delta=ibis.literal(1, "int64"))
    ends = episodes.select("system_id", t=_.ended_at.fill_null(_.window_end),
                           delta=ibis.literal(-1, "int64"))
    ev = starts.union(ends).group_by("system_id", "t").agg(delta=_.delta.sum())
    clock = localtime.wall_time(ev.t, zone, span)
    w = ibis.window(group_by="system_id", order_by="t", rows=(None, 0))
    ev = ev.mutate(level=_.delta.sum().over(w), clock=clock).mutate(day=_.clock.truncate("D"))
    # the first event by instant (in the clock's repeated hour a later one can read earlier)
    return ev.group_by("system_id", "day").agg(max_level=_.level.max(), net=_.delta.sum(),
                                               first_t=_.clock.argmin(_.t))


def daily_stale_max(levels: pd.DataFrame) -> pd.DataFrame:
    """Most stale alarms standing at once on each day, per system, from the few
    rows of :func:`stale_levels` (its days, those of the zone it was given): a day
    starts with the level the previous days left (the sum of their ``net``) —
    unless its first event comes at 00:00 sharp, when the level after that instant
    is the day's start — and a day
    without events keeps it all day. Columns ``system_id``, ``day``,
    ``max_stale``; days with none are left out."""
    rows = []
    for system, g in levels.sort_values("day").groupby("system_id", dropna=False, sort=True):
        level = 0
        prev = None
        for day, max_level, net, first in g[["day", "max_level", "net", "first_t"]].itertuples(
                index=False):
            day = pd.Timestamp(day)
            if prev is not None and level > 0:
                rows += [(system, d, level) for d in pd.date_range(
                    prev + pd.Timedelta(days=1), day - pd.Timedelta(days=1), freq="D")]
            carried = level if pd.Timestamp(first) > day else 0
            rows.append((system, day, max(carried, int(max_level))))
            level += int(net)
            prev = day
    out = pd.DataFrame(rows, columns=["system_id", "day", "max_stale"])
    return out[out.max_stale > 0].sort_values(["system_id", "day"]).reset_index(drop=True)


def definition_counts(t: ibis.Table) -> ibis.Table:
    """Alarms per definition, from alarms or from any table of partial counts
    (a column ``alarms``)."""
    if "alarms" in t.columns:
        return t.group_by("definition").agg(alarms=_.alarms.sum())
    return t.group_by("definition").agg(alarms=_.count())


def bad_actors(alarms: ibis.Table, rules: AlarmRules = AlarmRules()) -> ibis.Table:
    """Definitions ranked by the load they make (Pareto).

    Columns ``rank``, ``definition``, ``alarms``, ``share``,
    ``cumulative_share``; the bad actors are the first ones that together reach
    ``rules.pareto_share`` of the load (the one crossing it included), at most
    ``rules.bad_actor_top_n``.
    """
    c = definition_counts(alarms)
    c = c.mutate(total=_.alarms.sum().over(ibis.window()).cast("float64"))
    w = ibis.window(order_by=[ibis.desc("alarms"), "definition"])
    ranked = c.mutate(rank=ibis.row_number().over(w) + 1,
                      cumulative=_.alarms.sum().over(
                          ibis.window(order_by=[ibis.desc("alarms"), "definition"],
                                      rows=(None, 0))))
    ranked = ranked.mutate(share=_.alarms.cast("float64") / _.total,
                           cumulative_share=_.cumulative.cast("float64") / _.total,
                           before=(_.cumulative - _.alarms).cast("float64") / _.total)
    return (ranked.filter((_.before < rules.pareto_share) & (_.rank <= rules.bad_actor_top_n))
            .select("rank", "definition", "alarms", "share", "cumulative_share")
            .order_by("rank"))


def top_share(alarms: ibis.Table, n: int = 10) -> ibis.Value:
    """Share of the load made by the ``n`` most frequent definitions (ISA-18.2)."""
    c = definition_counts(alarms)
    c = c.mutate(share=_.alarms.cast("float64") / _.alarms.sum().over(ibis.window()),
                 rank=ibis.row_number().over(ibis.window(order_by=[ibis.desc("alarms"),
                                                                   "definition"])))
    return c.filter(_.rank < n).share.sum()


def history(flagged: ibis.Table, definition: str, resource_id: str | None = None,
            system_id: str | None = None) -> ibis.Table:
    """The guide's "history review": every time this alarm fired, oldest first,
    with the gap to the previous raise, how long it stood and how it ended."""
    t = flagged.filter(_.definition == definition)
    if resource_id is not None:
        t = t.filter(_.resource_id == resource_id)
    if system_id is not None:
        t = t.filter(_.system_id == system_id)
    return (t.select("alarm_id", "system_id", "definition", "resource_id", "priority",
                     "raised_at", "gap_s", "clear_s", "handle_s", "close_s", "status",
                     "close_reason", "assigned_to", "chatter", "repeat")
            .order_by("raised_at", "alarm_id"))


def open_alarms(alarms: ibis.Table, cut=None) -> ibis.Value:
    """On the operator's list: status new, in progress or escalated, or no status
    and neither closed nor returned to normal.

    With ``cut`` (a time), on the list *at that time*: raised by then and not
    yet closed then (a closing time after ``cut`` means it was still open); an
    alarm closed or expired by status without a time is not open; without a
    status it must not have returned to normal by then either.
    """
    if cut is None:
        return (alarms.status.isin(OPEN_STATUSES)
                | (alarms.status.isnull() & alarms.closed_at.isnull()
                   & alarms.cleared_at.isnull()))
    c = _cut(cut)

    def after(col):
        return col.isnull() | (col > c)

    return ((alarms.raised_at <= c) & (
        (alarms.status.isnull() & after(alarms.closed_at) & after(alarms.cleared_at))
        | (alarms.status.isin(OPEN_STATUSES) & after(alarms.closed_at))
        | (alarms.status.isin(("closed", "expired")) & (alarms.closed_at > c)))
    ).fill_null(False)
