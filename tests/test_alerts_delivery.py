"""Delivery of alerts: a local SMTP server (aiosmtpd, STARTTLS and AUTH) and local webhook
receivers started here on 127.0.0.1, one failing twice before it accepts; the content
each recipient gets, checked against its role's scope."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.server
import json
import socket
import ssl
import threading

import pytest

from _alerts_support import NOW, _cut, _iv, _m5, _pms, put
from conftest import self_signed
from evaluation.alerts import delivery, recipients
from evaluation.alerts.engine import run
from evaluation.errors import OpevalError

SECRET = "a shared secret of the OC's receiver"


# ------------------------------------------------------------------ local servers

class Receiver:
    """An HTTP receiver on 127.0.0.1: answers ``codes`` in turn (then 200), keeps every
    request (headers, body)."""

    def __init__(self, codes=()):
        self.codes = list(codes)
        self.requests: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                code = outer.codes.pop(0) if outer.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(codes=()):
        r = Receiver(codes)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


@pytest.fixture
def smtp_server(tmp_path):
    """aiosmtpd on 127.0.0.1 that requires STARTTLS before AUTH (user opeval / its
    password) and keeps the messages."""
    pytest.importorskip("aiosmtpd")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    cert, key = self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)

    class Handler:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((session.authenticated, session.ssl is not None,
                                  envelope.rcpt_tos, envelope.content))
            return "250 OK"

    def auth(server, session, envelope, mechanism, data):
        return AuthResult(success=(data.login, data.password) == (b"opeval", b"s3cret-mail-pass"))

    handler = Handler()
    with socket.socket() as probe:          # a free port on the loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctl = Controller(handler, hostname="127.0.0.1", port=port, tls_context=tls,
                     require_starttls=True, authenticator=auth, auth_require_tls=True,
                     auth_required=True)
    ctl.start()
    handler.port = port
    handler.cafile = str(cert)
    yield handler
    ctl.stop()


# ------------------------------------------------------------------ webhook

def test_webhook_retried_with_backoff_until_accepted(receiver):
    """A receiver that answers 503 twice, then 200: three tries, waits of 0.5 then 1.0
    (back-off doubled), one Idempotency-Key for all three, each signed."""
    r = receiver([503, 503])
    waits = []
    ok, tries, what = delivery.post_webhook(
        r.url, {"events": [1]}, SECRET.encode(), recipients.WebhookPolicy(4, 0.5, 5.0),
        sleep=waits.append)
    assert (ok, tries, what) == (True, 3, "HTTP 200")
    assert waits == [0.5, 1.0]
    keys = {h["Idempotency-Key"] for h, _b in r.requests}
    assert len(r.requests) == 3 and len(keys) == 1
    for h, body in r.requests:
        assert delivery.verify(SECRET.encode(), h[delivery.TIMESTAMP_HEADER], body,
                               h[delivery.SIGNATURE_HEADER])
        assert not delivery.verify(b"another secret", h[delivery.TIMESTAMP_HEADER], body,
                                   h[delivery.SIGNATURE_HEADER])
        assert not delivery.verify(SECRET.encode(), h[delivery.TIMESTAMP_HEADER], body + b" ",
                                   h[delivery.SIGNATURE_HEADER])


def test_webhook_client_error_is_final_and_exhaustion_reported(receiver):
    """HTTP 400 is the receiver refusing the content: no second try. Three 503 with
    attempts = 3: three tries, then failed with the last answer."""
    r = receiver([400])
    assert delivery.post_webhook(r.url, {}, b"k", recipients.WebhookPolicy(4, 0, 5),
                                 sleep=lambda s: None) == (False, 1, "HTTP 400")
    r = receiver([503, 503, 503])
    assert delivery.post_webhook(r.url, {}, b"k", recipients.WebhookPolicy(3, 0, 5),
                                 sleep=lambda s: None) == (False, 3, "HTTP 503")


def test_signature_refuses_old_timestamps():
    body = b"{}"
    sig = delivery.sign(b"k", "1000", body)
    assert delivery.verify(b"k", "1000", body, sig, now=1200)
    assert not delivery.verify(b"k", "1000", body, sig, now=1400)


# ------------------------------------------------------------------ e-mail

def _smtp(server, password_env="OPEVAL_SMTP_PASSWORD"):
    return recipients.Smtp("127.0.0.1", "opeval@example.org", server.port, "starttls", "opeval",
                           password_env, 3.0, server.cafile)


def test_mail_over_starttls_with_auth(smtp_server, monkeypatch):
    """The message goes over STARTTLS (the server's certificate checked against the test
    CA) with AUTH; a wrong password is reported, not raised."""
    monkeypatch.setenv("OPEVAL_SMTP_PASSWORD", "s3cret-mail-pass")
    who = recipients.Recipient("risk", _principal("risk_manager"), ("risk@example.org",))
    out = delivery.mail(_smtp(smtp_server), who, "[opeval] test", "body", (
        ("r.pdf", "application/pdf", b"%PDF-1.7 test"),))
    assert out.ok, out.detail
    authenticated, tls, to, raw = smtp_server.messages[0]
    assert authenticated and tls and to == ["risk@example.org"]
    msg = email.message_from_bytes(raw)
    assert msg["Subject"] == "[opeval] test"
    assert [p.get_filename() for p in msg.walk() if p.get_filename()] == ["r.pdf"]
    monkeypatch.setenv("OPEVAL_SMTP_PASSWORD", "wrong")
    out = delivery.mail(_smtp(smtp_server), who, "x", "y")
    assert not out.ok and out.detail.startswith("SMTP") and len(smtp_server.messages) == 1


def _principal(role, oc=None):
    from evaluation.auth.roles import Principal
    return Principal(role, role, (), oc)


# ------------------------------------------------------------------ a run, end to end

def _network(db_path):
    """P5: 20 covered interventions (DOAA, M5s from OCAA), 15 impacted — cuts of OCAA at
    0..14 and of OCBB at 0..4 (OCBB's lines): a blacklist candidate. P1–P4: 1 of 20.
    DOAA has 100 interventions, 12 of them without HF: quality 1 − 12/200 = 94 %; DOBB
    (interventions at P9, 10 of them, 5 without HF): 75 % < 90 %."""
    ivs, m5s, cuts = [], [], []
    for p in range(1, 6):
        for i in range(20):
            ref = f"P{p}-{i:02d}"
            ivs.append(_iv(ref, f"P{p}", i, hf=not (p == 1 and i >= 8)))
            m5s.append(_m5(ref, i))
            if i == 0 or (p == 5 and i < 15):
                cuts.append(_cut(f"P{p}", ref, i, i))
            if p == 5 and i < 5:
                cuts.append(_cut("P5", ref, i, 100 + i, oc="OCBB"))
    ivs += [_iv(f"Q{i}", "P9", i, do="DOBB", hf=i >= 5) for i in range(10)]
    put(db_path, pms=_pms("P1", "P2", "P3", "P4", "P5", "P9"), interventions=ivs,
        outage_reports=m5s, outages=cuts)


def _smtp_toml(server) -> str:
    """The [smtp] table for the local server (STARTTLS with the test CA, AUTH)."""
    return f"""[smtp]
host = "127.0.0.1"
port = {server.port}
username = "opeval"
password_env = "OPEVAL_SMTP_PASSWORD"
sender = "opeval@example.org"
cafile = "{server.cafile}"
"""


def _delivery_file(tmp_path, smtp_server, hook_ok, hook_down):
    text = f"""
base_url = "https://opeval.example.org"
{_smtp_toml(smtp_server)}[webhook]
attempts = 3
backoff_s = 0.01
[[recipients]]
name = "noc"
role = "network_operator"
email = "noc@example.org"
[[recipients]]
name = "oc-aa"
role = "oc"
oc = "OCAA"
webhook = "{hook_ok.url}"
secret_env = "OPEVAL_TEST_HOOK_SECRET"
[[recipients]]
name = "oc-bb-down"
role = "oc"
oc = "OCBB"
webhook = "{hook_down.url}"
secret_env = "OPEVAL_TEST_HOOK_SECRET"
[[recipients]]
name = "risk"
role = "risk_manager"
email = "risk@example.org"
"""
    path = tmp_path / "opeval-alerts.toml"
    path.write_text(text)
    return path


def test_run_delivers_each_recipient_its_scope(db_path, tmp_path, smtp_server, receiver,
                                               monkeypatch):
    """One run fires two alerts: P5 enters the blacklist, DOBB's timestamp quality is 75 %.

    * the network operator's mail has both, DO code DOBB in clear, with absolute links;
    * OCAA's webhook (answers 503 twice, then 200: three tries) gets only P5's alert,
      where every DO code is a pseudonym, OCBB's cuts and presence are not named, and the
      per-intervention cut counts (all OCs' cuts) are left out;
    * OCBB's webhook is down (503 at every try): reported failed, sent again at the next
      run — which fires nothing new and delivers only that;
    * the risk manager gets nothing (no alert of its pages) and no mail is sent to it."""
    _network(db_path)
    monkeypatch.setenv("OPEVAL_SMTP_PASSWORD", "s3cret-mail-pass")
    monkeypatch.setenv("OPEVAL_TEST_HOOK_SECRET", SECRET)
    ok, down = receiver([503, 503]), receiver([503] * 6)
    d = recipients.load(db_path, _delivery_file(tmp_path, smtp_server, ok, down))
    rules = ["blacklist_candidate", "do_timestamp_quality"]
    r = run(db_path, delivery=d, now=NOW, rules=rules)
    assert sorted(e.alert.key for e in r.fired) == ["DOBB", "P5"]
    outcome = {o.recipient: (o.ok, o.attempts) for o in r.deliveries}
    assert outcome == {"noc": (True, 1), "oc-aa": (True, 3), "oc-bb-down": (False, 3)}

    assert len(smtp_server.messages) == 1
    _auth, _tls, to, raw = smtp_server.messages[0]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert to == ["noc@example.org"] and "DOBB" in text and "PM P5" in text
    assert "https://opeval.example.org/outages?" in text

    body = ok.requests[-1][1]
    payload = json.loads(body)
    assert [e["alert"]["key"] for e in payload["events"]] == ["P5"]
    assert b"DOAA" not in body and b"DOBB" not in body and b"OCBB" not in body
    ev = payload["events"][0]["alert"]["evidence"]
    assert ev["cuts_by_oc"] == {"OCAA": 15}
    assert all(i["code_do"].startswith("DO-") and "cuts" not in i
               for i in ev["impacted_interventions_listed"])
    assert payload["events"][0]["alert"]["subject"] == {"pm_id": "P5"}
    h = ok.requests[-1][0]
    assert delivery.verify(SECRET.encode(), h[delivery.TIMESTAMP_HEADER], body,
                           h[delivery.SIGNATURE_HEADER])

    again = run(db_path, delivery=d, now=NOW, rules=rules)
    assert again.fired == [] and again.cleared == []
    assert [(o.recipient, o.ok) for o in again.deliveries] == [("oc-bb-down", False)]
    assert len(smtp_server.messages) == 1 and len(ok.requests) == 3
    resent = json.loads(down.requests[-1][1])
    assert [e["alert"]["key"] for e in resent["events"]] == ["P5"]


def test_delivery_file_errors_name_the_entry(tmp_path, db_path):
    """Every mistake is one line naming the file and the entry."""
    def parse(text):
        return recipients.parse(text, "f.toml")
    with pytest.raises(OpevalError, match=r"f.toml recipient 1: .*role oc needs --oc CODE"):
        parse('[[recipients]]\nrole = "oc"\nemail = "a@b.org"\n'
              '[smtp]\nhost = "h"\nsender = "o@b.org"\n')
    with pytest.raises(OpevalError, match=r"recipient 1: a webhook needs secret_env"):
        parse('[[recipients]]\nrole = "admin"\nwebhook = "https://h/x"\n')
    with pytest.raises(OpevalError, match=r"recipients with an email need an \[smtp\] table"):
        parse('[[recipients]]\nrole = "admin"\nemail = "a@b.org"\n')
    with pytest.raises(OpevalError, match=r"recipient 1: webhook must be an http\(s\) URL"):
        parse('[[recipients]]\nrole = "admin"\nwebhook = "file:///etc/passwd"\nsecret_env = "X"\n')
    with pytest.raises(OpevalError, match=r"\[smtp\]: unknown key 'pasword'"):
        parse('[smtp]\nhost = "h"\npasword = "x"\n')
    with pytest.raises(OpevalError, match=r"\[smtp\]: sender is required"):
        parse('[smtp]\nhost = "h"\n')
    with pytest.raises(OpevalError, match=r"\[smtp\]: sender is not an e-mail address"):
        parse('[smtp]\nhost = "h"\nsender = "opeval@localhost"\n')
    assert recipients.load(db_path).recipients == ()     # no file: nobody to deliver to


# ------------------------------------------------------------------ digests

WEEK_END = dt.datetime(2025, 3, 17)
"""A Monday: the week digested is 2025-03-10 .. 03-17 (UTC store), the one before 03-03 .. 03-10."""


def _pdf_text(data: bytes) -> str:
    import io

    from pypdf import PdfReader
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_digest_mails_the_week_with_trend_and_pdf_within_scope(db_path, tmp_path, smtp_server,
                                                               receiver, monkeypatch):
    """The alerts of the network fire on 2025-03-12 (inside the week). The network
    operator's digest is one mail: both alerts under "what changed", the headline figures
    equal to the outages analysis of each week (the JSON the CLI prints) with their
    difference as trend, and the outages PDF of the week attached. OCAA's digest goes to
    its webhook: only P5's alert, no DO code in clear, no other OC; its PDF (what its
    e-mail would carry) names neither DOAA, DOBB nor OCBB.

    By hand (:func:`_network`, interventions on days 0..19 from 2025-03-03): the week
    before (days 0..6) covers 5 PMs × 7 = 35 interventions, impacted 4 (the day-0 cut of
    P1..P4) + 7 (P5) = 11; the week (days 7..13) covers 35 − 6 (P1's days 8..13 have no
    HF, so no window) = 29, impacted 7 (P5): trend −6 covered, −4 impacted."""
    from evaluation.alerts import digest
    from evaluation.analyses.outages import analyse
    from evaluation.store.engine import open_tables

    _network(db_path)
    run(db_path, now=dt.datetime(2025, 3, 12, 6), rules=["blacklist_candidate",
                                                         "do_timestamp_quality"])
    monkeypatch.setenv("OPEVAL_SMTP_PASSWORD", "s3cret-mail-pass")
    monkeypatch.setenv("OPEVAL_TEST_HOOK_SECRET", SECRET)
    ok, down = receiver(), receiver([503] * 3)
    d = recipients.load(db_path, _delivery_file(tmp_path, smtp_server, ok, down))

    [(r, dg, out)] = digest.send_role(db_path, d, "network_operator", "week", WEEK_END)
    assert r.name == "noc" and [o.ok for o in out] == [True]
    assert (dg.start, dg.end) == (dt.datetime(2025, 3, 10), WEEK_END)
    tables = open_tables(db_path)
    try:
        cur = analyse(tables, since=dg.start, as_of=dg.end)
        prev = analyse(tables, since=dt.datetime(2025, 3, 3), as_of=dg.start)
    finally:
        tables.backend.disconnect()
    fig = {f["label"]: f for f in dg.figures}
    for label, key in digest.OUTAGE_FIGURES:
        assert (fig[label]["current"], fig[label]["previous"]) == (cur.network[key],
                                                                   prev.network[key])
    c = fig["covered interventions"]
    assert (c["current"], c["previous"], c["trend"]) == (29, 35, -6)
    i = fig["impacted interventions"]
    assert (i["current"], i["previous"], i["trend"]) == (7, 11, -4)
    _a, _t, to, raw = smtp_server.messages[-1]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert to == ["noc@example.org"] and "What changed: 2 alert event(s)" in text
    assert f"covered interventions: {c['current']} / {c['previous']} / " in text
    assert "DOBB" in text
    [pdf] = [p for p in msg.iter_attachments()]
    assert pdf.get_filename() == "outages-2025-03-10_2025-03-17.pdf"
    assert pdf.get_content().startswith(b"%PDF")

    done = {r.name: (dg, out) for r, dg, out in
            digest.send_role(db_path, d, "oc", "week", WEEK_END)}
    assert [o.ok for o in done["oc-aa"][1]] == [True]
    assert [o.ok for o in done["oc-bb-down"][1]] == [False]
    body = ok.requests[-1][1]
    sent = json.loads(body)["digest"]
    assert [e["alert"]["key"] for e in sent["changes"]] == ["P5"]
    assert b"DOAA" not in body and b"DOBB" not in body and b"OCBB" not in body
    oc_pdf = _pdf_text(done["oc-aa"][0].attachments[0][2])
    assert "(OC version)" in oc_pdf
    assert not any(code in oc_pdf for code in ("DOAA", "DOBB", "OCBB"))


def test_digest_due_once_per_period(db_path, tmp_path, smtp_server, receiver, monkeypatch):
    """A recipient with ``digest = "week"``: on Tuesday 2025-03-18 the week ending Monday
    03-17 is due and sent; a second check the same day sends nothing; the next Tuesday
    the week ending 03-24 is sent. The risk manager (no digest asked) gets none."""
    from evaluation.alerts import digest
    _network(db_path)
    monkeypatch.setenv("OPEVAL_SMTP_PASSWORD", "s3cret-mail-pass")
    path = tmp_path / "d.toml"
    path.write_text(f"""
{_smtp_toml(smtp_server)}[[recipients]]
name = "noc"
role = "network_operator"
email = "noc@example.org"
digest = "week"
[[recipients]]
name = "risk"
role = "risk_manager"
email = "risk@example.org"
""")
    d = recipients.load(db_path, path)
    lines = digest.send_due(db_path, d, now=dt.datetime(2025, 3, 18, 8))
    assert lines == ["digest week to noc: sent (email: sent to 1 address(es))"]
    assert digest.send_due(db_path, d, now=dt.datetime(2025, 3, 18, 20)) == []
    assert len(digest.send_due(db_path, d, now=dt.datetime(2025, 3, 25, 8))) == 1
    subjects = [email.message_from_bytes(m[3], policy=email.policy.default)["Subject"]
                for m in smtp_server.messages]
    assert [s.split(": ")[1].split(",")[0] for s in subjects] == [
        "2025-03-10 to 2025-03-17", "2025-03-17 to 2025-03-24"]
    assert {m[2][0] for m in smtp_server.messages} == {"noc@example.org"}


def test_scheduled_tick_without_delivery_file_records_only(db_path):
    """The server's schedule with no delivery file beside the database: the rules run and
    are recorded, no digest (nobody asked for one)."""
    from evaluation.alerts.schedule import tick
    _network(db_path)
    lines = tick(db_path)
    assert len(lines) == 1 and lines[0].startswith("alerts: ") and "fired" in lines[0]
