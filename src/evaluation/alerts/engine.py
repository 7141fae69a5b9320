"""One run of the alerts: check every rule, record what started and what cleared, deliver.

:func:`run` is what ``opeval alerts run``, the end of every load and the server's
schedule call. It reads the store read-only (the analyses run while the dashboards go on
reading), records the run in one short write in the writers' turn, sends the new
events to each recipient within its scope (outside the turn: a slow mail server never
holds the store), and logs the deliveries in a second short write. A delivery that
failed is tried again at the next run.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from .. import config, localtime
from ..config import Settings
from ..store import db, privacy, writer
from ..store.engine import open_tables
from ..store.schema import SCHEMA_VERSION
from . import delivery as send
from . import messages, scope, store
from .model import CHANGE, Condition
from .recipients import Delivery
from .rules import RULES, Context

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RunResult:
    """What one run did."""

    fired: list[store.Event] = field(default_factory=list)
    cleared: list[store.Event] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    """Rules that could not be checked (their alerts left as they were), with the reason."""
    deliveries: list[send.Outcome] = field(default_factory=list)

    def summary(self) -> str:
        failed = [o for o in self.deliveries if not o.ok]
        return (f"{len(self.fired)} alert(s) fired, {len(self.cleared)} cleared"
                + (f", {len(self.errors)} rule(s) not checked" if self.errors else "")
                + (f"; {len(self.deliveries) - len(failed)} delivery(ies) sent, "
                   f"{len(failed)} failed" if self.deliveries else ""))


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def check(ctx: Context, names: Iterable[str] | None = None
          ) -> tuple[dict[str, list[Condition]], dict[str, dict[str, str]], dict[str, str]]:
    """Every rule (or ``names``) on ``ctx``: the conditions found, the change rules'
    observed values, and the rules that failed (with a one-line reason)."""
    found, observed, errors = {}, {}, {}
    for name in names or RULES:
        rule = RULES[name]
        try:
            found[name] = rule.check(ctx)
            if rule.kind == CHANGE:
                observed[name] = rule.observe(ctx)
        except Exception as exc:    # one rule's failure must not stop the others
            errors[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            log.warning("alert rule %s not checked: %s", name, errors[name], exc_info=True)
    return found, observed, errors


def _read(path: str, thresholds: Settings, now: dt.datetime, today: dt.date | None,
          names) -> tuple[dict, dict, dict]:
    tables = open_tables(path)
    try:
        con = tables.backend.con
        ctx = Context(tables, thresholds, now,
                      today or localtime.local_date(now, tables.zone),
                      store.baselines(con))
        return check(ctx, names)
    finally:
        tables.backend.disconnect()


def migrate(path: str, command: str, wait: float | None = None, say=None) -> None:
    """Bring a store of an older schema to this one (it gains the alert tables), in one
    short write in the writers' turn; nothing when it is current."""
    import duckdb

    con = db.retry_locked(lambda: duckdb.connect(path, read_only=True), path,
                          db.lock_wait(read_only=True), reader=True)
    try:
        current = db.schema_version(con) == SCHEMA_VERSION
    finally:
        con.close()
    if not current:
        with writer.exclusive(path, command, "alerts (schema upgrade)", wait, say, create=False):
            pass


def _deliverable(d: Delivery) -> bool:
    return bool(d.recipients)


