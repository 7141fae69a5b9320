"""Each alarm KPI on hand-made alarms whose answers are worked out in the comments."""
from __future__ import annotations

import datetime as dt

import pytest

from alarm_fixtures import alarm_table, at, raises
from evaluation.analyses.alarms import (
    AlarmRules,
    alarm_report,
    false_alarms,
    lifecycle,
    load,
    nuisance,
    tuning,
)
from evaluation.analyses.alarms.prep import instances, select, windows


def flagged(rows, rules=None):
    rules = rules or AlarmRules()
    return nuisance.flag_nuisance(instances(alarm_table(rows)), rules)


# ---------------------------------------------------------------- chattering

def test_three_raises_in_exactly_60_s_chatter_in_61_s_they_do_not():
    rows = raises("A", [0, 30, 60]) + raises("B", [0, 30, 61])
    df = nuisance.per_alarm(flagged(rows)).execute().set_index("definition")
    # A: third raise at 60 s, first at 0 s: span 60 <= 60 -> one chatter raise
    assert df.loc["A", "chatter_raises"] == 1 and bool(df.loc["A", "chattering"])
    # B: span 61 > 60 -> none
    assert df.loc["B", "chatter_raises"] == 0 and not bool(df.loc["B", "chattering"])


def test_chatter_is_per_alarm_not_across_resources_or_systems():
    # Three raises within 2 s, but each on another resource or system: no chatter.
    rows = (raises("A", [0], resource="R1") + raises("A", [1], resource="R2")
            + raises("A", [2], resource="R1", system="S2"))
    assert nuisance.per_alarm(flagged(rows)).execute().chatter_raises.sum() == 0


def test_chatter_index_is_mean_of_inverse_run_lengths():
    # raises at 0, 1, 3, 7 s: run lengths 1, 2, 4 s -> psi = (1 + 1/2 + 1/4) / 3 = 0.58333
    # (a run of 0.5 s counts as 1 s: raises at 0 and 0.5 -> psi = 1)
    rows = raises("A", [0, 1, 3, 7]) + raises("B", [0, 0.5])
    df = nuisance.chatter_index(flagged(rows)).execute().set_index("definition")
    assert df.loc["A", "chatter_index"] == pytest.approx(0.583333, abs=1e-6)
    assert df.loc["A", "runs"] == 3 and df.loc["A", "median_run_s"] == 2
    assert df.loc["B", "chatter_index"] == pytest.approx(1.0)


# ---------------------------------------------------------------- repeats and history

def test_repeat_window_edge_is_inclusive():
    rules = AlarmRules(repeat_window_s=600)
    # gaps: 600 s (repeat), then 601 s (not), then 10 s (repeat) -> 2 repeats
    rows = raises("A", [0, 600, 1201, 1211])
    df = nuisance.per_alarm(flagged(rows, rules)).execute()
    assert df.repeat_alarms.iloc[0] == 2
    hist = nuisance.history(flagged(rows, rules), "A").execute()
    assert hist.repeat.tolist() == [False, True, False, True]
    assert hist.gap_s.tolist()[1:] == [600, 601, 10]


def test_history_of_one_alarm_filters_resource_and_keeps_time_order():
    rows = raises("A", [50, 10], resource="R1") + raises("A", [20], resource="R2")
    h = nuisance.history(flagged(rows), "A", resource_id="R1").execute()
    assert h.raised_at.tolist() == [at(10), at(50)] and set(h.resource_id) == {"R1"}


# ---------------------------------------------------------------- floods and rates

def test_flood_of_exactly_10_is_no_flood_11_is():
    # S1: 10 alarms in 00:00-00:10 -> no flood; S2: 11 alarms -> one 10-minute flood
    rows = (raises("A", [i * 50 for i in range(10)], system="S1")
            + raises("A", [i * 50 for i in range(11)], system="S2"))
    f = load.floods(alarm_table(rows)).execute()
    assert f.position.tolist() == ["S2"]
    assert f.minutes.tolist() == [10] and f.peak_per_10min.tolist() == [11]


