"""The alarm report: every KPI of the package as one small, JSON-ready dict.

Keys follow the outer contract §3 "alarms": ``kpis``, ``definitions`` (each
with ``definition``, ``resource_id``, ``alarms``, ``false_alarm_rate``,
``chattering``, ``repeat_alarms``…), ``floods``, ``stale``, ``bad_actors``; and
more: ``standing``, ``rates``, ``operators``, ``lifecycle``, ``close_reasons``,
``false_alarm_rates``, ``load``, ``tuning``, ``benchmarks``, ``parameters``.
The engine does the heavy work; only aggregated rows come back.
"""
from __future__ import annotations

import datetime as dt
import math

import ibis
import pandas as pd
from ibis import _

from . import false_alarms, lifecycle, load, nuisance, tuning
from .prep import instances, select
from .rules import BENCHMARKS, AlarmRules, rate_class


def _clean(v):
    if v is None:
        return None
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.to_pydatetime().isoformat()
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalar
        return _clean(v.item())
    if v is pd.NaT:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


def records(df: pd.DataFrame) -> list[dict]:
    """DataFrame rows as plain JSON-ready dicts (NaN/NaT → None, times ISO 8601)."""
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict("records")]


def data_end(alarms: ibis.Table) -> dt.datetime | None:
    """The latest time the alarms know of (default ``as_of``: the end of the data)."""
    row = alarms.aggregate(a=_.raised_at.max(), b=_.cleared_at.max(), c=_.closed_at.max(),
                           d=_.handled_at.max(), e=_.escalated_at.max()).execute().iloc[0]
    times = [t for t in row.tolist() if t is not None and not pd.isna(t)]
    return max(times).to_pydatetime() if times else None


def alarm_report(alarms: ibis.Table, as_of: dt.datetime | None = None,
                 since: dt.datetime | None = None, system_id: str | None = None,
                 rules: AlarmRules = AlarmRules(), cache: bool = True) -> dict:
    """All alarm KPIs for the alarms raised in ``[since, as_of]`` (of one system).

    ``as_of`` defaults to the end of the data. ``cache`` materialises the
    per-instance table once in the engine (Ibis ``cache``) so that the dozen
    aggregations below do not recompute its windows.
    """
    if as_of is None:
        scope = select(alarms, None, since, system_id)
        as_of = data_end(scope) or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    t = select(alarms, as_of, since, system_id)
    inst = nuisance.flag_nuisance(instances(t, rules.chatter_raises), rules)
    if cache:
        inst = inst.cache()
    n = int(inst.count().execute())
    first = inst.raised_at.min().execute() if n else None
    start = since or (first.to_pydatetime() if first is not None else as_of)
    params = dict(as_of=as_of.isoformat(), since=since.isoformat() if since else None,
                  system_id=system_id, period_start=start.isoformat(), **rules.as_dict())
    params.pop("benchmarks")

    rates = load.rates(inst, start, as_of, "system_id", rules).execute()
    flood_df = load.floods(inst, "system_id", rules).execute()
    contrib = load.flood_contributors(inst, "system_id", 3, rules).execute()
    per_def = nuisance.per_alarm(inst).execute()
    stand = nuisance.standing(inst, as_of, rules).execute()
    actors = nuisance.bad_actors(inst, rules).execute()
    life = lifecycle.summary(inst).execute()
    reasons = lifecycle.close_reasons(inst).execute()
    ops = lifecycle.per_operator(inst).execute()
    op_rates = load.rates(inst.filter(_.assigned_to.notnull()), start, as_of, "assigned_to",
                          rules).execute()
    facts = tuning.definition_facts(inst, rules).execute()
    by_hour = tuning.false_by_hour(inst).filter(_.closed > 0).execute()
    top10 = nuisance.top_share(inst, 10).execute() if n else None
    fa_overall = false_alarms.overall(inst).execute()
    fa = {dim: records(false_alarms.rates(inst, dim).filter(_.closed > 0).execute())
          for dim in false_alarms.DIMENSIONS}
    per_day = load.counts_by_time(inst, "D").execute()
    per_hour_of_day = (inst.mutate(hour=_.raised_at.hour()).group_by("hour")
                       .agg(alarms=_.count()).order_by("hour").execute())
    per_priority = load.counts_by(inst, "priority").execute()
    per_system = load.counts_by(inst, "system_id").execute()

    # floods with their top contributors
    floods = []
    if len(flood_df):
        tops = {(p, f): g.sort_values("rank") for (p, f), g in
                contrib.groupby(["position", "flood_id"], dropna=False)}
        for r in records(flood_df):
            g = tops.get((r["position"], r["flood_id"]))
            r["system_id"] = r.pop("position")
            r["top_contributors"] = [] if g is None else [
                {"definition": d, "alarms": int(a)} for d, a in zip(g.definition, g.alarms)]
            floods.append(r)
    n_intervals = load.n_intervals(start, as_of, rules.interval_s)
    total_flood_intervals = int(rates.flood_intervals.sum()) if len(rates) else 0
    positions = max(len(rates), 1)
    life_row = records(life)[0] if len(life) else {}
    stale = stand[stand.stale] if len(stand) else stand
    chattering_defs = int(per_def.chattering.sum()) if len(per_def) else 0
    avg10 = float(rates.avg_per_10min.mean()) if len(rates) else 0.0
    peak10 = int(rates.peak_per_10min.max()) if len(rates) else 0
    kpis = dict(
        alarms=n, systems=int(per_system.shape[0]), definitions=int(per_def.definition.nunique())
        if len(per_def) else 0,
        period_start=start.isoformat(), as_of=as_of.isoformat(),
        intervals_10min=n_intervals,
        avg_per_10min=avg10, avg_per_hour=avg10 * 6, avg_per_day=avg10 * 144,
        rate_class=rate_class(avg10) if n else None,
        peak_per_10min=peak10,
        flood_intervals=total_flood_intervals,
        flood_interval_share=total_flood_intervals / (n_intervals * positions),
        floods=len(floods),
        time_in_flood_share=(sum(f["minutes"] for f in floods) * 60
                             / (n_intervals * rules.interval_s * positions)),
        chattering_alarms=chattering_defs,
        chatter_raises=int(per_def.chatter_raises.sum()) if len(per_def) else 0,
        chatter_index=_pooled_chatter_index(per_def),
        repeat_alarms=int(per_def.repeat_alarms.sum()) if len(per_def) else 0,
        repeat_share=(float(per_def.repeat_alarms.sum()) / n) if n else None,
        standing=int(len(stand)), stale=int(len(stale)),
        top10_share=_clean(top10),
        bad_actors=int(len(actors)),
        closed=int(fa_overall.closed.iloc[0] or 0) if len(fa_overall) else 0,
        false_alarms=int(fa_overall.false_alarms.iloc[0] or 0) if len(fa_overall) else 0,
        false_alarm_rate=_clean(fa_overall.false_alarm_rate.iloc[0]) if len(fa_overall) else None,
        median_handle_s=life_row.get("median_handle_s"),
        median_close_s=life_row.get("median_close_s"),
        median_clear_s=life_row.get("median_clear_s"),
        escalated_share=life_row.get("escalated_share"),
        expired_share=life_row.get("expired_share"),
        closed_without_handling_share=life_row.get("closed_without_handling_share"),
        high_priority_share=(float(per_priority.loc[per_priority.priority <= 2, "alarms"].sum()) / n)
        if n else None,
    )
    kpis["benchmark_status"] = _benchmark_status(kpis)
    stale_counts = stale.groupby("definition").size().to_dict() if len(stale) else {}
    definitions = records(per_def)
    return dict(
        kpis=kpis,
        definitions=definitions,
        floods=floods,
        stale=records(stale.drop(columns=["stale"])) if len(stale) else [],
        standing=records(stand),
        bad_actors=records(actors),
        rates=records(rates.rename(columns={"position": "system_id"})),
        operators=_merge_ops(ops, op_rates),
        lifecycle=life_row,
        close_reasons=records(reasons),
        false_alarm_rates=fa,
        load=dict(per_day=records(per_day), per_hour_of_day=records(per_hour_of_day),
                  per_priority=records(per_priority), per_system=records(per_system)),
        tuning=tuning.advise(facts, by_hour, stale_counts, rules),
        benchmarks=dict(BENCHMARKS),
        parameters=params,
    )


