"""The /alarms page's state (and Viewer) driven without a browser, on hand-made databases.

The expected numbers are worked out in tests/_alarms_views_db.py.
"""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

import _alarms_views_db as fx
from conftest import pdf_text
from evaluation.cli import main as cli_main
from evaluation.views import alarms_state
from evaluation.views.alarms_state import AlarmsState, Filters, choose_bucket
from evaluation.views.layout import pdf_name


@pytest.fixture(scope="module")
def db_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("views_alarms")
    return str(fx.build(root / "db.duckdb", root / "in"))


@pytest.fixture
def state(db_file) -> AlarmsState:
    return AlarmsState(db_file, page_size=3)


def test_default_range_is_the_data_and_every_kpi_matches(state):
    # Data from 2025-03-03 to 2025-03-04: shorter than 28 days, so all of it.
    assert (state.start, state.end) == (dt.date(2025, 3, 3), dt.date(2025, 3, 4))
    k = state.views().kpis
    assert k["alarms"] == 18 and k["definitions"] == 3
    assert k["floods"] == 1 and k["flood_minutes"] == 10 and k["peak_per_10min"] == 12
    assert k["chattering"] == 1 and k["repeat_alarms"] == 3
    # closed 17 (Z1 is open), false: 4 (D1 day 1) + 6 (odd Motion) = 10
    assert (k["closed"], k["false_alarms"]) == (17, 10)
    assert k["false_alarm_rate"] == pytest.approx(10 / 17)
    # handle times: 30, 60 ×4, 300 ×12 -> median (9th of 17) = 300; close: 90, 120 ×4, 600 ×12
    assert k["median_handle_s"] == 300 and k["median_close_s"] == 600
    assert k["open"] == 1
    # Each system over its own log: S2's 12 alarms were raised 10:00:00-10:08:15 and its
    # last record is the last closing, 10:08:15 + 600 s = 10:18:15: intervals 10:00 and
    # 10:10, 12 / 2 = 6 per 10 min (EEMUA 191: over-demanding). S1's log runs 03-03
    # 08:00:00 to 03-04 12:01:30: 28 h × 6 + 1 = 169 intervals, 6 / 169.
    assert k["busiest_position"] == "S2"
    assert k["busiest_avg_per_10min"] == pytest.approx(6.0)
    assert k["busiest_rate_class"] == "overloaded"


def test_load_series_buckets_and_flood(state):
    v = state.views()
    assert v.bucket == "10min"                    # 2 days: 10-minute buckets
    assert len(v.series) == 2 * 144               # every bucket, empty ones with 0
    busy = v.series[v.series.alarms > 0].set_index("bucket")
    assert busy["alarms"].to_dict() == {
        pd.Timestamp("2025-03-03 08:00"): 4, pd.Timestamp("2025-03-03 10:00"): 12,
        pd.Timestamp("2025-03-04 09:00"): 1, pd.Timestamp("2025-03-04 12:00"): 1}
    assert int(v.series["alarms"].sum()) == 18
    f = v.floods.iloc[0]
    assert (f["position"], f["start"], f["end"], f["minutes"], f["peak_per_10min"]) == (
        "S2", pd.Timestamp("2025-03-03 10:00"), pd.Timestamp("2025-03-03 10:10"), 10, 12)
    state.bucket = "1h"
    hourly = state.views().series
    assert len(hourly) == 48 and int(hourly["alarms"].sum()) == 18
    assert hourly.loc[hourly.bucket == pd.Timestamp("2025-03-03 10:00"), "peak_10min"].item() == 12


def test_pareto_marks_the_bad_actors(state):
    p = state.views().pareto
    assert p["definition"].tolist() == ["Motion detected", "Door held open", "Intrusion detected"]
    assert p["alarms"].tolist() == [12, 5, 1]
    # 12/18, 17/18, 18/18; bad actors until 80 % is reached: the crossing one included
    assert p["cumulative_share"].tolist() == pytest.approx([12 / 18, 17 / 18, 1.0])
    assert p["bad_actor"].tolist() == [True, True, False]


