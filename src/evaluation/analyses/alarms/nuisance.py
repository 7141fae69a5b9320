"""Nuisance alarms: chattering, repeats, standing and stale alarms, bad actors, history.

All functions take the output of :func:`evaluation.analyses.alarms.prep.instances`
(alarms with ``gap_s`` and ``span_s``) unless stated otherwise.
"""
from __future__ import annotations

import datetime as dt

import ibis
from ibis import _

from .prep import KEY, facts, runs, seconds
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


def key_facts(alarms: ibis.Table, rules: AlarmRules = AlarmRules()) -> ibis.Table:
    """Per alarm key (system, definition, resource): additive facts.

    Everything per definition, per resource or overall is a sum (or min/max)
    of these rows. Each distinct key first gets a number (``key_id``), so the
    one window of the analysis — the gaps between raises of the same alarm,
    :func:`evaluation.analyses.alarms.prep.runs` — sorts (number, time) pairs
    rather than three strings; then two group-bys on that number (the window
    pass and the plain per-alarm facts) meet the key strings again.
    Columns: ``alarms``, ``priority`` (highest =
    lowest number), ``chatter_raises``, ``repeat_alarms``, ``runs`` (raises with
    a previous raise of the same alarm), ``inv_run_sum`` (Σ 1/r, for ψ),
    ``short_gap_max_s`` (largest re-raise gap within the chatter window),
    ``closed``, ``false_alarms``, ``handled``, ``handle_sum_s``, ``cleared``,
    ``clear_sum_s``, ``fleeting`` (cleared within the chatter window),
    ``escalated_or_expired``, ``first_raised``, ``last_raised``.
    """
    window = rules.chatter_window_s
    keys = alarms.select(*KEY).distinct().mutate(
        key_id=ibis.row_number().over(ibis.window(order_by=list(KEY))))
    named = keys.rename({f"_{k}": k for k in KEY})
    f = facts(alarms)
    f = (f.join(named, [f[k].identical_to(named[f"_{k}"]) for k in KEY])
         .drop(*KEY, *[f"_{k}" for k in KEY]))
    flagged = flag_nuisance(runs(f, rules.chatter_raises, key=("key_id",)), rules)
    a = (flagged.group_by("key_id")
         .agg(alarms=_.count(),
              chatter_raises=_.chatter.cast("int64").sum(),
              repeat_alarms=_.repeat.cast("int64").sum(), runs=_.gap_s.count(),
              inv_run_sum=_inverse_run(_.gap_s).sum(),
              short_gap_max_s=ibis.ifelse(_.gap_s <= window, _.gap_s,
                                          ibis.null("float64")).max(),
              first_raised=_.raised_at.min(), last_raised=_.raised_at.max()))
    b = (f.group_by("key_id")
         .agg(priority=_.priority.min(),
              closed=_.closed.cast("int64").sum(), false_alarms=_.false_alarm.cast("int64").sum(),
              handled=_.handle_s.count(), handle_sum_s=_.handle_s.sum(),
              cleared=_.clear_s.count(), clear_sum_s=_.clear_s.sum(),
              fleeting=(_.clear_s <= window).fill_null(False).cast("int64").sum(),
              escalated_or_expired=((_.escalated_at.notnull()
                                     | _.status.isin(("escalated", "expired")))
                                    .fill_null(False).cast("int64").sum())))
    return keys.join(a, "key_id").join(b, "key_id").drop("key_id")


def per_alarm(facts: ibis.Table, by=("definition", "resource_id")) -> ibis.Table:
    """Per definition and resource (or any ``by``): load, chattering, repeats, false
    alarms, handling — from :func:`key_facts` (or straight from flagged instances).

    Columns: the ``by`` keys, ``alarms``, ``systems``, ``priority``,
    ``chatter_raises``, ``chattering`` (any chatter raise), ``repeat_alarms``,
    ``runs``, ``chatter_index`` (ψ over the runs, every system pooled),
    ``closed``, ``false_alarms``, ``false_alarm_rate`` (false / closed, NULL
    without closed alarms), ``mean_handle_s``, ``mean_clear_s``,
    ``short_gap_max_s``, ``fleeting``, ``cleared``, ``escalated_or_expired``,
    ``first_raised``, ``last_raised``.
    """
    if "inv_run_sum" not in facts.columns:
        facts = key_facts(facts)

    def ratio(num, den):
        return ibis.ifelse(den > 0, num.cast("float64") / den, ibis.null("float64"))

    return (facts.group_by(list(by))
            .agg(alarms=_.alarms.sum(), systems=_.system_id.nunique(), priority=_.priority.min(),
                 chatter_raises=_.chatter_raises.sum(), repeat_alarms=_.repeat_alarms.sum(),
                 runs=_.runs.sum(), inv_run_sum=_.inv_run_sum.sum(),
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


def is_active(alarms: ibis.Table, as_of: dt.datetime) -> ibis.Value:
    """An alarm stands at ``as_of`` when it was raised by then and has neither
    returned to normal nor been closed by then, and did not expire (guide: an
    expired alarm leaves the list). A status closed or expired without a time
    counts as ended."""
    cut = ibis.literal(as_of, type="timestamp")
    ended = ibis.least(alarms.cleared_at, alarms.closed_at)
    return ((alarms.raised_at <= cut) & (ended.isnull() | (ended > cut))
            & ~(ended.isnull() & alarms.status.isin(("closed", "expired"))).fill_null(False))


def standing(alarms: ibis.Table, as_of: dt.datetime, rules: AlarmRules = AlarmRules()
             ) -> ibis.Table:
    """Alarms standing at ``as_of`` with their age; ``stale`` when older than
    ``rules.stale_after_h`` (ISA-18.2: active more than 24 h); ``unhandled`` when
    nobody took it in hand."""
    cut = ibis.literal(as_of, type="timestamp")
    t = alarms.filter(is_active(alarms, as_of))
    return (t.mutate(age_h=seconds(cut, t.raised_at) / 3600.0)
            .mutate(stale=_.age_h > rules.stale_after_h)
            .mutate(unhandled=t.handled_at.isnull())
            .select("alarm_id", "system_id", "definition", "resource_id", "priority",
                    "raised_at", "status", "unhandled", "age_h", "stale")
            .order_by(ibis.desc("age_h"), "alarm_id"))


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


def open_alarms(alarms: ibis.Table) -> ibis.Value:
    """Still on the operator's list: status new, in progress or escalated, or no
    status and neither closed nor returned to normal."""
    return (alarms.status.isin(OPEN_STATUSES)
            | (alarms.status.isnull() & alarms.closed_at.isnull() & alarms.cleared_at.isnull()))
