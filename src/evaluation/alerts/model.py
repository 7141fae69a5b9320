"""What a rule finds: a :class:`Condition` (one subject for which the rule holds now), and
the :class:`Rule` itself."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

STATE = "state"
"""A rule on a state that holds for a while (an overdue maintenance, a PM among the
candidates): one alert when the state starts, cleared when it ends."""
EVENT = "event"
"""A rule on an event (a flood, a load): one alert per event, never cleared by the data
(a person resolves it)."""
CHANGE = "change"
"""A rule on a change against the value recorded at the previous run (a classification
that worsens): one alert per change, cleared when the value is back."""
KINDS = (STATE, EVENT, CHANGE)

SUBJECT_KEYS = ("system_id", "pm_id", "code_do", "code_oc", "ocs", "kind")
"""What an alert is about, as the role scope reads it (:mod:`.scope`)."""


def link(path: str, **query) -> str:
    """A page path and the query string of its filters (values left out when None)."""
    q = {k: v for k, v in query.items() if v is not None and v != ""}
    return path + ("?" + urlencode(q) if q else "")


@dataclass(frozen=True)
class Condition:
    """One subject for which a rule holds at this run.

    ``key`` names the subject within the rule (an episode is one rule and key);
    ``title`` is one line a person reads (never a DO code where an OC may see it);
    ``evidence`` the figures that made it fire (JSON-ready); ``link`` the page and
    filter that show it; ``subject`` what the role scope needs (:data:`SUBJECT_KEYS`).
    ``value`` is what a :data:`CHANGE` rule compares with the next run.
    """

    rule: str
    key: str
    title: str
    evidence: dict
    link: str
    subject: dict = field(default_factory=dict)
    value: str | None = None

    def __post_init__(self) -> None:
        bad = set(self.subject) - set(SUBJECT_KEYS)
        if bad:
            raise ValueError(f"unknown subject keys {sorted(bad)}")


@dataclass(frozen=True)
class Rule:
    """A rule: its name, the domain of data it reads, its kind, what it watches (``doc``,
    with the clause or benchmark), and ``check(ctx) -> list[Condition]``. A
    :data:`CHANGE` rule also returns, through ``observe(ctx)``, the current value of every
    subject it can judge (recorded as the baseline of the next run)."""

    name: str
    domain: str
    kind: str
    doc: str
    check: Callable
    observe: Callable | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"rule {self.name}: unknown kind {self.kind!r}")
        if (self.kind == CHANGE) != (self.observe is not None):
            raise ValueError(f"rule {self.name}: a change rule, and only it, observes values")