def test_consecutive_flood_intervals_merge_into_one_episode_with_contributors():
    # interval 0: 11 x A; interval 1: 9 x B + 3 x A = 12; interval 2: 2 (quiet);
    # interval 3: 11 x C -> floods: [00:00, 00:20) 23 alarms peak 12; [00:30, 00:40) 11
    rows = (raises("A", [i * 10 for i in range(11)])
            + raises("B", [600 + i * 10 for i in range(9)])
            + raises("A", [700 + i for i in range(3)], prefix="A2")
            + raises("D", [1300, 1310])
            + raises("C", [1800 + i for i in range(11)]))
    t = alarm_table(rows)
    f = load.floods(t).execute()
    assert f.start.tolist() == [at(0), at(1800)]
    assert f.end.tolist() == [at(1200), at(2400)]
    assert f.minutes.tolist() == [20, 10]
    assert f.alarms.tolist() == [23, 11] and f.peak_per_10min.tolist() == [12, 11]
    c = load.flood_contributors(t).execute()
    first = c[c.flood_id == f.flood_id.iloc[0]]
    # A: 11 + 3 = 14, B: 9
    assert first.definition.tolist() == ["A", "B"] and first.alarms.tolist() == [14, 9]


def test_rates_per_10_min_count_empty_intervals():
    # 11 alarms in the first interval, period 00:00 .. 00:59:59 = 6 intervals
    # avg = 11 / 6 = 1.8333 per 10 min (manageable), 11 per hour, peak 11, 1/6 in flood
    rows = raises("A", [i * 10 for i in range(11)])
    t = alarm_table(rows)
    # the log is declared observed from 00:00 (since) until 00:59:59
    wins = windows(t, t, at(3599), since=at(0), observed_until=at(3599))
    r = load.rates(t, wins).execute().iloc[0]
    assert r.intervals == 6 and r.avg_per_10min == pytest.approx(11 / 6)
    assert r.avg_per_hour == pytest.approx(11) and r.peak_per_10min == 11
    assert r.flood_interval_share == pytest.approx(1 / 6)


def test_counts_by_priority_and_hour():
    rows = (raises("A", [0, 10], priority=1) + raises("B", [3600], priority=3))
    p = load.counts_by(alarm_table(rows), "priority").execute()
    assert p.alarms.tolist() == [2, 1] and p.share.tolist() == pytest.approx([2 / 3, 1 / 3])
    h = load.counts_by_time(alarm_table(rows), "h").execute()
    assert h.alarms.tolist() == [2, 1] and h.period.tolist() == [at(0), at(3600)]


# ---------------------------------------------------------------- standing, stale, bad actors

def test_standing_and_stale_at_as_of():
    as_of = at(0, hours=48)
    rows = [
        dict(alarm_id="old", system_id="S", definition="A", resource_id="R", raised_at=at(0, hours=23)),
        # raised 25 h before as_of: stale
        dict(alarm_id="young", system_id="S", definition="A", resource_id="R", raised_at=at(0, hours=25)),
        # 23 h old: standing, not stale
        dict(alarm_id="cleared", system_id="S", definition="A", resource_id="R",
             raised_at=at(0, hours=1), cleared_at=at(0, hours=2)),
        dict(alarm_id="clears-later", system_id="S", definition="A", resource_id="R",
             raised_at=at(0, hours=1), cleared_at=at(0, hours=50)),  # still active at as_of: stale
        dict(alarm_id="closed", system_id="S", definition="A", resource_id="R",
             raised_at=at(0, hours=1), closed_at=at(0, hours=3), status="closed",
             close_reason="handled"),
        dict(alarm_id="expired", system_id="S", definition="A", resource_id="R",
             raised_at=at(0, hours=1), status="expired"),
    ]
    t = alarm_table(rows)
    wins = windows(t, t, as_of, observed_until=as_of)
    s = nuisance.standing(t, wins).execute().set_index("alarm_id")
    assert s.unhandled.all()
    assert set(s.index) == {"old", "young", "clears-later"}
    assert s.loc["old", "age_h"] == pytest.approx(25) and bool(s.loc["old", "stale"])
    assert s.loc["young", "age_h"] == pytest.approx(23) and not bool(s.loc["young", "stale"])
    assert bool(s.loc["clears-later", "stale"])


