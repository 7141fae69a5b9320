"""Exports: customer line references pseudonymised by default; file names stay inside the lake."""
from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import _security_db
from evaluation.store import db, privacy
from evaluation.store.ingest import ingest

KEY = bytes.fromhex("ab" * 32)   # the planted database's pseudonym key
CLEAR = ("FI-OC1-LINE", "FI-OC2-LEAK", "FI-OC2-PM1-LEAK", "FI-TARGET-SECRET")


@pytest.fixture
def planted(tmp_path):
    return _security_db.build(tmp_path / "db.duckdb", tmp_path / "in")


def _lake_text(lake) -> str:
    """Every value of every Parquet file of the lake, as text."""
    con = duckdb.connect()
    out = []
    for f in sorted(lake.rglob("*.parquet")):
        out.append(str(con.execute("SELECT * FROM read_parquet(?)", [str(f)]).fetchall()))
    return "\n".join(out)


def _ptos(lake, table):
    con = duckdb.connect()
    return sorted(r[0] for r in con.execute(
        "SELECT pto FROM read_parquet(?, hive_partitioning=false)",
        [str(lake / table / "**" / "*.parquet")]).fetchall())


def test_export_pseudonymises_pto_by_default(planted, tmp_path, run_cli):
    lake = tmp_path / "lake"
    code, _, err = run_cli("--db", str(planted), "export", "--to", str(lake))
    assert code == 0, err
    text = _lake_text(lake)
    for clear in CLEAR:
        assert clear not in text
    # The same keyed hash as the dashboards and the audit log: HMAC-SHA256 under the db key.
    assert _ptos(lake, "outages") == sorted(privacy.pseudonym(p, KEY, "PTO")
                                            for p in ("FI-OC1-LINE", "FI-OC2-LEAK", "FI-OC2-PM1-LEAK"))
    assert _ptos(lake, "intervention_targets") == [privacy.pseudonym("FI-TARGET-SECRET", KEY, "PTO")]
    assert "PM1" in text and "OC02" in text             # other columns are untouched


def test_no_pseudonymise_exports_references_in_clear(planted, tmp_path, run_cli):
    lake = tmp_path / "lake"
    code, _, err = run_cli("--db", str(planted), "export", "--to", str(lake), "--no-pseudonymise")
    assert code == 0, err
    assert _ptos(lake, "intervention_targets") == ["FI-TARGET-SECRET"]


def test_export_creates_a_key_once_and_pseudonyms_stay_stable(planted, tmp_path, run_cli):
    con = duckdb.connect(str(planted))
    con.execute("DELETE FROM meta WHERE key = 'pseudonym_key'")
    con.close()
    for n in (1, 2):
        assert run_cli("--db", str(planted), "export", "--to", str(tmp_path / f"l{n}"))[0] == 0
    first, second = _ptos(tmp_path / "l1", "outages"), _ptos(tmp_path / "l2", "outages")
    assert first == second and all(p.startswith("PTO-") for p in first)
    con = db.connect(planted, read_only=True)
    key = bytes.fromhex(db.get_setting(con, "pseudonym_key"))
    con.close()
    assert key != KEY and privacy.pseudonym("FI-OC1-LINE", key, "PTO") in first


HOSTILE_PMS = ["../../escape", "a/b", "null", "..", "%2e%2e", "PM 1", ".hidden", "_x", "C:\\x"]


def test_export_file_names_never_leave_the_lake(tmp_path, run_cli):
    """Ids become directory names only when safe; hostile ids stay column values."""
    path = tmp_path / "db.duckdb"
    con = db.connect(path)
    rows = "\n".join(f'"{pm}",OI01,1' for pm in HOSTILE_PMS)
    (tmp_path / "pms.csv").write_text("pm_id,oi_code,lines\n" + rows + "\n")
    cuts = "\n".join(f'OC01,"{pm}",FI-{i},2024-03-0{1 + i % 9} 10:00'
                     for i, pm in enumerate(HOSTILE_PMS))
    (tmp_path / "outages.csv").write_text("code_oc,pm_id,pto,cut_at\n" + cuts + "\n")
    assert ingest(con, "pms", [tmp_path / "pms.csv"], strict=True)
    assert ingest(con, "outages", [tmp_path / "outages.csv"], strict=True)
    con.close()
    lake = tmp_path / "out" / "lake"
    code, _, err = run_cli("--db", str(path), "export", "--to", str(lake),
                           "--min-rows-per-partition", "1")
    assert code == 0, err
    everything = {p.resolve() for p in (tmp_path / "out").rglob("*")}
    assert all(p.is_relative_to(lake.resolve()) for p in everything)
    names = {p.name for p in lake.rglob("*")}
    assert not any(n.startswith("pm_id=") for n in names)   # hostile ids: no id partition
    assert not (tmp_path / "escape").exists() and not (tmp_path / "out" / "escape").exists()
    con = duckdb.connect()
    got = sorted(r[0] for r in con.execute(
        "SELECT pm_id FROM read_parquet(?, hive_partitioning=false)",
        [str(lake / "outages" / "**" / "*.parquet")]).fetchall())
    assert got == sorted(HOSTILE_PMS)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_report_file_names_from_system_ids_stay_plain_names(system_id):
    """`opeval evaluate --out DIR` and the /evaluation download name files after system ids."""
    from pathlib import Path

    from evaluation.reports.evaluation import safe_name

    name = f"evaluation-{safe_name(system_id)}.html"
    assert Path(name).name == name and name not in (".", "..")
    assert not any(ch in name for ch in "/\\\x00:")
