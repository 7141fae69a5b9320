"""Consequential alarms and suppression advice (issue 17, item 2) on hand-made logs.

Planted: a trigger A whose every episode is followed 10 s later by B (a
consequence to suppress), and every second one 30 s later by C (a consequence,
but too unreliable to suppress); D is independent and frequent, E rare. The
figures are worked out in the docstrings from the rules of
:mod:`evaluation.analyses.alarms.consequences`: W = 60 s, an episode starts
with a raise more than W after the previous raise of its alarm, *together* =
episodes followed by the other alarm 0–W s after their start, *cover* =
|∪ [t − W, t]| over the other alarm's raises / the system's window,
expected = episodes × cover, p = P(X ≥ together), X ~ Binomial(episodes,
cover), Holm over K(K − 1) pairs. ISA-18.2 (consequential alarms,
alarm-based suppression); Holm (1979); Hoeffding (1956).
"""
from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import special

from alarm_fixtures import alarm_table, at
from evaluation.analyses.alarms import alarm_report, consequences, prep
from evaluation.analyses.alarms.rules import AlarmRules

T = 36_000          # S1's window: 00:00:00 - 10:00:00
A = [300 + 1800 * k for k in range(20)]
B = [a + 10 for a in A] + [7005, 20005]
C = [A[k] + 30 for k in range(0, 20, 2)]
D = [97 * i for i in range(372)]


def rows(system: str, definition: str, seconds, **extra) -> list[dict]:
    return [dict(alarm_id=f"{system}-{definition}-{i}", system_id=system, definition=definition,
                 resource_id=definition, raised_at=at(s), **extra) for i, s in enumerate(seconds)]


def planted() -> list[dict]:
    """S1, observed 00:00:00 - 10:00:00 (D's first raise; D's last, at 9:59:47, is
    back to normal at 10:00:00): T = 36,000 s, 600 windows of 60 s.

    - A at 00:05:00 and every 30 min: 20 raises, 20 episodes;
    - B 10 s after each A, and alone at 01:56:45 and 05:33:25: 22 raises;
    - C 30 s after every second A (k = 0, 2, … 18): 10 raises;
    - D every 97 s from 00:00:00: 372 raises, never two within 60 s.
    """
    d = rows("S1", "D", D)
    d[-1]["cleared_at"] = at(T)
    return rows("S1", "A", A) + rows("S1", "B", B) + rows("S1", "C", C) + d


def report(log, **kw):
    return alarm_report(alarm_table(log), **kw)["consequences"]


def pair(c: dict, a: str, b: str) -> dict | None:
    hits = [p for p in c["pairs"] if p["trigger_definition"] == a
            and p["consequence_definition"] == b]
    return hits[0] if hits else None


def test_the_planted_consequence_is_advised_and_nothing_else():
    """A → B: all 20 episodes of A were followed by B within 60 s (confidence 1).
    B's 22 raises, never within 60 s of each other, cover 22 × 60 = 1,320 s of
    36,000 (3.67 %): chance would put B after 20 × 0.0367 = 0.733 episodes, so
    lift = 20 / 0.733 = 27.27 and p = 0.0367^20 = 1.93e-29; Holm over the
    4 × 3 = 12 ordered pairs: 12 × p = 2.32e-28 ≤ 0.01. Support: 20 of the 600
    one-minute windows = 0.0333. A suppression for 60 s after each A removes
    the 20 B that followed it; the 2 lone B stay.

    The only advice is "suppress B while A is active": A → C and B → C are
    significant too but C followed only 10 of 20 (50 %) and 10 of 22 (45 %)
    episodes, below 70 %."""
    c = report(planted())
    assert c["pairs_tried"] == 12
    adv = c["suppression"]
    assert [(a["trigger_definition"], a["consequence_definition"]) for a in adv] == [("A", "B")]
    a = adv[0]
    assert (a["trigger_episodes"], a["together"], a["confidence"]) == (20, 20, 1.0)
    assert a["lift"] == pytest.approx(20 / (20 * 1320 / T))
    assert a["p_adjusted"] == pytest.approx(12 * (1320 / T) ** 20, rel=1e-9)
    assert (a["consequence_alarms"], a["removed"], a["without_trigger"]) == (22, 20, 2)
    assert a["removed_share"] == pytest.approx(20 / 22) and a["mutual"] is False
    assert "suppress 'B' while 'A' is active" in a["advice"]
    assert "20 of 20 episodes of 'A' were followed by 'B' within 60 s" in a["evidence"]
    assert "20 of the 22 raises of 'B'" in a["evidence"] and "2 came without it" in a["evidence"]
    ab = pair(c, "A", "B")
    assert ab["support"] == pytest.approx(20 / 600) and ab["expected"] == pytest.approx(0.7333333)
    assert c["groups"][0]["consequences"] == ["B"] and c["groups"][0]["removed"] == 20


