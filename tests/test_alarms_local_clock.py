"""Alarm hours of day and days of the week on the database's clock, end to end (issue 17
item 5 with the time zone of issue 12): the false-alarm rates by hour and weekday of
``opeval alarms --format json`` and the data of the /alarms heat maps, its alarms per day
(``load.per_day``), its stale alarms per day (``stale_daily``) and the false-alarm
model's hour and weekday features, on hand-made databases whose zone is Europe/Paris,
answers worked out in the docstrings.

Europe/Paris is UTC+2 (CEST) until Sunday 2025-10-26 01:00 UTC, when its clocks go back
from 03:00 to 02:00 and it is UTC+1 (CET): Paris 02:00–03:00 happens twice that day.
The records (:data:`ALARMS_CSV`, times given with their UTC offset, stored as naive UTC),
all of system S1, definition D, resource R1, each closed 10 minutes after its raise:

====  =======================  ==================  ===================  =============
id    raised (UTC)             UTC (day, hour)     Paris                close reason
====  =======================  ==================  ===================  =============
a1    Sun 2025-10-19 22:30     (Sun 6, 22)         Mon 10-20 00:30 +2   false_alarm
a2    Sun 2025-10-26 00:30     (Sun 6, 0)          Sun 02:30 +2         false_alarm
a3    Sun 2025-10-26 01:30     (Sun 6, 1)          Sun 02:30 +1         false_alarm
a4    Sun 2025-10-26 23:30     (Sun 6, 23)         Mon 10-27 00:30 +1   handled
====  =======================  ==================  ===================  =============

(22:30 + 2 h = 00:30 the next day; 00:30 + 2 h = 02:30; 01:30 + 1 h = 02:30; 23:30 + 1 h
= 00:30 the next day.) So in Paris a1 and a4 are raised on Mondays in hour 0 and a2 and
a3 on Sunday in hour 2 (the repeated hour, once in each of its occurrences); in UTC all
four are Sunday raises, in hours 22, 0, 1 and 23.
"""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

PARIS = "Europe/Paris"

ALARMS_CSV = (
    "alarm_id,system_id,definition,resource_id,priority,raised_at,closed_at,status,close_reason\n"
    "a1,S1,D,R1,3,2025-10-19T22:30:00+00:00,2025-10-19T22:40:00+00:00,closed,false_alarm\n"
    "a2,S1,D,R1,3,2025-10-26T00:30:00+00:00,2025-10-26T00:40:00+00:00,closed,false_alarm\n"
    "a3,S1,D,R1,3,2025-10-26T01:30:00+00:00,2025-10-26T01:40:00+00:00,closed,false_alarm\n"
    "a4,S1,D,R1,3,2025-10-26T23:30:00+00:00,2025-10-26T23:40:00+00:00,closed,handled\n")


def _load(run_cli, tmp_path, zone: str | None, db=None, csv: str = ALARMS_CSV) -> None:
    """Set the database's zone (None: leave it unset, UTC), then load ``csv``
    (:data:`ALARMS_CSV`)."""
    prefix = ("--db", db) if db is not None else ()
    if zone is not None:
        code, _out, err = run_cli(*prefix, "config", "timezone", zone)
        assert code == 0, err
    (tmp_path / "alarms.csv").write_text(csv)
    code, _out, err = run_cli(*prefix, "ingest", "alarms", tmp_path / "alarms.csv")
    assert code == 0, err


def _rates(rows: list[dict], key: str) -> list[tuple]:
    return [(r[key], r["alarms"], r["closed"], r["false_alarms"], r["false_alarm_rate"])
            for r in rows]


