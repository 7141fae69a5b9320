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

from ... import localtime, period
from . import false_alarms, lifecycle, load, nuisance, rationalisation, tuning
from .prep import facts, key_raises, number_keys, select, windows
from .rules import AlarmRules, rate_class, rate_grade


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
    if not len(df):
        return []
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = _iso(out[c])
        elif pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].astype(object).where(out[c].notna() & ~out[c].isin([float("inf"),
                                                                                   float("-inf")]),
                                                 None)
        elif pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_extension_array_dtype(out[c]):
            out[c] = [_clean(v) for v in out[c].astype(object)]
    return out.to_dict("records")   # native Python values (pandas boxes them)


def _iso(times: pd.Series) -> pd.Series:
    """Naive times as ``datetime.isoformat`` writes them (microseconds only when
    not zero), NaT as None; aware times one by one."""
    if getattr(times.dt, "tz", None) is not None:
        return times.map(lambda v: None if pd.isna(v) else v.isoformat()).astype(object)
    us = times.dt.microsecond
    text = (times.dt.strftime("%Y-%m-%dT%H:%M:%S")
            + ("." + us.astype("Int64").astype(str).str.zfill(6)).where(us != 0, ""))
    return text.astype(object).where(times.notna(), None)


def data_end(alarms: ibis.Table) -> dt.datetime | None:
    """The latest time the alarms know of (default ``as_of``: the end of the data)."""
    row = alarms.aggregate(a=_.raised_at.max(), b=_.cleared_at.max(), c=_.closed_at.max(),
                           d=_.handled_at.max(), e=_.escalated_at.max()).execute().iloc[0]
    times = [t for t in row.tolist() if t is not None and not pd.isna(t)]
    return max(times).to_pydatetime() if times else None


OUTSIDE_DATA = ("each system is measured over its own records, first to last (or "
                "--observed-until): days without any record count in no rate")
"""What the alarm analysis does about a period reaching beyond the records (docs/alarms.md)."""

ONE_US = dt.timedelta(microseconds=1)


