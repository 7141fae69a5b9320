"""The /evaluation page without a browser: EvaluationState and EvaluationPage on the hand-made fixture.

The database holds tests/evaluation_fixture.py (six systems, as-of 2025-06-30,
window 365 days: T = 2025-07-01 00:00, window start 2024-07-01 00:00). The
analysis' own figures are worked out in tests/test_evaluation_metrics.py; here
the arithmetic is repeated for what the page shows, plus what the page itself
adds (months without faults, device ages, ordering, selection, cache, URL values).
"""
from __future__ import annotations

import datetime as dt
import html
import re
from types import SimpleNamespace

import pandas as pd
import pytest

import evaluation_fixture as fx
from conftest import pdf_text
from evaluation.cli import main as cli_main
from evaluation.store import db
from evaluation.views import display
from evaluation.views import evaluation_state as es
from evaluation.views.evaluation_page import NO_SYSTEMS, EvaluationPage
from evaluation.views.evaluation_state import EvaluationState, IdList, IdString
from evaluation.views.queries import ReadOnlyStore
from test_views_display import _assert_human, _tables


@pytest.fixture(scope="module")
def fx_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("views_evaluation") / "fx.duckdb"
    con = db.connect(path)
    fx.load(con)
    con.close()
    return path


@pytest.fixture(scope="module")
def res(fx_db):
    return EvaluationState(ReadOnlyStore(fx_db)).result()


@pytest.fixture
def state(fx_db):
    return EvaluationState(ReadOnlyStore(fx_db))


# 56952 device-hours of S1 (6 x 8760 + D7's 4392); down hours merged per device (see the metrics test)
S1_DOWN = 10 + 9 + (8 + 1 / 60) + 1464 + 0.25 + 48


def test_default_as_of_is_the_latest_event_date(state, res):
    # latest stamp: F5 occurred 2025-06-30 23:45 -> 2025-06-30 (as `opeval evaluate` defaults)
    assert state.default_as_of() == fx.AS_OF == res.as_of
    assert res.ok and res.window_days == 365 and sorted(res.by_id) == ["S1", "S2", "S3", "S4", "S5", "S6"]


def test_overview_one_row_per_system_with_verdict_and_indicators(state, res):
    ov = state.overview(res).set_index("system_id")
    assert list(ov.index) == ["S1", "S2", "S3", "S4", "S5", "S6"]
    assert ov[["classification", "disposition"]].to_dict("index") == {
        "S1": {"classification": "impaired", "disposition": "partial_replacement"},
        "S2": {"classification": "impaired", "disposition": "maintain"},
        "S3": {"classification": "unfit", "disposition": "overall_renewal"},
        "S4": {"classification": "insufficient_evidence", "disposition": "maintain"},
        "S5": {"classification": "fit", "disposition": "none"},
        "S6": {"classification": "fit_with_remarks", "disposition": "repair"},
    }
    s1 = ov.loc["S1"]
    assert s1["availability"] == pytest.approx(1 - S1_DOWN / 56952)
    assert s1["mttr_h"] == pytest.approx((8 + 9 + 8 + 1 / 60 + 2 + 8 + 48) / 6)
    # from the occurrence: response 2 within of 4 recorded, arrival 1 of 3, repair 3 of 7;
    # from the report F2's repair (8 h) is within: 4 of 7
    assert (s1["sla_response"], s1["sla_arrival"], s1["sla_repair"]) == pytest.approx((2 / 4, 1 / 3, 3 / 7))
    assert (s1["sla_response_report"], s1["sla_arrival_report"], s1["sla_repair_report"]) == pytest.approx(
        (2 / 4, 1 / 3, 4 / 7))
    # D1 past its life (EOL 2025-06-30 = as-of) and D1 the repeat-fault device; F4 and F5 open
    assert (s1["devices_past_life"], s1["repeat_fault_devices"], s1["open_faults"]) == (1, 1, 2)
    assert s1["disposition_reasons"] == "1 devices past their service life; 1 repeat-fault devices"
    assert ov.loc["S5", "nonconforming"] == 0 and ov.loc["S5", "disposition_reasons"] == ""
    assert ov.loc["S3", "valid_until"] == "2025-07-30"        # unfit: as-of + 30 days
    assert ov.loc["S4", "valid_until"] is None                 # insufficient evidence: no validity
    assert bool(ov.loc["S4", "maintenance_overdue"]) is True   # nothing recorded


