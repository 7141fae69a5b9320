"""Which alerts a principal may see, and their content as it may see it.

The role decides, as everywhere else (:mod:`evaluation.auth.roles`):

* an alert is shown only to a role that may open the page its link points to
  (``PAGE_ACCESS``): chapter 6 alerts to whoever opens ``/evaluation``, alarm alerts to
  ``/alarms``, network alerts to ``/outages``, load alerts to ``/data``;
* an alarm operator limited to systems sees only the alerts of those systems;
* an OC sees only the alerts about itself (its M5s) and the blacklist alerts of the PMs
  where it has cuts or M5s; never a DO's timestamp quality; in what it sees every DO code
  is replaced by its keyed pseudonym (flow 2 gives OCs anonymised interventions), and
  the cuts of other OCs, the other OCs present and the per-intervention cut counts (all
  OCs' cuts) are left out (:func:`redact`); the PM's own figures (rates over all
  covered interventions) stay, as the blacklist decides on them.
"""
from __future__ import annotations

from dataclasses import replace

from ..analyses.outages.pseudonym import PREFIX as DO_PREFIX
from ..auth.roles import Principal
from ..store.privacy import pseudonym
from .store import Alert, Event

OC_RULES = frozenset({"blacklist_candidate", "oc_m5_silent"})
"""The rules whose alerts an OC may receive (about its PMs or itself)."""


def visible(alert: Alert, who: Principal) -> bool:
    """May ``who`` see ``alert`` at all?"""
    if who.unrestricted:
        return True
    if not who.may_open(alert.link.split("?", 1)[0]):
        return False
    subject = alert.subject
    if who.role == "alarm_operator" and who.systems:
        return subject.get("system_id") in who.systems
    if who.role == "oc":
        if alert.rule not in OC_RULES:
            return False
        return subject.get("code_oc") == who.oc or who.oc in (subject.get("ocs") or [])
    return True


def _redact(value, who: Principal, key: bytes):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "code_do" and v is not None:
                out[k] = pseudonym(str(v), key, DO_PREFIX)
            elif k == "cuts_by_oc" and isinstance(v, dict):
                out[k] = {oc: n for oc, n in v.items() if oc == who.oc}
            elif k in ("ocs", "ref_interv_do") or (k == "cuts" and "ref_interv_oi" in value):
                continue        # other OCs present; the DO's reference; all OCs' cuts
            else:
                out[k] = _redact(v, who, key)
        return out
    if isinstance(value, list):
        return [_redact(v, who, key) for v in value
                if not (isinstance(v, dict) and v.get("code_oc") not in (None, who.oc))]
    return value


def redact(alert: Alert, who: Principal, key: bytes | None) -> Alert:
    """``alert`` as ``who`` may read it (the alert itself for every role but an OC).
    An OC needs the pseudonym ``key``."""
    if who.role != "oc":
        return alert
    if not key:
        raise ValueError("an OC's alerts need the pseudonym key")
    return replace(alert, evidence=_redact(alert.evidence, who, key),
                   subject=_redact(alert.subject, who, key))


def for_principal(events: list[Event], who: Principal, key: bytes | None) -> list[Event]:
    """The events ``who`` may see, their alerts redacted for it."""
    return [replace(e, alert=redact(e.alert, who, key)) for e in events if visible(e.alert, who)]
