"""The partners of the OI endpoint: each DO and OC with its bearer tokens.

A token is ``oi_<id>.<secret>``: the id (8 hex digits) names the row of the
journal's ``partners`` table, the secret (32 random bytes, URL-safe base 64) is
never stored — only its scrypt hash (the one of the dashboards' users file,
:func:`evaluation.auth.credentials.hash_password`). The token is shown once, when
it is made. The lot 1 OpenAPI names OAuth2 scopes: a DO's token carries
``write:interventions`` (``/intervention_DO``), an OC's ``write:clients``
(``/client_HS_OC_Par_Inter``).

Checking a token costs one scrypt (tens of milliseconds), so a token found good is
remembered in memory (by a SHA-256 of it) until the partners table changes (a
revocation takes effect within a quarter of a second). A token whose id is unknown is
refused without any hash computed.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass

from ..auth.credentials import check_password, hash_password
from ..errors import OpevalError
from . import journal

ROLES = {"do": "write:interventions", "oc": "write:clients"}
CODE = re.compile(r"[0-9A-Z]{4}")
TOKEN = re.compile(r"oi_([0-9a-f]{8})\.([A-Za-z0-9_-]{43})")
DEFAULT_RATE, DEFAULT_BURST = 100.0, 200
RECHECK = 0.25
"""Seconds between two looks at the partners table: a new or revoked token counts
within this delay."""


@dataclass(frozen=True)
class Partner:
    """An authenticated partner: its Interop code, role, token id and rate limit."""

    code: str
    role: str
    token_id: str
    rate: float
    burst: int

    @property
    def scope(self) -> str:
        return ROLES[self.role]


def add(con: sqlite3.Connection, code: str, role: str, rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST) -> str:
    """Register a token for partner ``code`` in ``role``; returns the token (shown once)."""
    if CODE.fullmatch(code) is None:
        raise OpevalError(f"{code!r} is not an Interop operator code (4 characters [0-9A-Z])")
    if role not in ROLES:
        raise OpevalError(f"role {role!r}: expected do or oc")
    if not rate > 0 or burst < 1:
        raise OpevalError("--rate must be above 0 and --burst at least 1")
    token_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    con.execute("INSERT INTO partners VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                [token_id, code, role, hash_password(secret), rate, burst, journal.now()])
    con.commit()
    return f"oi_{token_id}.{secret}"


def listing(con: sqlite3.Connection) -> list[dict]:
    """Every token (never its hash): code, role, id, rate, burst, created, revoked."""
    cur = con.execute("SELECT code, role, token_id, rate, burst, created_at, revoked_at "
                      "FROM partners ORDER BY code, created_at")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def revoke(con: sqlite3.Connection, who: str) -> int:
    """Revoke the tokens of partner code ``who``, or the one token whose id is ``who``;
    returns how many were revoked (0: nothing matched, an error for the CLI)."""
    n = con.execute("UPDATE partners SET revoked_at = ? WHERE revoked_at IS NULL "
                    "AND (code = ? OR token_id = ?)", [journal.now(), who, who]).rowcount
    con.commit()
    return n


class Gate:
    """Token checks for the endpoint, with the memory of good tokens described above;
    ``con`` is its own connection to the journal (at most every :data:`RECHECK` s it
    looks whether a token was added or revoked, and then reads the table again)."""

    def __init__(self, con: sqlite3.Connection):
        self._con = con
        self._lock = threading.Lock()
        self._version = None
        self._looked = -RECHECK
        self._rows: dict[str, tuple] = {}
        self._good: dict[bytes, Partner] = {}

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._looked < RECHECK:
            return
        self._looked = now
        version = self._con.execute(
            "SELECT count(*), max(created_at), max(revoked_at) FROM partners").fetchone()
        if version == self._version:
            return
        self._rows = {r[0]: r[1:] for r in self._con.execute(
            "SELECT token_id, code, role, token_hash, rate, burst FROM partners "
            "WHERE revoked_at IS NULL").fetchall()}
        self._good.clear()
        self._version = version

    def known(self, header: str | None) -> Partner | None | bool:
        """The partner of an ``Authorization: Bearer <token>`` header when that can be told
        without hashing: the partner for a token found good before, None for a header
        that is no token of ours; False when only :meth:`check` (one scrypt) can tell."""
        if not header or not header.startswith("Bearer "):
            return None
        token = header[7:].strip()
        m = TOKEN.fullmatch(token)
        if m is None:
            return None
        with self._lock:
            self._refresh()
            known = self._good.get(hashlib.sha256(token.encode()).digest())
            if known is not None:
                return known
            return False if m.group(1) in self._rows else None

    def check(self, header: str | None) -> Partner | None:
        """The partner of an ``Authorization: Bearer <token>`` header, or None."""
        known = self.known(header)
        if known is not False:
            return known
        token = header[7:].strip()
        m = TOKEN.fullmatch(token)
        with self._lock:
            row = self._rows.get(m.group(1))
        if row is None or not check_password(m.group(2), row[2]):
            return None
        partner = Partner(row[0], row[1], m.group(1), row[3], row[4])
        with self._lock:
            self._good[hashlib.sha256(token.encode()).digest()] = partner
        return partner

    def close(self) -> None:
        self._con.close()