def test_selection_and_focus(state, res):
    assert state.selected() == ["S1", "S2", "S3", "S4", "S5", "S6"] and state.focus() == "S1"
    state.systems = ["S3", "S1"]
    assert state.overview(res)["system_id"].tolist() == ["S3", "S1"]   # in the order chosen
    assert state.focus() == "S3"                                        # the first selected
    state.system = "S1"
    assert state.focus() == "S1"
    state.system = "S5"                     # not among the selected: back to the first
    assert state.focus() == "S3"
    state.systems = ["nowhere"]             # unknown ids (e.g. from a URL) select every system
    assert state.selected() == ["S1", "S2", "S3", "S4", "S5", "S6"] and state.focus() == "S5"


def test_indicators_and_findings_of_the_focused_system(state, res):
    state.system = "S2"
    ind = state.indicators(res)
    # S2: G1 responded after 0.75 h (> 0.5) and restored after 5 h (> its own 4 h): both 0 %
    assert ind["sla"] == {"response": 0.0, "arrival": None, "repair": 0.0}
    assert ind["sla_limits_h"] == {"response": 0.5, "arrival": 4.0, "repair": 4.0}
    assert (ind["classification"], ind["disposition"], ind["valid_until"]) == ("impaired", "maintain",
                                                                              "2025-12-30")
    f = state.findings(res)
    assert list(f.columns) == list(es.FINDING_COLUMNS)
    assert f["clause"].tolist()[:3] == ["5.1.1", "5.1.1", "5.1.1"]
    def status(start):
        (hit,) = f.loc[f["requirement"].str.startswith(start), "status"]
        return hit
    assert status("The maintainer must arrive on site") == "not_applicable"   # remote repair
    assert status("Warranty of at least 12 months") == "nonconforming"        # 6 months
    assert set(f["status"]) <= set(es.STATUSES)
    nc = f[f["status"] == "nonconforming"]
    assert (nc["corrective_action"] != "").all() and nc["severity"].notna().all()


def test_monthly_fills_every_month_of_the_window(state, res):
    m = state.monthly(res)
    # window 2024-07-01 .. 2025-06-30: twelve calendar months
    assert [str(x) for x in m["month"]] == (
        [f"2024-{mo:02d}-01" for mo in range(7, 13)] + [f"2025-{mo:02d}-01" for mo in range(1, 7)])
    by = m.set_index(m["month"].astype(str))
    # Feb F7 (2 h); March F1 8 h, F2 9 h, F8 8 h -> 25/3; April F3 8 h 1 min; May F4 open + F9 48 h;
    # June F5 open (no restored fault: no MTTR); no fault from July to January
    assert by["faults"].tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 3, 1, 2, 1]
    assert by.loc["2025-03-01", "mttr_h"] == pytest.approx(25 / 3)
    assert by.loc["2025-05-01", "mttr_h"] == pytest.approx(48)
    assert pd.isna(by.loc["2025-06-01", "mttr_h"]) and pd.isna(by.loc["2024-07-01", "mttr_h"])
    assert by["faults"].sum() == 8          # S1's 8 faults of the window (F6 is before it)


def test_devices_with_service_life_most_worn_first(state, res):
    d = state.devices(res)
    # active S1 devices (D7 decommissioned 2024-12-31 is not): past D1; due D2 (EOL 2025-07-01),
    # D4 (EOL 2025-12-29 = as-of + 182); ok D5 (4.50 of 5 years), D3 (1.49 of 6); D6 has no life rule
    assert d["device_id"].tolist() == ["D1", "D2", "D4", "D5", "D3", "D6"]
    assert d["life_status"].tolist() == ["past", "due", "due", "ok", "ok", "no_rule"]
    d1 = d.iloc[0]
    # 2019-06-30 -> 2025-06-30: 6 x 365 + 2 leap days = 2192 days = 6.0014 years of a 6-year life
    assert d1["age_years"] == pytest.approx(2192 / 365.25)
    assert d1["life_used"] == pytest.approx(2192 / 365.25 / 6)
    assert d1["end_of_life"] == dt.date(2025, 6, 30) and d1["life_years"] == 6
    d6 = d.iloc[-1]
    assert pd.isna(d6["life_years"]) and pd.isna(d6["life_used"])