def run(path: str | os.PathLike, thresholds: Settings | None = None,
        delivery: Delivery | None = None, now: dt.datetime | None = None,
        today: dt.date | None = None, rules: Iterable[str] | None = None,
        command: str = "opeval alerts run", wait: float | None = None,
        say: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] | None = None) -> RunResult:
    """Check the rules on the store at ``path``, record the run and deliver (see the
    module docstring) with the ``thresholds`` in force (default: the settings file beside
    the database, :func:`evaluation.config.for_database`). ``now`` (naive UTC) and
    ``today`` (the database's local day) come from the clock unless given; ``rules``
    limits the run to some rules."""
    path = os.fspath(path)
    thresholds = thresholds or config.for_database(path)
    delivery = delivery or Delivery()
    now = now or utc_now()
    if not os.path.exists(path):
        db.connect(path, create=False)      # the one-line "does not exist" error
    migrate(path, command, wait, say)
    found, observed, errors = _read(path, thresholds, now, today, rules)
    result = RunResult(errors=errors)
    pending: dict[tuple[str, str], list[int]] = {}
    with writer.exclusive(path, command, "alerts", wait, say) as con:
        ids = store.record(con, RULES, found, observed, now)
        new = store.events(con, ids)
        result.fired = [e for e in new if e.event == store.FIRED]
        result.cleared = [e for e in new if e.event == store.CLEARED]
        key = None
        if _deliverable(delivery):
            if any(r.principal.role == "oc" for r in delivery.recipients):
                key = privacy.pseudonym_key(con)
            for r in delivery.recipients:
                for channel in _channels(r):
                    retry = store.undelivered(con, r.name, channel)
                    pending[(r.name, channel)] = sorted(set(retry) | set(ids))
            everything = {i for v in pending.values() for i in v}
            by_id = {e.event_id: e for e in store.events(con, sorted(everything))}
    if not _deliverable(delivery):
        return result
    logged = []
    for r in delivery.recipients:
        for channel in _channels(r):
            evs = [by_id[i] for i in pending[(r.name, channel)] if i in by_id]
            mine = scope.for_principal(evs, r.principal, key)
            if not mine:
                continue
            outcome = deliver(delivery, r, channel, mine, sleep)
            result.deliveries.append(outcome)
            logged.append((outcome, [e.event_id for e in mine]))
    if logged:
        with writer.exclusive(path, command, "alerts", wait, say) as con:
            at = utc_now()
            for outcome, event_ids in logged:
                store.log_delivery(con, event_ids, outcome.recipient, outcome.channel, at,
                                   "sent" if outcome.ok else "failed", outcome.attempts,
                                   outcome.detail)
    return result


def _channels(r) -> list[str]:
    return (["email"] if r.email else []) + (["webhook"] if r.webhook else [])


def deliver(d: Delivery, r, channel: str, events: list[store.Event],
            sleep: Callable[[float], None] | None = None) -> send.Outcome:
    """Send ``events`` (already within ``r``'s scope) over ``channel``."""
    if channel == "email":
        return send.mail(d.smtp, r, messages.subject(events), messages.text(events, d.base_url))
    return send.hook(d.webhook, r, messages.payload(events, r.name, d.base_url),
                     **({"sleep": sleep} if sleep else {}))


BACKGROUND_NICENESS = 10
"""How much lower than the pages the rules run after a load and on the server's schedule
(``nice`` steps): at 10 the scheduler gives a page being rendered about nine tenths of a
core they compete for."""


def after_load(path: str | os.PathLike, command: str, wait: float | None = None,
               say: Callable[[str], None] | None = None) -> str:
    """The alerts at the end of a load: a run with the delivery file beside the database.
    The load is committed already, so a failure here is reported in the line returned,
    never raised.

    The rules run every analysis on the whole database and would hold both cores while
    the dashboards render the data the load just made visible (issue 14: a first render
    of 22.7 s against 4 – 9 s before alerts ran after loads). They run on a thread of
    their own at a lower CPU priority (:func:`at_low_priority`): the pages come first,
    the alerts use the time the pages leave."""
    from ..errors import OpevalError
    from .recipients import load

    def check() -> str:
        try:
            return "alerts: " + run(path, delivery=load(path), command=command, wait=wait,
                                    say=say).summary()
        except (OpevalError, OSError) as exc:
            return f"alerts: not checked: {exc}"
    return at_low_priority(check, BACKGROUND_NICENESS)


def at_low_priority(work: Callable[[], T], niceness: int) -> T:
    """``work()`` on a new thread whose CPU priority is ``niceness`` steps lower, and its
    result (or its exception).

    On Linux the nice value belongs to a thread, and threads started by it (DuckDB's
    workers, created when the thread opens the database) inherit it: the calling
    thread and the rest of the process keep their priority. Elsewhere ``os.nice``
    lowers the whole process, which is what a command finishing its work wants too;
    where there is no ``os.nice`` (Windows) the work runs at the usual priority."""
    with ThreadPoolExecutor(1, "opeval-low-priority", lower_priority, (niceness,)) as pool:
        return pool.submit(work).result()


def lower_priority(niceness: int) -> None:
    """Lower the calling thread's CPU priority by ``niceness`` steps (see
    :func:`at_low_priority`); nothing where the system has no nice values."""
    with contextlib.suppress(AttributeError, OSError):
        os.nice(niceness)
