"""Chapter 6 metrics of DB33/T 830-2011 as engine-agnostic Ibis expressions.

Every function takes Ibis tables (the contract's ``systems``, ``devices``,
``faults``, ``maintenance``, ``alarms``) plus a :class:`Period` and an
:class:`~.config.EvaluationConfig`, and returns an Ibis table. Nothing here
executes a query; the caller decides what to cache and what to fetch.

Time conventions (documented in ``docs/evaluation.md``):

* the evaluation instant ``T`` is the end of the as-of date (next midnight UTC);
  records stamped after ``T`` are treated as not yet known;
* the window is ``[T - window_days, T)``;
* durations are measured in seconds and compared with limits in seconds, so a
  repair of exactly 8 h is exactly at the limit (and conforms: "within" is <=).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from ...store.schema import SERVICE_LIFE_YEARS
from .config import EvaluationConfig

H = 3600.0
EXPOSURE_SUBSYSTEMS = ("intrusion_alarm", "video_surveillance")
STEPS = ("response", "arrival", "repair")


@dataclass(frozen=True)
class Period:
    """The as-of date and the look-back window of one evaluation."""

    as_of: dt.date
    window_days: int

    @property
    def end(self) -> dt.datetime:
        """``T``: the end of the as-of date (exclusive)."""
        return dt.datetime.combine(self.as_of + dt.timedelta(days=1), dt.time())

    @property
    def start(self) -> dt.datetime:
        return self.end - dt.timedelta(days=self.window_days)

    @property
    def start_date(self) -> dt.date:
        return self.start.date()


def _ts(value: dt.datetime) -> ir.TimestampScalar:
    return ibis.literal(value, type="timestamp")


def _secs(later, earlier):
    return later.epoch_seconds() - earlier.epoch_seconds()


def _known_by(col, p: Period):
    """The value when it is stamped before ``T``, else null (not yet known at the as-of date)."""
    return ibis.ifelse(col < _ts(p.end), col, ibis.null("timestamp"))


# ------------------------------------------------------------------ settings

def system_settings(systems: ir.Table, cfg: EvaluationConfig) -> ir.Table:
    """Per-system limits and cycle actually applied.

    5.1.1: the response/arrival/repair limits are 0.5/4/8 h "unless the risk
    level or the contract asks for stricter": a system's own ``sla_*`` value
    applies when it is stricter, a laxer one cannot relax the standard.
    5.1.2: the cycle after the warranty is at most half a year, so a longer
    ``maintenance_cycle_days`` is capped at ``cfg.max_cycle_days`` (and reported).
    """
    s = systems
    cycle_set = s.maintenance_cycle_days.fill_null(cfg.max_cycle_days)
    warranty = s.warranty_months.fill_null(12)
    return s.select(
        "system_id", "name", "site", "risk_level", "accepted_on",
        warranty_months=warranty,
        warranty_end=(s.accepted_on + warranty.as_interval("M")).cast("date"),
        cycle_days_set=cycle_set,
        cycle_days=ibis.least(cycle_set, cfg.max_cycle_days),
        lim_response=ibis.least(s.sla_response_h.fill_null(cfg.response_h), cfg.response_h),
        lim_arrival=ibis.least(s.sla_arrival_h.fill_null(cfg.arrival_h), cfg.arrival_h),
        lim_repair=ibis.least(s.sla_repair_h.fill_null(cfg.repair_h), cfg.repair_h),
    )


# ------------------------------------------------------------------ base tables

def device_service(devices: ir.Table, p: Period) -> ir.Table:
    """Devices with their in-service interval inside the window and ``active`` at the as-of date.

    In service from ``installed_on`` (or the window start when unknown) until
    ``decommissioned_on`` (or ``T``), clipped to the window.
    """
    d = devices
    start = ibis.greatest(d.installed_on.cast("timestamp").fill_null(_ts(p.start)), _ts(p.start))
    end = ibis.least(d.decommissioned_on.cast("timestamp").fill_null(_ts(p.end)), _ts(p.end))
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

    ``subsystem`` falls back on the device's; ``t0`` is the start of the 5.1.1
    clocks: the report time (B.2), else the fault time (B.3); ``restored``,
    ``responded``, ``arrived`` are null when stamped after ``T``; ``is_open``
    means not restored by ``T``; ``in_window`` means it occurred in the window.
    """
    f = faults.filter(faults.occurred_at < _ts(p.end))
    dev = dsvc.select(_dev_id=dsvc.device_id, _dev_subsystem=dsvc.subsystem, dev_key=dsvc.dev_key)
    f = f.left_join(dev, f.device_id == dev._dev_id)
    f = f.select(
        "fault_id", "system_id", "device_id", "dev_key", "occurred_at", "repair_mode",
        subsystem=f.subsystem.fill_null(f._dev_subsystem),
        t0=f.reported_at.fill_null(f.occurred_at),
        restored=_known_by(f.restored_at, p),
        responded=_known_by(f.responded_at, p),
        arrived=_known_by(f.arrived_at, p),
        in_window=f.occurred_at >= _ts(p.start),
    )
    return f.mutate(is_open=f.restored.isnull())


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


