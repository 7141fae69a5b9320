"""The OI endpoint against the official lot 1 OpenAPI description (schemathesis) and
its security: tokens, roles, a partner's own code, rate and size limits, request log.

The endpoint runs as `opeval oi serve` on a free loopback port over a store with
three PMs (two of ALTF, this database's OI; one of NEOI, another OI).
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import ssl
import subprocess
import time

import duckdb
import pytest
import schemathesis
from schemathesis import GenerationMode
from tests import _oi_proc as oi
from tests._oi_proc import post

from evaluation.eintervention import journal, partners

PMS = "pm_id,oi_code,lines,zone\nFI-35238-0001,ALTF,10,Rennes\nFI-35238-0002,ALTF,10,Rennes\n" \
      "FI-44109-0001,NEOI,10,Nantes\n"
M1 = {"Code_DO": "TECA", "Code_OI": "ALTF", "Ref_Interv_DO": "INT-1", "PM": "FI-35238-0001",
      "Debut_Inter": "2025-03-01T08:00:00Z",
      "Nature_PBO_PTO": [{"nature": 1, "PBO": "PT0000001", "PTO": "FI-1000-0001"}]}


def _store(root):
    db = root / "oi.duckdb"
    (root / "pms.csv").write_text(PMS)
    assert oi.cli(db, "ingest", "pms", str(root / "pms.csv")).returncode == 0
    assert oi.cli(db, "config", "oi_codes", "ALTF").returncode == 0
    return db


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The endpoint, with DO TECA and OC OCAA (default limits)."""
    db = _store(tmp_path_factory.mktemp("oi"))
    tokens = {"TECA": oi.add_partner(db, "TECA", "do", "--rate", "1000", "--burst", "1000"),
              "OCAA": oi.add_partner(db, "OCAA", "oc", "--rate", "1000", "--burst", "1000")}
    ep = oi.start(db, "--apply-every", "0.2")
    yield ep, tokens, db
    ep.stop()


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """An endpoint with small limits: bodies of 4096 bytes at most; DO SLOW may send 2
    requests per second, in bursts of 2."""
    db = _store(tmp_path_factory.mktemp("oi-limits"))
    tokens = {"SLOW": oi.add_partner(db, "SLOW", "do", "--rate", "2", "--burst", "2")}
    ep = oi.start(db, "--max-body-bytes", "4096", "--apply-every", "0.2")
    yield ep, tokens, db
    ep.stop()


# ------------------------------------------------------------------ schemathesis

schema = schemathesis.openapi.from_path(oi.SPEC).include(
    operation_id=["declarer_Intervention_DO", "notifier_Clients_HS_OC"])
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                max_examples=60, deterministic=True)
# The OpenAPI gives types and lengths only; the spec's tables (2.1.3, 2.1.5) add the
# formats ([0-9A-Z]{4} codes, references of [0-9A-Z_-], Fin_Inter not before
# Debut_Inter, nature 3 only in M3): a body valid for the schema may break them and
# is answered 400 MAUVAIS_FORMAT. test_spec_valid_messages_are_accepted checks that
# bodies valid for the spec are accepted.
schema.config.checks.positive_data_acceptance.expected_statuses = [
    "2xx", "400", "401", "403", "404"]


@schema.parametrize()
def test_conforms_to_the_lot1_openapi(case, served):
    """Every operation the OI serves, schema-valid and schema-breaking bodies: no 5xx,
    every status documented, every body valid against the response schema of its status,
    a request without the token refused (schemathesis' ``ignored_auth``), a schema-
    breaking body refused. Half the valid bodies carry the partner's own code, so the
    rules (not only the 403 of a foreign code) answer them."""
    ep, tokens, _ = served
    sender = "OCAA" if "client_HS" in case.path else "TECA"
    name = "Code_OC_impacte" if sender == "OCAA" else "Code_DO"
    if (case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE) \
            and isinstance(case.body, dict) and isinstance(case.body.get(name), str) \
            and len(case.body[name]) % 2 == 0:
        case.body[name] = sender
    case.call_and_validate(base_url=ep.url, headers={"Authorization": f"Bearer {tokens[sender]}"})


