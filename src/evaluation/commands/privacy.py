"""``opeval purge``, ``opeval erase`` and ``opeval audit``: retention and erasure of personal data."""
from __future__ import annotations

import datetime as dt
import json

from ..errors import OpevalError
from ..store import db, privacy, writer
from ._output import add_wait_option, command_line, say_waiting


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise OpevalError(f"--before: expected a date YYYY-MM-DD, got {text!r}") from None


def register(sub, common) -> None:
    p = sub.add_parser(
        "purge", parents=[common], help="delete records that ended before a date (retention)",
        description="Delete faults restored, maintenance and alarms finished, interventions "
                    "(with their targets, M5 reports and cuts), supervision cuts, messages and "
                    "quarantined rows from before DATE, in one transaction; recorded in the "
                    "audit log. Open records and reference data (systems, devices, PMs) stay.")
    p.add_argument("--before", required=True, metavar="DATE", help="keep what ended on or after DATE")
    p.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    add_wait_option(p)
    p.set_defaults(func=run_purge)

    p = sub.add_parser(
        "erase", parents=[common], help="erase a customer line reference (PTO) everywhere",
        description="Replace one PTO reference in cuts, intervention targets, raw messages and "
                    "quarantined rows by a random token, so the line no longer identifies a "
                    "customer while counts stay right; recorded in the audit log by pseudonym.")
    p.add_argument("--pto", required=True, metavar="REF", help="the PTO reference, e.g. FI-1234-5678")
    add_wait_option(p)
    p.set_defaults(func=run_erase)

    p = sub.add_parser("audit", parents=[common], help="show the audit log (purges, erasures)")
    p.set_defaults(func=run_audit)


def _show(counts: dict[str, int]) -> str:
    return ", ".join(f"{t} {n}" for t, n in counts.items() if n) or "nothing"


def run_purge(args) -> int:
    before = _date(args.before)
    if args.dry_run:
        con = db.connect(args.db, read_only=True)
        try:
            counts = privacy.purge(con, before, dry_run=True)
        finally:
            con.close()
    else:
        with writer.exclusive(args.db, command_line(args), "purge", args.wait, say_waiting,
                              create=False) as con:
            counts = privacy.purge(con, before)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"purge before {before}: {verb} {sum(counts.values())} rows ({_show(counts)})")
    return 0


def run_erase(args) -> int:
    pto = args.pto.strip()
    if not pto:
        raise OpevalError("--pto: empty reference")
    with writer.exclusive(args.db, command_line(args), "erase", args.wait, say_waiting,
                          create=False) as con:
        counts = privacy.erase_pto(con, pto)
    print(f"erased PTO in {sum(counts.values())} rows ({_show(counts)})")
    return 0


def run_audit(args) -> int:
    con = db.connect(args.db, read_only=True)
    rows = con.execute("SELECT recorded_at, action, subject, details, rows_affected FROM audit_log "
                       "ORDER BY recorded_at").fetchall()
    for at, action, subject, details, n in rows:
        print(f"{at:%Y-%m-%d %H:%M:%S} {action} {subject or ''}: {n} rows "
              f"{json.dumps(json.loads(details)) if details else ''}")
    print(f"{len(rows)} audit record(s)")
    return 0