def test_unreliable_consequences_are_significant_but_not_advised():
    """A → C: 10 of 20 episodes; C covers 10 × 60 = 600 s (1/60): expected 0.333,
    lift 30, p = P(X ≥ 10 | 20, 1/60) = 2.62e-13; Holm: second smallest of 12 →
    11 × p = 2.89e-12. B → C: 10 of B's 22 episodes, expected 22/60 = 0.367,
    lift 27.27, p = 8.91e-13, third → 10 × p. Both significant, neither reaches
    the 70 % confidence an advice needs. B never precedes A, C precedes
    nothing: those pairs never come together and are not tested."""
    c = report(planted())
    ac, bc = pair(c, "A", "C"), pair(c, "B", "C")
    p_ac = special.bdtrc(9, 20, 1 / 60)
    p_bc = special.bdtrc(9, 22, 1 / 60)
    assert (ac["together"], ac["trigger_episodes"], ac["confidence"]) == (10, 20, 0.5)
    assert ac["lift"] == pytest.approx(30) and ac["p_value"] == pytest.approx(p_ac, rel=1e-9)
    assert ac["p_adjusted"] == pytest.approx(11 * p_ac, rel=1e-9)
    assert bc["p_adjusted"] == pytest.approx(10 * p_bc, rel=1e-9)
    assert bc["confidence"] == pytest.approx(10 / 22)
    assert {(p["trigger_definition"], p["consequence_definition"]) for p in c["pairs"]} == {
        ("A", "B"), ("A", "C"), ("B", "C")}


def test_an_independent_alarm_is_never_a_consequence():
    """D (every 97 s, 372 raises) covers 372 × 60 = 22,320 s, 62 % of the
    window: it follows any alarm within 60 s most of the time by chance. It
    came within 60 s after 13 of A's 20 episodes (expected 20 × 0.62 = 12.4,
    lift 1.05, p = P(X ≥ 13 | 20, 0.62) = 0.49), after 13 of B's 22 (p = 0.70)
    and 7 of C's 10 (p = 0.43); A, B and C followed 12, 13 and 6 of D's 372
    episodes, as often as chance would (12.4, 13.6, 6.2). All 6 pairs with D
    are tested (together ≥ 5), none is significant — with 13 / 20 = 65 %
    confidence, A → D would be advised by confidence and lift alone no more
    than by the test. 9 pairs tested of the 12 tried."""
    c = report(planted())
    assert c["pairs_tested"] == 9
    assert all("D" not in (p["trigger_definition"], p["consequence_definition"])
               for p in c["pairs"])
    assert all("D" not in (a["trigger_definition"], a["consequence_definition"])
               for a in c["suppression"])


def test_the_figures_of_pairs_not_significant_come_from_the_same_test():
    """A → D as computed (not reported: not significant): 13 together of 20,
    expected 12.4, p = P(X ≥ 13 | 20, 0.62) = 0.489, Holm-adjusted 1."""
    t = alarm_table(planted())
    keys = prep.number_keys(t)
    names = prep.KeyNames(keys)
    w = pd.DataFrame({"system_id": ["S1"], "sys_no": [int(names.systems.index[0])],
                      "window_ms": [T * 1000]})
    cand = consequences.candidates(prep.key_raises(t, keys),
                                   ibis.memtable(w[["sys_no", "window_ms"]])).execute()
    tested = consequences.test_pairs(cand, 12, T / 60)
    df = names.name_alarm(names.name_alarm(tested, "a_alarm", "a_"), "b_alarm", "b_")
    ad = df[(df.a_definition == "A") & (df.b_definition == "D")].iloc[0]
    assert (ad.together, ad.episodes) == (13, 20)
    assert ad.expected == pytest.approx(12.4)
    assert ad.p_value == pytest.approx(special.bdtrc(12, 20, 0.62))
    assert ad.p_adjusted == 1.0 and not ad.significant


