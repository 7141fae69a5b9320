"""The store: creation, schema version, migrations, clear errors."""
from __future__ import annotations

import duckdb
import pytest

from evaluation.store import db
from evaluation.store.schema import SCHEMA_VERSION, TABLES


def test_created_on_first_use_with_every_table_and_version(db_path):
    con = db.connect(db_path)
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert set(TABLES) | {"meta", "load_log", "quarantine", "messages"} <= names
    assert db.schema_version(con) == SCHEMA_VERSION
    pk = con.execute("""SELECT constraint_column_names FROM duckdb_constraints()
        WHERE table_name = 'faults' AND constraint_type = 'PRIMARY KEY'""").fetchall()
    assert pk == [(["fault_id"],)]
    types = dict(con.execute("""SELECT column_name, data_type FROM information_schema.columns
        WHERE table_name = 'faults'""").fetchall())
    assert types["occurred_at"] == "TIMESTAMP" and types["in_warranty"] == "BOOLEAN"
    con.close()


def test_migration_applies_new_versions_in_order(db_path):
    con = db.connect(db_path)
    steps = {SCHEMA_VERSION + 1: ["ALTER TABLE systems ADD COLUMN owner VARCHAR"],
             SCHEMA_VERSION + 2: ["UPDATE systems SET owner = 'x'",
                                  "ALTER TABLE devices ADD COLUMN vendor VARCHAR"]}
    con.execute("INSERT INTO systems (system_id) VALUES ('S1')")
    old = db.migrate(con, SCHEMA_VERSION + 2, steps)
    assert old == SCHEMA_VERSION and db.schema_version(con) == SCHEMA_VERSION + 2
    assert con.execute("SELECT owner FROM systems").fetchall() == [("x",)]
    con.close()


def test_version_1_database_is_migrated_to_the_current_version(db_path):
    """A database of schema version 1 (before issue 12): targets without ``declared_in``,
    reports without ``clients_set_aside``, PTO references as the operators wrote them.
    Opening it migrates it (through 2 and 3): the columns exist, and ``fi-1 `` / ``inconnu`` are stored as
    ``FI-1`` / empty, so the analyses compare references as stored."""
    con = db.connect(db_path)
    con.execute("ALTER TABLE intervention_targets DROP COLUMN declared_in")
    con.execute("ALTER TABLE outage_reports DROP COLUMN clients_set_aside")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.execute("INSERT INTO pms VALUES ('PM1', 'OI01', 1, NULL)")
    con.execute("""INSERT INTO outages (code_oc, pm_id, pto, cut_at)
        VALUES ('OC01', 'PM1', 'fi-1 ', '2025-01-01'), ('OC01', 'PM1', 'inconnu', '2025-01-01')""")
    con.close()
    con = db.connect(db_path)
    assert db.schema_version(con) == SCHEMA_VERSION == 3
    assert con.execute("SELECT pto FROM outages ORDER BY pto NULLS LAST").fetchall() == [
        ("FI-1",), (None,)]
    cols = {r[0] for r in con.execute("""SELECT column_name FROM information_schema.columns
        WHERE table_name IN ('intervention_targets', 'outage_reports')""").fetchall()}
    assert {"declared_in", "clients_set_aside"} <= cols
    con.close()


def test_version_2_database_gets_the_alert_tables(db_path):
    """A database of schema version 2 (issue 12, before the alerts of issue 16) has no
    alert tables; opening it creates them empty (migration 3) and keeps its data."""
    con = db.connect(db_path)
    for t in ("alerts", "alert_events", "alert_baselines", "alert_deliveries"):
        con.execute(f"DROP TABLE {t}")
    con.execute("DROP SEQUENCE alert_id_seq")
    con.execute("DROP SEQUENCE alert_event_seq")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.execute("INSERT INTO pms VALUES ('PM1', 'OI01', 1, NULL)")
    con.close()
    con = db.connect(db_path)
    assert db.schema_version(con) == 3
    assert con.execute("SELECT count(*) FROM alerts").fetchone() == (0,)
    assert con.execute("SELECT nextval('alert_id_seq')").fetchone() == (1,)
    assert con.execute("SELECT pm_id FROM pms").fetchall() == [("PM1",)]
    con.close()


def test_failed_migration_leaves_the_old_version(db_path):
    con = db.connect(db_path)
    bad = {SCHEMA_VERSION + 1: ["ALTER TABLE systems ADD COLUMN owner VARCHAR",
                                "ALTER TABLE nowhere ADD COLUMN x INT"]}
    with pytest.raises(duckdb.CatalogException, match="nowhere"):
        db.migrate(con, SCHEMA_VERSION + 1, bad)
    assert db.schema_version(con) == SCHEMA_VERSION
    cols = [r[0] for r in con.execute("DESCRIBE systems").fetchall()]
    assert "owner" not in cols
    con.close()


def test_newer_database_is_refused(db_path):
    con = db.connect(db_path)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(db.StoreError, match="schema version 99 is newer"):
        db.connect(db_path)


def test_missing_database_for_reading(tmp_path):
    with pytest.raises(db.StoreError, match="does not exist"):
        db.connect(tmp_path / "none.duckdb", read_only=True)


def test_locked_database_is_a_clear_error(db_path):
    """A writer gives up after its wait and names the process holding the file (its PID
    and name, for the operator); what a page may show of it names neither."""
    from conftest import holding
    from evaluation.errors import public_message
    db.connect(db_path).close()
    with holding(db_path) as holder, pytest.raises(db.StoreBusy,
                                                   match="cannot open database") as caught:
        db.connect(db_path, wait=0.5)
    assert f"(PID {holder.pid}: " in str(caught.value) and "python" in str(caught.value)
    assert str(holder.pid) not in public_message(caught.value)
    assert str(db_path) not in public_message(caught.value)


def test_settings_round_trip(con):
    assert db.get_setting(con, "oi_codes") is None
    db.set_setting(con, "oi_codes", "OI01,OI02")
    assert db.get_setting(con, "oi_codes") == "OI01,OI02"


def test_config_command(run_cli):
    code, out, _ = run_cli("config", "oi_codes", "OI01, OI02")
    assert code == 0 and "oi_codes = OI01,OI02" in out
    code, _, err = run_cli("config", "oi_codes", "bad")
    assert code == 1 and "4-character codes" in err


def test_engine_errors_are_one_line_and_bugs_keep_their_traceback(monkeypatch, capsys, db_path):
    import pytest as _pytest

    from evaluation import cli
    from evaluation.commands import quarantine

    class FakeSparkError(Exception):
        pass
    FakeSparkError.__module__ = "pyspark.errors.exceptions"

    def spark_fails(args):
        raise FakeSparkError("[PATH_NOT_FOUND] Path does not exist: /lake\n  at py4j...")
    monkeypatch.setattr(quarantine, "run", spark_fails)
    db.connect(db_path).close()
    assert cli.main(["--db", str(db_path), "quarantine"]) == 1
    err = capsys.readouterr().err
    assert err == "opeval: error: FakeSparkError: [PATH_NOT_FOUND] Path does not exist: /lake\n"

    def bug(args):
        raise KeyError("oops")
    monkeypatch.setattr(quarantine, "run", bug)
    with _pytest.raises(KeyError):
        cli.main(["--db", str(db_path), "quarantine"])
