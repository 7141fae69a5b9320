"""Tabular ingest: typing, defaults, quarantine, references, idempotence, transactions."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evaluation.errors import InputError, LoadRejected
from evaluation.store.ingest import ingest


def write(path: Path, text: str) -> Path:
    path.write_text(text.lstrip("\n"))
    return path


def rows(con, sql: str, params=None):
    return con.execute(sql, params or []).fetchall()


def quarantine(con):
    return rows(con, "SELECT line, columns, reason FROM quarantine ORDER BY line")


SYSTEMS = """
system_id,name,risk_level,accepted_on,warranty_months,sla_repair_h,colour
S1,HQ,1,2020-01-01,,4,red
S2,Depot,5,2020-01-01,24,,blue
S3,Store,2,2020-13-01,,,
S4,,,,,x,
"""


def test_systems_types_defaults_and_reasons(con, tmp_path):
    res = ingest(con, "systems", [write(tmp_path / "s.csv", SYSTEMS)])
    f = res.files[0]
    # 4 data rows: S1 good; S2 risk 5 > 3; S3 month 13; S4 sla 'x' not a number.
    assert (f.rows_read, f.accepted, f.quarantined, f.inserted) == (4, 1, 3, 1)
    assert f.ignored_columns == ["colour"]
    assert rows(con, "SELECT system_id, warranty_months, maintenance_cycle_days, sla_response_h, "
                     "sla_repair_h FROM systems") == [("S1", 12, 182, 0.5, 4.0)]
    assert quarantine(con) == [
        (3, "risk_level", "risk_level: 5 outside [1, 3]"),
        (4, "accepted_on", "accepted_on: not an ISO date (YYYY-MM-DD): '2020-13-01'"),
        (5, "sla_repair_h", "sla_repair_h: not a number: 'x'"),
    ]


def test_reload_is_idempotent_and_changes_update(con, tmp_path):
    p = write(tmp_path / "s.csv", "system_id,name\nA,one\nB,two\n")
    assert ingest(con, "systems", [p]).files[0].inserted == 2
    again = ingest(con, "systems", [p]).files[0]
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    write(p, "system_id,name\nA,one\nB,TWO\nC,three\n")
    third = ingest(con, "systems", [p]).files[0]
    assert (third.inserted, third.updated, third.unchanged) == (1, 1, 1)
    assert rows(con, "SELECT system_id, name FROM systems ORDER BY 1") == [
        ("A", "one"), ("B", "TWO"), ("C", "three")]


def test_references_and_owner(con, tmp_path):
    ingest(con, "systems", [write(tmp_path / "s.csv", "system_id\nS1\nS2\n")])
    ingest(con, "devices", [write(tmp_path / "d.csv", """
device_id,system_id,subsystem
D1,S1,video_surveillance
D2,S9,video_surveillance
D3,S2,INTRUSION_ALARM
""")])
    assert rows(con, "SELECT device_id, subsystem FROM devices ORDER BY 1") == [
        ("D1", "video_surveillance"), ("D3", "intrusion_alarm")]
    assert quarantine(con) == [(3, "system_id", "system_id: unknown systems 'S9'")]
    res = ingest(con, "faults", [write(tmp_path / "f.csv", """
fault_id,system_id,device_id,occurred_at,restored_at
F1,S1,D1,2024-01-01T10:00:00Z,2024-01-01T18:00:00Z
F2,S2,D1,2024-01-01T10:00:00,
F3,S1,D1,2024-01-01T10:00:00,2024-01-01T09:00:00
F4,S1,D7,2024-01-01 10:00,
""")])
    assert res.files[0].accepted == 1
    reasons = [r for _, _, r in rows(con, "SELECT line, columns, reason FROM quarantine "
                                          "WHERE kind = 'faults' ORDER BY line")]
    assert reasons == ["device_id: 'D1' belongs to system_id S1",
                       "restored_at: restored before it occurred",
                       "device_id: unknown devices 'D7'"]


def test_times_are_stored_in_utc(con, tmp_path):
    ingest(con, "systems", [write(tmp_path / "s.csv", "system_id\nS1\n")])
    ingest(con, "maintenance", [write(tmp_path / "m.csv", """