def alarm_report(alarms: ibis.Table, as_of: dt.datetime | dt.date | None = None,
                 since: dt.datetime | None = None, system_id: str | None = None,
                 rules: AlarmRules = AlarmRules(), cache: bool = True,
                 observed_until: dt.datetime | None = None,
                 zone: str = localtime.UTC) -> dict:
    """All alarm KPIs for the alarms raised in ``[since, as_of]`` (of one system).

    ``as_of`` is the last instant known (inclusive), or a date: through the end of that
    local day of ``zone``; by default the end of the last local day with a record, or
    ``observed_until`` when later
    (:mod:`evaluation.period`: a command's ``--as-of`` ends the period, its last
    instant is passed here). Each system is measured over its own observation
    window (:func:`prep.windows`: its first to last record, or ``observed_until``
    when declared). ``period`` and ``warnings`` say which period the report covers
    and where it lies outside the records. ``cache`` materialises the per-instance
    table once in the engine (Ibis ``cache``) so that the dozen aggregations below
    do not recompute its windows. Hours, weekdays and days of the raises
    (``false_alarm_rates``, ``load.per_hour_of_day``, ``load.per_day``) are those of
    ``zone``'s clock, the database's, and so are the days of ``stale_daily`` (and
    ``stale_daily_max``) (:mod:`evaluation.localtime`: per-day figures use the zone's
    days), so that a night's alarms fall on the operators' day.
    """
    if type(as_of) is dt.date:
        as_of = period.end_of(as_of, zone) - ONE_US
    scope = select(alarms, None, since, system_id)
    end = data_end(scope)
    first_raise = scope.raised_at.min().execute()
    data = period.Data.of([first_raise, end, observed_until])
    if as_of is None:
        # the end of the last day with data (a declared end of the logs counts as data)
        as_of = data.end(zone) - ONE_US if not data.empty else (since or dt.datetime(1970, 1, 1))
    # Facts later than as_of must be forgotten, unless there are none.
    t = select(alarms, as_of, since, system_id, mask=end is not None and end > as_of)
    f = facts(t)                                   # no windows: life cycle, false alarms
    keys = _cached(number_keys(t), cache)
    raises = _cached(key_raises(t, keys, rules.chatter_raises), cache)  # the one windowed pass
    keyf = nuisance.key_facts(t, rules, keys, raises)
    ic = load.interval_counts(t, "system_id", rules)
    # hours, weekdays and days of the raises on the database's clock, exact within a
    # year of the records
    span = (data.start(zone) or as_of, as_of)
    cube = false_alarms.as_cube(f, zone=zone, span=span)
    if cache:
        keyf, ic, cube = keyf.cache(), ic.cache(), cube.cache()
    # each system's window: from the per-key facts, or with --since from every record
    # known at as_of (records before since show the log was running)
    history = keyf if since is None else select(alarms, as_of, None, system_id)
    wins = _cached(windows(history, t, as_of, since, observed_until), cache)
    stand_f = _cached(nuisance.standing_facts(t, wins, rules), cache)
    episodes = nuisance.stale_episodes(stand_f, wins, rules)
    n = int(keyf.alarms.sum().execute() or 0)
    first = keyf.first_raised.min().execute() if n else None
    start = since or (first.to_pydatetime() if first is not None else as_of)
    covered = period.Covered(min(since or data.start(zone) or as_of, as_of + ONE_US),
                             as_of + ONE_US, zone, data)
    # the operators' rates stop where the records do
    until = min(as_of, max(x for x in (end, observed_until, start) if x is not None))
    params = dict(as_of=as_of.isoformat(), since=since.isoformat() if since else None,
                  system_id=system_id, period_start=start.isoformat(),
                  observed_until=observed_until.isoformat() if observed_until else None,
                  **rules.as_dict())
    params.pop("benchmarks")

    rates = load.rates(ic, wins, rules).execute() if n else _empty_rates()
    flood_df = load.floods(ic, "system_id", rules).execute()
    contrib = (load.flood_contributors(t, "system_id", 3, rules, counts=ic).execute()
               if len(flood_df) else None)
    per_def = nuisance.per_alarm(keyf).execute()
    nuis = records(nuisance.nuisance_alarms(keyf).execute())
    nuis = nuis[0] if nuis else {}
    stand = nuisance.standing(stand_f, wins, rules).execute()
    episode_df = episodes.execute()
    daily = nuisance.daily_stale_max(nuisance.stale_levels(episodes, zone, span).execute())
    actors = nuisance.bad_actors(keyf, rules).execute()
    life = lifecycle.summary(f, rules).execute()
    reasons = lifecycle.close_reasons(f).execute()
    ops = lifecycle.per_operator(f).execute()
    facts_def = tuning.definition_facts(keyf, rules).execute()
    by_hour = tuning.false_by_hour(cube).filter(_.closed > 0).execute()
    top10 = nuisance.top_share(keyf, 10).execute() if n else None
    fa_overall = false_alarms.overall(cube).execute()
    fa = {dim: records(false_alarms.rates(cube, dim).filter(_.closed > 0).execute())
          for dim in false_alarms.DIMENSIONS}
    # raises per local day of the database (a date), counted from the raises themselves:
    # a 10-minute interval need not start on a local midnight (offsets such as +05:45)
    per_day = (t.mutate(period=localtime.local_day(_.raised_at, zone, *span))
               .group_by("period").agg(alarms=_.count()).order_by("period").execute())
    per_day["period"] = pd.to_datetime(per_day.period).dt.date     # JSON: the day's date
    per_hour_of_day = (cube.group_by("hour").agg(alarms=_.alarms.sum()).order_by("hour")
                       .execute())
    per_priority = load.counts_by(t, "priority").execute()
    levels = records(load.priority_levels(t, rules).execute())
    per_system = load.counts_by(keyf, "system_id").execute()
    rat = rationalisation.compute(raises, keys, episodes, cube, ic, wins.execute(), per_def,
                                  episode_df, rules, zone)

    # floods with their top contributors
    floods = []
    if len(flood_df):
        tops: dict = {}
        for p, i, d, a in contrib.sort_values(["position", "flood_id", "rank"])[
                ["position", "flood_id", "definition", "alarms"]].itertuples(index=False):
            tops.setdefault((p, int(i)), []).append({"definition": d, "alarms": int(a)})
        for r in records(flood_df):
            r["system_id"] = r.pop("position")
            r["top_contributors"] = tops.get((r["system_id"], r["flood_id"]), [])
            floods.append(r)
    observed = int(rates.intervals.sum()) if len(rates) else 0
    hours = int(rates.hours.sum()) if len(rates) else 0
    total_flood_intervals = int(rates.flood_intervals.sum()) if len(rates) else 0
    busy = int(rates.busy_hours.sum()) if len(rates) else 0
    life_row = records(life)[0] if len(life) else {}
    stale = stand[stand.stale] if len(stand) else stand
    avg10 = float(rates.avg_per_10min.mean()) if len(rates) else 0.0
    peak10 = int(rates.peak_per_10min.max()) if len(rates) else 0
    prio = load.priority_distribution(levels[0] if levels else {})
    kpis = dict(
        alarms=n, systems=int(per_system.shape[0]), definitions=int(per_def.definition.nunique())
        if len(per_def) else 0,
        period_start=start.isoformat(), as_of=as_of.isoformat(),
        intervals_10min=observed,
        avg_per_10min=avg10, avg_per_hour=avg10 * 6, avg_per_day=avg10 * 144,
        rate_class=rate_class(avg10, rules.benchmarks) if n else None,
        rate_grade=rate_grade(avg10, rules.benchmarks) if n else None,
        peak_per_10min=peak10,
        flood_intervals=total_flood_intervals,
        flood_interval_share=total_flood_intervals / observed if observed else None,
        floods=len(floods),
        time_in_flood_share=(sum(f["minutes"] for f in floods) * 60 / (observed * rules.interval_s)
                             if observed else None),
        busy_hours=busy, busy_hour_share=busy / hours if hours else None,
        chattering_alarms=int(nuis.get("chattering_alarms") or 0),
        chatter_raises=int(per_def.chatter_raises.sum()) if len(per_def) else 0,
        chatter_index=_pooled_chatter_index(per_def),
        fleeting_alarms=int(nuis.get("fleeting_alarms") or 0),
        fleeting_raises=int(nuis.get("fleeting_raises") or 0),
        repeat_alarms=int(per_def.repeat_alarms.sum()) if len(per_def) else 0,
        repeat_share=(float(per_def.repeat_alarms.sum()) / n) if n else None,
        standing=len(stand), stale=len(stale),
        stale_episodes=len(episode_df),
        stale_daily_max=int(daily.max_stale.max()) if len(daily) else 0,
        unhandled_past_default_expiry=int(((stand.age_h > rules.expire_default_h)
                                           & stand.unhandled).sum()) if len(stand) else 0,
        escalated_too_early=int(life_row.get("escalated_too_early") or 0),
        expired_too_early=int(life_row.get("expired_too_early") or 0),
        top10_share=_clean(top10),
        bad_actors=len(actors),
        closed=int(fa_overall.closed.iloc[0] or 0) if len(fa_overall) else 0,
        false_alarms=int(fa_overall.false_alarms.iloc[0] or 0) if len(fa_overall) else 0,
        false_alarm_rate=_clean(fa_overall.false_alarm_rate.iloc[0]) if len(fa_overall) else None,
        closed_without_reason=int(life_row.get("closed_without_reason") or 0),
        closed_without_reason_share=life_row.get("closed_without_reason_share"),
        mean_handle_s=life_row.get("mean_handle_s"),
        median_handle_s=life_row.get("median_handle_s"),
        median_close_s=life_row.get("median_close_s"),
        median_clear_s=life_row.get("median_clear_s"),
        escalated_share=life_row.get("escalated_share"),
        expired_share=life_row.get("expired_share"),
        closed_without_handling_share=life_row.get("closed_without_handling_share"),
        high_priority_share=prio["high"],
        priority_distribution=prio,
        peak_to_average=peak10 / avg10 if avg10 else None,
        **rat.kpis(),
    )
    kpis["benchmark_status"] = _benchmark_status(kpis, rules.benchmarks)
    longest = (episode_df.groupby("definition").stood_h.agg(["size", "max"])
               if len(episode_df) else pd.DataFrame(columns=["size", "max"]))
    stale_by_def = {d: (int(c), float(m)) for d, c, m in longest.itertuples()}
    definitions = records(per_def)
    return dict(
        kpis=kpis,
        definitions=definitions,
        floods=floods,
        stale=records(stale.drop(columns=["stale"])) if len(stale) else [],
        stale_episodes=records(episode_df),
        stale_daily=records(daily.assign(day=pd.to_datetime(daily.day).dt.date)),
        standing=records(stand),
        bad_actors=records(actors),
        rates=records(rates.rename(columns={"position": "system_id"}).assign(
            rate_class=lambda d: d.avg_per_10min.map(lambda v: rate_class(v, rules.benchmarks)),
            rate_grade=lambda d: d.avg_per_10min.map(lambda v: rate_grade(v, rules.benchmarks)))),
        operators=_operators(ops, load.n_intervals(start, until, rules.interval_s), rules),
        lifecycle=life_row,
        close_reasons=records(reasons),
        false_alarm_rates=fa,
        load=dict(per_day=records(per_day), per_hour_of_day=records(per_hour_of_day),
                  per_priority=records(per_priority), per_system=records(per_system)),
        tuning=tuning.advise(facts_def, by_hour, stale_by_def, rules),
        benchmarks=dict(rules.benchmarks),
        parameters=params,
        period=covered.as_dict(),
        warnings=covered.warnings(OUTSIDE_DATA),
        **rat.to_json(records),
    )


