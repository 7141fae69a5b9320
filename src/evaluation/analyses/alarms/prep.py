"""Selecting the alarms of an analysis and adding the per-instance facts every KPI uses.

"The same alarm" is one definition on one resource in one system: the key
(``system_id``, ``definition``, ``resource_id``). Time differences are in
seconds at millisecond precision.
"""
from __future__ import annotations

import datetime as dt

import ibis
from ibis import _

KEY = ("system_id", "definition", "resource_id")


def millis(later: ibis.Value, earlier: ibis.Value) -> ibis.Value:
    """``later - earlier`` in whole milliseconds (NULL when either is NULL)."""
    return later.delta(earlier, unit="millisecond")


def seconds(later: ibis.Value, earlier: ibis.Value) -> ibis.Value:
    """``later - earlier`` in seconds (NULL when either is NULL)."""
    return millis(later, earlier).cast("float64") / 1000.0


def quantile_s(later: ibis.Value, earlier: ibis.Value, q: float = 0.5) -> ibis.Scalar:
    """The ``q``-quantile (interpolated) of ``later - earlier``, in seconds.

    Taken on the integer milliseconds and divided after: the same value as
    over :func:`seconds`, and DuckDB orders integers much faster than floats
    (3 medians over 10M alarms: 0.5 s instead of 0.9 s).
    """
    return millis(later, earlier).quantile(q) / 1000.0


def select(alarms: ibis.Table, as_of: dt.datetime | None = None, since: dt.datetime | None = None,
           system_id: str | None = None, mask: bool = True) -> ibis.Table:
    """The alarms raised in ``[since, as_of]`` (of one system), as known at ``as_of``.

    Facts later than ``as_of`` are not known yet: such times (cleared, handled,
    escalated, closed) become empty, the close reason too, and a closed or
    expired status falls back to the status the alarm had at ``as_of``
    (escalated, in progress or new — guide, alarm instance statuses). An
    expired alarm without a closing time keeps its status. ``mask=False`` skips
    that step when the caller knows no fact is later than ``as_of``.
    """
    t = alarms
    if system_id is not None:
        t = t.filter(t.system_id == system_id)
    if since is not None:
        t = t.filter(t.raised_at >= ibis.literal(since, type="timestamp"))
    if as_of is None:
        return t
    cut = ibis.literal(as_of, type="timestamp")
    t = t.filter(t.raised_at <= cut)
    if not mask:
        return t

    def known(col):
        return ibis.ifelse(col <= cut, col, ibis.null(col.type()))

    closed_later = t.closed_at.notnull() & (t.closed_at > cut)
    fallback = ibis.cases(
        (t.escalated_at.notnull() & (t.escalated_at <= cut), "escalated"),
        (t.handled_at.notnull() & (t.handled_at <= cut), "in_progress"),
        else_="new")
    return t.mutate(
        cleared_at=known(t.cleared_at), handled_at=known(t.handled_at),
        escalated_at=known(t.escalated_at), closed_at=known(t.closed_at),
        status=ibis.ifelse(closed_later, fallback, t.status),
        close_reason=ibis.ifelse(closed_later, ibis.null("string"), t.close_reason),
    )


def facts(alarms: ibis.Table) -> ibis.Table:
    """Every alarm with its own durations and verdict (no windows): ``handle_s``,
    ``close_s``, ``clear_s`` (seconds from the raise), ``closed`` (has a close
    reason) and ``false_alarm`` (closed as a false alarm)."""
    return alarms.mutate(
        handle_s=seconds(_.handled_at, _.raised_at),
        close_s=seconds(_.closed_at, _.raised_at),
        clear_s=seconds(_.cleared_at, _.raised_at),
        closed=_.close_reason.notnull(),
        false_alarm=(_.close_reason == "false_alarm").fill_null(False),
    )


def runs(alarms: ibis.Table, chatter_raises: int = 3, key=KEY, group=None) -> ibis.Table:
    """The raises only (``key``, ``raised_at``) with ``gap_s`` and ``span_s`` as in
    :func:`instances` — a narrow table, so the sort behind the window carries
    little payload. ``key`` names the columns kept, ``group`` those that
    identify one alarm (default: all of ``key``)."""
    w = ibis.window(group_by=[_[k] for k in (group or key)], order_by=_.raised_at)
    t = alarms.select(*key, "raised_at").mutate(
        prev_raised=_.raised_at.lag().over(w),
        back_raised=_.raised_at.lag(chatter_raises - 1).over(w))
    return t.mutate(
        gap_s=seconds(_.raised_at, _.prev_raised),
        span_s=seconds(_.raised_at, _.back_raised),
    ).drop("prev_raised", "back_raised")


