"""Avalanches, sequences, standing alarms over time, the nuisance score and load
patterns (issue 17, items 1 and 3–5) on hand-made logs, answers worked out in
the docstrings. T0 = Monday 2024-05-06 00:00 UTC.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alarm_fixtures import alarm_table, at
from evaluation.analyses.alarms import alarm_report, avalanches, load, prep
from evaluation.analyses.alarms.rules import AlarmRules

H = 3600


def raise_(alarm_id, system, definition, seconds, cleared_after=None, **extra) -> dict:
    cleared = at(seconds + cleared_after) if cleared_after is not None else None
    return dict(alarm_id=alarm_id, system_id=system, definition=definition,
                resource_id=definition, raised_at=at(seconds), cleared_at=cleared, **extra)


# ---------------------------------------------------------------- avalanches (item 1)

def avalanche_log() -> list[dict]:
    """S1: INIT at 00:01:01, F1…F9 at 00:01:02…00:01:10 — 10 alarms in the minute
    00:01, exactly the threshold; F1 six times at 00:02:00…05 and F2 six times at
    00:02:06…11 — 12 in 00:02; 9 alarms in 00:05 (one short); 5 + 5 alarms
    across 00:09:55–00:10:04 (ten within 10 s, but split by the clock minute);
    INIT at 01:00:00 and G1…G9 at 01:00:01…09. S2: INIT and X both at
    00:30:00, then H1…H8."""
    r = [raise_("s1-init", "S1", "INIT", 61)]
    r += [raise_(f"s1-f{i}", "S1", f"F{i}", 61 + i) for i in range(1, 10)]
    r += [raise_(f"s1-f1b{i}", "S1", "F1", 120 + i) for i in range(6)]
    r += [raise_(f"s1-f2b{i}", "S1", "F2", 126 + i) for i in range(6)]
    r += [raise_(f"s1-q{i}", "S1", f"Q{i}", 300 + i) for i in range(9)]
    r += [raise_(f"s1-s{i}", "S1", f"S{i}", 595 + i) for i in range(10)]
    r += [raise_("s1-init2", "S1", "INIT", H)]
    r += [raise_(f"s1-g{i}", "S1", f"G{i}", H + i) for i in range(1, 10)]
    r += [raise_("s2-init", "S2", "INIT", 1800), raise_("s2-x", "S2", "X", 1800)]
    r += [raise_(f"s2-h{i}", "S2", f"H{i}", 1800 + i) for i in range(1, 9)]
    return r


def test_avalanches_by_the_minute_with_initiator_and_followers():
    """S1's minutes 00:01 (10 alarms: at least 10, an avalanche) and 00:02 (12)
    are consecutive: one avalanche 00:01–00:03, 2 minutes, 22 alarms, peak 12 per
    minute, 10 distinct alarms, initiator INIT (the first raise, 00:01:01, alone
    at its instant). Its followers: F1 7 (00:01:02 and six at 00:02), F2 7, then
    F3, F4, F5 once each (ties by name; top 5). 00:05 (9) is no avalanche, nor
    are the 10 alarms of 00:09:55–00:10:04 (5 per clock minute). S1 01:00: INIT,
    10 alarms. S2 00:30: INIT and X raised at the same instant: INIT comes first
    by name, ``initiator_ties`` 1. So INIT started all 3 avalanches, in 2
    systems; 4 avalanche minutes, 42 alarms in them."""
    r = alarm_report(alarm_table(avalanche_log()))
    eps = r["avalanches"]["episodes"]
    assert [(e["system_id"], e["start"][11:16], e["minutes"], e["alarms"]) for e in eps] == [
        ("S1", "00:01", 2, 22), ("S2", "00:30", 1, 10), ("S1", "01:00", 1, 10)]
    first = eps[0]
    assert first["end"] == at(180).isoformat() and first["peak_per_minute"] == 12
    assert first["distinct_alarms"] == 10 and first["initiator_definition"] == "INIT"
    assert first["initiator_raised_at"] == at(61).isoformat() and first["initiator_ties"] == 0
    assert [(f["definition"], f["alarms"]) for f in first["followers"]] == [
        ("F1", 7), ("F2", 7), ("F3", 1), ("F4", 1), ("F5", 1)]
    assert eps[1]["initiator_definition"] == "INIT" and eps[1]["initiator_ties"] == 1
    init = r["avalanches"]["initiators"]
    assert [(i["definition"], i["avalanches"], i["systems"], i["share"]) for i in init] == [
        ("INIT", 3, 2, 1.0)]
    k = r["kpis"]
    assert (k["avalanches"], k["avalanche_minutes"], k["avalanche_alarms"]) == (3, 4, 42)


def test_the_threshold_is_a_rule():
    """With ``avalanche_min_alarms`` 11, only S1's 00:02 (12 alarms) remains: the
    avalanche starts there, and its first raise is F1 at 00:02:00."""
    r = alarm_report(alarm_table(avalanche_log()), rules=AlarmRules(avalanche_min_alarms=11))
    eps = r["avalanches"]["episodes"]
    assert [(e["start"][11:16], e["alarms"], e["initiator_definition"]) for e in eps] == [
        ("00:02", 12, "F1")]


def test_skipping_quiet_intervals_changes_nothing():
    """The 10-minute counts only leave out raises that cannot make an avalanche."""
    t = alarm_table(avalanche_log())
    keys = prep.number_keys(t)
    raises = prep.key_raises(t, keys)
    names = prep.KeyNames(keys)
    plain = avalanches.compute(raises, keys, names)
    fast = avalanches.compute(raises, keys, names, counts=load.interval_counts(t))
    pd.testing.assert_frame_equal(plain.episodes, fast.episodes)
    pd.testing.assert_frame_equal(plain.followers, fast.followers)


# ---------------------------------------------------------------- sequences (item 3)

def sequence_log() -> list[dict]:
    """S1: A at 0, 100, 200 s; A on resource R2 at 5 s; B at 10, 110, 400 s; C at
    20, 120, 210 s. In time order: A 0, A' 5, B 10, C 20 | A 100, B 110, C 120 |
    A 200, C 210 | B 400 (| marks a gap over 60 s)."""
    r = [raise_(f"a{i}", "S1", "A", s) for i, s in enumerate((0, 100, 200))]
    r.append(dict(raise_("a2", "S1", "A", 5), resource_id="R2"))
    r += [raise_(f"b{i}", "S1", "B", s) for i, s in enumerate((10, 110, 400))]
    r += [raise_(f"c{i}", "S1", "C", s) for i, s in enumerate((20, 120, 210))]
    return r


def test_transitions_between_the_busiest_alarms():
    """A (3 raises) is followed by A' (5 s), B (10 s) and C (10 s): one each,
    1/3 of its raises. B (3) by C twice (10 s); B at 400 s by nothing. C at 20
    and 120 s come 80 s before the next raise: not followed. A' → B once
    (share 1). Busiest: A, B, C (3 raises each, by name), A' (1)."""
    r = alarm_report(alarm_table(sequence_log()), rules=AlarmRules(sequence_top_n=4))
    s = r["sequences"]
    assert [(b["definition"], b["resource_id"], b["raises"], b["followed"]) for b in s["busiest"]] \
        == [("A", "A", 3, 3), ("B", "B", 3, 2), ("C", "C", 3, 0), ("A", "R2", 1, 1)]
    cells = {(t["from_resource_id"], t["to_resource_id"]): (t["transitions"], t["share"])
             for t in s["transitions"]}
    assert cells == {("A", "R2"): (1, pytest.approx(1 / 3)), ("A", "B"): (1, pytest.approx(1 / 3)),
                     ("A", "C"): (1, pytest.approx(1 / 3)), ("B", "C"): (2, pytest.approx(2 / 3)),
                     ("R2", "B"): (1, 1.0)}


