"""Issue #13 item 13: every threshold in one TOML file (:mod:`evaluation.config`).

``opeval.toml`` beside the database (or ``--config FILE``) holds one table per analysis
— ``[evaluation]``, ``[alarms]``, ``[outages]``, ``[blacklist]`` — whose keys are the
fields of :class:`EvaluationConfig`, :class:`AlarmRules`, :class:`OutageConfig`,
:class:`BlacklistConfig`. The classes check their own values; errors are one line naming
the file, the table, the key and what is wrong; unknown keys are errors; options on the
command line override the file; the pages read the same file; labels read their numbers
from the rules in force.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alarm_fixtures import raises
from evaluation import config
from evaluation.alerts import AlertRules
from evaluation.analyses.alarms.rules import BENCHMARKS, PRIORITIES, AlarmRules
from evaluation.analyses.blacklist import BlacklistConfig
from evaluation.analyses.efficiency.config import EvaluationConfig
from evaluation.analyses.outages.correlation import OutageConfig
from evaluation.errors import OpevalError
from test_alarms_cli import write_alarms

ROOT = Path(__file__).resolve().parents[1]
CLASSES = (EvaluationConfig, AlarmRules, OutageConfig, BlacklistConfig)


# ---------------------------------------------------------------- the example file

def test_example_file_is_generated_from_the_classes():
    """opeval.example.toml is `python -m evaluation.config`'s output: regenerate it with
    `.venv/bin/python -m evaluation.config > opeval.example.toml` when a class changes."""
    assert (ROOT / "opeval.example.toml").read_text(encoding="utf-8") == config.example()
    assert config.parse(config.example()) == dataclasses.replace(config.Settings.defaults(),
                                                                 source="opeval.toml")


@pytest.mark.parametrize("klass", CLASSES, ids=lambda k: k.__name__)
def test_every_key_has_its_meaning_and_source(klass):
    docs = config.field_docs(klass)
    for f in dataclasses.fields(klass):
        assert "Source: " in docs.get(f.name, ""), f"{klass.__name__}.{f.name} has no source"
        if f.default is None:      # unset keys are left out of the TOML text: unset is the default
            assert klass().__getattribute__(f.name) is None
    example = config.example()
    for key in BENCHMARKS:
        assert f"\n{key} = " in example


# ---------------------------------------------------------------- round trip (property)

def _whole(lo, hi=10_000):
    return st.integers(lo, hi)


def _num(lo, hi, **kw):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, **kw)


def _priorities():
    return st.lists(st.sampled_from(PRIORITIES), unique=True, max_size=3)


@st.composite
def alarm_rules(draw):
    high = draw(_priorities())
    medium = draw(st.lists(st.sampled_from([p for p in PRIORITIES if p not in high]),
                           unique=True, max_size=2))
    return AlarmRules(
        flood_threshold=draw(_whole(1)), interval_s=draw(st.sampled_from([60, 300, 600, 900, 3600])),
        busy_hour_threshold=draw(_whole(1)), chatter_raises=draw(_whole(2, 20)),
        chatter_window_s=draw(_num(0.001, 1e5)), chatter_index_threshold=draw(_num(0, 1)),
        fleeting_s=draw(_num(0, 1e5)), repeat_window_s=draw(_num(0.001, 1e6)),
        stale_after_h=draw(_num(0.001, 1e4)), bad_actor_top_n=draw(_whole(1, 100)),
        pareto_share=draw(_num(0, 1, exclude_min=True)), escalate_min_s=draw(_num(0, 1e4)),
        expire_min_s=draw(_num(0, 1e4)), expire_default_h=draw(_num(0.001, 1e4)),
        high_priorities=tuple(high), medium_priorities=tuple(medium),
        tuning_min_false=draw(_whole(1, 100)), schedule_cover=draw(_num(0, 1, exclude_min=True)),
        schedule_max_hours=draw(_whole(1, 24)), on_delay_fleeting_share=draw(_num(0, 1)),
        tuning_min_closed=draw(_whole(1, 100)), lower_priority_false_share=draw(_num(0, 1)),
        raise_priority_false_share=draw(_num(0, 1)), raise_priority_left_share=draw(_num(0, 1)),
        shelve_repeat_share=draw(_num(0, 1)), shelve_false_share=draw(_num(0, 1)),
        avalanche_window_s=draw(_whole(1, 3600)), avalanche_min_alarms=draw(_whole(1)),
        avalanche_top_followers=draw(_whole(1, 100)), follow_window_s=draw(_num(0.001, 1e5)),
        consequence_min_together=draw(_whole(1)),
        consequence_alpha=draw(_num(0, 1, exclude_min=True, exclude_max=True)),
        consequence_min_confidence=draw(_num(0, 1)), consequence_min_lift=draw(_num(0, 1e3)),
        sequence_top_n=draw(_whole(1, 100)), standing_series_max_steps=draw(_whole(1)),
        nuisance_weights=tuple(draw(st.lists(_num(0, 10), min_size=4, max_size=4)
                                    .filter(lambda w: sum(w) > 0))),
        nuisance_top_n=draw(_whole(1, 100)),
        benchmarks=draw(st.dictionaries(st.sampled_from(list(BENCHMARKS)), _num(0, 1e6))))


@st.composite
def evaluation_configs(draw):
    return EvaluationConfig(
        window_days=draw(_whole(1)), response_h=draw(_num(0.01, 100)),
        arrival_h=draw(_num(0.01, 100)), repair_h=draw(_num(0.01, 1000)),
        sla_target=draw(_num(0, 1)), max_cycle_months=draw(_whole(1, 6)),
        max_cycle_days=draw(_whole(1, 400)),
        cycle_kinds=tuple(draw(st.lists(st.sampled_from(["periodic", "per_call", "resident"]),
                                        min_size=1, max_size=3, unique=True))),
        service_life_years=draw(st.dictionaries(
            st.text("abcdefghijklmnopqrstuvwxyz_ 0é", min_size=1, max_size=12)
            .filter(str.strip), _whole(1, 50), max_size=5)),
        validity_days=draw(st.none() | _whole(1)), renewal_share=draw(_num(0, 1)),
        unhandled_after_h=draw(_num(0.5, 500)), evidence_ids=draw(_whole(1, 50)))


@st.composite
def outage_configs(draw):
    return OutageConfig(tolerance_s=draw(_num(0, 1e5)), m1_delay_large_s=draw(_num(0, 1e6)),
                        bucket_s=draw(_whole(1, 10**6)))


@st.composite
def blacklist_configs(draw):
    return BlacklistConfig(
        min_covered=draw(_whole(1)), funnel_level=draw(_num(0, 0.999999)),
        min_posterior=draw(_num(0, 0.99)), recent_days=draw(_whole(1)),
        trend_alpha=draw(_num(0.001, 0.999)), min_trend_covered=draw(_whole(0)),
        worsening_boost=draw(_num(1, 10)), exclude_fragile=draw(st.booleans()),
        rate_ratio_level=draw(_num(0.001, 0.999)), max_evidence=draw(st.none() | _whole(1)))


@st.composite
def alert_rules(draw):
    return AlertRules(
        expiry_warning_days=draw(_whole(1, 400)), alarm_lookback_days=draw(_whole(1, 400)),
        network_lookback_days=draw(_whole(1, 400)), do_timestamp_quality_min=draw(_num(0, 1)),
        do_min_interventions=draw(_whole(1, 1000)), m5_silence_days=draw(_whole(1, 400)),
        m5_min_interventions=draw(_whole(1, 1000)), quarantine_share_max=draw(_num(0, 1)),
        load_lookback_days=draw(_whole(1, 400)))


@settings(max_examples=150, deadline=None)
@given(evaluation_configs(), alarm_rules(), outage_configs(), blacklist_configs(), alert_rules())
def test_any_valid_config_round_trips_through_toml(ev, al, out, bl, alerts):
    """Every valid setting written as TOML reads back to equal config objects (floats
    exactly, lists as tuples, tables whole, unset keys unset)."""
    s = config.Settings(ev, al, out, bl, alerts, source="x.toml")
    assert config.parse(config.dumps(s), "x.toml") == s


# ---------------------------------------------------------------- errors: one line each

@pytest.mark.parametrize("text, message", [
    ("[alarms]\nflood_threshold = 0\n",
     "f.toml: [alarms] flood_threshold must be a whole number of at least 1, not 0"),
    ("[alarms]\nflood_threshold = 10.5\n",
     "f.toml: [alarms] flood_threshold must be a whole number of at least 1, not 10.5"),
    ("[alarms]\ninterval_s = 700\n", "f.toml: [alarms] interval_s must divide an hour (3600 s), not 700"),
    ("[alarms]\nflod_threshold = 3\n", "f.toml: [alarms] unknown key 'flod_threshold'; expected one of "),
    ("[alarms.benchmarks]\nfleeting_mx = 1\n", "f.toml: [alarms] benchmarks has no key 'fleeting_mx'"),
    ("[alarms]\nhigh_priorities = [1, 9]\n",
     "f.toml: [alarms] high_priorities must be a list of priorities from 1 to 5, not [1, 9]"),
    ("[alarms]\nconsequence_alpha = 1\n",
     "f.toml: [alarms] consequence_alpha must be a number above 0 and below 1, not 1"),
    ("[alarms]\nfollow_window_s = 0\n",
     "f.toml: [alarms] follow_window_s must be a number of at least 0.001, not 0"),
    ("[alarms]\nnuisance_weights = [0, 0, 0, 0]\n",
     "f.toml: [alarms] nuisance_weights must be 4 weights (chatter, fleeting, repeat, standing), "
     "not all 0, not [0, 0, 0, 0]"),
    ("[alarms]\nnuisance_weights = [1, 1]\n",
     "f.toml: [alarms] nuisance_weights must be 4 weights (chatter, fleeting, repeat, standing), "
     "not all 0, not [1, 1]"),
    ("[alarms]\navalanche_min_alarms = 0\n",
     "f.toml: [alarms] avalanche_min_alarms must be a whole number of at least 1, not 0"),
    ("[evaluation]\nmax_cycle_months = 7\n",
     "f.toml: [evaluation] max_cycle_months must be at most 6 (5.1.2: half a year), not 7"),
    ("[evaluation]\nresponse_h = \"half an hour\"\n",
     "f.toml: [evaluation] response_h must be a number above 0, not 'half an hour'"),
    ("[evaluation.service_life_years]\nccd_camera = 0\n",
     "f.toml: [evaluation] service_life_years.ccd_camera must be a whole number of years of at least 1, not 0"),
    ("[evaluation]\ncycle_kinds = [\"weekly\"]\n",
     "f.toml: [evaluation] cycle_kinds must be a non-empty list of maintenance kinds"),
    ("[outages]\ntolerance_s = -1\n", "f.toml: [outages] tolerance_s must be a number of at least 0, not -1"),
    ("[blacklist]\nmin_covered = 0\n",
     "f.toml: [blacklist] min_covered must be a whole number of at least 1, not 0"),
    ("[blacklist]\nfunnel_level = 1.0\n",
     "f.toml: [blacklist] funnel_level must be a number of at least 0 and below 1, not 1.0"),
    ("[blacklist]\nexclude_fragile = \"no\"\n",
     "f.toml: [blacklist] exclude_fragile must be true or false, not 'no'"),
    ("[blacklists]\nmin_covered = 3\n",
     "f.toml: unknown table [blacklists]; expected [evaluation], [alarms], [outages], [blacklist]"),
    ("alarms = 3\n", "f.toml: alarms must be a table ([alarms]), not 3"),
    ("[alarms\n", "f.toml: not valid TOML: "),
])
def test_bad_settings_are_one_line_naming_file_table_and_key(text, message):
    with pytest.raises(OpevalError) as exc:
        config.parse(text, "f.toml")
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)


def test_the_blacklist_checks_its_own_thresholds():
    """The checks that commands/blacklist.py made on its options are the class's own now,
    so a file, the page and the CLI are held to the same rules."""
    for bad in ({"min_covered": 0}, {"funnel_level": 1.0}, {"min_posterior": -0.1},
                {"recent_days": 0}, {"max_evidence": 0}, {"trend_alpha": 0.0}):
        with pytest.raises(ValueError):
            BlacklistConfig(**bad)


# ---------------------------------------------------------------- the CLI

@pytest.fixture
def alarms_db(run_cli, tmp_path, db_path):
    """S1: 4 raises of A at 0, 30, 60, 90 s (one 10-minute period)."""
    code, _o, err = run_cli("ingest", "alarms", write_alarms(tmp_path / "a.csv",
                                                             raises("A", [0, 30, 60, 90])))
    assert code == 0, err
    return db_path


def test_cli_reads_the_file_beside_the_database(alarms_db, run_cli, tmp_path):
    """Default rules: 4 alarms in 10 minutes is no flood (more than 10). opeval.toml beside
    the database sets flood_threshold = 3: one flood, and the text says "> 3". --config
    names another file (threshold 5: none); --repeat-window overrides the file (repeats:
    raised again within 600 s by default → 3; within 20 s → 0)."""
    _code, out, _ = run_cli("alarms", "--format", "json")
    assert json.loads(out)["kpis"]["floods"] == 0
    (alarms_db.parent / "opeval.toml").write_text("[alarms]\nflood_threshold = 3\n")
    _code, out, _ = run_cli("alarms", "--format", "json")
    r = json.loads(out)
    assert r["kpis"]["floods"] == 1 and r["parameters"]["flood_threshold"] == 3
    _code, out, _ = run_cli("alarms")
    assert "10 min periods > 3 " in out
    other = tmp_path / "other.toml"
    other.write_text("[alarms]\nflood_threshold = 5\nrepeat_window_s = 20\n")
    _code, out, _ = run_cli("alarms", "--format", "json", "--config", other)
    r = json.loads(out)
    assert r["kpis"]["floods"] == 0 and r["kpis"]["repeat_alarms"] == 0
    _code, out, _ = run_cli("alarms", "--format", "json", "--config", other, "--repeat-window", "600")
    assert json.loads(out)["kpis"]["repeat_alarms"] == 3


def test_cli_settings_errors_are_one_line(alarms_db, run_cli, tmp_path):
    (alarms_db.parent / "opeval.toml").write_text("[alarms]\nflood_threshold = 0\n")
    code, _out, err = run_cli("alarms")
    assert code == 1 and err == (f"opeval: error: {alarms_db.parent / 'opeval.toml'}: [alarms] "
                                 "flood_threshold must be a whole number of at least 1, not 0\n")
    code, _out, err = run_cli("alarms", "--config", tmp_path / "missing.toml")
    assert code == 1 and "missing.toml: cannot read the settings file" in err
    (alarms_db.parent / "opeval.toml").unlink()
    code, _out, err = run_cli("alarms", "--repeat-window", "0")
    assert code == 1 and err.strip() == ("opeval: error: --repeat-window: repeat_window_s must be "
                                         "a number above 0, not 0.0")


def test_service_life_table_from_the_file(run_cli, db_path, tmp_path):
    """5.1.2 table in EvaluationConfig: a camera installed 2024-01-01 is within its 6 years
    on 2025-06-30; with ccd_camera = 1 in [evaluation.service_life_years] it is past them
    (2025-01-01 ≤ 2025-06-30), and the text report's window follows window_days = 30."""
    from evaluation.store import db
    con = db.connect(db_path)
    con.execute("INSERT INTO systems (system_id, name, accepted_on) VALUES ('S', 'Shop', DATE '2024-01-01')")
    con.execute("INSERT INTO devices (device_id, system_id, subsystem, device_type, zone, installed_on) "
                "VALUES ('C1', 'S', 'video_surveillance', 'ccd_camera', 'Z', DATE '2024-01-01')")
    con.execute("INSERT INTO maintenance (maintenance_id, system_id, kind, started_at) "
                "VALUES ('M1', 'S', 'periodic', TIMESTAMP '2025-06-30 10:00')")
    con.close()
    _code, out, _err = run_cli("evaluate", "--format", "json")
    assert json.loads(out)["systems"][0]["devices_past_service_life"] == []
    (db_path.parent / "opeval.toml").write_text(
        "[evaluation]\nwindow_days = 30\n\n[evaluation.service_life_years]\nccd_camera = 1\n")
    _code, out, _err = run_cli("evaluate", "--format", "json")
    d = json.loads(out)
    assert d["systems"][0]["devices_past_service_life"] == ["C1"]
    assert d["window"]["days"] == 30 and d["config"]["service_life_years"] == {"ccd_camera": 1}
    _code, out, _err = run_cli("evaluate", "--format", "json", "--window", "60")
    assert json.loads(out)["window"]["days"] == 60


