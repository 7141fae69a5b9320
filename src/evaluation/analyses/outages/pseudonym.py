"""DO codes pseudonymised for views meant for OCs.

Flow 2 of e-Intervention (§2.1.4) gives OCs *anonymised* timestamps: an OC
may see that an intervention happened, not which ordering party did it. A
plain hash would not protect a 4-character code (36⁴ values are enumerated in
a second), so the pseudonym is the database's keyed hash
(:func:`evaluation.store.privacy.pseudonym`, HMAC-SHA256 under the secret
``pseudonym_key`` kept in the database): stable for one key, so an OC can
follow one DO over time, and not reversible without the key. This module only
applies it to DO codes; the hash itself lives in the store's privacy module.
"""
from __future__ import annotations

import math

from ...store.privacy import pseudonym

#: Environment variable with the key (hex) when there is no database (lake, Spark).
KEY_ENV = "OPEVAL_PSEUDONYM_KEY"
#: Prefix of a DO pseudonym.
PREFIX = "DO"


def pseudonymise(values, key: bytes) -> list[str | None]:
    """Pseudonyms for a sequence of DO codes (each distinct code hashed once; None stays None)."""
    if not key:
        raise ValueError("a pseudonym key is required")
    cache: dict[str, str] = {}
    out: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
            continue
        if v not in cache:
            cache[v] = pseudonym(str(v), key, PREFIX)
        out.append(cache[v])
    return out
