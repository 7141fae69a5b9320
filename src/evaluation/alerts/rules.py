"""The alert rules, each stated once, over the results of the analyses.

Every rule reads what the CLI and the pages read — :func:`evaluation.analyses.efficiency.
evaluate`, :func:`evaluation.analyses.alarms.alarm_report`,
:func:`evaluation.analyses.outages.analyse`, :func:`evaluation.analyses.blacklist.blacklist`,
the store's ``load_log`` — with the thresholds in force (:class:`evaluation.config.Settings`,
the tables of the settings file, ``[alerts]`` for the rules' own). A rule
returns the subjects for which it holds *now*; :mod:`.engine` turns the differences
between two runs into alerts (one per episode).

=========================  ======  ==========================================================
rule                       kind    holds when
=========================  ======  ==========================================================
``blacklist_candidate``    state   a PM is a blacklist candidate (e-Intervention §6 evolution;
                                   funnel, shrinkage and attribution of ``BlacklistConfig``)
``alarm_chattering``       state   an alarm definition on a resource chatters in the last
                                   ``alarm_lookback_days`` (``AlarmRules``: 3 raises in 60 s,
                                   or chatter index ψ ≥ 0.05)
``alarm_flood``            event   a flood (ISA-18.2: more than 10 alarms in a 10-minute
                                   period) in the last ``alarm_lookback_days``
``stale_alarms``           state   on the last day of data a system has at least the
                                   ISA-18.2 benchmark of stale alarms standing (fewer than
                                   5 on any day is met)
``maintenance_overdue``    state   the evaluation finds the periodic maintenance overdue
                                   (DB33/T 830-2011 5.1.2)
``evaluation_expiring``    state   today is at most ``expiry_warning_days`` before the
                                   evaluation's ``valid_until`` (6.1)
``evaluation_expired``     state   today is after ``valid_until`` (6.1)
``classification_worse``   change  the classification is worse than at the previous run
                                   (fit < fit_with_remarks < impaired < unfit)
``oc_m5_silent``           state   an OC that sends M5s (flow 3) sent none for the
                                   interventions of the last ``m5_silence_days`` at its PMs
``do_timestamp_quality``   state   a DO's timestamp quality over the last
                                   ``network_lookback_days`` is below
                                   ``do_timestamp_quality_min``
``load_quarantine``        event   a load quarantined more than ``quarantine_share_max`` of
                                   the rows it read
=========================  ======  ==========================================================
"""
from __future__ import annotations

import datetime as dt
import json
from functools import cached_property

import ibis
import pandas as pd

from ..analyses.outages.quality import timestamp_quality
from ..config import Settings
from ..store.engine import Tables
from .model import CHANGE, EVENT, STATE, Condition, Rule, link

EVIDENCE_ROWS = 20
"""How many rows (interventions, alarms, findings) an alert's evidence lists at most; the
count of all of them is given beside."""

CLASS_RANK = {"fit": 0, "fit_with_remarks": 1, "impaired": 2, "unfit": 3}
"""The classifications of the evaluation, best first (:mod:`..analyses.efficiency.audit`);
``insufficient_evidence`` is no rank: a system without enough records cannot worsen."""