# ---------------------------------------------------------------- the pages read the same file

def test_pages_read_the_file_beside_the_database(alarms_db):
    """The /alarms page's rules and labels follow opeval.toml, and a changed file is seen
    like a new load (the snapshot stamp includes it)."""
    from evaluation.views.alarms_page import _kpi_html, load_plot
    from evaluation.views.alarms_state import AlarmsState
    from evaluation.views.evaluation_state import EvaluationState
    from evaluation.views.outages_state import OutagesState
    from evaluation.views.queries import ReadOnlyStore

    state = AlarmsState(alarms_db)
    assert state.views().kpis["floods"] == 0 and state.rules.flood_threshold == 10
    (alarms_db.parent / "opeval.toml").write_text(
        "[alarms]\nflood_threshold = 3\nfleeting_s = 4\n\n[blacklist]\nmin_covered = 7\n\n"
        "[evaluation]\nwindow_days = 90\n")
    state = AlarmsState(alarms_db)
    v = state.views()
    assert v.kpis["floods"] == 1 and state.rules.flood_threshold == 3
    cards = _kpi_html(v.kpis, state.filters(), state.rules)
    assert "flood above 3" in cards and "back to normal within 4 s" in cards
    assert "flood above 10" not in cards
    title = load_plot(v.series, v.floods, v.bucket, state.rules).opts.get().kwargs["title"]
    assert "more than 3 in 10 min" in title
    assert OutagesState(alarms_db).min_covered == 7
    assert EvaluationState(ReadOnlyStore(alarms_db)).window_days == 90


def test_text_reports_read_their_numbers_from_the_rules():
    """No literal threshold in a text report: the outages page of text says the tolerance
    and the late-M1 threshold in force (10 and 60 minutes here, not 5 and 30)."""
    from evaluation.analyses.outages import analyse
    from evaluation.commands.outages import render_text
    from outages_fixtures import store
    text = render_text(analyse(store(), config=OutageConfig(tolerance_s=600,
                                                            m1_delay_large_s=3600)).to_dict())
    assert "cuts ≤ 10 min before HD / after HF" in text and "late above 60 min" in text
    assert "5 min" not in text