def test_exposure_and_expected_failures(state, res):
    ex = state.exposure(res)
    # longest first: Z1 video 48 h, Z1 intrusion 10 h, CR video 0 h
    assert list(zip(ex["zone"], ex["exposure_h"].round(6))) == [("Z1", 48), ("Z1", 10), ("CR", 0)]
    z = ex.set_index(["zone", "subsystem"])
    # Z1 video: D1 and D2 both down 2025-05-31 -> 06-02 = 48 h > 24 h; Z1 intrusion 10 h; CR 0 h
    assert z.loc[("Z1", "video_surveillance"), "exposure_h"] == pytest.approx(48)
    assert z["over_limit"].to_dict() == {("CR", "video_surveillance"): False,
                                         ("Z1", "intrusion_alarm"): False,
                                         ("Z1", "video_surveillance"): True}
    assert state.exposure_limit_h(res) == 24.0
    e = state.expected(res)
    # one row per (subsystem, device type) of the 6 active devices; down now: D1 (F4) and D5 (F5)
    groups = {(r.subsystem, r.device_type): (r.devices, r.down_now) for r in e.itertuples()}
    assert groups == {("video_surveillance", "ccd_camera"): (2, 1), ("video_surveillance", "dvr"): (2, 1),
                      ("intrusion_alarm", "intrusion_detector"): (1, 0),
                      ("access_control", "door_reader"): (1, 0)}
    assert e["expected_failures"].is_monotonic_decreasing
    assert e["expected_failures"].sum() == pytest.approx(
        state.indicators(res)["expected_failures_next_cycle"])


def test_report_is_the_file_opeval_evaluate_writes(state, res, fx_db, tmp_path, capsys):
    state.system = "S3"
    page = state.report_html(res)
    assert state.report_filename() == "evaluation-S3.html"
    assert cli_main(["--db", str(fx_db), "evaluate", "--format", "html", "--out", f"{tmp_path}/"]) == 0
    capsys.readouterr()
    cli = (tmp_path / "evaluation-S3.html").read_text(encoding="utf-8")

    def strip(text):   # the generation time is the only difference
        return re.sub(r"on \d{4}-\d\d-\d\d \d\d:\d\d UTC", "on <time>", text)
    assert strip(page) == strip(cli)
    assert 'id="system-S3"' in page and 'id="system-S1"' not in page



def test_pdf_download_is_the_file_opeval_evaluate_writes(state, res, fx_db, tmp_path, capsys):
    """The page's PDF of S3 has the text of `opeval evaluate --format pdf --out DIR/`'s
    evaluation-S3.pdf (the generation time aside) and names S3, not S1."""
    state.system = "S3"
    assert state.report_filename("pdf") == "evaluation-S3.pdf"
    page = state.report_pdf(res)
    assert cli_main(["--db", str(fx_db), "evaluate", "--format", "pdf", "--out", f"{tmp_path}/"]) == 0
    capsys.readouterr()
    assert pdf_text(page) == pdf_text((tmp_path / "evaluation-S3.pdf").read_bytes())
    assert "S3" in pdf_text(page) and "S1" not in pdf_text(page)


def test_window_and_as_of_give_another_evaluation(state, res):
    state.window_days = 30
    r30 = state.result()
    assert r30 is not res and r30.window_days == 30
    # window 2025-06-01 .. 2025-06-30: of S1's faults only F5 (06-30 23:45) occurred in it
    assert state.indicators(r30)["faults"] == 1
    assert [str(m) for m in state.monthly(r30)["month"]] == ["2025-06-01"]
    state.window_days, state.as_of = 365, dt.date(2025, 3, 31)
    r = state.result()
    # T = 2025-04-01, window start 2024-04-01: F6 (2024-06-01), F7, F1, F8, F2 -> 5 faults
    # (F3 occurred at 2025-04-01 00:00 = T: not yet)
    assert r.as_of == dt.date(2025, 3, 31) and state.indicators(r)["faults"] == 5
    state.as_of = None
    assert state.result() is res            # cached: the same object, no new evaluation


