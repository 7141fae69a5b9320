"""Issue #13 item 12: one meaning of "as of" everywhere (:mod:`evaluation.period`).

The rule (README, "Periods"): a period is ``[start, end)``; ``as of`` a date ends it at
the end of that local day in the database's time zone, a time at that instant; ``since``
a date starts it at that day's local midnight; without ``as of`` it ends with the last
local day with data. A period reaching beyond the data is said (a warning), and time
without data is not counted. Every answer below is worked out by hand in the docstring.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation import localtime, period
from evaluation.analyses.efficiency import evaluate
from evaluation.analyses.outages import analyse
from evaluation.errors import OpevalError
from evaluation.store import db
from evaluation.store.engine import open_tables
from outages_fixtures import cut, interv, pm, report, store

PARIS = "Europe/Paris"
ZONES = ("UTC", PARIS, "America/New_York", "Asia/Shanghai", "Australia/Lord_Howe", "Asia/Kolkata")


# ---------------------------------------------------------------- the rule itself

def test_a_date_is_a_whole_local_day():
    """2025-07-01 in Paris (summer time, UTC+2) runs from 2025-06-30 22:00 UTC to
    2025-07-01 22:00 UTC; in UTC from midnight to midnight. 30 March 2025, the day the
    clocks go forward in Paris, has 23 hours: 2025-03-29 23:00 UTC to 2025-03-30 22:00 UTC."""
    assert period.start_of(dt.date(2025, 7, 1), PARIS) == dt.datetime(2025, 6, 30, 22)
    assert period.end_of(dt.date(2025, 7, 1), PARIS) == dt.datetime(2025, 7, 1, 22)
    assert period.end_of("2025-07-01", "UTC") == dt.datetime(2025, 7, 2)
    start, end = period.asked("2025-03-30", "2025-03-30", PARIS)
    assert (start, end) == (dt.datetime(2025, 3, 29, 23), dt.datetime(2025, 3, 30, 22))
    assert end - start == dt.timedelta(hours=23)


def test_a_time_is_that_instant():
    """A time without offset is a wall time of the zone (10:30 in Paris in July = 08:30
    UTC); with an offset it keeps it; a datetime object is naive UTC, as stored."""
    assert period.end_of("2025-07-01T10:30", PARIS) == dt.datetime(2025, 7, 1, 8, 30)
    assert period.end_of("2025-07-01T10:30:00+00:00", PARIS) == dt.datetime(2025, 7, 1, 10, 30)
    assert period.end_of(dt.datetime(2025, 7, 1, 10, 30), PARIS) == dt.datetime(2025, 7, 1, 10, 30)


def test_since_must_come_before_as_of():
    with pytest.raises(OpevalError, match="--since is not before --as-of"):
        period.asked("2025-07-02", "2025-07-01", "UTC")
    with pytest.raises(OpevalError, match="not an ISO 8601 date or time: 'tomorrow'"):
        period.asked(None, "tomorrow", "UTC")


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2060, 12, 31)),
       st.sampled_from(ZONES))
def test_days_tile_time(day, zone):
    """Whatever the zone: a day ends where the next begins, lasts 23, 23.5, 24, 24.5 or 25
    hours, and its last instant is still that local day."""
    end = period.end_of(day, zone)
    assert end == period.start_of(day + dt.timedelta(days=1), zone)
    hours = (end - period.start_of(day, zone)).total_seconds() / 3600
    assert hours in (23, 23.5, 24, 24.5, 25)
    assert localtime.local_date(end - dt.timedelta(microseconds=1), zone) == day


def test_covered_part_and_warnings():
    """Data from 2025-05-28 10:00 to 2025-06-01 12:00 UTC cover the days 2025-05-28 ..
    2025-06-01, i.e. [05-28 00:00, 06-02 00:00). A period 05-27 .. 06-05 reaches one day
    before and four days after: 5 days = 120 h are observed, and each side is said."""
    data = period.Data.of([dt.datetime(2025, 6, 1, 12), None, dt.datetime(2025, 5, 28, 10)])
    c = period.Covered(dt.datetime(2025, 5, 27), dt.datetime(2025, 6, 6), "UTC", data)
    assert (c.observed_start, c.observed_end) == (dt.datetime(2025, 5, 28), dt.datetime(2025, 6, 2))
    assert c.observed_hours == 120 and c.outside
    assert c.warnings("so what") == [
        ("the period starts on 2025-05-27 but the data on 2025-05-28: the 1 day before have "
        "no record; so what"),
        ("the period ends on 2025-06-05 but the data on 2025-06-01: the 4 days after have no "
        "record; so what")]
    d = c.as_dict()
    assert (d["first_day"], d["last_day"], d["data"]) == (
        "2025-05-27", "2025-06-05", {"first_day": "2025-05-28", "last_day": "2025-06-01"})
    inside = period.Covered(dt.datetime(2025, 5, 29), dt.datetime(2025, 5, 30), "UTC", data)
    assert inside.warnings("x") == [] and inside.observed_hours == 24
    after = period.Covered(dt.datetime(2030, 1, 1), dt.datetime(2030, 1, 2), "UTC", data)
    assert after.observed_hours == 0
    assert after.warnings("x") == [("the period 2030-01-01 .. 2030-01-01 lies after the data "
                                   "(2025-05-28 .. 2025-06-01): no record covers it; x")]


# ---------------------------------------------------------------- outages: no extrapolation

def _one_pm():
    """P1: one intervention on 2025-03-03 10:00-11:00 UTC covered by an M5 of OC01; line
    supervision reports OC01's cuts there at 10:30 (in the window), 14:00 the same day and
    2025-03-04 12:00 (outside). The data cover 03-03 .. 03-04 (48 h); the window is 1 h."""
    d = dt.datetime
    return store(pms=[pm("P1")],
                 interventions=[interv("I1", "P1", d(2025, 3, 3, 10), d(2025, 3, 3, 11))],
                 outage_reports=[report("I1", n=0, at=d(2025, 3, 3, 12))],
                 outages=[cut("P1", "FI-1-1", d(2025, 3, 3, 10, 30)),
                          cut("P1", "FI-1-2", d(2025, 3, 3, 14)),
                          cut("P1", "FI-1-3", d(2025, 3, 4, 12))])


def test_outages_as_of_after_the_data_does_not_extrapolate():
    """Item 12's example (``outages --as-of 2030-01-01``). Over 03-03 .. 03-04: in-window
    rate 1 cut / 1 h; out of window 2 cuts / (48 − 1) h; ratio 1 / (2 / 47) = 23.5. As of
    2030-01-01 the years without any record used to count as out-of-window hours (ratio
    ≈ 21 000); they count nowhere now, the ratio is the same 23.5 and a warning says the
    period ends 1764 days after the data (2025-03-04 → 2030-01-01)."""
    t = _one_pm()
    base = analyse(t, since=dt.date(2025, 3, 3), as_of=dt.date(2025, 3, 4))
    far = analyse(t, since=dt.date(2025, 3, 3), as_of=dt.date(2030, 1, 1))
    for r in (base, far):
        p1 = r.pms.set_index("pm_id").loc["P1"]
        assert (p1["baseline_cuts_in_windows"], p1["baseline_cuts_out_of_windows"]) == (1, 2)
        assert p1["out_of_window_hours"] == pytest.approx(47)
        assert p1["rate_ratio"] == pytest.approx(23.5)
    assert json.loads(base.to_json())["warnings"] == []
    w = json.loads(far.to_json())["warnings"]
    assert len(w) == 1 and w[0].startswith(
        "the period ends on 2030-01-01 but the data on 2025-03-04: the 1764 days after have no record")
    assert json.loads(far.to_json())["period"]["observed"]["hours"] == 48


def test_outages_default_period_is_the_days_with_data():
    """Without --since/--as-of the period is the local days with data: 2025-03-03 00:00 to
    2025-03-05 00:00 UTC (not the first HD to one second after the last cut)."""
    p = analyse(_one_pm()).period
    assert (p.start, p.end) == (dt.datetime(2025, 3, 3), dt.datetime(2025, 3, 5))


# ---------------------------------------------------------------- evaluation

def _paris_db(path):
    """System S (accepted 2024-01-01) with camera C1 (installed 2024-01-01); a periodic
    maintenance on 2025-01-02 10:00 UTC; fault F1 at 2025-06-30 23:00 UTC = 2025-07-01 01:00
    in Paris, restored 23:30 UTC (01:30 Paris). The database's zone is Europe/Paris."""
    con = db.connect(path)
    db.set_setting(con, "timezone", PARIS)
    con.execute("INSERT INTO systems (system_id, name, accepted_on) VALUES ('S', 'Shop', DATE '2024-01-01')")
    con.execute("INSERT INTO devices (device_id, system_id, subsystem, device_type, zone, installed_on) "
                "VALUES ('C1', 'S', 'video_surveillance', 'ccd_camera', 'Z', DATE '2024-01-01')")
    con.execute("INSERT INTO maintenance (maintenance_id, system_id, kind, started_at) "
                "VALUES ('M1', 'S', 'periodic', TIMESTAMP '2025-01-02 10:00')")
    con.execute("INSERT INTO faults (fault_id, system_id, device_id, occurred_at, restored_at) VALUES "
                "('F1', 'S', 'C1', TIMESTAMP '2025-06-30 23:00', TIMESTAMP '2025-06-30 23:30')")
    con.close()
    return path