def test_chattering_repeats_and_heat_map(state):
    v = state.views()
    c = v.chattering.iloc[0]
    assert len(v.chattering) == 1
    assert (c["definition"], c["resource_id"], c["alarms"], c["chatter_raises"]) == (
        "Door held open", "D1", 5, 1)
    r = v.repeats.iloc[0]
    assert len(v.repeats) == 1 and (r["repeat_alarms"], r["repeat_share"]) == (3, 3 / 5)
    heat = {(h.definition, h.hour): (h.closed, h.false_alarm_rate) for h in v.heat.itertuples()}
    assert heat == {("Door held open", 8): (4, 1.0), ("Door held open", 12): (1, 0.0),
                    ("Motion detected", 10): (12, 0.5)}


def test_handling_per_operator(state):
    ops = state.views().operators.set_index("assigned_to")
    assert ops.loc["opB", "alarms"] == 12 and ops.loc["opA", "alarms"] == 5
    h = state.handling().set_index("assigned_to")
    # opA handle times 30, 60, 60, 60, 60: p10 = 30 + 0.4 × 30 = 42, median 60
    assert h.loc["opA", ["n", "p10", "median", "p90"]].tolist() == [5, 42, 60, 60]
    assert h.loc["opB", ["p10", "median", "p90"]].tolist() == [300, 300, 300]
    state.measure = "close"
    assert state.handling().set_index("assigned_to").loc["opA", "median"] == 120


@pytest.mark.parametrize("change, alarms, floods", [
    ({"system": "S1"}, 6, 0),                     # D1 ×5 + Z1
    ({"priority": 4}, 12, 1),                     # the Motion flood
    ({"operator": "opA"}, 5, 0),
    ({"definition": "Door held open"}, 5, 0),
    ({"start": dt.date(2025, 3, 4)}, 2, 0),       # day 2 only
    ({"system": "S1", "priority": 4}, 0, 0),
])
def test_filters_change_every_view(db_file, change, alarms, floods):
    s = AlarmsState(db_file, **change)
    v = s.views()
    assert v.kpis["alarms"] == alarms
    assert int(v.series["alarms"].sum()) == alarms if alarms else len(v.series) == 0
    assert len(v.floods) == floods
    assert int(v.pareto["alarms"].sum()) == alarms


def test_day_two_alone_has_no_repeat_because_gaps_span_the_whole_history(db_file):
    v = AlarmsState(db_file, start=dt.date(2025, 3, 4)).views()
    # D1 at 12:00 comes 100,500 s after its raise the day before: not a repeat
    assert v.kpis["repeat_alarms"] == 0 and v.kpis["chattering"] == 0


def test_history_review_pages_and_csv(state):
    assert state.history_total() == 0 and len(state.history_rows()) == 0
    state.history_definition = "Door held open"
    assert state.history_resources() == ["D1"]
    assert state.history_total() == 5 and state.history_pages() == 2
    first = state.history_rows()
    assert first["gap_s"].tolist()[1:] == [20, 30]
    assert pd.isna(first["gap_s"].iloc[0])
    assert first["chatter"].tolist() == [False, False, True]
    assert first["comment"].iloc[1] == fx.SCRIPT_COMMENT     # kept as text, escaped on display
    state.history_page = 2
    second = state.history_rows()
    assert second["gap_s"].tolist() == [250, 100_500]
    assert second["repeat"].tolist() == [True, False]
    assert second["close_reason"].tolist() == ["false_alarm", "handled"]
    state.system = "S2"                            # a filter change goes back to page 1
    assert state.history_page == 1 and state.history_total() == 0
    state.system = ""
    csv = pd.read_csv(pd.io.common.BytesIO(state.history_csv()))
    assert len(csv) == 5 and csv["alarm_id"].tolist()[0] == "A-D1-0"


def test_filters_key_and_bucket_choice():
    f = Filters(dt.date(2025, 1, 1), dt.date(2025, 1, 7))
    assert f.days == 7 and choose_bucket("auto", f.days) == "10min"
    assert choose_bucket("auto", 8) == "1h" and choose_bucket("10min", 300) == "10min"
    assert hash(f) == hash(Filters(dt.date(2025, 1, 1), dt.date(2025, 1, 7)))