def test_a_new_load_is_seen_without_restart(tmp_path):
    path = tmp_path / "grow.duckdb"
    con = db.connect(path)
    fx.load(con)
    con.close()
    state = EvaluationState(ReadOnlyStore(path))
    first = state.result()
    assert len(state.overview(first)) == 6
    con = db.connect(path)
    con.execute("INSERT INTO systems (system_id, name) VALUES ('S7', 'Annex')")
    con.close()
    second = state.result()
    assert second is not first and state.overview(second)["system_id"].tolist()[-1] == "S7"


def test_systems_and_devices_only_give_no_verdict(tmp_path):
    """6.1 and "no verdict without evidence": with only systems and devices loaded (no fault, no
    maintenance record) there is no last day with data, so the page has no default as-of date
    (never the machine's clock, issue #13 item 12): it asks for a date, as `opeval evaluate`
    does. Given one, it shows no availability figure (not 100 %), the classification
    insufficient_evidence and no validity date."""
    path = tmp_path / "bare.duckdb"
    con = db.connect(path)
    con.execute("INSERT INTO systems (system_id, name, accepted_on) VALUES ('A', 'Alone', DATE '2020-01-01')")
    con.execute("INSERT INTO devices (device_id, system_id, subsystem, device_type, zone, installed_on) "
                "VALUES ('A1', 'A', 'video_surveillance', 'ccd_camera', 'Z', DATE '2020-01-01')")
    con.close()
    state = EvaluationState(ReadOnlyStore(path))
    assert state.default_as_of() is None
    assert state.result().error == "no fault, maintenance or alarm recorded: give an as-of date"
    state.as_of = dt.date(2025, 6, 30)
    r = state.result()
    assert r.ok and state.overview(r)["system_id"].tolist() == ["A"]
    ind = state.indicators(r)
    assert (ind["classification"], ind["valid_until"], ind["availability"]) == ("insufficient_evidence", None, None)
    assert r.evaluation["period"]["data"] is None
    assert r.evaluation["warnings"] == [("the data hold no record: every figure of the period is empty; "
                                        "device time (availability, MTBF, fault rate, exposure) counts "
                                        "over the days with data only; faults and maintenance outside "
                                        "them are unknown")]
    view = EvaluationPage(state=state)
    view.__panel__()
    assert "Insufficient evidence" in view._verdict.object
    assert "6.1: no fault and no maintenance record in the window" in view._verdict.object
    assert '<div class="value">none</div><div class="sub">no validity without enough evidence' in view._verdict.object
    assert '<div class="value">no evidence</div>' in view._cards.object
    assert "100" not in view._cards.object and "Conforming" not in view._verdict.object
    assert "Warning: the data hold no record" in view._period.object


def test_url_values_of_identifiers():
    assert IdList.serialize(["SYS-1", "SYS-2"]) == "SYS-1,SYS-2"
    assert IdList.deserialize("SYS-1,SYS-2") == ["SYS-1", "SYS-2"]
    assert IdList.deserialize(["a", 12]) == ["a", "12"]          # a JSON list from an older link
    assert IdList.deserialize(12) == ["12"]                     # Panel reads "12" as a number
    assert IdString.deserialize(12) == "12" and IdString.deserialize("null") is None


# ------------------------------------------------------------------ the Viewer (no browser)

def test_page_widgets_drive_every_view(fx_db):
    view = EvaluationPage(state=EvaluationState(ReadOnlyStore(fx_db)))
    view.__panel__()
    s = view.state
    assert not view._empty.visible and view._content.visible and not view._error.visible
    assert "6 systems evaluated as of <b>2025-06-30</b>" in view._status.object
    assert view._as_of.value == fx.AS_OF and view._window.value == 365
    assert len(view._overview.value) == 6 and view._focus.value == "S1"
    assert 'data-system="S1"' in view._verdict.object
    # choose two systems: the overview and the detail follow
    view._systems.value = ["S6", "S3"]
    assert s.systems == ["S6", "S3"] and view._overview.value["system_id"].tolist() == ["S6", "S3"]
    assert list(view._focus.options.values()) == ["S6", "S3"] and view._focus.value == "S6"
    assert "Repair" in view._verdict.object and "1 faults open at the as-of date" in view._verdict.object
    # a click on the second overview row shows that system
    view._overview_clicked(SimpleNamespace(row=1))
    assert s.system == "S3" and view._focus.value == "S3" and "Overall renewal" in view._verdict.object
    assert view._devices.value["device_id"].tolist() == ["H1", "H2", "H3"]
    assert view._findings.value["status"].isin(es.STATUSES).all()
    # the report and a CSV download
    html = view._report_bytes().getvalue().decode()
    assert view._report.filename == "evaluation-S3.html" and 'id="system-S3"' in html
    csv = pd.read_csv(pd.io.common.BytesIO(view._csv(s.overview)()))
    assert csv["system_id"].tolist() == ["S6", "S3"]
    # the state drives the widgets back (as a URL would)
    s.systems = ["S5"]
    assert view._systems.value == ["S5"] and view._focus.value == "S5"
    assert view._never_exposed.visible and not view._exposure_plot.visible   # K1 never down