class Context:
    """What the rules read at one run: the tables, the thresholds, the day ``today`` (for
    validity; the clock's day by default, given in tests), the clock time ``now`` (for the
    loads, which are dated by the clock), and the baselines of the change rules. Each
    analysis runs at most once, when a rule first asks for it."""

    def __init__(self, tables: Tables, thresholds: Settings, now: dt.datetime,
                 today: dt.date, baselines: dict[str, dict[str, str]] | None = None):
        self.tables = tables
        self.t = thresholds
        self.now = now
        self.today = today
        self.baselines = baselines or {}

    def _has_rows(self, name: str) -> bool:
        return bool(self.tables[name].count().execute())

    @cached_property
    def evaluation(self) -> dict | None:
        """The chapter 6 evaluation as of the data's last day (as ``opeval evaluate``)."""
        if not self._has_rows("systems"):
            return None
        from ..analyses.efficiency import evaluate
        try:
            return evaluate(self.tables, config=self.t.evaluation).as_dict()
        except ValueError:
            return None

    @cached_property
    def alarm_report(self) -> dict | None:
        """The alarm report of the last ``alarm_lookback_days`` of data (as ``opeval alarms
        --since``)."""
        from ..analyses.alarms import alarm_report
        from ..analyses.alarms.report import data_end
        alarms = self.tables["alarms"]
        end = data_end(alarms)
        if end is None:
            return None
        since = end - dt.timedelta(days=self.t.alerts.alarm_lookback_days)
        report = alarm_report(alarms, since=since, rules=self.t.alarms)
        report["_since"] = since
        return report

    @cached_property
    def network_end(self) -> dt.datetime | None:
        """The latest intervention start (HD) of the data."""
        v = self.tables["interventions"].started_at.max().execute()
        return None if pd.isna(v) else v.to_pydatetime()

    @cached_property
    def blacklist(self) -> dict | None:
        """The blacklist over the whole data (as ``opeval blacklist``)."""
        if self.network_end is None:
            return None
        from ..analyses.blacklist import blacklist
        return blacklist(self.tables, config=self.t.blacklist, outage_config=self.t.outages,
                         zone=self.tables.zone).to_dict()

    @cached_property
    def outages_recent(self) -> dict | None:
        """The outage analysis of the last ``network_lookback_days`` of data (as ``opeval
        outages --since``)."""
        if self.network_end is None:
            return None
        from ..analyses.outages import analyse
        since = self.network_end - dt.timedelta(days=self.t.alerts.network_lookback_days)
        return analyse(self.tables, since=since, config=self.t.outages,
                       zone=self.tables.zone).to_dict()

    @cached_property
    def oc_pms(self) -> dict[str, list[str]]:
        """The OCs present at each PM (cuts or M5s there): who may see an alert on a PM."""
        o = self.tables["outages"]
        cuts = o.select(code_oc=o.code_oc.cast("string"), pm_id=o.pm_id.cast("string"))
        rep, iv = self.tables["outage_reports"], self.tables["interventions"]
        m5 = rep.join(iv, rep.ref_interv_oi == iv.ref_interv_oi).select(
            code_oc=rep.code_oc.cast("string"), pm_id=iv.pm_id.cast("string"))
        df = cuts.union(m5, distinct=True).execute()
        out: dict[str, list[str]] = {}
        for oc, pm in sorted(df.itertuples(index=False, name=None)):
            out.setdefault(pm, []).append(oc)
        return out


def _day(v) -> dt.date | None:
    return None if v is None else dt.date.fromisoformat(str(v)[:10])


def _systems(ctx: Context):
    ev = ctx.evaluation
    return [] if ev is None else ev["systems"]


def _period(ev: dict) -> dict:
    return {"as_of": ev["as_of"], "window": ev["window"]}


# ------------------------------------------------------------------ chapter 6

def maintenance_overdue(ctx: Context) -> list[Condition]:
    out = []
    for s in _systems(ctx):
        if not s["maintenance_overdue"]:
            continue
        late = [{"subsystem": c["subsystem"], "last_maintenance": c["last_maintenance"],
                 "due": c["due"], "days_since_maintenance": c["days_since_maintenance"]}
                for c in s["maintenance_cycle"] if c["overdue"]]
        out.append(Condition(
            "maintenance_overdue", s["system_id"],
            f"{s['system_id']}: periodic maintenance overdue ({len(late)} subsystem(s))",
            {**_period(ctx.evaluation), "cycle": s["cycle"], "overdue": late},
            link("/evaluation", system=s["system_id"], as_of=ctx.evaluation["as_of"]),
            {"system_id": s["system_id"]}))
    return out


def _validity(s: dict, ctx: Context) -> dict:
    until = _day(s["valid_until"])
    return {**_period(ctx.evaluation), "classification": s["classification"],
            "valid_until": s["valid_until"], "today": ctx.today.isoformat(),
            "days_left": (until - ctx.today).days}


def evaluation_expiring(ctx: Context) -> list[Condition]:
    warn = ctx.t.alerts.expiry_warning_days
    out = []
    for s in _systems(ctx):
        until = _day(s["valid_until"])
        if until is None or not (0 <= (until - ctx.today).days <= warn):
            continue
        ev = _validity(s, ctx)
        out.append(Condition(
            "evaluation_expiring", s["system_id"],
            f"{s['system_id']}: evaluation valid until {s['valid_until']} "
            f"({ev['days_left']} day(s) left)",
            {**ev, "expiry_warning_days": warn},
            link("/evaluation", system=s["system_id"], as_of=ctx.evaluation["as_of"]),
            {"system_id": s["system_id"]}))
    return out


def evaluation_expired(ctx: Context) -> list[Condition]:
    out = []
    for s in _systems(ctx):
        until = _day(s["valid_until"])
        if until is None or ctx.today <= until:
            continue
        out.append(Condition(
            "evaluation_expired", s["system_id"],
            f"{s['system_id']}: evaluation expired on {s['valid_until']}",
            _validity(s, ctx),
            link("/evaluation", system=s["system_id"], as_of=ctx.evaluation["as_of"]),
            {"system_id": s["system_id"]}))
    return out