def test_a_new_load_is_seen_without_restart(tmp_path):
    path = fx.build(tmp_path / "db.duckdb", tmp_path / "in", fx.rows()[:4])
    s = AlarmsState(str(path))
    assert s.views().kpis["alarms"] == 4
    fx.build(path, tmp_path / "in2", fx.rows()[4:6])   # two more Motion alarms
    assert AlarmsState(str(path), start=s.start, end=s.end).views().kpis["alarms"] == 6


def test_empty_database(tmp_path):
    s = AlarmsState(str(fx.empty(tmp_path / "db.duckdb")))
    assert not s.has_alarms() and s.data_range() is None and s.default_range() is None


def test_without_a_saved_model_open_alarms_are_listed_unscored(state):
    """No model is trained by the page: the open alarms come oldest first, without a score."""
    assert state.model().status == "none"
    listed = state.open_alarms()
    assert len(listed) and listed["p_false"].isna().all()
    assert listed["raised_at"].is_monotonic_increasing and listed["rank"].tolist() == list(
        range(1, len(listed) + 1))


# ---------------------------------------------------------------- the model
def _model_rows() -> list[dict]:
    """200 closed alarms over 20 days on 10 resources: every 'Motion detected' closed as
    a false alarm, every 'Door held open' as handled (the definition decides, so the
    ranking does not hang on how the training rows happen to be ordered); then one
    open alarm of each definition."""
    out = []
    t0 = dt.datetime(2025, 1, 1)
    for i in range(200):
        definition = "Motion detected" if i % 2 == 0 else "Door held open"
        raised = t0 + dt.timedelta(hours=2.4 * i)
        false = definition == "Motion detected"
        out.append({"alarm_id": f"B{i:03d}", "system_id": "S1", "definition": definition,
                        "resource_id": f"R{i % 10}", "priority": 3, "raised_at": raised,
                        "handled_at": raised + dt.timedelta(seconds=60), "assigned_to": "opA",
                        "closed_at": raised + dt.timedelta(seconds=120), "status": "closed",
                        "close_reason": "false_alarm" if false else "handled"})
    end = t0 + dt.timedelta(days=21)
    for j, definition in enumerate(("Door held open", "Motion detected")):
        out.append({"alarm_id": f"OPEN{j}", "system_id": "S1", "definition": definition,
                        "resource_id": "R1", "priority": 3, "raised_at": end + dt.timedelta(hours=j),
                        "status": "new"})
    return out


@pytest.mark.slow
def test_a_model_saved_by_the_command_ranks_the_open_alarms(tmp_path):
    path = str(fx.build(tmp_path / "db.duckdb", tmp_path / "in", _model_rows()))
    s = AlarmsState(path)
    assert s.model().status == "none"               # the page trains nothing ...
    assert cli_main(["--db", path, "alarms", "--fit-model", "--format", "json",
                     "--out", str(tmp_path / "fit.json")]) == 0   # ... the command does
    slot = s.model()                                 # found without restarting the server
    assert slot.status == "ready", slot.message
    ranked = s.open_alarms()
    # every Motion alarm was false, no Door alarm was
    assert ranked["alarm_id"].tolist() == ["OPEN1", "OPEN0"]
    assert ranked["p_false"].iloc[0] > 0.5 > ranked["p_false"].iloc[1]
    assert ranked["rank"].tolist() == [1, 2]
    meta = s.model_summary()
    assert meta["model_version"] == "alarm-false-1" and meta["train_rows"] > 0
    assert {"model", "baseline"} <= set(meta["evaluation"])
    saved = list((tmp_path / "models").glob("alarm-false-1-*.json"))
    assert len(saved) == 1
    assert json.loads(saved[0].read_text())["database"] == str((tmp_path / "db.duckdb").resolve())
    # A new server process (simulated) finds the saved model instead of training again.
    alarms_state._models.clear()
    again = AlarmsState(path).model()
    assert again.status == "ready" and again.source.startswith("saved model")
    # Filters apply to the ranked list too.
    assert AlarmsState(path, definition="Door held open").open_alarms()["alarm_id"].tolist() == [
        "OPEN0"]


