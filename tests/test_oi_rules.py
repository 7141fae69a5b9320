"""The live endpoint's pieces without HTTP: the receive/apply steps (:class:`Live`) against
`ingest messages`, flow 2 (which M2/M4, to whom, with which body), the outbox's retries,
the wire mapping, the partners' tokens. Cases are taken from the spec's wording (seed
002, lot 1) and worked out by hand in the docstrings.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.eintervention import journal, outbox, partners, wire
from evaluation.eintervention.live import DO_OPERATION, OC_OPERATION, Incoming, Live, log_line
from evaluation.eintervention.reception import ingest_messages
from evaluation.eintervention.rules import Answer, make_ref
from evaluation.errors import OpevalError
from evaluation.store import db

PMS = [("FI-00001-0001", "OI01"), ("FI-00002-0001", "OI01"), ("FI-00003-0001", "OI02")]
T0 = dt.datetime(2025, 3, 1, 8, 0)


def store(path) -> str:
    con = db.connect(path)
    con.executemany("INSERT INTO pms (pm_id, oi_code) VALUES (?, ?)", PMS)
    con.execute("INSERT INTO meta VALUES ('oi_codes', 'OI01')")
    con.close()
    return str(path)


def m1(ref: str, pm: str = "FI-00001-0001", pbo: str | None = "PT1", **extra) -> dict:
    target = {"nature": 1, "PTO": "FI-1000-0001", **({"PBO": pbo} if pbo else {})}
    return {"Code_DO": "DO01", "Code_OI": "OI01", "Ref_Interv_DO": ref, "PM": pm,
            "Debut_Inter": "2025-03-01T08:00:00Z", "Nature_PBO_PTO": [target], **extra}


def m3(ref: str, **extra) -> dict:
    return m1(ref, Fin_Inter="2025-03-01T09:00:00Z", **extra)


def m5(ref_oi: str, oc: str = "OC01", clients: int = 1) -> dict:
    return {"Code_OC_impacte": oc, "Ref_Interv_OI": ref_oi, "Liste_Clients_HS": [
        {"PTO": f"FI-2000-{i:04d}", "HMS_Coupure": "2025-03-01T08:30:00Z"}
        for i in range(clients)]}


def item(body: dict | bytes, sender: str | None = None, at: int = 0) -> Incoming:
    op = OC_OPERATION if isinstance(body, dict) and "Code_OC_impacte" in body else DO_OPERATION
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    who = sender or (body.get("Code_OC_impacte") or body.get("Code_DO")
                     if isinstance(body, dict) else "DO01")
    return Incoming(op, data, who, T0 + dt.timedelta(seconds=at))


def ocs(*entries: tuple[str, list[str] | None]) -> outbox.Directory:
    return outbox.Directory([outbox.OC(code, f"http://127.0.0.1:9/{code}", None,
                                       None if pms is None else frozenset(pms))
                             for code, pms in entries])


def deliveries(path) -> list[tuple]:
    con = sqlite3.connect(journal.journal_path(path))
    try:
        return con.execute("SELECT message, ref_interv_oi, code_oc, body FROM outbox "
                           "ORDER BY id").fetchall()
    finally:
        con.close()


# ------------------------------------------------------------------ the wire

@pytest.mark.parametrize("body, kind", [
    (b'{"Fin_Inter": "2025-03-01T09:00:00Z"}', "M3"),
    (b'{"Fin_Inter": null}', "M1"),              # OpenAPI: "Valeur NULL si M1"
    (b'{"Fin_Inter": ""}', "M1"),
    (b'{}', "M1"),                               # 2.1.3: "NULL ou champ non envoyé"
    (b'{"intervention_DO": {"Fin_Inter": "2025-03-01T09:00:00Z"}}', "M3"),   # wrapped body
    (b'{not json', "M1"),
])
def test_which_message_an_intervention_do_body_is(body, kind):
    """Flow 1 carries M1 and M3 on one operation; the M3 is the one with Fin_Inter."""
    assert log_line(DO_OPERATION, T0, body)[0] == kind


def test_a_body_becomes_one_log_line():
    """A pretty-printed body is one NDJSON line; a body that is not JSON is kept as a JSON
    string (so no sender can forge the envelope with `}, "received_at": …`)."""
    _, line = log_line(DO_OPERATION, T0, b'{\n  "PM": "X"\n}')
    assert "\n" not in line and json.loads(line)["body"] == {"PM": "X"}
    _, line = log_line(DO_OPERATION, T0, b'{}, "received_at": "1999-01-01T00:00:00Z"')
    obj = json.loads(line)
    assert obj["received_at"] == "2025-03-01T08:00:00.000000Z" and isinstance(obj["body"], str)
    _, line = log_line(OC_OPERATION, T0, b"\xff\xfe")
    assert json.loads(line)["message"] == "M5"


@pytest.mark.parametrize("kind, code, status, wire_code", [
    ("M1", 0, 200, 0), ("M1", 1, 400, 1), ("M3", 2, 400, 2), ("M1", 3, 404, 3),
    ("M1", 4, 404, 4), ("M1", 5, 404, 3), ("M1", 6, 403, 6),
    ("M5", 0, 200, 0), ("M5", 2, 400, 2), ("M5", 3, 404, 3), ("M5", 4, 403, 4)])
def test_wire_mapping(kind, code, status, wire_code):
    """Lot 1 codes go on the wire as they are; MAUVAIS_OI (5, spec 6) is no lot 1 code: it
    is sent as 3 CODE_OI_INCONNU with a description saying MAUVAIS_OI, within 100 chars."""
    a = Answer(1, kind, code, "X", "d" * 100, "REF" if code == 0 else None,
               "inserted" if code == 0 else "rejected")
    assert wire.http_status(kind, code) == status
    body = wire.body(kind, a)
    assert body["Code_Reponse"] == wire_code and len(body["Description_Reponse"]) <= 100
    assert ("Ref_Interv_OI" in body) == (kind != "M5" and code == 0)
    if code == 5:
        assert body["Libelle_Reponse"] == "CODE_OI_INCONNU"
        assert body["Description_Reponse"].startswith("MAUVAIS_OI: ")


# ------------------------------------------------------------------ flow 2

def test_flow_2_which_messages_go_to_which_oc(tmp_path):
    """Spec 2.1.4: M2 after an M1 answered OK, M4 after an M3 answered OK, to each OC
    present at the PM (OCAA at every PM, OCBB only at FI-00002-0001).

    - A-1: M1 at FI-00001-0001 → M2 to OCAA only; the same M1 again (a duplicate,
      chapter 4) → nothing; its M3 → M4 to OCAA, with Fin_Inter.
    - B-1: M3 first (SI problem, chapter 4) at FI-00002-0001 → M4 to OCAA and OCBB,
      carrying Debut_Inter and Fin_Inter; then its M1 → "ne déclenchera aucun autre
      flux": nothing.
    - C-1: M1 answered KO (PM of another OI) → nothing.
    - an M5 → nothing (it is flow 3).
    Bodies: intervention_OI fields only — no Code_DO, no Ref_Interv_DO, no PTO.
    """
    path = store(tmp_path / "s.duckdb")
    live = Live(path, flows=outbox.flows_for(ocs(("OCAA", None), ("OCBB", ["FI-00002-0001"]))))
    ref_a, ref_b = make_ref("OI01", "DO01", "A-1"), make_ref("OI01", "DO01", "B-1")
    outs = live.receive([item(m1("A-1")), item(m1("A-1")), item(m3("A-1")),
                         item(m3("B-1", pm="FI-00002-0001")), item(m1("B-1", pm="FI-00002-0001")),
                         item(m1("C-1", pm="FI-00003-0001")), item(m5(ref_a, oc="OCAA"))])
    assert [o.answer.code for o in outs] == [0, 0, 0, 0, 0, 4, 0]
    live.close()
    got = [(m, r, oc) for m, r, oc, _ in deliveries(path)]
    assert got == [("M2", ref_a, "OCAA"), ("M4", ref_a, "OCAA"), ("M4", ref_b, "OCAA"),
                   ("M4", ref_b, "OCBB")]
    bodies = [json.loads(b) for *_, b in deliveries(path)]
    assert bodies[0] == {"Code_OI": "OI01", "Ref_Interv_OI": ref_a, "PM": "FI-00001-0001",
                         "PBO": [{"PBO": "PT1"}], "Debut_Inter": "2025-03-01T08:00:00Z"}
    assert bodies[2]["Fin_Inter"] == "2025-03-01T09:00:00Z" and "Debut_Inter" in bodies[2]
    assert all("PTO" not in json.dumps(b) and "Code_DO" not in b for b in bodies)


def test_a_modified_reemission_is_relayed_again(tmp_path):
    """Chapter 4: an M1 re-sent with another PBO is a modified re-emission: the OCs get a new
    M2 with the new PBO list. PBO is "si fourni par le DO": a target without PBO adds
    nothing to the list."""
    path = store(tmp_path / "s.duckdb")
    live = Live(path, flows=outbox.flows_for(ocs(("OCAA", None))))
    live.receive([item(m1("A-1")), item(m1("A-1", pbo="PT2")), item(m1("A-1", pbo=None))])
    live.close()
    assert [json.loads(b)["PBO"] for *_, b in deliveries(path)] == [
        [{"PBO": "PT1"}], [{"PBO": "PT2"}], []]


# ------------------------------------------------------------------ receive, then apply

def test_answers_are_journaled_before_the_store_and_applied_once(tmp_path):
    """The answers come from the overlay before anything is in the store; the apply writes
    them with the rules of the log files (same answers); a second apply writes nothing;
    a new Live on the same files (a restart) applies nothing again."""
    path = store(tmp_path / "s.duckdb")
    live = Live(path)
    ref = make_ref("OI01", "DO01", "A-1")
    outs = live.receive([item(m1("A-1")), item(m3("A-1")), item(m5(ref, clients=2)),
                         item(m5("OI01-UNKNOWN"))])
    assert [(o.answer.code, o.answer.effect) for o in outs] == [
        (0, "inserted"), (0, "updated"), (0, "inserted"), (3, "rejected")]
    con = duckdb.connect(path, read_only=True)
    assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    con.close()
    assert live.pending() == 4 and live.apply() == 4 and live.apply() == 0
    assert live.mismatches == 0
    live.close()
    again = Live(path)
    assert again.pending() == 0 and again.apply() == 0
    again.close()
    con = duckdb.connect(path, read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT line) FROM messages").fetchone() == (4, 4)
    assert con.execute("SELECT clients_hs FROM outage_reports").fetchall() == [(2,)]
    con.close()


def test_a_partner_posts_only_under_its_own_code(tmp_path):
    """Issue 18: a DO may only post under its own Code_DO, an OC under its own
    Code_OC_impacte; such a request is refused before the rules and not journaled. A
    missing code is the rules' business (1 CHAMPS_NON_RENSEIGNE)."""
    path = store(tmp_path / "s.duckdb")
    live = Live(path)
    outs = live.receive([item(m1("A-1"), sender="DO02"),
                         item({k: v for k, v in m1("A-2").items() if k != "Code_DO"}, "DO02"),
                         item(m5("X", oc="OC01"), sender="OC02")])
    assert outs[0].forbidden and outs[2].forbidden and outs[0].seq is None
    assert outs[1].answer.code == 1 and outs[1].seq is not None
    assert live.pending() == 1
    live.close()