maintenance_id,system_id,kind,started_at,ended_at,report_issued
M1,S1,periodic,2024-03-01T10:00:00+02:00,2024-03-01T12:30:00Z,yes
M2,S1,Periodic,2024-03-02 08:00:00,,0
""")])
    assert rows(con, "SELECT maintenance_id, kind, started_at::VARCHAR, ended_at::VARCHAR, "
                     "report_issued FROM maintenance ORDER BY 1") == [
        ("M1", "periodic", "2024-03-01 08:00:00", "2024-03-01 12:30:00", True),
        ("M2", "periodic", "2024-03-02 08:00:00", None, False)]


def test_duplicate_keys_within_a_load(con, tmp_path):
    p = write(tmp_path / "s.csv", "system_id,name\nA,x\nA,x\nB,old\nB,new\n")
    f = ingest(con, "systems", [p]).files[0]
    # A twice identical: one inserted + one unchanged; B: earlier row quarantined.
    assert (f.rows_read, f.inserted, f.unchanged, f.quarantined) == (4, 2, 1, 1)
    assert rows(con, "SELECT name FROM systems WHERE system_id = 'B'") == [("new",)]
    (line, cols, reason), = quarantine(con)
    assert (line, cols) == (4, "system_id")
    assert "line 5" in reason


def test_same_rows_from_csv_parquet_and_ndjson(tmp_path):
    frame = pd.DataFrame({"pm_id": ["FI-1", "FI-2"], "oi_code": ["OI01", "OI01"],
                          "lines": [10, None], "zone": ["N", None]})
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.to_parquet(tmp_path / "p.parquet")
    (tmp_path / "p.ndjson").write_text(
        "\n".join(json.dumps({k: v for k, v in r.items() if pd.notna(v)})
                  for r in frame.to_dict("records")) + "\n")
    got = []
    for name in ("p.csv", "p.parquet", "p.ndjson"):
        from evaluation.store import db
        c = db.connect(tmp_path / f"{name}.duckdb")
        res = ingest(c, "pms", [tmp_path / name])
        assert res.files[0].accepted == 2 and res.files[0].quarantined == 0
        got.append(rows(c, "SELECT * FROM pms ORDER BY pm_id"))
        c.close()
    assert got[0] == got[1] == got[2] == [("FI-1", "OI01", 10, "N"), ("FI-2", "OI01", None, None)]


def test_broken_lines_are_quarantined_with_their_line(con, tmp_path):
    ingest(con, "pms", [write(tmp_path / "p.ndjson",
                              '{"pm_id":"FI-1","oi_code":"OI01"}\n'
                              '\n'
                              '{"pm_id":"FI-2",\n'
                              '[1,2]\n'
                              '{"pm_id":"FI-3","oi_code":"oi1"}\n'
                              '{"pm_id":"FI-4","oi_code":"OI01","lines":{"a":1}}\n')])
    assert rows(con, "SELECT pm_id FROM pms") == [("FI-1",)]
    assert [(line, r) for line, _, r in quarantine(con)] == [
        (3, "not valid JSON"), (4, "not a JSON object"),
        (5, "oi_code: not matching [0-9A-Z]{4}: 'oi1'"),
        (6, "lines: an object, not a single value")]
    ingest(con, "pms", [write(tmp_path / "p.csv", "pm_id,oi_code\nFI-5,OI01\nFI-6\nFI-7,OI01,x\nFI-8,OI01\n")])
    assert rows(con, "SELECT pm_id FROM pms ORDER BY 1") == [("FI-1",), ("FI-5",), ("FI-8",)]
    csv_q = rows(con, "SELECT line, reason FROM quarantine WHERE source_file LIKE '%.csv' ORDER BY line")
    assert [line for line, _ in csv_q] == [3, 4]
    assert csv_q[0][1].startswith("MISSING COLUMNS") and csv_q[1][1].startswith("TOO MANY COLUMNS")
    total = rows(con, "SELECT sum(rows_read), sum(accepted), sum(quarantined) FROM load_log")
    assert total == [(9, 3, 6)]


def test_nullable_natural_key_reload(con, tmp_path):
    ingest(con, "pms", [write(tmp_path / "p.csv", "pm_id,oi_code\nFI-1,OI01\n")])
    p = write(tmp_path / "o.csv", """