def test_a_saved_model_of_another_database_is_not_used(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "alarm-false-1-20250101T000000Z.json").write_text(
        json.dumps({"model_version": "alarm-false-1", "database": "/elsewhere/other.duckdb"}))
    (tmp_path / "models" / "alarm-false-1-20250101T000000Z.joblib").write_text("not used")
    path = fx.build(tmp_path / "db.duckdb", tmp_path / "in")
    assert alarms_state.find_saved_model(str(path)) is None


# ---------------------------------------------------------------- the Viewer
def test_viewer_builds_updates_and_escapes(db_file):
    import panel as pn

    from evaluation.views.alarms_page import AlarmsPage, shown
    from evaluation.views.queries import ReadOnlyStore

    page = AlarmsPage(state=AlarmsState(db_file, page_size=20))
    pn.panel(page).get_root()
    assert 'data-kpi="alarms"' in page._kpis.object and ">18<" in page._kpis.object
    page._system.value = "S1"                      # the widget drives the state
    assert page.state.system == "S1"
    assert ">6<" in page._kpis.object
    assert page._pareto_table.value["definition"].tolist() == ["Door held open",
                                                               "Intrusion detected"]
    page.state.history_definition = "Door held open"
    assert len(page._history.value) == 5
    comment = page._history.value["comment"].iloc[1]
    assert comment == fx.SCRIPT_COMMENT            # data unchanged ...
    assert page._history.formatters["comment"] == {"type": "plaintext"}  # ... shown as text
    assert "&lt;" not in page._hist_title.object or "<script" not in page._hist_title.object
    page.state.system = "nowhere"                  # not an option: the filter is cleared
    assert page.state.system == "" and page._system.value == "*"
    times = shown(pd.DataFrame({"t": pd.to_datetime(["2025-03-03 08:00:20", None])}))
    assert times["t"].tolist() == ["2025-03-03 08:00:20", "–"]     # the one missing sign
    empty_page = AlarmsPage(state=AlarmsState(
        fx.empty(__import__("pathlib").Path(db_file).parent / "empty.duckdb")))
    assert "opeval demo" in pn.panel(empty_page).objects[0].object
    assert ReadOnlyStore  # the factory's argument type


def test_opening_the_open_alarm_tab_trains_nothing_and_writes_nothing(tmp_path):
    import panel as pn

    from evaluation.views.alarms_page import OPEN_TAB, AlarmsPage

    path = str(fx.build(tmp_path / "db.duckdb", tmp_path / "in"))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    page = AlarmsPage(state=AlarmsState(path))
    pn.panel(page).get_root()
    assert "loaded when this tab is opened" in page._model_info.object
    assert page._open.visible is False                        # nothing listed before the tab
    page._tabs.active = OPEN_TAB
    assert page.state.model().status == "none"
    assert "No false-alarm model saved for this database" in page._model_info.object
    assert "opeval alarms --fit-model" in page._model_info.object
    assert page._open.visible and page._open.value["p_false"].isna().all()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


# ---------------------------------------------------------------- open at the end of the range
def _with_old_alarms() -> list[dict]:
    """The fixture's alarms plus two raised on day 1 (2025-03-03):

    - A-OLD: "Intrusion detected" on Z2 (S1, priority 1), raised 07:00, in
      progress (taken by opA), never closed — still open at every later time;
    - A-LATE: same, raised 23:00, closed on day 2 at 01:00 as handled — open at
      the end of day 1, not at the end of day 2.
    """
    old = {"system_id": "S1", "definition": "Intrusion detected", "event_type": "intrusion",
           "resource_id": "Z2", "priority": 1, "assigned_to": "opA"}
    return fx.rows() + [
        dict(old, alarm_id="A-OLD", raised_at=fx.T1 + dt.timedelta(hours=7),
             handled_at=fx.T1 + dt.timedelta(hours=7, minutes=5), status="in_progress"),
        dict(old, alarm_id="A-LATE", raised_at=fx.T1 + dt.timedelta(hours=23),
             closed_at=fx.T2 + dt.timedelta(hours=1), status="closed", close_reason="handled")]


