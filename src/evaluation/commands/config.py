"""``opeval config [KEY [VALUE]]``: settings stored in the database.

The settings, their meaning and their checks are in :mod:`evaluation.store.settings`;
an empty VALUE removes a setting. Changing one is a short write in the writers'
turn (:func:`evaluation.store.writer.exclusive`): it waits behind a running load.
"""
from __future__ import annotations

from ..store import db, settings, writer
from ._output import add_wait_option, command_line, say_waiting


def register(sub, common) -> None:
    p = sub.add_parser(
        "config", parents=[common], help="show or change stored settings",
        description="Show every setting, show one (KEY) or change it (KEY VALUE; an empty "
                    "VALUE removes it). Settings: "
                    + "; ".join(f"{k}: {s.doc}" for k, s in settings.SETTINGS.items()) + ".")
    p.add_argument("key", nargs="?", choices=tuple(settings.SETTINGS), help="setting name")
    p.add_argument("value", nargs="?", help="new value ('' removes the setting)")
    add_wait_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.key and args.value is not None:
        with writer.exclusive(args.db, command_line(args), "config", args.wait,
                              say_waiting) as con:
            settings.write(con, args.key, args.value)
            _show(con, [args.key])
        return 0
    con = db.connect(args.db, read_only=True)
    try:
        _show(con, [args.key] if args.key else list(settings.SETTINGS))
    finally:
        con.close()
    return 0


def _show(con, keys: list[str]) -> None:
    for key in keys:
        print(f"{key} = {db.get_setting(con, key) or '(unset)'}")
