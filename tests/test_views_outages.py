"""The /outages page state on a hand-made network whose every figure is worked out below.

Period: 2025-03-01 00:00 to the end of 2025-03-31 (``since``/``as_of``).

PMs: PA (OI01, zone Z1), PB (OI01, zone Z2), PC (OI02, Z1, no activity).

Interventions (DO, PM, HD–HF, M1 received, M5s):
  I1 AAAA PA 03-03 10:00–12:00, M1 10:02 (120 s), one M5   target line PTO-T1
  I2 BBBB PA 03-05 10:00–11:00, M1 12:00 (7200 s), one M5 (empty list)
  I3 AAAA PA 03-07 09:00–(no HF), M1 09:01 (60 s), no M5
  I4 BBBB PB 03-04 08:00–09:00, M1 08:00:30 (30 s), no M5  -> not covered
  I5 AAAA PB 03-10 14:00–15:00, M1 14:10 (600 s), one M5

Cuts:
  C1 OC01 PA PTO-1  03-03 10:30  listed in I1's M5      -> counted in I1 (I1 impacted)
  C2 OC01 PA PTO-T1 03-03 11:00  supervision            -> I1's own target line, not counted
  C3 OC01 PA PTO-2  03-03 12:03  supervision            -> 3 min after I1's HF (cuts_after_hf)
  C4 OC01 PA PTO-3  03-05 10:20  power cut              -> not counted
  C5 OC01 PA PTO-4  03-20 00:00  supervision            -> counted, outside every window
  C6 OC02 PB PTO-5  03-10 14:30  supervision            -> counted in I5 (I5 impacted)
  C7 OC02 PB PTO-6  03-04 08:30  supervision            -> in I4's window, I4 not covered
  C8 OC01 PA PTO-7  03-05 10:30  churned                -> not counted

Per PM: PA 3 interventions, covered 2 (I1, I2), impacted 1 (I1), rate 1/2,
clients_hs 1, cuts_in_windows 1 (C1), missing_hf 1 (I3), cuts_after_hf 1 (C3);
PB 2 interventions, covered 1 (I5), impacted 1, rate 1, cuts_in_windows 2 (C6, C7).
Network rate p0 = (1 + 1) / (2 + 1) = 2/3.
Funnel p-values P(X >= impacted | covered, 2/3): PA 1 − (1/3)² = 8/9; PB 2/3.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import load_csv_texts, pdf_text
from evaluation.analyses.blacklist import BlacklistConfig, blacklist
from evaluation.analyses.outages import pseudonym as ps
from evaluation.cli import main as cli_main
from evaluation.store import db
from evaluation.store.engine import open_tables
from evaluation.views import outages_state as st
from evaluation.views.outages_state import (
    CUT_IN,
    CUT_NEAR,
    CUT_OTHER,
    CUT_OUT,
    CUT_POWER,
    CUT_TARGET,
    OutagesState,
)

PMS = """pm_id,oi_code,lines,zone
PA,OI01,100,Z1
PB,OI01,80,Z2
PC,OI02,50,Z1
"""
INTERVENTIONS = """ref_interv_oi,ref_interv_do,code_do,code_oi,pm_id,started_at,ended_at,m1_received_at,m3_received_at
I1,D1,AAAA,OI01,PA,2025-03-03T10:00:00,2025-03-03T12:00:00,2025-03-03T10:02:00,2025-03-03T12:01:00
I2,D2,BBBB,OI01,PA,2025-03-05T10:00:00,2025-03-05T11:00:00,2025-03-05T12:00:00,2025-03-05T12:05:00
I3,D3,AAAA,OI01,PA,2025-03-07T09:00:00,,2025-03-07T09:01:00,
I4,D4,BBBB,OI01,PB,2025-03-04T08:00:00,2025-03-04T09:00:00,2025-03-04T08:00:30,2025-03-04T09:01:00
I5,D5,AAAA,OI01,PB,2025-03-10T14:00:00,2025-03-10T15:00:00,2025-03-10T14:10:00,2025-03-10T15:01:00
"""
TARGETS = """ref_interv_oi,nature,pbo,pto
I1,sav,PT1,PTO-T1
I2,racc,PT2,PTO-T2
I5,racc,PT5,PTO-T5
"""
REPORTS = """ref_interv_oi,code_oc,received_at,clients_hs
I1,OC01,2025-03-03T13:00:00,1
I2,OC01,2025-03-05T13:00:00,0
I5,OC02,2025-03-10T16:00:00,0
"""
OUTAGES = """code_oc,pm_id,pto,pbo,cut_at,restored_at,cause,churned,ref_interv_oi
OC01,PA,PTO-1,PT9,2025-03-03T10:30:00,2025-03-03T14:00:00,,false,I1
OC01,PA,PTO-T1,PT1,2025-03-03T11:00:00,2025-03-03T11:30:00,,false,
OC01,PA,PTO-2,PT9,2025-03-03T12:03:00,2025-03-03T13:00:00,,false,
OC01,PA,PTO-3,PT9,2025-03-05T10:20:00,2025-03-05T10:40:00,power,false,
OC01,PA,PTO-4,PT9,2025-03-20T00:00:00,2025-03-20T05:00:00,,false,
OC02,PB,PTO-5,PT8,2025-03-10T14:30:00,2025-03-10T16:00:00,,false,
OC02,PB,PTO-6,PT8,2025-03-04T08:30:00,2025-03-04T09:30:00,,false,
OC01,PA,PTO-7,PT9,2025-03-05T10:30:00,2025-03-05T12:00:00,,true,
"""
SINCE, AS_OF = dt.date(2025, 3, 1), dt.date(2025, 3, 31)


def build_network(root: Path, files: dict[str, str] | None = None) -> Path:
    """A network in ``root/net.duckdb``: ``files`` (kind -> CSV text), by default the
    hand-made one above (also served by the browser test)."""
    path = root / "net.duckdb"
    con = db.connect(path)
    try:
        load_csv_texts(con, root / "in", files or {
            "pms": PMS, "interventions": INTERVENTIONS, "intervention_targets": TARGETS,
            "outage_reports": REPORTS, "outages": OUTAGES})
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def network_db(tmp_path_factory):
    return build_network(tmp_path_factory.mktemp("outages_view"))


@pytest.fixture
def state(network_db):
    return OutagesState(network_db, since=SINCE, as_of=AS_OF, min_covered=1)


def _by(frame: pd.DataFrame, key: str) -> dict:
    return {r[key]: r for r in frame.to_dict(orient="records")}


def test_period_and_headline(state):
    s = state.summary()
    assert (s["start"], s["end"]) == (dt.datetime(2025, 3, 1), dt.datetime(2025, 4, 1))
    assert (s["pms"], s["interventions"], s["covered"], s["impacted"]) == (2, 5, 3, 2)
    assert s["rate"] == pytest.approx(2 / 3)
    assert s["candidates"] == 0


def test_pm_table_counts_and_funnel(state):
    t = state.pm_table()
    assert t["pm_id"].tolist() == ["PB", "PA"]          # funnel p-value 2/3 < 8/9
    pms = _by(t, "pm_id")
    pa, pb = pms["PA"], pms["PB"]
    assert (pa["interventions"], pa["covered_interventions"], pa["impacted_interventions"],
            pa["clients_hs"], pa["cuts_in_windows"], pa["missing_hf"],
            pa["cuts_after_hf"]) == (3, 2, 1, 1, 1, 1, 1)
    assert pa["incident_rate"] == pytest.approx(0.5)
    assert (pb["interventions"], pb["covered_interventions"], pb["impacted_interventions"],
            pb["cuts_in_windows"]) == (2, 1, 1, 2)
    assert pa["funnel_p_value"] == pytest.approx(8 / 9)
    assert pb["funnel_p_value"] == pytest.approx(2 / 3)
    assert (pa["oi_code"], pa["zone"]) == ("OI01", "Z1")
    # Covered 2 at p0 = 2/3: the 99.8 % quantile of Binomial(2, 2/3) is 2 -> limit 2/2 = 1.
    assert pa["funnel_upper"] == pytest.approx(1.0)


def test_funnel_limits_follow_the_network_rate(state):
    pts, limits, p0 = state.funnel()
    assert p0 == pytest.approx(2 / 3)
    assert len(pts) == 2
    row = limits[limits["covered"] == 1].iloc[0]
    # n = 1, p0 = 2/3: the 95 % and 99.8 % quantiles are both 1 (P(X=0) = 1/3 < 0.95).
    assert row["upper_inner"] == pytest.approx(1.0) and row["upper_outer"] == pytest.approx(1.0)
    # lower limits: the 5 % quantile of Binomial(1, 2/3) is 0.
    assert row["lower_inner"] == pytest.approx(0.0)
    assert (np.diff(limits["covered"]) > 0).all()


def test_min_covered_hides_pms(state):
    state.min_covered = 2                        # PB has one covered intervention
    assert state.pm_table()["pm_id"].tolist() == ["PA"]
    assert state.summary()["pms_shown"] == 1
    state.min_covered = 3
    assert state.pm_table().empty


def test_oi_and_zone_filters(state):
    state.oi_code = "OI02"                       # PC only, which has no activity
    assert state.pm_table().empty
    state.oi_code = "OI01"
    assert sorted(state.pm_table()["pm_id"]) == ["PA", "PB"]
    state.zone = "Z1"                            # PA alone: p0 = 1/2
    assert state.pm_table()["pm_id"].tolist() == ["PA"]
    assert state.network_rate() == pytest.approx(0.5)
    # DO comparison over PA's interventions: AAAA I1, I3 (covered 1, impacted 1); BBBB I2.
    dos = _by(state.do_table(), "code_do")
    assert (dos["AAAA"]["interventions"], dos["AAAA"]["covered_interventions"],
            dos["AAAA"]["impacted_interventions"]) == (2, 1, 1)
    assert (dos["BBBB"]["interventions"], dos["BBBB"]["impacted_interventions"]) == (1, 0)


def test_do_filter_counts_only_that_do(state):
    state.code_do = "AAAA"                       # I1, I3 at PA; I5 at PB: p0 = 2/2
    pms = _by(state.pm_table(), "pm_id")
    assert (pms["PA"]["interventions"], pms["PA"]["covered_interventions"],
            pms["PA"]["impacted_interventions"]) == (2, 1, 1)
    assert (pms["PB"]["interventions"], pms["PB"]["covered_interventions"]) == (1, 1)
    assert state.network_rate() == pytest.approx(1.0)
    state.pm_id = "PA"
    assert state.pm_interventions()["ref_interv_oi"].tolist() == ["I1", "I3"]


def test_do_table_and_timestamp_quality(state):
    dos = _by(state.do_table(), "code_do")
    a, b = dos["AAAA"], dos["BBBB"]
    # AAAA: I1, I3, I5; covered I1, I5; both impacted; I3 without HF; C3 3 min after I1's HF.
    assert (a["interventions"], a["covered_interventions"], a["impacted_interventions"],
            a["missing_hf"], a["cuts_after_hf"], a["cuts_before_hd"]) == (3, 2, 2, 1, 1, 0)
    assert a["incident_rate"] == pytest.approx(1.0)
    assert a["missing_hf_share"] == pytest.approx(1 / 3)
    # BBBB: I2 (covered, not impacted), I4 (no M5).
    assert (b["interventions"], b["covered_interventions"], b["impacted_interventions"]) == (
        2, 1, 0)
    assert b["incident_rate"] == pytest.approx(0.0)
    # HD -> M1: I1 120 s, I3 60 s (0–5 min), I5 600 s (5–30 min); I4 30 s, I2 7200 s (2–8 h).
    h = state.m1_delay_histogram()
    got = {(r.code_do, r.delay): r.interventions for r in h.itertuples()}
    assert got == {("AAAA", "0–5 min"): 2, ("AAAA", "5–30 min"): 1,
                   ("BBBB", "0–5 min"): 1, ("BBBB", "2–8 h"): 1}


def test_exclusions(state):
    ex = dict(zip(state.exclusions()["reason"], state.exclusions()["cuts"]))
    assert ex == {"churned": 1, "power_cut": 1, "target_line": 1}


def test_selected_pm_evidence(state):
    assert state.pm_interventions().empty and state.pm_counted_cuts().empty
    state.pm_id = "PA"
    iv = state.pm_interventions()
    assert iv["ref_interv_oi"].tolist() == ["I1", "I2", "I3"]
    assert iv["impacted"].tolist() == [True, False, False]
    assert iv["m1_delay_s"].tolist() == [120, 7200, 60]
    cuts = state.pm_counted_cuts()
    assert cuts[["pto", "ref_interv_oi", "source"]].values.tolist() == [["PTO-1", "I1", "m5"]]
    assert state.pm_windows()["ref_interv_oi"].tolist() == ["I1", "I2"]   # I3 has no HF
    state.pm_id = "PB"                           # C6 in I5 (covered); C7 in I4 (not covered)
    assert state.pm_counted_cuts()[["pto", "source"]].values.tolist() == [
        ["PTO-5", "supervision"]]


def test_timeline_categories(state):
    state.pm_id = "PA"
    cuts, aggregated = state.pm_timeline_cuts()
    assert not aggregated
    assert dict(zip(cuts["pto"], cuts["category"])) == {
        "PTO-1": CUT_IN, "PTO-T1": CUT_TARGET, "PTO-2": CUT_NEAR, "PTO-3": CUT_POWER,
        "PTO-4": CUT_OUT, "PTO-7": CUT_OTHER}
    assert cuts.loc[cuts["pto"] == "PTO-1", "window_ref"].item() == "I1"


def test_timeline_aggregates_big_point_sets(state, monkeypatch):
    monkeypatch.setattr(st, "MAX_POINTS", 2)
    state.pm_id = "PA"
    cuts, aggregated = state.pm_timeline_cuts()
    assert aggregated
    # 31 days <= 90: hourly buckets; the six cuts of PA fall in six (bucket, category) pairs.
    assert list(cuts.columns) == ["cut_at", "category", "cuts"]
    assert cuts["cuts"].sum() == 6 and len(cuts) == 6
    assert cuts.loc[cuts["category"] == CUT_IN, "cut_at"].item() == pd.Timestamp(
        "2025-03-03 10:00:00")


def test_oc_view_pseudonymises_do_codes(state, monkeypatch):
    key = "ab" * 32
    monkeypatch.setenv(ps.KEY_ENV, key)
    state.oc_view = True
    expected = dict(zip(["AAAA", "BBBB"], ps.pseudonymise(["AAAA", "BBBB"], bytes.fromhex(key))))
    dos = state.do_table()["code_do"].tolist()
    assert dos == [expected["AAAA"], expected["BBBB"]]
    assert not {"AAAA", "BBBB"} & set(dos)
    state.pm_id = "PA"
    assert set(state.pm_interventions()["code_do"]) == set(expected.values())
    assert set(state.m1_delay_histogram()["code_do"]) == set(expected.values())
    state.oc_view = False
    assert state.do_table()["code_do"].tolist() == ["AAAA", "BBBB"]


def test_period_filter(state):
    state.since = dt.date(2025, 3, 8)            # only I5 (03-10) and C5, C6 remain
    s = state.summary()
    assert (s["interventions"], s["covered"], s["impacted"]) == (1, 1, 1)
    assert state.pm_table()["pm_id"].tolist() == ["PB"]


def test_cache_is_per_stamp_and_period(network_db):
    a = OutagesState(network_db, since=SINCE, as_of=AS_OF)
    b = OutagesState(network_db, since=SINCE, as_of=AS_OF, code_do="AAAA")
    assert a.analysis is b.analysis             # one network-wide correlation per period
    b.as_of = dt.date(2025, 3, 20)
    assert a.analysis is not b.analysis


def test_empty_database(tmp_path):
    path = tmp_path / "empty.duckdb"
    db.connect(path).close()
    s = OutagesState(path)
    assert not s.has_data()
    assert s.row_counts()["interventions"] == 0


# ------------------------------------------------------------ blacklist
def _blacklist_network() -> dict[str, str]:
    """20 PMs with 10 covered interventions and none impacted, PM 'BAD' with 8 of 10.

    p0 = 8 / 210; P(X >= 8 | 10, p0) is about 1e-10, far below 0.002, and the
    beta-binomial posterior of BAD is far above p0: BAD is the only candidate.
    """
    pms = ["pm_id,oi_code,lines,zone"] + [f"P{i:02d},OI01,50,Z" for i in range(20)] + [
        "BAD,OI01,50,Z"]
    ivs = ["ref_interv_oi,code_do,code_oi,pm_id,started_at,ended_at"]
    reps = ["ref_interv_oi,code_oc,received_at,clients_hs"]
    cuts = ["code_oc,pm_id,pto,cut_at,cause,churned,ref_interv_oi"]
    t0 = dt.datetime(2025, 3, 1, 8)
    for p, pm in enumerate([f"P{i:02d}" for i in range(20)] + ["BAD"]):
        for k in range(10):
            ref = f"{pm}-{k}"
            hd = t0 + dt.timedelta(days=k, minutes=p)
            ivs.append(f"{ref},AAAA,OI01,{pm},{hd:%Y-%m-%dT%H:%M:%S},"
                       f"{hd + dt.timedelta(hours=1):%Y-%m-%dT%H:%M:%S}")
            reps.append(f"{ref},OC01,{hd + dt.timedelta(hours=2):%Y-%m-%dT%H:%M:%S},0")
            if pm == "BAD" and k < 8:
                cuts.append(f"OC01,{pm},X{k},{hd + dt.timedelta(minutes=20):%Y-%m-%dT%H:%M:%S}"
                            f",,false,{ref}")
    return {"pms": "\n".join(pms) + "\n", "interventions": "\n".join(ivs) + "\n",
            "outage_reports": "\n".join(reps) + "\n", "outages": "\n".join(cuts) + "\n"}


def test_blacklist_is_the_analysis_blacklist(tmp_path):
    path = build_network(tmp_path, _blacklist_network())
    s = OutagesState(path, since=SINCE, as_of=AS_OF)
    mine = s.blacklist()
    assert mine["pm_id"].tolist() == ["BAD"]
    assert mine["incident_rate"].item() == pytest.approx(0.8)
    ref = blacklist(open_tables(path), since=SINCE, as_of=AS_OF, config=BlacklistConfig())
    assert ref.candidates["pm_id"].tolist() == ["BAD"]
    assert mine["score"].item() == pytest.approx(ref.candidates["score"].item())
    assert mine["shrunken_rate"].item() == pytest.approx(ref.candidates["shrunken_rate"].item())
    # The funnel shows the same verdict: BAD beyond the outer limit, the others not.
    t = s.pm_table()
    bad = t[t["pm_id"] == "BAD"].iloc[0]
    assert bad["incident_rate"] > bad["funnel_upper"]
    assert (t.loc[t["pm_id"] != "BAD", "incident_rate"] == 0).all()
    # Raising the minimum above 10 covered interventions empties the blacklist and the funnel.
    s.min_covered = 11
    assert s.blacklist().empty and s.pm_table().empty


# ------------------------------------------------------------ the Viewer, without a browser
def test_page_follows_the_state(network_db, monkeypatch):
    from evaluation.views.outages_page import ALL, DO_TAB, OutagesPage

    monkeypatch.setenv(ps.KEY_ENV, "cd" * 32)
    page = OutagesPage(state=OutagesState(network_db, since=SINCE, as_of=AS_OF, min_covered=1))
    s = page.state
    assert page._pms.value["pm_id"].tolist() == ["PB", "PA"]
    assert "network incident rate <b>66.7%</b>" in page._headline.object
    assert page._no_candidates.visible and not page._blacklist.visible
    assert not page._pm_box.visible
    # A widget writes the state; the views follow (zone Z1: PA alone, rate 1/2).
    page._zone.value = "Z1"
    assert s.zone == "Z1"
    assert page._pms.value["pm_id"].tolist() == ["PA"]
    assert "network incident rate <b>50.0%</b>" in page._headline.object
    # A click on the funnel near PA's point (2 covered, rate 0.5) selects PA.
    page._tapped(x=2.02, y=0.49)
    assert s.pm_id == "PA" and page._pm_box.visible
    assert page._interventions.value["ref_interv_oi"].tolist() == ["I1", "I2", "I3"]
    assert page._cuts.value["pto"].tolist() == ["PTO-1"]
    # A click far from every point selects nothing new.
    page._tapped(x=9, y=0.05)
    assert s.pm_id == "PA"
    # The DO tab is brought up to date when it is opened (hidden, it keeps the first data).
    assert len(page._dos.value) == 2
    page._tabs.active = DO_TAB
    assert sorted(page._dos.value["code_do"]) == ["AAAA", "BBBB"]
    # OC view: pseudonyms in the DO table (even hidden: it must never show a real code
    # when opened), no DO codes offered, DO filter cleared.
    page._tabs.active = 0
    page._zone.value = ALL
    s.code_do = "AAAA"
    s.oc_view = True
    assert s.code_do == ""
    assert list(page._do.options.values()) == [ALL] and page._do.disabled
    assert all(d.startswith("DO-") for d in page._dos.value["code_do"])
    assert all(d.startswith("DO-") for d in page._interventions.value["code_do"])


def test_page_empty_state(tmp_path):
    from evaluation.views.outages_page import NO_DATA, create
    from evaluation.views.queries import ReadOnlyStore

    path = tmp_path / "empty.duckdb"
    db.connect(path).close()
    page = create(ReadOnlyStore(path))
    shown = page.__panel__()
    assert shown.objects == [page._empty]
    assert page._empty.object == NO_DATA and "opeval demo" in NO_DATA


def test_warm_caches_the_default_views_and_each_oi_and_zone(network_db):
    """The server's start-up warm-up: the default period's frames for no filter, each
    OI (OI01, OI02) and each zone (Z1, Z2) are cached before any visitor asks."""
    from evaluation.views.outages_state import warm

    warm(network_db)
    frames = OutagesState(network_db).analysis.frames
    min_covered = OutagesState(network_db).config().min_covered
    expected = {("assessed", oi, zone, "", min_covered)
                for oi, zone in (("", ""), ("OI01", ""), ("OI02", ""), ("", "Z1"), ("", "Z2"))}
    assert expected <= set(frames)
    assert ("per_do", "", "", "") in frames and ("exclusions",) in frames


def test_pdf_download_is_the_file_opeval_outages_writes(state, network_db, tmp_path, capsys,
                                                        monkeypatch):
    """The page's "Download PDF report" is `opeval outages --format pdf` for the same
    period (SINCE to AS_OF); in OC view it is the OC version: the DO codes AAAA and BBBB
    appear only pseudonymised, as with `--anonymise-do`."""
    monkeypatch.setenv(ps.KEY_ENV, "cd" * 32)
    page = state.report_pdf()
    days = ["--since", str(SINCE), "--as-of", str(AS_OF)]
    assert cli_main(["--db", str(network_db), "outages", *days, "--format", "pdf",
                     "--out", str(tmp_path / "o.pdf")]) == 0
    capsys.readouterr()
    assert pdf_text(page) == pdf_text((tmp_path / "o.pdf").read_bytes())
    assert "AAAA" in pdf_text(page)
    state.oc_view = True
    oc = pdf_text(state.report_pdf())
    assert "AAAA" not in oc and "BBBB" not in oc
    assert cli_main(["--db", str(network_db), "outages", *days, "--format", "pdf", "--anonymise-do",
                     "--out", str(tmp_path / "oc.pdf")]) == 0
    capsys.readouterr()
    assert oc == pdf_text((tmp_path / "oc.pdf").read_bytes())


def test_date_fields_show_the_period_in_force_and_legends_sit_beside_the_data(network_db):
    """Left to their defaults, the fields show the data's first and last day (2025-03-03 to
    2025-03-20: the first intervention, the last cut), so the picker opens on those months;
    choosing a day writes the state, choosing the day already in force leaves it unset;
    a start after the end is dropped and its field shows the day in force again.
    Each legend is drawn beside the plot, never over its data."""
    import holoviews as hv
    from bokeh.models import Legend

    from evaluation.views.outages_page import DO_TAB, OutagesPage

    page = OutagesPage(state=OutagesState(network_db, min_covered=1))
    s = page.state
    assert (s.since, s.as_of) == (None, None)
    assert (page._since.value, page._as_of.value) == (dt.date(2025, 3, 3), dt.date(2025, 3, 20))
    page._since.value = dt.date(2025, 3, 3)                 # the day in force: nothing to change
    assert s.since is None
    page._as_of.value = dt.date(2025, 3, 10)
    assert s.as_of == dt.date(2025, 3, 10) and page._as_of.value == dt.date(2025, 3, 10)
    s.since = dt.date(2025, 3, 12)                          # after the end: dropped
    assert page._since.value == dt.date(2025, 3, 3)
    s.param.update(since=None, as_of=None)
    assert (page._since.value, page._as_of.value) == (dt.date(2025, 3, 3), dt.date(2025, 3, 20))
    legends = 0
    page._tabs.active = DO_TAB
    for plot in [page._funnel, *(p.object for p in page._do_plots)]:
        fig = hv.render(plot)
        assert not any(isinstance(r, Legend) for r in fig.center), fig.title.text
        legends += sum(isinstance(r, Legend) for r in fig.right)
    assert legends >= 2
