"""State of the ``/`` page: what needs attention today and what the database holds (no
Panel import)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import param

from .. import localtime
from ..alerts import service
from ..alerts.store import ACKNOWLEDGED, OPEN, Alert, Check
from ..auth.roles import LOCAL_ADMIN
from ..store.schema import TABLES
from .pages import PAGES, Page
from .queries import ReadOnlyStore

_BOOKKEEPING_DOCS = {
    "load_log": "One row per file of each load: counts and outcome.",
    "quarantine": "Input rows rejected by loads, with file, line and reason.",
    "messages": "e-Intervention messages received and the answer given to each.",
}


ATTENTION = (
    ("blacklist_candidate", "Blacklist candidates", "/outages", "interventions"),
    ("maintenance_overdue", "Maintenance overdue", "/evaluation", "systems"),
    ("alarm_flood", "Alarm floods", "/alarms", "alarms"),
    ("stale_alarms", "Stale alarms", "/alarms", "alarms"),
)
"""What ``/`` says needs attention today, as (alert rule, card title, page, the table
without which the rule has nothing to judge): the open and acknowledged alerts of these
rules (:mod:`evaluation.alerts.rules` states each rule and
its threshold once; the page, the digests and the deliveries read the same alerts)."""


@dataclass(frozen=True)
class Card:
    """One rule's alerts on ``/``: ``alerts`` the ones ``who`` may see, latest first;
    ``checked`` whether the last run checked the rule (False: it failed) and ``data``
    whether the principal's store holds rows the rule reads: without either, "none" would
    be a verdict without evidence."""

    rule: str
    title: str
    page: str
    alerts: tuple[Alert, ...]
    checked: bool
    data: bool


@dataclass(frozen=True)
class Attention:
    """The cards of the rules the principal's pages cover, the count of its other open
    alerts (on ``/alerts``), and the run they come from (None: the rules never ran) with
    the database's time zone to print it in."""

    check: Check | None
    zone: str
    cards: tuple[Card, ...]
    others: int


class IndexState(param.Parameterized):
    """The registered pages and a summary of the tables in the database."""

    def __init__(self, store: ReadOnlyStore, **params):
        self.store = store
        super().__init__(**params)

    def pages(self) -> list[Page]:
        """The registered pages the store's principal may open, except the index itself."""
        return [p for p in PAGES.values() if p.path != "/" and self.store.may_open(p.path)]

    def attention(self) -> Attention:
        """The open and acknowledged alerts the principal may see, by :data:`ATTENTION`
        rule, as of the last run of the rules on the store."""
        who = self.store.principal or LOCAL_ADMIN
        check = service.last_check(self.store.source)
        alerts = service.list_for(self.store.source, who, (OPEN, ACKNOWLEDGED)) if check else []
        rows = self._rows()
        cards = tuple(
            Card(rule, title, page, tuple(a for a in alerts if a.rule == rule),
                 check is not None and rule in check.rules, rows.get(table, 0) > 0)
            for rule, title, page, table in ATTENTION if self.store.may_open(page))
        shown = {c.rule for c in cards}
        zone = localtime.database_zone(lambda key: self.store.value(
            "SELECT value FROM meta WHERE key = ?", [key]))
        return Attention(check, zone, cards, sum(a.rule not in shown for a in alerts))

    def _rows(self) -> dict[str, int]:
        """Rows per table, from one read of :meth:`ReadOnlyStore.table_counts` (a call of
        :meth:`attention` or :meth:`headline` reads the counts once, not once per column)."""
        counts = self.store.table_counts()
        return dict(zip(counts["table"], counts["rows"]))

    def summary(self) -> pd.DataFrame:
        """Table name, row count and what the table holds, contract tables first."""
        out = self.store.table_counts()
        out["holds"] = [TABLES[t].doc if t in TABLES else _BOOKKEEPING_DOCS[t]
                        for t in out["table"]]
        return out

    def headline(self) -> dict[str, int]:
        """Counts for the one-line summary: input rows, tables holding rows, bookkeeping."""
        counts = self._rows()
        contract = {t: int(n) for t, n in counts.items() if t in TABLES}
        return {
            "rows": sum(contract.values()),
            "tables_with_rows": sum(1 for n in contract.values() if n > 0),
            "tables": len(contract),
            "loads": int(self.store.value("SELECT count(DISTINCT load_id) FROM load_log")),
            "quarantined": int(counts["quarantine"]),
            "messages": int(counts["messages"]),
        }
