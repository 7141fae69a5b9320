"""A hand-made alarm database for the /alarms page tests (unit and browser).

Loaded through the real ingest. Every number the tests assert is worked out
here by hand (times UTC; T1 = Monday 2025-03-03, T2 = the next day).

Day 1
- "Door held open" on D1 (system S1, priority 3, operator opA) raised at
  08:00:00, 08:00:20, 08:00:50, 08:05:00; each handled 60 s and closed 120 s
  after its raise, closed as false_alarm.
  Gaps 20, 30, 250 s: three repeats (≤ 600 s); the raise at 08:00:50 is the
  3rd within 60 s (span 50 s): one chatter raise; at 08:05:00 the span from
  08:00:20 is 280 s: no chatter.
- "Motion detected" on M01..M12 (system S2, priority 4, operator opB), one
  raise every 45 s from 10:00:00 (the last at 10:08:15), each on its own
  resource (no repeat, no chatter); handled after 300 s, closed after 600 s;
  even ones (M01, M03… by index 0, 2, …) handled, odd ones false_alarm.
  12 alarms in the 10:00–10:10 interval of S2: more than 10 → one flood of
  10 minutes, peak 12.
Day 2
- "Intrusion detected" on Z1 (S1, priority 1) at 09:00:00: status new, not
  assigned, not closed — the one open alarm. Its comment is HTML.
- "Door held open" on D1 at 12:00:00, operator opA, handled after 30 s,
  closed after 90 s as handled. Gap from 08:05:00 the day before:
  86,400 + 3 h 55 min = 100,500 s: not a repeat.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from evaluation.store import db
from evaluation.store.ingest import ingest

T1 = dt.datetime(2025, 3, 3)
T2 = dt.datetime(2025, 3, 4)
SCRIPT_COMMENT = "<script>window.__opeval_xss = 1</script>checked"
IMG_COMMENT = '<img src="x" onerror="window.__opeval_xss = 2">'

COLUMNS = ["alarm_id", "system_id", "definition", "event_type", "resource_id", "priority",
           "raised_at", "cleared_at", "handled_at", "assigned_to", "escalated_at", "closed_at",
           "status", "close_reason", "comment"]


def _iso(t: dt.datetime | None) -> str:
    return "" if t is None else t.isoformat()


def rows() -> list[dict]:
    out = []
    s = dt.timedelta(seconds=1)
    for i, sec in enumerate((0, 20, 50, 300)):
        raised = T1 + dt.timedelta(hours=8) + sec * s
        out.append({"alarm_id": f"A-D1-{i}", "system_id": "S1", "definition": "Door held open",
                        "event_type": "door", "resource_id": "D1", "priority": 3, "raised_at": raised,
                        "handled_at": raised + 60 * s, "assigned_to": "opA",
                        "closed_at": raised + 120 * s, "status": "closed", "close_reason": "false_alarm",
                        "comment": SCRIPT_COMMENT if i == 1 else ""})
    for i in range(12):
        raised = T1 + dt.timedelta(hours=10) + 45 * i * s
        out.append({"alarm_id": f"A-M-{i:02d}", "system_id": "S2", "definition": "Motion detected",
                        "event_type": "motion", "resource_id": f"M{i + 1:02d}", "priority": 4,
                        "raised_at": raised, "handled_at": raised + 300 * s, "assigned_to": "opB",
                        "closed_at": raised + 600 * s, "status": "closed",
                        "close_reason": "handled" if i % 2 == 0 else "false_alarm", "comment": ""})
    out.append({"alarm_id": "A-Z1", "system_id": "S1", "definition": "Intrusion detected",
                    "event_type": "intrusion", "resource_id": "Z1", "priority": 1,
                    "raised_at": T2 + dt.timedelta(hours=9), "status": "new", "comment": IMG_COMMENT})
    raised = T2 + dt.timedelta(hours=12)
    out.append({"alarm_id": "A-D1-4", "system_id": "S1", "definition": "Door held open",
                    "event_type": "door", "resource_id": "D1", "priority": 3, "raised_at": raised,
                    "handled_at": raised + 30 * s, "assigned_to": "opA", "closed_at": raised + 90 * s,
                    "status": "closed", "close_reason": "handled", "comment": ""})
    return out


def write_csv(path: Path, records: list[dict]) -> Path:
    import csv
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        for r in records:
            w.writerow({c: _iso(r.get(c)) if isinstance(r.get(c), dt.datetime) or
                        (c.endswith("_at") and r.get(c) is None) else
                        ("" if r.get(c) is None else r.get(c)) for c in COLUMNS})
    return path


def build(path: Path, workdir: Path, records: list[dict] | None = None) -> Path:
    """Create the database at ``path`` with ``records`` (default: :func:`rows`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    con = db.connect(path)
    try:
        result = ingest(con, "alarms", [write_csv(workdir / "alarms.csv", records or rows())],
                        strict=True)
    finally:
        con.close()
    assert result is not None
    return path


def empty(path: Path) -> Path:
    """A store with no alarm at all."""
    db.connect(path).close()
    return path
