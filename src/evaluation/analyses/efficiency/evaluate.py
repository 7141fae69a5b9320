"""Run the whole chapter 6 evaluation on a set of Ibis tables and assemble per-system results.

Heavy work (joins, windows, group-bys over faults) runs in the engine through
the Ibis expressions of :mod:`.metrics`; the intermediate fault and device
tables are cached in the engine (``Table.cache``). Only per-system, per-zone,
per-maintenance and per-device aggregates come back as pandas frames, from
which plain dictionaries (JSON-ready) are built.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import ibis
import pandas as pd

from . import audit, metrics, survival
from .config import DEFAULT, EvaluationConfig

TABLE_NAMES = ("systems", "devices", "faults", "maintenance", "alarms")


@dataclass
class Evaluation:
    as_of: dt.date
    window_start: dt.date
    window_days: int
    config: EvaluationConfig
    systems: list[dict]
    models: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "window": {"start": self.window_start.isoformat(), "end": self.as_of.isoformat(),
                       "days": self.window_days},
            "config": _jsonable(self.config.as_dict()),
            "models": _jsonable(self.models),
            "systems": _jsonable(self.systems),
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.isoformat()
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if v is None or v is pd.NaT:
        return None
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _num(v) -> float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    return float(v)


def _int(v, default=0) -> int:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return default
    return int(v)


def _date(v) -> dt.date | None:
    if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    return pd.Timestamp(v).date()


def _by_system(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if df is None or df.empty:
        return {}
    return {k: g for k, g in df.groupby("system_id", sort=False)}


def _scoped(tables: Mapping[str, ibis.Table], system_ids: Sequence[str] | None) -> dict[str, ibis.Table]:
    out = {name: tables[name] for name in TABLE_NAMES}
    if system_ids:
        ids = list(system_ids)
        out = {name: t.filter(t.system_id.isin(ids)) for name, t in out.items()}
    return out


def evaluate(tables: Mapping[str, ibis.Table], as_of: dt.date | None = None,
             window_days: int | None = None, system_ids: Sequence[str] | None = None,
             config: EvaluationConfig = DEFAULT) -> Evaluation:
    """Evaluate every system (or ``system_ids``) as of ``as_of`` (default: latest event date).

    Raises ``ValueError`` when there is nothing to evaluate.
    """
    cfg = config if window_days is None else replace(config, window_days=int(window_days))
    if cfg.window_days < 1:
        raise ValueError("the window must be at least one day")
    t = _scoped(tables, system_ids)
    if as_of is None:
        as_of = metrics.latest_event_date(tables)  # of the whole data, whatever the system filter
        if as_of is None:
            raise ValueError("no fault, maintenance or alarm recorded: give --as-of")
    p = metrics.Period(as_of, cfg.window_days)
    k = cfg.evidence_ids

    settings = metrics.system_settings(t["systems"], cfg).cache()
    sdf = settings.execute()
    if sdf.empty:
        raise ValueError("no system to evaluate" + (f" among {', '.join(system_ids)}" if system_ids else ""))
    dsvc = metrics.device_service(t["devices"], p).cache()
    fb = metrics.fault_base(t["faults"], t["devices"], p).cache()
    islands = metrics.down_islands(fb, dsvc, p).cache()
    sla = metrics.timeliness(fb, settings, p).cache()

    perf = _by_system(metrics.performance(fb, dsvc, islands).execute())
    slas = _by_system(metrics.timeliness_summary(sla).execute())
    breach_parts = []
    for step in metrics.STEPS:
        b = sla.filter(sla[step] == "breach")
        b = metrics.first_rows(b, ["t0", "fault_id"], k).select("system_id", "fault_id", step=ibis.literal(step))
        breach_parts.append(b)
    breaches = _by_system(ibis.union(*breach_parts).execute())
    na_arrival = _by_system(sla.filter(sla.arrival == "not_applicable").group_by("system_id")
                            .agg(n=ibis._.count()).execute())
    month = _by_system(metrics.monthly(fb, sla).order_by(["system_id", "month"]).execute())
    gaps = _by_system(metrics.maintenance_gaps(t["maintenance"], settings, p, cfg)
                      .order_by(["system_id", "d"]).execute())
    per = _by_system(metrics.periodicity(t["maintenance"], settings, p, cfg).execute())
    rep = metrics.maintenance_reports(t["maintenance"], p)
    rep_counts = _by_system(rep.group_by("system_id").agg(n=rep.count()).execute())
    rep_missing = _by_system(rep.filter(rep.report_missing).select("system_id", "maintenance_id", "started_at")
                             .order_by(["system_id", "started_at"]).execute())
    life = metrics.service_life(dsvc, settings, p)
    life_counts = _by_system(life.group_by(["system_id", "life_status"]).agg(n=life.count()).execute())
    life_rows = _by_system(life.filter(life.life_status.isin(("past", "due")))
                           .select("system_id", "device_id", "device_type", "installed_on", "end_of_life",
                                   "life_status").order_by(["system_id", "end_of_life", "device_id"]).execute())
    active = _by_system(dsvc.filter(dsvc.active).group_by("system_id").agg(n=ibis._.count()).execute())
    repeat = _by_system(metrics.repeat_fault_devices(fb, p, cfg).order_by(["system_id", "device_id"]).execute())
    effect = _by_system(metrics.maintenance_effect(fb, t["maintenance"], p, cfg)
                        .order_by(["system_id", "started_at"]).execute())
    expo = _by_system(metrics.exposure(dsvc, islands, p).order_by(["system_id", "zone", "subsystem"]).execute())
    alarms = _by_system(metrics.alarm_health(t["alarms"], p).execute())
    opened = fb.filter(fb.is_open)
    open_ids = _by_system(metrics.first_rows(opened, ["occurred_at", "fault_id"], k)
                          .select("system_id", "fault_id").execute())

    hist = metrics.device_history(dsvc, fb).execute()
    models = survival.fit_models(hist, p.end, cfg.min_events_weibull)
    cycles = sdf.set_index("system_id")["cycle_days"]
    expected = _by_system(survival.expected_failures(hist, models, p.end, cycles))

    systems = []
    for row in sdf.sort_values("system_id").itertuples(index=False):
        sid = row.system_id
        s = _system(row, p, cfg, perf.get(sid), slas.get(sid), breaches.get(sid), na_arrival.get(sid),
                    month.get(sid), gaps.get(sid), per.get(sid), rep_counts.get(sid), rep_missing.get(sid),
                    life_counts.get(sid), life_rows.get(sid), active.get(sid), repeat.get(sid),
                    effect.get(sid), expo.get(sid), alarms.get(sid), open_ids.get(sid), expected.get(sid))
        systems.append(s)
    model_rows = [{"group": m.group, "model": m.model, "devices": m.devices, "first_faults": m.events,
                   "params": m.params} for m in models.values()]
    return Evaluation(as_of, p.start_date, cfg.window_days, cfg, systems, model_rows)


def _first(df: pd.DataFrame | None) -> dict:
    return {} if df is None or df.empty else df.iloc[0].to_dict()


def _system(row, p, cfg, perf, slas, breaches, na_arrival, month, gaps, per, rep_counts, rep_missing,
            life_counts, life_rows, active, repeat, effect, expo, alarms, open_ids, expected) -> dict:
    pf, sl, pr = _first(perf), _first(slas), _first(per)
    sla_counts = {}
    for step in metrics.STEPS:
        ids = [] if breaches is None else breaches.loc[breaches["step"] == step, "fault_id"].tolist()
        sla_counts[step] = {
            "limit_h": float(getattr(row, f"lim_{step}")),
            **{st: _int(sl.get(f"{step}_{st}")) for st in ("within", "breach", "pending", "unrecorded")},
            "breach_ids": ids,
        }
    sla_counts["arrival"]["not_applicable"] = _int(_first(na_arrival).get("n"))
    lc = {} if life_counts is None else dict(zip(life_counts["life_status"], life_counts["n"]))
    past = [] if life_rows is None else life_rows.loc[life_rows["life_status"] == "past", "device_id"].tolist()
    due = [] if life_rows is None else life_rows.loc[life_rows["life_status"] == "due", "device_id"].tolist()
    s = {
        "system_id": row.system_id, "name": row.name, "site": row.site,
        "risk_level": None if pd.isna(row.risk_level) else int(row.risk_level),
        "accepted_on": _date(row.accepted_on), "warranty_months": int(row.warranty_months),
        "warranty_end": _date(row.warranty_end), "cycle_days_set": int(row.cycle_days_set),
        "cycle_days": int(row.cycle_days),
        "devices": _int(pf.get("devices")), "active_devices": _int(_first(active).get("n")),
        "device_hours": _num(pf.get("service_h")) or 0.0, "down_hours": _num(pf.get("down_h")) or 0.0,
        "availability": _num(pf.get("availability")), "mtbf_h": _num(pf.get("mtbf_h")),
        "mttr_h": _num(pf.get("mttr_h")),
        "fault_rate_per_device_year": _num(pf.get("fault_rate_per_device_year")),
        "faults": _int(pf.get("faults")), "open_faults_count": _int(pf.get("open_faults")),
        "open_faults": [] if open_ids is None else open_ids["fault_id"].tolist(),
        "sla": {step: _num(sl.get(f"sla_{step}")) for step in metrics.STEPS},
        "sla_limits_h": {step: float(getattr(row, f"lim_{step}")) for step in metrics.STEPS},
        "sla_counts": sla_counts,
        "in_warranty": bool(pr.get("in_warranty", False)),
        "last_maintenance": _date(pr.get("last_maintenance")),
        "days_since_maintenance": None if pr.get("days_since_maintenance") is None
        or pd.isna(pr.get("days_since_maintenance")) else int(pr["days_since_maintenance"]),
        "maintenance_overdue": bool(pr.get("maintenance_overdue", True)),
        "maintenance_gaps": [] if gaps is None else [
            {"from": r.prev_id, "from_date": _date(r.prev_d), "to": r.maintenance_id, "to_date": _date(r.d),
             "gap_days": int(r.gap_days), "breach": bool(r.breach)} for r in gaps.itertuples()],
        "maintenances_in_window": _int(_first(rep_counts).get("n")),
        "maintenances_without_report": [] if rep_missing is None else rep_missing["maintenance_id"].tolist(),
        "devices_past_service_life": past, "devices_due_service_life": due,
        "devices_unknown_age": int(lc.get("unknown_age", 0)),
        "devices_with_life_rule": int(sum(v for key, v in lc.items() if key != "no_rule")),
        "repeat_fault_devices": [] if repeat is None else repeat["device_id"].tolist(),
        "maintenance_effect": [] if effect is None else [
            {"maintenance_id": r.maintenance_id, "subsystem": r.subsystem, "kind": r.kind,
             "started_at": r.started_at, "faults_before": int(r.before), "faults_after": int(r.after),
             "rate_before_per_30d": _num(r.rate_before), "rate_after_per_30d": _num(r.rate_after),
             "after_hold": int(r.after_hold), "after_hold_ids": list(r.after_hold_ids or []),
             "held": bool(r.held), "hold_complete": bool(r.hold_complete)} for r in effect.itertuples()],
        "exposure": [] if expo is None else [
            {"zone": r.zone, "subsystem": r.subsystem, "devices": int(r.devices),
             "exposure_h": float(r.exposure_h), "episodes": int(r.episodes)} for r in expo.itertuples()],
        "alarm_health": None if alarms is None else {
            key: _jsonable(v) for key, v in _first(alarms).items() if key != "system_id"},
        "expected_failures": [] if expected is None else [
            {"subsystem": r.subsystem, "device_type": None if pd.isna(r.device_type) else r.device_type,
             "devices": int(r.devices), "down_now": int(r.down_now),
             "expected_failures": _num(r.expected_failures), "model": r.model}
            for r in expected.itertuples()],
        "monthly": [] if month is None else [
            {"month": _date(r.month), "faults": int(r.faults), "mttr_h": _num(r.mttr_h),
             "repair_share": _num(r.repair_share)} for r in month.itertuples()],
    }
    s["expected_failures_next_cycle"] = float(sum(e["expected_failures"] or 0.0 for e in s["expected_failures"]))
    fs = audit.findings(s, cfg)
    s["classification"] = audit.classify(fs)
    s["disposition"], s["disposition_reasons"] = audit.disposition(s, fs, cfg)
    s["findings"] = [f.as_dict() for f in fs]
    s["valid_until"] = audit.valid_until(p.as_of, s["cycle_days"], s["classification"], cfg)
    return s