def test_mutual_pairs_are_advised_one_way():
    """A and B always raised at the same instant (20 times, 30 min apart, in a
    10-hour log): A → B and B → A both have 20 of 20 (ties count), lift 30.
    Suppressing each while the other is active could hide both: one advice,
    the direction with the higher confidence — equal here, then more episodes
    together — equal, then the first alarm by definition and resource: A."""
    log = rows("S1", "A", A) + rows("S1", "B", A)
    log.append({"alarm_id": "end", "system_id": "S1", "definition": "Z", "resource_id": "Z",
                    "raised_at": at(0), "cleared_at": at(T)})
    c = report(log)
    assert [(a["trigger_definition"], a["consequence_definition"], a["mutual"])
            for a in c["suppression"]] == [("A", "B", True)]
    assert "'B' is also followed by 'A' (100%)" in c["suppression"][0]["evidence"]


def test_window_boundaries_and_episodes():
    """B 60 s after A follows it (both bounds included); 60.001 s after does not.
    A chattering at 0, 30 and 50 s is one episode (gaps ≤ 60 s): B at 70 s is
    70 s after the episode's start, so that episode was not followed, but B came
    20 s after A's raise at 50 s, so a suppression for 60 s after each raise of
    A would have removed it."""
    rules = AlarmRules(consequence_min_together=1, consequence_min_confidence=0.0,
                       consequence_min_lift=0.0, consequence_alpha=0.999)
    a1 = [0, 1000, 2000]
    b1 = [60, 1060.001, 2070]
    a_chatter = [2000, 2030, 2050]
    log = rows("S1", "A", sorted(set(a1 + a_chatter))) + rows("S1", "B", b1)
    log.append({"alarm_id": "end", "system_id": "S1", "definition": "Z", "resource_id": "Z",
                    "raised_at": at(0), "cleared_at": at(36000)})
    c = alarm_report(alarm_table(log), rules=rules)["consequences"]
    ab = pair(c, "A", "B")
    assert (ab["trigger_episodes"], ab["together"]) == (3, 1)
    adv = next(a for a in c["suppression"] if a["trigger_definition"] == "A"
           and a["consequence_definition"] == "B")
    assert (adv["removed"], adv["without_trigger"]) == (2, 1)


def test_systems_are_pooled_where_both_alarms_occur():
    """S1 as planted; S2 (observed 1 h: A at 00:05, 00:17 … every 12 min, 5
    episodes, B 10 s after each; no C). A → B pooled: 25 episodes, 25 together,
    expected = 20 × 1,320/36,000 + 5 × (5 × 60)/3,600 = 0.733 + 0.417 = 1.15.
    A → C only counts A's episodes in S1, where C occurs: 20, not 25."""
    a2 = [300 + 720 * k for k in range(5)]
    s2 = rows("S2", "A", a2) + rows("S2", "B", [a + 10 for a in a2])
    s2.append({"alarm_id": "S2-end", "system_id": "S2", "definition": "Z", "resource_id": "Z",
                   "raised_at": at(0), "cleared_at": at(3600)})
    c = report(planted() + s2)
    ab, ac = pair(c, "A", "B"), pair(c, "A", "C")
    assert (ab["trigger_episodes"], ab["together"], ab["systems"]) == (25, 25, 2)
    assert ab["expected"] == pytest.approx(20 * 1320 / T + 5 * 300 / 3600)
    assert (ac["trigger_episodes"], ac["together"]) == (20, 10)
    # alarms: S1 A B C D, S2 A B Z → K = 5 (K(K-1) = 20), per system 4·3 + 3·2 = 18
    assert c["pairs_tried"] == 18
    one = report(planted() + s2, system_id="S2")
    assert pair(one, "A", "B")["trigger_episodes"] == 5


def test_no_alarms_no_pairs():
    c = report(rows("S1", "A", [0]))
    assert c["pairs"] == [] and c["suppression"] == [] and c["pairs_tested"] == 0
    assert c["pairs_tried"] == 0                   # one alarm: no pair


def test_pairs_tried_is_said_when_none_was_tested():
    """A, B, C raised once each in S1 (together once at most: below 5, nothing
    tested): 3 × 2 = 6 ordered pairs could have been tried, and the report says
    so rather than 0."""
    c = report(rows("S1", "A", [0]) + rows("S1", "B", [10]) + rows("S1", "C", [20]))
    assert (c["pairs_tried"], c["pairs_tested"], c["pairs"]) == (6, 0, [])