def test_false_alarm_rates_by_hour_are_on_the_databases_clock(run_cli, tmp_path):
    """``opeval alarms --format json``, ``false_alarm_rates``:

    - by ``hour`` in Paris: hour 0 holds a1 (false) and a4 (handled): 2 closed, 1 false,
      rate 1/2 = 0.5; hour 2 holds a2 and a3 (both false, one in each occurrence of the
      repeated hour): 2 closed, 2 false, rate 1.0. No other hour has an alarm.
    - by ``weekday`` in Paris: Monday (0) a1 and a4: 1 false of 2, 0.5; Sunday (6) a2 and
      a3: 2 of 2, 1.0.
    - ``load.per_hour_of_day``, same clock: hour 0 two alarms, hour 2 two.
    - the period's days are Paris days: the first raise is on Monday 2025-10-20 (not the
      UTC Sunday 19th), the last record (a4 closed 23:40 UTC = 00:40 Monday 27th) on the
      27th, so the period ends at 2025-10-28 00:00+01:00.

    The same database with its zone unset (UTC) puts each alarm in its own hour, all on
    Sunday: hours 0 (a2), 1 (a3), 22 (a1) rate 1.0 each, 23 (a4) rate 0.0; Sunday 3 false
    of 4 closed, 0.75 — the answer a report still counting in UTC would give in Paris."""
    _load(run_cli, tmp_path, PARIS)
    code, out, err = run_cli("alarms", "--format", "json")
    assert code == 0, err
    r = json.loads(out)
    assert r["period"]["time_zone"] == PARIS
    assert (r["period"]["first_day"], r["period"]["last_day"]) == ("2025-10-20", "2025-10-27")
    assert r["period"]["end"] == "2025-10-28T00:00:00+01:00"
    fa = r["false_alarm_rates"]
    assert _rates(fa["hour"], "hour") == [(0, 2, 2, 1, 0.5), (2, 2, 2, 2, 1.0)]
    assert _rates(fa["weekday"], "weekday") == [(0, 2, 2, 1, 0.5), (6, 2, 2, 2, 1.0)]
    assert [(h["hour"], h["alarms"]) for h in r["load"]["per_hour_of_day"]] == [(0, 2), (2, 2)]
    assert r["kpis"]["closed"] == 4 and r["kpis"]["false_alarms"] == 3

    code, out, err = run_cli("config", "timezone", "")
    assert code == 0 and out == "timezone = (unset)\n", err
    code, out, err = run_cli("alarms", "--format", "json")
    assert code == 0, err
    utc = json.loads(out)
    assert (utc["period"]["first_day"], utc["period"]["last_day"]) == ("2025-10-19", "2025-10-26")
    assert _rates(utc["false_alarm_rates"]["hour"], "hour") == [
        (0, 1, 1, 1, 1.0), (1, 1, 1, 1, 1.0), (22, 1, 1, 1, 1.0), (23, 1, 1, 0, 0.0)]
    assert _rates(utc["false_alarm_rates"]["weekday"], "weekday") == [(6, 4, 4, 3, 0.75)]


