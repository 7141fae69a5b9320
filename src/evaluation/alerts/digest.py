"""Digests: one message per recipient and period summarising it for the recipient's role.

A digest covers ``[start, end)`` — a day or a week ending at the database's local
midnight — and holds, within the recipient's scope (:mod:`.scope` for alerts,
:func:`evaluation.auth.scope.scoped_tables` for figures):

* **what changed**: the alert events of the period (fired, cleared, acknowledged,
  resolved);
* **open alerts**: those still open or acknowledged at the time it is made;
* **headline figures with their trend**: for each page the role may open, a few
  figures of the period beside the same figures of the period before (``trend`` is
  the difference; ``None`` where either is unknown). The figures come from the same
  functions as the CLI and the pages (``alarm_report``, the outages ``analyse``, the
  chapter 6 ``evaluate`` as of each period's end);
* **the PDF** of each of those pages' reports for the period (:mod:`evaluation.reports.pdf`),
  attached to the e-mail (a webhook gets the JSON only).

``opeval digest --role ROLE --period week`` sends it now; the server and
``opeval alerts watch`` call :func:`send_due`, which sends each recipient's digest
once per period it asked for (``digest = "day"`` or ``"week"`` in the delivery file),
remembering the last period sent in the store's settings.
"""
from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from dataclasses import dataclass, field

from .. import config, localtime
from ..auth.roles import Principal
from ..auth.scope import scoped_tables
from ..store import db, privacy, settings, writer
from ..store.engine import open_tables
from . import delivery as send
from . import scope, store
from .recipients import Delivery, Recipient

PERIODS = {"day": 1, "week": 7}
"""A digest period and its length in days (a week ends on a Monday, local midnight)."""

ALARM_FIGURES = (("alarms raised", "alarms"), ("average alarms per day", "avg_per_day"),
                 ("floods", "floods"), ("chattering alarms", "chattering_alarms"),
                 ("stale alarms", "stale"), ("false alarm rate", "false_alarm_rate"))
OUTAGE_FIGURES = (("covered interventions", "covered_interventions"),
                  ("impacted interventions", "impacted_interventions"),
                  ("incident rate", "incident_rate"))
ADJECTIVE = {"day": "daily", "week": "weekly"}
COMMAND = "opeval digest"


@dataclass
class Digest:
    """One recipient's digest (what is sent)."""

    role: str
    period: str
    start: dt.datetime
    end: dt.datetime
    zone: str
    changes: list[store.Event] = field(default_factory=list)
    open: list[store.Alert] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready (what a webhook receives; the PDFs are named, not included)."""
        return {"role": self.role, "period": self.period,
                "start": self.start.isoformat(), "end": self.end.isoformat(),
                "time_zone": self.zone, "changes": [e.as_dict() for e in self.changes],
                "open_alerts": [a.as_dict() for a in self.open], "figures": self.figures,
                "attachments": [name for name, _m, _b in self.attachments]}

    def subject(self) -> str:
        return (f"[opeval] {ADJECTIVE[self.period]} digest for {self.role}: {self.start:%Y-%m-%d} to "
                f"{self.end:%Y-%m-%d}, {len(self.open)} open alert(s)")

    def text(self, base_url: str = "") -> str:
        """The e-mail's plain text."""
        from .messages import text as event_text
        lines = [f"opeval {ADJECTIVE[self.period]} digest for {self.role}",
                 (f"Period: {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC "
                  f"(local midnights, {self.zone}); the previous period is as long, before it."),
                 "",
                 "Headline figures (this period / previous period / trend):"]
        for f in self.figures:
            lines.append(f"  {f['page']:<11} {f['label']}: {_fmt(f['current'])} / "
                         f"{_fmt(f['previous'])} / {_trend(f['trend'])}")
        if not self.figures:
            lines.append("  none: this role opens no page with figures")
        lines += ["", f"What changed: {len(self.changes)} alert event(s)"]
        if self.changes:
            lines.append(event_text(self.changes, base_url).rstrip())
        lines += ["", f"Open alerts now: {len(self.open)}"]
        for a in self.open:
            lines.append(f"  #{a.alert_id} {a.state}: {a.title}")
        if self.attachments:
            lines += ["", "Attached: " + ", ".join(n for n, _m, _b in self.attachments)]
        return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if v is None:
        return "unknown"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _trend(v) -> str:
    return "unknown" if v is None else ("+" if v > 0 else "") + _fmt(v)


