"""A small database with planted rows that each role must NOT see (security tests).

Every planted value is a distinctive string; the tests assert it never appears
in what a role receives (page HTML, websocket messages, CSV downloads, scoped
tables). Loaded through the real ingest (CSV), plus messages/quarantine rows.

Who may see what (by construction):

* alarm operator limited to S1: system S1 only; ``LEAK-S2-COMMENT`` (an S2 alarm
  comment), ``LEAK-S2-SYMPTOM`` (an S2 fault) and system ``S2`` must not show;
* OC ``OC01``: its cut ``FI-OC1-LINE`` at PM1; not OC02's cuts ``FI-OC2-LEAK``
  (PM2) and ``FI-OC2-PM1-LEAK`` (PM1), not PM2 (only OC02 is present there), not
  the DO code ``DOXA`` in clear, not the DO's reference ``DOREF-SECRET``, not the
  targeted line ``FI-TARGET-SECRET``, nothing of the security systems;
* analyst: no PTO in clear (``FI-OC1-LINE``, ``FI-OC2-LEAK``, ``FI-TARGET-SECRET``),
  no raw message body (``FI-MSG-SECRET``);
* network operator: no security system rows (``LEAK-S2-COMMENT``, ``S1-NAME-MARK``).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import load_csv_texts
from evaluation.store import db
from evaluation.store.ingest import ingest

XSS_COMMENT = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
XSS_SYMPTOM = '<script>window.__pwned=3</script>symptom'

CSV = {
    "systems": """system_id,name,risk_level,accepted_on
S1,S1-NAME-MARK,1,2023-01-01
S2,S2-HIDDEN-NAME,2,2023-01-01
""",
    "devices": """device_id,system_id,subsystem,device_type,installed_on
D1,S1,video_surveillance,ccd_camera,2023-01-01
D2,S2,intrusion_alarm,intrusion_detector,2023-01-01
""",
    "faults": f"""fault_id,system_id,device_id,subsystem,occurred_at,reported_at,responded_at,arrived_at,restored_at,repair_mode,symptom
F1,S1,D1,video_surveillance,2024-03-01 10:00,2024-03-01 10:05,2024-03-01 10:20,2024-03-01 12:00,2024-03-01 15:00,onsite,"{XSS_SYMPTOM.replace('"', '""')}"
F2,S2,D2,intrusion_alarm,2024-03-02 10:00,2024-03-02 10:05,2024-03-02 10:20,2024-03-02 12:00,2024-03-02 15:00,onsite,LEAK-S2-SYMPTOM
""",
    "alarms": f"""alarm_id,system_id,definition,resource_id,priority,raised_at,cleared_at,handled_at,closed_at,status,close_reason,comment
A1,S1,door_forced,D1,1,2024-03-01 10:00,2024-03-01 10:01,2024-03-01 10:03,2024-03-01 10:10,closed,handled,"{XSS_COMMENT.replace('"', '""')}"
A2,S1,door_forced,D1,2,2024-03-01 11:00,,,,new,,S1 open alarm
A3,S2,motion,D2,1,2024-03-02 10:00,2024-03-02 10:01,2024-03-02 10:03,2024-03-02 10:10,closed,false_alarm,LEAK-S2-COMMENT
""",
    "pms": """pm_id,oi_code,lines,zone
PM1,OI01,100,Z1
PM2,OI01,50,Z2
""",
    "interventions": """ref_interv_oi,ref_interv_do,code_do,code_oi,pm_id,started_at,ended_at,m1_received_at,m3_received_at
I1,DOREF-SECRET,DOXA,OI01,PM1,2024-03-05 09:00,2024-03-05 11:00,2024-03-05 09:01,2024-03-05 11:01
I2,DOREF-OTHER,DOXB,OI01,PM2,2024-03-06 09:00,2024-03-06 11:00,2024-03-06 09:01,2024-03-06 11:01
""",
    "intervention_targets": """ref_interv_oi,nature,pbo,pto
I1,racc,PBO1,FI-TARGET-SECRET
""",
    "outage_reports": """ref_interv_oi,code_oc,received_at,clients_hs
I1,OC01,2024-03-05 12:00,1
I1,OC02,2024-03-05 12:05,1
I2,OC02,2024-03-06 12:00,1
""",
    "outages": """code_oc,pm_id,pto,cut_at,restored_at,ref_interv_oi
OC01,PM1,FI-OC1-LINE,2024-03-05 09:30,2024-03-05 10:30,I1
OC02,PM1,FI-OC2-PM1-LEAK,2024-03-05 09:40,2024-03-05 10:30,I1
OC02,PM2,FI-OC2-LEAK,2024-03-06 09:30,2024-03-06 10:30,I2
""",
}

# Strings each role must never receive.
FORBIDDEN = {
    "alarm_operator": ["LEAK-S2-COMMENT", "LEAK-S2-SYMPTOM", "S2-HIDDEN-NAME", "FI-OC1-LINE",
                       "FI-TARGET-SECRET", "FI-MSG-SECRET", "DOXA"],
    "oc": ["FI-OC2-LEAK", "FI-OC2-PM1-LEAK", "DOXA", "DOREF-SECRET", "FI-TARGET-SECRET",
           "FI-MSG-SECRET", "FI-QUAR-SECRET", "S1-NAME-MARK", "LEAK-S2-COMMENT"],
    "analyst": ["FI-OC1-LINE", "FI-OC2-LEAK", "FI-TARGET-SECRET", "FI-MSG-SECRET",
                "FI-QUAR-SECRET"],
    "network_operator": ["S1-NAME-MARK", "S2-HIDDEN-NAME", "LEAK-S2-COMMENT", "LEAK-S2-SYMPTOM"],
    "risk_manager": ["FI-OC1-LINE", "FI-TARGET-SECRET", "FI-MSG-SECRET", "DOXA"],
}


def build(path: Path, workdir: Path) -> Path:
    con = db.connect(path)
    try:
        load_csv_texts(con, workdir, CSV)
        bad = workdir / "bad_pms.csv"
        bad.write_text("pm_id,oi_code,lines\nPM9,FI-QUAR-SECRET,1\n")
        ingest(con, "pms", [bad])
        t0 = dt.datetime(2024, 3, 5, 9, 1)
        con.execute("INSERT INTO load_log VALUES (99, 0, 'messages', 'm.ndjson', ?, ?, 'applied', "
                    "false, 1, 1, 0, 1, 0, 0, NULL)", [t0, t0])
        con.execute("INSERT INTO messages VALUES (99, 0, 1, 'M1', ?, 'DOXA', 'DOREF-SECRET', NULL, "
                    "'I1', 0, 'OK', NULL, 'stored', ?)",
                    [t0, '{"Nature_PBO_PTO":[{"PTO":"FI-MSG-SECRET"}]}'])
        con.execute("INSERT OR REPLACE INTO meta VALUES ('pseudonym_key', ?)", ["ab" * 32])
    finally:
        con.close()
    return path
