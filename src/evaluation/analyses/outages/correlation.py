"""Interventions × customer cuts: the correlation, as Ibis expressions.

Every function takes Ibis tables (the contract's ``interventions``,
``intervention_targets``, ``outage_reports``, ``outages``, ``pms``) and returns
an Ibis table, so the joins and group-bys run in the engine (DuckDB here,
Spark later). The rules themselves live in :mod:`.rules`.

Decisions this module takes (docs/outages.md explains them):

- The *period* is ``[start, end)``; an intervention belongs to it by its HD, a
  cut by its cut time.
- An intervention without HF has no window: it counts in ``interventions`` and
  ``missing_hf`` but is never matched to cuts nor *covered* (its M5s, if any,
  are shown in the OC figures); it is listed in the DO quality section.
- Matching is by PM and time: a cut is paired with every window of its PM that
  contains its time within the 5-minute tolerance (``before`` / ``in`` /
  ``after``). A cut that came in an M5 (``m5_ref`` set) is *attributed* only to
  the intervention its M5 answered; a cut from elsewhere (supervision) is
  attributed to every window containing it.
- A pair whose cut is a target line of that intervention is dropped (§2.1.5).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from . import rules


@dataclass(frozen=True)
class OutageConfig:
    """Parameters of the correlation (the defaults follow e-Intervention lot 1)."""

    tolerance: dt.timedelta = rules.TIMESTAMP_TOLERANCE
    """Margin around [HD, HF] in which cuts reveal badly placed timestamps (§4)."""
    m1_delay_large_s: float = 1800.0
    """HD→M1-reception delay above which an M1 counts as late (§6 evolution)."""
    bucket_s: int = 6 * 3600
    """Time bucket of the PM×time hash join (performance only; results do not depend on it)."""


@dataclass(frozen=True)
class Period:
    """The analysed period ``[start, end)`` (naive UTC datetimes)."""

    start: dt.datetime
    end: dt.datetime

    @property
    def hours(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0) / 3600.0


def _to_datetime(value) -> dt.datetime | None:
    if value is None:
        return None
    try:
        import pandas as pd
        if pd.isna(value):
            return None
        value = pd.Timestamp(value)
        if value.tzinfo is not None:
            value = value.tz_convert("UTC").tz_localize(None)
        return value.to_pydatetime()
    except (TypeError, ValueError):
        return None


def resolve_period(interventions: ir.Table, outages: ir.Table,
                   since: dt.date | dt.datetime | None = None,
                   as_of: dt.date | dt.datetime | None = None) -> Period:
    """The period of an analysis.

    ``as_of`` a date means the end of that day (the period includes it); a
    datetime is the exclusive end. Without it, the period ends one second after
    the latest HD, HF or cut time in the data. ``since`` a date starts at
    00:00 that day; without it, at the earliest HD or cut time before the end.
    """
    if isinstance(as_of, dt.datetime):
        end = as_of
    elif isinstance(as_of, dt.date):
        end = dt.datetime.combine(as_of, dt.time()) + dt.timedelta(days=1)
    else:
        latest = [_to_datetime(x) for x in (interventions.started_at.max().execute(),
                                            interventions.ended_at.max().execute(),
                                            outages.cut_at.max().execute())]
        latest = [x for x in latest if x is not None]
        end = (max(latest) + dt.timedelta(seconds=1)) if latest else dt.datetime(1970, 1, 1)
    if isinstance(since, dt.datetime):
        start = since
    elif isinstance(since, dt.date):
        start = dt.datetime.combine(since, dt.time())
    else:
        lit = ibis.literal(end)
        earliest = [_to_datetime(x) for x in (
            interventions.filter(interventions.started_at < lit).started_at.min().execute(),
            outages.filter(outages.cut_at < lit).cut_at.min().execute())]
        earliest = [x for x in earliest if x is not None]
        start = min(earliest) if earliest else end
    return Period(start=min(start, end), end=end)


def _in_period(col: ir.TimestampValue, period: Period) -> ir.BooleanValue:
    return (col >= ibis.literal(period.start)) & (col < ibis.literal(period.end))


def _left_join(left: ir.Table, right: ir.Table, key: str) -> ir.Table:
    """Left join on one equally named column, keeping a single copy of it."""
    r = right.rename({"__k": key})
    return left.left_join(r, left[key] == r["__k"]).drop("__k")


def _n(cond: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows satisfy ``cond`` (NULL counts as false)."""
    return cond.fill_null(False).cast("int64").sum()


