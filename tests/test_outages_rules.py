"""The counting rules of e-Intervention lot 1 on hand-made cases, each answer worked out by hand.

Scenario (2025-03-03 = day 0, period 03-03 00:00 .. 03-07 00:00 = 96 h):

PM FI-A, DO DOAA
- I1 day 0 [10:00:00, 11:00:00], target line FI-T1, M5 from OC01.
  Cuts: FI-1 at 10:00:00 (= HD, M5), FI-2 at 11:00:00 (= HF, M5) → counted, in;
  FI-3 at 09:59:59 and FI-4 at 11:00:01 (supervision) → one second outside: before/after;
  FI-5 power cut, FI-T1 the DO's own line, FI-7 churned, "inconnu" and no PTO → not counted;
  FI-10 at 15:00 (supervision) → outside every window (baseline).
- I2 day 1 [10:00, 10:30], an empty M5 → covered, 0 cuts, not impacted.
- I3 day 2 [10:00, 10:30], no M5, supervision cut FI-11 at 10:15 → 1 cut, but not covered.
- I4 day 3 HD 10:00, no HF (an empty M5 arrived anyway), cut FI-12 at 10:00 → no window.

PM FI-B, DO DOBB
- I5 day 0 [10:00, 10:20], M1 received 10:45 (2700 s after HD), M3 received 10:21 —
  M3 before M1, as the reception stores it. M5 from OC02 received day 1 00:30 (late).
  Cuts: FI-20 at 10:10 (M5) → counted, in; FI-21 at 12:00 sent in I5's M5 but outside its window.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from evaluation.analyses.outages import analyse, correlate
from evaluation.analyses.outages import correlation as c
from outages_fixtures import D, cut, interv, pm, report, store

SINCE, AS_OF = dt.date(2025, 3, 3), dt.date(2025, 3, 6)


@pytest.fixture(scope="module")
def scenario():
    return store(
        pms=[pm("FI-A"), pm("FI-B"), pm("FI-Z")],
        interventions=[
            interv("I1", "FI-A", D("10:00:00"), D("11:00:00")),
            interv("I2", "FI-A", D("10:00:00", 1), D("10:30:00", 1)),
            interv("I3", "FI-A", D("10:00:00", 2), D("10:30:00", 2)),
            interv("I4", "FI-A", D("10:00:00", 3), None),
            interv("I5", "FI-B", D("10:00:00"), D("10:20:00"), do="DOBB",
                   m1=D("10:45:00"), m3=D("10:21:00")),
        ],
        intervention_targets=[
            {"ref_interv_oi": "I1", "nature": "racc", "pbo": "PT0000001", "pto": "FI-T1"},
            {"ref_interv_oi": "I5", "nature": "sav", "pbo": None, "pto": "inconnu"},
        ],
        outage_reports=[report("I1", "OC01", 2, D("12:00:00")), report("I2", "OC01", 0, D("12:00:00", 1)),
                        report("I4", "OC01", 0, D("12:00:00", 3)),
                        report("I5", "OC02", 1, D("00:30:00", 1))],
        outages=[
            cut("FI-A", "FI-1", D("10:00:00"), ref="I1", restored=D("10:20:00")),
            cut("FI-A", "FI-2", D("11:00:00"), ref="I1", restored=D("01:00:00", 1)),
            cut("FI-A", "FI-3", D("09:59:59")),
            cut("FI-A", "FI-4", D("11:00:01")),
            cut("FI-A", "FI-5", D("10:30:00"), ref="I1", cause="power"),
            cut("FI-A", "FI-T1", D("10:20:00"), ref="I1"),
            cut("FI-A", "FI-7", D("10:40:00"), ref="I1", churned=True),
            cut("FI-A", "inconnu", D("10:41:00"), ref="I1"),
            cut("FI-A", None, D("10:42:00"), ref="I1"),
            cut("FI-A", "FI-10", D("15:00:00"), restored=D("15:30:00")),
            cut("FI-A", "FI-11", D("10:15:00", 2)),
            cut("FI-A", "FI-12", D("10:00:00", 3)),
            cut("FI-B", "FI-20", D("10:10:00"), oc="OC02", ref="I5"),
            cut("FI-B", "FI-21", D("12:00:00"), oc="OC02", ref="I5"),
        ])


@pytest.fixture(scope="module")
def rep(scenario):
    return analyse(scenario, since=SINCE, as_of=AS_OF)


@pytest.fixture(scope="module")
def per_interv(scenario):
    corr = correlate(scenario, since=SINCE, as_of=AS_OF)
    df = corr.interventions.to_pandas().set_index("ref_interv_oi")
    corr.release()
    return df


def _pm(rep, pm_id):
    return rep.pms.set_index("pm_id").loc[pm_id]


def test_period_is_the_given_days(rep):
    assert rep.period.start == dt.datetime(2025, 3, 3)
    assert rep.period.end == dt.datetime(2025, 3, 7)  # --as-of a date = the end of that day
    assert rep.period.hours == 96.0


def test_cut_exactly_at_hd_and_at_hf_count(per_interv):
    # FI-1 at HD and FI-2 at HF are in [HD, HF]; nothing else at I1 passes every rule.
    assert per_interv.loc["I1", "cuts"] == 2
    assert per_interv.loc["I1", "m5_cuts"] == 2


def test_one_second_outside_the_window_is_not_in_it(per_interv):
    # FI-3 at HD − 1 s and FI-4 at HF + 1 s: not counted in the window, seen by the 5-minute rule.
    assert per_interv.loc["I1", "cuts_before_hd"] == 1
    assert per_interv.loc["I1", "cuts_after_hf"] == 1


def test_power_cut_target_line_churned_and_unknown_pto_are_excluded(rep, scenario):
    excl = rep.network["excluded_cuts"]
    assert excl == {"power_cut": 1, "churned": 1, "unknown_pto": 2, "target_line": 1}
    # The DO's own line is no customer cut: neither in a window nor in the baseline.
    a = _pm(rep, "FI-A")
    # counted at FI-A: FI-1, FI-2, FI-3, FI-4, FI-10, FI-11, FI-12 = 7 (FI-T1 dropped)
    assert a["counted_cuts"] == 7


def test_target_with_unknown_pto_excludes_nothing(per_interv):
    # I5's target PTO is "inconnu": FI-20 still counts.
    assert per_interv.loc["I5", "cuts"] == 1


def test_empty_m5_is_covered_with_zero_cuts(per_interv):
    assert bool(per_interv.loc["I2", "covered"]) and per_interv.loc["I2", "cuts"] == 0
    assert not bool(per_interv.loc["I2", "impacted"])


def test_no_m5_is_unknown_not_zero(per_interv, rep):
    # I3 has a cut (supervision) but no M5: not covered, so it weighs in no rate.
    assert not bool(per_interv.loc["I3", "covered"])
    assert per_interv.loc["I3", "cuts"] == 1
    a = _pm(rep, "FI-A")
    # covered: I1, I2 → 2; impacted: I1 → 1; rate 1/2.
    assert (a["interventions"], a["covered_interventions"], a["impacted_interventions"]) == (4, 2, 1)
    assert a["incident_rate"] == 0.5
    # clients_hs: cuts of covered interventions only = I1's 2 (I3's cut is not included).
    assert a["clients_hs"] == 2
    assert a["cuts_per_intervention"] == 1.0


def test_intervention_without_hf_has_no_window(per_interv, rep):
    assert not bool(per_interv.loc["I4", "has_window"])
    assert not bool(per_interv.loc["I4", "covered"])  # its M5 does not make it covered
    assert per_interv.loc["I4", "cuts"] == 0          # FI-12 at its HD is not matched
    assert list(rep.missing_hf["ref_interv_oi"]) == ["I4"]
    assert _pm(rep, "FI-A")["missing_hf"] == 1


def test_cuts_in_and_out_of_windows_and_exposure(rep):
    a = _pm(rep, "FI-A")
    # in windows: FI-1, FI-2 (I1), FI-11 (I3) = 3; outside: FI-3, FI-4, FI-10, FI-12 = 4.
    assert (a["cuts_in_windows"], a["cuts_out_of_windows"]) == (3, 4)
    # windows: 1 h + 0.5 h + 0.5 h = 2 h; outside: 96 − 2 = 94 h.
    assert a["window_hours"] == pytest.approx(2.0)
    assert a["out_of_window_hours"] == pytest.approx(94.0)
    assert a["in_window_rate_per_h"] == pytest.approx(1.5)       # 3 / 2
    assert a["out_of_window_rate_per_h"] == pytest.approx(4 / 94)
    assert a["rate_ratio"] == pytest.approx(1.5 / (4 / 94))        # 35.25


def test_m3_before_m1_is_correlated_as_stored(per_interv, rep):
    # The record keeps HD/HF (M1 after M3 erased nothing); the window works as usual.
    assert bool(per_interv.loc["I5", "m3_before_m1"])
    assert bool(per_interv.loc["I5", "impacted"])
    b = rep.dos.set_index("code_do").loc["DOBB"]
    assert b["m3_before_m1"] == 1
    assert b["m1_delay_max_s"] == 2700      # 10:45 − 10:00
    assert b["m1_late"] == 1                # > 1800 s
    a = rep.dos.set_index("code_do").loc["DOAA"]
    assert (a["m3_before_m1"], a["m1_late"], a["m1_delay_median_s"]) == (0, 0, 0)


def test_do_figures(rep):
    a = rep.dos.set_index("code_do").loc["DOAA"]
    assert (a["interventions"], a["covered_interventions"], a["impacted_interventions"]) == (4, 2, 1)
    assert a["incident_rate"] == 0.5
    assert (a["missing_hf"], a["cuts_before_hd"], a["cuts_after_hf"]) == (1, 1, 1)


def test_oc_flow3_late_m5_and_cut_outside_own_window(rep):
    o = rep.ocs.set_index("code_oc")
    # OC01 sent M5s for I1, I2 and I4; two of them empty; none after midnight of the HF day.
    assert (o.loc["OC01", "m5_received"], o.loc["OC01", "m5_empty"], o.loc["OC01", "m5_late"]) == (3, 2, 0)
    assert bool(o.loc["OC01", "uses_flow3"])
    # OC02's M5 came at 00:30 the next day; FI-21 (12:00) lies outside I5's [10:00, 10:20].
    assert (o.loc["OC02", "m5_late"], o.loc["OC02", "cuts_outside_own_window"]) == (1, 1)
    b = _pm(rep, "FI-B")
    assert (b["cuts_in_windows"], b["cuts_out_of_windows"]) == (1, 1)


def test_short_cuts_restored_the_same_day(rep):
    # FI-1 (10:00 → 10:20, in I1's window) and FI-10 (15:00 → 15:30, outside);
    # FI-2 was restored the next day: not short.
    s = rep.short_cuts.set_index("pto")
    assert sorted(s.index) == ["FI-1", "FI-10"]
    assert bool(s.loc["FI-1", "in_window"]) and not bool(s.loc["FI-10", "in_window"])
    assert s.loc["FI-1", "duration_s"] == 1200
    a = _pm(rep, "FI-A")
    assert (a["short_cuts"], a["short_cuts_in_windows"], a["short_cuts_out_of_windows"]) == (2, 1, 1)


def test_pm_without_activity_is_not_listed(rep):
    assert "FI-Z" not in set(rep.pms["pm_id"])


def test_overlapping_windows_attribution_and_targets():
    """I6 [10:00, 11:00] and I7 [10:30, 12:00] at FI-C, both covered.

    FI-30 at 10:45 came in I6's M5 → I6's only. FI-31 at 10:50 (supervision) lies in
    both windows → each. FI-T6 at 10:40 is I6's target line: dropped for I6, but it
    is a customer cut for I7 (supervision, inside I7's window).
    I6: FI-30, FI-31 = 2; I7: FI-31, FI-T6 = 2; distinct cuts in windows: 3;
    clients_hs = 2 + 2 = 4; union of windows 10:00–12:00 = 2 h. FI-T6 counts (for
    I7), so no cut is left out as a target line; FI-31 counts for both: shared.
    """
    t = store(pms=[pm("FI-C")],
              interventions=[interv("I6", "FI-C", D("10:00:00"), D("11:00:00")),
                             interv("I7", "FI-C", D("10:30:00"), D("12:00:00"), do="DOBB")],
              intervention_targets=[{"ref_interv_oi": "I6", "nature": "racc", "pto": "FI-T6"}],
              outage_reports=[report("I6", n=1), report("I7", n=0)],
              outages=[cut("FI-C", "FI-30", D("10:45:00"), ref="I6"),
                       cut("FI-C", "FI-31", D("10:50:00")),
                       cut("FI-C", "FI-T6", D("10:40:00"))])
    r = analyse(t, since=SINCE, as_of=SINCE)
    corr = correlate(t, since=SINCE, as_of=SINCE)
    pi = corr.interventions.to_pandas().set_index("ref_interv_oi")
    corr.release()
    assert (pi.loc["I6", "cuts"], pi.loc["I7", "cuts"]) == (2, 2)
    p = r.pms.set_index("pm_id").loc["FI-C"]
    assert (p["cuts_in_windows"], p["clients_hs"], p["counted_cuts"]) == (3, 4, 3)
    assert p["window_hours"] == pytest.approx(2.0)
    assert r.network["excluded_cuts"]["target_line"] == 0
    assert (pi.loc["I6", "shared_cuts"], pi.loc["I7", "shared_cuts"]) == (1, 1)
    assert bool(pi.loc["I6", "multi"]) and bool(pi.loc["I7", "multi"])


def test_bucket_size_does_not_change_results(scenario):
    """The time bucket of the join is a performance knob only."""
    out = []
    for b in (60, 3600, 6 * 3600, 7 * 86400):
        r = analyse(scenario, since=SINCE, as_of=AS_OF, config=c.OutageConfig(bucket_s=b))
        out.append(r.pms)
    for o in out[1:]:
        pd.testing.assert_frame_equal(o, out[0])


def test_since_and_as_of_select_interventions_by_hd(scenario):
    # Day 1 only: I2 (covered, not impacted).
    r = analyse(scenario, since=dt.date(2025, 3, 4), as_of=dt.date(2025, 3, 4))
    a = r.pms.set_index("pm_id").loc["FI-A"]
    assert (a["interventions"], a["covered_interventions"], a["impacted_interventions"]) == (1, 1, 0)
    assert a["cuts_in_windows"] == 0 and a["counted_cuts"] == 0


def test_empty_store_gives_an_empty_report():
    r = analyse(store(pms=[pm("FI-A")]))
    assert r.pms.empty and r.network["interventions"] == 0
    assert r.network["incident_rate"] is None
