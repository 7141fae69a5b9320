"""The alerts' state in the store: one row per alert (one episode of one rule and key), its
events, the change rules' baselines and the delivery log.

An alert is ``open`` when it fires, ``acknowledged`` when a person says they have seen it
(who and when are kept), ``resolved`` when a person closes it or, for a state or change
rule, when its condition clears (``resolved_by`` = :data:`SYSTEM`). ``active`` says
whether the condition still holds: while it does, the episode goes on and no new alert
fires for the same rule and key, whatever its state (a person who resolves an alert whose
condition still holds is not paged again for it); once it has cleared, the next time the
condition holds is a new episode and a new alert.

Every write runs in the store's writer turn (:func:`evaluation.store.writer.exclusive`),
so it waits behind a load instead of failing, and readers know it applies. The DDL is
the store's (:data:`evaluation.store.db.ALERT_DDL`, schema version 3).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import duckdb

from ..errors import OpevalError
from ..store.db import get_setting, rollback, set_setting
from .model import CHANGE, EVENT, Condition, Rule

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
STATES = (OPEN, ACKNOWLEDGED, RESOLVED)
FIRED, CLEARED = "fired", "cleared"
"""Events a run records (a person's events are ``acknowledged`` and ``resolved``)."""
SYSTEM = "opeval"
"""Who resolves an alert whose condition cleared."""
CHECKED_AT, CHECKED_RULES = "alerts_checked_at", "alerts_checked_rules"
"""``meta`` keys of the last run: when (naive UTC, ISO) and which rules it checked (JSON
list), so that a reader can tell "nothing to report" from "never checked"."""

COLUMNS = ("alert_id", "rule", "key", "domain", "title", "evidence", "link", "subject", "state",
           "active", "fired_at", "last_seen_at", "cleared_at", "acknowledged_by",
           "acknowledged_at", "resolved_by", "resolved_at", "note")


@dataclass(frozen=True)
class Alert:
    """One alert as stored (``evidence`` and ``subject`` parsed)."""

    alert_id: int
    rule: str
    key: str
    domain: str
    title: str
    evidence: dict
    link: str
    subject: dict
    state: str
    active: bool
    fired_at: dt.datetime
    last_seen_at: dt.datetime
    cleared_at: dt.datetime | None
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    resolved_by: str | None
    resolved_at: dt.datetime | None
    note: str | None

    @classmethod
    def from_row(cls, row: tuple) -> Alert:
        d = dict(zip(COLUMNS, row))
        d["evidence"], d["subject"] = json.loads(d["evidence"]), json.loads(d["subject"])
        return cls(**d)

    def as_dict(self) -> dict:
        """JSON-ready (times ISO 8601, UTC)."""
        out = {}
        for k in COLUMNS:
            v = getattr(self, k)
            out[k] = v.isoformat() if isinstance(v, dt.datetime) else v
        return out


@dataclass(frozen=True)
class Event:
    """Something that happened to an alert: what a delivery sends."""

    event_id: int
    alert: Alert
    event: str
    at: dt.datetime
    by: str | None = None
    note: str | None = None

    def as_dict(self) -> dict:
        return {"event_id": self.event_id, "event": self.event, "at": self.at.isoformat(),
                "by": self.by, "note": self.note, "alert": self.alert.as_dict()}


def _select(where: str = "TRUE") -> str:
    return f"SELECT {', '.join(COLUMNS)} FROM alerts WHERE {where}"


def _text(v) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)


def _event(con, alert_id: int, at: dt.datetime, event: str, by: str | None = None,
           note: str | None = None) -> int:
    (eid,) = con.execute("SELECT nextval('alert_event_seq')").fetchone()
    con.execute("INSERT INTO alert_events VALUES (?, ?, ?, ?, ?, ?)",
                [eid, alert_id, at, event, by, note])
    return eid


def baselines(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """The change rules' recorded values: rule → key → value."""
    out: dict[str, dict[str, str]] = {}
    for rule, key, value in con.execute("SELECT rule, key, value FROM alert_baselines").fetchall():
        out.setdefault(rule, {})[key] = value
    return out


def active(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], Alert]:
    """The alerts whose episode goes on, by (rule, key)."""
    return {(a.rule, a.key): a for a in map(Alert.from_row,
                                            con.execute(_select("active")).fetchall())}