def period_end(now: dt.datetime, period: str, zone: str) -> dt.datetime:
    """The end of the last whole ``period`` before ``now`` (naive UTC): the local midnight
    of today, or of the last Monday for a week."""
    today = localtime.local_date(now, zone)
    if period == "week":
        today -= dt.timedelta(days=today.weekday())
    return localtime.day_start(today, zone)


def _before(at: dt.datetime, days: int, zone: str) -> dt.datetime:
    """The local midnight ``days`` days before the local midnight ``at`` (naive UTC)."""
    return localtime.day_start(localtime.local_date(at, zone) - dt.timedelta(days=days), zone)


def _figure(page: str, label: str, cur, prev) -> dict:
    known = isinstance(cur, (int, float)) and isinstance(prev, (int, float))
    return {"page": page, "label": label, "current": cur, "previous": prev,
            "trend": (cur - prev) if known else None}


def _alarm_figures(tables, periods, rules) -> tuple[list[dict], dict]:
    from ..analyses.alarms.report import alarm_report
    (s, e), (ps, pe) = periods
    cur = alarm_report(tables["alarms"], as_of=e, since=s, rules=rules)
    prev = alarm_report(tables["alarms"], as_of=pe, since=ps, rules=rules)
    figs = [_figure("/alarms", label, cur["kpis"].get(k) if cur["kpis"]["alarms"] else None,
                    prev["kpis"].get(k) if prev["kpis"]["alarms"] else None)
            for label, k in ALARM_FIGURES]
    return figs, cur


def _outage_figures(tables, periods, zone, key, rules) -> tuple[list[dict], dict, dict]:
    from ..analyses.blacklist import blacklist
    from ..analyses.outages import analyse
    (s, e), (ps, pe) = periods
    cur = analyse(tables, since=s, as_of=e, pseudonym_key=key, zone=zone,
                  config=rules.outages).to_dict()
    prev = analyse(tables, since=ps, as_of=pe, pseudonym_key=key, zone=zone,
                   config=rules.outages).to_dict()
    figs = [_figure("/outages", label, cur["network"][k], prev["network"][k])
            for label, k in OUTAGE_FIGURES]
    b = blacklist(tables, since=s, as_of=e, zone=zone, config=rules.blacklist,
                  outage_config=rules.outages).to_dict()
    pb = blacklist(tables, since=ps, as_of=pe, zone=zone, config=rules.blacklist,
                   outage_config=rules.outages).to_dict()
    figs.append(_figure("/outages", "blacklist candidates", len(b["candidates"]),
                        len(pb["candidates"])))
    return figs, cur, b


def _evaluation_figures(tables, start: dt.date, end: dt.date, cfg) -> tuple[list[dict], dict]:
    from ..analyses.efficiency import evaluate
    cur = evaluate(tables, as_of=end, config=cfg).as_dict()
    prev = evaluate(tables, as_of=start, config=cfg).as_dict()
    c = Counter(s["classification"] for s in cur["systems"])
    p = Counter(s["classification"] for s in prev["systems"])
    from ..reports.pdf import CLASS_ORDER
    return [_figure("/evaluation", f"systems {k.replace('_', ' ')}", c[k], p[k])
            for k in CLASS_ORDER], cur