def test_another_writer_between_answer_and_apply(tmp_path):
    """The one way an applied answer can differ from the one given: another program writes
    the store meanwhile. Here a log file loaded by `ingest messages` creates A-1 at another
    PM after the endpoint answered an M1 for A-1 (journaled, not applied). The endpoint
    sees the store's stamp move at its next request, applies what waits over the new
    store first (the M1 is then a modified re-emission: updated, code 0 either way), and
    starts a fresh overlay: the next M3 for A-1 is answered from the store's state."""
    path = store(tmp_path / "s.duckdb")
    live = Live(path)
    assert live.receive([item(m1("A-1"))])[0].answer.effect == "inserted"
    log = tmp_path / "other.ndjson"
    log.write_text(json.dumps({"message": "M1", "received_at": "2025-03-01T07:00:00Z",
                               "body": m1("A-1", pm="FI-00002-0001")}) + "\n")
    live.release_idle()      # as when idle (the other writer is another process in life)
    con = db.connect(path)
    ingest_messages(con, [log])
    con.close()
    out = live.receive([item(m3("A-1"), at=60)])[0]
    assert out.answer.code == 0 and live.pending() == 1 and live.mismatches == 0
    live.apply()
    con = duckdb.connect(path, read_only=True)
    assert con.execute("SELECT pm_id, ended_at IS NOT NULL FROM interventions").fetchall() == [
        ("FI-00001-0001", True)]
    con.close()
    live.close()


