"""The evaluation as an audit: findings, classification, disposition, validity.

Each requirement is one checklist line (the QMS seed's verification style):
the clause, the requirement, the evidence (numbers and record ids), the status
(conforming / nonconforming / not_applicable), the corrective action and a
severity used by the classification. Input: the per-system metrics dictionary
assembled by :mod:`.evaluate` (plain Python values).

Classification (documented levels, worst nonconforming severity decides):

=====================  ===================================================
``fit``                no nonconformity
``fit_with_remarks``   only minor nonconformities (records, response, alarms)
``impaired``           at least one major nonconformity
``unfit``              at least one critical nonconformity
=====================  ===================================================

Disposition (6.3), the first rule that applies:

1. ``overall_renewal`` — at least ``renewal_share`` of the active devices are
   past their service life (5.1.2);
2. ``partial_replacement`` — some active device is past its service life, or
   some device has repeat faults (repairs do not hold: replace it);
3. ``repair`` — faults still open at the as-of date, availability below its
   target, or a zone exposed beyond the tolerated hours;
4. ``maintain`` — any other nonconformity (overdue or irregular maintenance,
   missing reports, late response, alarm handling, ...);
5. ``none`` — everything conforms.

Validity (6.1): ``valid_until`` = as-of + ``validity_days`` (default: the
system's maintenance cycle, at most 182 days); for an ``unfit`` system at most
``unfit_validity_days`` (re-evaluate after the corrective action).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from .config import EvaluationConfig

SEVERITY_ORDER = ("minor", "major", "critical")
CLASSIFICATION = {None: "fit", "minor": "fit_with_remarks", "major": "impaired", "critical": "unfit"}
DISPOSITIONS = ("none", "maintain", "repair", "partial_replacement", "overall_renewal")


@dataclass
class Finding:
    key: str
    clause: str
    requirement: str
    status: str            # conforming, nonconforming, not_applicable
    evidence: str
    corrective_action: str
    severity: str | None   # set when nonconforming

    def as_dict(self) -> dict:
        return asdict(self)


def ids_text(ids: list, total: int | None = None) -> str:
    """'A, B, C' or 'A, B, C and 7 more'."""
    ids = [str(i) for i in ids]
    total = len(ids) if total is None else total
    text = ", ".join(ids)
    return text + (f" and {total - len(ids)} more" if total > len(ids) else "")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _f(key, clause, req, ok: bool | None, evidence, action, severity) -> Finding:
    if ok is None:
        return Finding(key, clause, req, "not_applicable", evidence, "", None)
    if ok:
        return Finding(key, clause, req, "conforming", evidence, "", None)
    return Finding(key, clause, req, "nonconforming", evidence, action, severity)


def findings(s: dict, cfg: EvaluationConfig) -> list[Finding]:
    """The checklist of one system, in clause order."""
    k = cfg.evidence_ids
    out: list[Finding] = []

    # 5.1.1 timeliness
    labels = {"response": ("respond", "minor", ("Agree a stand-by arrangement with the maintainer so "
                           "that every call is answered within the limit, and record the response time.")),
              "arrival": ("arrive on site (on-site repairs)", "minor",
                          "Review the maintainer's travel and dispatch arrangements for on-site repairs."),
              "repair": ("restore the fault", "major",
                         "Keep spare parts and escalate faults open close to the limit; close open faults.")}
    for step, (verb, sev, action) in labels.items():
        c = s["sla_counts"][step]
        lim = c["limit_h"]
        applicable = c["within"] + c["breach"]
        share = s["sla"][step]
        ev = (f"{c['within']} of {applicable} applicable faults within {lim:g} h ({_pct(share)})")
        if c["breach"]:
            ev += f"; beyond the limit: {ids_text(c['breach_ids'], c['breach'])}"
        if c["pending"]:
            ev += f"; {c['pending']} open and not yet due"
        if c["unrecorded"]:
            ev += f"; {c['unrecorded']} restored without a recorded {step} time"
        if step == "arrival" and c.get("not_applicable"):
            ev += f"; {c['not_applicable']} remote/phone/mail-in repairs not subject to arrival"
        ok = None if applicable == 0 else share >= cfg.sla_target - 1e-12
        out.append(_f(f"sla_{step}", "5.1.1",
                      f"The maintainer must {verb} within {lim:g} h of the report "
                      f"(occurrence when not reported).", ok, ev, action, sev))

    # 5.1.2 warranty and cycle
    wm = s["warranty_months"]
    acc = s["accepted_on"]
    ev = f"warranty {wm} months" + (f" from acceptance on {acc}, ends {s['warranty_end']}" if acc
                                    else "; acceptance date not recorded")
    out.append(_f("warranty", "5.1.2", f"Warranty of at least {cfg.min_warranty_months} months "
                  "after acceptance.", wm >= cfg.min_warranty_months, ev,
                  "Obtain a warranty extension or a maintenance contract covering the first year.",
                  "minor"))
    cset = s["cycle_days_set"]
    out.append(_f("cycle_setting", "5.1.2",
                  f"Maintenance cycle after the warranty of at most {cfg.max_cycle_days} days.",
                  cset <= cfg.max_cycle_days,
                  f"cycle set to {cset} days" + ("" if cset <= cfg.max_cycle_days
                                                 else f"; evaluated against {cfg.max_cycle_days} days"),
                  "Shorten the contractual maintenance cycle to half a year or less "
                  "(shorter for higher risk levels).", "minor"))

    gaps = s["maintenance_gaps"]
    bad = [g for g in gaps if g["breach"]]
    if s["in_warranty"] and not gaps:
        ok, ev = None, f"under warranty until {s['warranty_end']}"
    elif not gaps:
        ok, ev = None, "no periodic maintenance interval ended in the window"
    else:
        ok = not bad
        longest = max(gaps, key=lambda g: g["gap_days"])
        ev = (f"{len(gaps)} intervals in the window, longest {longest['gap_days']} days "
              f"(cycle {s['cycle_days']} days)")
        if bad:
            ev += "; too long: " + ", ".join(
                f"{g['from'] or 'warranty end'} -> {g['to']} ({g['gap_days']} d)" for g in bad[:k])
    out.append(_f("maintenance_gaps", "5.1.2",
                  f"Periodic maintenance at least every {s['cycle_days']} days after the warranty.",
                  ok, ev, "Schedule periodic maintenance against the cycle and monitor the plan.",
                  "major"))

    if s["in_warranty"]:
        ok, ev = None, f"under warranty until {s['warranty_end']}"
    else:
        d = s["days_since_maintenance"]
        ok = not s["maintenance_overdue"]
        ev = (f"last periodic maintenance {s['last_maintenance']}, {d} days before the as-of date "
              f"(cycle {s['cycle_days']} days)" if d is not None
              else "no periodic or resident maintenance recorded")
    out.append(_f("maintenance_overdue", "5.1.2", "Periodic maintenance not overdue at the as-of date.",
                  ok, ev, "Carry out the overdue periodic maintenance now.", "major"))

    # 5.2.2 d) reports
    n = s["maintenances_in_window"]
    miss = s["maintenances_without_report"]
    ok = None if n == 0 else not miss
    ev = (f"{n - len(miss)} of {n} maintenances in the window have a report" if n
          else "no maintenance in the window")
    if miss:
        ev += f"; missing: {ids_text(miss[:k], len(miss))}"
    out.append(_f("maintenance_reports", "5.2.2 d)", "A maintenance report after every maintenance.",
                  ok, ev, "Obtain the missing reports from the maintainer; make the report a "
                  "condition of acceptance of each visit.", "minor"))

    # 5.1.2 service life
    past, due = s["devices_past_service_life"], s["devices_due_service_life"]
    active = s["active_devices"]
    share = len(past) / active if active else 0.0
    ev = (f"{len(past)} of {active} active devices past their service life ({_pct(share)})"
          + (f": {ids_text(past[:k], len(past))}" if past else "")
          + f"; {len(due)} reach it within the next cycle"
          + (f" ({ids_text(due[:k], len(due))})" if due else "")
          + (f"; {s['devices_unknown_age']} without installation date" if s['devices_unknown_age'] else ""))
    assessed = s["devices_with_life_rule"]
    out.append(_f("service_life", "5.1.2", "No device in use beyond its service life (5.1.2 table).",
                  None if assessed == 0 else not past, ev,
                  "Replace the devices past their service life; budget those reaching it.",
                  "critical" if share >= cfg.renewal_share else "major"))

    # 3.4 device effectiveness
    rep = s["repeat_fault_devices"]
    out.append(_f("repeat_faults", "3.4 / 6.2", f"No device with {cfg.repeat_faults} or more faults "
                  f"within {cfg.repeat_days} days (repairs hold).",
                  None if s["faults"] == 0 and not rep else not rep,
                  (f"{len(rep)} devices: {ids_text(rep[:k], len(rep))}" if rep
                   else f"no repeat-fault device among {s['faults']} faults"),
                  "Find the root cause of the repeat faults; replace the devices concerned.", "major"))

    eff = s["maintenance_effect"]
    complete = [m for m in eff if m["hold_complete"]]
    failed = [m for m in complete if not m["held"]]
    ev = (f"{len(complete)} maintenances with {cfg.hold_days} days of follow-up, "
          f"{len(failed)} followed by a fault of the same scope")
    if failed:
        ev += ": " + "; ".join(f"{m['maintenance_id']} -> {ids_text(m['after_hold_ids'][:3], m['after_hold'])}"
                               for m in failed[:k])
    out.append(_f("maintenance_hold", "3.4", f"Maintenance holds: no fault of the same scope within "
                  f"{cfg.hold_days} days after it.", None if not complete else not failed, ev,
                  "Review the content of these maintenances with the maintainer (5.2.2 a-c).", "minor"))

    # 3.4 system performance
    av = s["availability"]
    if av is None:
        ok, sev = None, None
    else:
        ok = av >= cfg.availability_target
        sev = "critical" if av < cfg.availability_critical else "major"
    ev = (f"availability {_pct(av)} over {s['device_hours']:.0f} device-hours, "
          f"{s['down_hours']:.1f} h down; {s['faults']} faults, MTBF "
          + ("n/a" if s["mtbf_h"] is None else f"{s['mtbf_h']:.0f} h")
          + ", MTTR " + ("n/a" if s["mttr_h"] is None else f"{s['mttr_h']:.1f} h")
          + f"; {s['open_faults_count']} faults open at the as-of date"
          + (f" ({ids_text(s['open_faults'][:k], s['open_faults_count'])})" if s["open_faults_count"] else ""))
    out.append(_f("availability", "3.4", f"System performance: device availability at least "
                  f"{_pct(cfg.availability_target)}.", ok, ev,
                  "Repair the open faults and reduce repair times.", sev or "major"))

    # 3.4 potential threats: exposure
    zones = s["exposure"]
    if not zones:
        ok, ev, sev = None, "no zone protected by intrusion detection or video", "major"
    else:
        worst = max(zones, key=lambda z: z["exposure_h"])
        exposed = [z for z in zones if z["exposure_h"] > cfg.exposure_limit_h]
        ok = not exposed
        sev = "critical" if worst["exposure_h"] > cfg.exposure_critical_h else "major"
        ev = (f"{len(zones)} zone/subsystem pairs; worst {worst['zone']} ({worst['subsystem']}, "
              f"{worst['devices']} devices): {worst['exposure_h']:.1f} h without any working device")
        if exposed:
            ev += "; over the limit: " + ", ".join(
                f"{z['zone']}/{z['subsystem']} {z['exposure_h']:.1f} h" for z in exposed[:k])
    out.append(_f("exposure", "3.4", f"No protected zone without working intrusion detection or video "
                  f"for more than {cfg.exposure_limit_h:g} h in the window.", ok, ev,
                  "Add redundant detectors/cameras in the exposed zones and repair them first.", sev))

    # 4.4 alarm-system health
    a = s["alarm_health"]
    if not a or not a["alarms"]:
        out.append(_f("false_alarms", "4.4 / 3.4", "False alarms a small share of closed alarms.", None,
                      "no alarm recorded in the window", "", None))
        out.append(_f("unhandled_alarms", "4.4.1", "Alarms handled by the 24-hour duty.", None,
                      "no alarm recorded in the window", "", None))
    else:
        fs = a["false_alarm_share"]
        out.append(_f("false_alarms", "4.4 / 3.4",
                      f"False alarms at most {_pct(cfg.false_alarm_limit)} of closed alarms.",
                      None if fs is None else fs <= cfg.false_alarm_limit,
                      f"{a['false_alarms']} of {a['closed']} closed alarms were false ({_pct(fs)})",
                      "Adjust detector sensitivity and alarm definitions (4.4.2, table 4).", "minor"))
        us = a["unhandled_share"]
        out.append(_f("unhandled_alarms", "4.4.1",
                      f"At most {_pct(cfg.unhandled_limit)} of alarms expire or stay unhandled.",
                      None if us is None else us <= cfg.unhandled_limit,
                      (f"{a['expired']} expired and {a['stale']} never taken in hand of {a['with_status']} "
                       f"alarms with a status ({_pct(us)})" if us is not None
                       else f"{a['alarms']} alarms, none with a handling status"),
                      "Check the staffing and hand-over of the 24-hour duty (4.4.1).", "major"))
    return out


def classify(fs: list[Finding]) -> str:
    worst = None
    for f in fs:
        if f.status == "nonconforming" and (
                worst is None or SEVERITY_ORDER.index(f.severity) > SEVERITY_ORDER.index(worst)):
            worst = f.severity
    return CLASSIFICATION[worst]


def disposition(s: dict, fs: list[Finding], cfg: EvaluationConfig) -> tuple[str, list[str]]:
    """The 6.3 disposition and the reasons for it (rules in the module docstring)."""
    past = s["devices_past_service_life"]
    active = s["active_devices"]
    share = len(past) / active if active else 0.0
    if past and share >= cfg.renewal_share:
        return "overall_renewal", [(f"{len(past)} of {active} active devices ({_pct(share)}) are past "
                                    f"their service life (>= {_pct(cfg.renewal_share)})")]
    reasons = []
    if past:
        reasons.append(f"{len(past)} devices past their service life")
    if s["repeat_fault_devices"]:
        reasons.append(f"{len(s['repeat_fault_devices'])} repeat-fault devices")
    if reasons:
        return "partial_replacement", reasons
    if s["open_faults_count"]:
        reasons.append(f"{s['open_faults_count']} faults open at the as-of date")
    if s["availability"] is not None and s["availability"] < cfg.availability_target:
        reasons.append(f"availability {_pct(s['availability'])} below {_pct(cfg.availability_target)}")
    if any(z["exposure_h"] > cfg.exposure_limit_h for z in s["exposure"]):
        reasons.append(f"zones exposed for more than {cfg.exposure_limit_h:g} h")
    if reasons:
        return "repair", reasons
    nc = [f.key for f in fs if f.status == "nonconforming"]
    if nc:
        return "maintain", ["nonconforming: " + ", ".join(nc)]
    return "none", []


def valid_until(as_of: dt.date, cycle_days: int, classification: str, cfg: EvaluationConfig) -> dt.date:
    days = cfg.validity_days if cfg.validity_days is not None else cycle_days
    if classification == "unfit":
        days = min(days, cfg.unfit_validity_days)
    return as_of + dt.timedelta(days=int(days))
