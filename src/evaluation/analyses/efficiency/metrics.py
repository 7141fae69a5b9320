"""Chapter 6 metrics of DB33/T 830-2011 as engine-agnostic Ibis expressions.

Every function takes Ibis tables (the contract's ``systems``, ``devices``,
``faults``, ``maintenance``, ``alarms``) plus a :class:`Period` and an
:class:`~.config.EvaluationConfig`, and returns an Ibis table. Nothing here
executes a query; the caller decides what to cache and what to fetch.

Time conventions (documented in ``docs/evaluation.md``):

* the evaluation instant ``T`` is the end of the as-of date (the next midnight in the
  database's time zone, :mod:`evaluation.period`); records stamped after ``T`` are
  treated as not yet known;
* the window is the ``window_days`` local days ending with the as-of date; device
  time (service, down time, exposure) counts only over the part of it the records
  cover (:attr:`Period.observed_start` .. :attr:`Period.observed_end`);
* durations are measured in seconds and compared with limits in seconds, so a
  repair of exactly 8 h is exactly at the limit (and conforms: "within" is <=).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from ... import localtime, period
from .config import EvaluationConfig

H = 3600.0
EXPOSURE_SUBSYSTEMS = ("intrusion_alarm", "video_surveillance")
STEPS = ("response", "arrival", "repair")
CLOCKS = {"occurrence": "", "report": "_report"}
"""The two 5.1.1 clocks and the suffix of their status columns: from the fault's
occurrence (the standard's: "after the fault occurs", used by the findings) and
from the report (B.2 report time, else the occurrence: what the maintainer controls)."""


@dataclass(frozen=True)
class Period:
    """The as-of date and the look-back window of one evaluation, in the local days of
    ``zone`` (:mod:`evaluation.period`), and the span of the records (``data``; None:
    taken as covering the window)."""

    as_of: dt.date
    window_days: int
    zone: str = localtime.UTC
    data: period.Data | None = None

    @property
    def end(self) -> dt.datetime:
        """``T``: the end of the as-of date, the next local midnight (exclusive)."""
        return period.end_of(self.as_of, self.zone)

    @property
    def start_date(self) -> dt.date:
        """The window's first day: ``window_days`` local days end with the as-of date."""
        return self.as_of - dt.timedelta(days=self.window_days - 1)

    @property
    def start(self) -> dt.datetime:
        return period.start_of(self.start_date, self.zone)

    @property
    def covered(self) -> period.Covered:
        """The window and the part of it the records cover."""
        return period.Covered(self.start, self.end, self.zone, self.data)

    @property
    def observed_start(self) -> dt.datetime:
        """Where device time starts counting: the window's start, or the first day with
        data when later (no record before it: no fault is known there)."""
        return self.covered.observed_start

    @property
    def observed_end(self) -> dt.datetime:
        """Where device time stops counting: ``T``, or the end of the last day with data
        when earlier (no record after it: no fault is known there)."""
        return self.covered.observed_end


def _ts(value: dt.datetime) -> ir.TimestampScalar:
    return ibis.literal(value, type="timestamp")


def _secs(later, earlier):
    return later.epoch_seconds() - earlier.epoch_seconds()


def _known_by(col, p: Period):
    """The value when it is stamped before ``T``, else null (not yet known at the as-of date)."""
    return ibis.ifelse(col < _ts(p.end), col, ibis.null("timestamp"))


# ------------------------------------------------------------------ settings

def add_cycle(day, strict_days, cfg: EvaluationConfig):
    """The date one 5.1.2 maintenance cycle after ``day`` (a date expression).

    ``max_cycle_months`` calendar months (half a year: 1 March -> 1 September;
    a day missing in the target month is clamped to its last day, 31 August ->
    28/29 February), or ``strict_days`` days when the system declares a
    stricter cycle (the column is null otherwise, see :func:`system_settings`).
    """
    return ibis.ifelse(strict_days.isnull(), day + ibis.interval(months=cfg.max_cycle_months),
                       day + strict_days.as_interval("D")).cast("date")


def system_settings(systems: ir.Table, cfg: EvaluationConfig, p: Period) -> ir.Table:
    """Per-system limits and cycle actually applied.

    5.1.1: the response/arrival/repair limits are 0.5/4/8 h "unless the risk
    level or the contract asks for stricter": a system's own ``sla_*`` value
    applies when it is stricter, a laxer one cannot relax the standard.
    5.1.2: warranty end = acceptance + ``warranty_months`` calendar months. The
    cycle after the warranty is at most half a year, judged in calendar months;
    a declared ``maintenance_cycle_days`` shorter than ``cfg.max_cycle_days``
    (the contract's value for half a year) is a stricter cycle chosen by risk
    level and applies in days (``cycle_strict_days``); the declared value itself
    is reported, a longer one as a finding. ``next_cycle_end`` is the as-of date
    plus one cycle and ``cycle_days`` its distance in days: the horizon of the
    service-life "due" status, of the expected failures and of the validity.
    """
    s = systems
    cycle_set = s.maintenance_cycle_days.fill_null(cfg.max_cycle_days).cast("int64")
    warranty = s.warranty_months.fill_null(12)
    t = s.select(
        "system_id", "name", "site", "risk_level", "accepted_on",
        warranty_months=warranty,
        warranty_end=(s.accepted_on + warranty.as_interval("M")).cast("date"),
        cycle_days_set=cycle_set,
        cycle_strict_days=ibis.ifelse(cycle_set < cfg.max_cycle_days, cycle_set, ibis.null("int64")),
        lim_response=ibis.least(s.sla_response_h.fill_null(cfg.response_h), cfg.response_h),
        lim_arrival=ibis.least(s.sla_arrival_h.fill_null(cfg.arrival_h), cfg.arrival_h),
        lim_repair=ibis.least(s.sla_repair_h.fill_null(cfg.repair_h), cfg.repair_h),
    )
    as_of = ibis.literal(p.as_of)
    t = t.mutate(next_cycle_end=add_cycle(as_of, t.cycle_strict_days, cfg))
    return t.mutate(cycle_days=t.next_cycle_end.delta(as_of, unit="day"))


# ------------------------------------------------------------------ base tables

def device_service(devices: ir.Table, p: Period) -> ir.Table:
    """Devices with their in-service interval inside the window and ``active`` at the as-of date.

    In service from ``installed_on`` (or the window start when unknown) until
    ``decommissioned_on`` (or ``T``), clipped to the part of the window the records
    cover (:attr:`Period.observed_start` .. :attr:`Period.observed_end`): time without
    any record is not counted as time without faults.
    """
    d = devices
    lo, hi = _ts(p.observed_start), _ts(p.observed_end)
    start = ibis.greatest(d.installed_on.cast("timestamp").fill_null(lo), lo)
    end = ibis.least(d.decommissioned_on.cast("timestamp").fill_null(hi), hi)
    as_of = ibis.literal(p.as_of)
    d = d.mutate(
        dev_key=ibis.row_number().over(ibis.window(order_by="device_id")),  # integer key for fast windows
        svc_start=start, svc_end=end,
        active=(d.installed_on.isnull() | (d.installed_on <= as_of))
        & (d.decommissioned_on.isnull() | (d.decommissioned_on > as_of)),
    )
    return d.mutate(service_h=ibis.greatest(_secs(d.svc_end, d.svc_start), 0) / H)


def fault_base(faults: ir.Table, dsvc: ir.Table, p: Period) -> ir.Table:
    """Faults known at ``T`` with the fields every metric uses (``dsvc`` from :func:`device_service`).

    ``subsystem`` falls back on the device's; ``reported`` is the start of the
    5.1.1 clock "from the report": the report time (B.2), else the fault time
    (B.3); ``restored``, ``responded``, ``arrived`` are null when stamped after
    ``T``; ``is_open`` means not restored by ``T``; ``in_window`` means it
    occurred in the window, ``report_in_window`` that its report time lies in it.
    """
    f = faults.filter(faults.occurred_at < _ts(p.end))
    dev = dsvc.select(_dev_id=dsvc.device_id, _dev_subsystem=dsvc.subsystem, dev_key=dsvc.dev_key)
    f = f.left_join(dev, f.device_id == dev._dev_id)
    f = f.select(
        "fault_id", "system_id", "device_id", "dev_key", "occurred_at", "repair_mode",
        subsystem=f.subsystem.fill_null(f._dev_subsystem),
        reported=f.reported_at.fill_null(f.occurred_at),
        restored=_known_by(f.restored_at, p),
        responded=_known_by(f.responded_at, p),
        arrived=_known_by(f.arrived_at, p),
        in_window=f.occurred_at >= _ts(p.start),
    )
    return f.mutate(is_open=f.restored.isnull(),
                    report_in_window=(f.reported >= _ts(p.start)) & (f.reported < _ts(p.end)))


def down_islands(fb: ir.Table, dsvc: ir.Table, p: Period) -> ir.Table:
    """Per device, disjoint pieces of time during which it was down, clipped to its service in the window.

    A device is down from ``occurred_at`` until ``restored`` (``T`` while open).
    Overlapping faults of one device must not count the same hour twice: with
    the intervals sorted by start, each keeps only the part after the latest
    end of the intervals before it (``prev_end``). The pieces are disjoint per
    device and their union is the device's down time (one window pass instead
    of a gaps-and-islands grouping).
    """
    d = dsvc.select(_d=dsvc.device_id, _s0=dsvc.svc_start, _s1=dsvc.svc_end, _sub=dsvc.subsystem)
    x = fb.filter(fb.device_id.notnull())
    x = x.join(d, x.device_id == d._d)
    x = x.select(
        "device_id", "dev_key", "system_id", subsystem=x._sub,
        s=ibis.greatest(x.occurred_at, x._s0),
        e=ibis.least(x.restored.fill_null(_ts(p.end)), x._s1),
    )
    x = x.filter(x.e > x.s)
    w = ibis.window(group_by="dev_key", order_by=["s", "e"], preceding=(None, 1))
    x = x.mutate(prev_end=x.e.max().over(w))
    x = x.mutate(start=ibis.greatest(x.s, x.prev_end.fill_null(x.s)), end=x.e)
    x = x.filter(x.end > x.start).select("system_id", "subsystem", "device_id", "dev_key", "start", "end")
    return x.mutate(down_h=_secs(x.end, x.start) / H)


# ------------------------------------------------------------------ performance

def performance(fb: ir.Table, dsvc: ir.Table, islands: ir.Table,
                by: tuple[str, ...] = ("system_id",)) -> ir.Table:
    """Availability, MTBF, MTTR, fault rate over the window, per ``by`` (system, subsystem or device).

    * availability = 1 - device down hours / device in-service hours;
    * MTBF = device up hours / faults that occurred in the window;
    * MTTR = mean hours from occurrence to restoration of the window's faults
      restored by ``T``;
    * fault rate = faults in the window per device-year in service.

    ``by`` is ``("system_id",)``, ``("system_id", "subsystem")`` or
    ``("system_id", "device_id")``; a fault's subsystem is its own, else its device's.
    """
    keys = list(by)
    svc = dsvc.group_by(keys).agg(devices=dsvc.count(), active_devices=dsvc.active.sum(),
                                  service_h=dsvc.service_h.sum())
    down = islands.group_by(keys).agg(down_h=islands.down_h.sum())
    w = fb.filter(fb.in_window)
    rep_h = _secs(w.restored, w.occurred_at) / H
    fl = w.group_by(keys).agg(
        faults=w.count(), restored_faults=w.restored.notnull().sum(), mttr_h=rep_h.mean())
    op = fb.filter(fb.is_open).group_by(keys).agg(open_faults=ibis._.count())
    t = svc
    for other in (down, fl, op):
        t = t.left_join(other, keys)
        t = t.drop(*[c for c in t.columns if c.endswith("_right")])
    t = t.mutate(down_h=t.down_h.fill_null(0.0), faults=t.faults.fill_null(0),
                 open_faults=t.open_faults.fill_null(0))
    up = t.service_h - t.down_h
    return t.mutate(
        availability=ibis.ifelse(t.service_h > 0, up / t.service_h, ibis.null("float64")),
        mtbf_h=ibis.ifelse(t.faults > 0, up / t.faults, ibis.null("float64")),
        fault_rate_per_device_year=ibis.ifelse(
            t.service_h > 0, t.faults / (t.service_h / 8760.0), ibis.null("float64")),
    )


def monthly(fb: ir.Table) -> ir.Table:
    """Per system and calendar month of occurrence of the window's faults: faults, MTTR, and the
    share within the repair limit counted from the occurrence (the findings' 5.1.1 clock)."""
    w = fb.filter(fb.in_window)
    w = w.mutate(month=w.occurred_at.truncate("M").cast("date"))
    rep_h = _secs(w.restored, w.occurred_at) / H
    g = w.group_by(["system_id", "month"]).agg(
        faults=w.count(), mttr_h=rep_h.mean(),
        repair_within=(w.repair == "within").sum(),
        repair_applicable=w.repair.isin(("within", "breach")).sum(),
    )
    return g.mutate(repair_share=ibis.ifelse(
        g.repair_applicable > 0, g.repair_within / g.repair_applicable, ibis.null("float64")))


# ------------------------------------------------------------------ 5.1.1 timeliness

def timeliness_status(fb: ir.Table, settings: ir.Table, p: Period) -> ir.Table:
    """Every fault of ``fb`` with the status of each 5.1.1 limit on both clocks.

    5.1.1 counts "after the fault occurs": columns ``response``, ``arrival``,
    ``repair`` run from ``occurred_at`` (the standard's clock, used by the
    findings); ``response_report``, ``arrival_report``, ``repair_report`` run
    from the report time, else the occurrence (what the maintainer controls).
    Status per limit: ``within`` (elapsed <= limit), ``breach`` (elapsed > limit,
    or still not done at ``T`` with more than the limit elapsed), ``pending``
    (not done yet, limit not yet passed), ``not_applicable`` (arrival for a
    repair that is not on site), ``unrecorded`` (the fault was restored but the
    step has no time stamp: missing evidence). Arrival applies to on-site
    repairs only (or an unknown mode with an arrival stamp): remote, phone and
    mail-in repairs have no arrival.
    """
    s = settings.select(_sid=settings.system_id, _lr=settings.lim_response,
                        _la=settings.lim_arrival, _lp=settings.lim_repair)
    x = fb.join(s, fb.system_id == s._sid)

    def status(t0, event, limit_h, applicable):
        elapsed = _secs(event, t0)
        return ibis.cases(
            (~applicable, "not_applicable"),
            (event.notnull() & (elapsed <= limit_h * H), "within"),
            (event.notnull(), "breach"),
            (x.is_open & (_secs(_ts(p.end), t0) > limit_h * H), "breach"),
            (x.is_open, "pending"),
            else_="unrecorded",
        )

    onsite = (x.repair_mode == "onsite").fill_null(False) | (x.repair_mode.isnull() & x.arrived.notnull())
    yes = ibis.literal(True)
    cols = {}
    for clock, suffix in CLOCKS.items():
        t0 = x.occurred_at if clock == "occurrence" else x.reported
        cols[f"response{suffix}"] = status(t0, x.responded, x._lr, yes)
        cols[f"arrival{suffix}"] = status(t0, x.arrived, x._la, onsite)
        cols[f"repair{suffix}"] = status(t0, x.restored, x._lp, yes)
    return x.mutate(**cols).drop("_sid", "_lr", "_la", "_lp")


def timeliness_summary(fb: ir.Table, clock: str) -> ir.Table:
    """Per system and limit on one clock: counts by status and the share within.

    The faults judged are those whose clock starts in the window (occurred in
    it, or reported in it). Share = within / (within + breach): the faults
    whose time is recorded; restored faults without a time are counted apart
    (``unrecorded``) and make the finding nonconforming whatever the share.
    """
    suffix = CLOCKS[clock]
    sla = fb.filter(fb.in_window if clock == "occurrence" else fb.report_in_window)
    aggs = {}
    for step in STEPS:
        col = sla[f"{step}{suffix}"]
        for st in ("within", "breach", "pending", "unrecorded", "not_applicable"):
            aggs[f"{step}_{st}"] = (col == st).sum()
    g = sla.group_by("system_id").agg(**aggs)
    shares = {}
    for step in STEPS:
        applicable = g[f"{step}_within"] + g[f"{step}_breach"]
        shares[f"sla_{step}"] = ibis.ifelse(applicable > 0, g[f"{step}_within"] / applicable,
                                            ibis.null("float64"))
    return g.mutate(**shares)


# ------------------------------------------------------------------ 5.1.2 periodicity

def cycle_scopes(dsvc: ir.Table, settings: ir.Table) -> ir.Table:
    """What the 5.1.2 cycle is tracked for: each subsystem of a system with devices in service.

    5.1.5 (comprehensiveness) and table 2 ask maintenance of every subsystem:
    one scope per (system, subsystem) with a device in service in the window;
    a system without any device is tracked as a whole (``subsystem`` null).
    ``judged`` (the overdue check at the as-of date) needs a device active at
    the as-of date, or the whole-system scope. The cycle starts at the
    warranty end, or at the subsystem's first installation when that is later
    (a subsystem added after the warranty is not overdue from before it
    existed); an installation date unknown for one of its devices keeps the
    warranty end. No acceptance date: no start (nothing shows a warranty).
    """
    d = dsvc.filter(dsvc.service_h > 0)
    g = d.group_by(["system_id", "subsystem"]).agg(
        devices=d.count(), active_devices=d.active.sum(),
        first_installed=d.installed_on.min(), unknown_install=d.installed_on.isnull().any())
    g = g.select("system_id", "subsystem", "devices", "active_devices",
                 since=ibis.ifelse(g.unknown_install, ibis.null("date"), g.first_installed))
    bare = settings.select("system_id").anti_join(g, "system_id")
    bare = bare.select("system_id", subsystem=ibis.null("string"), devices=ibis.literal(0, "int64"),
                       active_devices=ibis.literal(0, "int64"), since=ibis.null("date"))
    sc = g.select(system_id=g.system_id.cast("string"), subsystem=g.subsystem.cast("string"),
                  devices=g.devices.cast("int64"), active_devices=g.active_devices.cast("int64"),
                  since=g.since.cast("date")).union(bare)
    st = settings.select("system_id", "warranty_end", "cycle_strict_days")
    sc = sc.join(st, "system_id")
    start = ibis.cases((sc.warranty_end.isnull(), ibis.null("date")),
                       (sc.since > sc.warranty_end, sc.since), else_=sc.warranty_end)
    return sc.mutate(
        cycle_start=start.cast("date"), judged=(sc.active_devices > 0) | sc.subsystem.isnull(),
        scope_key=ibis.row_number().over(ibis.window(order_by=["system_id", "subsystem"])))


def _cycle_visits(maintenance: ir.Table, scopes: ir.Table, p: Period, cfg: EvaluationConfig) -> ir.Table:
    """(scope, periodic/resident maintenance started before ``T`` that covers it), by calendar date.

    A maintenance with an empty subsystem covers the whole system, hence every
    scope; one with a subsystem covers that subsystem only.
    """
    m = maintenance.filter(maintenance.kind.isin(cfg.cycle_kinds) & (maintenance.started_at < _ts(p.end)))
    m = m.select(_msys=m.system_id, _msub=m.subsystem, maintenance_id=m.maintenance_id,
                 d=m.started_at.cast("date"))
    sc = scopes.select("scope_key", "system_id", "cycle_start", "cycle_strict_days", _sub=scopes.subsystem)
    j = sc.join(m, (sc.system_id == m._msys) & (m._msub.isnull() | sc._sub.isnull() | (m._msub == sc._sub)))
    return j.drop("_msys", "_msub", "_sub")


def maintenance_gaps(maintenance: ir.Table, scopes: ir.Table, p: Period,
                     cfg: EvaluationConfig) -> ir.Table:
    """Intervals between successive cycle maintenances of each scope after the warranty.

    5.1.2: after the warranty, maintenance is periodic with a cycle of at most
    half a year; per 5.1.5 every subsystem (scope of :func:`cycle_scopes`). The
    chain starts at the scope's ``cycle_start`` (when it has passed) and links
    each periodic/resident maintenance covering the scope started on or after
    it, by calendar date. Only intervals ending in the window are returned;
    ``breach`` when the next visit comes after ``due`` = previous + one cycle
    (:func:`add_cycle`; a visit on the due date conforms).
    """
    v = _cycle_visits(maintenance, scopes, p, cfg)
    v = v.filter(v.cycle_start.isnull() | (v.d >= v.cycle_start))
    a = scopes.filter(scopes.cycle_start.notnull() & (scopes.cycle_start <= ibis.literal(p.as_of)))
    cols = {"scope_key": "int64", "maintenance_id": "string", "d": "date", "cycle_strict_days": "int64",
            "anchor": "int8"}
    pts = v.select(scope_key=v.scope_key, maintenance_id=v.maintenance_id, d=v.d,
                   cycle_strict_days=v.cycle_strict_days, anchor=ibis.literal(1))
    anchors = a.select(scope_key=a.scope_key, maintenance_id=ibis.null("string"), d=a.cycle_start,
                       cycle_strict_days=a.cycle_strict_days, anchor=ibis.literal(0))
    pts = pts.select(**{c: pts[c].cast(t) for c, t in cols.items()}).union(
        anchors.select(**{c: anchors[c].cast(t) for c, t in cols.items()}))
    # the cycle start sorts before a visit on the same day (explicitly: engines order nulls differently)
    w = ibis.window(group_by="scope_key", order_by=["d", "anchor", "maintenance_id"])
    pts = pts.mutate(prev_d=pts.d.lag().over(w), prev_id=pts.maintenance_id.lag().over(w))
    gaps = pts.filter(pts.prev_d.notnull() & (pts.d >= ibis.literal(p.start_date)))
    gaps = gaps.mutate(gap_days=gaps.d.delta(gaps.prev_d, unit="day"),
                       due=add_cycle(gaps.prev_d, gaps.cycle_strict_days, cfg))
    gaps = gaps.mutate(breach=gaps.d > gaps.due)
    sc = scopes.select("scope_key", "system_id", "subsystem")
    return gaps.join(sc, "scope_key").drop("anchor", "cycle_strict_days")


def periodicity(maintenance: ir.Table, scopes: ir.Table, p: Period, cfg: EvaluationConfig) -> ir.Table:
    """Per scope (:func:`cycle_scopes`): last cycle maintenance covering it, next due date, overdue.

    5.1.2: overdue when, after the warranty, the as-of date is past ``due`` =
    one cycle after the later of the scope's cycle start and its last
    periodic/resident maintenance (on the due date itself it is not yet
    overdue). A judged scope with neither a cycle start nor any maintenance is
    overdue: nothing shows it was ever maintained. Under warranty: not overdue.
    """
    as_of = ibis.literal(p.as_of)
    v = _cycle_visits(maintenance, scopes, p, cfg)
    last = v.group_by("scope_key").agg(last_maintenance=v.d.max())
    t = scopes.left_join(last, "scope_key").drop("scope_key_right")
    in_warranty = (t.warranty_end > as_of).fill_null(False)
    anchor = ibis.cases(
        (t.cycle_start.isnull(), t.last_maintenance),
        (t.last_maintenance.isnull(), t.cycle_start),
        (t.last_maintenance >= t.cycle_start, t.last_maintenance),
        else_=t.cycle_start,
    )
    t = t.mutate(in_warranty=in_warranty, cycle_anchor=anchor.cast("date"),
                 days_since_maintenance=as_of.delta(t.last_maintenance, unit="day"))
    t = t.mutate(due=add_cycle(t.cycle_anchor, t.cycle_strict_days, cfg))
    overdue = ibis.cases(
        (t.in_warranty | ~t.judged, False),
        (t.cycle_anchor.isnull(), True),
        else_=as_of > t.due,
    )
    return t.mutate(maintenance_overdue=overdue)


def maintenance_reports(maintenance: ir.Table, p: Period) -> ir.Table:
    """Maintenances started in the window with ``report_missing`` when no report is recorded (5.2.2 d)."""
    m = maintenance.filter((maintenance.started_at >= _ts(p.start)) & (maintenance.started_at < _ts(p.end)))
    return m.mutate(report_missing=~m.report_issued.fill_null(False))


# ------------------------------------------------------------------ 6.1 observation

def observation(fb: ir.Table, maintenance: ir.Table, settings: ir.Table, p: Period) -> ir.Table:
    """Per system: how long its records cover before the as-of date (6.1: evaluate "after the
    system has run for some time").

    ``first_record`` is the date of its first fault or maintenance known at
    ``T``; ``observed_from`` the later of the acceptance date and the first
    record (none without any record); ``observed_days`` = as-of date -
    ``observed_from``; ``faults_in_window`` and ``maintenances_in_window`` count
    its records in the window.
    """
    f = fb.group_by("system_id").agg(_ff=fb.occurred_at.min(), faults_in_window=fb.in_window.sum())
    m = maintenance.filter(maintenance.started_at < _ts(p.end))
    m = m.group_by("system_id").agg(_fm=m.started_at.min(),
                                    maintenances_in_window=(m.started_at >= _ts(p.start)).sum())
    t = settings.select("system_id", "accepted_on")
    t = t.left_join(f, "system_id").drop("system_id_right")
    t = t.left_join(m, "system_id").drop("system_id_right")
    first = ibis.cases((t._ff.isnull(), t._fm), (t._fm.isnull() | (t._ff <= t._fm), t._ff),
                       else_=t._fm).cast("date")
    t = t.mutate(first_record=first)
    since = ibis.cases((t.first_record.isnull(), ibis.null("date")),
                       (t.accepted_on > t.first_record, t.accepted_on), else_=t.first_record)
    t = t.mutate(observed_from=since.cast("date"))
    return t.select(
        "system_id", "first_record", "observed_from",
        observed_days=ibis.literal(p.as_of).delta(t.observed_from, unit="day"),
        faults_in_window=t.faults_in_window.fill_null(0),
        maintenances_in_window=t.maintenances_in_window.fill_null(0))


# ------------------------------------------------------------------ 5.1.2 service life

def service_life(dsvc: ir.Table, settings: ir.Table, p: Period, cfg: EvaluationConfig) -> ir.Table:
    """Active devices with their 5.1.2 service life and status.

    ``end_of_life`` = ``installed_on`` + life years. ``past`` when the end of
    life is on or before the as-of date; ``due`` when it falls after it but
    within the system's next cycle (up to ``next_cycle_end`` inclusive); ``ok``
    otherwise; ``no_rule`` for a device type without a life in the table
    (``cfg.service_life_years``, 5.1.2);
    ``unknown_age`` without an installation date.
    """
    table = cfg.service_life_years
    life = ibis.memtable({"_lt": list(table), "life_years": [int(v) for v in table.values()]},
                         schema={"_lt": "string", "life_years": "int64"})
    d = dsvc.filter(dsvc.active)
    d = d.left_join(life, d.device_type == life._lt).drop("_lt")
    s = settings.select(_sid=settings.system_id, _cycle_end=settings.next_cycle_end)
    d = d.join(s, d.system_id == s._sid)
    eol = (d.installed_on + d.life_years.as_interval("Y")).cast("date")
    as_of = ibis.literal(p.as_of)
    d = d.mutate(end_of_life=eol)
    status = ibis.cases(
        (d.life_years.isnull(), "no_rule"),
        (d.installed_on.isnull(), "unknown_age"),
        (d.end_of_life <= as_of, "past"),
        (d.end_of_life <= d._cycle_end, "due"),
        else_="ok",
    )
    return d.mutate(life_status=status).drop("_sid", "_cycle_end")


# ------------------------------------------------------------------ device effectiveness

def repeat_fault_devices(fb: ir.Table, p: Period, cfg: EvaluationConfig) -> ir.Table:
    """Devices with at least ``repeat_faults`` faults within any ``repeat_days`` span in the window.

    The span is inclusive: faults on day 0, 45 and 90 are three in 90 days.
    """
    x = fb.filter(fb.in_window & fb.device_id.notnull())
    # the k-th fault after each one (k = repeat_faults - 1) falls within the span: a sorted-row
    # window (lead) instead of a range-window count
    w = ibis.window(group_by="dev_key", order_by=["occurred_at", "fault_id"])
    x = x.mutate(kth=x.occurred_at.lead(cfg.repeat_faults - 1).over(w))
    hit = (_secs(x.kth, x.occurred_at) <= cfg.repeat_days * 86400).fill_null(False)
    g = x.group_by(["system_id", "device_id"]).agg(faults=x.count(), repeats=hit.sum())
    return g.filter(g.repeats > 0)


def maintenance_effect(fb: ir.Table, maintenance: ir.Table, p: Period, cfg: EvaluationConfig) -> ir.Table:
    """Per maintenance started in the window: faults of the same scope before and after it.

    Scope: the maintenance's subsystem, or the whole system when it has none.
    ``after_hold`` counts faults in ``(end, end + hold_days]`` (end = ``ended_at``,
    else ``started_at``); a maintenance with such faults did not hold.
    ``before``/``after`` count faults in ``[start - N, start)`` and
    ``(end, end + N]`` with N = ``before_after_days``; rates are per 30 days of
    the part of each window that lies before ``T``.
    """
    n = ibis.interval(days=cfg.before_after_days)
    hold = ibis.interval(days=cfg.hold_days)
    m = maintenance.filter((maintenance.started_at >= _ts(p.start)) & (maintenance.started_at < _ts(p.end)))
    m = m.mutate(ref=m.ended_at.fill_null(m.started_at))
    f = fb.filter(fb.occurred_at >= _ts(p.start) - n)
    f = f.select(_fsys=f.system_id, _fsub=f.subsystem, _fid=f.fault_id, _fat=f.occurred_at)
    j = m.left_join(f, (m.system_id == f._fsys)
                    & (m.subsystem.isnull() | (m.subsystem == f._fsub))
                    & (f._fat >= m.started_at - n) & (f._fat <= m.ref + n))
    before = (j._fat < j.started_at)
    after_hold = (j._fat > j.ref) & (j._fat <= j.ref + hold)
    after = j._fat > j.ref
    g = j.group_by(["system_id", "maintenance_id", "subsystem", "kind", "started_at", "ref"]).agg(
        before=before.fill_null(False).sum(),
        after=after.fill_null(False).sum(),
        after_hold=after_hold.fill_null(False).sum(),
        after_hold_ids=j._fid.collect(where=after_hold.fill_null(False), order_by=j._fat),
    )
    end = _ts(p.end)
    before_days = ibis.literal(float(cfg.before_after_days))
    after_days = ibis.least(ibis.greatest(_secs(end, g.ref) / 86400.0, 0), cfg.before_after_days)
    return g.mutate(
        before_days=before_days, after_days=after_days,
        rate_before=g.before / before_days * 30.0,
        rate_after=ibis.ifelse(after_days >= 1, g.after / after_days * 30.0, ibis.null("float64")),
        held=g.after_hold == 0,
        hold_complete=_secs(end, g.ref) >= cfg.hold_days * 86400,
    )


# ------------------------------------------------------------------ potential threats

def exposure(dsvc: ir.Table, islands: ir.Table, p: Period) -> ir.Table:
    """Hours in the window that a protected zone had no working intrusion detection (or video).

    For each zone and each of the two subsystems, the zone is exposed while
    every active device of that subsystem in the zone is down at once. Down
    intervals are the merged per-device ``islands``; a sweep over their start
    (+1) and end (-1) events gives the number of devices down at each instant.
    """
    dv = dsvc.filter(dsvc.active & dsvc.subsystem.isin(EXPOSURE_SUBSYSTEMS) & dsvc.zone.notnull())
    keys = ["system_id", "zone", "subsystem"]
    n = dv.group_by(keys).agg(devices=dv.count())
    n = n.mutate(gk=ibis.row_number().over(ibis.window(order_by=keys)))  # integer group key
    dk = dv.join(n, keys).select(_k=dv.dev_key, gk=n.gk, _n=n.devices)
    isl = islands.join(dk, islands.dev_key == dk._k)
    ev = isl.select("gk", "_n", t=isl.start, delta=ibis.literal(1)).union(
        isl.select("gk", "_n", t=isl.end, delta=ibis.literal(-1)))
    # rows sorted by time (ends before starts at the same instant); rows sharing an instant
    # get zero duration, so only the level after the last event of an instant counts
    order = ["t", "delta"]
    ev = ev.mutate(level=ev.delta.sum().over(ibis.cumulative_window(group_by="gk", order_by=order)),
                   next_t=ev.t.lead().over(ibis.window(group_by="gk", order_by=order)))
    ex = ev.filter((ev.level >= ev._n) & ev.next_t.notnull() & (ev.next_t > ev.t))
    # an exposed stretch continues when the previous exposed stretch ends where this one starts
    ex = ex.mutate(prev_end=ex.next_t.lag().over(ibis.window(group_by="gk", order_by="t")))
    new_episode = ibis.ifelse(ex.prev_end.isnull() | (ex.prev_end < ex.t), 1, 0)
    ex = ex.group_by("gk").agg(exposure_h=(_secs(ex.next_t, ex.t) / H).sum(), episodes=new_episode.sum(),
                               first_exposed=ex.t.min())
    out = n.left_join(ex, "gk").drop("gk_right")
    return out.mutate(exposure_h=out.exposure_h.fill_null(0.0), episodes=out.episodes.fill_null(0)).drop("gk")


def alarm_health(alarms: ir.Table, p: Period, stale_h: float) -> ir.Table:
    """Per system, alarms raised in the window: false-alarm share and unhandled share.

    ``false_alarm_share`` = closed as false alarm / closed. ``unhandled_share``
    = (expired + still new or escalated more than ``stale_h`` hours before
    ``T``, i.e. never taken in hand; ``cfg.unhandled_after_h``) / alarms with a known status (null when
    the source records no status, e.g. a bare event log).
    """
    a = alarms.filter(alarms.system_id.notnull() & (alarms.raised_at >= _ts(p.start))
                      & (alarms.raised_at < _ts(p.end)))
    stale = a.status.isin(("new", "escalated")).fill_null(False) & a.handled_at.isnull() & (
        _secs(_ts(p.end), a.raised_at) > stale_h * H)
    g = a.group_by("system_id").agg(
        alarms=a.count(),
        with_status=a.status.notnull().sum(),
        closed=(a.status == "closed").fill_null(False).sum(),
        false_alarms=(a.close_reason == "false_alarm").fill_null(False).sum(),
        expired=(a.status == "expired").fill_null(False).sum(),
        stale=stale.sum(),
    )
    return g.mutate(
        false_alarm_share=ibis.ifelse(g.closed > 0, g.false_alarms / g.closed, ibis.null("float64")),
        unhandled_share=ibis.ifelse(g.with_status > 0, (g.expired + g.stale) / g.with_status,
                                    ibis.null("float64")),
    )


# ------------------------------------------------------------------ survival inputs

def device_history(dsvc: ir.Table, fb: ir.Table) -> ir.Table:
    """Per device (one row each): installation, end of observation, first fault, last restoration.

    The small per-device aggregate the survival model is fitted on.
    """
    f = fb.filter(fb.device_id.notnull())
    g = f.group_by("device_id").agg(first_fault=f.occurred_at.min(), last_restored=f.restored.max(),
                                    open_now=f.is_open.any(), faults_total=f.count())
    d = dsvc.select("device_id", "system_id", "subsystem", "device_type", "installed_on",
                    "decommissioned_on", "active")
    t = d.left_join(g, "device_id").drop("device_id_right")
    return t.mutate(open_now=t.open_now.fill_null(False), faults_total=t.faults_total.fill_null(0))


# ------------------------------------------------------------------ helpers

def status_samples(fb: ir.Table, k: int) -> ir.Table:
    """Evidence ids: the first ``k`` faults (by occurrence) of the window beyond each 5.1.1 limit
    and the first ``k`` without a recorded time, per system, on the findings' clock (occurrence):
    (system_id, step, status, fault_id)."""
    sla = fb.filter(fb.in_window)
    parts = []
    for step in STEPS:
        b = sla.filter(sla[step].isin(("breach", "unrecorded")))
        parts.append(b.select("system_id", "fault_id", "occurred_at", step=ibis.literal(step), status=b[step]))
    u = ibis.union(*parts)
    w = ibis.window(group_by=["system_id", "step", "status"], order_by=["occurred_at", "fault_id"])
    u = u.mutate(_rn=ibis.row_number().over(w))
    return u.filter(u._rn < k).select("system_id", "step", "status", "fault_id", "occurred_at")


def first_rows(t: ir.Table, order_by: list, k: int, group: str = "system_id") -> ir.Table:
    """At most ``k`` rows per ``group``, the first by ``order_by`` (for evidence ids)."""
    w = ibis.window(group_by=group, order_by=order_by)
    t = t.mutate(_rn=ibis.row_number().over(w))
    return t.filter(t._rn < k).drop("_rn")


EVENT_TIMES = (("faults", ("occurred_at", "reported_at", "restored_at")),
               ("maintenance", ("started_at", "ended_at")),
               ("alarms", ("raised_at", "closed_at")))
"""The times whose span is the evaluation's data (:func:`data_span`)."""


def data_span(tables) -> period.Data:
    """The records of the evaluation, from the earliest to the latest time stamped on any
    fault, maintenance or alarm (:data:`EVENT_TIMES`; one query per table). The default
    as-of date is the local day of the latest."""
    values = []
    for table, cols in EVENT_TIMES:
        t = tables[table]
        aggs = {f"{c}_{f}": getattr(t[c], f)() for c in cols for f in ("min", "max")}
        values.extend(t.aggregate(**aggs).to_pyarrow().to_pylist()[0].values())
    return period.Data.of(values)
