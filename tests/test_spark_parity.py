"""Engine parity: the same Ibis expressions and analyses on DuckDB and on local Spark.

Each test computes one result on the DuckDB store, on DuckDB over the lake and
on Spark over the same lake, and compares them with ``assert_same`` (rows in any
order, floats to 1e-9 relative). One SparkSession serves the whole run (the
``spark`` fixture in conftest.py).
"""
from __future__ import annotations

import datetime as dt
import json

import ibis
import pytest

from conftest import opeval_subprocess
from evaluation.store import db, lake
from evaluation.store.engine import open_engine
from evaluation.store.schema import LOAD_ORDER, TABLES
from spark_support import assert_frames_same, assert_same, missing
from test_lake import make_store, types

pytestmark = pytest.mark.slow

AS_OF = dt.date(2025, 7, 1)  # the demo data's documented as-of date


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    """The hand-made store of test_lake and its lake (id partitions forced on)."""
    d = tmp_path_factory.mktemp("hand")
    store = make_store(d / "store.duckdb")
    con = db.connect(store, read_only=True)
    lake.export_lake(con, d / "lake", min_rows_per_partition=1)
    con.close()
    return store, d / "lake"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The small demo database (~25k rows, every table) and its lake."""
    from evaluation.demo import build
    d = tmp_path_factory.mktemp("demo")
    build(d / "demo.duckdb", scale="small", out=d / "files")
    con = db.connect(d / "demo.duckdb", read_only=True)
    lake.export_lake(con, d / "lake", min_rows_per_partition=20)
    con.close()
    return d / "demo.duckdb", d / "lake"


def engines(store, lake_dir, spark):
    """name -> Tables: the store, DuckDB over the lake, Spark over the lake."""
    return {"duckdb": open_engine("duckdb", db=store),
            "duckdb-lake": open_engine("duckdb", lake=lake_dir),
            "spark-lake": open_engine("spark", lake=lake_dir, session=spark)}


def same_everywhere(results: dict, **tol) -> None:
    ref_name, ref = next(iter(results.items()))
    for name, got in results.items():
        assert_same(ref, got, path=f"{name} vs {ref_name}", **tol)


def test_spark_reads_every_table_with_contract_types_and_values(hand, spark):
    store, lake_dir = hand
    e = engines(store, lake_dir, spark)
    for name in LOAD_ORDER:
        sp = e["spark-lake"][name]
        assert sp.columns == TABLES[name].column_names, name
        # Spark timestamps carry no precision in Ibis; DuckDB's say 6: compare the kind.
        want = {c: str(t).replace("(6)", "") for c, t in types(e["duckdb"][name]).items()}
        assert {c: str(t).replace("(6)", "") for c, t in types(sp).items()} == want, name
        assert_frames_same(e["duckdb"][name].execute(), sp.execute(), what=name)
    # The month boundary to the microsecond and the id with leading zeros.
    f = e["spark-lake"].faults
    assert f.filter(f.occurred_at < ibis.timestamp("2024-02-01 00:00:00")).fault_id.to_pyarrow() \
        .to_pylist() == ["F1"]
    o = e["spark-lake"].outages
    assert o.filter(o.pm_id == "0042").pto.to_pyarrow().to_pylist() == ["PTO9"]


def simple_expressions(t) -> dict:
    """A group-by, a time bucket, a window and a join on every table."""
    out = {}
    for name in LOAD_ORDER:
        tb = t[name]
        key = TABLES[name].key[0]
        out[f"{name}.count"] = tb.count().execute()
        out[f"{name}.distinct_key"] = tb[key].nunique().execute()
        ts = [c.name for c in TABLES[name].columns if c.type == "TIMESTAMP"]
        if ts:
            c = tb[ts[0]]
            out[f"{name}.by_month"] = (tb.mutate(m=c.truncate("M")).group_by("m")
                                       .agg(n=ibis._.count(), last=c.max(),
                                            span_h=(c.max().epoch_seconds() - c.min().epoch_seconds()) / 3600)
                                       .execute())
        w = ibis.window(group_by=TABLES[name].column_names[1], order_by=[key])
        out[f"{name}.window"] = tb.select(key, rn=ibis.row_number().over(w)).execute()
    f, d, s = t["faults"], t["devices"], t["systems"]
    j = (f.join(d.select("device_id", dev_sub=d.subsystem), "device_id")
         .join(s.select("system_id", "risk_level"), "system_id")
         .mutate(h=(ibis._.restored_at.epoch_seconds() - ibis._.occurred_at.epoch_seconds()) / 3600))
    out["join"] = (j.group_by(["system_id", "risk_level", "dev_sub"])
                   .agg(n=ibis._.count(), mttr_h=ibis._.h.mean(), open=ibis._.restored_at.isnull().sum())
                   .execute())
    return out


def test_simple_expressions_agree_on_every_table(demo, spark):
    store, lake_dir = demo
    same_everywhere({n: simple_expressions(t) for n, t in engines(store, lake_dir, spark).items()})


# ------------------------------------------------------------------ analyses
# Each analysis runs once per engine on the small demo (every planted pattern:
# floods, chattering, power cuts, repeat faults...) and must give the same
# result: the JSON the CLI prints, compared key by key, lists of rows in order
# when the analysis orders them, floats to 1e-9 relative.

ANALYSIS_AS_OF = dt.datetime(2025, 7, 1)


def test_evaluation_agrees(demo, spark):
    from evaluation.analyses.efficiency import evaluate
    store, lake_dir = demo
    got = {n: evaluate(t, as_of=AS_OF).as_dict() for n, t in engines(store, lake_dir, spark).items()}
    assert len(got["duckdb"]["systems"]) == 12  # the demo's 12 systems, all evaluated
    same_everywhere(got)


def test_alarm_report_agrees(demo, spark):
    from evaluation.analyses.alarms import alarm_report
    store, lake_dir = demo
    got = {n: alarm_report(t.alarms, as_of=ANALYSIS_AS_OF) for n, t in engines(store, lake_dir, spark).items()}
    same_everywhere(got)


def test_outage_correlation_agrees(demo, spark):
    from evaluation.analyses.outages import analyse
    store, lake_dir = demo
    got = {n: analyse(t, as_of=ANALYSIS_AS_OF).to_dict() for n, t in engines(store, lake_dir, spark).items()}
    assert got["duckdb"]["pms"], "the demo has PMs with interventions"
    same_everywhere(got)


def _evidence_as_multisets(result: dict) -> dict:
    """Sort each PM's evidence lists by every field: the analysis orders cuts by
    (cut time, OC, PTO), which ties when one cut falls in two windows of its PM,
    so their order is not defined on any engine (not even DuckDB store vs lake)."""
    for section in ("candidates", "fragile"):
        for row in result.get(section) or []:
            for name, rows in (row.get("evidence") or {}).items():
                row["evidence"][name] = sorted(rows, key=lambda r: [str(v) for v in r.values()])
    return result


def test_blacklist_agrees(demo, spark):
    from evaluation.analyses.blacklist import blacklist
    store, lake_dir = demo
    got = {n: _evidence_as_multisets(blacklist(t, as_of=ANALYSIS_AS_OF).to_dict())
           for n, t in engines(store, lake_dir, spark).items()}
    assert got["duckdb"]["candidates"], "the demo plants PMs worth blacklisting"
    same_everywhere(got)


def test_cli_runs_on_spark_with_the_same_output(hand, spark, capsys):
    """``opeval outages --engine spark --lake DIR`` end to end (in-process: Spark's
    getOrCreate hands the CLI the run's session), same JSON as DuckDB over the lake."""
    from evaluation.cli import main
    _, lake_dir = hand
    outs = {}
    for engine in ("duckdb", "spark"):
        code = main(["outages", "--engine", engine, "--lake", str(lake_dir), "--as-of", "2024-12-31",
                     "--format", "json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        outs[engine] = json.loads(out)
    # Both PMs of the hand-made store have one intervention in 2024 (I1, I2).
    assert {p["pm_id"] for p in outs["duckdb"]["pms"]} == {"FI-00001-0001", "0042"}
    assert_same(outs["duckdb"], outs["spark"])


def test_cli_runs_on_spark_connect_with_the_same_output(hand, spark):
    """``--spark-remote local[2]``: pyspark starts a local Spark Connect server and
    the CLI works through the Connect client (needs ``opeval[spark-connect]``,
    which ``make install`` installs); same JSON as DuckDB over the lake.
    ``opeval alarms`` caches intermediate tables, which Ibis could not do on a
    Connect session before :func:`evaluation.store.engine._spark_cache_on_any_session`."""
    try:
        import grpc  # noqa: F401
    except ImportError:
        missing("Spark Connect's client (grpcio) is not installed: pip install -e '.[spark-connect]'")
    _, lake_dir = hand
    outs = {}
    for engine, extra in (("duckdb", ()), ("spark", ("--spark-remote", "local[2]"))):
        run = opeval_subprocess("alarms", "--engine", engine, "--lake", lake_dir, *extra,
                                "--as-of", "2024-12-31", "--format", "json", timeout=600)
        assert run.returncode == 0, run.stderr[-2000:]
        outs[engine] = json.loads(run.stdout)
    assert outs["duckdb"]["kpis"]["alarms"] > 0
    assert_same(outs["duckdb"], outs["spark"])