def classifications(ctx: Context) -> dict[str, str]:
    """Each system's classification now, where it is ranked (the change rule's values)."""
    return {s["system_id"]: s["classification"] for s in _systems(ctx)
            if s["classification"] in CLASS_RANK}


def classification_worse(ctx: Context) -> list[Condition]:
    before = ctx.baselines.get("classification_worse", {})
    out = []
    for s in _systems(ctx):
        was, now = before.get(s["system_id"]), s["classification"]
        if was not in CLASS_RANK or now not in CLASS_RANK or CLASS_RANK[now] <= CLASS_RANK[was]:
            continue
        bad = [{"clause": f["clause"], "requirement": f["requirement"],
                "severity": f["severity"], "evidence": f["evidence"]}
               for f in s["findings"] if f["status"] == "nonconforming"]
        out.append(Condition(
            "classification_worse", s["system_id"],
            f"{s['system_id']}: classification worsened from {was} to {now}",
            {**_period(ctx.evaluation), "from": was, "to": now,
             "nonconforming": bad[:EVIDENCE_ROWS], "nonconforming_count": len(bad)},
            link("/evaluation", system=s["system_id"], as_of=ctx.evaluation["as_of"]),
            {"system_id": s["system_id"]}, value=now))
    return out


# ------------------------------------------------------------------ alarms

def _alarm_window(r: dict) -> dict:
    return {"since": r["_since"].isoformat(), "as_of": r["kpis"]["as_of"]}


def _alarm_link(r: dict, start: str | None = None, **q) -> str:
    """The alarms page over the rule's window (or from ``start``), with filters ``q``."""
    return link("/alarms", **{"from": (start or r["_since"].isoformat())[:10],
                              "to": r["kpis"]["as_of"][:10]}, **q)


def alarm_chattering(ctx: Context) -> list[Condition]:
    r = ctx.alarm_report
    if r is None:
        return []
    rules = ctx.t.alarms
    chat = [d for d in r["definitions"] if d["chattering"]]
    if not chat:
        return []
    # the systems of each chattering definition on its resource (a resource has one system)
    a = ctx.tables["alarms"]
    pairs = [(d["definition"], d["resource_id"]) for d in chat]
    sys_df = (a.filter(a.raised_at >= r["_since"])
              .filter(ibis.or_(*[(a.definition == d) & (a.resource_id == res) for d, res in pairs]))
              .select("definition", "resource_id", "system_id").distinct().execute())
    systems: dict[tuple, str | None] = {}
    for d, res, s in sys_df.itertuples(index=False, name=None):
        systems[(d, res)] = None if pd.isna(s) else s
    out = []
    for d in chat:
        system = systems.get((d["definition"], d["resource_id"]))
        out.append(Condition(
            "alarm_chattering", json.dumps([system, d["definition"], d["resource_id"]]),
            f"{d['definition']} on {d['resource_id']} chatters "
            f"({d['chatter_raises']} chatter raise(s), ψ {d['chatter_index']:.3f})",
            {**_alarm_window(r), "definition": d["definition"], "resource_id": d["resource_id"],
             "alarms": d["alarms"], "chatter_raises": d["chatter_raises"],
             "chatter_index": d["chatter_index"], "first_raised": d["first_raised"],
             "last_raised": d["last_raised"],
             "rule": (f"{rules.chatter_raises} raises within {rules.chatter_window_s:g} s, or "
                      f"chatter index ψ ≥ {rules.chatter_index_threshold:g}")},
            _alarm_link(r, system=system, definition=d["definition"], history=d["definition"],
                        resource=d["resource_id"]),
            {"system_id": system}))
    return out


def alarm_flood(ctx: Context) -> list[Condition]:
    r = ctx.alarm_report
    if r is None:
        return []
    rules = ctx.t.alarms
    return [Condition(
        "alarm_flood", json.dumps([f["system_id"], f["start"]]),
        f"{f['system_id']}: alarm flood from {f['start']} to {f['end']} "
        f"({f['alarms']} alarms, peak {f['peak_per_10min']} in 10 min)",
        {**_alarm_window(r), **{k: f[k] for k in ("start", "end", "minutes", "alarms",
                                                   "peak_per_10min", "intervals")},
         "top_contributors": f["top_contributors"],
         "rule": f"more than {rules.flood_threshold} alarms in {rules.interval_s // 60} minutes"},
        _alarm_link(r, start=f["start"], system=f["system_id"]),
        {"system_id": f["system_id"]}) for f in r["floods"]]