def test_bad_actors_pareto_stops_after_crossing_80_percent():
    # A 6, B 3, C 1 of 10: cumulative 60 %, 90 %, 100 %; B crosses 80 % -> A, B
    rows = raises("A", range(6)) + raises("B", range(3)) + raises("C", [0])
    b = nuisance.bad_actors(alarm_table(rows)).execute()
    assert b.definition.tolist() == ["A", "B"] and b["rank"].tolist() == [1, 2]
    assert b.share.tolist() == pytest.approx([0.6, 0.3])
    assert b.cumulative_share.tolist() == pytest.approx([0.6, 0.9])
    assert nuisance.top_share(alarm_table(rows), 2).execute() == pytest.approx(0.9)


# ---------------------------------------------------------------- life cycle and false alarms

LIFE = [
    # handled after 10 s, closed after 60 s as handled, by ann
    dict(alarm_id="1", definition="A", resource_id="R", raised_at=at(0), handled_at=at(10),
         closed_at=at(60), status="closed", close_reason="handled", assigned_to="ann"),
    # handled after 20 s, closed after 100 s as false alarm, by ann
    dict(alarm_id="2", definition="A", resource_id="R", raised_at=at(3600), handled_at=at(3620),
         closed_at=at(3700), status="closed", close_reason="false_alarm", assigned_to="ann"),
    # escalated after 50 s, handled after 90 s by bob, closed after 200 s as false alarm
    dict(alarm_id="3", definition="B", resource_id="R", raised_at=at(7200), escalated_at=at(7250),
         handled_at=at(7290), closed_at=at(7400), status="closed", close_reason="false_alarm",
         assigned_to="bob"),
    # closed without handling after 30 s, reason other
    dict(alarm_id="4", definition="B", resource_id="R", raised_at=at(10800), closed_at=at(10830),
         status="closed", close_reason="other"),
    # expired unhandled
    dict(alarm_id="5", definition="B", resource_id="R", raised_at=at(14400), status="expired"),
    # still new
    dict(alarm_id="6", definition="B", resource_id="R", raised_at=at(18000), status="new"),
]


def test_lifecycle_summary():
    s = lifecycle.summary(instances(alarm_table(LIFE))).execute().iloc[0]
    # handle times 10, 20, 90 -> median 20; close times 60, 100, 200, 30 -> median 80
    assert s.alarms == 6 and s.handled == 3 and s.closed == 4
    assert s.median_handle_s == 20 and s.median_close_s == 80
    assert s.mean_handle_s == pytest.approx(40)
    # escalated 1/6, expired 1/6, closed without handling 1 of 4 closed
    assert s.escalated_share == pytest.approx(1 / 6) and s.expired_share == pytest.approx(1 / 6)
    assert s.closed_without_handling_share == pytest.approx(0.25)
    # alarm 3 escalated 50 s after its raise: allowed (guide: more than 45 s)
    assert s.escalated_too_early == 0
    early = [dict(LIFE[2], alarm_id="3b", escalated_at=at(7245))]  # 45 s: too early
    assert lifecycle.summary(instances(alarm_table(early))).execute().escalated_too_early[0] == 1


def test_close_reasons_and_operators():
    inst = instances(alarm_table(LIFE))
    r = lifecycle.close_reasons(inst).execute()
    assert dict(zip(r.close_reason, r.alarms)) == {"false_alarm": 2, "handled": 1, "other": 1}
    assert r.share.sum() == pytest.approx(1)
    ops = lifecycle.per_operator(inst).execute().set_index("assigned_to")
    # ann: 2 alarms, handle 10 and 20 s -> median 15; close 60 and 100 -> 80; 1 false
    assert ops.loc["ann", "alarms"] == 2 and ops.loc["ann", "median_handle_s"] == 15
    assert ops.loc["ann", "median_close_s"] == 80 and ops.loc["ann", "false_alarms"] == 1
    assert ops.loc["bob", "escalated_share"] == 1.0