def test_page_on_an_empty_database_says_what_to_load(tmp_path):
    path = tmp_path / "empty.duckdb"
    db.connect(path).close()
    view = EvaluationPage(state=EvaluationState(ReadOnlyStore(path)))
    view.__panel__()
    assert view._empty.visible and view._empty.object == NO_SYSTEMS
    assert "Load systems, devices, faults and maintenance" in NO_SYSTEMS and "opeval demo" in NO_SYSTEMS
    assert not view._content.visible and not view._error.visible


def test_page_rendered_before_the_evaluation_arrives(fx_db, monkeypatch):
    """As on the server: the page is drawn first, the result comes later, then systems change."""
    from bokeh.document import Document
    monkeypatch.setattr(EvaluationPage, "request", lambda self: None)
    view = EvaluationPage(state=EvaluationState(ReadOnlyStore(fx_db)))
    view.__panel__().get_root(Document())
    assert view._panes["life"].object is None and not view._content.visible
    view._apply(view.state.result())
    assert view._content.visible and view._panes["life"].object is not None
    assert view._pipes["life"].data["device_id"].tolist()[:3] == ["D1", "D2", "D4"]
    view.state.system = "S3"               # plots already drawn: their data changes in place
    assert view._pipes["life"].data["device_id"].tolist() == ["H1", "H2", "H3"]
    # S3 has no fault: zone Y1 never exposed, the chart is hidden; back to S1 it shows Z1 again
    assert not view._exposure_plot.visible and view._never_exposed.visible
    view.state.system = "S1"
    exposure, limit = view._pipes["exposure"].data
    assert view._exposure_plot.visible and limit == 24.0
    assert exposure.set_index(["zone", "subsystem"]).loc[("Z1", "video_surveillance"), "exposure_h"] == 48


def test_sections_in_tabs_are_drawn_when_opened_with_the_current_system(fx_db):
    """Only the overview, the detail and the Findings tab become Bokeh models at first; a tab
    opened later (or opened, left and reopened) shows the system chosen meanwhile."""
    from bokeh.document import Document
    from bokeh.models import ColumnDataSource, Plot
    from panel.models.tabulator import DataTabulator

    view = EvaluationPage(state=EvaluationState(ReadOnlyStore(fx_db)))
    doc = Document()
    root = view.__panel__().get_root(doc)
    doc.add_root(root)
    tabs = view._tabs
    assert tabs.dynamic and tabs.active == 0 and tabs._names == [
        "Findings", "Faults & MTTR by month", "Devices & service life", "Exposure by zone",
        "Expected failures"]
    assert tabs in view._content.objects and view._verdict in view._content.objects[1].objects

    def tables() -> dict[str, list]:
        """css class of each Tabulator in the document -> its first column's values shown"""
        out = {}
        for t in root.select({"type": DataTabulator}):
            name = next(c for c in t.css_classes if c.startswith("opeval-table-"))
            out[name] = list(t.source.data[t.columns[0].field])
        return out

    def bars(device: str) -> bool:
        return any(device in list(src.data.get("device_id", []))
                   for src in root.select({"type": ColumnDataSource}))

    # first render: the overview and the findings only, no plot at all
    assert set(tables()) == {"opeval-table-overview", "opeval-table-findings"}
    assert not list(root.select({"type": Plot}))
    # S3 chosen while the devices tab was never opened; opening it shows S3's devices
    view.state.system = "S3"
    tabs.active = 2
    assert tables()["opeval-table-devices"] == ["H1", "H2", "H3"] and bars("H1")
    assert "opeval-table-monthly" not in tables()
    # back to Findings, S1 chosen while the devices tab is hidden, reopened: S1's devices
    tabs.active = 0
    s3_findings = view._findings.value
    assert "opeval-table-devices" not in tables()
    view.state.system = "S1"
    # the open tab (Findings) follows at once
    assert 'data-system="S1"' in view._verdict.object and not view._findings.value.equals(s3_findings)
    assert view._findings.value.drop(columns="see").equals(view.state.findings(view._res))
    # the drawn tab, hidden now, follows at once: its note, table and chart
    assert view._life_note.object.startswith('<span class="opeval-life-note">6 active devices')
    assert view._devices.value["device_id"].tolist()[:2] == ["D1", "D2"]
    tabs.active = 2
    assert tables()["opeval-table-devices"] == ["D1", "D2", "D4", "D5", "D3", "D6"]
    # S1: D1 past (EOL = as-of), D2 and D4 due within the 182-day cycle
    assert view._life_note.object.startswith(
        '<span class="opeval-life-note">6 active devices: <b>1</b> past their service life, '
        "<b>2</b> reaching it")
    assert bars("D1") and not bars("H1")


