"""State of the ``/alerts`` page: the alerts the user may see, one alert's evidence and
history, acknowledge and resolve.

Plain ``param.Parameterized`` (no Panel import): the page's Viewer and the unit tests
drive the same object. Everything goes through :mod:`evaluation.alerts.service` — the
same calls as ``opeval alerts list|ack|resolve|history`` — with the page's principal,
so the role's scope (:mod:`evaluation.alerts.scope`) decides what is listed and what
may be changed. The alerts live in the store itself (not in a role's scoped copy), so
the state reads ``store.source``.
"""
from __future__ import annotations

import json

import pandas as pd
import param

from ..alerts import service
from ..alerts.store import ACKNOWLEDGED, OPEN, RESOLVED, STATES, Alert
from ..auth.roles import LOCAL_ADMIN, Principal
from .queries import ReadOnlyStore

SHOW = {"open and acknowledged": (OPEN, ACKNOWLEDGED), "open": (OPEN,),
        "acknowledged": (ACKNOWLEDGED,), "resolved": (RESOLVED,), "all": STATES}
"""The state filter's choices (label -> states)."""
COLUMNS = ("alert_id", "state", "domain", "rule", "title", "fired_at", "active",
           "acknowledged_by", "resolved_by")
HISTORY_COLUMNS = ("at", "event", "by", "note")


class AlertsState(param.Parameterized):
    """Filter, selection and actions behind the ``/alerts`` page."""

    show = param.Selector(default="open and acknowledged", objects=list(SHOW),
                          doc="Which alerts to list, by state.")
    alert_id = param.Integer(default=None, allow_None=True,
                             doc="The alert whose evidence and history are shown.")

    def __init__(self, store: ReadOnlyStore, **params):
        self.store = store
        self.who: Principal = store.principal or LOCAL_ADMIN
        super().__init__(**params)

    def alerts(self) -> list[Alert]:
        """The alerts of the filter the principal may see, latest first."""
        return service.list_for(self.store.source, self.who, SHOW[self.show])

    def frame(self) -> pd.DataFrame:
        rows = [{c: getattr(a, c) for c in COLUMNS} for a in self.alerts()]
        return pd.DataFrame(rows, columns=list(COLUMNS))

    def selected(self) -> Alert | None:
        """The selected alert as the principal may read it (None: none, or not visible)."""
        if self.alert_id is None:
            return None
        found = [a for a in service.list_for(self.store.source, self.who, STATES)
                 if a.alert_id == self.alert_id]
        return found[0] if found else None

    def evidence(self) -> str:
        """The selected alert's evidence as indented JSON ('' with no selection)."""
        a = self.selected()
        return json.dumps(a.evidence, indent=2, ensure_ascii=False, default=str) if a else ""

    def history(self) -> pd.DataFrame:
        a = self.selected()
        rows = service.history(self.store.source, a.alert_id, self.who) if a else []
        return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))

    def acknowledge(self, note: str | None = None) -> Alert:
        """The principal acknowledges the selected alert (its name and the time are kept)."""
        return service.acknowledge(self.store.source, self._id(), self.who, note or None)

    def resolve(self, note: str | None = None) -> Alert:
        return service.resolve(self.store.source, self._id(), self.who, note or None)

    def _id(self) -> int:
        from ..errors import OpevalError
        if self.alert_id is None:
            raise OpevalError("select an alert first")
        return self.alert_id