def test_the_alarms_page_heat_maps_are_on_the_databases_clock(run_cli, tmp_path, db_path):
    """The /alarms page (its state, no browser) on the same database in Paris.

    Range: by default the local days with data, Monday 2025-10-20 to Monday 2025-10-27
    (in UTC it would be 19 to 26 October).

    False-alarm heat map (definition × hour of the raise, :meth:`AlarmsState.views`,
    ``heat``): D in hour 0 (a1 false, a4 handled) 2 closed, rate 0.5; D in hour 2 (a2,
    a3, both false) 2 closed, rate 1.0.

    Load pattern heat map (hour of day × day of week, the rationalisation tab's
    ``load_pattern``). S1 is observed from its first record (a1, 22:30 UTC on the 19th =
    Mon 00:30 +2) to its last (a4 closed, 23:40 UTC on the 26th = Mon 00:40 +1), cut in
    two where the offset changes:

    - 19th 22:30 to 26th 01:00 UTC at +2: Paris Mon 20th 00:30 to Sun 26th 02:59:59,
      every hour of the week from Monday 00h through Sunday 02h once
      (6 × 24 + 3 = 147 hours);
    - 26th 01:00 to 23:40 UTC at +1: Paris Sun 02:00 to Mon 27th 00:40, Sunday 02h to 23h
      and Monday 00h (22 + 1 = 23 hours).

    170 hours observed: Monday 00h twice and Sunday 02h twice (the repeated hour), each
    other of the 168 hours of the week once. Alarms: Monday 00h two (a1, a4), Sunday 02h
    two (a2, a3): 2 / 2 = 1.0 per observed hour in both; no other slot has an alarm. In
    UTC the same window is Sun 19th 22h, 23h then a whole week to Sun 26th 23h, also 170
    hours, but with Sunday 22h and 23h the doubled slots and each alarm in its own Sunday
    hour (22h: a1, 1 alarm over 2 hours, 0.5).

    The heat maps name the zone on their hour axis, and the page's load pattern is that
    of ``opeval alarms --since 2025-10-20 --as-of 2025-10-27``, the page's range."""
    from evaluation.views.alarms_page import heat_plot
    from evaluation.views.alarms_rationalisation import pattern_plot
    from evaluation.views.alarms_state import AlarmsState
    from evaluation.views.layout import bokeh_plots

    bokeh_plots()                                   # the plots' options need a backend
    _load(run_cli, tmp_path, PARIS)
    state = AlarmsState(db_path)
    assert (state.start, state.end) == (dt.date(2025, 10, 20), dt.date(2025, 10, 27))
    assert state.filters().zone == PARIS
    v = state.views()
    heat = {(h.definition, int(h.hour)): (int(h.closed), h.false_alarm_rate)
            for h in v.heat.itertuples()}
    assert heat == {("D", 0): (2, 0.5), ("D", 2): (2, 1.0)}
    assert heat_plot(v.heat, state.filters().zone).opts.get().kwargs["xlabel"] == (
        "hour of day (Europe/Paris)")

    rat = state.rationalisation()
    pattern = rat["load_pattern"]
    assert len(pattern) == 168 and sum(p["hours"] for p in pattern) == 170
    busy = {(p["weekday"], p["hour"]): (p["alarms"], p["hours"], p["avg_per_hour"])
            for p in pattern if p["alarms"]}
    assert busy == {(0, 0): (2, 2, 1.0), (6, 2): (2, 2, 1.0)}
    hours = {(p["weekday"], p["hour"]): p["hours"] for p in pattern}
    assert hours == {slot: 2 if slot in {(0, 0), (6, 2)} else 1 for slot in hours}
    assert pattern_plot(pd.DataFrame(pattern), state.filters().zone).opts.get().kwargs[
        "xlabel"] == "hour of day (Europe/Paris)"
    code, out, err = run_cli("alarms", "--format", "json", "--since", "2025-10-20",
                             "--as-of", "2025-10-27")
    assert code == 0, err
    assert json.loads(out)["load_pattern"] == pattern

    # the same records in a database left in UTC
    utc_db = tmp_path / "utc.duckdb"
    (tmp_path / "utc").mkdir()
    _load(run_cli, tmp_path / "utc", None, db=utc_db)
    state = AlarmsState(utc_db)
    assert (state.start, state.end) == (dt.date(2025, 10, 19), dt.date(2025, 10, 26))
    heat = {int(h.hour): h.false_alarm_rate for h in state.views().heat.itertuples()}
    assert heat == {0: 1.0, 1: 1.0, 22: 1.0, 23: 0.0}
    pattern = state.rationalisation()["load_pattern"]
    hours = {(p["weekday"], p["hour"]): p["hours"] for p in pattern}
    assert len(hours) == 168
    assert hours == {slot: 2 if slot in {(6, 22), (6, 23)} else 1 for slot in hours}
    busy = {(p["weekday"], p["hour"]): (p["alarms"], p["hours"], p["avg_per_hour"])
            for p in pattern if p["alarms"]}
    assert busy == {(6, 0): (1, 1, 1.0), (6, 1): (1, 1, 1.0), (6, 22): (1, 2, 0.5),
                    (6, 23): (1, 2, 0.5)}


def test_alarms_per_day_are_the_databases_days(run_cli, tmp_path):
    """``opeval alarms --format json``, ``load.per_day``: alarms raised per local day of
    the database, a date (``period``).

    In Paris: a1, 22:30 UTC on Sunday 19 October + 2 h = 00:30 on Monday the 20th; a2,
    00:30 UTC on the 26th + 2 h = 02:30 on the 26th; a3, 01:30 UTC on the 26th + 1 h
    (the clocks went back at 01:00 UTC) = 02:30 on the 26th; a4, 23:30 UTC on the 26th
    + 1 h = 00:30 on Monday the 27th. So the 20th one alarm, the 26th two, the 27th one.

    The same database with its zone unset counts UTC days: the 19th one (a1), the 26th
    three (a2, a3, a4) — the answer a report still counting in UTC gives in Paris."""
    _load(run_cli, tmp_path, PARIS)
    code, out, err = run_cli("alarms", "--format", "json")
    assert code == 0, err
    per_day = json.loads(out)["load"]["per_day"]
    assert [(d["period"], d["alarms"]) for d in per_day] == [
        ("2025-10-20", 1), ("2025-10-26", 2), ("2025-10-27", 1)]

    code, out, err = run_cli("config", "timezone", "")
    assert code == 0, err
    code, out, err = run_cli("alarms", "--format", "json")
    assert code == 0, err
    per_day = json.loads(out)["load"]["per_day"]
    assert [(d["period"], d["alarms"]) for d in per_day] == [("2025-10-19", 1), ("2025-10-26", 3)]