def stale_alarms(ctx: Context) -> list[Condition]:
    r = ctx.alarm_report
    if r is None:
        return []
    limit = ctx.t.alarms.benchmarks["stale_max_per_day"]
    last = r["period"]["last_day"]     # the local day of as_of, as stale_daily's days
    out = []
    for d in r["stale_daily"]:
        if d["day"][:10] != last or d["max_stale"] < limit:
            continue
        standing = [{k: x.get(k) for k in ("alarm_id", "definition", "resource_id", "raised_at",
                                            "age_h")}
                    for x in r["stale"] if x.get("system_id") == d["system_id"]]
        out.append(Condition(
            "stale_alarms", d["system_id"],
            f"{d['system_id']}: {d['max_stale']} stale alarms standing on {last} "
            f"(benchmark: fewer than {limit})",
            {**_alarm_window(r), "day": last, "max_stale": d["max_stale"],
             "benchmark": f"fewer than {limit} stale alarms on any day (ISA-18.2)",
             "stale_after_h": ctx.t.alarms.stale_after_h,
             "standing": standing[:EVIDENCE_ROWS], "standing_count": len(standing)},
            _alarm_link(r, system=d["system_id"]),
            {"system_id": d["system_id"]}))
    return out


# ------------------------------------------------------------------ network