def test_false_alarm_rates_by_definition_hour_and_weekday():
    inst = instances(alarm_table(LIFE))
    d = false_alarms.rates(inst, "definition").execute().set_index("definition")
    # A: 2 closed, 1 false -> 0.5; B: 2 closed (3, 4), 1 false -> 0.5; B has 4 alarms
    assert d.loc["A", "false_alarm_rate"] == 0.5 and d.loc["B", "alarms"] == 4
    assert d.loc["B", "closed"] == 2
    h = false_alarms.rates(inst, "hour").execute().set_index("hour")
    # hour 0: alarm 1 handled -> 0; hour 1: alarm 2 false -> 1; hour 5: never closed -> NULL
    assert h.loc[0, "false_alarm_rate"] == 0 and h.loc[1, "false_alarm_rate"] == 1
    assert h.loc[5, "closed"] == 0 and h.loc[5, "false_alarm_rate"] != h.loc[5, "false_alarm_rate"]
    w = false_alarms.rates(inst, "weekday").execute()
    assert w.weekday.tolist() == [0]  # T0 is a Monday


def test_select_as_of_forgets_later_facts():
    # as of 01:01:00 alarm 2 (raised 01:00, handled 01:00:20, closed 01:01:40) is in progress
    t = select(alarm_table(LIFE), as_of=at(3660))
    df = t.execute().set_index("alarm_id")
    assert list(df.index) == ["1", "2"]
    assert df.loc["2", "status"] == "in_progress" and df.loc["2", "close_reason"] is None
    assert df.loc["1", "status"] == "closed"


# ---------------------------------------------------------------- tuning advice

def _tuning_case(rules=None):
    """The definitions of :func:`test_tuning_advice_with_evidence` and what the advice reads
    of them under ``rules`` (default: the default rules): (facts, by_hour, stale)."""
    rules = rules or AlarmRules()
    rows = []
    # N: 10 false alarms at 02:00-02:59 (night), 10 handled ones at 14:00 -> schedule
    for day in range(10):
        rows += raises("N", [day * 86400 + 2 * 3600], prefix=f"Nn{day}", priority=3,
                       status="closed", close_reason="false_alarm")
        rows += raises("N", [day * 86400 + 14 * 3600], prefix=f"Nd{day}", priority=3,
                       status="closed", close_reason="handled")
    # P: priority 1, 6 closed, 4 false -> lower its priority
    rows += raises("P", [i * 7200 + 900 for i in range(6)], priority=1, status="closed")
    for r, reason in zip(rows[-6:], ["false_alarm"] * 4 + ["handled"] * 2):
        r["close_reason"] = reason
    # C: chatters (0, 20, 40 s), each clears after 5 s -> delay / deadband of 20 s
    # plus an on-delay (all its alarms cleared within 60 s)
    rows += [dict(r, cleared_at=r["raised_at"] + dt.timedelta(seconds=5))
             for r in raises("C", [0, 20, 40])]
    # S: standing for 30 h at as_of -> shelving
    rows += raises("S", [0])
    inst = flagged(rows, rules)
    facts = tuning.definition_facts(inst, rules).execute()
    by_hour = tuning.false_by_hour(inst).execute()
    end = at(0, hours=30)
    eps = nuisance.stale_episodes(inst, windows(inst, inst, end, observed_until=end),
                                  rules).execute()
    stale = {d: (len(g), g.stood_h.max()) for d, g in eps.groupby("definition")}
    return facts, by_hour, stale