STALE_CSV = (
    "alarm_id,system_id,definition,resource_id,priority,raised_at,closed_at,status,close_reason\n"
    "s1,S1,D,R1,3,2025-10-18T22:15:00+00:00,2025-10-19T22:45:00+00:00,closed,handled\n"
    "s3,S1,D,R1,3,2025-10-20T10:00:00+00:00,2025-10-22T22:00:00+00:00,closed,handled\n"
    "s2,S1,D,R1,3,2025-10-25T00:30:00+00:00,2025-10-26T23:30:00+00:00,closed,handled\n")
"""Three alarms that stood more than 24 h (stale from their raise + 24 h until closed)."""


def test_stale_alarms_per_day_are_the_databases_days(run_cli, tmp_path):
    """``opeval alarms --format json``, ``stale_daily``: the most stale alarms standing at
    once per local day of the database (``day``, a date), on :data:`STALE_CSV`. S1's
    window runs from s1's raise to s2's close, so each episode ends at its close.

    - s1, raised 22:15 UTC on the 18th, is stale from 22:15 UTC on Sunday the 19th
      (+ 2 h = 00:15 on Monday the 20th in Paris) until its close at 22:45 UTC (00:45 on
      the 20th): in Paris only the 20th, in UTC only the 19th.
    - s3, stale from 10:00 UTC on the 21st (12:00 in Paris) until 22:00 UTC on the 22nd
      (+ 2 h = 00:00 sharp on the 23rd in Paris): the 21st and the 22nd on both clocks;
      in Paris it ends at the 23rd's midnight, so nothing stands on the 23rd (an end at
      00:00 sharp leaves the day at the level after it, 0).
    - s2, raised 00:30 UTC on the 25th, is stale from 00:30 UTC on the 26th (+ 2 h =
      02:30 on the 26th in Paris, before the clocks go back at 01:00 UTC) until 23:30 UTC
      on the 26th (+ 1 h = 00:30 on Monday the 27th): in Paris the 26th and the 27th, in
      UTC the 26th only.

    One stale alarm at a time: Paris days 20, 21, 22, 26 and 27 October at 1; UTC days
    19, 21, 22 and 26 at 1 — the answer a report still counting in UTC gives in Paris."""
    _load(run_cli, tmp_path, PARIS, csv=STALE_CSV)
    code, out, err = run_cli("alarms", "--format", "json")
    assert code == 0, err
    r = json.loads(out)
    assert r["kpis"]["stale_episodes"] == 3 and r["kpis"]["stale_daily_max"] == 1
    assert [(d["system_id"], d["day"], d["max_stale"]) for d in r["stale_daily"]] == [
        ("S1", f"2025-10-{day}", 1) for day in (20, 21, 22, 26, 27)]

    code, out, err = run_cli("config", "timezone", "")
    assert code == 0, err
    code, out, err = run_cli("alarms", "--format", "json")
    assert code == 0, err
    assert [(d["system_id"], d["day"], d["max_stale"]) for d in json.loads(out)["stale_daily"]
            ] == [("S1", f"2025-10-{day}", 1) for day in (19, 21, 22, 26)]