def ended_at(alarms: ibis.Table) -> ibis.Value:
    """When the alarm stopped standing: returned to normal or closed, whichever
    came first (NULL while neither is known)."""
    return ibis.least(alarms.cleared_at, alarms.closed_at)


def ended_unknown(alarms: ibis.Table) -> ibis.Value:
    """Closed or expired by status, but with no time: ended, at an unknown time."""
    return (ended_at(alarms).isnull()
            & alarms.status.isin(("closed", "expired"))).fill_null(False)


def number_keys(alarms: ibis.Table) -> ibis.Table:
    """Each distinct alarm key (system, definition, resource) with numbers, so that
    windows and joins over every raise sort and match integers, not strings:
    ``key_id`` (the key's rank), ``alarm_no`` (the rank of its definition and
    resource: one alarm across systems) and ``sys_no`` (the rank of its system;
    systems without a name are one system)."""
    return alarms.select(*KEY).distinct().mutate(
        key_id=ibis.row_number().over(ibis.window(order_by=list(KEY))),
        alarm_no=ibis.dense_rank().over(ibis.window(order_by=["definition", "resource_id"])),
        sys_no=ibis.dense_rank().over(ibis.window(order_by=["system_id"])))


def with_key(alarms: ibis.Table, keys: ibis.Table) -> ibis.Table:
    """``alarms`` with the numbers of their key (:func:`number_keys`), key columns dropped."""
    named = keys.rename({f"_{k}": k for k in KEY})
    return (alarms.join(named, [alarms[k].identical_to(named[f"_{k}"]) for k in KEY])
            .drop(*KEY, *[f"_{k}" for k in KEY]))


def key_raises(alarms: ibis.Table, keys: ibis.Table, chatter_raises: int = 3) -> ibis.Table:
    """Every raise as numbers only: ``key_id``, ``sys_no``, ``alarm_no``, ``raised_at``,
    ``gap_s`` and ``span_s`` (as in :func:`instances`) and ``ended_at``
    (:func:`_stood_until`: NULL while standing) — the one
    window over all raises, which the per-key facts, consequential alarms,
    avalanches and sequences all read."""
    t = with_key(alarms.select(*KEY, "raised_at", ended_at=_stood_until(alarms)), keys)
    return runs(t, chatter_raises, key=("key_id", "sys_no", "alarm_no", "ended_at"),
                group=("key_id",))


def _stood_until(alarms: ibis.Table) -> ibis.Value:
    """When the alarm stopped standing (:func:`ended_at`); its raise when it ended
    at an unknown time (closed or expired by status only): it never stood."""
    return ibis.ifelse(ended_unknown(alarms), alarms.raised_at, ended_at(alarms))


def instances(alarms: ibis.Table, chatter_raises: int = 3) -> ibis.Table:
    """:func:`facts` plus the gaps to the previous raises of the same alarm.

    Adds ``gap_s`` (seconds since the previous raise of the same key, the run
    length of Kondaveeti et al.) and ``span_s`` (seconds since the raise
    ``chatter_raises - 1`` raises back, so ``span_s <= 60`` means 3 raises in
    60 s). Raises at the same instant are interchangeable: their gaps are
    equal whatever their order.
    """
    w = ibis.window(group_by=[_[k] for k in KEY], order_by=_.raised_at)
    t = facts(alarms).mutate(prev_raised=_.raised_at.lag().over(w),
                             back_raised=_.raised_at.lag(chatter_raises - 1).over(w))
    return t.mutate(
        gap_s=seconds(_.raised_at, _.prev_raised),
        span_s=seconds(_.raised_at, _.back_raised),
    ).drop("prev_raised", "back_raised")


TIME_COLUMNS = ("raised_at", "cleared_at", "handled_at", "escalated_at", "closed_at")
"""The times of an alarm record: each is evidence that its system's log was running."""


