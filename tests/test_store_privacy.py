"""Retention purge, erasure of a PTO, pseudonyms and the audit log."""
from __future__ import annotations

import datetime as dt
import json

from evaluation.store import privacy
from evaluation.store.ingest import ingest


def write(path, text):
    path.write_text(text.lstrip("\n"))
    return path


def fill(con, tmp_path):
    """Two interventions at FI-1 (one in 2023, one in 2024), their targets, reports, cuts."""
    ingest(con, "pms", [write(tmp_path / "p.csv", "pm_id,oi_code\nFI-1,OI01\n")])
    ingest(con, "interventions", [write(tmp_path / "i.csv", """
ref_interv_oi,code_oi,pm_id,started_at,ended_at
OLD,OI01,FI-1,2023-05-01T09:00:00,2023-05-01T10:00:00
NEW,OI01,FI-1,2024-05-01T09:00:00,
""")])
    ingest(con, "intervention_targets", [write(tmp_path / "t.csv", """
ref_interv_oi,nature,pto
OLD,racc,FI-1111-0001
NEW,sav,FI-1111-0001
NEW,sav,FI-1111-00012
""")])
    ingest(con, "outage_reports", [write(tmp_path / "r.csv", """
ref_interv_oi,code_oc,clients_hs
OLD,OC01,1
NEW,OC01,0
""")])
    ingest(con, "outages", [write(tmp_path / "o.csv", """
code_oc,pm_id,pto,cut_at,restored_at,ref_interv_oi
OC01,FI-1,FI-2222-0001,2023-05-01T09:30:00,,OLD
OC01,FI-1,FI-1111-0001,2023-06-01T00:00:00,2023-06-01T01:00:00,
OC01,FI-1,FI-1111-0001,2024-06-01T00:00:00,,
""")])
    con.execute("""INSERT INTO messages (load_id, line, message, received_at, code_reponse,
        libelle_reponse, effect, body) VALUES
        (99, 1, 'M1', '2023-05-01 09:01:00', 0, 'OK', 'inserted',
         '{"PTO": "FI-1111-0001", "other": "FI-1111-00012"}'),
        (99, 2, 'M1', '2024-05-01 09:01:00', 0, 'OK', 'inserted', '{"PTO": "FI-1111-00012"}')""")


def count(con, table):
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_purge_deletes_what_ended_before_the_date_with_its_dependants(con, tmp_path):
    fill(con, tmp_path)
    before = dt.date(2024, 1, 1)
    dry = privacy.purge(con, before, dry_run=True)
    assert count(con, "interventions") == 2 and count(con, "audit_log") == 0
    counts = privacy.purge(con, before)
    assert counts == dry
    # OLD intervention (ended 2023) + its target, its report, its M5 cut; the 2023
    # supervision cut; the 2023 message. NEW (open, 2024) and its rows stay.
    assert {t: n for t, n in counts.items() if n} == {
        "interventions": 1, "intervention_targets": 1, "outage_reports": 1, "outages": 2,
        "messages": 1}
    assert con.execute("SELECT ref_interv_oi FROM interventions").fetchall() == [("NEW",)]
    assert count(con, "outages") == 1 and count(con, "intervention_targets") == 2
    (action, subject, details, rows), = con.execute(
        "SELECT action, subject, details, rows_affected FROM audit_log").fetchall()
    assert (action, subject, rows) == ("purge", "before 2024-01-01", 6)
    assert json.loads(details)["interventions"] == 1


def test_erase_replaces_the_pto_everywhere_by_one_token(con, tmp_path):
    fill(con, tmp_path)
    counts = privacy.erase_pto(con, "FI-1111-0001")
    # 2 cuts, 2 targets, 1 message body; FI-1111-00012 is another line and stays.
    assert {t: n for t, n in counts.items() if n} == {
        "outages": 2, "intervention_targets": 2, "messages": 1}
    tokens = {r[0] for r in con.execute(
        "SELECT pto FROM outages WHERE pto LIKE 'ERASED-%' UNION "
        "SELECT pto FROM intervention_targets WHERE pto LIKE 'ERASED-%'").fetchall()}
    assert len(tokens) == 1
    token, = tokens
    body = con.execute("SELECT body FROM messages WHERE line = 1").fetchall()[0][0]
    assert json.loads(body) == {"PTO": token, "other": "FI-1111-00012"}
    assert con.execute("SELECT count(*) FROM intervention_targets WHERE pto = 'FI-1111-00012'"
                       ).fetchall()[0][0] == 1
    for table, column in (("outages", "pto"), ("intervention_targets", "pto"), ("messages", "body")):
        assert con.execute(f"SELECT count(*) FROM {table} WHERE {column} = 'FI-1111-0001' "
                           f"OR contains({column}, '\"FI-1111-0001\"')").fetchall()[0][0] == 0
    action, subject = con.execute("SELECT action, subject FROM audit_log").fetchall()[0]
    assert action == "erase_pto" and subject.startswith("PTO-") and "1111" not in subject
    assert subject == privacy.pseudonym("FI-1111-0001", privacy.pseudonym_key(con), "PTO")


def test_pseudonyms_are_stable_per_key_and_differ_across_keys():
    a, b = bytes(32), bytes([1]) * 32
    assert privacy.pseudonym("FI-1", a) == privacy.pseudonym("FI-1", a)
    assert privacy.pseudonym("FI-1", a) != privacy.pseudonym("FI-2", a)
    assert privacy.pseudonym("FI-1", a) != privacy.pseudonym("FI-1", b)


def test_cli_purge_erase_audit(run_cli, con, tmp_path):
    fill(con, tmp_path)
    con.close()
    code, out, _ = run_cli("purge", "--before", "2024-01-01", "--dry-run")
    assert code == 0 and "would delete 6 rows" in out
    code, out, _ = run_cli("erase", "--pto", "FI-1111-0001")
    assert code == 0 and "erased PTO in 5 rows" in out
    code, out, _ = run_cli("audit")
    assert code == 0 and "erase_pto PTO-" in out and "FI-1111-0001" not in out
    code, _, err = run_cli("purge", "--before", "yesterday")
    assert code == 1 and "expected a date" in err
