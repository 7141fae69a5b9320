"""``opeval alarms`` end to end: files loaded through ``opeval ingest``, then the report."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from alarm_fixtures import at, raises
from conftest import opeval_subprocess
from evaluation.store.schema import TABLES
from test_alarms_model import planted


def write_alarms(path: Path, rows: list[dict]) -> Path:
    df = pd.DataFrame([{c: r.get(c) for c in TABLES["alarms"].column_names} for r in rows])
    df.to_csv(path, index=False)
    return path


def hand_rows() -> list[dict]:
    # S1: A chatters (0, 30, 60 s); B: 11 alarms in the first 10 minutes (a flood);
    # S2: C once, closed as a false alarm after being handled by ann.
    return (raises("A", [0, 30, 60]) + raises("B", [i * 10 for i in range(11)], resource="R9")
            + [dict(alarm_id="c1", system_id="S2", definition="C", resource_id="cam1",
                    priority=2, raised_at=at(100), handled_at=at(130), closed_at=at(160),
                    status="closed", close_reason="false_alarm", assigned_to="ann")])


@pytest.fixture
def loaded(run_cli, tmp_path):
    code, out, err = run_cli("ingest", "alarms", write_alarms(tmp_path / "a.csv", hand_rows()))
    assert code == 0, err
    return run_cli


def test_json_report_keys_and_figures(loaded):
    code, out, err = loaded("alarms", "--format", "json")
    assert code == 0, err
    r = json.loads(out)
    assert {"kpis", "definitions", "floods", "stale", "bad_actors"} <= set(r)
    k = r["kpis"]
    # 3 + 11 + 1 alarms; as_of defaults to the end of the last day with data (c1 closed at
    # 160 s on that day): its last microsecond, the period ending at the next midnight
    assert k["alarms"] == 15 and k["as_of"] == f"{at(160).date()}T23:59:59.999999"
    assert r["period"]["last_day"] == r["period"]["data"]["last_day"] == str(at(160).date())
    assert r["warnings"] == []
    assert k["chattering_alarms"] == 2 and k["floods"] == 1
    assert k["false_alarm_rate"] == 1.0 and k["closed"] == 1
    assert r["operators"][0]["assigned_to"] == "ann" and r["operators"][0]["median_handle_s"] == 30
    defs = {(d["definition"], d["resource_id"]): d for d in r["definitions"]}
    assert defs[("A", "R1")]["chattering"] is True and defs[("A", "R1")]["repeat_alarms"] == 2
    assert defs[("C", "cam1")]["false_alarm_rate"] == 1.0


def test_filters_system_since_as_of(loaded):
    code, out, _ = loaded("alarms", "--format", "json", "--system", "S2")
    assert json.loads(out)["kpis"]["alarms"] == 1
    # raised in [00:00:30, 00:01:00): the as-of instant ends the period, as in every
    # command (evaluation.period): A at 30; B at 30, 40, 50 -> 4
    code, out, _ = loaded("alarms", "--format", "json", "--since", at(30).isoformat(),
                          "--as-of", at(60).isoformat())
    assert code == 0 and json.loads(out)["kpis"]["alarms"] == 4
    # a bare date as --as-of means the end of that day: everything
    code, out, _ = loaded("alarms", "--format", "json", "--as-of", at(0).date().isoformat())
    assert json.loads(out)["kpis"]["alarms"] == 15


def test_text_report_and_history(loaded):
    code, out, err = loaded("alarms")
    assert code == 0, err
    assert "Load per operator position (ISA-18.2 / EEMUA 191)" in out
    assert "chattering alarms    2" in out and "Tuning advice" in out
    code, out, err = loaded("alarms", "--history", "A")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "history of A: 3 raise(s)" and "CHATTER" in lines[3]
    code, out, _ = loaded("alarms", "--history", "A", "--format", "json")
    assert [h["gap_s"] for h in json.loads(out)["history"]] == [None, 30.0, 30.0]


def test_bad_arguments_fail_with_one_line(loaded):
    code, out, err = loaded("alarms", "--as-of", "tomorrow")
    assert code == 1 and err.strip() == "opeval: error: not an ISO 8601 date or time: 'tomorrow'"
    code, out, err = loaded("alarms", "--history", "NOPE")
    assert code == 1 and "no alarm of definition 'NOPE'" in err
    code, out, err = loaded("alarms", "--since", "2030-01-01", "--as-of", "2020-01-01")
    assert code == 1 and "--since is not before --as-of" in err


def test_fit_model_saves_and_model_scores(run_cli, tmp_path):
    code, _, err = run_cli("ingest", "alarms", write_alarms(tmp_path / "p.csv", planted()))
    assert code == 0, err
    models = tmp_path / "models"
    code, out, err = run_cli("alarms", "--format", "json", "--fit-model", "--model-dir", models)
    assert code == 0, err
    r = json.loads(out)
    m = r["model"]
    assert Path(m["path"]).is_file() and Path(m["path"]).parent == models
    assert m["evaluation"]["model"]["roc_auc"] >= m["evaluation"]["baseline"]["roc_auc"]
    assert len(r["open_alarm_scores"]) == 16
    code, out, err = run_cli("alarms", "--model", m["path"])
    assert code == 0, err
    assert "open alarms scored: 16" in out and "ROC-AUC" in out
    code, out, err = run_cli("alarms", "--model", tmp_path / "missing.joblib")
    assert code == 1 and "no such model file" in err


def test_process_log_end_to_end_through_a_real_process(db_path, tmp_path):
    log = tmp_path / "log.csv"
    base = dt.datetime(2024, 5, 1)
    lines = ["case,timestamp,tag,type,description"]
    for i in range(4):  # FIC1 H raised every 20 s, back to normal 5 s later: chatters
        lines.append(f"7,{base + dt.timedelta(seconds=20 * i)},FIC1,H,FLOW HIGH")
        lines.append(f"7,{base + dt.timedelta(seconds=20 * i + 5)},FIC1,H NR,FLOW HIGH RECOVERED")
    log.write_text("\n".join(lines) + "\n")
    p = opeval_subprocess("--db", db_path, "ingest", "alarm_log", log)
    assert p.returncode == 0, p.stderr
    p = opeval_subprocess("--db", db_path, "alarms", "--format", "json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    # raises at 0, 20, 40, 60: the 3rd and 4th close a 3-in-60 s; every run is 20 s
    d = r["definitions"][0]
    assert (d["definition"], d["resource_id"], d["alarms"]) == ("FIC1 H", "FIC1", 4)
    assert d["chatter_raises"] == 2 and d["chatter_index"] == pytest.approx(1 / 20)
    assert d["mean_clear_s"] == 5 and r["kpis"]["standing"] == 0


def test_observed_until_declares_where_every_log_ran(loaded):
    """Issue #13 item 6 through the CLI. Without a declaration S1 is observed
    from 00:00:00 to its last record, 00:01:40 (B's last raise): 1 interval, so
    14 alarms per 10 min; S2 from 00:01:40 to 00:02:40: 1 interval. Declaring
    that every log ran until 00:59:59 (a bare date means its end, so a time is
    given; the analysis then runs as of it) charges each for 6 intervals: S1 14 / 6.
    The new keys are there."""
    code, out, err = loaded("alarms", "--format", "json")
    r = json.loads(out)
    rates = {x["system_id"]: x for x in r["rates"]}
    assert rates["S1"]["intervals"] == 1 and rates["S1"]["avg_per_10min"] == 14
    assert {"stale_episodes", "stale_daily"} <= set(r)
    assert {"rate_grade", "busy_hour_share", "fleeting_alarms", "stale_daily_max",
            "expired_too_early", "closed_without_reason", "priority_distribution"} <= set(r["kpis"])
    code, out, err = loaded("alarms", "--format", "json", "--observed-until", at(3599).isoformat())
    assert code == 0, err
    r = json.loads(out)
    rates = {x["system_id"]: x for x in r["rates"]}
    assert rates["S1"]["intervals"] == 6 and rates["S1"]["avg_per_10min"] == pytest.approx(14 / 6)
    assert r["parameters"]["observed_until"] == at(3599).isoformat()
    code, out, err = loaded("alarms", "--since", at(120).isoformat(), "--observed-until",
                            at(60).isoformat())
    assert code != 0 and "--observed-until is before --since" in err


def test_json_has_the_rationalisation_keys_for_all_systems_and_one(loaded):
    """Issue 17's keys, for every system and with ``--system``: the hour × weekday
    load counts the 15 alarms (1 in S2), the standing series covers the systems
    of the scope; no avalanche (at most 8 alarms in a minute: A at 0 and 30 s, B
    at 0…50 s), no pair together 5 times but 2 × 1 ordered pairs could be
    tried in S1 (A and B on R1 and R9) — S2's one alarm adds none."""
    keys = {"avalanches", "consequences", "sequences", "standing_series", "nuisance_scores",
            "load_pattern"}
    for extra, alarms, systems, tried in (((), 15, {"S1", "S2"}, 2), (("--system", "S2"), 1,
                                                                      {"S2"}, 0)):
        code, out, err = loaded("alarms", "--format", "json", *extra)
        assert code == 0, err
        r = json.loads(out)
        assert keys <= set(r)
        assert sum(p["alarms"] for p in r["load_pattern"]) == alarms
        assert {s["system_id"] for s in r["standing_series"]["series"]} == systems
        assert r["avalanches"]["episodes"] == [] and r["kpis"]["avalanches"] == 0
        assert r["consequences"]["pairs_tried"] == tried
        assert r["consequences"]["suppression"] == []
