"""``opeval digest --role ROLE --period week``: send the period's digest to every recipient
of that role in the delivery file (:mod:`evaluation.alerts.digest`, docs/alerts.md).

Each recipient gets its own digest, within its scope: what changed (alert events), the
open alerts, the headline figures of its pages with their trend against the period
before, and the PDF reports of the period attached. ``--no-send`` builds the digests and
prints them without sending; ``--out FILE.pdf`` also writes the first recipient's first
PDF (or, with no recipient of that role, the role's own digest is built and written).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..auth.roles import ROLES, Principal
from ..errors import OpevalError
from .alerts import iso_date


def register(sub, common) -> None:
    from ..alerts.digest import PERIODS
    p = sub.add_parser(
        "digest", parents=[common], help="send a role's digest of the last day or week",
        description="One message per recipient of ROLE in the delivery file "
                    "(opeval-alerts.toml beside the database, or --delivery): what changed, "
                    "open alerts, headline figures with their trend, the PDF reports attached. "
                    "The period ends at the database's local midnight (a week: on a Monday). "
                    "See docs/alerts.md.")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--oc", metavar="CODE", help="with --role oc and no recipient: this OC")
    p.add_argument("--period", choices=tuple(PERIODS), default="week")
    p.add_argument("--until", type=iso_date, metavar="DATE",
                   help="the period ends at this local midnight (default: the last whole period)")
    p.add_argument("--delivery", metavar="FILE",
                   help="delivery file (default: opeval-alerts.toml beside the database)")
    p.add_argument("--no-send", action="store_true", help="build and print, send nothing")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--out", metavar="FILE.pdf", help="also write the (first) attached PDF here")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import localtime
    from ..alerts import digest, recipients
    from ..store import db, settings
    delivery = recipients.load(args.db, args.delivery)
    con = db.connect(args.db, read_only=True)
    try:
        zone = settings.timezone(con)
    finally:
        con.close()
    end = localtime.day_start(args.until, zone) if args.until else None
    chosen = [r for r in delivery.recipients if r.principal.role == args.role]
    if args.no_send or not chosen:
        if not chosen and not args.no_send:
            raise OpevalError(f"no recipient of role {args.role} in the delivery file "
                              "(--no-send builds the role's digest without sending it)")
        who = [r.principal for r in chosen] or [Principal(args.role, args.role, (), args.oc)]
        key = digest.oc_key(args.db, who)
        done = [(p.name, digest.build(args.db, p, args.period, end, key=key), []) for p in who]
    else:
        done = [(r.name, d, o) for r, d, o in digest.send_role(args.db, delivery, args.role,
                                                                args.period, end)]
    if args.out and done and done[0][1].attachments:
        Path(args.out).write_bytes(done[0][1].attachments[0][2])
        print(f"written to {args.out}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps([{"recipient": n, **d.as_dict(), "deliveries": [o.__dict__ for o in out]}
                          for n, d, out in done], indent=2, ensure_ascii=False, default=str))
        return _status(done)
    lines = []
    for name, d, out in done:
        lines.append(f"== {name}: {d.subject()}")
        lines.append(d.text(delivery.base_url))
        lines += [f"  {'sent' if o.ok else 'FAILED'} {o.channel}: {o.detail}" for o in out]
    print("\n".join(lines))
    return _status(done)


def _status(done) -> int:
    """1 when a delivery failed (each is reported above), else 0."""
    return 1 if any(not o.ok for _n, _d, out in done for o in out) else 0