def build(path: str | os.PathLike, who: Principal, period: str = "week",
          end: dt.datetime | None = None, now: dt.datetime | None = None,
          key: bytes | None = None) -> Digest:
    """The digest of the ``period`` ending at ``end`` (naive UTC; default: the end of the
    last whole period) for ``who``, with the thresholds of the settings file beside the
    database (as the pages). An OC needs the store's pseudonym ``key``."""
    from ..reports import pdf
    from .engine import utc_now
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    path = os.fspath(path)
    now = now or utc_now()
    rules = config.for_database(path)
    tables = open_tables(path)
    try:
        zone = tables.zone
        end = end or period_end(now, period, zone)
        start = _before(end, PERIODS[period], zone)
        before = _before(start, PERIODS[period], zone)
        con = tables.backend.con
        d = Digest(who.role, period, start, end, zone,
                   scope.for_principal(store.events_between(con, start, end), who, key),
                   [scope.redact(a, who, key) for a in store.list_alerts(con)
                    if scope.visible(a, who)])
        mine = scoped_tables(tables, who, key)
        periods = ((start, end), (before, start))
        tag = f"{localtime.local_date(start, zone)}_{localtime.local_date(end, zone)}"
        if who.may_open("/evaluation"):
            # a date as of means through the end of that local day: the days before each end
            day = dt.timedelta(days=1)
            figs, data = _evaluation_figures(mine, localtime.local_date(start, zone) - day,
                                             localtime.local_date(end, zone) - day,
                                             rules.evaluation)
            d.figures += figs
            d.attachments.append((f"evaluation-{tag}.pdf", "application/pdf",
                                  pdf.evaluation_pdf(data, scope=who.name)))
        if who.may_open("/alarms"):
            figs, data = _alarm_figures(mine, periods, rules.alarms)
            d.figures += figs
            d.attachments.append((f"alarms-{tag}.pdf", "application/pdf",
                                  pdf.alarms_pdf(data,
                                                 scope=who.name)))
        if who.may_open("/outages"):
            figs, o, b = _outage_figures(mine, periods, zone, key if who.role == "oc" else None,
                                       rules)
            d.figures += figs
            d.attachments.append((f"outages-{tag}.pdf", "application/pdf",
                                  pdf.outages_pdf(o, b, key if who.role == "oc" else None,
                                                  scope=who.name)))
        return d
    finally:
        tables.backend.disconnect()


def oc_key(path: str | os.PathLike, who: list[Principal]) -> bytes | None:
    """The store's pseudonym key when one of ``who`` is an OC (made in the writers' turn
    the first time), else None."""
    if not any(p.role == "oc" for p in who):
        return None
    with writer.exclusive(os.fspath(path), COMMAND, "digest (pseudonym key)", create=False) as con:
        return privacy.pseudonym_key(con)


def deliver(d: Delivery, r: Recipient, digest: Digest) -> list[send.Outcome]:
    """Send ``digest`` to ``r``: the e-mail with the PDFs attached, the webhook its JSON."""
    out = []
    if r.email:
        out.append(send.mail(d.smtp, r, digest.subject(), digest.text(d.base_url),
                             tuple(digest.attachments)))
    if r.webhook:
        out.append(send.hook(d.webhook, r, {"source": "opeval", "recipient": r.name,
                                            "digest": digest.as_dict()}))
    return out


def send_role(path: str | os.PathLike, delivery: Delivery, role: str, period: str = "week",
              end: dt.datetime | None = None, now: dt.datetime | None = None
              ) -> list[tuple[Recipient, Digest, list[send.Outcome]]]:
    """Build and send the digest of every recipient of ``role`` in the delivery file."""
    path = os.fspath(path)
    chosen = [r for r in delivery.recipients if r.principal.role == role]
    key = oc_key(path, [r.principal for r in chosen])
    out = []
    for r in chosen:
        dg = build(path, r.principal, period, end, now, key)
        out.append((r, dg, deliver(delivery, r, dg)))
    return out


SETTING = "digest_sent:{}"
"""The store setting holding the end of the last period sent to a recipient."""


def send_due(path: str | os.PathLike, delivery: Delivery, now: dt.datetime | None = None
             ) -> list[str]:
    """Send each recipient's digest when a period it asked for has ended since the last
    one sent (the first is the last whole period); one line per digest sent."""
    from .engine import utc_now
    path = os.fspath(path)
    now = now or utc_now()
    wanted = [r for r in delivery.recipients if r.digest in PERIODS]
    if not wanted:
        return []
    con = db.connect(path, read_only=True)
    try:
        zone = settings.timezone(con)
        sent = {r.name: db.get_setting(con, SETTING.format(r.name)) for r in wanted}
    finally:
        con.close()
    due = [(r, period_end(now, r.digest, zone)) for r in wanted]
    due = [(r, end) for r, end in due if sent[r.name] is None
           or dt.datetime.fromisoformat(sent[r.name]) < end]
    if not due:
        return []
    key = oc_key(path, [r.principal for r, _e in due])
    lines = []
    for r, end in due:
        outcomes = deliver(delivery, r, build(path, r.principal, r.digest, end, now, key))
        if all(o.ok for o in outcomes):
            with writer.exclusive(path, COMMAND, "digest", create=False) as con:
                db.set_setting(con, SETTING.format(r.name), end.isoformat())
        lines += [f"digest {r.digest} to {r.name}: {'sent' if o.ok else 'FAILED'} "
                  f"({o.channel}: {o.detail})" for o in outcomes]
    return lines
