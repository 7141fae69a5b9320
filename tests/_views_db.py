"""A small hand-made database for the dashboard tests (unit and browser).

Three loads through the real ingest, with bad rows so the quarantine is not
empty, plus one load of e-Intervention answers written straight into the
``messages`` table. Every number the tests assert is worked out here by hand.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import load_csv_texts
from evaluation.store import db

SYSTEMS_CSV = """system_id,name,risk_level
S1,North gate,1
S2,Depot,2
S3,Bad risk,9
,No identifier,1
"""
# S3: risk_level 9 is outside 1..3; line 5: system_id is required -> 2 accepted, 2 quarantined.

DEVICES_CSV = """device_id,system_id,subsystem
D1,S1,video_surveillance
D2,S1,intrusion_alarm
D3,S2,teleportation
"""
# D3: subsystem not in the enumeration -> 2 accepted, 1 quarantined.

PMS_CSV = """pm_id,oi_code,lines
PM1,OI01,120
PM2,OI01,80
PM3,oi-1,10
"""
# PM3: oi_code must be 4 characters [0-9A-Z] -> 2 accepted, 1 quarantined.

# (line, message, code_reponse, libelle_reponse, description_reponse)
MESSAGES = [
    (1, "M1", 0, "OK", None),
    (2, "M1", 0, "OK", None),
    (3, "M1", 1, "CHAMPS_NON_RENSEIGNE", "Code_OI is missing"),
    (4, "M3", 0, "OK", None),
    (5, "M3", 4, "PM_INCONNU", "PM PM9 is not a known PM"),
    (6, "M5", 0, "OK", None),
    (7, "M5", 3, "REF_INTERV_OI_INCONNUE", "Ref_Interv_OI OI01-999 is unknown"),
]

EXPECTED = {
    "rows": {"systems": 2, "devices": 2, "pms": 2, "load_log": 4, "quarantine": 4,
             "messages": 7},
    # load ids in order: 1 systems, 2 devices, 3 pms, 4 messages
    "quarantine_by_load": {1: 2, 2: 1, 3: 1},
    "quarantine_by_kind": {"systems": 2, "devices": 1, "pms": 1},
    # answers per (message, code): M1 0->2, 1->1; M3 0->1, 4->1; M5 0->1, 3->1
    "answers": {("M1", 0): 2, ("M1", 1): 1, ("M3", 0): 1, ("M3", 4): 1,
                ("M5", 0): 1, ("M5", 3): 1},
    "ko": 3,
}


def build(path: Path, workdir: Path) -> dict:
    """Create the database at ``path`` (CSV files are written in ``workdir``)."""
    con = db.connect(path)
    try:
        load_csv_texts(con, workdir, {"systems": SYSTEMS_CSV, "devices": DEVICES_CSV,
                                      "pms": PMS_CSV}, strict=False)  # some rows quarantine
        add_messages(con, MESSAGES)
    finally:
        con.close()
    return EXPECTED


def add_messages(con, rows) -> int:
    """One load of answered messages, recorded in load_log like any other load."""
    load_id = con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
    t0 = dt.datetime(2026, 3, 2, 8, 0)
    con.execute("INSERT INTO load_log VALUES (?, 0, 'messages', 'messages.ndjson', ?, ?, "
                "'applied', false, ?, ?, 0, ?, 0, 0, NULL)",
                [load_id, t0, t0, len(rows), len(rows), len(rows)])
    for line, message, code, label, description in rows:
        con.execute("INSERT INTO messages VALUES (?, 0, ?, ?, ?, 'DO01', ?, NULL, NULL, ?, ?, ?, ?, "
                    "'{}')",
                    [load_id, line, message, t0 + dt.timedelta(minutes=line), f"DO-REF-{line}",
                     code, label, description, "stored" if code == 0 else "rejected"])
    return load_id
