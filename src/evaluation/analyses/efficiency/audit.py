"""The evaluation as an audit: findings, classification, disposition, validity.

Each requirement is one checklist line (the QMS seed's verification style):
the clause, the requirement, the evidence (numbers and record ids), the status
(conforming / nonconforming / not_applicable), the corrective action and a
severity used by the classification. Input: the per-system metrics dictionary
assembled by :mod:`.evaluate` (plain Python values).

Classification (documented levels, worst nonconforming severity decides):

=========================  ===================================================
``insufficient_evidence``  too little history to classify (6.1): no fault and
                           no maintenance record in the window, or fewer than
                           ``min_observation_days`` of records
``fit``                    no nonconformity
``fit_with_remarks``       only minor nonconformities (records, response, alarms)
``impaired``               at least one major nonconformity
``unfit``                  at least one critical nonconformity
=========================  ===================================================

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

Validity (6.1): ``valid_until`` = the end of the system's next maintenance
cycle from the as-of date (six calendar months, or its stricter cycle in days),
or as-of + ``validity_days`` when set; for an ``unfit`` system at most
``unfit_validity_days`` (re-evaluate after the corrective action); none
(null) for ``insufficient_evidence``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

from .config import EvaluationConfig

SEVERITY_ORDER = ("minor", "major", "critical")
CLASSIFICATION = {None: "fit", "minor": "fit_with_remarks", "major": "impaired", "critical": "unfit"}
INSUFFICIENT = "insufficient_evidence"
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
        # every field is a str or None: a shallow copy (dataclasses.asdict deep-copies
        # each value, 0.8 s for the 15,000 findings of 1,000 systems)
        return {f.name: getattr(self, f.name) for f in fields(self)}


def ids_text(ids: list, total: int | None = None) -> str:
    """'A, B, C' or 'A, B, C and 7 more'."""
    ids = [str(i) for i in ids]
    total = len(ids) if total is None else total
    text = ", ".join(ids)
    return text + (f" and {total - len(ids)} more" if total > len(ids) else "")


def scope_name(subsystem: str | None) -> str:
    """A cycle scope's name: its subsystem, or the system as a whole (no device recorded)."""
    return subsystem or "the whole system"


