"""Hand-made chapter 6 fixture; every expected figure is worked out in tests/test_evaluation_*.py.

As-of 2025-06-30, window 365 days: T = 2025-07-01 00:00, window start 2024-07-01 00:00.

S1 the busy system (partial_replacement), S2 under warranty with a stricter
repair limit (maintain), S3 old devices (overall_renewal, unfit), S4 nothing
recorded (overdue; insufficient evidence), S5 clean (none), S6 an open fault
(repair). S2 and S3 have exactly 90 days of records (the 6.1 minimum); S5 and
S6 have records since 2024-12-01.
"""
from __future__ import annotations

import datetime as dt

AS_OF = dt.date(2025, 6, 30)

SYSTEMS = [
    # system_id, name, site, risk, accepted_on, warranty_months, cycle, resp, arr, rep
    ("S1", "Warehouse", "North", 2, "2023-01-01", 12, 182, None, None, None),
    ("S2", "Lab", "South", 1, "2025-03-01", 6, 200, 1.0, None, 4.0),
    ("S3", "Depot", "East", 3, "2010-01-01", 12, 90, None, None, None),
    ("S4", "Kiosk", "West", 3, None, 12, 182, None, None, None),
    ("S5", "Office", "North", 3, "2024-01-01", 12, 182, None, None, None),
    ("S6", "Gate", "North", 3, "2024-01-01", 12, 182, None, None, None),
]

DEVICES = [
    # device_id, system_id, subsystem, device_type, zone, installed_on, decommissioned_on
    ("D1", "S1", "video_surveillance", "ccd_camera", "Z1", "2019-06-30", None),   # EOL 2025-06-30 = as-of: past
    ("D2", "S1", "video_surveillance", "ccd_camera", "Z1", "2019-07-01", None),   # EOL 2025-07-01: due
    ("D3", "S1", "intrusion_alarm", "intrusion_detector", "Z1", "2024-01-01", None),
    # EOL 2025-12-30 = as-of + 6 months: due
    ("D4", "S1", "video_surveillance", "dvr", "CR", "2020-12-30", None),
    ("D5", "S1", "video_surveillance", "dvr", "CR", "2020-12-31", None),          # EOL 2025-12-31: ok
    ("D6", "S1", "access_control", "door_reader", "Z1", "2015-01-01", None),      # no life rule
    ("D7", "S1", "intrusion_alarm", "intrusion_detector", "Z1", "2018-01-01", "2024-12-31"),
    ("E1", "S2", "video_surveillance", "ccd_camera", "Z9", "2025-03-01", None),
    ("H1", "S3", "intrusion_alarm", "alarm_controller", "Y1", "2012-01-01", None),
    ("H2", "S3", "intrusion_alarm", "alarm_battery", "Y1", "2012-01-01", None),
    ("H3", "S3", "intrusion_alarm", "intrusion_detector", "Y1", "2024-06-01", None),
    ("K1", "S5", "video_surveillance", "ccd_camera", "Z5", "2024-01-01", None),
    ("L1", "S6", "video_surveillance", "ccd_camera", "Z6", "2024-01-01", None),
]

FAULTS = [
    # fault_id, system_id, device_id, subsystem, occurred, reported, responded, arrived, restored, mode
    ("F1", "S1", "D3", None, "2025-03-01 08:00", "2025-03-01 08:00", "2025-03-01 08:30",
     "2025-03-01 12:00", "2025-03-01 16:00", "onsite"),          # exactly 0.5 / 4 / 8 h
    ("F2", "S1", "D1", None, "2025-03-10 00:00", "2025-03-10 01:00", "2025-03-10 01:31",
     None, "2025-03-10 09:00", "remote"),                          # 8 h from the report, 9 h from occurrence
    ("F3", "S1", "D1", None, "2025-04-01 00:00", None, "2025-04-01 00:10",
     "2025-04-01 04:01", "2025-04-01 08:01", "onsite"),            # arrival and repair one minute late
    ("F4", "S1", "D1", None, "2025-05-01 00:00", None, None, None, None, "onsite"),  # open
    ("F5", "S1", "D5", None, "2025-06-30 23:45", "2025-06-30 23:45", None, None, None, None),  # open, pending
    ("F6", "S1", "D2", None, "2024-06-01 00:00", None, None, None, "2024-06-02 00:00", "onsite"),  # before window
    ("F7", "S1", None, "network", "2025-02-01 10:00", "2025-02-01 10:00", None, None,
     "2025-02-01 12:00", "phone"),                                 # no device; response unrecorded
    ("F8", "S1", "D3", None, "2025-03-01 10:00", None, None, None, "2025-03-01 18:00", None),  # overlaps F1
    ("F9", "S1", "D2", None, "2025-05-31 00:00", None, None, None, "2025-06-02 00:00", "remote"),
    ("G1", "S2", "E1", None, "2025-04-01 00:00", "2025-04-01 00:00", "2025-04-01 00:45", None,
     "2025-04-01 05:00", "remote"),                                # 0.75 h > 0.5 h; 5 h > 4 h (system limit)
    ("J1", "S6", "L1", None, "2025-06-30 20:00", "2025-06-30 20:00", "2025-06-30 20:10", None, None, "remote"),
]