def monthly(fb: ir.Table, sla: ir.Table) -> ir.Table:
    """Per system and calendar month of occurrence: faults, MTTR, repair-limit share."""
    w = sla.mutate(month=sla.occurred_at.truncate("M").cast("date"))
    rep_h = _secs(w.restored, w.occurred_at) / H
    g = w.group_by(["system_id", "month"]).agg(
        faults=w.count(), mttr_h=rep_h.mean(),
        repair_within=(w.repair == "within").sum(),
        repair_applicable=w.repair.isin(("within", "breach")).sum(),
    )
    return g.mutate(repair_share=ibis.ifelse(
        g.repair_applicable > 0, g.repair_within / g.repair_applicable, ibis.null("float64")))


# ------------------------------------------------------------------ 5.1.1 timeliness

def timeliness(fb: ir.Table, settings: ir.Table, p: Period) -> ir.Table:
    """The faults whose 5.1.1 clock starts in the window, with their statuses (see :func:`timeliness_status`)."""
    x = timeliness_status(fb, settings, p)
    return x.filter(x.clock_in_window)


def timeliness_status(fb: ir.Table, settings: ir.Table, p: Period) -> ir.Table:
    """Every fault of ``fb`` with the status of each 5.1.1 limit and ``clock_in_window``.

    Status per limit: ``within`` (elapsed <= limit), ``breach`` (elapsed > limit,
    or still not done at ``T`` with more than the limit elapsed), ``pending``
    (not done yet, limit not yet passed), ``not_applicable`` (arrival for a
    repair that is not on site), ``unrecorded`` (the fault was restored but the
    step has no time stamp). Clocks start at the report time, else the fault
    time. Arrival applies to on-site repairs only (or an unknown mode with an
    arrival stamp): remote, phone and mail-in repairs have no arrival.
    """
    s = settings.select(_sid=settings.system_id, _lr=settings.lim_response,
                        _la=settings.lim_arrival, _lp=settings.lim_repair)
    x = fb.join(s, fb.system_id == s._sid)
    so_far = _secs(_ts(p.end), x.t0)

    def status(event, limit_h, applicable):
        elapsed = _secs(event, x.t0)
        return ibis.cases(
            (~applicable, "not_applicable"),
            (event.notnull() & (elapsed <= limit_h * H), "within"),
            (event.notnull(), "breach"),
            (x.is_open & (so_far > limit_h * H), "breach"),
            (x.is_open, "pending"),
            else_="unrecorded",
        )

    onsite = (x.repair_mode == "onsite").fill_null(False) | (x.repair_mode.isnull() & x.arrived.notnull())
    yes = ibis.literal(True)
    x = x.mutate(
        response=status(x.responded, x._lr, yes),
        arrival=status(x.arrived, x._la, onsite),
        repair=status(x.restored, x._lp, yes),
        response_h=_secs(x.responded, x.t0) / H,
        arrival_h=_secs(x.arrived, x.t0) / H,
        repair_h=_secs(x.restored, x.t0) / H,
        limit_response_h=x._lr, limit_arrival_h=x._la, limit_repair_h=x._lp,
    )
    x = x.mutate(clock_in_window=(x.t0 >= _ts(p.start)) & (x.t0 < _ts(p.end)))
    return x.drop("_sid", "_lr", "_la", "_lp")