def test_one_endpoint_per_store(tmp_path):
    path = store(tmp_path / "s.duckdb")
    live = Live(path)
    with pytest.raises(OpevalError, match="one endpoint per database"):
        Live(path)
    live.close()
    Live(path).close()


_refs = st.sampled_from(["A-1", "A-2", "B-1"])
_pms = st.sampled_from(["FI-00001-0001", "FI-00002-0001", "FI-00003-0001", "FI-09999-0001"])
_bodies = st.one_of(
    st.builds(lambda r, pm, pbo: m1(r, pm=pm, pbo=pbo), _refs, _pms,
              st.sampled_from(["PT1", "PT2", None])),
    st.builds(lambda r, pm: m3(r, pm=pm), _refs, _pms),
    st.builds(lambda r, oc, n: m5(make_ref("OI01", "DO01", r), oc=oc, clients=n), _refs,
              st.sampled_from(["OC01", "OC02"]), st.integers(0, 2)),
    st.just(b"{broken"))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(bodies=st.lists(_bodies, min_size=1, max_size=14), cuts=st.lists(st.integers(1, 4)),
       applies=st.lists(st.booleans()))
def test_live_equals_the_log_load(tmp_path_factory, bodies, cuts, applies):
    """Whatever the messages, the batches they arrive in and when the applier runs, the
    answers given and the store equal those of `ingest messages` on the log received."""
    root = tmp_path_factory.mktemp("prop")
    path = store(root / "live.duckdb")
    live = Live(path)
    items = [item(b, at=i) for i, b in enumerate(bodies)]
    given_answers, i, k = [], 0, 0
    while i < len(items):
        n = cuts[k % len(cuts)] if cuts else 1
        given_answers += [o.answer.as_json() for o in live.receive(items[i:i + n])]
        if applies and applies[k % len(applies)]:
            live.apply()
        i, k = i + n, k + 1
    live.apply()
    lines = [line for (line,) in live.journal.execute("SELECT line FROM inbox ORDER BY seq")]
    live.close()
    log = root / "received.ndjson"
    log.write_text("".join(x + "\n" for x in lines))
    ref_path = store(root / "ref.duckdb")
    con = db.connect(ref_path)
    ingest_messages(con, [log], responses=root / "answers.ndjson")
    con.close()
    expected = [json.loads(x) for x in (root / "answers.ndjson").open()]
    strip = ("line",)
    assert [{k: v for k, v in a.items() if k not in strip} for a in given_answers] == \
        [{k: v for k, v in a.items() if k not in strip} for a in expected]
    a, b = duckdb.connect(path, read_only=True), duckdb.connect(ref_path, read_only=True)
    for table in ("interventions", "intervention_targets", "outage_reports", "outages"):
        sql = f"SELECT * FROM {table} ORDER BY ALL"
        assert a.execute(sql).fetchall() == b.execute(sql).fetchall(), table
    a.close()
    b.close()


