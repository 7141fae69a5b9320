"""Alerts: rules evaluated after every load and on a schedule, their stored state, delivery
by e-mail and webhook within each role's data scope, and periodic digests.

* :mod:`.config` — :class:`AlertRules`, the thresholds only the alerts decide;
* :mod:`.rules` — each rule, with the clause or figure it watches, over the analyses'
  results (the same functions as the CLI and the pages);
* :mod:`.store` — alerts, their events and state (open, acknowledged, resolved) in the
  DuckDB store, written in the writers' turn;
* :mod:`.engine` — one run: check every rule, record what started and what cleared
  (an alert fires once per episode), deliver;
* :mod:`.scope` — which alerts a principal may see and their evidence as it may see it;
* :mod:`.recipients`, :mod:`.delivery` — who gets what, SMTP and signed webhooks;
* :mod:`.digest` — a period's summary for a role, with its PDF;
* :mod:`.service` — what the pages call (list, acknowledge, resolve, history).

No Panel here. docs/alerts.md describes the rules, thresholds, delivery and digests.
"""
from .config import AlertRules

__all__ = ["AlertRules"]
