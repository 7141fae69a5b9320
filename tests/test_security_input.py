"""Hostile input: fuzzed files for every reader, and SQL injection strings as filter values.

Readers (CSV, Parquet with odd Arrow types, NDJSON, alarm logs, e-Intervention
message logs) get arbitrary bytes / structures: each either loads with counts
that reconcile (read = accepted + quarantined, table rows = inserted) or
refuses the file with a one-line :class:`InputError` and loads nothing. Never
another exception, never a half load.

Filter values and ids reach DuckDB only as query parameters or Ibis literals:
an injection string behaves exactly like any other value that matches
nothing, and the database file is left byte-identical.
"""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _security_db
from evaluation.errors import InputError
from evaluation.store import db
from evaluation.store.alarm_log import ingest_alarm_log
from evaluation.store.ingest import ingest

FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _fresh():
    con = db.connect(":memory:")
    con.execute("INSERT INTO systems (system_id) VALUES ('S1')")
    con.execute("INSERT INTO pms (pm_id, oi_code) VALUES ('PM1', 'OI01')")
    return con


def _counts_reconcile(con, table, load):
    f = load.files[0]
    assert f.rows_read == f.accepted + f.quarantined
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == load.total("quarantined")


def _load_or_refuse(con, table, run):
    before = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    try:
        load = run()
    except InputError as exc:
        assert "\n" not in str(exc)
        assert con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == before
        return None
    _counts_reconcile(con, table, load)
    after = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    assert after - before == load.total("inserted")
    return load


# ------------------------------------------------------------------ CSV / NDJSON bytes


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([b"", b"\xef\xbb\xbf"]))
def test_csv_of_arbitrary_bytes(tmp_path, data, bom):
    path = tmp_path / "faults.csv"
    path.write_bytes(bom + b"fault_id,system_id,occurred_at,symptom\r\n" + data)
    con = _fresh()
    _load_or_refuse(con, "faults", lambda: ingest(con, "faults", [path]))
    con.close()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10 ** 40), max_value=10 ** 40)
    | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["alarm_id", "system_id", "definition", "resource_id", "raised_at",
                         "priority", "comment", "x"]), inner, max_size=6),
    max_leaves=30)


@FUZZ
@given(st.lists(JSON_VALUES | st.text(max_size=40).map(lambda t: {"raw": t}), max_size=6),
       st.binary(max_size=40))
def test_ndjson_of_hostile_structures(tmp_path, values, junk):
    path = tmp_path / "alarms.ndjson"
    lines = [json.dumps(v).encode() for v in values] + [b"[" * 300 + b"]" * 300, junk]
    path.write_bytes(b"\n".join(lines) + b"\n")
    con = _fresh()
    _load_or_refuse(con, "alarms", lambda: ingest(con, "alarms", [path]))
    con.close()


# ------------------------------------------------------------------ Parquet with odd types

ODD_COLUMNS = {
    "string": (pa.string(), st.text(max_size=12)),
    "large_string": (pa.large_string(), st.text(max_size=12)),
    "int8": (pa.int8(), st.integers(-128, 127)),
    "uint64": (pa.uint64(), st.integers(0, 2 ** 64 - 1)),
    "float": (pa.float64(), st.floats(allow_nan=True, allow_infinity=True)),
    "bool": (pa.bool_(), st.booleans()),
    "binary": (pa.binary(), st.binary(max_size=12)),
    "date": (pa.date32(), st.dates(min_value=dt.date(1, 1, 1))),
    "ts_tz": (pa.timestamp("us", tz="Asia/Shanghai"),
              st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2200, 1, 1),
                           timezones=st.just(dt.UTC))),
    "decimal": (pa.decimal128(12, 3), st.decimals(min_value=-10 ** 8, max_value=10 ** 8, places=3,
                                                  allow_nan=False, allow_infinity=False)),
    "list": (pa.list_(pa.int32()), st.lists(st.integers(-5, 5), max_size=3)),
    "struct": (pa.struct([("a", pa.string())]), st.fixed_dictionaries({"a": st.text(max_size=4)})),
    "null": (pa.null(), st.none()),
}
COLUMNS = ("system_id", "name", "risk_level", "accepted_on", "warranty_months", "sla_response_h")


@st.composite
def odd_tables(draw):
    n = draw(st.integers(0, 6))
    names = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=len(COLUMNS), unique=True))
    arrays = {}
    for name in names:
        kind = draw(st.sampled_from(sorted(ODD_COLUMNS)))
        typ, values = ODD_COLUMNS[kind]
        col = draw(st.lists(st.none() | values, min_size=n, max_size=n))
        if kind == "decimal":
            col = [None if v is None else decimal.Decimal(v) for v in col]
        arrays[name] = pa.array(col, type=typ)
    return pa.table(arrays)


@FUZZ
@given(odd_tables())
def test_parquet_with_odd_types(tmp_path, table):
    path = tmp_path / "systems.parquet"
    pq.write_table(table, path)
    con = db.connect(":memory:")
    load = _load_or_refuse(con, "systems", lambda: ingest(con, "systems", [path]))
    if load is not None:
        assert load.files[0].rows_read == table.num_rows
    con.close()