MAINTENANCE = [
    # maintenance_id, system_id, subsystem, kind, started, ended, report_issued
    ("M1", "S1", None, "periodic", "2023-07-01 09:00", "2023-07-01 12:00", True),
    ("M2", "S1", None, "periodic", "2024-06-30 09:00", "2024-06-30 12:00", True),
    ("M3", "S1", None, "periodic", "2024-12-29 10:00", "2024-12-29 12:00", True),   # 182 days after M2
    ("M4", "S1", "video_surveillance", "per_call", "2025-03-05 09:00", "2025-03-05 10:00", None),
    ("M5", "S1", None, "periodic", "2025-06-30 08:00", None, False),                  # 183 days after M3
    ("N1", "S3", None, "periodic", "2025-04-01 09:00", "2025-04-01 11:00", True),
    ("P0", "S5", None, "periodic", "2024-12-01 09:00", "2024-12-01 11:00", True),     # history since 2024-12
    ("P1", "S5", None, "periodic", "2025-06-01 09:00", "2025-06-01 11:00", True),
    ("Q0", "S6", None, "periodic", "2024-12-01 09:00", "2024-12-01 11:00", True),     # history since 2024-12
    ("Q1", "S6", None, "periodic", "2025-06-01 00:00", None, True),
]

ALARMS = [
    # alarm_id, system_id, raised_at, handled_at, status, close_reason
    ("A1", "S1", "2025-05-01 10:00", "2025-05-01 10:01", "closed", "false_alarm"),
    ("A2", "S1", "2025-05-02 10:00", "2025-05-02 10:01", "closed", "false_alarm"),
    ("A3", "S1", "2025-05-03 10:00", "2025-05-03 10:01", "closed", "handled"),
    ("A4", "S1", "2025-05-04 10:00", "2025-05-04 10:01", "closed", "handled"),
    ("A5", "S1", "2025-05-05 10:00", "2025-05-05 10:01", "closed", "handled"),
    ("A6", "S1", "2025-05-06 10:00", None, "expired", None),
    ("A7", "S1", "2025-06-30 23:00", None, "new", None),          # recent: not stale
    ("A8", "S1", "2025-06-01 10:00", None, "new", None),          # stale: never taken in hand
    ("A9", "S1", "2025-06-02 10:00", "2025-06-02 10:05", "in_progress", None),
    ("A10", "S1", "2025-06-03 10:00", "2025-06-03 10:05", "in_progress", None),
    ("A0", "S1", "2024-01-01 10:00", None, "expired", None),      # before the window
]


def _ts(v):
    return None if v is None else dt.datetime.fromisoformat(v)


def _d(v):
    return None if v is None else dt.date.fromisoformat(v)


def load(con) -> None:
    """Insert the fixture into an opeval store (a ``db.connect`` connection)."""
    load_rows(con, SYSTEMS, DEVICES, FAULTS, MAINTENANCE, ALARMS)


def load_rows(con, systems=(), devices=(), faults=(), maintenance=(), alarms=()) -> None:
    """Insert hand-made rows, each in the tuple layout of the lists above (empty lists are skipped)."""
    def insert(sql, rows):
        if rows:
            con.executemany(sql, rows)
    insert(
        "INSERT INTO systems (system_id, name, site, risk_level, accepted_on, warranty_months, "
        "maintenance_cycle_days, sla_response_h, sla_arrival_h, sla_repair_h) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(s, n, site, r, _d(a), w, c, rs, ar, rp) for s, n, site, r, a, w, c, rs, ar, rp in systems])
    insert(
        "INSERT INTO devices (device_id, system_id, subsystem, device_type, zone, installed_on, "
        "decommissioned_on) VALUES (?,?,?,?,?,?,?)",
        [(d, s, sub, t, z, _d(i), _d(x)) for d, s, sub, t, z, i, x in devices])
    insert(
        "INSERT INTO faults (fault_id, system_id, device_id, subsystem, occurred_at, reported_at, "
        "responded_at, arrived_at, restored_at, repair_mode) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(f, s, d, sub, _ts(o), _ts(r), _ts(rs), _ts(a), _ts(x), m)
         for f, s, d, sub, o, r, rs, a, x, m in faults])
    insert(
        "INSERT INTO maintenance (maintenance_id, system_id, subsystem, kind, started_at, ended_at, "
        "report_issued) VALUES (?,?,?,?,?,?,?)",
        [(m, s, sub, k, _ts(a), _ts(b), r) for m, s, sub, k, a, b, r in maintenance])
    insert(
        "INSERT INTO alarms (alarm_id, system_id, definition, resource_id, raised_at, handled_at, status, "
        "close_reason, closed_at) VALUES (?,?,?,?,?,?,?,?,?)",
        [(a, s, "intrusion", "D3", _ts(r), _ts(h), st, cr, _ts(h) if st == "closed" else None)
         for a, s, r, h, st, cr in alarms])