def main_kpis(alarms: ibis.Table, as_of: dt.datetime, rules: AlarmRules = AlarmRules(),
              cache: bool = True) -> dict:
    """The main KPIs only, as small pandas results (the benchmark's comparison set):
    per-alarm chattering, repeats and ψ; rates per system per 10 minutes over
    each system's window and flood episodes; bad actors; the life-cycle summary
    and close reasons; false-alarm rates by definition and hour; standing and
    stale alarms at each system's window end, stale episodes and the most stale
    alarms standing on one day. Same functions, hence same rules, as
    :func:`alarm_report`."""
    t = select(alarms, as_of, mask=False)
    f = facts(t)
    keyf = nuisance.key_facts(t, rules)
    ic = load.interval_counts(t, "system_id", rules)
    cube = false_alarms.as_cube(f, ("definition", "hour"))
    if cache:
        keyf, ic, cube = keyf.cache(), ic.cache(), cube.cache()
    wins = _cached(windows(keyf, t, as_of), cache)
    stand_f = _cached(nuisance.standing_facts(t, wins, rules), cache)
    stand = nuisance.standing(stand_f, wins, rules)
    episodes = nuisance.stale_episodes(stand_f, wins, rules)
    return dict(
        per_alarm=nuisance.per_alarm(keyf).execute(),
        rates=load.rates(ic, wins, rules).execute(),
        floods=load.floods(ic, "system_id", rules).execute(),
        bad_actors=nuisance.bad_actors(keyf, rules).execute(),
        lifecycle=lifecycle.summary(f, rules).execute(),
        close_reasons=lifecycle.close_reasons(f).execute(),
        false_by_definition=false_alarms.rates(cube, "definition").execute(),
        false_by_hour=false_alarms.rates(cube, "hour").execute(),
        standing=stand.aggregate(standing=_.count(), stale=_.stale.sum()).execute(),
        stale_episodes=episodes.count().execute(),
        stale_daily_max=nuisance.stale_levels(episodes).max_level.max().execute(),
    )


