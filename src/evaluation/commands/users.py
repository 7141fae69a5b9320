"""``opeval users add|remove|list``: the users file of ``opeval serve --auth``.

Passwords are read from the terminal (asked twice) or, with
``--password-stdin``, from the first line of standard input; only their salted
scrypt hash is written (:mod:`evaluation.auth.credentials`).
"""
from __future__ import annotations

import getpass
import sys

from ..auth.credentials import Users, default_users_file
from ..auth.roles import ROLES
from ..errors import OpevalError


def register(sub, common) -> None:
    p = sub.add_parser(
        "users", parents=[common], help="manage the users of `opeval serve --auth`",
        description="Add, remove or list the users who may log in to the dashboards, with "
                    "their role. The file keeps salted scrypt hashes of passwords, never the "
                    "passwords. A password needs at least 12 characters, 6 of them different, "
                    "not the user name nor a common word or keyboard run padded with digits. "
                    "Roles: " + ", ".join(ROLES) + ".")
    p.add_argument("--users", metavar="FILE", default=None,
                   help="users file (default: $OPEVAL_USERS or opeval-users.json beside the database)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("add", help="add a user or replace one's role/password")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument("--systems", default="", metavar="S1,S2",
                   help="alarm_operator: only these system ids (default: every system)")
    a.add_argument("--oc", default=None, metavar="CODE", help="oc: the operator's Code_OC")
    how = a.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    how.add_argument("--no-password", action="store_true",
                     help="no password: the user logs in through OAuth only")
    r = actions.add_parser("remove", help="remove a user")
    r.add_argument("name")
    actions.add_parser("list", help="list users and roles (never hashes)")
    p.set_defaults(func=run)


def _password(args) -> str | None:
    if args.no_password:
        return None
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise OpevalError("--password-stdin: empty password")
        return line
    first = getpass.getpass(f"password for {args.name}: ")
    if first != getpass.getpass("again: "):
        raise OpevalError("the two passwords differ")
    if not first:
        raise OpevalError("empty password")
    return first


def run(args) -> int:
    path = args.users or default_users_file(args.db)
    if args.action == "list":
        users = Users.load(path)
        for name in sorted(users.entries):
            w = users.principal(name)
            limits = (f" systems={','.join(w.systems)}" if w.systems else "") + (
                f" oc={w.oc}" if w.oc else "")
            login = "password" if "password" in users.entries[name] else "oauth only"
            print(f"{name}\t{w.role}{limits}\t{login}")
        print(f"{len(users.entries)} user(s) in {path}")
        return 0
    users = Users.load(path, missing_ok=(args.action == "add"))
    if args.action == "remove":
        users.remove(args.name)
        users.save()
        print(f"removed {args.name} from {path}")
        return 0
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    oc = args.oc.strip().upper() if args.oc else None
    users.add(args.name, args.role, None, systems, oc)  # validates before asking a password
    who = users.add(args.name, args.role, _password(args), systems, oc)
    users.save()
    print(f"user {who.name}: role {who.role}"
          + (f", systems {', '.join(who.systems)}" if who.systems else "")
          + (f", OC {who.oc}" if who.oc else "") + f" ({path})")
    return 0