def test_evaluation_days_are_the_database_zone(tmp_path):
    """In Paris, F1 happened on 1 July. The default as-of date is that last local day
    (2025-07-01, not the UTC date 06-30), through its end 2025-07-02 00:00+02:00, and F1
    counts. As of 2025-06-30 the evaluation ends at 2025-07-01 00:00+02:00 = 06-30 22:00
    UTC: F1 (23:00 UTC) is not known yet — the old UTC midnight counted it. The 365-day
    window (from 2024-07-02) starts 184 days before the first record (M1, 2025-01-02)."""
    t = open_tables(_paris_db(tmp_path / "paris.duckdb"))
    d = evaluate(t).as_dict()
    assert d["as_of"] == "2025-07-01" and d["period"]["end"] == "2025-07-02T00:00:00+02:00"
    assert d["systems"][0]["faults"] == 1
    assert [w[:80] for w in d["warnings"]] == [
        "the period starts on 2024-07-02 but the data on 2025-01-02: the 184 days before "]
    d = evaluate(t, as_of=dt.date(2025, 6, 30)).as_dict()
    assert d["period"]["end"] == "2025-07-01T00:00:00+02:00"
    assert d["systems"][0]["faults"] == 0
    assert d["period"]["time_zone"] == PARIS


def _short_db(path):
    """UTC. System S with camera C1 in service since 2024-01-01; records: maintenance M1
    2025-05-28 10:00, fault F1 2025-06-01 00:00, restored 12:00 (12 h down)."""
    con = db.connect(path)
    con.execute("INSERT INTO systems (system_id, name, accepted_on) VALUES ('S', 'Shop', DATE '2024-01-01')")
    con.execute("INSERT INTO devices (device_id, system_id, subsystem, device_type, zone, installed_on) "
                "VALUES ('C1', 'S', 'video_surveillance', 'ccd_camera', 'Z', DATE '2024-01-01')")
    con.execute("INSERT INTO maintenance (maintenance_id, system_id, kind, started_at) "
                "VALUES ('M1', 'S', 'periodic', TIMESTAMP '2025-05-28 10:00')")
    con.execute("INSERT INTO faults (fault_id, system_id, device_id, occurred_at, restored_at) VALUES "
                "('F1', 'S', 'C1', TIMESTAMP '2025-06-01 00:00', TIMESTAMP '2025-06-01 12:00')")
    con.close()
    return path


