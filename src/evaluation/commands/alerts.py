"""``opeval alerts run|watch|list|ack|resolve|history``: the alert rules, their state and
their delivery (docs/alerts.md).

``run`` checks every rule once, records what fired and what cleared and delivers it (the
end of every ``opeval ingest`` does the same); ``watch --every MINUTES`` runs it, and the
digests that are due, until stopped (for a service manager). ``list``, ``ack``,
``resolve`` and ``history`` read or change the stored alerts as a user or role sees them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import time

from .. import config
from ..auth.roles import LOCAL_ADMIN, ROLES, Principal
from ..errors import OpevalError
from ._output import add_wait_option, command_line, emit, say_waiting


def add_principal_options(p: argparse.ArgumentParser) -> None:
    """``--user NAME`` (role and scope from the users file) or ``--role ROLE [--oc CODE]
    [--systems S1,S2]``; neither: everything (the local admin)."""
    g = p.add_argument_group("as whom (default: everything, as the local admin)")
    g.add_argument("--user", metavar="NAME", help="a user of the users file: its role and scope")
    g.add_argument("--role", choices=ROLES, help="a role and its scope")
    g.add_argument("--oc", metavar="CODE", help="with --role oc: the operator's Code_OC")
    g.add_argument("--systems", metavar="S1,S2", default="",
                   help="with --role alarm_operator: only these systems")
    g.add_argument("--users", metavar="FILE", default=None,
                   help="users file (default: $OPEVAL_USERS or opeval-users.json beside the database)")


def principal_from_args(args) -> Principal:
    if args.user and args.role:
        raise OpevalError("give --user or --role, not both")
    if args.user:
        from ..auth.credentials import Users, default_users_file
        who = Users.load(args.users or default_users_file(args.db)).principal(args.user)
        if who is None:
            raise OpevalError(f"no user {args.user!r} in the users file")
        return who
    if args.role:
        systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
        return Principal(args.role, args.role, systems, args.oc)
    if args.oc or args.systems:
        raise OpevalError("--oc and --systems go with --role")
    return LOCAL_ADMIN


def iso_date(text: str) -> dt.date:
    """An argparse type: YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(sub, common) -> None:
    from ..alerts.rules import RULES
    p = sub.add_parser(
        "alerts", parents=[common], help="alert rules: run them, list, acknowledge, resolve",
        description="Alerts fire once per episode when a rule starts to hold (a PM enters the "
                    "blacklist, a maintenance becomes overdue, a flood, ...), are stored with "
                    "their state (open, acknowledged, resolved) and delivered by e-mail and "
                    "webhook to the recipients of opeval-alerts.toml, each within its role's "
                    "scope. See docs/alerts.md.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def runner(name: str, help_: str) -> argparse.ArgumentParser:
        r = actions.add_parser(name, parents=[common], help=help_)
        r.add_argument("--delivery", metavar="FILE",
                       help="delivery file (default: opeval-alerts.toml beside the database; "
                            "none: alerts are recorded, nothing is sent)")
        r.add_argument("--no-deliver", action="store_true", help="record only, send nothing")
        r.add_argument("--rule", action="append", dest="rules", choices=sorted(RULES),
                       metavar="RULE", help="only this rule (repeatable): " + ", ".join(RULES))
        r.add_argument("--today", type=iso_date, metavar="DATE",
                       help="the day the validity rules compare with (default: today in the "
                            "database's time zone)")
        add_wait_option(r)
        config.add_config_option(r)
        return r

    r = runner("run", "check every rule once, record and deliver")
    r.add_argument("--format", choices=("text", "json"), default="text")
    r.add_argument("--out", metavar="FILE", help="write the result to FILE instead of stdout")
    r.set_defaults(func=run)
    w = runner("watch", "run the rules and the due digests every few minutes until stopped")
    w.add_argument("--every", type=float, default=15.0, metavar="MINUTES",
                   help="minutes between runs (default 15)")
    w.add_argument("--times", type=int, default=0, metavar="N",
                   help="stop after N runs (default 0: never)")
    w.set_defaults(func=watch)

    ls = actions.add_parser("list", parents=[common], help="the alerts a user or role sees")
    ls.add_argument("--state", default="open,acknowledged", metavar="S1,S2",
                    help="open, acknowledged, resolved or all (default open,acknowledged)")
    ls.add_argument("--limit", type=int, default=None, metavar="N")
    ls.add_argument("--format", choices=("text", "json"), default="text")
    ls.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    add_principal_options(ls)
    ls.set_defaults(func=list_)
    for name, help_ in (("ack", "acknowledge an open alert"), ("resolve", "resolve an alert")):
        a = actions.add_parser(name, parents=[common], help=help_)
        a.add_argument("alert_id", type=int, metavar="ID")
        a.add_argument("--by", metavar="NAME",
                       help="who does it (default: --user, else the role's name)")
        a.add_argument("--note", metavar="TEXT", help="why, or what was done")
        add_principal_options(a)
        add_wait_option(a)
        a.set_defaults(func=change)
    h = actions.add_parser("history", parents=[common], help="the events of one alert")
    h.add_argument("alert_id", type=int, metavar="ID")
    h.add_argument("--format", choices=("text", "json"), default="text")
    h.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    add_principal_options(h)
    h.set_defaults(func=history)


def _delivery(args):
    from ..alerts import recipients
    return None if args.no_deliver else recipients.load(args.db, args.delivery)


def run(args) -> int:
    from ..alerts.engine import run as run_alerts
    result = run_alerts(args.db, config.for_command(args), delivery=_delivery(args),
                        today=args.today, rules=args.rules, command=command_line(args),
                        wait=args.wait, say=say_waiting)
    if args.format == "json":
        return emit(args, json.dumps(result_dict(result), indent=2, ensure_ascii=False))
    return emit(args, render_result(result))


def result_dict(result) -> dict:
    return {"fired": [e.as_dict() for e in result.fired],
            "cleared": [e.as_dict() for e in result.cleared], "errors": result.errors,
            "deliveries": [o.__dict__ for o in result.deliveries]}


def render_result(result) -> str:
    lines = [f"alerts: {result.summary()}"]
    for e in result.fired + result.cleared:
        lines.append(f"  {e.event:<7} #{e.alert.alert_id:<5} {e.alert.title}")
    for name, why in result.errors.items():
        lines.append(f"  not checked: {name}: {why}")
    for o in result.deliveries:
        lines.append(f"  {'sent' if o.ok else 'FAILED':<6} {o.channel:<7} to {o.recipient}: "
                     f"{o.detail} ({o.attempts} tr{'y' if o.attempts == 1 else 'ies'})")
    return "\n".join(lines)


def watch(args) -> int:
    """Run, then sleep ``--every`` minutes, until stopped (or ``--times`` runs)."""
    from ..alerts.digest import send_due
    from ..alerts.engine import run as run_alerts
    if args.every <= 0:
        raise OpevalError("--every must be positive")
    n = 0
    while True:
        delivery = _delivery(args)
        result = run_alerts(args.db, config.for_command(args), delivery=delivery,
                            today=args.today, rules=args.rules, command=command_line(args),
                            wait=args.wait, say=say_waiting)
        print(render_result(result), flush=True)
        if delivery is not None:
            for line in send_due(args.db, delivery):
                print(line, flush=True)
        n += 1
        if args.times and n >= args.times:
            return 0
        time.sleep(args.every * 60)


def _states(text: str) -> tuple[str, ...]:
    from ..alerts.store import STATES
    if text.strip() == "all":
        return STATES
    return tuple(s.strip() for s in text.split(",") if s.strip())


def list_(args) -> int:
    from ..alerts.service import list_for
    alerts = list_for(args.db, principal_from_args(args), _states(args.state), args.limit)
    if args.format == "json":
        return emit(args, json.dumps([a.as_dict() for a in alerts], indent=2, ensure_ascii=False))
    lines = [f"{len(alerts)} alert(s)"]
    for a in alerts:
        who = (f" by {a.acknowledged_by}" if a.state == "acknowledged" else
               f" by {a.resolved_by}" if a.state == "resolved" else "")
        lines.append(f"  #{a.alert_id:<5} {a.state}{who:<14} {a.fired_at:%Y-%m-%d %H:%M}  "
                     f"{a.title}\n         {a.link}")
    return emit(args, "\n".join(lines))


def change(args) -> int:
    from ..alerts import service
    who = principal_from_args(args)
    if args.by:
        who = Principal(args.by, who.role, who.systems, who.oc)
    action = service.acknowledge if args.action == "ack" else service.resolve
    a = action(args.db, args.alert_id, who, args.note, wait=args.wait)
    print(f"alert {a.alert_id} {a.state} by {who.name}")
    return 0


def history(args) -> int:
    from ..alerts.service import history as events
    rows = events(args.db, args.alert_id, principal_from_args(args))
    if args.format == "json":
        return emit(args, json.dumps(rows, indent=2, ensure_ascii=False))
    return emit(args, "\n".join(f"{r['at']}  {r['event']:<12} {r['by'] or '-':<12} {r['note'] or ''}"
                                for r in rows))


__all__ = ["add_principal_options", "iso_date", "principal_from_args", "register"]