def test_open_alarms_are_those_open_at_the_end_of_the_range_whatever_their_raise_time(tmp_path):
    """Issue #13 item 11. Range day 2 only (03-04): its end is the end of the data
    (03-04 12:01:30). Open then: A-Z1 (raised on day 2) and A-OLD (raised on day
    1, before the range) — 2, where selecting by raise time shows 1. A-LATE was
    closed at 01:00 on day 2: not open. Range day 1 only: open at 03-03
    23:59:59.999999 are A-OLD and A-LATE (closed only the next day) — A-Z1 was
    not raised yet."""
    path = str(fx.build(tmp_path / "db.duckdb", tmp_path / "in", _with_old_alarms()))
    day2 = AlarmsState(path, start=dt.date(2025, 3, 4), end=dt.date(2025, 3, 4)).views()
    assert day2.kpis["open"] == 2
    assert day2.open["alarm_id"].tolist() == ["A-OLD", "A-Z1"]          # oldest first
    assert day2.kpis["open_at"] == dt.datetime(2025, 3, 4, 12, 1, 30)
    day1 = AlarmsState(path, start=dt.date(2025, 3, 3), end=dt.date(2025, 3, 3)).views()
    assert day1.open["alarm_id"].tolist() == ["A-OLD", "A-LATE"]
    # the other filters still apply
    s2 = AlarmsState(path, start=dt.date(2025, 3, 4), end=dt.date(2025, 3, 4), system="S2")
    assert s2.views().kpis["open"] == 0


def test_the_ranked_open_list_keeps_alarms_raised_before_the_range(tmp_path, monkeypatch):
    """With a model ready, the tab lists every alarm open at the end of the range:
    scored ones first by P(false alarm), then the ones open then but closed since
    (no score: the model scores what is open now)."""
    path = str(fx.build(tmp_path / "db.duckdb", tmp_path / "in", _with_old_alarms()))
    state = AlarmsState(path, start=dt.date(2025, 3, 3), end=dt.date(2025, 3, 3))
    monkeypatch.setitem(alarms_state._models, path,
                        alarms_state.ModelSlot(status="ready", model=object()))
    scores = pd.DataFrame({"alarm_id": ["A-Z1", "A-OLD"], "p_false": [0.9, 0.2],
                           "baseline": [0.5, 0.5]})
    monkeypatch.setattr(alarms_state, "_scores", lambda *_a: scores)
    ranked = state.open_alarms()
    assert ranked["alarm_id"].tolist() == ["A-OLD", "A-LATE"]
    assert ranked["p_false"].iloc[0] == 0.2 and pd.isna(ranked["p_false"].iloc[1])
    assert ranked["rank"].tolist() == [1, 2]


# ---------------------------------------------------------------- rationalisation tabs (issue 17)
def _planted_rows() -> list[dict]:
    """S1 on 2025-03-03: A raised at 00:05:00 and every 30 min (20 times), B 10 s
    after each A; D every 97 s from 00:00:00 (372 raises, independent of both);
    F0…F9 one a second from 10:30:05 — ten alarms in the minute 10:30, an
    avalanche whose initiator is F0. As in tests/test_alarms_consequences.py:
    the only advice is "suppress B while A is active", 20 of A's 20 episodes
    followed by B 10 s later; D follows A and B no more than chance, and the
    F's come together once (fewer than 5: not tested)."""
    base = {"system_id": "S1", "event_type": "process", "priority": 3}

    def one(alarm_id, definition, sec):
        return dict(base, alarm_id=alarm_id, definition=definition, resource_id=definition,
                    raised_at=fx.T1 + dt.timedelta(seconds=sec))

    a = [300 + 1800 * k for k in range(20)]
    return ([one(f"A{i}", "A", t) for i, t in enumerate(a)]
            + [one(f"B{i}", "B", t + 10) for i, t in enumerate(a)]
            + [one(f"D{i}", "D", 97 * i) for i in range(372)]
            + [one(f"F{i}", f"F{i}", 37805 + i) for i in range(10)])


