"""The alarm life cycle of the VMS guide: handle, assign, escalate, expire, close.

Takes :func:`evaluation.analyses.alarms.prep.instances` output. Times in seconds.

- *time to handle*: raise → taken in hand (``handled_at``: "handle" assigns the
  alarm to the operator and sets it in progress);
- *time to close*: raise → closed;
- *escalated*: the alarm reached status escalated (``escalated_at`` set or status
  escalated) — the guide escalates an alarm left unhandled (> 45 s, when set);
- *expired*: status expired — left unhandled until its expiry (> 90 s, 48 h by
  default);
- *closed without handling*: closed with no ``handled_at`` (the guide allows
  it only when the definition says so; default no);
- *close reasons*: handled, false alarm, other — closing asks for one, so a
  closed alarm without a reason is counted (``closed_without_reason``);
- *too early*: an escalation at most 45 s or an expiry at most 90 s after the
  raise (the guide accepts only longer times).
"""
from __future__ import annotations

import ibis
from ibis import _

from .prep import quantile_s, seconds
from .rules import CLOSE_REASONS, AlarmRules


def _escalated(t: ibis.Table) -> ibis.Value:
    return (t.escalated_at.notnull() | (t.status == "escalated")).fill_null(False)


def _closed_state(t: ibis.Table) -> ibis.Value:
    return ((t.status == "closed") | t.close_reason.notnull()).fill_null(False)


def _closed_by_operator(t: ibis.Table) -> ibis.Value:
    """Closed by someone (status closed, or a closing time with no status): the
    guide's closing dialog asks for a reason. An expiry closes without one."""
    return ((t.status == "closed")
            | (t.status.isnull() & t.closed_at.notnull())).fill_null(False)


def summary(inst: ibis.Table, rules: AlarmRules = AlarmRules()) -> ibis.Table:
    """One row: alarms, handled, closed, shares and time-to-handle/close figures.

    ``escalated_too_early`` counts escalations at most ``rules.escalate_min_s``
    (45 s) after the raise — the guide only lets a definition escalate after
    more than 45 s unhandled, so such a row points at a clock or configuration
    problem; ``expired_too_early`` likewise counts expired alarms whose expiry
    (their closing time) came at most ``rules.expire_min_s`` (90 s) after the
    raise (guide: expiry after more than 90 s). ``closed_without_reason``
    counts alarms closed by an operator (status closed, or a closing time and
    no status) that carry no close reason — the guide asks one on closing.
    ``escalated_share`` and ``expired_share`` are over all alarms;
    ``closed_without_handling_share`` over the closed ones,
    ``closed_without_reason_share`` over those closed by an operator; shares
    are NULL when their denominator is zero.
    """
    closed = _closed_state(inst)
    by_operator = _closed_by_operator(inst)
    return inst.aggregate(
        alarms=_.count(),
        handled=_.handled_at.notnull().cast("int64").sum(),
        closed=closed.cast("int64").sum(),
        escalated=_escalated(inst).cast("int64").sum(),
        expired=(_.status == "expired").fill_null(False).cast("int64").sum(),
        closed_without_handling=(closed & _.handled_at.isnull()).cast("int64").sum(),
        escalated_too_early=(seconds(_.escalated_at, _.raised_at) <= rules.escalate_min_s)
        .fill_null(False).cast("int64").sum(),
        expired_too_early=((_.status == "expired")
                           & (seconds(_.closed_at, _.raised_at) <= rules.expire_min_s))
        .fill_null(False).cast("int64").sum(),
        closed_by_operator=by_operator.cast("int64").sum(),
        closed_without_reason=(by_operator & _.close_reason.isnull()).cast("int64").sum(),
        median_handle_s=quantile_s(_.handled_at, _.raised_at), mean_handle_s=_.handle_s.mean(),
        p90_handle_s=quantile_s(_.handled_at, _.raised_at, 0.9),
        median_close_s=quantile_s(_.closed_at, _.raised_at), mean_close_s=_.close_s.mean(),
        median_clear_s=quantile_s(_.cleared_at, _.raised_at),
    ).mutate(
        escalated_share=_share(_.escalated, _.alarms),
        expired_share=_share(_.expired, _.alarms),
        closed_without_handling_share=_share(_.closed_without_handling, _.closed),
        closed_without_reason_share=_share(_.closed_without_reason, _.closed_by_operator),
    )


def _share(num, den):
    return ibis.ifelse(den > 0, num.cast("float64") / den, ibis.null("float64"))


def close_reasons(inst: ibis.Table) -> ibis.Table:
    """Closed alarms per close reason (handled, false_alarm, other) with shares."""
    closed = inst.filter(_.close_reason.notnull())
    return (closed.group_by("close_reason").agg(alarms=_.count())
            .mutate(share=_.alarms.cast("float64") / _.alarms.sum().over(ibis.window()))
            .order_by("close_reason"))


def per_operator(inst: ibis.Table) -> ibis.Table:
    """Per operator (``assigned_to``): load and speed.

    ``alarms`` assigned, ``handled``, ``closed``, ``false_alarms``,
    ``escalated_share``, ``median_handle_s``, ``median_close_s``; operators
    sorted by load. Alarms never assigned are left out.
    """
    t = inst.filter(_.assigned_to.notnull())
    return (t.group_by("assigned_to")
            .agg(alarms=_.count(), handled=_.handled_at.notnull().cast("int64").sum(),
                 closed=_closed_state(t).cast("int64").sum(),
                 false_alarms=_.false_alarm.cast("int64").sum(),
                 escalated=_escalated(t).cast("int64").sum(),
                 median_handle_s=quantile_s(_.handled_at, _.raised_at),
                 median_close_s=quantile_s(_.closed_at, _.raised_at))
            .mutate(escalated_share=_share(_.escalated, _.alarms))
            .order_by(ibis.desc("alarms"), "assigned_to"))


__all__ = ["CLOSE_REASONS", "close_reasons", "per_operator", "summary"]