def record(con: duckdb.DuckDBPyConnection, rules: dict[str, Rule],
           found: dict[str, list[Condition]], observed: dict[str, dict[str, str]],
           now: dt.datetime) -> list[int]:
    """Record one run in one transaction; return the ids of the events it made.

    ``found`` holds, for each rule that ran, the conditions holding now; a rule left out
    (its data missing) changes nothing. For each condition without an active episode a
    new alert fires — except for an event rule whose key already had an alert (an event
    fires once, ever). An active episode whose condition is gone clears: the alert is
    resolved by :data:`SYSTEM` unless a person resolved it already. The change rules'
    baselines take the observed value of every key without an active episode. The run
    itself is noted (:func:`last_check`).
    """
    events: list[int] = []
    con.execute("BEGIN TRANSACTION")
    try:
        going = active(con)
        for name, conditions in found.items():
            rule = rules[name]
            seen = set()
            for c in conditions:
                seen.add(c.key)
                a = going.get((name, c.key))
                if a is not None:
                    con.execute("UPDATE alerts SET last_seen_at = ?, evidence = ? "
                                "WHERE alert_id = ?", [now, _text(c.evidence), a.alert_id])
                    continue
                if rule.kind == EVENT and con.execute(
                        "SELECT count(*) FROM alerts WHERE rule = ? AND key = ?",
                        [name, c.key]).fetchone()[0]:
                    continue
                (aid,) = con.execute("SELECT nextval('alert_id_seq')").fetchone()
                con.execute(
                    "INSERT INTO alerts (alert_id, rule, key, domain, title, evidence, link, "
                    "subject, state, active, fired_at, last_seen_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [aid, name, c.key, rule.domain, c.title, _text(c.evidence), c.link,
                     _text(c.subject), OPEN, rule.kind != EVENT, now, now])
                events.append(_event(con, aid, now, FIRED))
            for (r, key), a in going.items():
                if r != name or key in seen:
                    continue
                con.execute("UPDATE alerts SET active = false, cleared_at = ? WHERE alert_id = ?",
                            [now, a.alert_id])
                if a.state != RESOLVED:
                    con.execute("UPDATE alerts SET state = ?, resolved_by = ?, resolved_at = ? "
                                "WHERE alert_id = ?", [RESOLVED, SYSTEM, now, a.alert_id])
                events.append(_event(con, a.alert_id, now, CLEARED, SYSTEM,
                                     "the condition no longer holds"))
            if rule.kind == CHANGE:
                still = {key for (r, key), a in active(con).items() if r == name}
                for key, value in observed.get(name, {}).items():
                    if key not in still:
                        con.execute("INSERT OR REPLACE INTO alert_baselines VALUES (?, ?, ?, ?)",
                                    [name, key, value, now])
        set_setting(con, CHECKED_AT, now.isoformat())
        set_setting(con, CHECKED_RULES, json.dumps(sorted(found)))
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    return events


def events(con: duckdb.DuckDBPyConnection, event_ids: list[int]) -> list[Event]:
    """The events ``event_ids`` with their alerts, oldest first."""
    if not event_ids:
        return []
    rows = con.execute(
        "SELECT e.event_id, e.event, e.event_at, e.actor, e.note, "
        + ", ".join(f"a.{c}" for c in COLUMNS)
        + " FROM alert_events e JOIN alerts a USING (alert_id) "
          "WHERE list_contains(?, e.event_id) ORDER BY e.event_id", [event_ids]).fetchall()
    return [Event(r[0], Alert.from_row(r[5:]), r[1], r[2], r[3], r[4]) for r in rows]


def events_between(con: duckdb.DuckDBPyConnection, start: dt.datetime,
                   end: dt.datetime) -> list[Event]:
    """Every event in ``[start, end)`` (a digest's "what changed")."""
    ids = [r[0] for r in con.execute("SELECT event_id FROM alert_events WHERE event_at >= ? AND event_at < ?",
                                     [start, end]).fetchall()]
    return events(con, ids)


