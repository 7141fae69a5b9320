"""Roles, the principal of a request, and which dashboard pages each role may open.

A role decides three things, all here and nowhere else:

* the pages it may open (:data:`PAGE_ACCESS`; the navigation shows only those and
  any other path answers 403);
* the tables it may read (:data:`TABLE_ACCESS`; the others look empty to it);
* the rows of those tables (:mod:`evaluation.auth.scope` turns the principal's
  systems / OC code into filters).

The roles follow the three users of opeval (docs/security.md): the risk manager
(chapter 6 evaluation of security systems), the alarm operator (alarm handling,
possibly limited to some systems), the network operator (the OI of e-Intervention:
interventions and cuts, customer line references in clear), an OC (commercial
operator: only its own customers' cuts, and DO codes pseudonymised as the OI's
flow 2 gives them), the analyst (every analysis, customer lines pseudonymised,
no raw messages) and the admin (everything).
"""
from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass

from ..errors import OpevalError
from ..store.schema import OPERATOR_CODE

ROLES = ("risk_manager", "alarm_operator", "network_operator", "oc", "analyst", "admin")

SECURITY_TABLES = ("systems", "devices", "faults", "maintenance", "alarms")
NETWORK_TABLES = ("pms", "interventions", "intervention_targets", "outage_reports", "outages")

# /alerts for every role: each sees there only the alerts of its scope (evaluation.alerts.scope).
PAGE_ACCESS: dict[str, frozenset[str]] = {
    "risk_manager": frozenset({"/", "/evaluation", "/alarms", "/alerts"}),
    "alarm_operator": frozenset({"/", "/alarms", "/alerts"}),
    "network_operator": frozenset({"/", "/data", "/outages", "/alerts"}),
    "oc": frozenset({"/", "/outages", "/alerts"}),
    "analyst": frozenset({"/", "/evaluation", "/alarms", "/outages", "/alerts"}),
    "admin": None,  # every registered page
}

TABLE_ACCESS: dict[str, frozenset[str]] = {
    "risk_manager": frozenset(SECURITY_TABLES),
    "alarm_operator": frozenset(SECURITY_TABLES),
    "network_operator": frozenset(NETWORK_TABLES),
    "oc": frozenset({"pms", "interventions", "outage_reports", "outages"}),
    "analyst": frozenset(SECURITY_TABLES + NETWORK_TABLES),
    "admin": frozenset(SECURITY_TABLES + NETWORK_TABLES),
}

# Roles that see customer line references (PTO) in clear; the others get pseudonyms.
PTO_IN_CLEAR = frozenset({"network_operator", "admin"})
# Roles that see the raw e-Intervention messages and rejected rows (both may hold PTOs).
RAW_RECORDS = frozenset({"network_operator", "admin"})

_SYSTEM_ID = re.compile(r"^[^\x00-\x1f]{1,200}$")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user name, a role, and the role's limits."""

    name: str
    role: str
    systems: tuple[str, ...] = ()   # alarm operator: only these systems (empty: all)
    oc: str | None = None           # OC: its Code_OC

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise OpevalError(f"unknown role {self.role!r}; roles: {', '.join(ROLES)}")
        if self.role == "oc":
            if not self.oc or not re.fullmatch(OPERATOR_CODE, self.oc):
                raise OpevalError(f"user {self.name!r}: role oc needs --oc CODE "
                                  "(4 characters 0-9 A-Z)")
        elif self.oc:
            raise OpevalError(f"user {self.name!r}: --oc applies to role oc only")
        if self.systems and self.role != "alarm_operator":
            raise OpevalError(f"user {self.name!r}: --systems applies to role alarm_operator only")
        for s in self.systems:
            if not _SYSTEM_ID.match(s):
                raise OpevalError(f"user {self.name!r}: bad system id {s!r}")

    @property
    def unrestricted(self) -> bool:
        """True when the principal reads the store as it is (no filter, no pseudonym)."""
        return self.role == "admin"

    def may_open(self, path: str) -> bool:
        allowed = PAGE_ACCESS[self.role]
        return allowed is None or ("/" + path.strip("/")) in allowed

    def may_read(self, table: str) -> bool:
        return table in TABLE_ACCESS[self.role]

    @property
    def scope_key(self) -> tuple:
        """What determines the rows this principal sees (principals with equal keys share data)."""
        return (self.role, tuple(sorted(self.systems)), self.oc)


# The server without --auth: one local user who sees everything.
LOCAL_ADMIN = Principal("local", "admin")

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "opeval_principal", default=None)


def current_principal() -> Principal:
    """The principal the page being built is for (the local admin outside a server)."""
    return _current.get() or LOCAL_ADMIN


def set_current_principal(principal: Principal | None) -> contextvars.Token:
    return _current.set(principal)


def reset_current_principal(token: contextvars.Token) -> None:
    _current.reset(token)


def visible_pages():
    """The registered pages the current principal may open, in registry order."""
    from ..views.pages import PAGES

    who = current_principal()
    return [p for p in PAGES.values() if who.may_open(p.path)]