def _model_csv() -> str:
    """48 closed alarms of D on R1 at 22:30 UTC each day from Thursday 2025-10-02 to
    Tuesday 2025-11-18, false and handled in turn, and the four times of
    :data:`ALARMS_CSV` as open alarms (status new) of D on R2 (o1 … o4)."""
    lines = [ALARMS_CSV.splitlines()[0]]
    for i in range(48):
        t = dt.datetime(2025, 10, 2, 22, 30) + dt.timedelta(days=i)
        reason = "false_alarm" if i % 2 == 0 else "handled"
        lines.append(f"m{i:02d},S1,D,R1,3,{t.isoformat()}+00:00,"
                     f"{(t + dt.timedelta(minutes=10)).isoformat()}+00:00,closed,{reason}")
    for row in ALARMS_CSV.splitlines()[1:]:
        aid, system, definition, _r, prio, raised = row.split(",")[:6]
        lines.append(f"o{aid[1:]},{system},{definition},R2,{prio},{raised},,new,")
    return "\n".join(lines) + "\n"


class HourScorer:
    """A stand-in for the model's pipeline: keeps the feature frames it is fitted on
    and scores a row by its features ``hour`` and ``weekday``,
    ``p = (hour + weekday / 10) / 100``, so that a score says which clock it was given."""

    def __init__(self):
        self.fitted = []

    def fit(self, x, y):
        self.fitted.append(x.copy())
        return self

    def predict_proba(self, x):
        p = ((x.hour + x.weekday / 10) / 100).to_numpy()
        return np.c_[1 - p, p]


def test_false_alarm_model_hours_are_the_databases_clock(run_cli, tmp_path, monkeypatch):
    """``opeval alarms --fit-model --format json`` in Paris (the pipeline replaced by
    :class:`HourScorer`, which shows the features it is trained on and scores by them):
    the model's ``hour`` and ``weekday`` features are those of the database's clock, in
    training and in scoring, and the model records the zone (``model.time_zone``).

    Training (:func:`_model_csv`): the alarms raised at 22:30 UTC from Thursday 2 to
    Saturday 25 October (24 of them) are at 22:30 + 2 h = 00:30 on the next day in Paris:
    hour 0, the weekday of the next UTC day (Fri 3 Oct … Sun 26 Oct). From Sunday 26
    October on (24, to Tuesday 18 November) Paris is UTC+1: 23:30 on the same day, hour
    23, that day's weekday. In UTC all 48 would be hour 22, Thursday 2 October's weekday
    (3) onwards. The refit on every closed alarm sees the 48 in time order.

    Scoring, the open alarms at the times of :data:`ALARMS_CSV`: o1 and o4 are Monday
    00:30 in Paris, hour 0, weekday 0, p = 0; o2 and o3 Sunday 02:30, hour 2, weekday 6,
    p = (2 + 0.6) / 100 = 0.026. A model whose metadata names no zone (saved before
    zones reached the model) scores on UTC, the clock it was trained on: o1 Sunday 22:30
    (0.226), o2 00:30 (0.006), o3 01:30 (0.016), o4 23:30 (0.236)."""
    from evaluation.analyses.alarms import model as fam

    scorer = HourScorer()
    monkeypatch.setattr(fam, "_pipeline", lambda seed: scorer)
    _load(run_cli, tmp_path, PARIS, csv=_model_csv())
    code, out, err = run_cli("alarms", "--fit-model", "--format", "json")
    assert code == 0, err
    r = json.loads(out)
    assert r["model"]["time_zone"] == PARIS

    days = [dt.date(2025, 10, 2) + dt.timedelta(days=i) for i in range(48)]
    local = [(0, (d + dt.timedelta(days=1)).weekday()) if d < dt.date(2025, 10, 26)
             else (23, d.weekday()) for d in days]
    assert local[0] == (0, 4) and local[23] == (0, 6) and local[24] == (23, 6)
    seen = scorer.fitted[-1]
    assert list(zip(seen.hour.astype(int), seen.weekday.astype(int))) == local

    scores = {s["alarm_id"]: s["p_false"] for s in r["open_alarm_scores"]}
    assert scores == pytest.approx({"o1": 0.0, "o2": 0.026, "o3": 0.026, "o4": 0.0})

    saved = fam.load_model(r["model"]["path"])
    assert saved.metadata["time_zone"] == PARIS
    del saved.metadata["time_zone"]
    old = fam.save_model(saved, tmp_path / "old")
    code, out, err = run_cli("alarms", "--model", old, "--format", "json")
    assert code == 0, err
    scores = {s["alarm_id"]: s["p_false"] for s in json.loads(out)["open_alarm_scores"]}
    assert scores == pytest.approx({"o1": 0.226, "o2": 0.006, "o3": 0.016, "o4": 0.236})