def _pooled_chatter_index(per_def: pd.DataFrame) -> float | None:
    """ψ over every run of every alarm: the run-weighted mean of the alarms' ψ."""
    if not len(per_def) or per_def.runs.sum() == 0:
        return None
    d = per_def[per_def.runs > 0]
    return float((d.chatter_index * d.runs).sum() / d.runs.sum())


def _merge_ops(ops: pd.DataFrame, op_rates: pd.DataFrame) -> list[dict]:
    if not len(ops):
        return []
    r = op_rates.rename(columns={"position": "assigned_to"})[
        ["assigned_to", "avg_per_10min", "peak_per_10min", "flood_intervals"]]
    return records(ops.merge(r, on="assigned_to", how="left"))


def _benchmark_status(k: dict) -> dict:
    """Each benchmarked KPI: ``met`` or ``not met`` against ISA-18.2 / EEMUA 191."""
    b = BENCHMARKS
    out = {}
    if k["alarms"]:
        out["avg_per_10min"] = "met" if k["avg_per_10min"] <= b["avg_per_10min_manageable"] else "not met"
        out["peak_per_10min"] = "met" if k["peak_per_10min"] <= b["peak_per_10min_max"] else "not met"
        out["flood_interval_share"] = ("met" if k["flood_interval_share"] <= b["flood_interval_share_max"]
                                       else "not met")
        out["chattering_alarms"] = "met" if k["chattering_alarms"] <= b["chattering_max"] else "not met"
        if k["top10_share"] is not None:
            out["top10_share"] = "met" if k["top10_share"] <= b["top10_share_max"] else "not met"
        out["stale"] = "met" if k["stale"] < b["stale_max_per_day"] else "not met"
    return out