def test_spec_valid_messages_are_accepted(served):
    """Bodies that follow the spec's tables are answered 200 OK (R M1, R M3, R M5) with the
    answer schema's fields; the M3 ends the M1's intervention (same Ref_Interv_OI) and the
    M5 of OCAA names it. Responses validate against the OpenAPI response schemas."""
    ep, tokens, _ = served
    def valid(name: str, body: dict) -> None:
        oi.validator(name).validate(body)

    status, r1, _ = post(f"{ep.url}/intervention_DO", dict(M1, Ref_Interv_DO="OK-1"),
                         tokens["TECA"])
    assert status == 200 and r1["Code_Reponse"] == 0 and r1["Libelle_Reponse"] == "OK"
    valid("reponse_Intervention_DO", r1)
    status, r3, _ = post(f"{ep.url}/intervention_DO", dict(
        M1, Ref_Interv_DO="OK-1", Fin_Inter="2025-03-01T09:00:00Z"), tokens["TECA"])
    assert (status, r3["Ref_Interv_OI"]) == (200, r1["Ref_Interv_OI"])
    assert r3["Description_Reponse"] == "end of intervention recorded"
    status, r5, _ = post(f"{ep.url}/client_HS_OC_Par_Inter", {
        "Code_OC_impacte": "OCAA", "Ref_Interv_OI": r1["Ref_Interv_OI"],
        "Liste_Clients_HS": [{"PTO": "FI-2000-0001", "PBO": "PT1", "Tube": "1", "Fibre": "2",
                              "Position_PM_Module_OI": "A1", "HMS_Coupure":
                              "2025-03-01T08:30:00Z"}]}, tokens["OCAA"])
    assert status == 200 and r5["Code_Reponse"] == 0
    valid("reponse_Client_HS_OC_Par_Inter", r5)


@pytest.mark.parametrize("body, status, code, libelle", [
    # spec 2.1.3: Code_OI required -> 1 CHAMPS_NON_RENSEIGNE, HTTP 400 (spec 6: "un code HTTP
    # 400 remonte la même information")
    ({k: v for k, v in M1.items() if k != "Code_OI"}, 400, 1, "CHAMPS_NON_RENSEIGNE"),
    # nature 3 AUCUNE ACTION only in M3 -> 2 MAUVAIS_FORMAT
    (dict(M1, Nature_PBO_PTO=[{"nature": 3}]), 400, 2, "MAUVAIS_FORMAT"),
    # a PM of another OI, under this OI's code -> 4 PM_INCONNU, HTTP 404 (not found)
    (dict(M1, PM="FI-44109-0001"), 404, 4, "PM_INCONNU"),
    # an OI this database does not know -> 3 CODE_OI_INCONNU
    (dict(M1, Code_OI="ZZZZ", PM="FI-99999-0001"), 404, 3, "CODE_OI_INCONNU"),
    # our PM under another OI's code: MAUVAIS_OI (spec 6) is no lot 1 code: on the wire
    # 3 CODE_OI_INCONNU, the description says MAUVAIS_OI
    (dict(M1, Code_OI="NEOI"), 404, 3, "CODE_OI_INCONNU"),
    # not JSON at all -> 2 MAUVAIS_FORMAT ("body: not a JSON object")
    (b"{not json", 400, 2, "MAUVAIS_FORMAT"),
])
def test_ko_answers_and_their_http_status(served, body, status, code, libelle):
    ep, tokens, _ = served
    got, answer, _ = post(f"{ep.url}/intervention_DO", body, tokens["TECA"])
    assert (got, answer["Code_Reponse"], answer["Libelle_Reponse"]) == (status, code, libelle)
    assert "Ref_Interv_OI" not in answer and len(answer["Description_Reponse"]) <= 100
    if isinstance(body, dict) and body.get("Code_OI") == "NEOI":
        assert answer["Description_Reponse"].startswith("MAUVAIS_OI: ")


def test_tokens_roles_and_own_codes(served):
    """401 without or with a wrong token (a known id with a wrong secret too); 403 for a
    DO token on the OC operation and for an OC token on the DO operation; 403 when a DO
    posts under another Code_DO, an OC under another Code_OC_impacte; 405 for GET."""
    ep, tokens, _ = served
    url = f"{ep.url}/intervention_DO"
    assert post(url, M1, None)[0] == 401
    assert post(url, M1, "not-a-token")[0] == 401
    wrong = tokens["TECA"][:-4] + ("AAAA" if not tokens["TECA"].endswith("AAAA") else "BBBB")
    assert post(url, M1, wrong)[0] == 401
    assert post(url, M1, tokens["OCAA"])[0] == 403
    assert post(f"{ep.url}/client_HS_OC_Par_Inter", {"Code_OC_impacte": "OCAA",
                                                    "Ref_Interv_OI": "X"}, tokens["TECA"])[0] == 403
    status, answer, _ = post(url, dict(M1, Code_DO="FIBX"), tokens["TECA"])
    assert status == 403 and "FIBX" in answer["error"]
    status, _, _ = post(f"{ep.url}/client_HS_OC_Par_Inter",
                        {"Code_OC_impacte": "BLEU", "Ref_Interv_OI": "X"}, tokens["OCAA"])
    assert status == 403
    import urllib.request
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, timeout=10)
    assert info.value.code == 405