def test_warm_starts_the_first_evaluation_of_the_page(fx_db, tmp_path):
    job = es.warm(str(fx_db))
    assert job is EvaluationState(ReadOnlyStore(fx_db)).job()   # the page finds the same job
    empty = tmp_path / "none.duckdb"
    db.connect(empty).close()
    assert es.warm(str(empty)) is None


def test_cards_show_both_clocks_and_the_cycle_per_subsystem(state, res):
    """5.1.1 counts from the occurrence (the card's figure, the findings' clock); the report clock
    is beside it. S1 repair: 3 of 7 from the occurrence, 4 of 7 from the report (F2 reported an
    hour late, restored 8 h after the report). S1 response: 2 of 4 recorded within; F7, F8, F9
    restored without a response time. The cycle table lists S1's three subsystems (5.1.5)."""
    from evaluation.views.evaluation_page import EvaluationPage as Page
    ind = state.indicators(res)
    cards = Page._cards_html(ind)
    assert "from the fault (5.1.1); from the report 57.1%" in cards
    assert "from the report 50.0%; 3 not recorded" in cards
    cycle = state.cycle(res)
    assert cycle["subsystem"].tolist() == ["access_control", "intrusion_alarm", "video_surveillance"]
    assert set(cycle["status"]) == {"within the cycle"} and set(cycle["due"]) == {"2025-12-30"}
    page_html = Page._cycle_html(cycle, ind["cycle"])
    assert "cycle 6 months" in page_html and 'data-subsystem="intrusion_alarm"' in page_html


def test_indicator_colours_follow_the_analysis_targets(state, res):
    from evaluation.views.evaluation_page import EvaluationPage as Page
    ind = state.indicators(res)            # S1: availability 97.3 % < 99 %; response 50 % < 100 %
    assert (ind["availability_target"], ind["sla_target"]) == (0.99, 1.0)
    cards = Page._cards_html(ind)
    assert 'class="card bad" data-key="availability"' in cards
    assert 'class="card bad" data-key="sla_response"' in cards
    state.system = "S6"                    # S6: response 1 of 1 within the limit -> 100 %
    assert 'class="card good" data-key="sla_response"' in Page._cards_html(state.indicators(res))


def test_a_failing_evaluation_is_said_and_retried(tmp_path, monkeypatch):
    path = tmp_path / "fail.duckdb"
    con = db.connect(path)
    con.execute("INSERT INTO systems (system_id, name) VALUES ('A', 'Alone')")
    con.execute("INSERT INTO maintenance (maintenance_id, system_id, kind, started_at) "
                "VALUES ('M1', 'A', 'periodic', TIMESTAMP '2025-06-30 10:00')")   # a day with data
    con.close()

    def boom(*_a, **_k):
        raise RuntimeError("model did not converge")
    monkeypatch.setattr(es, "evaluate", boom)
    view = EvaluationPage(state=EvaluationState(ReadOnlyStore(path)))
    view.__panel__()
    assert view._error.visible and "RuntimeError: model did not converge" in view._error.object
    assert not view._content.visible
    monkeypatch.undo()
    assert view.state.result().ok          # not cached: asking again evaluates again


