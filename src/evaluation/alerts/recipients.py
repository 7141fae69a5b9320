"""Who receives alerts and digests, and how: the delivery file.

``opeval-alerts.toml`` beside the database (or ``--delivery FILE``)::

    [smtp]
    host = "mail.example.org"
    port = 587
    security = "starttls"          # starttls (default), tls (SMTPS) or none (a local relay)
    username = "opeval"            # optional: no AUTH without it
    password_env = "OPEVAL_SMTP_PASSWORD"   # the password is read from this variable
    sender = "opeval@example.org"    # required: the From address
    timeout_s = 30
    cafile = "/etc/ssl/internal-ca.pem"     # optional: the CA of a server with a private certificate

    [webhook]
    attempts = 4                   # tries per delivery
    backoff_s = 2.0                # wait before the 2nd try; doubled before each next one
    timeout_s = 10

    [[recipients]]
    name = "risk-team"
    role = "risk_manager"          # a role and its scope ...
    email = ["risk@example.org"]
    digest = "week"                # none (default), day or week

    [[recipients]]
    name = "oc-bleu"
    role = "oc"
    oc = "BLEU"                    # role oc needs its Code_OC; alarm_operator may list systems
    webhook = "https://hooks.example.org/opeval"
    secret_env = "OPEVAL_WEBHOOK_SECRET_BLEU"

    [[recipients]]
    user = "alice"                 # ... or a user of the users file (role and scope from it)
    email = "alice@example.org"

Secrets never sit in the file: it names the environment variables holding them. A
recipient's scope is a :class:`~evaluation.auth.roles.Principal`, checked like a user's.
Every error names the file and the entry, on one line.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..auth.credentials import Users, default_users_file
from ..auth.roles import Principal
from ..errors import OpevalError

FILE_NAME = "opeval-alerts.toml"
DIGESTS = ("none", "day", "week")
SECURITY = ("starttls", "tls", "none")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


@dataclass(frozen=True)
class Smtp:
    """The mail server; ``sender`` is required (no made-up From address)."""

    host: str
    sender: str
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = None
    timeout_s: float = 30.0
    cafile: str | None = None

    def password(self) -> str | None:
        if not self.password_env:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise OpevalError(f"SMTP password: ${self.password_env} is not set")
        return value


@dataclass(frozen=True)
class WebhookPolicy:
    attempts: int = 4
    backoff_s: float = 2.0
    timeout_s: float = 10.0


@dataclass(frozen=True)
class Recipient:
    name: str
    principal: Principal
    email: tuple[str, ...] = ()
    webhook: str | None = None
    secret_env: str | None = None
    digest: str = "none"

    def secret(self) -> bytes:
        value = os.environ.get(self.secret_env or "")
        if not value:
            raise OpevalError(f"recipient {self.name}: webhook secret ${self.secret_env} is not set")
        return value.encode("utf-8")


@dataclass(frozen=True)
class Delivery:
    """The delivery file as read: SMTP settings, webhook policy, recipients."""

    recipients: tuple[Recipient, ...] = ()
    smtp: Smtp | None = None
    webhook: WebhookPolicy = field(default_factory=WebhookPolicy)
    base_url: str = ""
    source: str | None = None


def beside(db: str | os.PathLike) -> Path:
    return Path(db).resolve().parent / FILE_NAME


def _take(table: dict, where: str, key: str, kind, default=None, required=False):
    if key not in table:
        if required:
            raise OpevalError(f"{where}: {key} is required")
        return default
    v = table[key]
    if kind is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
        raise OpevalError(f"{where}: {key} must be {kind.__name__}, not {v!r}")
    return v


def _unknown(table: dict, where: str, known: tuple[str, ...]) -> None:
    bad = [k for k in table if k not in known]
    if bad:
        raise OpevalError(f"{where}: unknown key {bad[0]!r}; expected one of {', '.join(known)}")


def _smtp(t: dict, where: str) -> Smtp:
    _unknown(t, where, ("host", "port", "security", "username", "password_env", "sender",
                        "timeout_s", "cafile"))
    s = Smtp(_take(t, where, "host", str, required=True),
             _take(t, where, "sender", str, required=True), _take(t, where, "port", int, 587),
             _take(t, where, "security", str, "starttls"), _take(t, where, "username", str),
             _take(t, where, "password_env", str),
             _take(t, where, "timeout_s", float, 30.0), _take(t, where, "cafile", str))
    if s.security not in SECURITY:
        raise OpevalError(f"{where}: security must be one of {', '.join(SECURITY)}")
    if not 0 < s.port < 65536:
        raise OpevalError(f"{where}: port must be 1-65535")
    if bool(s.username) != bool(s.password_env):
        raise OpevalError(f"{where}: username and password_env go together")
    if not _EMAIL.match(s.sender):
        raise OpevalError(f"{where}: sender is not an e-mail address: {s.sender!r}")
    return s


def _policy(t: dict, where: str) -> WebhookPolicy:
    _unknown(t, where, ("attempts", "backoff_s", "timeout_s"))
    p = WebhookPolicy(_take(t, where, "attempts", int, 4), _take(t, where, "backoff_s", float, 2.0),
                      _take(t, where, "timeout_s", float, 10.0))
    if p.attempts < 1 or p.backoff_s < 0 or p.timeout_s <= 0:
        raise OpevalError(f"{where}: attempts ≥ 1, backoff_s ≥ 0 and timeout_s > 0")
    return p


def _recipient(t: dict, where: str, users: Users | None) -> Recipient:
    _unknown(t, where, ("name", "role", "oc", "systems", "user", "email", "webhook",
                        "secret_env", "digest"))
    user = _take(t, where, "user", str)
    if user:
        if any(k in t for k in ("role", "oc", "systems")):
            raise OpevalError(f"{where}: a user's role and scope come from the users file")
        principal = users.principal(user) if users is not None else None
        if principal is None:
            raise OpevalError(f"{where}: no user {user!r} in the users file")
    else:
        role = _take(t, where, "role", str, required=True)
        try:
            principal = Principal(_take(t, where, "name", str, role), role,
                                  tuple(_take(t, where, "systems", list, [])),
                                  _take(t, where, "oc", str))
        except OpevalError as exc:
            raise OpevalError(f"{where}: {exc}") from None
    email = t.get("email", [])
    email = (email,) if isinstance(email, str) else tuple(email)
    bad = [e for e in email if not isinstance(e, str) or not _EMAIL.match(e)]
    if bad:
        raise OpevalError(f"{where}: not an e-mail address: {bad[0]!r}")
    hook = _take(t, where, "webhook", str)
    if hook is not None:
        u = urlsplit(hook)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise OpevalError(f"{where}: webhook must be an http(s) URL, not {hook!r}")
        if not _take(t, where, "secret_env", str):
            raise OpevalError(f"{where}: a webhook needs secret_env (the variable holding the "
                              "shared secret its payloads are signed with)")
    digest = _take(t, where, "digest", str, "none")
    if digest not in DIGESTS:
        raise OpevalError(f"{where}: digest must be one of {', '.join(DIGESTS)}")
    if not email and hook is None:
        raise OpevalError(f"{where}: give an email or a webhook")
    return Recipient(_take(t, where, "name", str, user or principal.role), principal, email,
                     hook, _take(t, where, "secret_env", str), digest)


def parse(text: str, source: str, users_file: str | os.PathLike | None = None) -> Delivery:
    """The delivery settings of a TOML text (``source`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OpevalError(f"{source}: not valid TOML: {exc}") from None
    _unknown(data, source, ("base_url", "smtp", "webhook", "recipients"))
    base_url = _take(data, source, "base_url", str, "").rstrip("/")
    if base_url and urlsplit(base_url).scheme not in ("http", "https"):
        raise OpevalError(f"{source}: base_url must be an http(s) URL, not {base_url!r}")
    smtp = _smtp(data["smtp"], f"{source} [smtp]") if "smtp" in data else None
    policy = _policy(data.get("webhook", {}), f"{source} [webhook]")
    entries = data.get("recipients", [])
    if not isinstance(entries, list):
        raise OpevalError(f"{source}: recipients must be an array of tables ([[recipients]])")
    users = None
    if any(isinstance(e, dict) and "user" in e for e in entries):
        if users_file is None:
            raise OpevalError(f"{source}: recipients name users but no users file is known")
        users = Users.load(users_file)
    out = [_recipient(e, f"{source} recipient {i + 1}", users) for i, e in enumerate(entries)]
    names = [r.name for r in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise OpevalError(f"{source}: recipient name {min(dup)!r} is given twice")
    if any(r.email for r in out) and smtp is None:
        raise OpevalError(f"{source}: recipients with an email need an [smtp] table")
    return Delivery(tuple(out), smtp, policy, base_url, source)


def load(db: str | os.PathLike, path: str | os.PathLike | None = None) -> Delivery:
    """``path``, else ``opeval-alerts.toml`` beside the database; no file: nobody to deliver
    to (alerts are still recorded)."""
    given = path is not None
    p = Path(path) if given else beside(db)
    if not p.exists():
        if given:
            raise OpevalError(f"{p}: no such delivery file")
        return Delivery()
    try:
        text = p.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OpevalError(f"{p}: cannot read the delivery file: {exc}") from None
    return parse(text, str(p), default_users_file(db))