def test_revoked_token_is_refused_within_a_quarter_second(served):
    ep, _, db = served
    token = oi.add_partner(db, "RAPI", "do")
    body = dict(M1, Code_DO="RAPI", Ref_Interv_DO="REV-1")
    assert post(f"{ep.url}/intervention_DO", body, token)[0] == 200
    r = oi.cli(db, "oi", "partners", "revoke", "RAPI")
    assert r.returncode == 0 and "revoked 1 token(s)" in r.stdout
    time.sleep(partners.RECHECK + 0.05)
    assert post(f"{ep.url}/intervention_DO", dict(body, Ref_Interv_DO="REV-2"), token)[0] == 401


def test_rate_and_size_limits(limited):
    """SLOW may send 2 requests at once, then 2 per second: the third at once is 429 with
    Retry-After, and is not stored. A body over --max-body-bytes (4096) is 413. (Neither
    status is in the lot 1 description, which sets no limit: they are HTTP's own.)"""
    ep, tokens, db = limited
    url = f"{ep.url}/intervention_DO"
    statuses = [post(url, dict(M1, Code_DO="SLOW", Ref_Interv_DO=f"R-{i}"), tokens["SLOW"])
                for i in range(3)]
    assert [s[0] for s in statuses[:2]] == [200, 200]
    assert statuses[2][0] == 429 and int(statuses[2][2]["Retry-After"]) >= 1
    time.sleep(1.1)
    big = dict(M1, Code_DO="SLOW", Nature_PBO_PTO=[{"nature": 1, "PBO": "P" * 90}] * 60)
    assert post(url, big, tokens["SLOW"])[0] == 413
    ep.wait_applied()
    con = sqlite3.connect(journal.journal_path(db))
    lines = [json.loads(r[0])["body"]["Ref_Interv_DO"] for r in con.execute(
        "SELECT line FROM inbox WHERE partner = 'SLOW'")]
    assert lines == ["R-0", "R-1"]


def test_every_request_is_logged(served):
    """Each request, refused or answered, is a row of the journal's request log (partner,
    path, status, duration), and refusals say why."""
    ep, tokens, db = served
    post(f"{ep.url}/intervention_DO", M1, None)
    post(f"{ep.url}/intervention_DO", dict(M1, Ref_Interv_DO="LOG-1"), tokens["TECA"])
    time.sleep(1.5)            # the log is written with the next batch or within a second
    con = sqlite3.connect(journal.journal_path(db))
    rows = con.execute("SELECT partner, path, status, detail, seq FROM requests "
                       "ORDER BY rowid DESC LIMIT 2").fetchall()
    assert (None, "/v1/intervention_DO", 401, "a valid bearer token is required", None) in rows
    assert any(r[0] == "TECA" and r[2] == 200 and r[4] is not None for r in rows)


def test_tokens_are_stored_hashed(served):
    _, tokens, db = served
    con = sqlite3.connect(journal.journal_path(db))
    stored = con.execute("SELECT token_hash FROM partners").fetchall()
    secrets_ = [t.split(".", 1)[1] for t in tokens.values()]
    assert all(h.startswith("scrypt$") for (h,) in stored)
    assert not any(s in h for (h,) in stored for s in secrets_)