@dataclass(frozen=True)
class Check:
    """The last run of the rules on a store: when (naive UTC) and which rules it checked
    (a rule whose data was missing or that failed is not among them)."""

    at: dt.datetime
    rules: tuple[str, ...]


def last_check(con: duckdb.DuckDBPyConnection) -> Check | None:
    """The last run recorded (None: the rules were never run on this store)."""
    at = get_setting(con, CHECKED_AT)
    if at is None:
        return None
    return Check(dt.datetime.fromisoformat(at),
                 tuple(json.loads(get_setting(con, CHECKED_RULES) or "[]")))


def get(con: duckdb.DuckDBPyConnection, alert_id: int) -> Alert:
    row = con.execute(_select("alert_id = ?"), [alert_id]).fetchone()
    if row is None:
        raise OpevalError(f"no alert {alert_id}")
    return Alert.from_row(row)


def list_alerts(con: duckdb.DuckDBPyConnection, states: tuple[str, ...] = (OPEN, ACKNOWLEDGED),
                limit: int | None = None) -> list[Alert]:
    """Alerts in ``states``, the latest first."""
    bad = [s for s in states if s not in STATES]
    if bad:
        raise OpevalError(f"unknown alert state {bad[0]!r}; states: {', '.join(STATES)}")
    sql = _select("list_contains(?, state)") + " ORDER BY fired_at DESC, alert_id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [Alert.from_row(r) for r in con.execute(sql, [list(states)]).fetchall()]


def history(con: duckdb.DuckDBPyConnection, alert_id: int) -> list[dict]:
    """The events of one alert, oldest first."""
    get(con, alert_id)
    rows = con.execute("SELECT event_id, event_at, event, actor, note FROM alert_events "
                       "WHERE alert_id = ? ORDER BY event_id", [alert_id]).fetchall()
    return [{"event_id": e, "at": at.isoformat(), "event": ev, "by": by, "note": note}
            for e, at, ev, by, note in rows]


def acknowledge(con: duckdb.DuckDBPyConnection, alert_id: int, by: str, now: dt.datetime,
                note: str | None = None) -> tuple[Alert, int]:
    """Mark an open alert acknowledged by ``by``; return it and the event id."""
    a = get(con, alert_id)
    if a.state != OPEN:
        raise OpevalError(f"alert {alert_id} is {a.state}; only an open alert can be acknowledged")
    con.execute("UPDATE alerts SET state = ?, acknowledged_by = ?, acknowledged_at = ? "
                "WHERE alert_id = ?", [ACKNOWLEDGED, by, now, alert_id])
    eid = _event(con, alert_id, now, ACKNOWLEDGED, by, note)
    return get(con, alert_id), eid


def resolve(con: duckdb.DuckDBPyConnection, alert_id: int, by: str, now: dt.datetime,
            note: str | None = None) -> tuple[Alert, int]:
    """Mark an alert resolved by ``by`` (open or acknowledged); return it and the event id."""
    a = get(con, alert_id)
    if a.state == RESOLVED:
        raise OpevalError(f"alert {alert_id} is already resolved (by {a.resolved_by})")
    con.execute("UPDATE alerts SET state = ?, resolved_by = ?, resolved_at = ?, note = ? "
                "WHERE alert_id = ?", [RESOLVED, by, now, note, alert_id])
    eid = _event(con, alert_id, now, RESOLVED, by, note)
    return get(con, alert_id), eid


def log_delivery(con: duckdb.DuckDBPyConnection, event_ids: list[int], recipient: str,
                 channel: str, now: dt.datetime, status: str, attempts: int,
                 detail: str | None) -> None:
    for eid in event_ids:
        con.execute("INSERT INTO alert_deliveries VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [eid, recipient, channel, now, status, attempts, detail])


def undelivered(con: duckdb.DuckDBPyConnection, recipient: str, channel: str) -> list[int]:
    """Events whose last delivery to ``recipient`` over ``channel`` failed (sent again at
    the next run)."""
    rows = con.execute(
        "SELECT event_id FROM alert_deliveries WHERE recipient = ? AND channel = ? "
        "GROUP BY event_id HAVING arg_max(status, sent_at) = 'failed' ORDER BY event_id",
        [recipient, channel]).fetchall()
    return [r[0] for r in rows]
