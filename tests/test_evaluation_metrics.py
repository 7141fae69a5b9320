"""Chapter 6 evaluation on the hand-made fixture (tests/evaluation_fixture.py).

As-of 2025-06-30, window 365 days: T = 2025-07-01 00:00, window start 2024-07-01 00:00.
Every expected number below is worked out by hand in the comment next to it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

import evaluation_fixture as fx
from evaluation.analyses.efficiency import DEFAULT, audit, evaluate
from evaluation.store import db
from evaluation.store.engine import open_tables


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "fx.duckdb"
    con = db.connect(path)
    fx.load(con)
    con.close()
    return open_tables(path)


@pytest.fixture(scope="module")
def ev(tables):
    return evaluate(tables, as_of=fx.AS_OF)


@pytest.fixture(scope="module")
def by_id(ev):
    return {s["system_id"]: s for s in ev.as_dict()["systems"]}


def finding(s, key):
    return next(f for f in s["findings"] if f["key"] == key)


# ---------------------------------------------------------------- performance

def test_availability_mtbf_mttr(by_id):
    s = by_id["S1"]
    # service: D1..D6 the whole window 6 x 8760 h; D7 2024-07-01 -> 2024-12-31 = 183 d = 4392 h
    assert s["device_hours"] == pytest.approx(6 * 8760 + 4392)
    # down (merged per device): D3 F1+F8 overlap 08:00-18:00 = 10 h; D1 F2 9 h + F3 8 h 1 min
    # + F4 open 2025-05-01 -> T = 61 d = 1464 h; D5 F5 open 23:45 -> T = 0.25 h; D2 F9 48 h
    down = 10 + 9 + (8 + 1 / 60) + 1464 + 0.25 + 48
    assert s["down_hours"] == pytest.approx(down)
    assert s["availability"] == pytest.approx(1 - down / 56952)
    # faults occurring in the window: F1 F2 F3 F4 F5 F7 F8 F9 = 8 (F6 is before it)
    assert s["faults"] == 8
    assert s["mtbf_h"] == pytest.approx((56952 - down) / 8)
    # MTTR over the restored ones, occurrence -> restoration: F1 8, F2 9, F3 8+1/60, F7 2, F8 8, F9 48
    assert s["mttr_h"] == pytest.approx((8 + 9 + 8 + 1 / 60 + 2 + 8 + 48) / 6)
    assert s["fault_rate_per_device_year"] == pytest.approx(8 / (56952 / 8760))
    assert s["open_faults_count"] == 2 and s["open_faults"] == ["F4", "F5"]


def test_per_subsystem_and_device(by_id):
    sub = {x["subsystem"]: x for x in by_id["S1"]["subsystems"]}
    # intrusion: D3 (8760 h) + D7 (4392 h, decommissioned) = 13152 h; down 10 h; F1, F8
    assert sub["intrusion_alarm"]["availability"] == pytest.approx(1 - 10 / 13152)
    assert sub["intrusion_alarm"]["mtbf_h"] == pytest.approx((13152 - 10) / 2)
    # video: D1, D2, D4, D5 = 4 x 8760 h; down 1481.0167 (D1) + 48 (D2) + 0.25 (D5); F2 F3 F4 F5 F9
    assert sub["video_surveillance"]["down_hours"] == pytest.approx(9 + 8 + 1 / 60 + 1464 + 48 + 0.25)
    assert sub["video_surveillance"]["faults"] == 5 and sub["video_surveillance"]["open_faults"] == 2
    worst = by_id["S1"]["worst_devices"]
    assert [d["device_id"] for d in worst] == ["D1", "D2", "D3", "D5"]      # by down hours
    assert worst[0]["availability"] == pytest.approx(1 - (9 + 8 + 1 / 60 + 1464) / 8760)


def test_monthly_trend(by_id):
    months = {m["month"]: m for m in by_id["S1"]["monthly"]}
    # March 2025: F1 (8 h), F2 (9 h), F8 (8 h) -> 3 faults, MTTR 25/3; repair limit counted from the
    # occurrence (5.1.1): F1 and F8 within, F2 9 h beyond 8 h -> 2/3
    mar = months["2025-03-01"]
    assert mar["faults"] == 3 and mar["mttr_h"] == pytest.approx(25 / 3)
    assert mar["repair_share"] == pytest.approx(2 / 3)
    # May 2025: F4 (open, breach) and F9 (48 h, breach)
    assert months["2025-05-01"]["repair_share"] == 0.0


# ---------------------------------------------------------------- 5.1.1 timeliness

def test_timeliness_shares_and_boundaries(by_id):
    c = by_id["S1"]["sla_counts"]
    # clock from the occurrence (5.1.1). response: F1 exactly 0.5 h within; F3 10 min within;
    # F2 1 h 31 min breach; F4 open with no response, 61 days elapsed: breach; F5 15 min old:
    # pending; F7, F8, F9 restored without a response time: unrecorded
    assert (c["response"]["within"], c["response"]["breach"], c["response"]["pending"],
            c["response"]["unrecorded"]) == (2, 2, 1, 3)
    assert c["response"]["breach_ids"] == ["F2", "F4"]
    assert c["response"]["unrecorded_ids"] == ["F7", "F8", "F9"]
    # arrival, on-site only: F1 exactly 4 h within; F3 4 h 1 min breach; F4 open on-site breach;
    # F2/F9 remote, F7 phone, F5/F8 unknown mode without arrival: not applicable (5)
    assert (c["arrival"]["within"], c["arrival"]["breach"], c["arrival"]["not_applicable"]) == (1, 2, 5)
    # repair: F1 exactly 8 h within; F2 9 h after occurrence: breach; F7 2 h, F8 8 h within;
    # F3 8 h 1 min, F4 open, F9 48 h breach; F5 pending
    assert (c["repair"]["within"], c["repair"]["breach"], c["repair"]["pending"]) == (3, 4, 1)
    assert by_id["S1"]["sla"] == pytest.approx({"response": 2 / 4, "arrival": 1 / 3, "repair": 3 / 7})
    # from the report, only F2 differs (reported 01:00): response 31 min still beyond 0.5 h,
    # repair exactly 8 h within -> repair 4 of 7
    assert by_id["S1"]["sla_clock"] == "occurrence"
    assert by_id["S1"]["sla_from_report"] == pytest.approx({"response": 2 / 4, "arrival": 1 / 3,
                                                            "repair": 4 / 7})


def test_system_limits_only_stricter(by_id):
    s = by_id["S2"]
    # S2 sets response 1.0 h (laxer: the standard's 0.5 h stays) and repair 4 h (stricter: applies)
    assert s["sla_limits_h"] == {"response": 0.5, "arrival": 4.0, "repair": 4.0}
    # G1 responded after 0.75 h (> 0.5) and restored after 5 h (> 4, though < 8): both breaches
    assert s["sla"]["response"] == 0.0 and s["sla"]["repair"] == 0.0
    assert s["sla"]["arrival"] is None      # remote repair: no arrival limit applies
    assert finding(s, "sla_arrival")["status"] == "not_applicable"


def test_open_fault_not_yet_due_is_pending(by_id):
    s = by_id["S6"]
    # J1 reported 20:00 on the as-of date, open at T (4 h): repair pending, not a breach
    assert s["sla_counts"]["repair"]["pending"] == 1 and s["sla"]["repair"] is None
    assert s["sla"]["response"] == 1.0      # responded after 10 min


# ---------------------------------------------------------------- 5.1.2 periodicity

def test_gaps_exact_cycle_conforms_one_day_more_does_not(by_id):
    s = by_id["S1"]
    gaps = {(g["subsystem"], g["from"], g["to"], g["gap_days"], g["due"], g["breach"])
            for g in s["maintenance_gaps"]}
    # whole-system visits cover each of S1's three subsystems (5.1.5). M2 2024-06-30 + 6 months
    # = due 2024-12-30: M3 on 2024-12-29 (182 days) conforms; M3 + 6 months = due 2025-06-29: M5 on
    # 2025-06-30 (183 days) is a day late. The per-call M4 does not count; the interval warranty
    # end -> M2 ends before the window.
    assert gaps == {(sub, "M2", "M3", 182, "2024-12-30", False) for sub in SUBS_S1} | {
        (sub, "M3", "M5", 183, "2025-06-29", True) for sub in SUBS_S1}
    assert finding(s, "maintenance_gaps")["status"] == "nonconforming"
    assert s["days_since_maintenance"] == 0 and s["maintenance_overdue"] is False


SUBS_S1 = ("access_control", "intrusion_alarm", "video_surveillance")


def test_reports_missing(by_id):
    s = by_id["S1"]
    # maintenances started in the window: M3 (report), M4 (unknown), M5 (no report)
    assert s["maintenances_in_window"] == 3
    assert s["maintenances_without_report"] == ["M4", "M5"]


def test_warranty_and_cycle_setting(by_id):
    s2 = by_id["S2"]
    # accepted 2025-03-01 + 6 months = 2025-09-01: still under warranty at the as-of date
    assert s2["warranty_end"] == "2025-09-01" and s2["in_warranty"]
    assert finding(s2, "warranty")["status"] == "nonconforming"          # 6 < 12 months
    assert finding(s2, "cycle_setting")["status"] == "nonconforming"     # 200 > 182 days
    # evaluated against six calendar months: as-of 2025-06-30 -> next cycle end 2025-12-30 (183 days)
    assert (s2["cycle"], s2["next_cycle_end"], s2["cycle_days"]) == ("6 months", "2025-12-30", 183)
    assert finding(s2, "maintenance_overdue")["status"] == "not_applicable"
    assert s2["maintenance_overdue"] is False
    assert finding(by_id["S1"], "warranty")["status"] == "conforming"


def test_overdue_boundary(tables, by_id):
    s3 = by_id["S3"]
    # S3 cycle 90 days; last periodic maintenance N1 2025-04-01; 2025-06-30 is 90 days later: not overdue
    assert s3["days_since_maintenance"] == 90 and s3["maintenance_overdue"] is False
    later = evaluate(tables, as_of=dt.date(2025, 7, 1), system_ids=["S3"]).as_dict()["systems"][0]
    assert later["days_since_maintenance"] == 91 and later["maintenance_overdue"] is True
    # nothing at all recorded: overdue
    assert by_id["S4"]["maintenance_overdue"] is True and by_id["S4"]["days_since_maintenance"] is None


# ---------------------------------------------------------------- service life

def test_service_life_edges(by_id):
    s = by_id["S1"]
    # D1 ccd_camera 2019-06-30 + 6 y = 2025-06-30 = as-of: past (reached)
    assert s["devices_past_service_life"] == ["D1"]
    # D2 ends 2025-07-01 (due); D4 dvr 2020-12-30 + 5 y = 2025-12-30 = as-of + 6 months, the end of
    # the next cycle: due (inclusive); D5 ends 2025-12-31: ok; D6 door_reader: no rule;
    # D7 decommissioned: not assessed
    assert s["devices_due_service_life"] == ["D2", "D4"]
    assert s["active_devices"] == 6


# ---------------------------------------------------------------- device effectiveness

def test_repeat_faults(by_id):
    # D1: F2 03-10, F3 04-01, F4 05-01 -> 3 in 52 days; D3 has 2 (F1, F8)
    assert by_id["S1"]["repeat_fault_devices"] == ["D1"]


def test_repeat_faults_span_inclusive(tables):
    cfg = dataclasses.replace(DEFAULT, repeat_days=51)
    s = evaluate(tables, as_of=fx.AS_OF, system_ids=["S1"], config=cfg).as_dict()["systems"][0]
    assert s["repeat_fault_devices"] == []                  # 03-10 -> 05-01 is 52 days > 51
    cfg = dataclasses.replace(DEFAULT, repeat_days=52)
    s = evaluate(tables, as_of=fx.AS_OF, system_ids=["S1"], config=cfg).as_dict()["systems"][0]
    assert s["repeat_fault_devices"] == ["D1"]              # exactly 52 days: counted


def test_maintenance_effect(by_id):
    eff = {m["maintenance_id"]: m for m in by_id["S1"]["maintenance_effect"]}
    # M4 (video, ended 2025-03-05 10:00): video faults within 30 days after: F2 03-10, F3 04-01
    assert eff["M4"]["after_hold_ids"] == ["F2", "F3"] and not eff["M4"]["held"]
    # 90 days after M4: F2, F3, F4, F9 -> 4 / 90 d * 30 = 1.333 per 30 days; none in the 90 days before
    assert eff["M4"]["faults_after"] == 4 and eff["M4"]["rate_after_per_30d"] == pytest.approx(4 / 3)
    assert eff["M4"]["faults_before"] == 0 and eff["M4"]["rate_before_per_30d"] == 0.0
    # M3 (whole system, ended 2024-12-29 12:00): nothing until 2025-01-28 12:00 -> held;
    # within 90 days: F7 02-01, F1 and F8 03-01, F2 03-10 = 4
    assert eff["M3"]["held"] and eff["M3"]["faults_after"] == 4
    # M5 on the as-of date: follow-up incomplete, not judged
    assert not eff["M5"]["hold_complete"] and eff["M5"]["rate_after_per_30d"] is None
    f = finding(by_id["S1"], "maintenance_hold")
    assert f["status"] == "nonconforming" and "M4 -> F2, F3" in f["evidence"]


# ---------------------------------------------------------------- potential threats

def test_exposure(by_id):
    z = {(e["zone"], e["subsystem"]): e for e in by_id["S1"]["exposure"]}
    # Z1 intrusion: the only detector D3 down 08:00-18:00 on 03-01 -> 10 h
    assert z[("Z1", "intrusion_alarm")]["exposure_h"] == pytest.approx(10)
    assert z[("Z1", "intrusion_alarm")]["episodes"] == 1        # F1 and F8 overlap: one stretch
    # Z1 video: D1 down from 05-01 (open), D2 down 05-31 -> 06-02: both down 48 h
    assert z[("Z1", "video_surveillance")]["exposure_h"] == pytest.approx(48)
    assert z[("Z1", "video_surveillance")]["episodes"] == 1
    # CR video: only D5 down, D4 works -> 0
    assert z[("CR", "video_surveillance")]["exposure_h"] == 0
    assert finding(by_id["S1"], "exposure")["status"] == "nonconforming"   # 48 > 24 h


def test_alarm_health(by_id):
    a = by_id["S1"]["alarm_health"]
    # 10 alarms in the window (A0 is before it); closed 5 of which 2 false -> 0.4;
    # A6 expired + A8 new for 29 days (A7 new for 1 h is not stale) -> 2 / 10
    assert (a["alarms"], a["closed"], a["false_alarms"], a["expired"], a["stale"]) == (10, 5, 2, 1, 1)
    assert a["false_alarm_share"] == pytest.approx(0.4) and a["unhandled_share"] == pytest.approx(0.2)


# ---------------------------------------------------------------- audit, classification, disposition

def test_classification_and_disposition_rules(by_id):
    expect = {
        "S1": ("impaired", "partial_replacement"),   # D1 past life and repeat faults
        "S2": ("impaired", "maintain"),              # repair-limit breach (major), nothing to repair now
        "S3": ("unfit", "overall_renewal"),          # H1, H2 of 3 devices past life: 66.7% >= 50%
        "S4": ("insufficient_evidence", "maintain"),  # no record at all; overdue: no maintenance
        "S5": ("fit", "none"),
        "S6": ("fit_with_remarks", "repair"),        # J1 open; Q1 followed by J1 within 30 days (minor)
    }
    assert {k: (s["classification"], s["disposition"]) for k, s in by_id.items()} == expect


def test_valid_until(by_id):
    # cycle six months: 2025-06-30 + 6 months = 2025-12-30; S3 unfit: 30 days -> 2025-07-30
    assert by_id["S1"]["valid_until"] == "2025-12-30"
    assert by_id["S3"]["valid_until"] == "2025-07-30"


def test_every_finding_is_an_audit_line(by_id):
    for s in by_id.values():
        for f in s["findings"]:
            assert f["clause"] and f["requirement"] and f["evidence"]
            assert f["status"] in ("conforming", "nonconforming", "not_applicable")
            assert bool(f["corrective_action"]) == (f["status"] == "nonconforming")


def _sys(**kw):
    base = {"devices_past_service_life": [], "active_devices": 10, "repeat_fault_devices": [],
            "open_faults_count": 0, "availability": 1.0, "exposure": []}
    base.update(kw)
    return base


NC = audit.Finding("x", "5.1.2", "r", "nonconforming", "e", "a", "minor")
OK = audit.Finding("x", "5.1.2", "r", "conforming", "e", "", None)


@pytest.mark.parametrize("system, fs, expected", [
    (_sys(devices_past_service_life=list("abcde")), [OK], "overall_renewal"),   # 5/10 = 50%
    (_sys(devices_past_service_life=list("abcd")), [OK], "partial_replacement"),  # 40%
    (_sys(repeat_fault_devices=["d"]), [OK], "partial_replacement"),
    (_sys(open_faults_count=1), [OK], "repair"),
    (_sys(availability=0.98), [OK], "repair"),
    (_sys(exposure=[{"exposure_h": 24.5}]), [OK], "repair"),
    (_sys(exposure=[{"exposure_h": 24.0}]), [OK], "none"),                        # exactly the limit
    (_sys(), [OK, NC], "maintain"),
    (_sys(), [OK], "none"),
])
def test_disposition_rule_order(system, fs, expected):
    assert audit.disposition(system, fs, DEFAULT)[0] == expected


def test_classification_levels():
    major = dataclasses.replace(NC, severity="major")
    critical = dataclasses.replace(NC, severity="critical")
    assert audit.classify([OK]) == "fit"
    assert audit.classify([OK, NC]) == "fit_with_remarks"
    assert audit.classify([NC, major]) == "impaired"
    assert audit.classify([major, critical, NC]) == "unfit"


def test_default_as_of_is_latest_event_date(tables):
    # latest stamp: F5 2025-06-30 23:45 and A7 2025-06-30 23:00 -> 2025-06-30
    assert evaluate(tables, system_ids=["S1"]).as_of == dt.date(2025, 6, 30)