def test_a_failure_is_500_and_stores_nothing(tmp_path, monkeypatch):
    """Lot 1 OpenAPI: 500 "Internal Server Error" for an unexpected failure. The endpoint
    runs in this process (its receiver thread, the Tornado loop in another thread) and the
    journal's first write fails (an I/O error of the disk, injected): the M1 waiting in
    that batch is answered 500 with a JSON reason, nothing is journaled nor counted as
    received. Worked out by hand:

    - the same M1 sent again once the disk is back is answered 200, 0 OK, effect
      "inserted" (the overlay forgot the failed batch: had it kept it, the M1 would be a
      duplicate, "already received", and the store would lack it);
    - the journal's inbox then holds one line, and the apply stores one intervention;
    - the request log lost nothing: the 401 sent just before (its row is written with
      the next batch, here the failed one, unless a second without requests came
      between), the 500 and the 200 are rows of ``requests``, in that order.
    """
    import asyncio
    import threading

    import tornado.httpserver
    from tests._serve_proc import free_port

    from evaluation.eintervention import endpoint
    from evaluation.eintervention.live import Live

    db = _store(tmp_path)
    con = journal.connect(db)
    token = partners.add(con, "TECA", "do")
    con.close()
    live = Live(db)
    receiver = endpoint.Receiver(live, None)
    gate = partners.Gate(journal.connect(db))
    app = endpoint.EndpointApp(live, gate, receiver, endpoint.DEFAULT_MAX_BODY, False)
    server = tornado.httpserver.HTTPServer(endpoint.make_app(app))
    port, ready, loops = free_port(), threading.Event(), []

    async def main() -> None:
        server.listen(port, "127.0.0.1")
        done = asyncio.Event()
        loops.append((asyncio.get_running_loop(), done))
        ready.set()
        await done.wait()
        server.stop()

    http = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    receiver.thread.start()
    http.start()
    assert ready.wait(30)
    url = f"http://127.0.0.1:{port}/v1/intervention_DO"
    real_log, real_receive = journal.log_requests, live.receive
    receiving, failures = [], [sqlite3.OperationalError("disk I/O error")]

    def failing(con, rows):      # the first write of a batch's answers fails
        if receiving and failures:
            raise failures.pop()
        real_log(con, rows)

    def receive(items, requests=()):
        receiving.append(True)
        try:
            return real_receive(items, requests)
        finally:
            receiving.clear()

    monkeypatch.setattr(journal, "log_requests", failing)
    monkeypatch.setattr(live, "receive", receive)
    try:
        assert post(url, M1, None)[0] == 401
        status, answer, _ = post(url, M1, token)
        assert status == 500 and answer == {"error": "Internal Server Error"}
        assert live.pending() == 0
        status, answer, _ = post(url, M1, token)
        assert (status, answer["Code_Reponse"], answer["Description_Reponse"]) == (
            200, 0, "intervention created")
        time.sleep(1.5)        # the request log is written with the next batch or within 1 s
        assert live.apply() == 1
    finally:
        loop, done = loops[0]
        loop.call_soon_threadsafe(done.set)
        http.join(30)
        receiver.stop()
        live.close()
        gate.close()
    con = sqlite3.connect(journal.journal_path(db))
    assert con.execute("SELECT count(*) FROM inbox").fetchone() == (1,)
    assert [s for (s,) in con.execute("SELECT status FROM requests ORDER BY rowid")] == [
        401, 500, 200]
    con.close()
    store = duckdb.connect(str(db), read_only=True)
    assert store.execute("SELECT count(*) FROM interventions").fetchone() == (1,)
    store.close()


def _self_signed(root, name: str) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key (openssl, no download)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is absent: cannot make a test certificate")
    cert, key = root / f"{name}.pem", root / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return str(cert), str(key)


def test_tls_and_mutual_tls(tmp_path):
    """--tls-cert/--tls-key serve HTTPS; --tls-client-ca requires a client certificate
    signed by that CA, on top of the token (docs/security.md). By hand, with the server's
    certificate trusted: a client with its certificate (its own CA here) and the DO's
    token gets 200 OK; with the certificate and no token, 401 (the token is still
    required); without a client certificate, no HTTP answer at all (the handshake is
    refused); plain HTTP on that port, no answer either."""
    db = _store(tmp_path)
    token = oi.add_partner(db, "TECA", "do")
    server_cert, server_key = _self_signed(tmp_path, "server")
    client_cert, client_key = _self_signed(tmp_path, "client")
    with_cert = ssl.create_default_context(cafile=server_cert)
    with_cert.load_cert_chain(client_cert, client_key)
    ep = oi.start(db, "--tls-cert", server_cert, "--tls-key", server_key, "--tls-client-ca",
                  client_cert, ssl_context=with_cert)
    url = f"{ep.url}/intervention_DO"
    try:
        status, answer, _ = post(url, M1, token, context=with_cert)
        assert status == 200 and answer["Code_Reponse"] == 0
        assert post(url, M1, None, context=with_cert)[0] == 401
        with pytest.raises(OSError):
            post(url, M1, token, context=ssl.create_default_context(cafile=server_cert))
        with pytest.raises(OSError):
            post(url.replace("https://", "http://"), M1, token)
    finally:
        ep.stop()