def test_rationalisation_tabs_show_the_report_and_drill_down_to_the_episodes(tmp_path):
    """The tabs compute nothing until opened; then they show the keys of
    ``opeval alarms --format json`` for the filters (the same ``alarm_report``),
    and a click on the advice lists A's 20 episodes, each followed by B 10 s
    later; a click on the avalanche lists its ten raises, F0 first."""
    import types

    import panel as pn

    from evaluation.analyses.alarms import alarm_report
    from evaluation.store.engine import open_tables
    from evaluation.views.alarms_page import RATIONALISATION_TAB, AlarmsPage

    path = str(fx.build(tmp_path / "db.duckdb", tmp_path / "in", _planted_rows()))
    page = AlarmsPage(state=AlarmsState(path))
    pn.panel(page).get_root()
    rat = page._rat
    assert rat.data is None                                   # nothing computed yet
    page._tabs.active = RATIONALISATION_TAB + 1               # "Consequences"
    assert page._tabs._names[RATIONALISATION_TAB:] == [
        "Avalanches", "Consequences", "Sequences", "Standing & nuisance", "Load pattern"]
    cli = alarm_report(open_tables(path).alarms)
    assert rat.data["consequences"]["suppression"] == cli["consequences"]["suppression"]
    advice = rat.advice.value
    assert advice[["trigger_definition", "consequence_definition"]].values.tolist() == [["A", "B"]]
    assert (advice.together.item(), advice.trigger_episodes.item()) == (20, 20)
    rat._pick_pair(rat.advice, types.SimpleNamespace(row=0))
    ep = rat.pair_episodes.value
    assert len(ep) == 20 and ep.delay_s.tolist() == [10.0] * 20
    assert "20 of 20 followed by B within 60 s" in rat.pair_title.object
    assert rat.episodes.value.initiator_definition.tolist() == ["F0"]
    rat._pick_avalanche(types.SimpleNamespace(row=0))
    raises = rat.avalanche_raises.value
    assert raises.definition.tolist() == [f"F{i}" for i in range(10)]
    assert raises.raised_at.iloc[0] == "2025-03-03 10:30:05"
    assert len(rat.data["load_pattern"]) == 168
    page.state.definition = "D"                               # D alone: no pair, no avalanche
    assert rat.advice.value.empty and rat.episodes.value.empty


def test_rationalisation_labels_follow_the_settings_file(tmp_path):
    """The numbers the tabs print are the rules in force (opeval.toml beside the database),
    not the defaults: a 30 s follow window, 90 % confidence, 12 alarms per avalanche
    minute, a 5-minute interval and 12 h to stale."""
    from evaluation.views.alarms_rationalisation import (
        RationalisationTabs,
        standing_plot,
        transition_plot,
    )

    path = fx.build(tmp_path / "db.duckdb", tmp_path / "in", _planted_rows())
    (path.parent / "opeval.toml").write_text(
        "[alarms]\nfollow_window_s = 30\nconsequence_min_confidence = 0.9\n"
        "avalanche_min_alarms = 12\nstale_after_h = 12\nsequence_top_n = 7\n")
    state = AlarmsState(str(path))
    html_text = " ".join(str(getattr(o, "object", "")) for _t, col in
                         RationalisationTabs(state).tabs() for o in col.objects)
    assert "at least 12 alarms in 60 s" in html_text
    assert "at least 90% of A's episodes within 30 s" in html_text
    empty = pd.DataFrame(columns=["from_definition", "from_resource_id", "to_definition",
                                  "to_resource_id", "transitions", "share"])
    assert transition_plot(empty, state.rules).opts.get().kwargs["title"] == (
        "Which alarm follows which within 30 s (7 busiest alarms)")
    series = pd.DataFrame({"step_start": ["2025-03-03T00:00:00"], "standing_at_end": [1],
                           "stale_at_end": [0]})
    assert "stale (> 12 h)" in [c.label for c in standing_plot(series, 600, state.rules)]


def test_pdf_download_is_the_file_opeval_alarms_writes(state, db_file, tmp_path, capsys):
    """The page's "Download PDF report" for its default range (the days with data) has
    the text of `opeval alarms --since FIRST --as-of LAST --format pdf` for the same local
    days, and is named after them (issue 16: a download on each page)."""
    page = state.report_pdf()
    note, _ = state.period_note()
    assert cli_main(["--db", str(db_file), "alarms", "--since", note["first_day"], "--as-of",
                     note["last_day"], "--format", "pdf", "--out", str(tmp_path / "a.pdf")]) == 0
    capsys.readouterr()
    assert pdf_text(page) == pdf_text((tmp_path / "a.pdf").read_bytes())
    assert pdf_name("alarms", note) == f"alarms-{note['first_day']}_{note['last_day']}.pdf"


