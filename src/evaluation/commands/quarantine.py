"""``opeval quarantine [--load N]``: rejected rows with their file, line and reason."""
from __future__ import annotations

from ..store import db


def register(sub, common) -> None:
    p = sub.add_parser("quarantine", parents=[common], help="show quarantined rows and why",
                       description="List rows rejected by loads, newest load first.")
    p.add_argument("--load", type=int, metavar="N", help="only this load id")
    p.add_argument("--limit", type=int, default=50, help="rows to show (default 50)")
    p.set_defaults(func=run)


def run(args) -> int:
    con = db.connect(args.db, read_only=True)
    where, params = ("WHERE load_id = ?", [args.load]) if args.load is not None else ("", [])
    rows = con.execute(
        f"""SELECT load_id, kind, source_file, line, columns, reason FROM quarantine {where}
            ORDER BY load_id DESC, source_file, line LIMIT ?""", params + [args.limit]).fetchall()
    total = con.execute(f"SELECT count(*) FROM quarantine {where}", params).fetchone()[0]
    for load_id, kind, source, line, _columns, reason in rows:
        print(f"load {load_id} {kind} {source}:{line}: {reason}")
    print(f"{total} quarantined row(s)" + (f", first {len(rows)} shown" if total > len(rows) else ""))
    return 0