def timeliness_summary(sla: ir.Table) -> ir.Table:
    """Per system and limit: counts by status and the share within (within / (within + breach))."""
    aggs = {}
    for step in STEPS:
        col = sla[step]
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

def maintenance_gaps(maintenance: ir.Table, settings: ir.Table, p: Period,
                     cfg: EvaluationConfig) -> ir.Table:
    """Gaps (in days) between successive cycle maintenances after the warranty.

    5.1.2: after the warranty, maintenance is periodic with a cycle of at most
    half a year. The chain starts at the warranty end (when it has passed) and
    links each periodic/resident maintenance started after it, by calendar
    date. Only gaps ending in the window are returned; ``breach`` when the gap
    exceeds the cycle (a gap of exactly the cycle conforms).
    """
    st = settings.select("system_id", "warranty_end", "cycle_days")
    m = maintenance.filter(maintenance.kind.isin(cfg.cycle_kinds) & (maintenance.started_at < _ts(p.end)))
    m = m.select(_sid=m.system_id, maintenance_id=m.maintenance_id, d=m.started_at.cast("date"))
    m = m.join(st, m._sid == st.system_id).drop("_sid")
    after = m.filter(m.warranty_end.isnull() | (m.d >= m.warranty_end))
    anchors = st.filter(st.warranty_end.notnull() & (st.warranty_end <= ibis.literal(p.as_of)))
    anchors = anchors.select(system_id=anchors.system_id.cast("string"),
                             maintenance_id=ibis.null("string"), d=anchors.warranty_end.cast("date"),
                             warranty_end=anchors.warranty_end.cast("date"),
                             cycle_days=anchors.cycle_days.cast("int64"))
    pts = after.select(system_id=after.system_id.cast("string"),
                       maintenance_id=after.maintenance_id.cast("string"), d=after.d.cast("date"),
                       warranty_end=after.warranty_end.cast("date"),
                       cycle_days=after.cycle_days.cast("int64")).union(anchors)
    w = ibis.window(group_by="system_id", order_by=["d", "maintenance_id"])
    pts = pts.mutate(prev_d=pts.d.lag().over(w), prev_id=pts.maintenance_id.lag().over(w))
    gaps = pts.filter(pts.prev_d.notnull() & (pts.d >= ibis.literal(p.start_date)))
    gaps = gaps.mutate(gap_days=gaps.d.delta(gaps.prev_d, unit="day"))
    return gaps.mutate(breach=gaps.gap_days > gaps.cycle_days)


def periodicity(maintenance: ir.Table, settings: ir.Table, p: Period, cfg: EvaluationConfig) -> ir.Table:
    """Per system: warranty end, in-warranty flag, days since the last cycle maintenance, overdue.

    5.1.2: overdue when, after the warranty, more days than the cycle have
    passed at the as-of date since the later of the warranty end and the last
    periodic/resident maintenance (exactly the cycle is not yet overdue). A
    system with neither a known warranty end nor any maintenance is overdue:
    nothing shows it was ever maintained.
    """
    as_of = ibis.literal(p.as_of)
    m = maintenance.filter(maintenance.kind.isin(cfg.cycle_kinds) & (maintenance.started_at < _ts(p.end)))
    last = m.group_by("system_id").agg(last_maintenance=m.started_at.max().cast("date"))
    t = settings.left_join(last, "system_id").drop("system_id_right")
    in_warranty = (t.warranty_end > as_of).fill_null(False)
    after_w = ibis.ifelse(t.last_maintenance >= t.warranty_end, t.last_maintenance, t.warranty_end)
    anchor = ibis.cases(
        (t.warranty_end.isnull(), t.last_maintenance),
        (t.last_maintenance.isnull(), t.warranty_end),
        else_=after_w,
    )
    t = t.mutate(in_warranty=in_warranty, cycle_anchor=anchor,
                 days_since_maintenance=as_of.delta(t.last_maintenance, unit="day"))
    overdue = ibis.cases(
        (t.in_warranty, False),
        (t.cycle_anchor.isnull(), True),
        else_=as_of.delta(t.cycle_anchor, unit="day") > t.cycle_days,
    )
    return t.mutate(maintenance_overdue=overdue)