def test_the_pdf_prints_the_planted_advice_and_avalanche(tmp_path):
    """On the planted log (:func:`_planted_rows`), the page's PDF (the alarms report
    printed) lists the one advice, suppress B while A is active, and F0 as the one
    avalanche's initiator (issue 17 item 6: the rationalisation in the PDF)."""
    path = str(fx.build(tmp_path / "db.duckdb", tmp_path / "in", _planted_rows()))
    state = AlarmsState(path)
    text = " ".join(pdf_text(state.report_pdf()).split())
    advice = state.rationalisation()["consequences"]["suppression"]
    assert [(a["trigger_definition"], a["consequence_definition"]) for a in advice] == [("A", "B")]
    assert " ".join(advice[0]["advice"].split()) in text
    assert "Avalanches: 1 episode(s)." in text and "1 F0 F0 1" in text


# ------------------------------------------------------------------ the operator's screen
def _open_row(i, system, definition, resource, hour, minute, status, operator=None, **kw):
    return {"alarm_id": i, "system_id": system, "definition": definition, "event_type": "x",
            "resource_id": resource, "priority": 2,
            "raised_at": fx.T2 + dt.timedelta(hours=hour, minutes=minute), "status": status,
            "assigned_to": operator, "comment": "", **kw}


OPERATOR_ROWS = [
    _open_row("O-1", "S1", "Intrusion detected", "Z2", 9, 10, "in_progress", "opA"),
    _open_row("O-2", "S2", "Motion detected", "M20", 9, 20, "escalated", "opB",
              escalated_at=fx.T2 + dt.timedelta(hours=9, minutes=25)),
    _open_row("O-3", "S2", "Door held open", "D9", 9, 30, "new", "opA"),
]
"""Three more open alarms on day 2, besides the fixture's A-Z1 (09:00, new, nobody's). No
model is saved, so the list is unscored, oldest first: A-Z1, O-1, O-2, O-3."""


@pytest.fixture
def operator_db(tmp_path):
    return fx.build(tmp_path / "op.duckdb", tmp_path / "in", fx.rows() + OPERATOR_ROWS)


def test_the_operators_screen_narrows_the_open_list(operator_db):
    """seed 004 (the operator's list): status new → A-Z1 and O-3; escalated → O-2;
    "assigned to me" for opA → O-1 and O-3, and for nobody signed in → none (nobody is
    "me"); the search looks in id, definition, resource, system, operator and status, in
    any case: "door" → O-3 (the only open Door alarm), "OPb" → O-2, "in_prog" → O-1,
    "zz" → none. Filters combine (new and mine for opA → O-3) and ranks stay those of
    the whole list (O-3 is 4th). The CSV is what is shown."""
    def ids(**kw):
        s = AlarmsState(operator_db, user=kw.pop("user", ""), **kw)
        return s.open_list()["alarm_id"].tolist()

    assert ids() == ["A-Z1", "O-1", "O-2", "O-3"]
    assert ids(open_status="new") == ["A-Z1", "O-3"]
    assert ids(open_status="escalated") == ["O-2"]
    assert ids(mine=True, user="opA") == ["O-1", "O-3"]
    assert ids(mine=True) == []
    assert ids(search="door") == ["O-3"]
    assert ids(search="OPb") == ["O-2"]
    assert ids(search="in_prog") == ["O-1"]
    assert ids(search="zz") == []
    s = AlarmsState(operator_db, user="opA", open_status="new", mine=True)
    assert s.open_list()[["rank", "alarm_id"]].values.tolist() == [[4, "O-3"]]