def test_evaluation_counts_device_time_over_the_days_with_data(tmp_path, run_cli):
    """As of 2025-06-05 over 10 days, the window is 05-27 .. 06-05, [05-27, 06-06). The
    records cover 05-28 .. 06-01, [05-28, 06-02): 5 days = 120 device hours (not 240), 12
    of them down: availability 1 − 12/120 = 0.9, MTBF (120 − 12) / 1 = 108 h (the whole
    window gave 0.95 and 228 h). Both sides are said, in the JSON, on stderr, in the text
    and in the printable HTML report."""
    path = _short_db(tmp_path / "opeval.duckdb")
    code, out, err = run_cli("evaluate", "--as-of", "2025-06-05", "--window", "10",
                             "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    s = d["systems"][0]
    assert s["device_hours"] == pytest.approx(120) and s["down_hours"] == pytest.approx(12)
    assert s["availability"] == pytest.approx(0.9) and s["mtbf_h"] == pytest.approx(108)
    assert [w[:60] for w in d["warnings"]] == [
        "the period starts on 2025-05-27 but the data on 2025-05-28: ",
        "the period ends on 2025-06-05 but the data on 2025-06-01: th"]
    assert err.count("opeval: warning: ") == 2
    assert d["period"]["observed"] == {"start": "2025-05-28T00:00:00+00:00",
                                       "end": "2025-06-02T00:00:00+00:00", "hours": 120.0}
    assert path.exists()
    code, out, err = run_cli("evaluate", "--as-of", "2025-06-05", "--window", "10")
    assert "period 2025-05-27 .. 2025-06-05 (UTC" in out and "records 2025-05-28 .. 2025-06-01" in out
    # the printable report names the same period and both warnings
    html = tmp_path / "report.html"
    code, out, err = run_cli("evaluate", "--as-of", "2025-06-05", "--window", "10",
                             "--format", "html", "--out", str(html))
    assert code == 0, err
    text = html.read_text(encoding="utf-8")
    assert ("2025-05-27T00:00:00+00:00 to 2025-06-06T00:00:00+00:00 (end excluded; days of UTC)"
            in text) and "records 2025-05-28 to 2025-06-01" in text
    assert "Warning: the period starts on 2025-05-27 but the data on 2025-05-28" in text
    assert "Warning: the period ends on 2025-06-05 but the data on 2025-06-01" in text


# ---------------------------------------------------------------- alarms

ALARMS_CSV = ("alarm_id,system_id,definition,resource_id,raised_at\n"
              "A1,S1,D,R1,2024-05-06T10:00:00+02:00\n"
              "A2,S1,D,R1,2024-05-07T01:00:00+02:00\n")


def test_alarms_as_of_a_date_is_the_local_day(run_cli, tmp_path):
    """In Paris, A2 is raised on 7 May at 01:00 (6 May 23:00 UTC). As of 2024-05-06 the
    period ends at 2024-05-07 00:00+02:00: A1 only (the old UTC day took both). Without
    --as-of the period ends with the last local day with data, 7 May. As of 2024-05-20 the
    13 days after the data are said."""
    run_cli("config", "timezone", PARIS)
    (tmp_path / "a.csv").write_text(ALARMS_CSV)
    code, _out, err = run_cli("ingest", "alarms", tmp_path / "a.csv")
    assert code == 0, err
    code, out, err = run_cli("alarms", "--format", "json", "--as-of", "2024-05-06")
    r = json.loads(out)
    assert r["kpis"]["alarms"] == 1 and r["period"]["end"] == "2024-05-07T00:00:00+02:00"
    code, out, err = run_cli("alarms", "--format", "json")
    r = json.loads(out)
    assert r["kpis"]["alarms"] == 2 and r["period"]["last_day"] == "2024-05-07"
    assert r["warnings"] == [] and err == ""
    code, out, err = run_cli("alarms", "--as-of", "2024-05-20")
    assert code == 0
    assert "period 2024-05-06 .. 2024-05-20 (Europe/Paris" in out
    assert err.startswith("opeval: warning: the period ends on 2024-05-20 but the data on "
                          "2024-05-07: the 13 days after have no record")


# ---------------------------------------------------------------- pages agree with the CLI

def _net_db(path):
    """A database holding :func:`_one_pm`'s network (and a demo_as_of setting the pages
    must ignore)."""
    t = _one_pm()
    con = db.connect(path)
    for name in ("pms", "interventions", "outage_reports", "outages"):
        con.register("__t", t[name].to_pandas())
        con.execute(f'INSERT INTO "{name}" SELECT * FROM __t')
        con.unregister("__t")
    db.set_setting(con, "demo_as_of", "2025-07-01T00:00:00")
    con.close()
    return path


def test_pages_default_to_the_cli_period(tmp_path, run_cli, db_path):
    """Every page's default period is the CLI's default: the evaluation page's as-of date is
    `opeval evaluate`'s (2025-07-01 in Paris for F1) and its result the command's, the alarms page's range ends with the
    last local day with data (7 May in Paris, not the UTC 6 May), and the outages page
    ignores the demo_as_of setting and ends, as `opeval outages`, with the last day with
    data (2025-03-04)."""
    from evaluation.views.alarms_state import AlarmsState
    from evaluation.views.evaluation_state import EvaluationState
    from evaluation.views.outages_state import OutagesState
    from evaluation.views.queries import ReadOnlyStore

    _paris_db(db_path)
    _code, out, _err = run_cli("evaluate", "--format", "json")
    cli = json.loads(out)
    state = EvaluationState(ReadOnlyStore(db_path))
    assert state.default_as_of() == dt.date.fromisoformat(cli["as_of"]) == dt.date(2025, 7, 1)
    # "same figures as `opeval evaluate`": the whole result, MTBF and validity included
    page = json.loads(json.dumps(state.result().evaluation))
    assert page == cli and page["systems"][0]["faults"] == 1

    (tmp_path / "a.csv").write_text(ALARMS_CSV)
    run_cli("ingest", "alarms", tmp_path / "a.csv")
    _code, out, _err = run_cli("alarms", "--format", "json")
    alarms = AlarmsState(db_path)
    assert alarms.end == dt.date.fromisoformat(json.loads(out)["period"]["last_day"]) \
        == dt.date(2024, 5, 7)
    assert alarms.period_note()[0]["end"] == "2024-05-08T00:00:00+02:00"

    net = _net_db(tmp_path / "net.duckdb")
    _code, out, _err = run_cli("--db", net, "outages", "--format", "json")
    cli_period = json.loads(out)["period"]
    page_period, warnings = OutagesState(net).period_note()
    assert page_period["end"] == cli_period["end"] == "2025-03-05T00:00:00+00:00"
    assert page_period == cli_period and warnings == []


def test_pages_warn_as_the_cli_when_the_range_lies_outside_the_data(tmp_path, run_cli, db_path):
    """Item 12: a page warns, with the CLI's words, when its range lies outside the data.

    Alarms (Paris, records on 6 and 7 May): the range 6 .. 20 May ends 13 days after the
    data, as ``opeval alarms --as-of 2024-05-20`` says on stderr and in ``warnings``; the
    page's note prints the period and that warning. Outages (records 2025-03-03 ..
    03-04): as of 2030-01-01 the page names the CLI's period (observed 48 h) and its
    warning (1764 days after the data), and counts the 47 out-of-window hours of the days
    with data, not the years after them."""
    from evaluation.views.alarms_state import AlarmsState
    from evaluation.views.outages_state import OutagesState
    from evaluation.views.widgets import period_note

    run_cli("config", "timezone", PARIS)
    (tmp_path / "a.csv").write_text(ALARMS_CSV)
    run_cli("ingest", "alarms", tmp_path / "a.csv")
    _code, out, _err = run_cli("alarms", "--format", "json", "--as-of", "2024-05-20")
    cli = json.loads(out)
    page, warnings = AlarmsState(db_path, end=dt.date(2024, 5, 20)).period_note()
    assert warnings == cli["warnings"] and len(warnings) == 1
    assert warnings[0].startswith("the period ends on 2024-05-20 but the data on 2024-05-07: "
                                  "the 13 days after have no record")
    assert page["end"] == cli["period"]["end"] == "2024-05-21T00:00:00+02:00"
    note = period_note(page, warnings)
    assert "Period 2024-05-06 .. 2024-05-20 (Europe/Paris" in note
    assert "Warning: the period ends on 2024-05-20" in note

    net = _net_db(tmp_path / "net.duckdb")
    _code, out, _err = run_cli("--db", net, "outages", "--format", "json", "--as-of", "2030-01-01")
    cli = json.loads(out)
    state = OutagesState(net, as_of=dt.date(2030, 1, 1))
    page, warnings = state.period_note()
    assert page == cli["period"] and page["observed"]["hours"] == 48
    assert warnings == cli["warnings"] and "the 1764 days after have no record" in warnings[0]
    p1 = state.analysis.corr.per_pm().set_index("pm_id").loc["P1"]
    assert p1["out_of_window_hours"] == pytest.approx(47)