def test_tuning_advice_with_evidence():
    adv = tuning.advise(*_tuning_case())
    kinds = {(a["definition"], a["kind"]) for a in adv}
    assert kinds == {("N", "schedule"), ("P", "priority"), ("C", "delay_deadband"),
                     ("S", "shelving")}
    sched = next(a for a in adv if a["kind"] == "schedule")
    # all 10 false alarms of N in one hour (02h): 1 of 24 hours, rate there 100 % vs 0 %
    assert sched["figures"]["hours"] == [2] and sched["figures"]["rate_in"] == 1.0
    assert "100% of its 10 false alarms fell in 1 of 24 hours (02h)" in sched["evidence"]
    delay = next(a for a in adv if a["kind"] == "delay_deadband")
    assert delay["figures"]["suggested_delay_s"] == 20 and delay["figures"]["chatter_raises"] == 1
    assert delay["figures"]["fleeting_share"] == 1.0 and "on-delay of 10 s" in delay["advice"]
    # measured, not the rule restated: 2 re-raises within 60 s, gaps 20 and 20 s
    assert ("2 re-raise(s) came within 60 s of the previous raise, the longest of those gaps 20 s"
            in delay["evidence"])
    assert "3 of its 3 alarm(s) that returned to normal did so within 10 s" in delay["evidence"]
    shelve = next(a for a in adv if a["kind"] == "shelving")
    # S raised at 0 and standing at the declared end, 30 h later
    assert shelve["evidence"] == "1 alarm(s) stood more than 24 h in the period, the longest 30.0 h"
    prio = next(a for a in adv if a["kind"] == "priority")
    assert "lower the priority" in prio["advice"] and "67% of its 6 closed" in prio["evidence"]


def test_tuning_advice_follows_the_rules_in_force():
    """Issue #13 item 13: the advice's thresholds are :class:`AlarmRules` fields (settings
    file, ``[alarms]``) and its evidence prints the numbers in force, never a literal.

    Same definitions as above, under other rules:

    - ``tuning_min_false = 11``: N has 10 false alarms, fewer than 11 → no schedule advice;
    - ``chatter_raises = 2``: C (raises at 0, 20, 40 s) chatters with its 2nd and 3rd raise
      (each within 60 s of the one before) → 2 chatter raises, evidence "the 2nd or later"
      (was "the 3rd or later" whatever the rule);
    - ``high_priorities = (2,)``, P has priority 1: no longer high (1 is now low: neither
      high nor medium 3), so no "lower" advice; as a low priority it has 67 % false, above
      ``raise_priority_false_share`` 20 % → no "raise" advice either;
    - ``stale_after_h = 36``: S stood 30 h → no stale episode, no shelving;
    - ``on_delay_fleeting_share = 1.0``: C's 3 of 3 fleeting alarms (100 %) still meet it.
    """
    rules = AlarmRules(tuning_min_false=11, chatter_raises=2, high_priorities=(2,),
                       stale_after_h=36.0, on_delay_fleeting_share=1.0)
    adv = tuning.advise(*_tuning_case(rules), rules=rules)
    assert {(a["definition"], a["kind"]) for a in adv} == {("C", "delay_deadband")}
    delay = adv[0]
    assert delay["figures"]["chatter_raises"] == 2
    assert "2 of its 3 raise(s) were the 2nd or later within 60 s" in delay["evidence"]
    assert "on-delay of 10 s" in delay["advice"]


@pytest.mark.parametrize("field, value, message", [
    ("schedule_max_hours", 25, ("schedule_max_hours must be a whole number of at least 1 and "
                                "at most 24, not 25")),
    ("shelve_false_share", 1.5, ("shelve_false_share must be a number of at least 0 and at "
                                 "most 1, not 1.5")),
    ("tuning_min_closed", 0, "tuning_min_closed must be a whole number of at least 1, not 0"),
])
def test_tuning_thresholds_are_checked_by_the_rules(field, value, message):
    with pytest.raises(ValueError, match=message):
        AlarmRules(**{field: value})


# ---------------------------------------------------------------- the report

