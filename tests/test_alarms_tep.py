"""The TEP alarm logs (../shared/datasets/tep-alarms): the known truth of the dataset.

Filtering and deadbands were applied to the same simulated runs precisely to
remove nuisance alarms, so a sound analysis finds far more chattering and
repeating in ``original`` than in ``filter``, and least in ``deadband``. Each
case is one run of the plant (all start at the same time), so ``case`` is the
system and runs are kept apart. Cases 1–10 keep the test fast.
"""
from __future__ import annotations

import duckdb
import pytest

from conftest import shared_dataset
from evaluation.analyses.alarms import AlarmRules, alarm_report
from evaluation.store import db
from evaluation.store.alarm_log import ingest_alarm_log
from evaluation.store.engine import open_tables

CASES = 10
pytestmark = pytest.mark.external


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = {}
    for config in ("original", "filter", "deadband"):
        src = shared_dataset("tep-alarms", f"{config}.csv.gz")
        d = tmp_path_factory.mktemp(config)
        subset = d / "subset.csv"
        with duckdb.connect() as c:
            c.execute(f"""COPY (SELECT * FROM read_csv('{src}', all_varchar = true)
                         WHERE CAST("case" AS INTEGER) <= {CASES}) TO '{subset}' (HEADER)""")
        path = d / "tep.duckdb"
        con = db.connect(path)
        result = ingest_alarm_log(con, [subset])
        con.close()
        rep = alarm_report(open_tables(path).alarms, rules=AlarmRules())
        out[config] = (result, rep)
    return out


def test_every_record_is_paired_or_left_open(reports):
    for config, (result, rep) in reports.items():
        f = result.files[0]
        assert f.quarantined == 0, config                   # no orphan returns in TEP
        assert f.rows_read == f.accepted
        assert rep["kpis"]["systems"] == CASES               # one system per case


def test_far_more_chattering_and_repeats_in_original_than_filter_least_in_deadband(reports):
    k = {c: rep["kpis"] for c, (_, rep) in reports.items()}
    o, f, d = k["original"], k["filter"], k["deadband"]
    # chattering: 3 raises of one alarm within 60 s
    assert o["chatter_raises"] > 10 * max(f["chatter_raises"], 1)
    assert f["chatter_raises"] >= d["chatter_raises"]
    assert o["chattering_alarms"] > f["chattering_alarms"] >= d["chattering_alarms"]
    # repeats: the same tag and condition raised again within 10 minutes
    assert o["repeat_alarms"] > 5 * f["repeat_alarms"] > 5 * 10 * d["repeat_alarms"]
    assert o["repeat_share"] > f["repeat_share"] > d["repeat_share"]
    # and the load follows: more alarms per 10 minutes and more floods without management
    assert o["avg_per_10min"] > f["avg_per_10min"] > d["avg_per_10min"]
    assert o["floods"] > f["floods"]


def test_chatter_index_orders_the_configurations(reports):
    # psi pooled over every run (Kondaveeti et al.): mean of 1/run length in seconds
    k = {c: rep["kpis"] for c, (_, rep) in reports.items()}
    assert k["original"]["chatter_index"] > 1.5 * k["filter"]["chatter_index"]
    assert k["filter"]["chatter_index"] > 10 * k["deadband"]["chatter_index"]