def test_holm_adjustment():
    """Holm within a family of 5 where 3 were computed: sorted p 0.001, 0.01,
    0.04 → 5 × 0.001 = 0.005, max(0.005, 4 × 0.01) = 0.04, max(0.04, 3 × 0.04) =
    0.12; the order of the input is kept."""
    got = consequences.holm(np.array([0.04, 0.001, 0.01]), 5)
    assert got.tolist() == pytest.approx([0.12, 0.005, 0.04])


def _brute(a_times, b_times, w=60.0):
    """Episodes of A, those followed by B within w, B raises within w after any A."""
    a_times, b_times = sorted(a_times), sorted(b_times)
    starts = [t for i, t in enumerate(a_times) if i == 0 or t - a_times[i - 1] > w]
    together = sum(any(0 <= b - s <= w for b in b_times) for s in starts)
    removed = sum(any(0 <= b - a <= w for a in a_times) for b in b_times)
    return len(starts), together, removed


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 3000), min_size=1, max_size=25),
       st.lists(st.integers(0, 3000), min_size=1, max_size=25))
def test_engine_counts_equal_brute_force(a_times, b_times):
    """Whatever the raise times (duplicates and ties included): the engine's
    episodes, together and removed equal a direct count."""
    log = rows("S1", "A", a_times) + rows("S1", "B", b_times)
    t = alarm_table(log)
    keys = prep.number_keys(t)
    raises = prep.key_raises(t, keys)
    names = prep.KeyNames(keys)
    n, together, removed = _brute(a_times, b_times)
    tog = consequences.together(raises).execute()
    tog = names.name_alarm(names.name_alarm(tog, "a_alarm", "a_"), "b_alarm", "b_")
    got = tog[(tog.a_definition == "A") & (tog.b_definition == "B")].together.sum()
    assert got == together
    stats = names.name_alarm(consequences.per_system(raises).execute())
    assert stats.set_index("definition").loc["A", "episodes"] == n
    a_no = int(names.alarms.reset_index().query("definition == 'A'").alarm_no.iloc[0])
    b_no = int(names.alarms.reset_index().query("definition == 'B'").alarm_no.iloc[0])
    rem = consequences.removed(raises, pd.DataFrame({"a_alarm": [a_no], "b_alarm": [b_no]})
                               ).execute()
    assert (int(rem.removed.sum()) if len(rem) else 0) == removed


def test_cover_is_the_union_of_the_windows_before_each_raise():
    """B at 0, 30, 100, 100 s: [−60, 0] ∪ [−30, 30] ∪ [40, 100] = 90 + 60 = 150 s; two
    episodes (100 s comes 70 s after 30 s; the second raise at 100 s 0 s after the first)."""
    t = alarm_table(rows("S1", "B", [0, 30, 100, 100]))
    keys = prep.number_keys(t)
    stats = consequences.per_system(prep.key_raises(t, keys)).execute()
    assert stats.cover_ms.tolist() == [150_000]
    assert stats.episodes.tolist() == [2] and stats.raises.tolist() == [4]


def test_the_evidence_of_an_advice_episode_by_episode():
    """The drill-down of "suppress B while A is active" on the planted log: A's 20
    episodes (00:05:00 and every 30 min), each followed by B 10 s later (one B
    each: B's lone raises at 01:56:45 and 05:33:25 lie 6.75 and 3.4 min after
    the A at 01:50:00 and 05:30:00, outside 60 s). A → C: every second episode
    followed 30 s later, the other 10 not (NULL). A raised twice more 40 s and
    100 s after its 00:05:00 raise: the first is within 60 s (same episode), the
    second 60 s after that one (gap ≤ 60 s: same episode again), so still 20."""
    log = planted() + rows("S1", "A", [340, 400])
    for i, r in enumerate(log[-2:]):
        r["alarm_id"] = f"extra-A-{i}"
    t = alarm_table(log)
    ab = consequences.trigger_episodes(t, ("A", "A"), ("B", "B")).execute()
    assert len(ab) == 20 and ab.consequences.tolist() == [1] * 20
    assert ab.delay_s.tolist() == [10.0] * 20
    assert ab.episode_start.tolist() == [pd.Timestamp(at(a)) for a in A]
    ac = consequences.trigger_episodes(t, ("A", "A"), ("C", "C")).execute()
    assert ac.followed_at.notna().tolist() == [k % 2 == 0 for k in range(20)]
    assert ac.delay_s.dropna().tolist() == [30.0] * 10