def test_report_has_the_contract_keys_and_consistent_kpis():
    rows = raises("A", [0, 30, 60]) + raises("B", [i * 10 for i in range(11)], resource="R9")
    r = alarm_report(alarm_table(rows), as_of=at(3599), observed_until=at(3599))
    assert {"kpis", "definitions", "floods", "stale", "bad_actors"} <= set(r)
    for d in r["definitions"]:
        assert {"definition", "resource_id", "alarms", "false_alarm_rate", "chattering",
                "repeat_alarms"} <= set(d)
    k = r["kpis"]
    # 14 alarms over 00:00 .. 00:59:59 = 6 intervals in one system: 14/6 per 10 min
    assert k["alarms"] == 14 and k["avg_per_10min"] == pytest.approx(14 / 6)
    # the first interval holds all 14 (> 10): one 10-minute flood, 1 of 6 intervals
    assert k["floods"] == 1 and k["flood_interval_share"] == pytest.approx(1 / 6)
    # chattering: A (0, 30, 60) and B (every 10 s: raises 3..11 each close a 3-in-60 s) -> 2 alarms
    assert k["chattering_alarms"] == 2 and k["chatter_raises"] == 1 + 9
    # repeats (600 s window): A 2 + B 10
    assert k["repeat_alarms"] == 12
    assert r["floods"][0]["top_contributors"][0] == {"definition": "B", "alarms": 11}
    assert k["benchmark_status"]["peak_per_10min"] == "not met"
    # 14 alarms over 6 intervals: 2.33 per 10 min in system S1 -> overloaded (> 2)
    assert r["rates"][0]["rate_class"] == "overloaded"
    assert k["unhandled_past_default_expiry"] == 0 and k["escalated_too_early"] == 0
    assert isinstance(r["kpis"]["as_of"], str) and r["parameters"]["repeat_window_s"] == 600


def test_report_on_no_alarms_is_empty_not_an_error():
    r = alarm_report(alarm_table([]), as_of=dt.datetime(2024, 1, 1))
    assert r["kpis"]["alarms"] == 0 and r["definitions"] == [] and r["floods"] == []


def test_main_kpis_agree_with_the_report():
    from evaluation.analyses.alarms.report import main_kpis
    rows = (raises("A", [0, 30, 60]) + raises("B", [i * 10 for i in range(11)], resource="R9")
            + LIFE)
    m = main_kpis(alarm_table(rows), at(0, hours=6))
    r = alarm_report(alarm_table(rows), as_of=at(0, hours=6))
    k = r["kpis"]
    assert int(m["per_alarm"].chatter_raises.sum()) == k["chatter_raises"] == 10
    assert int(m["per_alarm"].repeat_alarms.sum()) == k["repeat_alarms"]
    assert len(m["floods"]) == k["floods"] == 1
    assert int(m["standing"].standing.iloc[0]) == k["standing"]
    assert m["bad_actors"].definition.tolist() == [b["definition"] for b in r["bad_actors"]]
    assert m["lifecycle"].median_handle_s.iloc[0] == k["median_handle_s"] == 20


def test_unhandled_alarms_past_the_default_48_h_expiry():
    # raised 49 h before as_of, still new and unhandled: the guide's default expiry
    # (48 h) should have removed it; the one raised 47 h before is only stale
    rows = [dict(alarm_id="a", definition="A", resource_id="R", raised_at=at(0), status="new"),
            dict(alarm_id="b", definition="A", resource_id="R", raised_at=at(0, hours=2),
                 status="new"),
            dict(alarm_id="c", definition="A", resource_id="R", raised_at=at(0),
                 handled_at=at(60), status="in_progress")]
    # the log is declared observed until as_of (its last record is 2 h after T0)
    k = alarm_report(alarm_table(rows), as_of=at(0, hours=49), observed_until=at(0, hours=49))[
        "kpis"]
    assert (k["standing"], k["stale"], k["unhandled_past_default_expiry"]) == (3, 3, 1)


# ---------------------------------------------------------------- issue #13: items 8–10