def _cached(t: ibis.Table, cache: bool) -> ibis.Table:
    return t.cache() if cache else t


def _pooled_chatter_index(per_def: pd.DataFrame) -> float | None:
    """ψ over every run of every alarm: the run-weighted mean of the alarms' ψ."""
    if not len(per_def) or per_def.runs.sum() == 0:
        return None
    d = per_def[per_def.runs > 0]
    return float((d.chatter_index * d.runs).sum() / d.runs.sum())


def _empty_rates() -> pd.DataFrame:
    return pd.DataFrame(columns=["position", "window_start", "window_end", "alarms",
                                 "peak_per_10min", "flood_intervals", "intervals", "hours",
                                 "busy_hours", "avg_per_10min", "peak_to_average", "avg_per_hour",
                                 "avg_per_day", "flood_interval_share", "busy_hour_share"])


def _operators(ops: pd.DataFrame, n_intervals: int, rules: AlarmRules) -> list[dict]:
    """Per operator, with the average alarms taken per 10 minutes over the period
    (the EEMUA 191 per-operator rate, for the alarms assigned to them)."""
    if not len(ops):
        return []
    ops = ops.assign(avg_per_10min=ops.alarms / n_intervals)
    ops = ops.assign(rate_class=ops.avg_per_10min.map(lambda v: rate_class(v, rules.benchmarks)),
                     rate_grade=ops.avg_per_10min.map(lambda v: rate_grade(v, rules.benchmarks)))
    return records(ops)


def _benchmark_status(k: dict, b: dict) -> dict:
    """Each benchmarked KPI: ``met`` or ``not met`` against ISA-18.2 / EEMUA 191
    (the benchmarks ``b`` in force); a KPI without data has no status."""
    def judge(ok: bool) -> str:
        return "met" if ok else "not met"

    out = {}
    if not k["alarms"]:
        return out
    out["avg_per_10min"] = judge(k["avg_per_10min"] <= b["avg_per_10min_manageable"])
    out["peak_per_10min"] = judge(k["peak_per_10min"] <= b["peak_per_10min_max"])
    if k["flood_interval_share"] is not None:
        out["flood_interval_share"] = judge(k["flood_interval_share"]
                                            <= b["flood_interval_share_max"])
    if k["busy_hour_share"] is not None:
        out["busy_hour_share"] = judge(k["busy_hour_share"] <= b["busy_hour_share_max"])
    out["chattering_alarms"] = judge(k["chattering_alarms"] <= b["chattering_max"])
    out["fleeting_alarms"] = judge(k["fleeting_alarms"] <= b["fleeting_max"])
    if k["top10_share"] is not None:
        out["top10_share"] = judge(k["top10_share"] <= b["top10_share_max"])
    out["stale"] = judge(k["stale_daily_max"] < b["stale_max_per_day"])
    p = k["priority_distribution"]
    if p["prioritised"]:
        out["priority_distribution"] = judge(p["high"] <= b["high_priority_share"]
                                             and p["low"] >= b["low_priority_share"])
    return out
