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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import ibis
import pandas as pd

from ... import localtime, period
from . import audit, metrics, survival
from .config import DEFAULT, EvaluationConfig

TABLE_NAMES = ("systems", "devices", "faults", "maintenance", "alarms")


OUTSIDE_DATA = ("device time (availability, MTBF, fault rate, exposure) counts over the "
                "days with data only; faults and maintenance outside them are unknown")
"""What the evaluation does about a window reaching beyond the records (docs/evaluation.md)."""


@dataclass
class Evaluation:
    as_of: dt.date
    window_start: dt.date
    window_days: int
    config: EvaluationConfig
    systems: list[dict]
    models: list[dict] = field(default_factory=list)
    covered: period.Covered | None = None
    """The window and the part of it the records cover (:mod:`evaluation.period`)."""

    @property
    def warnings(self) -> list[str]:
        """One line per side of the window lying outside the records."""
        return [] if self.covered is None else self.covered.warnings(OUTSIDE_DATA)

    def as_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "window": {"start": self.window_start.isoformat(), "end": self.as_of.isoformat(),
                       "days": self.window_days},
            "period": None if self.covered is None else self.covered.as_dict(),
            "warnings": self.warnings,
            "config": _jsonable(self.config.as_dict()),
            "models": _jsonable(self.models),
            "systems": _jsonable(self.systems),
        }


_PLAIN = (str, int, bool)


def _jsonable(v: Any) -> Any:
    if v is None or type(v) in _PLAIN:
        return v
    if type(v) is float:
        return None if math.isnan(v) else v
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


def _rows(df: pd.DataFrame) -> dict[str, list[dict]]:
    """Records of a small result frame grouped by ``system_id`` (plain dicts, fast to walk)."""
    return _grouped([] if df is None or df.empty else df.to_dict("records"))


def _fetch(expr: ibis.Table) -> dict[str, list[dict]]:
    """The rows of a query grouped by ``system_id``, read from the engine as Arrow and
    turned into plain Python values there (a missing value is None, a time a
    ``datetime``): building them through pandas boxed every cell, 2.8 of the 11 s of an
    evaluation of 1,000 systems."""
    return _grouped(expr.to_pyarrow().to_pylist())