def test_chattering_alarms_are_counted_per_system_and_definition():
    """ISA-18.2 counts chattering alarms (target zero); "the same alarm" is keyed
    by system. "A" chatters (raises at 0, 20, 40 s: the 3rd within 60 s) on R1
    in S1 and on R1 in S2: two alarms to tune, not one pooled definition. "B"
    chatters on R1 and on R2 of S1: one definition of one system, one alarm."""
    a = raises("A", [0, 20, 40], system="S1") + raises("A", [0, 20, 40], system="S2")
    assert alarm_report(alarm_table(a))["kpis"]["chattering_alarms"] == 2
    b = raises("B", [0, 20, 40], resource="R1") + raises("B", [0, 20, 40], resource="R2")
    assert alarm_report(alarm_table(b))["kpis"]["chattering_alarms"] == 1


def test_share_of_hours_with_more_than_30_alarms():
    """ISA-18.2: "percentage of hours containing more than 30 alarms" (~< 1 %).
    Hour 0: 31 alarms (10 + 10 + 10 + 1 over four 10-minute intervals: no
    flood); hour 1: exactly 30 (not more). The log spans 00:00 – 01:59: two
    clock hours, one busy -> 1 / 2."""
    first = [i * 60 for i in range(10)] + [600 + i * 60 for i in range(10)] \
        + [1200 + i * 60 for i in range(10)] + [1800]
    second = [3600 + i * 115 for i in range(30)]           # 30 alarms, last at 01:55:35
    k = alarm_report(alarm_table(raises("A", first + second)))["kpis"]
    assert k["floods"] == 0
    assert k["busy_hours"] == 1 and k["busy_hour_share"] == pytest.approx(0.5)
    assert k["benchmark_status"]["busy_hour_share"] == "not met"


def test_fleeting_alarms_are_a_headline_figure():
    """A fleeting raise returns to normal by itself within ``fleeting_s`` (10 s,
    boundary included; ISA-18.2: chattering and fleeting alarms, target zero).
    A on S1 cleared after 10 s: fleeting; B cleared after 11 s: not; C closed by
    an operator after 5 s but never back to normal: not fleeting. A second
    fleeting raise of A (S1) is the same alarm: 2 raises, 1 alarm; A on S2 too:
    2 alarms."""
    def cleared(rows, s):
        return [dict(r, cleared_at=r["raised_at"] + dt.timedelta(seconds=s)) for r in rows]

    rows = (cleared(raises("A", [0, 3600]), 10) + cleared(raises("B", [0]), 11)
            + [dict(r, closed_at=r["raised_at"] + dt.timedelta(seconds=5), status="closed",
                    close_reason="handled") for r in raises("C", [0])])
    k = alarm_report(alarm_table(rows))["kpis"]
    assert (k["fleeting_raises"], k["fleeting_alarms"]) == (2, 1)
    assert k["benchmark_status"]["fleeting_alarms"] == "not met"
    k2 = alarm_report(alarm_table(rows + cleared(raises("A", [0], system="S2"), 3)))["kpis"]
    assert (k2["fleeting_raises"], k2["fleeting_alarms"]) == (3, 2)
    quiet = alarm_report(alarm_table(cleared(raises("B", [0]), 11)))["kpis"]
    assert quiet["fleeting_alarms"] == 0 and quiet["benchmark_status"]["fleeting_alarms"] == "met"


@pytest.mark.parametrize("avg, grade", [
    (0.5, "very likely acceptable"), (1.0, "very likely acceptable"),   # < 1 per 10 min
    (1.01, "manageable"), (2.0, "manageable"),                          # 1 per 5 min
    (2.01, "likely over-demanding"), (5.0, "likely over-demanding"),    # 1 per 2 min
    (10.0, "likely over-demanding"),
    (10.01, "very likely unacceptable"),                                # more than 1 per min
])
def test_eemua_191_grade_of_the_average_rate(avg, grade):
    from evaluation.analyses.alarms.rules import rate_grade
    assert rate_grade(avg) == grade