def test_fleet_summary_all_systems_and_findings_linked_to_their_evidence(fx_db):
    """Above the table: the selected systems together (counts by classification that add up
    to the table's rows, device availability pooled over the systems' device-hours); every
    system in one table, no pages; a finding's "Evidence in" cell opens the tab of its
    evidence, an alarm finding links to the system's alarms on /alarms."""
    from evaluation.views.evaluation_page import TABS

    view = EvaluationPage(state=EvaluationState(ReadOnlyStore(fx_db)))
    view.__panel__()
    s, res = view.state, view._res
    ov = view._overview
    assert ov.pagination is None and len(ov.value) == 6
    f = s.fleet(res)
    assert f["systems"] == 6 and sum(f["classification"].values()) == 6
    assert f["classification"] == ov.value["classification"].value_counts().reindex(
        list(f["classification"]), fill_value=0).to_dict()
    assert f["nonconforming"] == ov.value["nonconforming"].sum()
    assert f["open_faults"] == ov.value["open_faults"].sum()
    systems = [res.by_id[k] for k in res.by_id]
    up = sum(x["device_hours"] - x["down_hours"] for x in systems)
    assert f["availability"] == pytest.approx(up / sum(x["device_hours"] for x in systems))
    fleet = view._fleet.object
    assert 'data-key="fleet_systems"' in fleet and '<div class="value">6</div>' in fleet
    assert "n/a" not in fleet and "None" not in fleet
    # choosing two systems: the summary counts them alone
    view._systems.value = ["S1", "S6"]
    assert s.fleet(res)["systems"] == 2 and '<div class="value">2</div>' in view._fleet.object
    # S1's findings: each with where its evidence is
    s.system = "S1"
    keys, shown = view._finding_keys, view._findings.value
    assert len(keys) == len(shown) and "see" in shown.columns
    assert "see" not in s.findings(res).columns          # the CSV keeps its columns
    row = keys.index("service_life")
    assert html.escape(TABS[2]) in shown["see"].iloc[row]
    view._finding_clicked(SimpleNamespace(column="see", row=row))
    assert view._tabs.active == 2
    view._finding_clicked(SimpleNamespace(column="evidence", row=keys.index("exposure")))
    assert view._tabs.active == 2                        # only the "Evidence in" cell opens a tab
    view._finding_clicked(SimpleNamespace(column="see", row=keys.index("exposure")))
    assert view._tabs.active == 3
    if "false_alarms" in keys:
        assert 'href="./alarms?system=S1"' in shown["see"].iloc[keys.index("false_alarms")]


def test_evaluation_tables_show_words_and_keep_machine_names_for_downloads(fx_db):
    view = EvaluationPage(state=EvaluationState(ReadOnlyStore(fx_db)))
    view.__panel__()
    tables = _tables(view)
    assert len(tables) >= 5 and all(len(t.value.columns) for t in tables)
    for tab in tables:
        _assert_human(tab)
    ov = view._overview
    assert ov.titles["mtbf_h"] == "MTBF (mean time between failures)"
    assert "mtbf_h" in ov.value.columns and ov.value["classification"].isin(display.VALUE_LABELS).all()
    csv = pd.read_csv(pd.io.common.BytesIO(view._csv(view.state.overview)()))
    assert "mtbf_h" in csv.columns and "fit_with_remarks" not in ov.titles.values()


def test_mtbf_card_says_per_device_and_for_the_whole_system(fx_db):
    state = EvaluationState(ReadOnlyStore(fx_db))
    ind = state.indicators(state.result())
    cards = EvaluationPage._cards_html(ind)
    up = ind["device_hours"] - ind["down_hours"]
    assert ind["mtbf_h"] == pytest.approx(up / ind["faults"])
    assert "MTBF per device" in cards and display.hours(ind["mtbf_h"]) in cards
    assert (f"{up:,.0f} h in service over its {ind['devices']} devices ÷ {ind['faults']} faults; "
            f"the system as a whole: a fault every {display.hours(ind['mtbf_h'] / ind['devices'])}"
            ) in cards.replace("&#x27;", "'")
    assert "n/a" not in cards
