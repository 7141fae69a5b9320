"""Keyed, stable pseudonyms for DO codes in views meant for OCs.

Flow 2 of e-Intervention (§2.1.4) gives OCs *anonymised* timestamps: an OC
may see that an intervention happened, not which ordering party did it. A
plain hash would not protect a 4-character code (36⁴ values are enumerated in
a second), so the pseudonym is an HMAC-SHA256 under a secret key kept with the
database: stable for one key (an OC can follow "DO-7KQ2MA" over time), not
reversible without it. This is the only place DO codes are pseudonymised.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

#: ``meta`` setting holding the key (hex), created on first use by the commands.
KEY_SETTING = "pseudonym_key"
#: Environment variable that overrides the stored key.
KEY_ENV = "OPEVAL_PSEUDONYM_KEY"


def new_key() -> str:
    """A fresh random key (hex, 256 bits)."""
    return secrets.token_hex(32)


def pseudonym(code: str | None, key: str, prefix: str = "DO-") -> str | None:
    """The pseudonym of ``code`` under ``key``: ``prefix`` + 8 base-32 characters."""
    if code is None:
        return None
    if not key:
        raise ValueError("a pseudonym key is required")
    digest = hmac.new(key.encode(), str(code).encode(), hashlib.sha256).digest()
    return prefix + base64.b32encode(digest[:5]).decode().rstrip("=")


def pseudonymise(values, key: str, prefix: str = "DO-") -> list[str | None]:
    """Pseudonyms for a sequence of codes (each distinct code hashed once)."""
    cache: dict[str, str | None] = {}
    out = []
    for v in values:
        if v is None or v != v:  # None or NaN
            out.append(None)
            continue
        if v not in cache:
            cache[v] = pseudonym(v, key, prefix)
        out.append(cache[v])
    return out