# ---------------------------------------------------------------- inputs

def intervention_windows(interventions: ir.Table, period: Period) -> ir.Table:
    """Interventions whose HD lies in the period, with HD/HF as ``hd``/``hf``."""
    i = interventions.filter(_in_period(interventions.started_at, period))
    return i.select(
        "ref_interv_oi", "pm_id", "code_do",
        hd=i.started_at, hf=i.ended_at, m1_received_at=i.m1_received_at,
        m3_received_at=i.m3_received_at)


def counted_cuts(outages: ir.Table, period: Period) -> ir.Table:
    """Cuts in the period that pass the intrinsic criteria of §2.1.5 (:func:`rules.counted`)."""
    o = outages.filter(_in_period(outages.cut_at, period))
    o = o.filter(rules.counted(o))
    return o.select("code_oc", "pm_id", "pto", "cut_at", "restored_at", m5_ref=o.ref_interv_oi)


def exclusions(outages: ir.Table, period: Period) -> ir.Table:
    """Cuts of the period that do not count, by reason (one row per reason)."""
    o = outages.filter(_in_period(outages.cut_at, period))
    o = o.mutate(reason=rules.exclusion_reason(o)).filter(lambda t: t.reason.notnull())
    return o.group_by("reason").aggregate(cuts=o.count())


# ---------------------------------------------------------------- the join