# ------------------------------------------------------------------ the outbox

@pytest.mark.parametrize("status, payload, verdict", [
    (200, {"Code_Reponse": 0, "Libelle_Reponse": "OK"}, "delivered"),
    (200, {"Code_Reponse": 3, "Libelle_Reponse": "PM_INCONNU"}, "rejected"),   # R M2 code 3
    (400, {"Code_Reponse": 2, "Libelle_Reponse": "MAUVAIS_FORMAT"}, "rejected"),
    (200, {"Code_Reponse": 7}, "retry"),         # not an R M2 code: not an answer
    (200, None, "retry"), (503, None, "retry"), (401, None, "retry"), (429, None, "retry")])
def test_what_an_oc_answer_means(status, payload, verdict):
    """R M2/R M4 (2.1.4): 0 OK; 1-3 a KO the OC gave (chapter 4: the OI may correct and
    re-send by hand, no automatic retry); anything else is no answer: retried."""
    data = json.dumps(payload).encode() if payload is not None else b""
    assert outbox.judge(status, data)[0] == verdict


def test_retry_schedule_within_24_hours(tmp_path):
    """Chapter 3: "un retry automatique dans la limite de 5 retry et sur une période
    maximale de 24h". With delays 60, 120, 300, 600, 72 000 s and an OC that never
    answers: attempt 1 fails → next in 60 s; …; attempt 5 fails → next in 72 000 s (20 h,
    inside 24 h of the first); attempt 6 (the 5th retry) fails → failed. A manual retry
    starts a new series."""
    path = store(tmp_path / "s.duckdb")
    con = journal.connect(path)
    con.execute("INSERT INTO outbox (seq, message, ref_interv_oi, code_oc, url, body, state, "
                "created_at, series_at, next_at) VALUES (1, 'M2', 'R', 'OCAA', "
                "'http://127.0.0.1:9/v1/intervention_OI', '{}', 'pending', ?, ?, ?)",
                [journal.now()] * 3)
    con.commit()
    d = outbox.Deliverer(path, ocs(("OCAA", None)), timeout=1.0)
    waits = []
    for _ in range(6):
        row = con.execute("SELECT id, code_oc, url, body, attempts, series_at FROM outbox"
                          ).fetchone()
        state = d.attempt(row)
        nxt, last = con.execute("SELECT next_at, last_at FROM outbox").fetchone()
        if nxt:
            delta = (dt.datetime.fromisoformat(nxt.rstrip("Z"))
                     - dt.datetime.fromisoformat(last.rstrip("Z")))
            waits.append(round(delta.total_seconds()))
    assert waits == [60, 120, 300, 600, 72_000] and state == "failed"
    assert con.execute("SELECT attempts, last_result FROM outbox").fetchone()[0] == 6
    assert outbox.retry(con, states=("failed",)) == 1
    assert con.execute("SELECT state, attempts FROM outbox").fetchone() == ("pending", 0)
    d.close()
    con.close()


