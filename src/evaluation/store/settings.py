"""Settings kept in a database (table ``meta``), each with its meaning and its check.

``opeval config KEY VALUE`` writes them through :func:`write`, which checks the
value first; readers get them back already parsed with :func:`codes` and
:func:`timezone`. The partner lists come from the e-Intervention spec (seed
``002_…``): §6 lists the rejections CODE_DO_INCONNU and CODE_OC_INCONNU "as for
CODE_OI_INCONNU", which need the codes this OI knows.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from .. import localtime
from ..errors import OpevalError
from . import db

CODE = re.compile(r"[0-9A-Z]{4}")      # an Interop operator code (Code_OI / Code_DO / Code_OC)


def _codes(key: str, text: str) -> str:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in codes if CODE.fullmatch(c) is None]
    if bad or not codes:
        raise OpevalError(f"{key}: expected 4-character codes [0-9A-Z] separated by commas, "
                          f"got {text!r}")
    return ",".join(dict.fromkeys(codes))


def _zone(key: str, text: str) -> str:
    localtime.zone(text)
    return text


@dataclass(frozen=True)
class Setting:
    doc: str
    check: Callable[[str, str], str]
    """(key, text) → the value to store, or a one-line :class:`OpevalError`."""


SETTINGS: dict[str, Setting] = {
    "oi_codes": Setting("comma-separated Code_OI values this database belongs to; M1/M3 "
                        "naming another OI are refused (default: the OI codes of the "
                        "loaded PMs)", _codes),
    "do_codes": Setting("comma-separated Code_DO values of the DOs this OI knows; when set, "
                        "M1/M3 from any other DO are answered CODE_DO_INCONNU (unset: any DO)",
                        _codes),
    "oc_codes": Setting("comma-separated Code_OC values of the OCs present on this network; "
                        "when set, M5 from any other OC are answered CODE_OC_INCONNU "
                        "(unset: any OC)", _codes),
    localtime.SETTING: Setting("IANA time zone (e.g. Europe/Paris) in which times sent "
                               "without offset are read and days are counted (default UTC)",
                               _zone),
}


def write(con: duckdb.DuckDBPyConnection, key: str, text: str) -> str | None:
    """Check and store ``text`` as setting ``key``; an empty text removes the setting.
    Returns what is stored (None when removed)."""
    if key not in SETTINGS:
        raise OpevalError(f"unknown setting {key!r}; expected one of {', '.join(SETTINGS)}")
    if not text.strip():
        con.execute("DELETE FROM meta WHERE key = ?", [key])
        return None
    value = SETTINGS[key].check(key, text.strip())
    db.set_setting(con, key, value)
    return value


def codes(con: duckdb.DuckDBPyConnection, key: str) -> set[str] | None:
    """The codes of a code-list setting, or None when it is unset."""
    value = db.get_setting(con, key)
    return None if value is None else {c for c in value.split(",") if c}


def timezone(con: duckdb.DuckDBPyConnection) -> str:
    """The database's time zone (``UTC`` when unset)."""
    return localtime.database_zone(lambda key: db.get_setting(con, key))