code_oc,pm_id,pto,cut_at,cause
OC01,FI-1,,2024-01-01T10:00:00,power
OC01,FI-1,PTO-1,2024-01-01T10:00:00,
""")
    assert ingest(con, "outages", [p]).files[0].inserted == 2
    f = ingest(con, "outages", [p]).files[0]
    assert (f.inserted, f.updated, f.unchanged) == (0, 0, 2)
    write(p, "code_oc,pm_id,pto,cut_at,cause\nOC01,FI-1,,2024-01-01T10:00:00,other\n")
    f = ingest(con, "outages", [p]).files[0]
    assert (f.inserted, f.updated) == (0, 1)
    assert rows(con, "SELECT pto, cause FROM outages ORDER BY pto NULLS FIRST") == [
        (None, "other"), ("PTO-1", None)]


def test_strict_rolls_back_and_records(con, tmp_path):
    p = write(tmp_path / "s.csv", "system_id,risk_level\nA,1\nB,9\n")
    with pytest.raises(LoadRejected, match="1 of 2 rows rejected"):
        ingest(con, "systems", [p], strict=True)
    assert rows(con, "SELECT count(*) FROM systems") == [(0,)]
    assert rows(con, "SELECT status, rows_read, accepted, quarantined FROM load_log") == [
        ("rejected", 2, 0, 1)]
    assert len(quarantine(con)) == 1


def test_several_files_are_one_load(con, tmp_path):
    a = write(tmp_path / "a.csv", "system_id\nA\n")
    b = write(tmp_path / "b.csv", "system_id,risk_level\nB,7\n")
    with pytest.raises(LoadRejected):
        ingest(con, "systems", [a, b], strict=True)
    assert rows(con, "SELECT count(*) FROM systems") == [(0,)]
    res = ingest(con, "systems", [a, b])
    assert [(f.inserted, f.quarantined) for f in res.files] == [(1, 0), (0, 1)]
    assert rows(con, "SELECT file_index, source LIKE '%b.csv' FROM load_log "
                     "WHERE load_id = ? ORDER BY 1", [res.load_id]) == [(0, False), (1, True)]


def test_unreadable_inputs_are_clean_errors(con, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        ingest(con, "systems", [tmp_path / "missing.csv"])
    with pytest.raises(InputError, match="unknown file type"):
        ingest(con, "systems", [write(tmp_path / "x.xlsx", "a")])
    with pytest.raises(InputError, match="missing required column"):
        ingest(con, "devices", [write(tmp_path / "d.csv", "device_id,subsystem\nD1,other\n")])
    with pytest.raises(InputError, match="cannot read as parquet"):
        ingest(con, "systems", [write(tmp_path / "bad.parquet", "not parquet")])
    assert rows(con, "SELECT count(*) FROM load_log") == [(0,)]


def test_cli_ingest_reports_and_exit_codes(run_cli, tmp_path):
    good = write(tmp_path / "s.csv", "system_id,risk_level\nA,1\nB,9\n")
    code, out, err = run_cli("ingest", "systems", good)
    assert code == 0 and "read 2, accepted 1" in out and "quarantined 1" in out
    code, out, err = run_cli("ingest", "systems", good, "--strict")
    assert code == 1 and err.startswith("opeval: error: --strict: 1 of 2 rows rejected")
    assert len(err.strip().splitlines()) == 1
    code, out, err = run_cli("quarantine")
    assert code == 0 and "risk_level: 9 outside [1, 3]" in out
    code, out, err = run_cli("ingest", "systems", tmp_path / "nope.csv")
    assert code == 1 and "no such file" in err and len(err.strip().splitlines()) == 1


def test_a_cut_from_m5_and_from_supervision_are_two_rows(con, tmp_path):
    ingest(con, "pms", [write(tmp_path / "p.csv", "pm_id,oi_code\nFI-1,OI01\n")])
    ingest(con, "interventions", [write(tmp_path / "i.csv", """
ref_interv_oi,code_oi,pm_id,started_at,ended_at
R1,OI01,FI-1,2024-01-01T09:00:00,2024-01-01T11:00:00
""")])
    m5 = write(tmp_path / "m5.csv", "code_oc,pm_id,pto,cut_at,ref_interv_oi\n"
                                    "OC01,FI-1,PTO-1,2024-01-01T10:00:00,R1\n")
    sup = write(tmp_path / "sup.csv", "code_oc,pm_id,pto,cut_at,restored_at\n"
                                      "OC01,FI-1,PTO-1,2024-01-01T10:00:00,2024-01-01T12:00:00\n")
    ingest(con, "outages", [m5])
    f = ingest(con, "outages", [sup]).files[0]
    assert (f.inserted, f.updated) == (1, 0)
    assert rows(con, "SELECT ref_interv_oi, restored_at IS NOT NULL FROM outages "
                     "ORDER BY ref_interv_oi NULLS LAST") == [("R1", False), (None, True)]
