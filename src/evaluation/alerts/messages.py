"""What a recipient reads: the text of an e-mail and the JSON of a webhook, made from
events already filtered and redacted for the recipient (:mod:`.scope`)."""
from __future__ import annotations

import datetime as dt
import json

from .store import CLEARED, FIRED, Event

WORDS = {FIRED: "NEW", CLEARED: "CLEARED", "acknowledged": "ACKNOWLEDGED",
         "resolved": "RESOLVED"}


def url(base_url: str, link: str) -> str:
    return f"{base_url}{link}" if base_url else link


def _evidence_lines(evidence: dict, indent: str = "    ") -> list[str]:
    out = []
    for k, v in evidence.items():
        text = json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, (dict, list)) \
            else str(v)
        if len(text) > 300:
            text = text[:297] + "..."
        out.append(f"{indent}{k}: {text}")
    return out


def subject(events: list[Event]) -> str:
    fired = sum(e.event == FIRED for e in events)
    cleared = sum(e.event == CLEARED for e in events)
    parts = ([f"{fired} new alert(s)"] if fired else []) + ([f"{cleared} cleared"] if cleared else [])
    return "[opeval] " + (", ".join(parts) or f"{len(events)} alert event(s)")


def text(events: list[Event], base_url: str = "") -> str:
    """Plain text, one block per event with its evidence and link."""
    lines = []
    for e in events:
        a = e.alert
        lines += [f"[{WORDS.get(e.event, e.event.upper())}] #{a.alert_id} {a.title}",
                  f"    rule: {a.rule}; fired {a.fired_at:%Y-%m-%d %H:%M} UTC"
                  + (f"; cleared {e.at:%Y-%m-%d %H:%M} UTC" if e.event == CLEARED else ""),
                  f"    see: {url(base_url, a.link)}"]
        lines += _evidence_lines(a.evidence)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def payload(events: list[Event], recipient: str, base_url: str = "") -> dict:
    """The webhook's JSON body."""
    out = []
    for e in events:
        d = e.as_dict()
        d["alert"]["url"] = url(base_url, e.alert.link)
        out.append(d)
    return {"source": "opeval", "recipient": recipient,
            "sent_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "events": out}