def test_most_frequent_sequences_skip_repeats_of_one_alarm():
    """Pairs: B → C twice; A → A', A' → B, A → B, A → C once (ties by name).
    Chains of 3, each step within 60 s and to another alarm: A A' B, A' B C,
    A B C — once each."""
    r = alarm_report(alarm_table(sequence_log()))
    top = r["sequences"]["top"]
    two = [(t["step1_resource_id"], t["step2_resource_id"], t["occurrences"])
           for t in top if t["length"] == 2]
    three = [(t["step1_resource_id"], t["step2_resource_id"], t["step3_resource_id"])
             for t in top if t["length"] == 3]
    assert two == [("B", "C", 2), ("A", "R2", 1), ("A", "B", 1), ("A", "C", 1), ("R2", "B", 1)]
    assert three == [("A", "R2", "B"), ("A", "B", "C"), ("R2", "B", "C")]


def test_a_chattering_alarm_is_a_diagonal_transition_not_a_sequence():
    """A at 0, 10, 20 s then B at 30 s: A → A twice (the diagonal), A → B once;
    the sequences keep A → B only, and no chain of 3 (A A B repeats A)."""
    log = [raise_(f"a{i}", "S1", "A", 10 * i) for i in range(3)] + [raise_("b", "S1", "B", 30)]
    s = alarm_report(alarm_table(log))["sequences"]
    cells = {(t["from_definition"], t["to_definition"]): t["transitions"] for t in s["transitions"]}
    assert cells == {("A", "A"): 2, ("A", "B"): 1}
    assert [(t["length"], t["step1_definition"], t["step2_definition"]) for t in s["top"]] == [
        (2, "A", "B")]