def _cycle_text(c: dict) -> str:
    last = (f"last periodic maintenance {c['last_maintenance']} ({c['days_since_maintenance']} days ago)"
            if c["last_maintenance"] else "no periodic or resident maintenance recorded")
    due = f", due {c['due']}" if c["due"] else (", and no acceptance date to start the cycle"
                                               if not c["last_maintenance"] else "")
    return f"{scope_name(c['subsystem'])}: {last}{due}"


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
        judged = c["within"] + c["breach"]
        subject = judged + c["unrecorded"]
        share = s["sla"][step]
        ev = (f"from the fault's occurrence: {c['within']} of {judged} faults with a recorded {step} "
              f"time within {lim:g} h ({_pct(share)})" if subject or c["pending"]
              else "no fault subject to this limit occurred in the window")
        if c["breach"]:
            ev += f"; beyond the limit: {ids_text(c['breach_ids'], c['breach'])}"
        if c["unrecorded"]:
            ev += (f"; {step} time not recorded for {c['unrecorded']} of {subject} faults: "
                   f"{ids_text(c['unrecorded_ids'], c['unrecorded'])}")
        if c["pending"]:
            ev += f"; {c['pending']} open and not yet due"
        if step == "arrival" and c.get("not_applicable"):
            ev += f"; {c['not_applicable']} not on site (remote, phone, mail-in or unknown) not subject to arrival"
        r = s["sla_counts_from_report"][step]
        ev += (f"; from the report (what the maintainer controls): {r['within']} of "
               f"{r['within'] + r['breach']} within ({_pct(s['sla_from_report'][step])})")
        # missing evidence is a nonconformity in an audit, whatever the share of the recorded ones
        ok = None if subject == 0 else (not c["unrecorded"] and share >= cfg.sla_target - 1e-12)
        fix = action if not c["unrecorded"] else (
            f"Have the maintainer record the {step} time of every fault (B.2, B.4). " + action)
        out.append(_f(f"sla_{step}", "5.1.1",
                      f"The maintainer must {verb} within {lim:g} h after the fault occurs.",
                      ok, ev, fix, sev))

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
                  f"Maintenance cycle after the warranty of at most half a year ({cfg.max_cycle_months} "
                  f"calendar months; {cfg.max_cycle_days} days in the contract's terms).",
                  cset <= cfg.max_cycle_days,
                  f"cycle set to {cset} days; in force: {s['cycle']}"
                  + ("" if cset <= cfg.max_cycle_days else " (the standard's ceiling)"),
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
        ev = (f"{len(gaps)} intervals in the window over {len({g['subsystem'] for g in gaps})} "
              f"subsystem(s), longest {longest['gap_days']} days (cycle {s['cycle']})")
        if bad:
            late: dict[tuple, list[str]] = {}
            for g in bad:
                key = (g["from"] or f"cycle start {g['from_date']}", g["to"], g["gap_days"], g["due"])
                late.setdefault(key, []).append(scope_name(g["subsystem"]))
            ev += "; too long: " + "; ".join(
                f"{a} -> {b} ({days} d, due {due}): {', '.join(subs)}"
                for (a, b, days, due), subs in list(late.items())[:k])
    bad_subs = sorted({scope_name(g["subsystem"]) for g in bad})
    out.append(_f("maintenance_gaps", "5.1.2 / 5.1.5",
                  f"Periodic maintenance of every subsystem at least every {s['cycle']} after the warranty.",
                  ok, ev, f"Schedule periodic maintenance of {', '.join(bad_subs)} against the cycle "
                  "(table 2 lists what each subsystem's maintenance covers) and monitor the plan.",
                  "major"))

    judged = [c for c in s["maintenance_cycle"] if c["judged"]]
    late = [c for c in judged if c["overdue"]]
    if s["in_warranty"]:
        ok, ev = None, f"under warranty until {s['warranty_end']}"
    else:
        ok = not late
        shown = late or judged
        ev = (f"{len(late)} of {len(judged)} subsystem(s) overdue at the as-of date" if late
              else f"every one of {len(judged)} subsystem(s) within its cycle ({s['cycle']})")
        ev += ": " + "; ".join(_cycle_text(c) for c in shown[:k])
        if len(shown) > k:
            ev += f" and {len(shown) - k} more"
    out.append(_f("maintenance_overdue", "5.1.2 / 5.1.5",
                  "Periodic maintenance of every subsystem in service not overdue at the as-of date.",
                  ok, ev, f"Carry out the overdue periodic maintenance of "
                  f"{', '.join(scope_name(c['subsystem']) for c in late)} now (table 2).", "major"))

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
    ev = ("" if has_records(s) else "no fault and no maintenance record in the window: no evidence "
          "that the system's faults are recorded, availability not computed; ")
    ev += (f"availability {_pct(av)} over {s['device_hours']:.0f} device-hours, "
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


def has_records(s: dict) -> bool:
    """Whether the system has any fault or maintenance record in the window.

    Without one, nothing shows that its faults are recorded at all: an
    availability of 100 % would be a default, not a result, so none is given.
    """
    ob = s["observation"]
    return ob["faults_in_window"] + ob["maintenances_in_window"] > 0


def observation_verdict(s: dict, cfg: EvaluationConfig) -> tuple[bool, str | None]:
    """6.1: is there enough history to classify the system? (sufficient, reason when not).

    Not enough: no fault and no maintenance record in the window, or fewer than
    ``cfg.min_observation_days`` days from the later of the acceptance date and
    the system's first fault or maintenance record to the as-of date.
    """
    ob = s["observation"]
    if not has_records(s):
        return False, "no fault and no maintenance record in the window"
    if ob["observed_days"] < cfg.min_observation_days:
        return False, (f"{ob['observed_days']} days of records from {ob['observed_from']} (the later of "
                       f"acceptance and the first fault or maintenance record) to the as-of date, fewer "
                       f"than {cfg.min_observation_days}")
    return True, None


def classify(fs: list[Finding], sufficient: bool = True) -> str:
    """The worst nonconforming severity decides; ``insufficient_evidence`` without enough history (6.1)."""
    if not sufficient:
        return INSUFFICIENT
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


def valid_until(as_of: dt.date, next_cycle_end: dt.date, classification: str,
                cfg: EvaluationConfig) -> dt.date | None:
    """6.1: the end of the system's next maintenance cycle (or ``validity_days``), at most
    ``unfit_validity_days`` for an unfit system; none without enough evidence to classify."""
    if classification == INSUFFICIENT:
        return None
    end = as_of + dt.timedelta(days=cfg.validity_days) if cfg.validity_days is not None else next_cycle_end
    if classification == "unfit":
        end = min(end, as_of + dt.timedelta(days=cfg.unfit_validity_days))
    return end
