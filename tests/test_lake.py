"""Lake mode: ``opeval export`` and reading the lake back with DuckDB (Spark: test_spark_*.py)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from evaluation.errors import OpevalError
from evaluation.store import db, lake
from evaluation.store.engine import open_engine
from evaluation.store.schema import LOAD_ORDER, SCHEMA_VERSION, TABLES

T = dt.datetime


def _insert(con, table: str, rows: list[dict]) -> None:
    for r in rows:
        cols = ", ".join(f'"{c}"' for c in r)
        con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(r))})', list(r.values()))


def make_store(path: Path) -> Path:
    """A tiny store with the awkward cases a lake must survive.

    * ids that look numeric (``007``) or carry '.', '-' (safe path segments), and
      one system id with a space (unsafe: forbids the system_id partition level
      of the table it is in);
    * timestamps on both sides of a month boundary, to the microsecond;
    * NULLs in optional columns, booleans, dates, integers, doubles.
    """
    con = db.connect(path)
    _insert(con, "systems", [
        {"system_id": "007", "name": "Bank", "risk_level": 1, "accepted_on": dt.date(2023, 1, 15),
         "warranty_months": 12, "maintenance_cycle_days": 90, "sla_response_h": 0.5,
         "sla_arrival_h": 4.0, "sla_repair_h": 8.0},
        {"system_id": "S-1.a", "name": None, "risk_level": 3, "accepted_on": None,
         "warranty_months": 24, "maintenance_cycle_days": 182, "sla_response_h": 1.25,
         "sla_arrival_h": 2.0, "sla_repair_h": 24.0},
        {"system_id": "A B", "name": "spaced", "risk_level": 2, "accepted_on": dt.date(2022, 6, 1),
         "warranty_months": 12, "maintenance_cycle_days": 182, "sla_response_h": 0.5,
         "sla_arrival_h": 4.0, "sla_repair_h": 8.0},
    ])
    _insert(con, "devices", [
        {"device_id": "D1", "system_id": "007", "subsystem": "video_surveillance",
         "device_type": "dvr", "zone": "z1", "installed_on": dt.date(2023, 1, 15)},
        {"device_id": "D2", "system_id": "S-1.a", "subsystem": "intrusion_alarm",
         "device_type": "intrusion_detector", "zone": None, "installed_on": dt.date(2022, 2, 1),
         "decommissioned_on": dt.date(2024, 3, 1)},
    ])
    _insert(con, "faults", [
        # 2024-01-31 23:59:59.999999 is still January; 2024-02-01 00:00 is February.
        {"fault_id": "F1", "system_id": "007", "device_id": "D1", "subsystem": "video_surveillance",
         "occurred_at": T(2024, 1, 31, 23, 59, 59, 999999), "reported_at": T(2024, 2, 1, 0, 5),
         "restored_at": T(2024, 2, 1, 3, 0), "repair_mode": "onsite", "in_warranty": True},
        {"fault_id": "F2", "system_id": "007", "device_id": "D1",
         "occurred_at": T(2024, 2, 1, 0, 0), "restored_at": None, "in_warranty": False},
        {"fault_id": "F3", "system_id": "S-1.a", "device_id": "D2",
         "occurred_at": T(2024, 2, 15, 12, 30, 0, 1), "in_warranty": None},
    ])
    _insert(con, "maintenance", [
        {"maintenance_id": "M1", "system_id": "A B", "kind": "periodic",
         "started_at": T(2024, 1, 10, 9), "ended_at": T(2024, 1, 10, 11), "report_issued": True},
        {"maintenance_id": "M2", "system_id": "007", "kind": "per_call",
         "started_at": T(2024, 2, 10, 9), "report_issued": False},
    ])
    _insert(con, "alarms", [
        {"alarm_id": "A1", "system_id": None, "definition": "door", "resource_id": "R1", "priority": 1,
         "raised_at": T(2024, 1, 1, 0, 0), "cleared_at": T(2024, 1, 1, 0, 1), "status": "closed",
         "close_reason": "false_alarm"},
        {"alarm_id": "A2", "system_id": "007", "definition": "door", "resource_id": "R1",
         "raised_at": T(2023, 12, 31, 23, 59, 59), "status": "new"},
    ])
    _insert(con, "pms", [{"pm_id": "FI-00001-0001", "oi_code": "OI01", "lines": 120, "zone": "north"},
                         {"pm_id": "0042", "oi_code": "OI01", "lines": 0}])
    _insert(con, "interventions", [
        {"ref_interv_oi": "I1", "code_do": "DO01", "code_oi": "OI01", "pm_id": "FI-00001-0001",
         "started_at": T(2024, 3, 1, 8), "ended_at": T(2024, 3, 1, 10)},
        {"ref_interv_oi": "I2", "code_oi": "OI01", "pm_id": "0042", "started_at": T(2024, 4, 2, 8)},
    ])
    _insert(con, "intervention_targets", [
        {"ref_interv_oi": "I1", "nature": "sav", "pbo": "PBO1", "pto": "PTO1"},
        {"ref_interv_oi": "I2", "nature": None, "pbo": None, "pto": None},
    ])
    _insert(con, "outage_reports", [
        {"ref_interv_oi": "I1", "code_oc": "OC01", "received_at": T(2024, 3, 1, 12), "clients_hs": 2},
        {"ref_interv_oi": "I2", "code_oc": "OC02", "received_at": None, "clients_hs": 0},
    ])
    _insert(con, "outages", [
        {"code_oc": "OC01", "pm_id": "FI-00001-0001", "pto": "PTO1", "cut_at": T(2024, 3, 1, 9),
         "restored_at": T(2024, 3, 1, 9, 30), "cause": "other", "churned": False, "ref_interv_oi": "I1"},
        {"code_oc": "OC01", "pm_id": "0042", "pto": "PTO9", "cut_at": T(2024, 4, 2, 9),
         "cause": None, "churned": None},
    ])
    con.close()
    return path


@pytest.fixture
def store(tmp_path) -> Path:
    return make_store(tmp_path / "store.duckdb")


def export(store: Path, dest: Path, **kw) -> lake.Manifest:
    con = db.connect(store, read_only=True)
    try:
        return lake.export_lake(con, dest, **kw)
    finally:
        con.close()


def types(t) -> dict:
    """Column -> type, nullability aside (a lake cannot declare NOT NULL)."""
    return {n: ty.copy(nullable=True) for n, ty in t.schema().items()}


def rows(tables, name: str) -> list[tuple]:
    t = tables[name]
    return sorted(t.to_pyarrow().to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


def test_every_table_comes_back_identical_with_its_contract_types(store, tmp_path):
    m = export(store, tmp_path / "lake", min_rows_per_partition=1)
    src, back = open_engine("duckdb", db=store), open_engine("duckdb", lake=tmp_path / "lake")
    for name in LOAD_ORDER:
        assert back[name].columns == TABLES[name].column_names, name
        assert types(back[name]) == types(src[name]), name
        assert rows(back, name) == rows(src, name), name
    assert m.tables["faults"].rows == 3 and m.tables["systems"].rows == 3


def test_month_partitions_split_at_the_boundary_and_ids_stay_strings(store, tmp_path):
    export(store, tmp_path / "lake", min_rows_per_partition=1)
    d = tmp_path / "lake"
    # faults: 3 rows over (Jan, 007), (Feb, 007), (Feb, S-1.a) -> 1 row per partition >= 1.
    assert sorted(p.relative_to(d / "faults").parent.as_posix() for p in (d / "faults").rglob("*.parquet")) == [
        "month=2024-01/system_id=007", "month=2024-02/system_id=007", "month=2024-02/system_id=S-1.a"]
    # pm "0042" keeps its leading zeros through the directory name.
    assert (d / "outages" / "month=2024-04" / "pm_id=0042").is_dir()
    back = open_engine("duckdb", lake=d)
    got = back.faults.filter(back.faults.system_id == "007").order_by("occurred_at").execute()
    assert got.occurred_at.tolist() == [dt.datetime(2024, 1, 31, 23, 59, 59, 999999),
                                        dt.datetime(2024, 2, 1)]
    assert back.outages.filter(back.outages.pm_id == "0042").count().execute() == 1
    # Small tables and tables without a time column are not partitioned.
    assert list((d / "systems").iterdir()) == [d / "systems" / "data_0.parquet"]


def test_unsafe_ids_and_small_partitions_fall_back_to_month_only(store, tmp_path):
    m = export(store, tmp_path / "lake", min_rows_per_partition=1)
    # maintenance has system "A B": a space is not a safe directory name.
    assert m.tables["maintenance"].partition_by == ["month"]
    assert m.tables["maintenance"].sorted_by == ["system_id", "started_at"]
    # alarms.system_id is nullable: never a partition level.
    assert m.tables["alarms"].partition_by == ["month"]
    # The default threshold (250 000 rows per partition) keeps these tiny tables month-only.
    m2 = export(store, tmp_path / "lake2")
    assert all(t.partition_by in ([], ["month"]) for t in m2.tables.values())
    back = open_engine("duckdb", lake=tmp_path / "lake")
    assert back.maintenance.filter(back.maintenance.system_id == "A B").count().execute() == 1


def test_manifest_records_version_counts_and_time(store, tmp_path):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    export(store, tmp_path / "lake")
    data = json.loads((tmp_path / "lake" / lake.MANIFEST).read_text())
    assert data["format"] == "opeval-lake" and data["schema_version"] == SCHEMA_VERSION
    assert {n: t["rows"] for n, t in data["tables"].items()} == {
        "systems": 3, "devices": 2, "faults": 3, "maintenance": 2, "alarms": 2, "pms": 2,
        "interventions": 2, "intervention_targets": 2, "outage_reports": 2, "outages": 2}
    at = dt.datetime.fromisoformat(data["exported_at"])  # "...Z" (Python >= 3.11)
    assert before <= at <= dt.datetime.now(dt.UTC)
    # No staging directory is left behind.
    assert sorted(p.name for p in (tmp_path / "lake").iterdir()) == sorted([*LOAD_ORDER, lake.MANIFEST])


def test_partial_export_updates_those_tables_and_keeps_the_others(store, tmp_path):
    d = tmp_path / "lake"
    export(store, d)
    con = db.connect(store)
    con.execute("DELETE FROM outages WHERE pm_id = '0042'")
    con.close()
    m = export(store, d, tables=["outages"])
    assert m.tables["outages"].rows == 1 and m.tables["faults"].rows == 3
    back = open_engine("duckdb", lake=d)
    assert back.outages.count().execute() == 1 and back.faults.count().execute() == 3


def test_refuses_foreign_directories_unknown_tables_and_non_lakes(store, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(OpevalError, match="not empty and holds no opeval lake"):
        export(store, other)
    assert (other / "notes.txt").read_text() == "mine"
    with pytest.raises(OpevalError, match="unknown table"):
        lake.parse_table_list(["faults,nope"])
    assert lake.parse_table_list(["outages,faults", "pms"]) == ["faults", "pms", "outages"]
    with pytest.raises(OpevalError, match="not an opeval lake"):
        open_engine("duckdb", lake=tmp_path)
    with pytest.raises(OpevalError, match="Spark engine reads a lake"):
        open_engine("spark", db=store)


def test_manifest_of_another_schema_version_is_refused(store, tmp_path):
    d = tmp_path / "lake"
    export(store, d)
    data = json.loads((d / lake.MANIFEST).read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    (d / lake.MANIFEST).write_text(json.dumps(data))
    with pytest.raises(OpevalError, match="schema version"):
        open_engine("duckdb", lake=d)


def test_export_cli_end_to_end(store, tmp_path, capsys):
    from evaluation.cli import main
    d = tmp_path / "cli-lake"
    assert main(["--db", str(store), "export", "--to", str(d), "--tables", "faults,pms"]) == 0
    out = capsys.readouterr().out
    assert "faults" in out and "5 rows in 2 table(s)" in out  # 3 faults + 2 pms
    assert sorted(json.loads((d / lake.MANIFEST).read_text())["tables"]) == ["faults", "pms"]
    assert main(["--db", str(store), "export", "--to", str(d), "--tables", "bogus"]) == 1
    assert "unknown table(s): bogus" in capsys.readouterr().err
    assert main(["--db", str(tmp_path / "missing.duckdb"), "export", "--to", str(d)]) == 1
    assert "no such database" in capsys.readouterr().err


def test_a_partial_lake_names_the_missing_table_and_old_lakes_are_replaced_whole(store, tmp_path):
    d = tmp_path / "lake"
    export(store, d, tables=["faults"])
    back = open_engine("duckdb", lake=d)
    assert back.faults.count().execute() == 3
    with pytest.raises(OpevalError, match="the lake has no table 'systems'"):
        back["systems"]
    data = json.loads((d / lake.MANIFEST).read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    (d / lake.MANIFEST).write_text(json.dumps(data))
    with pytest.raises(OpevalError, match="schema version"):
        export(store, d, tables=["pms"])  # would mix two versions
    m = export(store, d)  # every table: the old lake is replaced
    assert m.schema_version == SCHEMA_VERSION and len(m.tables) == len(LOAD_ORDER)