# ---------------------------------------------------------------- standing over time (item 4)

def standing_log() -> list[dict]:
    """S1: a1 raised 00:00, back 30:00 (stale 24:00–30:00); a2 00:10–00:11:40;
    a3 raised and back at 00:10:50 (never stands); a4 raised 02:00, never
    back (stale from 26:00); a6 40:00:00–40:00:01, the last record. S2: a5
    00:00:00–00:00:05."""
    return [raise_("a1", "S1", "A1", 0, 30 * H), raise_("a2", "S1", "A2", 600, 100),
            raise_("a3", "S1", "A3", 650, 0), raise_("a4", "S1", "A4", 2 * H),
            raise_("a6", "S1", "A6", 40 * H, 1), raise_("a5", "S2", "A5", 0, 5)]


def test_standing_series_per_system():
    """S1's window 00:00:00–40:00:01 spans 241 ten-minute steps (< 1000: the step
    is 10 min). 00:00–00:10: a1 alone, mean 1, 1 at the end. 00:10–00:20: a1
    600 s + a2 100 s (a3 stood 0 s) = 700 alarm-seconds over 600 → 1.1667; 1 at
    the end. From 24:00 a1 is stale (1), from 26:00 a4 too (2), until 30:00.
    At 30:00 sharp a1 ends: that step never holds 2 stale alarms at once.
    The last step 40:00–40:00:01 covers 1 s in which a4 and a6 stand: mean 2;
    at the window's end a4 alone stands (the report's ``standing``), stale.
    S2's one step: a5 stood 5 of its 5 s: mean 1, 0 at the end."""
    r = alarm_report(alarm_table(standing_log()))
    ss = r["standing_series"]
    assert ss["step_s"] == 600
    s = pd.DataFrame(ss["series"])
    s1 = s[s.system_id == "S1"].set_index("step_start")
    assert len(s1) == 241
    assert s1.loc[at(0).isoformat(), ["standing_at_end", "mean_standing"]].tolist() == [1, 1.0]
    assert s1.loc[at(600).isoformat(), "mean_standing"] == pytest.approx(700 / 600)
    assert s1.loc[at(24 * H).isoformat(), ["stale_at_end", "max_stale"]].tolist() == [1, 1]
    assert s1.loc[at(26 * H).isoformat(), ["stale_at_end", "max_stale"]].tolist() == [2, 2]
    assert s1.loc[at(30 * H).isoformat(), ["stale_at_end", "max_stale"]].tolist() == [1, 1]
    last = s1.iloc[-1]
    assert (last.mean_standing, last.standing_at_end, last.stale_at_end) == (2.0, 1, 1)
    s2 = s[s.system_id == "S2"].iloc[0]
    assert (s2.mean_standing, s2.standing_at_end) == (1.0, 0)
    k = r["kpis"]
    assert k["standing"] == s.groupby("system_id").standing_at_end.last().sum() == 1
    assert k["stale_daily_max"] == s.max_stale.max() == 2


def test_the_step_grows_with_the_longest_window():
    """A 200-hour window is 1,201 ten-minute steps (> 1000): the step becomes 1 h."""
    log = [raise_("a", "S1", "A", 0), raise_("b", "S1", "B", 200 * H)]
    assert alarm_report(alarm_table(log))["standing_series"]["step_s"] == 3600


def _level(spans, t):
    return sum(1 for s, e in spans if s <= t and (e is None or e > t))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 4 * H), st.one_of(st.none(), st.integers(0, 3 * H))),
                min_size=1, max_size=12))
def test_series_equal_brute_force(alarms):
    """For any alarms (raise, how long until back; None: still standing): the
    level at each step's end and the time-weighted mean equal a direct count."""
    log = [raise_(f"x{i}", "S1", f"D{i % 3}", s, d) for i, (s, d) in enumerate(alarms)]
    r = alarm_report(alarm_table(log))
    step = r["standing_series"]["step_s"]
    w = r["rates"][0]
    start, end = (pd.Timestamp(w[c]) for c in ("window_start", "window_end"))
    spans = [(at(s), at(s + d) if d is not None else None) for s, d in alarms]
    for row in r["standing_series"]["series"]:
        a = pd.Timestamp(row["step_start"])
        b = min(a + pd.Timedelta(seconds=step), end)
        # a step's end is its last instant, the window's end only in the step that holds it
        # (a window ending on a step boundary ends in the next, zero-length, step)
        probe = end if a + pd.Timedelta(seconds=step) > end else b - pd.Timedelta(microseconds=1)
        assert row["standing_at_end"] == _level(spans, probe)
        lo = max(a, start)
        covered = (b - lo).total_seconds()
        total = sum(max(0.0, (min(e if e is not None else end, b) - max(s, lo)).total_seconds())
                    for s, e in spans)
        if covered > 0:
            assert row["mean_standing"] == pytest.approx(total / covered)
        else:
            assert row["mean_standing"] is None


