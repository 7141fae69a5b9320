"""What the pages (and the CLI) call about alerts, with no Panel in it: list the alerts a
principal may see, one alert's history, acknowledge and resolve — each within the
principal's scope (:mod:`.scope`), each write in the store's writer turn."""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable

from ..auth.roles import Principal
from ..errors import OpevalError
from ..store import db, privacy, writer
from . import scope, store
from .engine import migrate, utc_now

COMMAND = "opeval alerts"


def _key(path: str, who: Principal) -> bytes | None:
    """The pseudonym key an OC's view needs (None for every other role)."""
    if who.role != "oc":
        return None
    from ..auth.scope import read_pseudonym_key
    key = read_pseudonym_key(path)
    if key:
        return key
    with writer.exclusive(path, COMMAND, "alerts (pseudonym key)", create=False) as con:
        return privacy.pseudonym_key(con)


def list_for(path: str | os.PathLike, who: Principal,
             states: tuple[str, ...] = (store.OPEN, store.ACKNOWLEDGED),
             limit: int | None = None) -> list[store.Alert]:
    """The alerts in ``states`` that ``who`` may see, as it may see them, latest first."""
    path = os.fspath(path)
    migrate(path, COMMAND)
    con = db.connect(path, read_only=True)
    try:
        alerts = store.list_alerts(con, states)
    finally:
        con.close()
    key = _key(path, who) if any(scope.visible(a, who) for a in alerts) else None
    out = [scope.redact(a, who, key) for a in alerts if scope.visible(a, who)]
    return out[:limit] if limit is not None else out


def last_check(path: str | os.PathLike) -> store.Check | None:
    """When the rules last ran on the store at ``path`` and which they checked (None:
    never; a store of an older schema has never run them)."""
    con = db.connect(os.fspath(path), read_only=True)
    try:
        return store.last_check(con)
    finally:
        con.close()


def _visible(con, alert_id: int, who: Principal) -> store.Alert:
    a = store.get(con, alert_id)
    if not scope.visible(a, who):
        raise OpevalError(f"no alert {alert_id}")    # the same answer as for a missing one
    return a


def history(path: str | os.PathLike, alert_id: int, who: Principal) -> list[dict]:
    """The events of one alert ``who`` may see, oldest first."""
    path = os.fspath(path)
    migrate(path, COMMAND)
    con = db.connect(path, read_only=True)
    try:
        _visible(con, alert_id, who)
        return store.history(con, alert_id)
    finally:
        con.close()


def _change(path: str | os.PathLike, alert_id: int, who: Principal, note: str | None,
            action: Callable, now: dt.datetime | None, wait: float | None) -> store.Alert:
    path = os.fspath(path)
    migrate(path, COMMAND, wait)
    with writer.exclusive(path, f"{COMMAND} {action.__name__} {alert_id}", "alerts", wait,
                          create=False) as con:
        _visible(con, alert_id, who)
        alert, _event = action(con, alert_id, who.name, now or utc_now(), note)
    return scope.redact(alert, who, _key(path, who))


def acknowledge(path: str | os.PathLike, alert_id: int, who: Principal, note: str | None = None,
                now: dt.datetime | None = None, wait: float | None = None) -> store.Alert:
    """``who`` acknowledges an open alert it may see (its name and the time are kept)."""
    return _change(path, alert_id, who, note, store.acknowledge, now, wait)


def resolve(path: str | os.PathLike, alert_id: int, who: Principal, note: str | None = None,
            now: dt.datetime | None = None, wait: float | None = None) -> store.Alert:
    """``who`` resolves an alert it may see."""
    return _change(path, alert_id, who, note, store.resolve, now, wait)