def maintenance_reports(maintenance: ir.Table, p: Period) -> ir.Table:
    """Maintenances started in the window with ``report_missing`` when no report is recorded (5.2.2 d)."""
    m = maintenance.filter((maintenance.started_at >= _ts(p.start)) & (maintenance.started_at < _ts(p.end)))
    return m.mutate(report_missing=~m.report_issued.fill_null(False))


# ------------------------------------------------------------------ 5.1.2 service life

def service_life(dsvc: ir.Table, settings: ir.Table, p: Period) -> ir.Table:
    """Active devices with their 5.1.2 service life and status.

    ``end_of_life`` = ``installed_on`` + life years. ``past`` when the end of
    life is on or before the as-of date; ``due`` when it falls after it but
    within the system's next cycle (as-of + cycle days, inclusive); ``ok``
    otherwise; ``no_rule`` for a device type without a life in the table;
    ``unknown_age`` without an installation date.
    """
    life = ibis.memtable({"_lt": list(SERVICE_LIFE_YEARS),
                          "life_years": [int(v) for v in SERVICE_LIFE_YEARS.values()]})
    d = dsvc.filter(dsvc.active)
    d = d.left_join(life, d.device_type == life._lt).drop("_lt")
    s = settings.select(_sid=settings.system_id, _cycle=settings.cycle_days)
    d = d.join(s, d.system_id == s._sid)
    eol = (d.installed_on + d.life_years.as_interval("Y")).cast("date")
    as_of = ibis.literal(p.as_of)
    d = d.mutate(end_of_life=eol)
    status = ibis.cases(
        (d.life_years.isnull(), "no_rule"),
        (d.installed_on.isnull(), "unknown_age"),
        (d.end_of_life <= as_of, "past"),
        (d.end_of_life <= as_of + d._cycle.as_interval("D"), "due"),
        else_="ok",
    )
    return d.mutate(life_status=status).drop("_sid", "_cycle")


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


def alarm_health(alarms: ir.Table, p: Period, stale_h: float = 48.0) -> ir.Table:
    """Per system, alarms raised in the window: false-alarm share and unhandled share.

    ``false_alarm_share`` = closed as false alarm / closed. ``unhandled_share``
    = (expired + still new or escalated more than ``stale_h`` hours before
    ``T``, i.e. never taken in hand) / alarms with a known status (null when
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

def breach_samples(sla: ir.Table, k: int) -> ir.Table:
    """The first ``k`` faults (by clock start) beyond each 5.1.1 limit, per system: (system_id, step, fault_id)."""
    parts = []
    for step in STEPS:
        b = sla.filter(sla[step] == "breach").select("system_id", "fault_id", "t0", step=ibis.literal(step))
        parts.append(b)
    u = ibis.union(*parts)
    w = ibis.window(group_by=["system_id", "step"], order_by=["t0", "fault_id"])
    u = u.mutate(_rn=ibis.row_number().over(w))
    return u.filter(u._rn < k).select("system_id", "step", "fault_id", "t0")


def first_rows(t: ir.Table, order_by: list, k: int, group: str = "system_id") -> ir.Table:
    """At most ``k`` rows per ``group``, the first by ``order_by`` (for evidence ids)."""
    w = ibis.window(group_by=group, order_by=order_by)
    t = t.mutate(_rn=ibis.row_number().over(w))
    return t.filter(t._rn < k).drop("_rn")


def latest_event_date(tables) -> dt.date | None:
    """The latest date stamped on any fault, maintenance or alarm (the default as-of date)."""
    cands = []
    for table, cols in (("faults", ("occurred_at", "reported_at", "restored_at")),
                        ("maintenance", ("started_at", "ended_at")),
                        ("alarms", ("raised_at", "closed_at"))):
        t = tables[table]
        cands.extend(t[c].max() for c in cols)
    import pandas as pd
    values = [v for v in (c.execute() for c in cands) if v is not None and not pd.isna(v)]
    if not values:
        return None
    return max(pd.Timestamp(v) for v in values).date()