def test_oc_directory_file_errors(tmp_path):
    f = tmp_path / "ocs.toml"
    f.write_text('[[oc]]\ncode = "oca"\nurl = "http://x/v1"\n')
    with pytest.raises(OpevalError, match="not 4 characters"):
        outbox.Directory.read(f)
    f.write_text('[[oc]]\ncode = "OCAA"\nurl = "ftp://x"\n')
    with pytest.raises(OpevalError, match="not an http"):
        outbox.Directory.read(f)
    f.write_text('[[oc]]\ncode = "OCAA"\nurl = "https://x/v1/"\npms = ["P1"]\n')
    d = outbox.Directory.read(f)
    assert d.ocs[0].url == "https://x/v1" and [o.code for o in d.at("P1")] == ["OCAA"]
    assert d.at("P2") == []


# ------------------------------------------------------------------ partners

def test_partner_tokens(tmp_path):
    """A token is shown once and stored as a scrypt hash; a wrong secret under a known id
    is refused; revoking by code or by token id refuses it at the next check."""
    path = store(tmp_path / "s.duckdb")
    con = journal.connect(path)
    token = partners.add(con, "DO01", "do")
    other = partners.add(con, "DO01", "do")
    gate = partners.Gate(journal.connect(path))
    p = gate.check(f"Bearer {token}")
    assert (p.code, p.role, p.scope) == ("DO01", "do", "write:interventions")
    assert gate.check(f"Bearer {token[:-1]}{'A' if token[-1] != 'A' else 'B'}") is None
    assert gate.check(token) is None and gate.check(None) is None
    assert partners.revoke(con, token.split(".")[0].removeprefix("oi_")) == 1
    time.sleep(partners.RECHECK)
    assert gate.check(f"Bearer {token}") is None and gate.check(f"Bearer {other}") is not None
    assert partners.revoke(con, "DO01") == 1
    time.sleep(partners.RECHECK)
    assert gate.check(f"Bearer {other}") is None
    with pytest.raises(OpevalError):
        partners.add(con, "do01", "do")
    with pytest.raises(OpevalError):
        partners.add(con, "DO01", "admin")
    gate.close()
    con.close()