# ---------------------------------------------------------------- nuisance score (item 4)

def test_composite_nuisance_score_shows_its_parts():
    """X raised at 0, 20, 40 s, each back 5 s later: the raise at 40 s is the 3rd
    within 60 s (chatter 1/3), all 3 fleeting (≤ 10 s: 1), the raises at 20 and
    40 s repeats (2/3), none stood 24 h (0): score (1/3 + 1 + 2/3 + 0) / 4 = 0.5.
    Y raised at 00:01 stood until 30:00 (a stale episode): standing 1, score
    0.25. Z once, back after an hour: score 0, not listed. With weights
    (2, 0, 0, 0) only chatter counts: X 1/3, Y drops out."""
    log = ([raise_(f"x{i}", "S1", "X", 20 * i, 5) for i in range(3)]
           + [raise_("y", "S1", "Y", 60, 30 * H - 60), raise_("z", "S1", "Z", 0, H)])
    got = alarm_report(alarm_table(log))["nuisance_scores"]
    assert [(g["definition"], g["score"]) for g in got] == [("X", 0.5), ("Y", 0.25)]
    x = got[0]
    assert (x["chatter_share"], x["fleeting_share"], x["repeat_share"], x["standing_share"]) == (
        pytest.approx(1 / 3), 1.0, pytest.approx(2 / 3), 0.0)
    weighted = alarm_report(alarm_table(log), rules=AlarmRules(nuisance_weights=(2, 0, 0, 0)))
    assert [(g["definition"], g["score"]) for g in weighted["nuisance_scores"]] == [
        ("X", pytest.approx(1 / 3))]


# ---------------------------------------------------------------- load patterns (item 5)

def test_hour_of_day_by_day_of_week_load():
    """S1 observed Monday 00:00 – Monday (a week later) 00:30: Monday 00h is
    observed twice, every other hour of the week once (169 hours). 3 alarms on
    Monday 00:xx (two in week 1, one in week 2): 1.5 per observed hour; 4 on
    Tuesday 13:xx: 4 per hour; the other 166 hours none."""
    week = 7 * 24 * H
    log = ([raise_("m1", "S1", "M", 0), raise_("m2", "S1", "M", 600),
            raise_("m3", "S1", "M", week + 1800)]
           + [raise_(f"t{i}", "S1", "T", 24 * H + 13 * H + 60 * i) for i in range(4)])
    p = pd.DataFrame(alarm_report(alarm_table(log))["load_pattern"])
    assert len(p) == 168 and p.hours.sum() == 169
    mon0 = p[(p.weekday == 0) & (p.hour == 0)].iloc[0]
    assert (mon0.alarms, mon0.hours, mon0.avg_per_hour) == (3, 2, 1.5)
    tue13 = p[(p.weekday == 1) & (p.hour == 13)].iloc[0]
    assert (tue13.alarms, tue13.hours, tue13.avg_per_hour) == (4, 1, 4.0)
    assert p.alarms.sum() == 7


def test_slot_hours_of_several_windows():
    """Two windows (Mon 00:00–01:30 and Sun 23:00–Mon 00:10): Monday 00h twice,
    Monday 01h once, Sunday 23h once."""
    w = pd.DataFrame({"window_start": [at(0), at(-H)], "window_end": [at(5400), at(600)]})
    h = load.slot_hours(w)
    assert (h[0], h[1], h[167], h.sum()) == (2, 1, 1, 4)


def test_peak_to_average():
    """S1: 12 alarms in 00:00–00:10, 2 in 00:10–00:20, 1 in 00:20–00:30 (3
    intervals, 15 alarms: average 5): peak-to-average 12 / 5 = 2.4."""
    log = ([raise_(f"a{i}", "S1", "A", 10 * i) for i in range(12)]
           + [raise_("b1", "S1", "B", 700), raise_("b2", "S1", "B", 800),
              raise_("c", "S1", "C", 1300)])
    r = alarm_report(alarm_table(log))
    assert r["rates"][0]["peak_to_average"] == pytest.approx(2.4)
    assert r["kpis"]["peak_to_average"] == pytest.approx(2.4)


