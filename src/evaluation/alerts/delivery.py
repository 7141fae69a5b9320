"""Sending alerts and digests: e-mail over SMTP and a signed JSON webhook.

**E-mail** — the standard library's :mod:`smtplib` and :mod:`email`: STARTTLS (or TLS
from the start, or none for a local relay) with the system's certificate store or the
``cafile`` given, certificate and host name checked; ``AUTH`` when a user name is set
(the password from its environment variable). One message per recipient and run.

**Webhook** — one ``POST`` of ``application/json`` per recipient and run, signed with
the recipient's shared secret: ``X-Opeval-Timestamp`` (Unix seconds) and
``X-Opeval-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` — the receiver
recomputes it, compares in constant time and refuses old timestamps (replays);
``Idempotency-Key`` is the same on every try of one delivery, so a receiver that
accepted a try whose answer was lost can drop the repeat. A try that fails for a reason
that may pass (no connection, a time-out, HTTP 429 or 5xx) is repeated after
``backoff_s``, doubled each time, up to ``attempts`` tries; any other answer (4xx) is
final. A delivery that failed is sent again at the next run (:mod:`.engine`).
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..errors import OpevalError
from .recipients import Recipient, Smtp, WebhookPolicy

SIGNATURE_HEADER = "X-Opeval-Signature"
TIMESTAMP_HEADER = "X-Opeval-Timestamp"


@dataclass(frozen=True)
class Outcome:
    """How one delivery went."""

    recipient: str
    channel: str          # "email" or "webhook"
    ok: bool
    attempts: int
    detail: str


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str,
           max_age_s: float = 300.0, now: float | None = None) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return False
    return abs(age) <= max_age_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code == 429 or exc.code >= 500
    return isinstance(exc, (urllib.error.URLError, TimeoutError, ConnectionError, OSError))


def post_webhook(url: str, payload: dict, secret: bytes, policy: WebhookPolicy,
                 sleep: Callable[[float], None] = time.sleep) -> tuple[bool, int, str]:
    """POST ``payload`` signed; retried with back-off. Returns (ok, tries, what happened)."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
    key = str(uuid.uuid4())
    wait = policy.backoff_s
    last = ""
    for attempt in range(1, policy.attempts + 1):
        stamp = str(int(time.time()))
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "opeval-alerts",
            TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, body),
            "Idempotency-Key": key})
        try:
            with urllib.request.urlopen(req, timeout=policy.timeout_s) as resp:
                return True, attempt, f"HTTP {resp.status}"
        except (OSError, ValueError, http.client.HTTPException) as exc:   # reported, not raised
            if isinstance(exc, urllib.error.HTTPError):
                last = f"HTTP {exc.code}"
            else:
                last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            if not _retryable(exc):
                return False, attempt, last
        if attempt < policy.attempts:
            sleep(wait)
            wait *= 2
    return False, policy.attempts, last


def _context(smtp: Smtp) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=smtp.cafile)


def send_mail(smtp: Smtp, to: tuple[str, ...], subject: str, text: str,
              attachments: tuple[tuple[str, str, bytes], ...] = ()) -> None:
    """Send one message (``attachments``: (file name, MIME type, bytes))."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = smtp.sender, ", ".join(to), subject
    msg["Date"], msg["Message-ID"] = formatdate(localtime=False), make_msgid(domain="opeval")
    msg.set_content(text)
    for name, mime, data in attachments:
        main, _, sub = mime.partition("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s,
                                  context=_context(smtp))
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
    with client:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=_context(smtp))
            client.ehlo()
        if smtp.username:
            client.login(smtp.username, smtp.password())
        client.send_message(msg)


def mail(smtp: Smtp | None, r: Recipient, subject: str, text: str,
         attachments: tuple = ()) -> Outcome:
    """Send to ``r``'s addresses; never raises (the outcome says what went wrong)."""
    try:
        if smtp is None:
            raise ValueError("no [smtp] table in the delivery file")
        send_mail(smtp, r.email, subject, text, attachments)
        return Outcome(r.name, "email", True, 1, f"sent to {len(r.email)} address(es)")
    except (smtplib.SMTPException, OSError, ValueError, OpevalError) as exc:   # reported
        return Outcome(r.name, "email", False, 1, f"{type(exc).__name__}: {exc}"[:500])


def hook(policy: WebhookPolicy, r: Recipient, payload: dict,
         sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """POST to ``r``'s webhook; never raises."""
    try:
        secret = r.secret()
    except OpevalError as exc:         # reported in the outcome
        return Outcome(r.name, "webhook", False, 0, str(exc))
    ok, tries, what = post_webhook(r.webhook, payload, secret, policy, sleep)
    return Outcome(r.name, "webhook", ok, tries, what)