def test_deliveries_and_partners_in_the_cli(tmp_path):
    """Issue 18: the state of each delivery is visible in the CLI, and a failed delivery
    can be retried by hand (spec chapter 3, "un retry manuel sur une période donnée").
    Three deliveries, worked out by hand: #1 M2 to OCAA failed (created 1 March), #2 M4
    to OCAA rejected (2 March), #3 M2 to BLEU delivered (2 March).

    - `oi outbox` counts them by state and lists each; `--state failed` lists #1 only;
    - `--retry --since 2025-03-02` makes #2 due again (#3, delivered, is not retried;
      #1 is outside the period): 1; `--retry --id 1`: 1; `--retry --id 3`: 0;
    - selecting without --retry, and --retry without a selection, are one-line errors;
    - `oi partners list` shows each partner's code, role and token id, never a hash.
    """
    from tests._oi_proc import cli

    path = store(tmp_path / "s.duckdb")
    con = journal.connect(path)
    for i, (message, oc, state, day) in enumerate([("M2", "OCAA", "failed", "01"),
                                                  ("M4", "OCAA", "rejected", "02"),
                                                  ("M2", "BLEU", "delivered", "02")], start=1):
        con.execute("INSERT INTO outbox (seq, message, ref_interv_oi, code_oc, url, body, state, "
                    "attempts, created_at, series_at, next_at) VALUES (?, ?, 'OI01-R', ?, 'u', "
                    "'{}', ?, 6, ?, ?, NULL)", [i, message, oc, state,
                                                f"2025-03-{day}T10:00:00.000000Z",
                                                f"2025-03-{day}T10:00:00.000000Z"])
    con.commit()
    token = partners.add(con, "DO01", "do")
    con.close()

    out = cli(path, "oi", "outbox").stdout
    assert "failed 1" in out and "rejected 1" in out and "delivered 1" in out
    assert "#1 M2 OI01-R -> OCAA: failed, 6 attempt(s)" in out
    listed = cli(path, "oi", "outbox", "--state", "failed").stdout.splitlines()[1:]
    assert [x.split()[0] for x in listed] == ["#1"]
    assert "deliveries due again now: 1" in cli(path, "oi", "outbox", "--retry", "--since",
                                                "2025-03-02").stdout
    assert "deliveries due again now: 1" in cli(path, "oi", "outbox", "--retry", "--id",
                                                "1").stdout
    assert "deliveries due again now: 0" in cli(path, "oi", "outbox", "--retry", "--id",
                                                "3").stdout
    con = sqlite3.connect(journal.journal_path(path))
    assert con.execute("SELECT id, state, attempts FROM outbox ORDER BY id").fetchall() == [
        (1, "pending", 0), (2, "pending", 0), (3, "delivered", 6)]
    con.close()
    for args in (("--id", "1"), ("--retry",)):
        r = cli(path, "oi", "outbox", *args)
        assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    listing = cli(path, "oi", "partners", "list").stdout
    assert f"DO01  do  {token.split('.')[0]}" in listing and "scrypt" not in listing


def test_simulator_late_m1_and_retries():
    """The simulator (issue 18 item 5) against a stub endpoint that records what it gets.

    Spec chapter 4, "envoi de M3 avant M1": with ``late=1`` every M1 is held back
    ``late_by`` s, so the log M1(A-1), M3(A-1) reaches the endpoint as M3 then M1 (the
    same sender keeps one intervention's lines, in due order). Spec chapter 3, automatic
    retries: the stub answers the first two requests 503, so the first line sent takes 3
    attempts (503, 503, 200) and nothing is given up; a line whose DO has no token is
    counted, not sent. By hand: 2 lines sent, 1 without token, answers {200: 2}."""
    import http.server
    import threading

    from evaluation.eintervention import simulate

    got: list[tuple[str, str]] = []

    class Stub(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            got.append((self.path, "M3" if body.get("Fin_Inter") else "M1"))
            status = 503 if len(got) <= 2 else 200
            data = json.dumps({"Code_Reponse": 0, "Libelle_Reponse": "OK"}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    lines = [json.dumps({"message": "M1", "body": m1("A-1")}),
             json.dumps({"message": "M3", "body": m3("A-1")}),
             json.dumps({"message": "M1", "body": dict(m1("B-1"), Code_DO="DO09")})]
    try:
        summary = simulate.replay(f"http://127.0.0.1:{server.server_address[1]}/v1", lines,
                                  {"DO01": "t"}, rate=100, concurrency=2, delays=(0.05, 0.05),
                                  late=1.0, late_by=0.5)
    finally:
        server.shutdown()
        server.server_close()
    assert got == [("/v1/intervention_DO", "M3")] * 3 + [("/v1/intervention_DO", "M1")]
    assert [(r.line, r.status, r.attempts) for r in summary.results] == [(1, 200, 1),
                                                                         (2, 200, 3)]
    assert summary.no_token == 1 and "given up 0" in summary.text()
