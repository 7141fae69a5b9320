"""``opeval config [KEY [VALUE]]``: settings stored in the database.

``oi_codes`` (comma-separated) names the OIs this database belongs to; the
e-Intervention reception answers CODE_OI_INCONNU for any other Code_OI. When it
is unset, the OI codes of the loaded PMs are used.
"""
from __future__ import annotations

import re

from ..errors import OpevalError
from ..store import db

SETTINGS = {"oi_codes": "comma-separated Code_OI values this database belongs to"}


def register(sub, common) -> None:
    p = sub.add_parser("config", parents=[common], help="show or change stored settings",
                       description="Settings: " + "; ".join(f"{k}: {v}" for k, v in SETTINGS.items()))
    p.add_argument("key", nargs="?", choices=tuple(SETTINGS), help="setting name")
    p.add_argument("value", nargs="?", help="new value")
    p.set_defaults(func=run)


def run(args) -> int:
    con = db.connect(args.db)
    if args.key and args.value is not None:
        if args.key == "oi_codes":
            codes = [c.strip() for c in args.value.split(",") if c.strip()]
            bad = [c for c in codes if not re.fullmatch(r"[0-9A-Z]{4}", c)]
            if bad or not codes:
                raise OpevalError(f"oi_codes: expected 4-character codes [0-9A-Z], got {args.value!r}")
            args.value = ",".join(codes)
        db.set_setting(con, args.key, args.value)
    for key in ([args.key] if args.key else SETTINGS):
        print(f"{key} = {db.get_setting(con, key) or '(unset)'}")
    return 0
