"""End to end: ``opeval ingest messages LOG --responses OUT`` on a temporary database."""
from __future__ import annotations

import json

import duckdb

from conftest import opeval_subprocess
from evaluation.eintervention.rules import make_ref

PMS = "pm_id,oi_code,lines,zone\nFI-00001-0001,OI01,120,north\nFI-00002-0002,OI02,80,south\n"


def m1(ref_do: str, pm: str = "FI-00001-0001", code_oi: str = "OI01", **extra) -> dict:
    body = {"Code_DO": "DO01", "Code_OI": code_oi, "Ref_Interv_DO": ref_do, "PM": pm,
            "Nature_PBO_PTO": [{"nature": 2, "PTO": "FI-1234-5678"}],
            "Debut_Inter": "2024-03-01T08:00:00+01:00", **extra}
    return {"message": "M1", "received_at": "2024-03-01T07:01:00Z", "body": body}


def m3(ref_do: str) -> dict:
    msg = m1(ref_do, Fin_Inter="2024-03-01T09:30:00+01:00")
    msg["message"], msg["received_at"] = "M3", "2024-03-01T08:31:00Z"
    return msg


REF_A = make_ref("OI01", "DO01", "A-1")
LOG = [m1("A-1"), m1("A-1"), "{not json", m3("A-1"),
       {"message": "M5", "received_at": "2024-03-01T20:00:00Z",
        "body": {"Code_OC_impacte": "OC07", "Ref_Interv_OI": REF_A, "Liste_Clients_HS": [
            {"PTO": "FI-9999-0001", "PBO": "PT0000042", "Tube": "inconnu", "Fibre": "inconnu",
             "Position_PM_Module_OI": "inconnu", "HMS_Coupure": "2024-03-01T07:40:00Z"}]}},
       m1("B-1", pm="FI-00002-0002", code_oi="OI02"),
       {"message": "M5", "received_at": "2024-03-01T20:00:00Z",
        "body": {"Code_OC_impacte": "OC07", "Ref_Interv_OI": "OI01-UNKNOWN"}}]


def write(tmp_path, name: str, lines) -> str:
    path = tmp_path / name
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return str(path)


def test_cli_ingest_messages_with_responses(run_cli, tmp_path, db_path):
    pms = tmp_path / "pms.csv"
    pms.write_text(PMS)
    assert run_cli("ingest", "pms", pms)[0] == 0
    log, out = write(tmp_path, "log.ndjson", LOG), tmp_path / "answers.ndjson"
    code, stdout, _ = run_cli("ingest", "messages", log, "--responses", out, "--oi-code", "OI01")
    assert code == 0
    # 7 lines: M1 (inserted), duplicate M1 (unchanged), broken JSON (KO 2), M3 (updated),
    # M5 (inserted), M1 of OI02 which is not ours by --oi-code (KO 3), M5 unknown ref (KO 3)
    # -> accepted 4 = inserted 2 + updated 1 + unchanged 1, quarantined 3, 4 + 3 = 7 read
    assert "read 7, accepted 4 (inserted 2, updated 1, unchanged 1), quarantined 3" in stdout
    answers = [json.loads(x) for x in out.read_text().splitlines()]
    assert [a["line"] for a in answers] == [1, 2, 3, 4, 5, 6, 7]
    assert [(a["Code_Reponse"], a["Libelle_Reponse"]) for a in answers] == [
        (0, "OK"), (0, "OK"), (2, "MAUVAIS_FORMAT"), (0, "OK"), (0, "OK"),
        (3, "CODE_OI_INCONNU"), (3, "REF_INTERV_OI_INCONNUE")]
    assert [a.get("Ref_Interv_OI") for a in answers[:4]] == [REF_A, REF_A, None, REF_A]

    con = duckdb.connect(str(db_path), read_only=True)
    # HD 08:00+01:00 = 07:00 UTC, HF 09:30+01:00 = 08:30 UTC
    assert con.execute("""SELECT ref_interv_oi, pm_id, started_at::VARCHAR, ended_at::VARCHAR
        FROM interventions""").fetchall() == [
        (REF_A, "FI-00001-0001", "2024-03-01 07:00:00", "2024-03-01 08:30:00")]
    assert con.execute("SELECT code_oc, clients_hs FROM outage_reports").fetchall() == [("OC07", 1)]
    assert con.execute("SELECT pto, tube, pm_id FROM outages").fetchall() == [
        ("FI-9999-0001", None, "FI-00001-0001")]
    assert con.execute("""SELECT rows_read, accepted, quarantined, status FROM load_log
        WHERE kind = 'messages'""").fetchall() == [(7, 4, 3, "applied")]
    con.close()

    code, stdout, _ = run_cli("quarantine")
    assert code == 0 and "log.ndjson:3: MAUVAIS_FORMAT: line: not valid JSON" in stdout
    assert "3 quarantined row(s)" in stdout


def test_cli_strict_fails_and_applies_nothing(run_cli, tmp_path, db_path):
    pms = tmp_path / "pms.csv"
    pms.write_text(PMS)
    run_cli("ingest", "pms", pms)
    log, out = write(tmp_path, "log.ndjson", LOG[:3]), tmp_path / "answers.ndjson"
    code, _, err = run_cli("ingest", "messages", log, "--responses", out, "--strict")
    assert code == 1 and "--strict: 1 of 3 messages answered KO, nothing applied" in err
    assert len(out.read_text().splitlines()) == 3
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM interventions").fetchone()[0] == 0
    assert con.execute("SELECT status FROM load_log WHERE kind = 'messages'").fetchall() == [
        ("rejected",)]
    con.close()


def test_cli_bad_arguments_are_one_line_errors(run_cli, tmp_path):
    code, _, err = run_cli("ingest", "messages", tmp_path / "missing.ndjson")
    assert code == 1 and err.strip().endswith("missing.ndjson: no such file")
    log = write(tmp_path, "log.ndjson", LOG[:1])
    code, _, err = run_cli("ingest", "messages", log, "--oi-code", "toolong")
    assert code == 1 and "'toolong' is not an OI code" in err


def test_cli_subprocess_without_responses(tmp_path):
    db = tmp_path / "sub.duckdb"
    pms = tmp_path / "pms.csv"
    pms.write_text(PMS)
    assert opeval_subprocess("--db", db, "ingest", "pms", pms).returncode == 0
    proc = opeval_subprocess("--db", db, "ingest", "messages", write(tmp_path, "l.ndjson", LOG[:2]))
    assert proc.returncode == 0, proc.stderr
    assert "read 2, accepted 2 (inserted 1, updated 0, unchanged 1), quarantined 0" in proc.stdout
    assert proc.stderr == ""     # no progress bar when stderr is not a terminal