def all_pairs(cuts: ir.Table, windows: ir.Table, targets: ir.Table,
              config: OutageConfig = OutageConfig()) -> ir.Table:
    """Every (cut, window) of the same PM with the cut in [HD − tol, HF + tol].

    An equi-join on (PM, time bucket) with the interval test as a residual
    predicate: each window is expanded into the buckets it spans, each cut
    falls in one bucket, so every qualifying pair comes out exactly once.
    ``position`` says before / in / after the window, ``attributed`` whether
    the cut may belong to that intervention (supervision cut, or an M5 cut that
    answered it), ``is_target`` whether it is a line the DO works on there.
    """
    b = config.bucket_s
    tol = ibis.interval(seconds=int(config.tolerance.total_seconds()))
    w = windows.filter(windows.hf.notnull())
    w = w.select(w_pm=w.pm_id, ref_interv_oi=w.ref_interv_oi, code_do=w.code_do, hd=w.hd,
                 hf=w.hf, lo=w.hd - tol, hi=w.hf + tol)
    w = w.mutate(w_bucket=ibis.range(w.lo.epoch_seconds() // b,
                                     w.hi.epoch_seconds() // b + 1).unnest())
    c = cuts.mutate(c_bucket=cuts.cut_at.epoch_seconds() // b)
    j = c.join(w, [c.pm_id == w.w_pm, c.c_bucket == w.w_bucket,
                   c.cut_at >= w.lo, c.cut_at <= w.hi])
    j = j.select(
        "code_oc", "pm_id", "pto", "cut_at", "restored_at", "m5_ref",
        "ref_interv_oi", "code_do",
        position=rules.position(j.cut_at, j.hd, j.hf),
        attributed=j.m5_ref.isnull() | (j.m5_ref == j.ref_interv_oi))
    tk = rules.target_key(targets)
    tk = tk.select(ref_interv_oi=tk.target_ref, pto=tk.target_pto, target_hit=ibis.literal(1))
    j = j.view().left_join(tk, ["ref_interv_oi", "pto"])
    return j.select(*[c for c in j.columns if not c.endswith("_right") and c != "target_hit"],
                    is_target=j.target_hit.notnull())


def matched_pairs(pairs: ir.Table) -> ir.Table:
    """Counted (cut, window) pairs: without the DO's own target lines (§2.1.5)."""
    return pairs.filter(~pairs.is_target).drop("is_target")


def target_exclusions(pairs: ir.Table) -> ir.Table:
    """In-window pairs dropped because the cut is a line the DO works on (§2.1.5)."""
    return pairs.filter(pairs.is_target & (pairs.position == "in"))


#: What identifies one customer cut after the join: its OC, PM, line and cut time.
CUT_ID = ("code_oc", "pm_id", "pto", "cut_at")


def target_only_cuts(pairs: ir.Table) -> ir.Table:
    """Per PM, cuts that are only the DO's own line at work (counted nowhere).

    A cut of a target line inside its intervention's window is not a customer
    cut (§2.1.5): it is neither in a window nor in the baseline. If it also lies
    in another intervention's window, it stays, as that one's.
    """
    t = target_exclusions(pairs)
    t = t.select(*CUT_ID, short=rules.short_cut(t.cut_at, t.restored_at)).distinct()
    m = matched_pairs(pairs)
    inside = m.filter(m.position == "in")
    # the few target cuts that are also someone else's (probe the many pairs, build on the few)
    kept = inside.semi_join(t, [inside[k] == t[k] for k in CUT_ID]).select(*CUT_ID).distinct()
    only = t.anti_join(kept, [t[k] == kept[k] for k in CUT_ID])
    return only.group_by("pm_id").aggregate(target_cuts=only.count(),
                                            target_short_cuts=_n(only.short))


# ---------------------------------------------------------------- per intervention

def coverage(reports: ir.Table, with_ocs: bool = False) -> ir.Table:
    """Per intervention, the M5s received (flow 3 coverage); ``with_ocs`` adds the OC list."""
    aggs = {"m5_received": reports.count(), "m5_clients_declared": reports.clients_hs.sum()}
    if with_ocs:
        aggs["ocs_reporting"] = reports.code_oc.collect(order_by=reports.code_oc)
    return reports.group_by("ref_interv_oi").aggregate(**aggs)


def per_intervention(windows: ir.Table, pairs: ir.Table, reports: ir.Table,
                     with_ocs: bool = False) -> ir.Table:
    """One row per intervention of the period.

    ``cuts``: counted cuts attributed to it with the time in [HD, HF];
    ``m5_cuts`` those that came in an M5; ``cuts_before_hd`` / ``cuts_after_hf``:
    attributed counted cuts at most 5 minutes outside the window;
    ``covered``: HF known and at least one M5; ``impacted``: covered and
    ``cuts`` ≥ 1 (contract §3).
    """
    p = pairs.filter(pairs.attributed)
    inside = p.position == "in"
    agg = p.group_by("ref_interv_oi").aggregate(
        cuts=_n(inside), m5_cuts=_n(inside & p.m5_ref.notnull()),
        cuts_before_hd=_n(p.position == "before"), cuts_after_hf=_n(p.position == "after"))
    t = _left_join(_left_join(windows, coverage(reports, with_ocs), "ref_interv_oi"), agg,
                   "ref_interv_oi")
    has_window = t.hf.notnull()
    m5 = t.m5_received.fill_null(0)
    cuts = t.cuts.fill_null(0)
    covered = has_window & (m5 > 0)
    return t.mutate(
        has_window=has_window, m5_received=m5, covered=covered,
        cuts=cuts, m5_cuts=t.m5_cuts.fill_null(0),
        supervision_cuts=cuts - t.m5_cuts.fill_null(0),
        cuts_before_hd=t.cuts_before_hd.fill_null(0), cuts_after_hf=t.cuts_after_hf.fill_null(0),
        impacted=covered & (cuts > 0),
        duration_s=(t.hf.epoch_seconds() - t.hd.epoch_seconds()),
        m1_delay_s=rules.m1_delay_s(t.m1_received_at, t.hd),
        m3_before_m1=rules.m3_before_m1(t.m1_received_at, t.m3_received_at))


# ---------------------------------------------------------------- per PM

def window_hours(windows: ir.Table, period: Period) -> ir.Table:
    """Per PM, hours covered by the union of its windows [HD, HF] clipped to the period.

    Sweep over windows sorted by HD: each adds ``max(0, hi − max(lo, M))`` where
    ``M`` is the latest end among the windows before it, so overlaps count once.
    """
    w = windows.filter(windows.hf.notnull())
    end = ibis.literal(period.end).epoch_seconds()
    w = w.select("pm_id", "ref_interv_oi", lo=w.hd.epoch_seconds(),
                 hi=ibis.least(w.hf.epoch_seconds(), end))
    prev = w.hi.max().over(ibis.window(group_by=w.pm_id, order_by=[w.lo, w.ref_interv_oi],
                                       rows=(None, -1)))
    start = ibis.greatest(w.lo, prev.fill_null(w.lo))
    w = w.mutate(added=ibis.greatest(w.hi - start, 0))
    return w.group_by("pm_id").aggregate(window_hours=w.added.sum() / 3600.0)



def _incident_counts(pi: ir.Table) -> dict:
    """The counts that per-PM and per-DO tables share, over per-intervention rows:
    interventions, covered / impacted ones (contract §3), counted cuts of covered
    interventions, missing HF and the 5-minute timestamp-quality counts (spec §4)."""
    return dict(
        interventions=pi.count(),
        covered_interventions=_n(pi.covered),
        impacted_interventions=_n(pi.impacted),
        clients_hs=ibis.ifelse(pi.covered, pi.cuts, 0).sum(),
        missing_hf=_n(~pi.has_window),
        cuts_before_hd=pi.cuts_before_hd.sum(), cuts_after_hf=pi.cuts_after_hf.sum(),
        interventions_cut_before_hd=_n(pi.cuts_before_hd > 0),
        interventions_cut_after_hf=_n(pi.cuts_after_hf > 0))

def per_pm(pi: ir.Table, pairs: ir.Table, cuts: ir.Table, target_only: ir.Table,
           windows: ir.Table, pms: ir.Table, period: Period) -> ir.Table:
    """One row per PM with any intervention or counted cut in the period (contract §3 "outages").

    ``clients_hs`` sums the counted cuts of covered interventions;
    ``cuts_in_windows`` counts distinct counted cuts at the PM, from any source,
    inside any of its windows; ``cuts_out_of_windows`` the others; the hours
    give the exposure of each (``period_hours − window_hours`` outside).
    """
    a = pi.group_by("pm_id").aggregate(**_incident_counts(pi))
    inside = pairs.filter(pairs.position == "in")
    inside = inside.select(*CUT_ID,
                           short=rules.short_cut(inside.cut_at, inside.restored_at)).distinct()
    inw = inside.group_by("pm_id").aggregate(
        cuts_in_windows=inside.count(), short_cuts_in_windows=_n(inside.short))
    tot = cuts.group_by("pm_id").aggregate(
        all_cuts=cuts.count(), all_short=_n(rules.short_cut(cuts.cut_at, cuts.restored_at)))
    tot = _left_join(tot, target_only, "pm_id")
    hours = window_hours(windows, period)
    base = pms.select("pm_id", "lines")
    t = _left_join(_left_join(_left_join(_left_join(base, a, "pm_id"), inw, "pm_id"),
                              tot, "pm_id"), hours, "pm_id")
    zero = ("interventions", "covered_interventions", "impacted_interventions", "clients_hs",
            "missing_hf", "cuts_before_hd", "cuts_after_hf", "interventions_cut_before_hd",
            "interventions_cut_after_hf", "cuts_in_windows", "short_cuts_in_windows",
            "target_cuts", "target_short_cuts", "all_cuts", "all_short")
    t = t.mutate(**{c: t[c].fill_null(0) for c in zero},
                 window_hours=t.window_hours.fill_null(0.0))
    t = t.mutate(counted_cuts=t.all_cuts - t.target_cuts,
                 short_cuts=t.all_short - t.target_short_cuts).drop(
        "all_cuts", "all_short", "target_cuts", "target_short_cuts")
    t = t.filter((t.interventions > 0) | (t.counted_cuts > 0))
    t = t.mutate(
        cuts_out_of_windows=t.counted_cuts - t.cuts_in_windows,
        short_cuts_out_of_windows=t.short_cuts - t.short_cuts_in_windows,
        out_of_window_hours=ibis.greatest(ibis.literal(period.hours) - t.window_hours, 0.0))
    cov = t.covered_interventions.nullif(0)
    return t.mutate(
        incident_rate=t.impacted_interventions / cov,
        cuts_per_intervention=t.clients_hs / cov,
        in_window_rate_per_h=t.cuts_in_windows / t.window_hours.nullif(0.0),
        out_of_window_rate_per_h=t.cuts_out_of_windows / t.out_of_window_hours.nullif(0.0),
    ).order_by("pm_id")


# ---------------------------------------------------------------- per DO / OC

def per_do(pi: ir.Table, config: OutageConfig = OutageConfig()) -> ir.Table:
    """Per DO: incident rate and timestamp quality (§4, §6).

    ``cuts_before_hd``/``cuts_after_hf``: counted cuts at most 5 minutes before HD
    or after HF of its interventions; ``m1_delay_*``: HD→M1 reception in
    seconds; ``m1_late``: delays above ``config.m1_delay_large_s``.
    """
    d = pi.m1_delay_s
    g = pi.group_by("code_do").aggregate(
        **_incident_counts(pi),
        no_m1=_n(pi.m1_received_at.isnull()),
        m3_before_m1=_n(pi.m3_before_m1),
        m1_delay_median_s=d.quantile(0.5), m1_delay_p90_s=d.quantile(0.9),
        m1_delay_max_s=d.max(),
        m1_late=_n(d > config.m1_delay_large_s),
        m1_before_hd=_n(d < 0))
    return g.mutate(incident_rate=g.impacted_interventions
                    / g.covered_interventions.nullif(0)).order_by("code_do")


def per_oc(reports: ir.Table, outages: ir.Table, windows: ir.Table,
           period: Period) -> ir.Table:
    """Per OC: whether it uses flow 3 and how its M5s and cuts look.

    ``m5_received``: M5s for interventions of the period; ``m5_late``: received
    after midnight of the HF day; ``cuts_outside_own_window``: cuts it sent in
    an M5 whose time is not in that intervention's [HD, HF] (not counted there);
    ``supervision_cuts``: its cuts known from elsewhere.
    """
    w = windows.select(w_ref=windows.ref_interv_oi, hd=windows.hd, hf=windows.hf)
    r = reports.join(w, reports.ref_interv_oi == w.w_ref)
    rep = r.group_by("code_oc").aggregate(
        m5_received=r.count(),
        interventions_reported=r.ref_interv_oi.nunique(),
        m5_empty=_n(r.clients_hs.fill_null(0) == 0),
        m5_clients_declared=r.clients_hs.sum(),
        m5_late=_n(rules.m5_late(r.received_at, r.hf)))
    o = outages.filter(_in_period(outages.cut_at, period))
    o = o.mutate(reason=rules.exclusion_reason(o))
    ow = o.left_join(w, o.ref_interv_oi == w.w_ref)
    cut = ow.group_by("code_oc").aggregate(
        cuts=ow.count(),
        m5_cuts=_n(ow.ref_interv_oi.notnull()),
        supervision_cuts=_n(ow.ref_interv_oi.isnull()),
        counted_cuts=_n(ow.reason.isnull()),
        power_cuts=_n(ow.reason == "power_cut"),
        unknown_pto=_n(ow.reason == "unknown_pto"),
        churned=_n(ow.reason == "churned"),
        cuts_outside_own_window=_n(ow.w_ref.notnull() & ow.hf.notnull()
                                   & ~rules.in_window(ow.cut_at, ow.hd, ow.hf)))
    codes = rep.select("code_oc").union(cut.select("code_oc")).distinct()
    t = _left_join(_left_join(codes, rep, "code_oc"), cut, "code_oc")
    ints = ("m5_received", "interventions_reported", "m5_empty", "m5_clients_declared", "m5_late",
            "cuts", "m5_cuts", "supervision_cuts", "counted_cuts", "power_cuts", "unknown_pto",
            "churned", "cuts_outside_own_window")
    t = t.mutate(**{c: t[c].fill_null(0) for c in ints})
    return t.mutate(uses_flow3=t.m5_received > 0).order_by("code_oc")


def short_cuts(cuts: ir.Table, pairs: ir.Table) -> ir.Table:
    """Counted cuts restored the same day (§6), with whether they lie in a window."""
    s = cuts.filter(rules.short_cut(cuts.cut_at, cuts.restored_at))
    inside = pairs.filter(pairs.position == "in")
    win = inside.group_by([inside[k].name(f"w_{k}") for k in CUT_ID]).aggregate(
        window_ref=inside.ref_interv_oi.min())
    j = s.left_join(win, [s[k] == win[f"w_{k}"] for k in CUT_ID])
    return j.select(
        "code_oc", "pm_id", "pto", "cut_at", "restored_at",
        duration_s=j.restored_at.epoch_seconds() - j.cut_at.epoch_seconds(),
        in_window=j.window_ref.notnull(), ref_interv_oi=j.window_ref, m5_ref=j.m5_ref,
    ).order_by(["pm_id", "cut_at", "code_oc", "pto"])