def _cuts_by_oc(cuts: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in cuts:
        out[c["code_oc"]] = out.get(c["code_oc"], 0) + 1
    return dict(sorted(out.items()))


def blacklist_candidate(ctx: Context) -> list[Condition]:
    b = ctx.blacklist
    if b is None:
        return []
    cfg = b["config"]
    out = []
    for c in b["candidates"]:
        ev = c["evidence"]
        figures = {k: c[k] for k in ("rank", "interventions", "covered_interventions",
                                     "impacted_interventions", "incident_rate", "shrunken_rate",
                                     "posterior_prob_above", "funnel_upper", "funnel_p_value",
                                     "score", "attribution", "rate_ratio", "rate_ratio_lo",
                                     "rate_ratio_hi")}
        interventions = [{k: i[k] for k in ("ref_interv_oi", "code_do", "hd", "hf", "cuts")}
                         for i in ev["interventions"]]
        out.append(Condition(
            "blacklist_candidate", c["pm_id"],
            f"PM {c['pm_id']} is a blacklist candidate (incident rate "
            f"{c['incident_rate']:.1%} over {c['covered_interventions']} covered interventions, "
            f"network {b['network_rate']:.1%})",
            {"period": b["period"], "network_rate": b["network_rate"], **figures,
             "trend": c["trend"]["direction"],
             "rule": (f"≥ {cfg['min_covered']} covered interventions, above the "
                      f"{cfg['funnel_level']:.1%} funnel, P(rate > network) ≥ "
                      f"{cfg['min_posterior']:.0%}"),
             "impacted_interventions_listed": interventions[:EVIDENCE_ROWS],
             "cuts_by_oc": _cuts_by_oc(ev["cuts"])},
            link("/outages", since=b["period"]["start"][:10], as_of=b["period"]["end"][:10],
                 pm=c["pm_id"]),
            {"pm_id": c["pm_id"], "ocs": ctx.oc_pms.get(c["pm_id"], [])}))
    return out


def do_timestamp_quality(ctx: Context) -> list[Condition]:
    o = ctx.outages_recent
    if o is None:
        return []
    cfg = ctx.t.alerts
    out = []
    for d in o["dos"]:
        q = timestamp_quality(d)
        if d["code_do"] is None or q is None or d["interventions"] < cfg.do_min_interventions \
                or q >= cfg.do_timestamp_quality_min:
            continue
        out.append(Condition(
            "do_timestamp_quality", d["code_do"],
            f"DO {d['code_do']}: timestamp quality {q:.1%} over {d['interventions']} "
            f"interventions (threshold {cfg.do_timestamp_quality_min:.0%})",
            {"period": o["period"], "timestamp_quality": q,
             "threshold": cfg.do_timestamp_quality_min,
             **{k: d[k] for k in ("interventions", "missing_hf", "interventions_cut_before_hd",
                                  "interventions_cut_after_hf", "cuts_before_hd", "cuts_after_hf")}},
            link("/outages", since=o["period"]["start"][:10], as_of=o["period"]["end"][:10],
                 do=d["code_do"]),
            {"code_do": d["code_do"]}))
    return out


def oc_m5_silent(ctx: Context) -> list[Condition]:
    end = ctx.network_end
    if end is None:
        return []
    cfg = ctx.t.alerts
    start = end - dt.timedelta(days=cfg.m5_silence_days)
    iv, rep = ctx.tables["interventions"], ctx.tables["outage_reports"]
    m5 = rep.join(iv, rep.ref_interv_oi == iv.ref_interv_oi).select(
        rep.code_oc, rep.received_at, iv.started_at)
    last = m5.group_by("code_oc").agg(m5=m5.count(), last_hd=m5.started_at.max(),
                                      last_received=m5.received_at.max()).execute()
    recent = iv.filter(iv.started_at > start).select("pm_id", "ref_interv_oi").execute()
    out = []
    for oc, n, last_hd, last_rx in last.itertuples(index=False, name=None):
        last_hd = last_hd.to_pydatetime()
        if last_hd > start:
            continue
        pms = {pm for pm, ocs in ctx.oc_pms.items() if oc in ocs}
        at_pms = recent[recent.pm_id.isin(pms)]
        if len(at_pms) < cfg.m5_min_interventions:
            continue
        out.append(Condition(
            "oc_m5_silent", oc,
            f"OC {oc} sent no M5 for the {len(at_pms)} interventions at its PMs since "
            f"{start:%Y-%m-%d %H:%M} UTC",
            {"silent_since": start.isoformat(), "data_end": end.isoformat(),
             "m5_silence_days": cfg.m5_silence_days, "m5_received_before": int(n),
             "last_m5_intervention_hd": last_hd.isoformat(),
             "last_m5_received_at": None if pd.isna(last_rx) else last_rx.isoformat(),
             "interventions_at_its_pms": len(at_pms), "pms": len(pms)},
            link("/outages", since=start.date().isoformat(), as_of=end.date().isoformat()),
            {"code_oc": oc}))
    return out


# ------------------------------------------------------------------ loads

def load_quarantine(ctx: Context) -> list[Condition]:
    cfg = ctx.t.alerts
    since = ctx.now - dt.timedelta(days=cfg.load_lookback_days)
    log = ctx.tables["load_log"]
    log = log.filter(log.started_at >= since)
    df = (log.group_by(["load_id", "kind"])
          .agg(started_at=log.started_at.min(), status=log.status.max(),
               files=log.count(), rows_read=log.rows_read.sum(),
               quarantined=log.quarantined.sum())
          .order_by("load_id").execute())
    out = []
    for load_id, kind, started, status, files, read, quarantined in df.itertuples(
            index=False, name=None):
        read, quarantined = int(read or 0), int(quarantined or 0)
        if not read or quarantined / read <= cfg.quarantine_share_max:
            continue
        share = quarantined / read
        out.append(Condition(
            "load_quarantine", str(int(load_id)),
            f"load {int(load_id)} ({kind}) quarantined {quarantined} of {read} rows ({share:.1%})",
            {"load_id": int(load_id), "kind": kind, "started_at": started.isoformat(),
             "status": status, "files": int(files), "rows_read": read,
             "quarantined": quarantined, "share": share,
             "threshold": cfg.quarantine_share_max},
            link("/data", load=int(load_id), kind=kind),
            {"kind": kind}))
    return out


RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("blacklist_candidate", "network", STATE,
         "a PM enters (or leaves) the blacklist candidates", blacklist_candidate),
    Rule("alarm_chattering", "alarms", STATE,
         "an alarm definition starts chattering on a resource", alarm_chattering),
    Rule("alarm_flood", "alarms", EVENT, "an alarm flood happens", alarm_flood),
    Rule("stale_alarms", "alarms", STATE,
         "stale alarms reach the ISA-18.2 daily benchmark", stale_alarms),
    Rule("maintenance_overdue", "evaluation", STATE,
         "a system's periodic maintenance becomes overdue (5.1.2)", maintenance_overdue),
    Rule("evaluation_expiring", "evaluation", STATE,
         "a system's evaluation is about to expire (6.1)", evaluation_expiring),
    Rule("evaluation_expired", "evaluation", STATE,
         "a system's evaluation has expired (6.1)", evaluation_expired),
    Rule("classification_worse", "evaluation", CHANGE,
         "a system's classification worsens", classification_worse, classifications),
    Rule("oc_m5_silent", "network", STATE, "an OC stops sending M5s (flow 3)", oc_m5_silent),
    Rule("do_timestamp_quality", "network", STATE,
         "a DO's timestamp quality drops below the threshold", do_timestamp_quality),
    Rule("load_quarantine", "loads", EVENT,
         "a load quarantines more than the tolerated share of its rows", load_quarantine),
)}
