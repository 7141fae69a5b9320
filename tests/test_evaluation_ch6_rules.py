"""Chapter 6 rules on hand-made records, straight from the standard's wording (issue 13, items 1-5).

Every store below is built for one rule; the expected figures are worked out
in each test's docstring. Unless said otherwise the as-of date is 2025-06-30:
T = 2025-07-01 00:00, window 365 days from 2024-07-01 00:00. Row layouts are
those of tests/evaluation_fixture.py:

* system: id, name, site, risk, accepted_on, warranty_months, cycle_days, response, arrival, repair
* device: id, system, subsystem, device_type, zone, installed_on, decommissioned_on
* fault: id, system, device, subsystem, occurred, reported, responded, arrived, restored, mode
* maintenance: id, system, subsystem, kind, started, ended, report_issued
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import pytest

import evaluation_fixture as fx
from evaluation.analyses.efficiency import DEFAULT, EvaluationConfig, evaluate
from evaluation.store import db
from evaluation.store.engine import open_tables

AS_OF = dt.date(2025, 6, 30)
_n = itertools.count()


def store(tmp_path, **rows):
    path = tmp_path / f"ch6-{next(_n)}.duckdb"
    con = db.connect(path)
    fx.load_rows(con, **rows)
    con.close()
    return open_tables(path)


def systems(tables, as_of=AS_OF, config=DEFAULT) -> dict[str, dict]:
    return {s["system_id"]: s for s in evaluate(tables, as_of=as_of, config=config).as_dict()["systems"]}


def finding(s: dict, key: str) -> dict:
    return next(f for f in s["findings"] if f["key"] == key)


def periodic(mid, sid, day, subsystem=None, kind="periodic"):
    return (mid, sid, subsystem, kind, f"{day} 09:00", f"{day} 11:00", True)


def system(sid, accepted, cycle=182, warranty=12):
    return (sid, sid, "site", 2, accepted, warranty, cycle, None, None, None)


# ------------------------------------------------------------------ item 1: every subsystem (5.1.2, 5.1.5)

def test_cycle_is_tracked_per_subsystem_with_devices_in_service(tmp_path):
    """5.1.2 "after the warranty maintain periodically, cycle at most half a year"; 5.1.5 maintenance
    "covers every part of the system"; table 2 lists each subsystem's maintenance.

    V1 (warranty end 2024-01-01): periodic visits to video only (2024-04-01, 2024-09-15,
    2025-03-01, 2025-06-20) and a per-call whole-system visit 2025-05-05, which does not keep
    the cycle (5.3.2). Video: last 2025-06-20, due 2025-12-20, fine. Intrusion: never visited,
    cycle from 2024-01-01, due 2024-07-01: overdue at the as-of date. The door reader was
    decommissioned 2024-05-01, before the window: access control is not tracked. Before: the
    last periodic visit (2025-06-20, 10 days) kept the whole system "not overdue".

    V2: intrusion visited 2024-03-01 (intrusion only) and then by the whole-system visit
    2025-02-01: 337 days, due 2024-09-01 -> a major gap naming intrusion_alarm; video's own
    visits (172, 143, 22, 120 days) conform. A patrol reader installed 2025-05-01 (after the
    warranty) starts its cycle then: due 2025-11-01, not overdue. Before: one chain over every
    periodic visit whatever its subsystem, no gap over 182 days: conforming.
    """
    t = store(
        tmp_path,
        systems=[system("V1", "2023-01-01"), system("V2", "2023-01-01")],
        devices=[("V1C", "V1", "video_surveillance", "ccd_camera", "Z1", "2022-06-01", None),
                 ("V1I", "V1", "intrusion_alarm", "intrusion_detector", "Z1", "2022-06-01", None),
                 ("V1A", "V1", "access_control", "door_reader", "Z1", "2022-06-01", "2024-05-01"),
                 ("V2C", "V2", "video_surveillance", "ccd_camera", "Z1", "2022-06-01", None),
                 ("V2I", "V2", "intrusion_alarm", "intrusion_detector", "Z1", "2022-06-01", None),
                 ("V2P", "V2", "patrol", "patrol_reader", "Z1", "2025-05-01", None)],
        faults=[("V1F", "V1", "V1C", None, "2025-02-10 08:00", "2025-02-10 08:00", "2025-02-10 08:10",
                 "2025-02-10 10:00", "2025-02-10 12:00", "onsite")],
        maintenance=[periodic("V1-M1", "V1", "2024-04-01", "video_surveillance"),
                     periodic("V1-M2", "V1", "2024-09-15", "video_surveillance"),
                     periodic("V1-M3", "V1", "2025-03-01", "video_surveillance"),
                     periodic("V1-M4", "V1", "2025-06-20", "video_surveillance"),
                     periodic("V1-P", "V1", "2025-05-05", kind="per_call"),
                     periodic("V2-M1", "V2", "2024-03-01", "intrusion_alarm"),
                     periodic("V2-V1", "V2", "2024-03-01", "video_surveillance"),
                     periodic("V2-V2", "V2", "2024-08-20", "video_surveillance"),
                     periodic("V2-V3", "V2", "2025-01-10", "video_surveillance"),
                     periodic("V2-W", "V2", "2025-02-01"),
                     periodic("V2-V4", "V2", "2025-06-01", "video_surveillance")])
    by = systems(t)
    v1 = by["V1"]
    cyc = {c["subsystem"]: (c["last_maintenance"], c["due"], c["overdue"]) for c in v1["maintenance_cycle"]}
    assert cyc == {"video_surveillance": ("2025-06-20", "2025-12-20", False),
                   "intrusion_alarm": (None, "2024-07-01", True)}
    assert v1["maintenance_overdue"] is True and v1["days_since_maintenance"] is None
    f = finding(v1, "maintenance_overdue")
    assert f["status"] == "nonconforming" and f["clause"] == "5.1.2 / 5.1.5"
    assert "intrusion_alarm: no periodic or resident maintenance recorded, due 2024-07-01" in f["evidence"]
    assert "intrusion_alarm" in f["corrective_action"] and "access_control" not in f["evidence"]

    v2 = by["V2"]
    gaps = {(g["subsystem"], g["from"], g["to"], g["gap_days"], g["breach"]) for g in v2["maintenance_gaps"]}
    assert gaps == {("intrusion_alarm", "V2-M1", "V2-W", 337, True),
                    ("video_surveillance", "V2-V1", "V2-V2", 172, False),
                    ("video_surveillance", "V2-V2", "V2-V3", 143, False),
                    ("video_surveillance", "V2-V3", "V2-W", 22, False),
                    ("video_surveillance", "V2-W", "V2-V4", 120, False)}
    f = finding(v2, "maintenance_gaps")
    assert f["status"] == "nonconforming" and f["severity"] == "major"
    assert "V2-M1 -> V2-W (337 d, due 2024-09-01): intrusion_alarm" in f["evidence"]
    assert "intrusion_alarm" in f["corrective_action"]
    patrol = next(c for c in v2["maintenance_cycle"] if c["subsystem"] == "patrol")
    assert (patrol["cycle_start"], patrol["due"], patrol["overdue"]) == ("2025-05-01", "2025-11-01", False)
    assert finding(v2, "maintenance_overdue")["status"] == "conforming"


# ------------------------------------------------------------------ item 2: half a year in calendar months

def test_half_a_year_is_six_calendar_months(tmp_path):
    """5.1.2: the cycle "shall not exceed half a year": six calendar months, not 182 days.

    H (warranty end 2024-03-01): visits 2024-03-01, 2024-09-01 (184 days, due 2024-09-01: on the
    due date, conforms), 2025-03-01 (181 days, due 2025-03-01). Before: 184 > 182, a major gap.
    Overdue: due 2025-09-01; not on 2025-09-01 itself (184 days), overdue on 2025-09-02.

    Month ends are clamped: 31 August + 6 months = 28 February 2025. E1 (warranty end
    2024-08-31): 2024-08-31 -> 2025-02-28, 181 days, conforms. E2: 2024-08-31 -> 2025-03-01,
    182 days, one day after the due date 2025-02-28: a gap (before: 182 days conformed).

    Validity (6.1) runs to the end of the next cycle: H as of 2025-08-31 (fit: no fault, visits
    on time, reports issued) is valid until 2025-08-31 + 6 months = 2026-02-28.
    """
    t = store(
        tmp_path,
        systems=[system("H", "2023-03-01"), system("E1", "2023-08-31"), system("E2", "2023-08-31")],
        devices=[(f"{s}C", s, "video_surveillance", "ccd_camera", "Z1", "2023-01-01", None)
                 for s in ("H", "E1", "E2")],
        maintenance=[periodic("H-M1", "H", "2024-03-01"), periodic("H-M2", "H", "2024-09-01"),
                     periodic("H-M3", "H", "2025-03-01"),
                     periodic("E1-M1", "E1", "2024-08-31"), periodic("E1-M2", "E1", "2025-02-28"),
                     periodic("E2-M1", "E2", "2024-08-31"), periodic("E2-M2", "E2", "2025-03-01")])
    by = systems(t)
    h = by["H"]
    assert [(g["from"], g["to"], g["gap_days"], g["due"], g["breach"]) for g in h["maintenance_gaps"]] == [
        ("H-M1", "H-M2", 184, "2024-09-01", False), ("H-M2", "H-M3", 181, "2025-03-01", False)]
    assert finding(h, "maintenance_gaps")["status"] == "conforming"
    assert h["cycle"] == "6 months" and h["maintenance_cycle"][0]["due"] == "2025-09-01"
    e1, e2 = by["E1"]["maintenance_gaps"], by["E2"]["maintenance_gaps"]
    # (the first interval of each, 0 days, runs from the warranty end to the visit on that day)
    assert [(g["gap_days"], g["due"], g["breach"]) for g in e1] == [(0, "2025-02-28", False),
                                                                   (181, "2025-02-28", False)]
    assert [(g["gap_days"], g["due"], g["breach"]) for g in e2] == [(0, "2025-02-28", False),
                                                                   (182, "2025-02-28", True)]

    on_due = systems(t, dt.date(2025, 9, 1))["H"]
    assert on_due["maintenance_overdue"] is False and on_due["days_since_maintenance"] == 184
    assert systems(t, dt.date(2025, 9, 2))["H"]["maintenance_overdue"] is True
    late_aug = systems(t, dt.date(2025, 8, 31))["H"]
    assert late_aug["classification"] == "fit"
    assert (late_aug["next_cycle_end"], late_aug["valid_until"]) == ("2026-02-28", "2026-02-28")


def test_declared_cycle_days_and_the_half_year_ceiling(tmp_path):
    """5.1.2: the cycle is set "by risk level" and may not exceed half a year.

    ``maintenance_cycle_days`` below 182 (the contract's value for half a year) is a stricter
    cycle, judged in days: R120 visits 2025-01-01 and 2025-05-02, 121 days > 120: a gap; its
    next cycle ends 2025-06-30 + 120 days = 2025-10-28 (the validity). 182 or more stands for
    half a year: R200 declares 200 days, a cycle_setting finding, and is held to six months:
    2024-09-01 -> 2025-03-10 (190 days) is past the due date 2025-03-01.

    The warranty counts calendar months too: accepted 2024-02-29 + 12 months = 2025-02-28.
    """
    t = store(
        tmp_path,
        systems=[system("R120", "2023-01-01", cycle=120), system("R200", "2023-01-01", cycle=200),
                 system("W", "2024-02-29")],
        devices=[(f"{s}C", s, "video_surveillance", "ccd_camera", "Z1", "2023-01-01", None)
                 for s in ("R120", "R200", "W")],
        maintenance=[periodic("R120-M1", "R120", "2025-01-01"), periodic("R120-M2", "R120", "2025-05-02"),
                     periodic("R200-M1", "R200", "2024-09-01"), periodic("R200-M2", "R200", "2025-03-10"),
                     periodic("W-M1", "W", "2024-06-01")])
    by = systems(t)
    r120 = by["R120"]
    assert r120["cycle"] == "120 days" and r120["next_cycle_end"] == "2025-10-28"
    assert [(g["to"], g["gap_days"], g["due"], g["breach"]) for g in r120["maintenance_gaps"]][-1] == (
        "R120-M2", 121, "2025-05-01", True)
    r200 = by["R200"]
    assert r200["cycle"] == "6 months" and finding(r200, "cycle_setting")["status"] == "nonconforming"
    assert [(g["to"], g["gap_days"], g["due"], g["breach"]) for g in r200["maintenance_gaps"]][-1] == (
        "R200-M2", 190, "2025-03-01", True)
    assert by["W"]["warranty_end"] == "2025-02-28"
    assert systems(t, dt.date(2025, 2, 27))["W"]["in_warranty"] is True
    assert systems(t, dt.date(2025, 2, 28))["W"]["in_warranty"] is False


# ------------------------------------------------------------------ item 3: missing times are nonconformities

def test_unrecorded_response_and_arrival_times_are_nonconformities(tmp_path):
    """5.1.1 sets the response (0.5 h) and arrival (4 h) limits for every fault; a fault
    restored without the time stamp gives no evidence that the limit was kept.

    U: four faults of the window, each restored within 8 h, on four cameras.
    Response: U-F1 20 min, U-F2 15 min within; U-F3 and U-F4 restored without a response time
    -> "response time not recorded for 2 of 4 faults", nonconforming (before: 2 of 2 within,
    conforming). Arrival (on-site only): U-F1 2 h within; U-F2 on site, restored without an
    arrival time -> "not recorded for 1 of 2"; U-F3 remote, U-F4 phone not subject. Both are
    minor: U is fit_with_remarks (before: fit). The shares stay over the recorded times (1.0).
    U2: its only fault has no response time at all -> nonconforming, share null (before: not
    applicable).
    """
    t = store(
        tmp_path,
        systems=[system("U", "2023-01-01"), system("U2", "2023-01-01")],
        devices=[(f"U-C{i}", "U", "video_surveillance", "ccd_camera", "Z1", "2023-01-01", None)
                 for i in range(1, 5)] + [("U2-C", "U2", "video_surveillance", "ccd_camera", "Z1",
                                           "2023-01-01", None)],
        faults=[("U-F1", "U", "U-C1", None, "2025-02-01 08:00", "2025-02-01 08:00", "2025-02-01 08:20",
                 "2025-02-01 10:00", "2025-02-01 12:00", "onsite"),
                ("U-F2", "U", "U-C2", None, "2025-03-01 08:00", "2025-03-01 08:00", "2025-03-01 08:15",
                 None, "2025-03-01 11:00", "onsite"),
                ("U-F3", "U", "U-C3", None, "2025-04-01 08:00", None, None, None, "2025-04-01 09:00", "remote"),
                ("U-F4", "U", "U-C4", None, "2025-05-01 08:00", None, None, None, "2025-05-01 10:00", "phone"),
                ("U2-F1", "U2", "U2-C", None, "2025-04-01 08:00", None, None, None, "2025-04-01 09:00",
                 "remote")],
        maintenance=[periodic(f"{s}-M{i}", s, day) for s in ("U", "U2")
                     for i, day in enumerate(("2024-06-15", "2024-12-01", "2025-05-20"))])
    by = systems(t)
    u = by["U"]
    resp, arr = finding(u, "sla_response"), finding(u, "sla_arrival")
    assert resp["status"] == "nonconforming" and resp["severity"] == "minor"
    assert "response time not recorded for 2 of 4 faults: U-F3, U-F4" in resp["evidence"]
    assert arr["status"] == "nonconforming"
    assert "arrival time not recorded for 1 of 2 faults: U-F2" in arr["evidence"]
    assert "record the response time" in resp["corrective_action"]
    assert finding(u, "sla_repair")["status"] == "conforming"
    assert u["sla"] == {"response": 1.0, "arrival": 1.0, "repair": 1.0}
    assert (u["sla_counts"]["response"]["unrecorded"], u["sla_counts"]["arrival"]["unrecorded"]) == (2, 1)
    assert u["classification"] == "fit_with_remarks"
    u2 = by["U2"]
    assert u2["sla"]["response"] is None
    assert finding(u2, "sla_response")["status"] == "nonconforming"
    assert "response time not recorded for 1 of 1 faults" in finding(u2, "sla_response")["evidence"]


# ------------------------------------------------------------------ item 4: the two 5.1.1 clocks

def test_timeliness_counts_from_the_fault_and_shows_the_report_clock(tmp_path):
    """5.1.1: "after the fault occurs", respond within 0.5 h, arrive within 4 h, repair within 8 h.

    K-F1 occurred 2025-03-03 08:00, reported 10:00, responded 10:20, arrived 13:00, restored
    17:00 (on site). From the occurrence: 2 h 20 min, 5 h, 9 h -> three breaches. From the
    report: 20 min, 3 h, 7 h -> within. K-F2 occurred 2024-06-30 22:00, before the window, and
    was reported 2024-07-01 01:00, inside it: judged on the report clock only (10 min, 2 h, 4 h).
    The findings use the occurrence: sla = 0/1 each, nonconforming (before: from the report,
    2 of 2 within each, conforming); sla_from_report = 2 of 2 each.
    """
    t = store(
        tmp_path,
        systems=[system("K", "2023-01-01")],
        devices=[("K-C", "K", "video_surveillance", "ccd_camera", "Z1", "2023-01-01", None)],
        faults=[("K-F1", "K", "K-C", None, "2025-03-03 08:00", "2025-03-03 10:00", "2025-03-03 10:20",
                 "2025-03-03 13:00", "2025-03-03 17:00", "onsite"),
                ("K-F2", "K", "K-C", None, "2024-06-30 22:00", "2024-07-01 01:00", "2024-07-01 01:10",
                 "2024-07-01 03:00", "2024-07-01 05:00", "onsite")],
        maintenance=[periodic(f"K-M{i}", "K", day)
                     for i, day in enumerate(("2024-06-15", "2024-12-01", "2025-05-20"))])
    k = systems(t)["K"]
    assert k["sla_clock"] == "occurrence"
    assert k["sla"] == {"response": 0.0, "arrival": 0.0, "repair": 0.0}
    assert k["sla_from_report"] == {"response": 1.0, "arrival": 1.0, "repair": 1.0}
    for step in ("response", "arrival", "repair"):
        occ, rep = k["sla_counts"][step], k["sla_counts_from_report"][step]
        assert (occ["within"], occ["breach"], occ["breach_ids"]) == (0, 1, ["K-F1"])
        assert (rep["within"], rep["breach"]) == (2, 0)
        f = finding(k, f"sla_{step}")
        assert f["status"] == "nonconforming" and "after the fault occurs" in f["requirement"]
        assert "from the report (what the maintainer controls): 2 of 2 within (100.0%)" in f["evidence"]


# ------------------------------------------------------------------ item 5: no verdict without history (6.1)

def test_too_little_history_is_insufficient_evidence(tmp_path):
    """6.1: the first evaluation comes after the system "has run for some time"; 90 days by default.

    N accepted 2025-05-31; its only record, fault N-F1 on 2025-06-10 (restored in 1 h): observed
    from the later of the two, 20 days -> insufficient_evidence, no validity (before: fit, valid
    until 2025-12-30). With ``min_observation_days=20`` it is classified: fit, valid 2025-12-30.
    B: systems and devices only, no record at all -> insufficient_evidence and no availability
    (before: availability 100 %). O: a maintenance in 2023 only, none in the window ->
    insufficient. G: first record (a visit) on 2025-04-01: 90 days at 2025-06-30 -> classified
    (impaired: the visit comes years after the warranty end); 89 days at 2025-06-29 -> not.
    """
    t = store(
        tmp_path,
        systems=[system("N", "2025-05-31"), system("B", "2020-01-01"), system("O", "2020-01-01"),
                 system("G", "2020-01-01")],
        devices=[(f"{s}C", s, "video_surveillance", "ccd_camera", "Z1", i, None)
                 for s, i in (("N", "2025-05-31"), ("B", "2020-01-01"), ("O", "2020-01-01"),
                              ("G", "2020-01-01"))],
        faults=[("N-F1", "N", "NC", None, "2025-06-10 08:00", "2025-06-10 08:00", "2025-06-10 08:10",
                 None, "2025-06-10 09:00", "remote")],
        maintenance=[periodic("O-M1", "O", "2023-05-01"), periodic("G-M1", "G", "2025-04-01")])
    by = systems(t)
    n = by["N"]
    assert (n["classification"], n["valid_until"]) == ("insufficient_evidence", None)
    assert n["observation"] == {"first_record": "2025-06-10", "observed_from": "2025-06-10",
                                "observed_days": 20, "min_days": 90, "faults_in_window": 1,
                                "maintenances_in_window": 0, "records_in_window": True, "sufficient": False,
                                "reason": n["observation"]["reason"]}
    assert n["observation"]["reason"].startswith("20 days of records from 2025-06-10")
    b = by["B"]
    assert b["classification"] == "insufficient_evidence" and b["availability"] is None
    assert b["observation"]["reason"] == "no fault and no maintenance record in the window"
    assert finding(b, "availability")["status"] == "not_applicable"
    assert by["O"]["classification"] == "insufficient_evidence"
    assert by["G"]["observation"]["observed_days"] == 90 and by["G"]["classification"] == "impaired"
    g_early = systems(t, dt.date(2025, 6, 29))["G"]
    assert (g_early["observation"]["observed_days"], g_early["classification"]) == (89, "insufficient_evidence")
    shorter = systems(t, config=dataclasses.replace(DEFAULT, min_observation_days=20))["N"]
    assert (shorter["classification"], shorter["valid_until"]) == ("fit", "2025-12-30")


@pytest.mark.parametrize("kwargs, message", [
    ({"min_observation_days": 0}, "min_observation_days must be a whole number of at least 1, not 0"),
    ({"max_cycle_months": 7}, "max_cycle_months must be at most 6 (5.1.2: half a year), not 7"),
    ({"max_cycle_days": 1.5}, "max_cycle_days must be a whole number of at least 1, not 1.5"),
    ({"validity_days": 0}, "validity_days must be a whole number of at least 1, not 0"),
])
def test_config_refuses_unusable_settings(kwargs, message):
    with pytest.raises(ValueError) as exc:
        EvaluationConfig(**kwargs)
    assert str(exc.value) == message
    assert EvaluationConfig(validity_days=None).validity_days is None