# ------------------------------------------------------------------ alarm logs, messages


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["csv", "ndjson"]))
def test_alarm_log_of_arbitrary_bytes(tmp_path, data, ext):
    path = tmp_path / f"log.{ext}"
    header = b"system,tag,type,time,comment\n" if ext == "csv" else b""
    path.write_bytes(header + data)
    con = _fresh()
    _load_or_refuse(con, "alarms", lambda: ingest_alarm_log(con, [path]))
    con.close()


@FUZZ
@given(st.lists(st.binary(max_size=120), min_size=1, max_size=5))
def test_message_log_of_arbitrary_bytes(tmp_path, lines):
    from evaluation.eintervention.reception import ingest_messages

    path = tmp_path / "messages.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    con = _fresh()
    try:
        load = ingest_messages(con, [path], oi_codes=["OI01"])
    except InputError as exc:
        assert "\n" not in str(exc)
        assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    else:
        # Every line read got exactly one answer, recorded in messages.
        answered = con.execute("SELECT count(*) FROM messages").fetchone()[0]
        assert answered == load.total("rows_read")
    con.close()


# ------------------------------------------------------------------ SQL injection

PAYLOADS = ["x' OR '1'='1", "'; DROP TABLE alarms; --", '" OR 1=1 --', "S1'--",
            "%' OR 1=1 OR '%", "S1\\' OR 1=1", "$1", "?", "S1) OR (1=1", "NULL"]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("inj")
    return _security_db.build(root / "db.duckdb", root / "in")


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_data_page_filters_take_injection_as_plain_values(planted):
    from evaluation.views.data_state import DataState
    from evaluation.views.queries import ReadOnlyStore

    before = _digest(planted)
    state = DataState(ReadOnlyStore(planted))
    assert state.quarantine_total() == 1 and state.ko_total() == 0
    for payload in PAYLOADS:
        state.kind, state.message = payload, payload
        assert state.quarantine_total() == 0 and state.quarantine_rows().empty
        assert state.ko_total() == 0 and state.ko_rows().empty
        assert state.quarantine_csv().count(b"\n") == 1            # the header only
    assert _digest(planted) == before


def test_alarms_filters_take_injection_as_plain_values(planted):
    from evaluation.views.alarms_state import AlarmsState

    before = _digest(planted)
    state = AlarmsState(planted)
    state.history_definition = "door_forced"
    assert state.history_total() == 2                 # A1, A2 (the planted S1 alarms)
    for payload in PAYLOADS:
        state.history_definition, state.history_resource = payload, payload
        assert state.history_total() == 0
        assert state.history_csv().count(b"\n") <= 1
    state.history_definition, state.history_resource = "door_forced", ""
    for payload in PAYLOADS:
        state.system = payload
        assert state.history_total() == 0
    assert _digest(planted) == before


def test_outages_filters_take_injection_as_plain_values(planted):
    from evaluation.views.outages_state import OutagesState

    before = _digest(planted)
    state = OutagesState(planted)
    state.pm_id = "NOSUCH"
    nothing = state.pm_interventions()
    for payload in PAYLOADS:
        state.pm_id = payload
        assert state.pm_interventions().equals(nothing)
        state.pm_id = "PM1"
        state.code_do = payload
        assert state.pm_interventions().empty
        state.code_do = ""
    assert _digest(planted) == before


def test_scopes_take_injection_as_plain_values(planted):
    from evaluation.auth import scope
    from evaluation.auth.roles import Principal
    from evaluation.store.engine import open_tables

    base = open_tables(planted)
    for payload in PAYLOADS:
        t = scope.scoped_tables(base, Principal("x", "alarm_operator", systems=(payload,)))
        assert t["alarms"].count().execute() == 0 and t["systems"].count().execute() == 0


def test_cli_options_take_injection_as_plain_values(planted, run_cli):
    before = _digest(planted)
    for payload in PAYLOADS:
        code, out, err = run_cli("--db", str(planted), "alarms", "--system", payload)
        assert code in (0, 1), err
        code, out, err = run_cli("--db", str(planted), "evaluate", "--system", payload)
        assert code in (0, 1), err
        code, _, err = run_cli("--db", str(planted), "purge", "--before", payload)
        assert code == 1 and "expected a date" in err
    assert _digest(planted) == before
    for payload in PAYLOADS:
        code, out, err = run_cli("--db", str(planted), "erase", "--pto", payload)
        assert code == 0 and "erased PTO in 0 rows" in out, (payload, out, err)
    con = duckdb.connect(str(planted), read_only=True)
    assert sorted(r[0] for r in con.execute("SELECT pto FROM outages").fetchall()) == [
        "FI-OC1-LINE", "FI-OC2-LEAK", "FI-OC2-PM1-LEAK"]
    assert con.execute("SELECT count(*) FROM alarms").fetchone()[0] == 3
    con.close()