def test_the_screen_follows_a_new_load_within_the_default_range_only(operator_db, tmp_path):
    """A page left on the default range (the last days of data, ending 2025-03-04) follows
    a load: after O-4 is raised on 2025-03-05, refresh() says the data changed, the range
    ends on 2025-03-05 and O-4 is on the list; a second refresh() finds nothing new. A
    range the user chose (2025-03-04 alone, not the default) stays put after O-5 on
    2025-03-06, while the default range it keeps to compare with (``seen_range``) moves."""
    from evaluation.store import db as store_db
    from evaluation.store.ingest import ingest

    def load(row, name):
        con = store_db.connect(operator_db)
        try:
            ingest(con, "alarms", [fx.write_csv(tmp_path / name, [row])], strict=True)
        finally:
            con.close()

    s = AlarmsState(operator_db)
    chosen = AlarmsState(operator_db, start=fx.T2.date(), end=fx.T2.date())
    assert s.refresh() is False and s.end == fx.T2.date()
    load(_open_row("O-4", "S1", "Intrusion detected", "Z4", 24 + 8, 0, "new"), "o4.csv")
    assert s.refresh() is True and s.end == dt.date(2025, 3, 5)
    assert s.seen_range == (s.start, s.end) == (dt.date(2025, 3, 3), dt.date(2025, 3, 5))
    assert s.open_list()["alarm_id"].tolist()[-1] == "O-4"
    assert s.refresh() is False
    load(_open_row("O-5", "S1", "Intrusion detected", "Z5", 48 + 8, 0, "new"), "o5.csv")
    assert chosen.refresh() is True
    assert (chosen.start, chosen.end) == (fx.T2.date(), fx.T2.date())
    assert chosen.seen_range == (dt.date(2025, 3, 3), dt.date(2025, 3, 6))
    assert "O-5" not in chosen.open_list()["alarm_id"].tolist()


def test_following_new_loads_stops_with_the_tab_and_with_the_session(operator_db):
    """While the open-alarm tab is shown, a periodic callback of the page's session looks
    for new loads; leaving the tab stops it, and so does the end of the session without
    the page doing anything: the template's ``server_doc`` (as ``opeval serve`` serves
    it) registers Panel's session hook, which stops every periodic callback of the
    session's document. The hooks are run here by what runs them when Bokeh's server
    destroys a session (its DocumentLifecycleHandler, which it adds to every application),
    with a stand-in for the session context."""
    import asyncio
    import types
    from concurrent.futures import ThreadPoolExecutor

    from bokeh.application.handlers.document_lifecycle import DocumentLifecycleHandler
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    from evaluation.views.alarms_page import OPEN_TAB, AlarmsPage
    from evaluation.views.layout import page_template

    page = AlarmsPage(state=AlarmsState(operator_db))
    doc = Document()
    page_template("/alarms", page, "op.duckdb").server_doc(doc)
    with set_curdoc(doc):
        page._tabs.active = OPEN_TAB
        first = page._refresh
        assert first is not None and first.running
        page._tabs.active = 0
        assert page._refresh is None and not first.running
        page._tabs.active = OPEN_TAB
    follow = page._refresh
    assert follow is not first and follow.running
    ended = types.SimpleNamespace(id="ended", _document=doc)
    # on a thread of its own: an earlier test of this worker may have left an event
    # loop running on this one, where asyncio.run refuses to start
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, DocumentLifecycleHandler().on_session_destroyed(ended)).result()
    assert not follow.running


def test_me_is_the_signed_in_user_never_the_local_administrator(operator_db):
    """With --auth the page's principal is the signed-in user: opA's "assigned to me" is
    O-1 and O-3. Without --auth the server's local administrator is nobody's name, so the
    box is disabled and lists nothing."""
    from evaluation.auth.roles import LOCAL_ADMIN, Principal
    from evaluation.views.alarms_page import create
    from evaluation.views.queries import ReadOnlyStore

    page = create(ReadOnlyStore(operator_db, principal=Principal("opA", "alarm_operator")))
    assert page.state.user == "opA" and not page._mine.disabled
    page._mine.value = True
    assert page.state.open_list()["alarm_id"].tolist() == ["O-1", "O-3"]
    local = create(ReadOnlyStore(operator_db, principal=LOCAL_ADMIN))
    assert local.state.user == "" and local._mine.disabled