def test_report_carries_the_eemua_grade():
    """14 alarms over 6 intervals (declared window 00:00 – 00:59:59): 2.33 per
    10 min, more than 1 per 5 minutes -> likely over-demanding (EEMUA 191)."""
    rows = raises("A", [0, 30, 60]) + raises("B", [i * 10 for i in range(11)], resource="R9")
    r = alarm_report(alarm_table(rows), as_of=at(3599), observed_until=at(3599))
    assert r["kpis"]["rate_grade"] == "likely over-demanding"
    assert r["rates"][0]["rate_grade"] == "likely over-demanding"


def test_priority_distribution_against_80_15_5_and_na_without_priorities():
    """ISA-18.2 (3 levels): ~80 % low, ~15 % medium, ~5 % high. The guide's
    priorities map 1–2 high, 3 medium, 4–5 low. 20 prioritised alarms: one each
    at 1 and 2 (high 2 = 10 %), 3 at 3 (15 %), 15 at 4–5 (75 %); one more
    without a priority stays out of the shares -> not met (high > 5 %, low <
    80 %). A log with no priority at all has no distribution: n/a (None), not
    0 %."""
    rows = (raises("P1", [0], priority=1) + raises("P2", [10], priority=2)
            + raises("P3", [20, 30, 40], priority=3)
            + raises("P4", [100 + i * 10 for i in range(8)], priority=4)
            + raises("P5", [300 + i * 10 for i in range(7)], priority=5)
            + raises("X", [500]))
    k = alarm_report(alarm_table(rows))["kpis"]
    p = k["priority_distribution"]
    assert (p["high"], p["medium"], p["low"]) == pytest.approx((0.10, 0.15, 0.75))
    assert (p["prioritised"], p["unprioritised"]) == (20, 1)
    assert k["high_priority_share"] == pytest.approx(0.10)
    assert k["benchmark_status"]["priority_distribution"] == "not met"
    none = alarm_report(alarm_table(raises("X", [0, 10])))
    assert none["kpis"]["high_priority_share"] is None
    assert none["kpis"]["priority_distribution"]["high"] is None
    assert "priority_distribution" not in none["kpis"]["benchmark_status"]
    from evaluation.commands.alarms import render_text
    assert "priority distribution n/a (the log carries no priorities)" in render_text(none)


def test_expiry_under_90_s_and_closes_without_a_reason():
    """Guide, life cycle: an alarm may expire if unhandled "more than 90 seconds"
    (like escalation after more than 45 s); closing asks for a reason (event
    handled, false alarm, other).
    - e90: expired, closed 90 s after the raise -> too early (90 is not more than 90);
    - e91: expired after 91 s -> fine;
    - c1: status closed, no reason -> closed without a reason;
    - c2: no status, closed_at set, no reason -> closed without a reason;
    - c3: closed as handled -> fine; e91 expired without a reason -> fine (expiry
      closes by itself).
    Closed by an operator: c1, c2, c3 -> 2 of 3 without a reason."""
    rows = [dict(alarm_id="e90", definition="A", resource_id="R", raised_at=at(0),
                 closed_at=at(90), status="expired"),
            dict(alarm_id="e91", definition="A", resource_id="R", raised_at=at(0),
                 closed_at=at(91), status="expired"),
            dict(alarm_id="c1", definition="A", resource_id="R", raised_at=at(0),
                 closed_at=at(30), status="closed"),
            dict(alarm_id="c2", definition="A", resource_id="R", raised_at=at(0),
                 closed_at=at(30)),
            dict(alarm_id="c3", definition="A", resource_id="R", raised_at=at(0),
                 closed_at=at(30), status="closed", close_reason="handled")]
    k = alarm_report(alarm_table(rows))["kpis"]
    assert k["expired_too_early"] == 1
    assert k["closed_without_reason"] == 2
    assert k["closed_without_reason_share"] == pytest.approx(2 / 3)
    s = lifecycle.summary(instances(alarm_table(rows))).execute().iloc[0]
    assert (s.expired_too_early, s.closed_without_reason, s.closed_by_operator) == (1, 2, 3)