def test_empty_scope_gives_empty_tables():
    r = alarm_report(alarm_table([raise_("a", "S1", "A", 0)]), system_id="S9")
    assert r["avalanches"]["episodes"] == [] and r["sequences"]["top"] == []
    assert r["standing_series"]["series"] == [] and r["nuisance_scores"] == []
    assert r["load_pattern"] and all(p["alarms"] == 0 for p in r["load_pattern"])


def test_the_week_starts_on_monday():
    assert at(0).weekday() == 0 and dt.datetime(1970, 1, 1).weekday() == 3
    assert int(np.argmax(load.slot_hours(pd.DataFrame(
        {"window_start": [dt.datetime(1970, 1, 1)], "window_end": [dt.datetime(1970, 1, 1)]})))) \
        == 3 * 24


def _paris(*rows) -> list[dict]:
    return [dict(alarm_id=i, system_id="S1", definition=d, resource_id=d,
                 raised_at=dt.datetime.fromisoformat(t)) for i, d, t in rows]


def test_the_load_pattern_is_on_the_databases_clock_across_the_spring_change():
    """Operators read the hour of day on their own clock (issue 17 item 5, with the
    database's zone of issue 12). Europe/Paris goes from +01:00 to +02:00 at 01:00 UTC
    on Sunday 2025-03-30. S1's records (naive UTC) run from Saturday 22:30 to Sunday
    02:30 UTC:

    - a (Sat 22:30 UTC) is 23:30 Saturday in Paris: slot (5, 23);
    - b (Sat 23:15 UTC) is 00:15 *Sunday* in Paris (Saturday in UTC): slot (6, 0);
    - c (Sun 01:30 UTC) is 03:30 Paris summer time: slot (6, 3);
    - d (Sun 02:30 UTC) is 04:30: slot (6, 4).

    Hours observed: UTC 22, 23, 00 give Paris Saturday 23h, Sunday 00h and 01h; UTC 01
    and 02 give 03h and 04h: five slots once; Sunday 02h never happens (0 hours, no
    average), and in UTC the same log would put b on Saturday 23h."""
    log = _paris(("a", "A", "2025-03-29 22:30"), ("b", "B", "2025-03-29 23:15"),
                 ("c", "C", "2025-03-30 01:30"), ("d", "D", "2025-03-30 02:30"))
    p = pd.DataFrame(alarm_report(alarm_table(log), zone="Europe/Paris")["load_pattern"])
    seen = {(int(r.weekday), int(r.hour)): (int(r.alarms), int(r.hours))
            for r in p.itertuples() if r.hours or r.alarms}
    assert seen == {(5, 23): (1, 1), (6, 0): (1, 1), (6, 1): (0, 1), (6, 3): (1, 1),
                    (6, 4): (1, 1)}
    skipped = p[(p.weekday == 6) & (p.hour == 2)].iloc[0]
    assert skipped.hours == 0 and pd.isna(skipped.avg_per_hour)
    utc = pd.DataFrame(alarm_report(alarm_table(log))["load_pattern"])
    assert int(utc[(utc.weekday == 5) & (utc.hour == 23)].alarms.iloc[0]) == 1   # b in UTC


def test_the_autumn_hour_that_repeats_is_observed_twice():
    """Europe/Paris goes back from +02:00 to +01:00 at 01:00 UTC on Sunday 2025-10-26:
    Paris 02:00–03:00 happens twice. A window from 00:00 to 01:59 UTC covers Paris
    02h (summer), 02h again (winter): Sunday 02h is observed 2 hours; an alarm in each
    of them (00:30 and 01:30 UTC) gives 2 alarms, 1 per observed hour."""
    log = _paris(("a", "A", "2025-10-26 00:30"), ("b", "B", "2025-10-26 01:30"))
    w = pd.DataFrame({"window_start": [dt.datetime(2025, 10, 26, 0, 0)],
                      "window_end": [dt.datetime(2025, 10, 26, 1, 59)]})
    h = load.slot_hours(w, "Europe/Paris")
    assert (h[6 * 24 + 2], h.sum()) == (2, 2)
    p = pd.DataFrame(alarm_report(alarm_table(log), zone="Europe/Paris")["load_pattern"])
    sun2 = p[(p.weekday == 6) & (p.hour == 2)].iloc[0]
    assert (sun2.alarms, sun2.hours, sun2.avg_per_hour) == (2, 2, 1.0)