def _grouped(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for rec in records:
        out.setdefault(rec["system_id"], []).append(rec)
    return out


def _scoped(tables: Mapping[str, ibis.Table], system_ids: Sequence[str] | None) -> dict[str, ibis.Table]:
    out = {name: tables[name] for name in TABLE_NAMES}
    if system_ids:
        ids = list(system_ids)
        out = {name: t.filter(t.system_id.isin(ids)) for name, t in out.items()}
    return out


def evaluate(tables: Mapping[str, ibis.Table], as_of: dt.date | str | None = None,
             window_days: int | None = None, system_ids: Sequence[str] | None = None,
             config: EvaluationConfig = DEFAULT, progress: Callable[[str], None] | None = None,
             zone: str | None = None) -> Evaluation:
    """Evaluate every system (or ``system_ids``) as of the date ``as_of``: through the end
    of that day in ``zone`` (default: the tables' time zone, else UTC), by default the
    last day with data (:mod:`evaluation.period`).

    ``progress`` receives a short message at each stage. Raises ``ValueError``
    when there is nothing to evaluate.
    """
    say = progress or (lambda _msg: None)
    cfg = config if window_days is None else replace(config, window_days=int(window_days))
    zone = zone or getattr(tables, "zone", None) or localtime.UTC
    t = _scoped(tables, system_ids)
    data = metrics.data_span(tables)   # of the whole data, whatever the system filter
    as_of = period.when(as_of, zone)
    if isinstance(as_of, dt.datetime):
        raise TypeError("the evaluation runs as of a date (YYYY-MM-DD), not a time")
    if as_of is None:
        as_of = data.last_day(zone)
        if as_of is None:
            raise ValueError("no fault, maintenance or alarm recorded: give an as-of date")
    p = metrics.Period(as_of, cfg.window_days, zone, data)
    k = cfg.evidence_ids

    survival.preload()
    say("preparing systems, devices and faults")
    settings = metrics.system_settings(t["systems"], cfg, p).cache()
    sdf = settings.execute()
    if sdf.empty:
        raise ValueError("no system to evaluate" + (f" among {', '.join(system_ids)}" if system_ids else ""))
    dsvc = metrics.device_service(t["devices"], p).cache()
    # one materialised fault table carries the 5.1.1 statuses of both clocks too (computed once)
    fb = metrics.timeliness_status(metrics.fault_base(t["faults"], dsvc, p), settings, p)
    statuses = [f"{step}{suffix}" for suffix in metrics.CLOCKS.values() for step in metrics.STEPS]
    fb = fb.select("fault_id", "system_id", "device_id", "dev_key", "subsystem", "occurred_at",
                   "restored", "is_open", "in_window", "report_in_window", *statuses).cache()
    islands = metrics.down_islands(fb, dsvc, p).cache()
    scopes = metrics.cycle_scopes(dsvc, settings).cache()

    say("performance and timeliness")
    q = {}
    q["perf"] = metrics.performance(fb, dsvc, islands)
    q["by_subsystem"] = metrics.performance(fb, dsvc, islands, by=("system_id", "subsystem")).order_by(
        ["system_id", "subsystem"])
    dev = metrics.performance(fb, dsvc, islands, by=("system_id", "device_id"))
    dev = dev.filter((dev.down_h > 0) | (dev.faults > 0))
    q["worst_devices"] = metrics.first_rows(dev, [ibis.desc("down_h"), ibis.desc("faults"), "device_id"], k)
    q["sla"] = metrics.timeliness_summary(fb, "occurrence")
    q["sla_report"] = metrics.timeliness_summary(fb, "report")
    q["samples"] = metrics.status_samples(fb, k).order_by(["system_id", "step", "occurred_at", "fault_id"])
    q["month"] = metrics.monthly(fb).order_by(["system_id", "month"])
    opened = fb.filter(fb.is_open)
    q["open"] = metrics.first_rows(opened, ["occurred_at", "fault_id"], k).select(
        "system_id", "fault_id", "occurred_at").order_by(["system_id", "occurred_at", "fault_id"])
    q["gaps"] = metrics.maintenance_gaps(t["maintenance"], scopes, p, cfg).order_by(
        ["system_id", "d", "subsystem"])
    q["cycle"] = metrics.periodicity(t["maintenance"], scopes, p, cfg).order_by(["system_id", "subsystem"])
    q["observation"] = metrics.observation(fb, t["maintenance"], settings, p)
    q["reports"] = metrics.maintenance_reports(t["maintenance"], p).select(
        "system_id", "maintenance_id", "started_at", "report_missing").order_by(["system_id", "started_at"])
    life = metrics.service_life(dsvc, settings, p, cfg)
    q["life_counts"] = life.group_by(["system_id", "life_status"]).agg(n=ibis._.count())
    q["life_rows"] = life.filter(life.life_status.isin(("past", "due"))).select(
        "system_id", "device_id", "life_status", "end_of_life").order_by(["system_id", "end_of_life", "device_id"])
    q["repeat"] = metrics.repeat_fault_devices(fb, p, cfg).order_by(["system_id", "device_id"])
    q["effect"] = metrics.maintenance_effect(fb, t["maintenance"], p, cfg).order_by(["system_id", "started_at"])
    q["exposure"] = metrics.exposure(dsvc, islands, p).order_by(["system_id", "zone", "subsystem"])
    q["alarms"] = metrics.alarm_health(t["alarms"], p, cfg.unhandled_after_h)
    r = {}
    for name, expr in q.items():
        say(f"query {name}")
        r[name] = _fetch(expr)

    say("survival model")
    hist = metrics.device_history(dsvc, fb).execute()
    first = tables["faults"].occurred_at.min().execute()   # start of the fault history (whole data)
    history_start = None if first is None or pd.isna(first) else pd.Timestamp(first).to_pydatetime()
    # devices that never failed are censored where the records end (no fault known later)
    models = survival.fit_models(hist, p.observed_end, cfg.min_events_weibull,
                                 observed_from=history_start)
    cycles = sdf.set_index("system_id")["cycle_days"]
    r["expected"] = _rows(survival.expected_failures(hist, models, p.end, cycles, observed_from=history_start))

    say("findings")
    systems = [_system(row, p, cfg, {name: rows.get(row["system_id"], []) for name, rows in r.items()})
               for row in sdf.sort_values("system_id").to_dict("records")]
    model_rows = [{"group": m.group, "model": m.model, "devices": m.devices, "first_faults": m.events,
                   "params": m.params} for m in models.values()]
    say("done")
    return Evaluation(as_of, p.start_date, cfg.window_days, cfg, systems, model_rows, p.covered)


def _perf(x: dict, key: str) -> dict:
    """One per-subsystem or per-device performance row, JSON-ready."""
    return {key: x[key], "devices": _int(x.get("devices")), "faults": _int(x.get("faults")),
            "open_faults": _int(x.get("open_faults")), "down_hours": _num(x.get("down_h")) or 0.0,
            "availability": _num(x.get("availability")), "mtbf_h": _num(x.get("mtbf_h")),
            "mttr_h": _num(x.get("mttr_h")),
            "fault_rate_per_device_year": _num(x.get("fault_rate_per_device_year"))}


def _one(rows: list[dict]) -> dict:
    return rows[0] if rows else {}


def _sla_counts(row: dict, sl: dict, samples: list[dict] | None = None) -> dict:
    """Counts by status of each 5.1.1 limit on one clock (with evidence ids on the findings' clock)."""
    out = {}
    for step in metrics.STEPS:
        out[step] = {"limit_h": float(row[f"lim_{step}"]),
                     **{st: _int(sl.get(f"{step}_{st}"))
                        for st in ("within", "breach", "pending", "unrecorded", "not_applicable")}}
        if samples is not None:
            for st in ("breach", "unrecorded"):
                out[step][f"{st}_ids"] = [b["fault_id"] for b in samples
                                          if b["step"] == step and b["status"] == st]
    return out


def _cycle_row(c: dict) -> dict:
    """One scope of the 5.1.2 cycle; ``status``: overdue, under_warranty, within_cycle, or
    not_in_service (its devices left service during the window: only its intervals are judged)."""
    overdue, judged = bool(c["maintenance_overdue"]), bool(c["judged"])
    status = ("overdue" if overdue else "under_warranty" if c["in_warranty"]
              else "within_cycle" if judged else "not_in_service")
    return {"subsystem": c["subsystem"], "devices": _int(c["devices"]),
            "active_devices": _int(c["active_devices"]), "cycle_start": _date(c["cycle_start"]),
            "last_maintenance": _date(c["last_maintenance"]),
            "days_since_maintenance": None if pd.isna(c["days_since_maintenance"])
            else int(c["days_since_maintenance"]),
            "due": _date(c["due"]), "overdue": overdue, "judged": judged, "status": status}


def _system(row: dict, p, cfg: EvaluationConfig, r: dict[str, list[dict]]) -> dict:
    """Assemble one system's JSON-ready result, then its findings, classification, disposition."""
    pf, sl, ob = _one(r["perf"]), _one(r["sla"]), _one(r["observation"])
    lc = {c["life_status"]: int(c["n"]) for c in r["life_counts"]}
    past = [d["device_id"] for d in r["life_rows"] if d["life_status"] == "past"]
    due = [d["device_id"] for d in r["life_rows"] if d["life_status"] == "due"]
    reports = r["reports"]
    cycle = [_cycle_row(c) for c in r["cycle"]]
    judged = [c for c in cycle if c["judged"]]
    never = any(c["last_maintenance"] is None for c in judged)
    strict = row["cycle_strict_days"]
    s = {
        "system_id": row["system_id"], "name": row["name"], "site": row["site"],
        "risk_level": None if pd.isna(row["risk_level"]) else int(row["risk_level"]),
        "accepted_on": _date(row["accepted_on"]), "warranty_months": int(row["warranty_months"]),
        "warranty_end": _date(row["warranty_end"]), "cycle_days_set": int(row["cycle_days_set"]),
        "cycle": (f"{cfg.max_cycle_months} months" if pd.isna(strict) else f"{int(strict)} days"),
        "cycle_days": int(row["cycle_days"]), "next_cycle_end": _date(row["next_cycle_end"]),
        "observation": {
            "first_record": _date(ob.get("first_record")), "observed_from": _date(ob.get("observed_from")),
            "observed_days": None if ob.get("observed_days") is None or pd.isna(ob.get("observed_days"))
            else int(ob["observed_days"]),
            "min_days": cfg.min_observation_days,
            "faults_in_window": _int(ob.get("faults_in_window")),
            "maintenances_in_window": _int(ob.get("maintenances_in_window"))},
        "devices": _int(pf.get("devices")), "active_devices": _int(pf.get("active_devices")),
        "device_hours": _num(pf.get("service_h")) or 0.0, "down_hours": _num(pf.get("down_h")) or 0.0,
        "availability": _num(pf.get("availability")), "mtbf_h": _num(pf.get("mtbf_h")),
        "mttr_h": _num(pf.get("mttr_h")),
        "fault_rate_per_device_year": _num(pf.get("fault_rate_per_device_year")),
        "faults": _int(pf.get("faults")), "open_faults_count": _int(pf.get("open_faults")),
        "open_faults": [o["fault_id"] for o in r["open"]],
        "subsystems": [_perf(x, "subsystem") for x in r["by_subsystem"]],
        "worst_devices": [_perf(x, "device_id") for x in
                          sorted(r["worst_devices"], key=lambda x: (-x["down_h"], -x["faults"], x["device_id"]))],
        "sla_clock": "occurrence",
        "sla": {step: _num(sl.get(f"sla_{step}")) for step in metrics.STEPS},
        "sla_limits_h": {step: float(row[f"lim_{step}"]) for step in metrics.STEPS},
        "sla_counts": _sla_counts(row, sl, r["samples"]),
        "sla_from_report": {step: _num(_one(r["sla_report"]).get(f"sla_{step}")) for step in metrics.STEPS},
        "sla_counts_from_report": _sla_counts(row, _one(r["sla_report"])),
        "in_warranty": bool(r["cycle"][0]["in_warranty"]) if r["cycle"] else False,
        "maintenance_cycle": cycle,
        "last_maintenance": None if never or not judged else min(c["last_maintenance"] for c in judged),
        "days_since_maintenance": None if never or not judged
        else max(c["days_since_maintenance"] for c in judged),
        "maintenance_overdue": any(c["overdue"] for c in judged),
        "maintenance_gaps": [
            {"subsystem": g["subsystem"], "from": g["prev_id"], "from_date": _date(g["prev_d"]),
             "to": g["maintenance_id"], "to_date": _date(g["d"]), "due": _date(g["due"]),
             "gap_days": int(g["gap_days"]), "breach": bool(g["breach"])}
            for g in r["gaps"]],
        "maintenances_in_window": len(reports),
        "maintenances_without_report": [m["maintenance_id"] for m in reports if m["report_missing"]],
        "devices_past_service_life": past, "devices_due_service_life": due,
        "devices_unknown_age": lc.get("unknown_age", 0),
        "devices_with_life_rule": sum(v for key, v in lc.items() if key != "no_rule"),
        "repeat_fault_devices": [d["device_id"] for d in r["repeat"]],
        "maintenance_effect": [
            {"maintenance_id": m["maintenance_id"], "subsystem": m["subsystem"], "kind": m["kind"],
             "started_at": m["started_at"], "faults_before": int(m["before"]), "faults_after": int(m["after"]),
             "rate_before_per_30d": _num(m["rate_before"]), "rate_after_per_30d": _num(m["rate_after"]),
             "after_hold": int(m["after_hold"]), "after_hold_ids": list(m["after_hold_ids"] or []),
             "held": bool(m["held"]), "hold_complete": bool(m["hold_complete"])} for m in r["effect"]],
        "exposure": [
            {"zone": z["zone"], "subsystem": z["subsystem"], "devices": int(z["devices"]),
             "exposure_h": float(z["exposure_h"]), "episodes": int(z["episodes"])} for z in r["exposure"]],
        "alarm_health": None if not r["alarms"] else {
            key: _jsonable(v) for key, v in r["alarms"][0].items() if key != "system_id"},
        "expected_failures": [
            {"subsystem": e["subsystem"], "device_type": None if pd.isna(e["device_type"]) else e["device_type"],
             "devices": int(e["devices"]), "down_now": int(e["down_now"]),
             "expected_failures": _num(e["expected_failures"]), "model": e["model"]}
            for e in r["expected"]],
        "monthly": [
            {"month": _date(m["month"]), "faults": int(m["faults"]), "mttr_h": _num(m["mttr_h"]),
             "repair_share": _num(m["repair_share"])} for m in r["month"]],
    }
    s["expected_failures_next_cycle"] = float(sum(e["expected_failures"] or 0.0 for e in s["expected_failures"]))
    s["observation"]["records_in_window"] = audit.has_records(s)
    if not s["observation"]["records_in_window"]:   # nothing shows faults are recorded: no availability
        for x in (s, *s["subsystems"]):
            x["availability"] = x["fault_rate_per_device_year"] = None
    fs = audit.findings(s, cfg)
    s["observation"]["sufficient"], s["observation"]["reason"] = audit.observation_verdict(s, cfg)
    s["classification"] = audit.classify(fs, s["observation"]["sufficient"])
    s["disposition"], s["disposition_reasons"] = audit.disposition(s, fs, cfg)
    s["findings"] = [f.as_dict() for f in fs]
    s["valid_until"] = audit.valid_until(p.as_of, s["next_cycle_end"], s["classification"], cfg)
    return s