def last_record(alarms: ibis.Table) -> ibis.Value:
    """The latest time an alarm record carries (raised, cleared, handled, escalated,
    closed)."""
    return ibis.greatest(*[alarms[c].fill_null(alarms.raised_at) for c in TIME_COLUMNS])


def log_spans(history: ibis.Table) -> ibis.Table:
    """Each system's log from its first to its last record — any time its alarms
    carry (raised, cleared, handled, escalated, closed): ``system_id``,
    ``window_start``, ``window_end``. Takes alarms, or per-key facts with
    ``first_raised`` and ``last_record``
    (:func:`evaluation.analyses.alarms.nuisance.key_facts`)."""
    if "last_record" in history.columns:
        return history.group_by("system_id").agg(window_start=_.first_raised.min(),
                                                  window_end=_.last_record.max())
    return (history.mutate(_last=last_record(history)).group_by("system_id")
            .agg(window_start=_.raised_at.min(), window_end=_._last.max()))


def windows(history: ibis.Table, scope: ibis.Table, as_of: dt.datetime,
            since: dt.datetime | None = None, observed_until: dt.datetime | None = None
            ) -> ibis.Table:
    """Each system's observation window: ``system_id``, ``window_start``, ``window_end``.

    Several systems (or simulation cases) in one log need not cover the same
    period: a system is observed from its first record to its last
    (:func:`log_spans`) as known at ``as_of`` (``history``: every alarm raised
    by ``as_of``, masked, from before ``since`` too, since a record then shows
    the log was running; or their per-key facts, or their spans already made). The window is cut to
    ``[since, as_of]``. ``observed_until`` declares that every log ran until
    then (its last record may be earlier when nothing happened), still cut at
    ``as_of``. Rates divide by the intervals of this window, and alarms still
    standing at its end are aged to it, not to the end of the longest log.
    Only systems with alarms in ``scope`` are listed.
    """
    spans = history if "window_end" in history.columns else log_spans(history)
    cut = ibis.literal(as_of, type="timestamp")
    start = spans.window_start
    if since is not None:
        start = ibis.greatest(start, ibis.literal(since, type="timestamp"))
    end = spans.window_end
    if observed_until is not None:
        end = ibis.greatest(end, ibis.literal(observed_until, type="timestamp"))
    spans = spans.mutate(window_start=start, window_end=ibis.least(end, cut))
    present = scope.select(_sys=scope.system_id).distinct()
    return (spans.join(present, spans.system_id.identical_to(present._sys))
            .drop("_sys"))


def with_window(t: ibis.Table, wins: ibis.Table) -> ibis.Table:
    """``t`` with its system's ``window_start`` and ``window_end`` (systems
    without a name are one system too)."""
    w = wins.rename(_sys="system_id")
    return t.join(w, t.system_id.identical_to(w._sys)).drop("_sys")


class KeyNames:
    """The names behind the numbers of :func:`number_keys` (a small table, read
    once), to name the alarms and systems of results computed on numbers."""

    def __init__(self, keys: ibis.Table):
        k = keys.select("sys_no", "alarm_no", *KEY).execute()
        self.alarms = (k[["alarm_no", "definition", "resource_id"]].drop_duplicates("alarm_no")
                       .set_index("alarm_no"))
        self.systems = k[["sys_no", "system_id"]].drop_duplicates("sys_no").set_index("sys_no")

    def name_alarm(self, df, column: str = "alarm_no", prefix: str = ""):
        """``df`` with ``{prefix}definition`` and ``{prefix}resource_id`` in place of
        the alarm number in ``column``."""
        named = self.alarms.rename(columns={"definition": f"{prefix}definition",
                                            "resource_id": f"{prefix}resource_id"})
        pos = df.columns.get_loc(column)
        out = df.join(named, on=column).drop(columns=[column])
        cols = list(out.columns)
        moved = cols[-2:]
        return out[cols[:pos] + moved + [c for c in cols[pos:] if c not in moved]]

    def name_system(self, df, column: str = "sys_no"):
        """``df`` with ``system_id`` in place of the system number in ``column``."""
        pos = df.columns.get_loc(column)
        out = df.join(self.systems, on=column).drop(columns=[column])
        cols = list(out.columns)
        return out[cols[:pos] + ["system_id"] + [c for c in cols[pos:-1]]]
