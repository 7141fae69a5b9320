"""Property-based tests of the tabular ingest: any input gets an answer, counts reconcile."""
from __future__ import annotations

import csv
import datetime as dt
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.errors import InputError
from evaluation.store import db
from evaluation.store.ingest import ingest

# Cell values with known fates, so that a small oracle can say which rows pass.
IDS = st.sampled_from(["S1", "S2", "S3", " S1 ", "", "x,y", 'q"uote', "long " * 5])
RISK_OK = {"": True, "1": True, "3": True, "2.0": True, " 2 ": True,
           "0": False, "4": False, "1.5": False, "abc": False, "-1": False}
DATE_OK = {"": True, "2020-01-31": True, "2024-02-29": True,
           "2023-02-29": False, "31/01/2020": False, "soon": False}
RISK = st.sampled_from(sorted(RISK_OK))
DATES = st.sampled_from(sorted(DATE_OK))


def to_csv(rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writerow(["system_id", "risk_level", "accepted_on", "note"])
    w.writerows(rows)
    return buf.getvalue()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(IDS, RISK, DATES, st.text(max_size=8)), max_size=12))
def test_accepted_rows_are_exactly_the_valid_ones(tmp_path, rows):
    path = tmp_path / "systems.csv"
    path.write_text(to_csv(rows))
    con = db.connect(":memory:")
    res = ingest(con, "systems", [path])
    f = res.files[0]
    valid = [r for r in rows if r[0].strip() and RISK_OK[r[1]] and DATE_OK[r[2]]]
    last = {}
    for r in valid:
        last[r[0].strip()] = r
    assert f.rows_read == len(rows)
    assert f.rows_read == f.accepted + f.quarantined
    assert f.accepted == f.inserted + f.updated + f.unchanged
    stored = dict(con.execute("SELECT system_id, risk_level FROM systems").fetchall())
    assert set(stored) == set(last)
    for key, r in last.items():
        expect = int(float(r[1])) if r[1].strip() else None
        assert stored[key] == expect
    con.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=300),
       st.sampled_from(["csv", "ndjson"]))
def test_any_text_gets_counts_or_a_clean_error(tmp_path, text, ext):
    path = tmp_path / f"input.{ext}"
    path.write_text("system_id,name\n" + text if ext == "csv" else text)
    con = db.connect(":memory:")
    try:
        res = ingest(con, "systems", [path])
    except InputError as exc:
        assert "\n" not in str(exc)
        assert con.execute("SELECT count(*) FROM systems").fetchone()[0] == 0
    else:
        f = res.files[0]
        assert f.rows_read == f.accepted + f.quarantined
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        assert quarantined == f.quarantined
        assert con.execute("SELECT count(*) FROM systems").fetchone()[0] == f.inserted
    con.close()


# ---------------------------------------------------------------- one rule in Python and in SQL

_DUCK = []


def _duck():
    """One DuckDB connection for the examples below (session time zone UTC, as the store's)."""
    if not _DUCK:
        import duckdb
        _DUCK.append(duckdb.connect())
        _DUCK[0].execute("SET TimeZone = 'UTC'")
    return _DUCK[0]


@settings(deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
       | st.sampled_from(["inconnu", " INCONNU ", "N/A", "\tnull\n", "fi-5555-0001 ", "-", "?",
                          "ß", "İnconnu"]))
def test_reference_normalisation_is_the_same_in_python_and_in_duckdb(text):
    """PTO references are normalised by the reception (Python) and by the loaders (SQL):
    both must store the same value, or the same line would not match itself."""
    from evaluation.store.schema import normalise_reference, reference_sql
    got = _duck().execute(f"SELECT {reference_sql('x')} FROM (SELECT ?::VARCHAR x)",
                                   [text]).fetchone()[0]
    assert got == normalise_reference(text)


@settings(deadline=None)
@given(st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2040, 1, 1)),
       st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
                        "UTC", "America/Sao_Paulo"]))
def test_local_times_are_read_alike_in_python_and_in_duckdb(t, zone):
    """A time without offset is a wall time of the database's zone, read by the messages'
    parser (Python) and by the table loaders (DuckDB): the same instant, including the
    hours that clocks skip or repeat (localtime module doc)."""
    from evaluation.localtime import timestamp_sql, to_utc
    t = t.replace(microsecond=0)
    got = _duck().execute(f"SELECT {timestamp_sql('x', zone)} FROM (SELECT ?::VARCHAR x)",
                      [t.isoformat(sep=" ")]).fetchone()[0]
    assert got == to_utc(t, zone)
