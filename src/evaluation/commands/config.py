"""``opeval config [KEY [VALUE]]``: settings stored in the database.

The settings, their meaning and their checks are in :mod:`evaluation.store.settings`;
an empty VALUE removes a setting.
"""
from __future__ import annotations

from ..store import db, settings


def register(sub, common) -> None:
    p = sub.add_parser(
        "config", parents=[common], help="show or change stored settings",
        description="Show every setting, show one (KEY) or change it (KEY VALUE; an empty "
                    "VALUE removes it). Settings: "
                    + "; ".join(f"{k}: {s.doc}" for k, s in settings.SETTINGS.items()) + ".")
    p.add_argument("key", nargs="?", choices=tuple(settings.SETTINGS), help="setting name")
    p.add_argument("value", nargs="?", help="new value ('' removes the setting)")
    p.set_defaults(func=run)


def run(args) -> int:
    con = db.connect(args.db)
    if args.key and args.value is not None:
        settings.write(con, args.key, args.value)
    for key in ([args.key] if args.key else settings.SETTINGS):
        print(f"{key} = {db.get_setting(con, key) or '(unset)'}")
    return 0
