"""The OI rules on reception and the load of a message log (evaluation.eintervention)."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.eintervention.fields import LIBELLES_DO, LIBELLES_M5
from evaluation.eintervention.reception import ingest_messages
from evaluation.eintervention.rules import make_ref
from evaluation.errors import LoadRejected, OpevalError
from evaluation.store import db

T = dt.datetime
PM1, PM2, PM_OTHER = "FI-00001-0001", "FI-00002-0002", "FI-00009-0009"


@pytest.fixture
def store(con):
    """A store with two PMs of OI01 and one PM of OI02."""
    con.execute(f"""INSERT INTO pms VALUES ('{PM1}', 'OI01', 100, NULL),
        ('{PM2}', 'OI01', 50, NULL), ('{PM_OTHER}', 'OI02', 10, NULL)""")
    return con


def body(**changes) -> dict:
    b = {"Code_DO": "DO01", "Code_OI": "OI01", "Ref_Interv_DO": "INT-1", "PM": PM1,
         "Nature_PBO_PTO": [{"nature": 1, "PBO": "PT0000001", "PTO": "FI-1111-2222"}],
         "Debut_Inter": "2024-01-31T10:00:00Z"}
    b.update(changes)
    return {k: v for k, v in b.items() if v is not ...}


def M1(at="2024-01-31T10:00:30Z", **changes) -> dict:
    return {"message": "M1", "received_at": at, "body": body(**changes)}


def M3(at="2024-01-31T11:00:30Z", **changes) -> dict:
    changes.setdefault("Fin_Inter", "2024-01-31T11:00:00Z")
    return {"message": "M3", "received_at": at, "body": body(**changes)}


def M5(ref, clients=None, oc="OC01", at="2024-01-31T11:30:00Z") -> dict:
    b = {"Code_OC_impacte": oc, "Ref_Interv_OI": ref}
    if clients is not None:
        b["Liste_Clients_HS"] = clients
    return {"message": "M5", "received_at": at, "body": b}


def client(pto="FI-3333-0001", cut="2024-01-31T10:20:00Z", **changes) -> dict:
    c = {"PTO": pto, "PBO": "PT0000007", "Tube": "2", "Fibre": "5",
         "Position_PM_Module_OI": "M3-P12", "HMS_Coupure": cut}
    c.update(changes)
    return c


REF1 = make_ref("OI01", "DO01", "INT-1")


def receive(con, tmp_path, *lines, name="log.ndjson", **kw):
    """Write ``lines`` (dicts as JSON, str as is) to a log, load it; return (result, answers)."""
    path = tmp_path / name
    path.write_text("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines))
    out = tmp_path / (name + ".answers")
    result = ingest_messages(con, [path], responses=out, progress=False, **kw)
    answers = [json.loads(x) for x in out.read_text().splitlines()]
    return result, answers


def codes(answers) -> list[int]:
    return [a["Code_Reponse"] for a in answers]


def interventions(con) -> list[tuple]:
    return con.execute("""SELECT ref_interv_oi, code_do, ref_interv_do, code_oi, pm_id, started_at,
        ended_at, m1_received_at, m3_received_at FROM interventions ORDER BY 1""").fetchall()


def targets(con) -> list[tuple]:
    return con.execute("SELECT nature, pbo, pto FROM intervention_targets ORDER BY ALL").fetchall()


# ---------------------------------------------------------------- M1 / M3 codes 0-4

def test_m1_ok_creates_the_intervention_with_a_deterministic_reference(store, tmp_path):
    result, [a] = receive(store, tmp_path, M1())
    assert a == {"line": 1, "message": "M1", "Code_Reponse": 0, "Libelle_Reponse": "OK",
                 "Description_Reponse": "intervention created", "Ref_Interv_OI": REF1,
                 "effect": "inserted"}
    assert re.fullmatch(r"[0-9A-Z_-]{1,50}", REF1) and REF1.startswith("OI01-")
    assert interventions(store) == [(REF1, "DO01", "INT-1", "OI01", PM1, T(2024, 1, 31, 10),
                                     None, T(2024, 1, 31, 10, 0, 30), None)]
    assert targets(store) == [("racc", "PT0000001", "FI-1111-2222")]
    assert (result.total("inserted"), result.total("quarantined")) == (1, 0)


@pytest.mark.parametrize("message, code, description", [
    (M1(Code_DO=...), 1, "Code_DO: missing"),
    (M1(PM=""), 1, "PM: missing"),
    (M1(Nature_PBO_PTO=[]), 1, "Nature_PBO_PTO: empty list"),
    (M3(Fin_Inter=None), 1, "Fin_Inter: missing"),
    (M1(Code_DO="do01"), 2, "Code_DO: 'do01' is not 4 chars [0-9A-Z]"),
    (M1(Code_OI="OI1"), 2, "Code_OI: 'OI1' is not 4 chars [0-9A-Z]"),
    (M1(Ref_Interv_DO="R" * 51), 2, "Ref_Interv_DO: 'RRRRRRRRRRRRRRRRRRR…' longer than 50 chars"),
    (M1(Debut_Inter="31/01/2024"), 2, "Debut_Inter: '31/01/2024' not an ISO 8601 date-time"),
    (M1(Nature_PBO_PTO=[{"nature": 3}]), 2, "Nature_PBO_PTO[0].nature: 3 AUCUNE ACTION only in M3"),
    (M1(Fin_Inter="2024-01-31T11:00:00Z"), 2, "Fin_Inter: must be null in M1"),
    (M3(Fin_Inter="2024-01-31T09:00:00Z"), 2, "Fin_Inter: before Debut_Inter"),
    (M1(Code_OI="OI02", PM=PM_OTHER), 3, "Code_OI: 'OI02' is not an OI of this database"),
    (M1(Code_OI="ZZ99", PM="FI-99999-9999"), 3, "Code_OI: 'ZZ99' is not an OI of this database"),
    # spec §6 MAUVAIS_OI: the message is about this network (its PM is ours) but names
    # another OI — the DO reached the wrong OI, or wrote the wrong code
    (M3(Code_OI="ZZ99"), 5, f"Code_OI: 'ZZ99' is not this OI; PM {PM1} belongs to OI01"),
    (M1(PM="FI-99999-9999"), 4, "PM: 'FI-99999-9999' unknown for Code_OI OI01"),
    # a PM of another OI is unknown to this one
    (M1(PM=PM_OTHER), 4, f"PM: '{PM_OTHER}' unknown for Code_OI OI01"),
])
def test_m1_m3_ko_answers(store, tmp_path, message, code, description):
    # OI codes from --oi-code: only OI01 is ours (OI02 has a PM loaded, but is not ours)
    result, [a] = receive(store, tmp_path, message, oi_codes=["OI01"])
    assert a["Code_Reponse"] == code
    assert a["Libelle_Reponse"] == LIBELLES_DO[code]
    assert a["Description_Reponse"] == description
    assert "Ref_Interv_OI" not in a and a["effect"] == "rejected"
    assert interventions(store) == [] and targets(store) == []
    assert (result.total("rows_read"), result.total("quarantined")) == (1, 1)


@pytest.mark.parametrize("message, code, named", [
    (M1(Code_DO=..., Code_OI="bad", PM="FI-99999-9999"), 1, "Code_DO"),   # 1 before 2, 4
    (M1(Code_OI="bad!", Debut_Inter="x"), 2, "Code_OI"),                  # 2 before 3
    (M1(Code_OI="ZZ99", PM="FI-99999-9999"), 3, "Code_OI"),               # 3 before 4
    ({"message": "M1", "body": body(Code_DO="x")}, 1, "received_at"),    # envelope counts too
])
def test_precedence_1_then_2_then_3_then_4(store, tmp_path, message, code, named):
    _, [a] = receive(store, tmp_path, message)
    assert a["Code_Reponse"] == code and a["Description_Reponse"].startswith(named + ":")


def test_description_of_a_message_with_many_faults_fits_100_chars(store, tmp_path):
    _, [a] = receive(store, tmp_path, {"message": "M3", "received_at": "2024-01-31T10:00:00Z",
                                       "body": {"Nature_PBO_PTO": [{}, {}, {}]}})
    assert a["Code_Reponse"] == 1 and len(a["Description_Reponse"]) <= 100
    assert a["Description_Reponse"].startswith("Code_DO: missing; Code_OI: missing")
    row = store.execute("SELECT columns, reason FROM quarantine").fetchone()
    # the quarantine keeps every fault, untruncated: Code_DO, Code_OI, Ref_Interv_DO, PM,
    # Debut_Inter, Fin_Inter (6) + the 3 natures = 9
    assert row[1].count("missing") == 9 and "Nature_PBO_PTO[2].nature: missing" in row[1]


# ---------------------------------------------------------------- envelope problems

def test_broken_lines_amid_good_ones_get_their_own_answer(store, tmp_path):
    lines = [M1(), '{"message": "M1", "received_at"', "[1, 2, 3]", "",
             {"message": "M4", "received_at": "2024-01-31T10:00:00Z", "body": {}},
             {"message": "M1", "body": body(Ref_Interv_DO="INT-2")},
             {"message": "M1", "received_at": "hier", "body": body(Ref_Interv_DO="INT-2")},
             M1(Ref_Interv_DO="INT-3")]
    result, answers = receive(store, tmp_path, *lines)
    assert [a["line"] for a in answers] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert codes(answers) == [0, 2, 2, 1, 2, 1, 2, 0]
    assert [a["Description_Reponse"].split(":")[0] for a in answers[1:7]] == [
        "line", "line", "line", "message", "received_at", "received_at"]
    assert len(interventions(store)) == 2
    assert (result.total("rows_read"), result.total("accepted"), result.total("quarantined")) == (8, 2, 6)


def test_non_utf8_line_is_answered(store, tmp_path):
    path = tmp_path / "log.ndjson"
    path.write_bytes(json.dumps(M1()).encode() + b"\n\xff\xfe garbage\n")
    out = tmp_path / "a.ndjson"
    ingest_messages(store, [path], responses=out)
    answers = [json.loads(x) for x in out.read_text().splitlines()]
    assert codes(answers) == [0, 2]
    assert answers[1]["Description_Reponse"] == "line: not UTF-8 text"


# ---------------------------------------------------------------- OI rules

def test_duplicate_m1_is_unchanged_and_modified_m1_updates(store, tmp_path):
    lines = [M1(), M1(at="2024-01-31T10:05:00Z"),                       # retry: duplicate
             M1(at="2024-01-31T10:06:00Z", Debut_Inter="2024-01-31T09:58:00Z",
                Nature_PBO_PTO=[{"nature": 2, "PTO": "FI-1111-2222"}, {"nature": 4}])]
    result, answers = receive(store, tmp_path, *lines)
    assert codes(answers) == [0, 0, 0]
    assert [a["effect"] for a in answers] == ["inserted", "unchanged", "updated"]
    assert {a["Ref_Interv_OI"] for a in answers} == {REF1}
    # HD and M1 time from the modified M1; its targets replace the first ones
    assert interventions(store) == [(REF1, "DO01", "INT-1", "OI01", PM1, T(2024, 1, 31, 9, 58),
                                     None, T(2024, 1, 31, 10, 6), None)]
    assert targets(store) == [("non_fournie", None, None), ("sav", None, "FI-1111-2222")]
    assert (result.total("inserted"), result.total("unchanged"), result.total("updated")) == (1, 1, 1)


def test_m1_then_m3_in_one_log_ends_the_intervention(store, tmp_path):
    _, answers = receive(store, tmp_path, M1(), M3(Nature_PBO_PTO=[{"nature": 3, "PBO": "PT0000001"}]))
    assert [a["effect"] for a in answers] == ["inserted", "updated"]
    assert answers[1]["Description_Reponse"] == "end of intervention recorded"
    assert interventions(store) == [(REF1, "DO01", "INT-1", "OI01", PM1, T(2024, 1, 31, 10),
                                     T(2024, 1, 31, 11), T(2024, 1, 31, 10, 0, 30),
                                     T(2024, 1, 31, 11, 0, 30))]
    # the M3 omits the PTO (optional, "si disponible"): the line its M1 declared stays a target
    assert targets(store) == [("aucune_action", "PT0000001", None),
                              ("racc", "PT0000001", "FI-1111-2222")]
    assert store.execute("SELECT DISTINCT declared_in FROM intervention_targets ORDER BY 1"
                         ).fetchall() == [("m1",), ("m3",)]


def test_m3_without_m1_creates_and_a_late_m1_keeps_what_m3_brought(store, tmp_path):
    _, [a] = receive(store, tmp_path, M3(Nature_PBO_PTO=[{"nature": 3}]))
    assert (a["Code_Reponse"], a["effect"], a["Ref_Interv_OI"]) == (0, "inserted", REF1)
    assert a["Description_Reponse"] == "intervention created by M3 (no M1 before)"
    # the late M1 says HD 09:00 on another PM with nature RACC: none of it may replace M3's data
    _, answers = receive(store, tmp_path,
                         M1(at="2024-01-31T11:10:00Z", PM=PM2, Debut_Inter="2024-01-31T09:00:00Z"),
                         M1(at="2024-01-31T11:20:00Z"), name="late.ndjson")
    assert codes(answers) == [0, 0] and {a["Ref_Interv_OI"] for a in answers} == {REF1}
    assert [a["effect"] for a in answers] == ["updated", "unchanged"]
    assert interventions(store) == [(REF1, "DO01", "INT-1", "OI01", PM1, T(2024, 1, 31, 10),
                                     T(2024, 1, 31, 11), T(2024, 1, 31, 11, 10),
                                     T(2024, 1, 31, 11, 0, 30))]
    # M3's line stays; the late M1 adds the line it declared (it erases nothing)
    assert targets(store) == [("aucune_action", None, None), ("racc", "PT0000001", "FI-1111-2222")]


def test_modified_m3_updates_hf_and_final_targets(store, tmp_path):
    receive(store, tmp_path, M1(), M3())
    _, answers = receive(store, tmp_path, M3(at="2024-01-31T12:00:00Z"),
                         M3(at="2024-01-31T12:01:00Z", Fin_Inter="2024-01-31T11:30:00Z",
                            Nature_PBO_PTO=[{"nature": 2}]), name="again.ndjson")
    assert [a["effect"] for a in answers] == ["unchanged", "updated"]
    row = interventions(store)[0]
    assert (row[6], row[8]) == (T(2024, 1, 31, 11, 30), T(2024, 1, 31, 12, 1))
    # the modified M3 replaces M3's lines only; the M1's line stays
    assert targets(store) == [("racc", "PT0000001", "FI-1111-2222"), ("sav", None, None)]


def test_ko_message_is_not_stored_but_kept_in_messages(store, tmp_path):
    # the KO M1 is not recorded, so the corrected one is a creation, not a duplicate
    result, answers = receive(store, tmp_path, M1(PM="FI-99999-9999"), M1())
    assert codes(answers) == [4, 0] and [a["effect"] for a in answers] == ["rejected", "inserted"]
    assert [r[0] for r in interventions(store)] == [REF1]
    rows = store.execute("""SELECT line, message, code_do, ref_interv_do, ref_interv_oi,
        code_reponse, libelle_reponse, effect, body IS NOT NULL FROM messages ORDER BY line""").fetchall()
    assert rows == [(1, "M1", "DO01", "INT-1", None, 4, "PM_INCONNU", "rejected", True),
                    (2, "M1", "DO01", "INT-1", REF1, 0, "OK", "inserted", True)]
    q = store.execute("SELECT load_id, kind, line, columns FROM quarantine").fetchall()
    assert q == [(result.load_id, "messages", 1, "PM")]


def test_reloading_a_log_gives_the_same_references_and_changes_nothing(store, tmp_path, db_path):
    lines = [M1(), M3(), M1(Ref_Interv_DO="INT-2", Code_DO="DO02"), M5(REF1, [client()])]
    _, first = receive(store, tmp_path, *lines)
    result, second = receive(store, tmp_path, *lines, name="again.ndjson")
    assert [a["Ref_Interv_OI"] for a in first] == [a["Ref_Interv_OI"] for a in second]
    assert [a["effect"] for a in second] == ["unchanged"] * 4
    assert result.total("unchanged") == 4
    # a fresh database gives the same references
    other = db.connect(tmp_path / "other.duckdb")
    other.execute(f"INSERT INTO pms VALUES ('{PM1}', 'OI01', 1, NULL)")
    _, third = receive(other, tmp_path, *lines, name="third.ndjson")
    assert [a["Ref_Interv_OI"] for a in third] == [a["Ref_Interv_OI"] for a in first]
    other.close()


# ---------------------------------------------------------------- M5

def test_m5_unknown_reference_is_code_3(store, tmp_path):
    _, [a] = receive(store, tmp_path, M5("OI01-NOSUCHREF", [client()]))
    assert (a["Code_Reponse"], a["Libelle_Reponse"]) == (3, "REF_INTERV_OI_INCONNUE")
    assert a["Description_Reponse"] == "Ref_Interv_OI: 'OI01-NOSUCHREF' unknown"
    assert store.execute("SELECT count(*) FROM outage_reports").fetchone()[0] == 0


def test_m5_keeps_usable_clients_and_sets_the_others_aside(store, tmp_path):
    """Spec 2.1.5: a client counts as out of service only if its PTO and its cut time are
    known. One client with PTO ``inconnu`` among valid ones must not lose them all.

    M5 with four clients: FI-3333-0001 (valid), PTO "inconnu", HMS "10h20", and
    fi-3333-0004 with Tube missing (not needed to count it). Answer: OK, 2 clients kept
    (FI-3333-0001, FI-3333-0004 upper-cased), 2 set aside — each in the quarantine with its
    reason; the report says 2 clients and 2 set aside.
    """
    clients = [client(), client(pto="inconnu"), client(pto="FI-3333-0003", cut="10h20"),
               client(pto="fi-3333-0004", Tube=None)]
    result, answers = receive(store, tmp_path, M1(), M3(), M5(REF1, clients))
    a = answers[2]
    assert (a["Code_Reponse"], a["effect"]) == (0, "inserted")
    assert a["Description_Reponse"] == ("report recorded: 2 client(s) out of service, 2 set aside "
                                        "([1] PTO unknown ('inconnu'))")
    assert store.execute("SELECT pto, tube FROM outages ORDER BY 1").fetchall() == [
        ("FI-3333-0001", "2"), ("FI-3333-0004", None)]
    assert store.execute("SELECT clients_hs, clients_set_aside FROM outage_reports").fetchall() \
        == [(2, 2)]
    q = store.execute("SELECT line, columns, reason FROM quarantine ORDER BY columns").fetchall()
    assert q == [(3, "Liste_Clients_HS[1].PTO",
                  "client set aside (the M5 was accepted): PTO unknown ('inconnu')"),
                 (3, "Liste_Clients_HS[2].HMS_Coupure",
                  "client set aside (the M5 was accepted): HMS_Coupure '10h20' not an ISO 8601 "
                  "date-time")]
    # lines: 3 read, 3 accepted; the clients set aside are said in the load log
    assert (result.total("rows_read"), result.total("accepted"), result.total("quarantined")) \
        == (3, 3, 0)
    assert store.execute("SELECT message FROM load_log").fetchone()[0] == \
        "2 client(s) of accepted M5s set aside"


def test_m5_ok_stores_report_and_outages(store, tmp_path):
    clients = [client(), client("FI-3333-0002", PBO="inconnu", Tube="inconnu", Fibre="inconnu",
                                Position_PM_Module_OI="inconnu", cut="2024-01-31T11:20:00+01:00")]
    _, answers = receive(store, tmp_path, M1(), M3(), M5(REF1, clients))
    assert answers[2]["Code_Reponse"] == 0 and answers[2]["effect"] == "inserted"
    assert answers[2]["Description_Reponse"] == "report recorded: 2 client(s) out of service"
    assert store.execute("SELECT * FROM outage_reports").fetchall() == [
        (REF1, "OC01", T(2024, 1, 31, 11, 30), 2, 0)]
    rows = store.execute("""SELECT code_oc, pm_id, pto, pbo, tube, fibre, position_pm, cut_at,
        restored_at, cause, churned, ref_interv_oi FROM outages ORDER BY pto""").fetchall()
    # "inconnu" is stored as NULL; 11:20+01:00 is 10:20 UTC
    assert rows == [
        ("OC01", PM1, "FI-3333-0001", "PT0000007", "2", "5", "M3-P12", T(2024, 1, 31, 10, 20),
         None, None, None, REF1),
        ("OC01", PM1, "FI-3333-0002", None, None, None, None, T(2024, 1, 31, 10, 20),
         None, None, None, REF1)]


def test_cuts_of_an_m5_follow_their_intervention_to_another_pm(store, tmp_path):
    # The M5 arrives for PM1; a corrected M3 then moves the intervention to PM2.
    receive(store, tmp_path, M1(), M3(), M5(REF1, [client()]), name="a.ndjson")
    _, answers = receive(store, tmp_path, M3(PM=PM2, at="2024-01-31T11:05:00Z"), name="b.ndjson")
    assert answers[0]["effect"] == "updated"
    assert store.execute("SELECT pm_id FROM outages").fetchall() == [(PM2,)]


def test_m5_empty_or_absent_list_records_coverage_with_zero_clients(store, tmp_path):
    _, answers = receive(store, tmp_path, M1(), M5(REF1, []), M5(REF1, None, oc="OC02"))
    assert codes(answers) == [0, 0, 0]
    # accepted, flagged: the OC answered before the M3 (so before any M4) of the intervention
    assert answers[1]["Description_Reponse"] == "report recorded: no client out of service; no M3 yet"
    assert store.execute("SELECT code_oc, clients_hs FROM outage_reports ORDER BY 1").fetchall() == [
        ("OC01", 0), ("OC02", 0)]
    assert store.execute("SELECT count(*) FROM outages").fetchone()[0] == 0


def test_m5_resent_replaces_that_oc_list_only(store, tmp_path):
    receive(store, tmp_path, M1(), M5(REF1, [client("FI-A"), client("FI-B")]),
            M5(REF1, [client("FI-Z")], oc="OC02"))
    _, answers = receive(store, tmp_path, M5(REF1, [client("FI-B"), client("FI-A")]),  # same list
                         M5(REF1, [client("FI-C")], at="2024-01-31T12:00:00Z"),
                         name="again.ndjson")
    assert [a["effect"] for a in answers] == ["unchanged", "updated"]
    assert answers[1]["Description_Reponse"] == ("list replaced: 1 client(s) out of service; "
                                                 "no M3 yet")
    assert store.execute("SELECT code_oc, pto FROM outages ORDER BY ALL").fetchall() == [
        ("OC01", "FI-C"), ("OC02", "FI-Z")]
    assert store.execute("SELECT code_oc, received_at, clients_hs FROM outage_reports ORDER BY 1"
                         ).fetchall() == [("OC01", T(2024, 1, 31, 12), 1),
                                          ("OC02", T(2024, 1, 31, 11, 30), 1)]


def test_m5_before_the_m1_of_its_reference_in_the_same_log_is_unknown(store, tmp_path):
    # lines are processed in order: the reference does not exist yet at line 1
    _, answers = receive(store, tmp_path, M5(REF1, []), M1(), M5(REF1, []))
    assert codes(answers) == [3, 0, 0]


def test_m5_for_an_intervention_loaded_as_a_table(store, tmp_path):
    store.execute(f"""INSERT INTO interventions VALUES ('LEGACY-1', NULL, NULL, 'OI01', '{PM2}',
        '2024-01-01 08:00:00', '2024-01-01 09:00:00', NULL, NULL)""")
    _, [a] = receive(store, tmp_path, M5("LEGACY-1", [client()]))
    assert a["Code_Reponse"] == 0
    assert store.execute("SELECT pm_id FROM outages").fetchall() == [(PM2,)]


# ---------------------------------------------------------------- OI codes

def test_oi_codes_from_setting_then_argument_then_pms(store, tmp_path):
    # default: the OI codes of the loaded PMs (OI01, OI02) -> OI02 with its own PM is OK
    _, [a] = receive(store, tmp_path, M1(Code_OI="OI02", PM=PM_OTHER), name="a.ndjson")
    assert a["Code_Reponse"] == 0
    db.set_setting(store, "oi_codes", "OI02, OI03")
    _, answers = receive(store, tmp_path, M1(Ref_Interv_DO="INT-9"),
                         M1(Ref_Interv_DO="INT-9", Code_OI="OI02", PM=PM_OTHER), name="b.ndjson")
    assert codes(answers) == [3, 0]
    # the argument wins over the setting
    _, answers = receive(store, tmp_path, M1(Ref_Interv_DO="INT-8"),
                         M1(Ref_Interv_DO="INT-7", Code_OI="OI02", PM=PM_OTHER),
                         name="c.ndjson", oi_codes=["OI01"])
    assert codes(answers) == [0, 3]
    with pytest.raises(OpevalError, match="not an OI code"):
        receive(store, tmp_path, M1(), name="d.ndjson", oi_codes=["oi1"])


# ---------------------------------------------------------------- load semantics

def test_strict_rolls_back_but_writes_answers_and_logs_the_load(store, tmp_path):
    receive(store, tmp_path, M1(Ref_Interv_DO="INT-0"), name="before.ndjson")
    before = interventions(store)
    path = tmp_path / "log.ndjson"
    path.write_text(json.dumps(M1()) + "\n" + json.dumps(M1(PM="FI-X")) + "\n"
                    + json.dumps(M5(make_ref("OI01", "DO01", "INT-0"), [client()])) + "\n")
    out = tmp_path / "answers.ndjson"
    with pytest.raises(LoadRejected, match="1 of 3 messages answered KO"):
        ingest_messages(store, [path], responses=out, strict=True)
    assert interventions(store) == before
    assert store.execute("SELECT count(*) FROM outage_reports").fetchone()[0] == 0
    assert codes([json.loads(x) for x in out.read_text().splitlines()]) == [0, 4, 0]
    log = store.execute("""SELECT status, strict, rows_read, accepted, quarantined FROM load_log
        ORDER BY load_id DESC LIMIT 1""").fetchone()
    assert log == ("rejected", True, 3, 0, 1)
    assert store.execute("SELECT line, columns FROM quarantine ORDER BY load_id DESC LIMIT 1"
                         ).fetchall() == [(2, "PM")]


def test_strict_with_every_answer_ok_applies(store, tmp_path):
    result, _ = receive(store, tmp_path, M1(), M3(), strict=True)
    assert result.status == "applied" and len(interventions(store)) == 1


def test_a_crash_while_writing_leaves_nothing(store, tmp_path, monkeypatch):
    from evaluation.eintervention import reception

    def boom(*_a, **_k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(reception, "_write_messages", boom)
    with pytest.raises(RuntimeError):
        receive(store, tmp_path, M1(), M3())
    assert interventions(store) == [] and targets(store) == []
    assert store.execute("SELECT count(*) FROM load_log").fetchone()[0] == 0
    assert not (tmp_path / "log.ndjson.answers").exists()


def test_several_files_one_load(store, tmp_path):
    a, b = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    a.write_text(json.dumps(M1()) + "\n")
    b.write_text(json.dumps(M3()) + "\n" + "oops\n")
    out = tmp_path / "answers.ndjson"
    result = ingest_messages(store, [a, b], responses=out)
    answers = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(x["file"].endswith(n), x["line"]) for x, n in zip(answers, ("a.ndjson", "b.ndjson",
                                                                          "b.ndjson"))] == [
        (True, 1), (True, 1), (True, 2)]
    assert [(f.rows_read, f.accepted, f.quarantined) for f in result.files] == [(1, 1, 0), (2, 1, 1)]
    # messages are keyed by (load, file, line): a's line 1, then b's lines 1 and 2
    assert store.execute("SELECT file_index, line FROM messages ORDER BY 1, 2").fetchall() == [
        (0, 1), (1, 1), (1, 2)]
    assert store.execute("SELECT count(*) FROM load_log WHERE load_id = ?",
                         [result.load_id]).fetchone()[0] == 2


def test_wrapped_body_and_basic_timestamps(store, tmp_path):
    msg = {"message": "M3", "received_at": "20240131T110030",
           "body": {"intervention_DO": body(Debut_Inter="20240131T110000+0100",
                                            Fin_Inter="20240131 11:00:00")}}
    _, [a] = receive(store, tmp_path, msg)
    assert a["Code_Reponse"] == 0
    # 11:00+01:00 = 10:00 UTC; 11:00 without offset = 11:00 UTC
    assert interventions(store)[0][5:] == (T(2024, 1, 31, 10), T(2024, 1, 31, 11), None,
                                           T(2024, 1, 31, 11, 0, 30))


def test_missing_file_is_an_input_error(store, tmp_path):
    from evaluation.errors import InputError
    with pytest.raises(InputError, match="no such file"):
        ingest_messages(store, [tmp_path / "nope.ndjson"])


# ---------------------------------------------------------------- properties

def _valid_lines() -> list[str]:
    return [json.dumps(x) for x in (M1(), M3(), M5(REF1, [client()]), M5(REF1, []))]


@st.composite
def any_line(draw) -> str:
    kind = draw(st.sampled_from(["text", "json", "mutated", "valid"]))
    if kind == "text":
        return draw(st.text(max_size=40).map(lambda s: s.replace("\n", " ").replace("\r", " ")))
    if kind == "json":
        return json.dumps(draw(st.dictionaries(st.sampled_from(["message", "received_at", "body"]),
                                               st.none() | st.text(max_size=5) | st.integers()
                                               | st.just("M1") | st.just({}), max_size=3)))
    base = json.loads(draw(st.sampled_from(_valid_lines())))
    if kind == "mutated":
        inner = base["body"]
        key = draw(st.sampled_from(sorted(inner)))
        inner[key] = draw(st.none() | st.text(max_size=60) | st.integers() | st.just([])
                          | st.just("OI02") | st.just(PM_OTHER))
    return json.dumps(base)


_PROPERTY_DB: dict = {}


def _property_store(tmp_path_factory):
    if "con" not in _PROPERTY_DB:
        con = db.connect(":memory:")
        con.execute(f"INSERT INTO pms VALUES ('{PM1}', 'OI01', 1, NULL), ('{PM_OTHER}', 'OI02', 1, NULL)")
        _PROPERTY_DB["con"] = con
        _PROPERTY_DB["dir"] = tmp_path_factory.mktemp("prop")
    return _PROPERTY_DB["con"], _PROPERTY_DB["dir"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(any_line(), min_size=1, max_size=8), st.booleans())
def test_every_line_gets_exactly_one_valid_answer_and_counts_reconcile(tmp_path_factory, lines, strict):
    con, tmp = _property_store(tmp_path_factory)
    path, out = tmp / "log.ndjson", tmp / "answers.ndjson"
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    try:
        result = ingest_messages(con, [path], responses=out, strict=strict)
    except LoadRejected:
        result = None
    answers = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [a["line"] for a in answers] == list(range(1, len(lines) + 1))
    for a in answers:
        libelles = LIBELLES_M5 if a["message"] == "M5" else LIBELLES_DO
        assert libelles[a["Code_Reponse"]] == a["Libelle_Reponse"]
        assert len(a.get("Description_Reponse", "")) <= 100
        assert ("Ref_Interv_OI" in a) == (a["Code_Reponse"] == 0)
        assert (a["effect"] == "rejected") == (a["Code_Reponse"] != 0)
    ko = sum(a["Code_Reponse"] != 0 for a in answers)
    if result is None:
        assert strict and ko > 0
    else:
        assert result.total("rows_read") == len(lines)
        assert result.total("accepted") + result.total("quarantined") == len(lines)
        assert result.total("quarantined") == ko
        stored = con.execute("SELECT count(*) FROM messages WHERE load_id = ?",
                             [result.load_id]).fetchone()[0]
        assert stored == len(lines)


def test_replaying_a_log_with_re_emissions_ends_in_the_same_tables(store, tmp_path):
    lines = [M1(), M1(at="2024-01-31T10:03:00Z", Debut_Inter="2024-01-31T09:59:00Z"), M3(),
             M5(REF1, [client("FI-A")]), M5(REF1, [client("FI-B")], at="2024-01-31T12:00:00Z")]

    def dump():
        return (interventions(store), targets(store),
                store.execute("SELECT * FROM outage_reports").fetchall(),
                store.execute("SELECT * FROM outages ORDER BY ALL").fetchall())
    receive(store, tmp_path, *lines)
    first = dump()
    # HD 09:59 from the modified M1 (M3 repeats HD 10:00 and wins), list B replaced list A
    assert first[0][0][5] == T(2024, 1, 31, 10) and [r[2] for r in first[3]] == ["FI-B"]
    _, answers = receive(store, tmp_path, *lines, name="replay.ndjson")
    # message by message the replay re-applies the older versions, then the newer ones:
    # M1 after M3 changes nothing; the M5 with list A replaces B, then B replaces A again
    assert [a["effect"] for a in answers] == ["unchanged", "unchanged", "unchanged", "updated",
                                              "updated"]
    assert dump() == first
