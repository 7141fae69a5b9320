"""The /data page's state driven without a browser, on the hand-made database of _views_db."""
from __future__ import annotations

import io

import pandas as pd
import pytest

import _views_db
from evaluation.store import db
from evaluation.store.ingest import ingest
from evaluation.views.data_state import DataState, page_count
from evaluation.views.queries import ReadOnlyStore


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ReadOnlyStore:
    root = tmp_path_factory.mktemp("views_data")
    _views_db.build(root / "db.duckdb", root / "in")
    return ReadOnlyStore(root / "db.duckdb")


@pytest.fixture
def state(store) -> DataState:
    return DataState(store)


def test_table_counts_match_the_loads(state):
    counts = state.table_counts().set_index("table")
    for table, rows in _views_db.EXPECTED["rows"].items():
        assert counts.loc[table, "rows"] == rows, table
    # every contract table is listed, empty ones with 0 rows and 0 loads
    assert counts.loc["faults", "rows"] == 0 and counts.loc["faults", "loads"] == 0
    assert counts.loc["systems", "loads"] == 1 and counts.loc["messages", "loads"] == 1
    assert list(counts.index[:2]) == ["systems", "devices"]  # load order first


def test_load_log_newest_first_with_reconciled_counts(state):
    loads = state.loads()
    assert loads["load_id"].tolist() == [4, 3, 2, 1]
    by_kind = loads.set_index("kind")
    # systems: 4 data lines read = 2 accepted + 2 quarantined; devices and pms: 3 = 2 + 1
    assert by_kind.loc["systems", ["rows_read", "accepted", "quarantined"]].tolist() == [4, 2, 2]
    assert by_kind.loc["devices", ["rows_read", "accepted", "quarantined"]].tolist() == [3, 2, 1]
    assert by_kind.loc["pms", ["rows_read", "accepted", "quarantined"]].tolist() == [3, 2, 1]
    assert by_kind.loc["messages", ["rows_read", "accepted", "quarantined"]].tolist() == [7, 7, 0]


def test_filter_choices_list_every_load_and_kind(state):
    loads = state.load_choices()
    assert list(loads.values()) == [None, 4, 3, 2, 1]
    assert any(label.startswith("#1 systems") and label.endswith("(2 quarantined)")
               for label in loads)
    assert state.kind_choices() == {"every kind": None, "devices": "devices",
                                    "messages": "messages", "pms": "pms", "systems": "systems"}


def test_quarantine_unfiltered_newest_load_first(state):
    rows = state.quarantine_rows()
    assert state.quarantine_total() == 4
    assert rows["load_id"].tolist() == [3, 2, 1, 1]
    assert rows["line"].tolist() == [4, 4, 4, 5]  # header is line 1: bad rows on lines 4 and 5
    assert rows["columns"].tolist() == ["oi_code", "subsystem", "risk_level", "system_id"]
    # the page shows the file's name; the CSV download keeps the full path
    assert rows["file"].tolist() == ["pms.csv", "devices.csv", "systems.csv", "systems.csv"]


@pytest.mark.parametrize("load_id, kind, expected", [
    (1, None, 2), (2, None, 1), (3, None, 1), (4, None, 0),
    (None, "systems", 2), (None, "devices", 1), (None, "pms", 1),
    (1, "systems", 2), (1, "pms", 0),
    (None, "x' OR 1=1 --", 0),  # a parameter, never SQL text
])
def test_quarantine_filters(state, load_id, kind, expected):
    state.param.update(load_id=load_id, kind=kind)
    assert state.quarantine_total() == expected
    assert len(state.quarantine_rows()) == expected


def test_quarantine_paging_and_reset_on_filter_change(store):
    state = DataState(store, page_size=3)
    assert state.quarantine_pages() == 2  # ceil(4 / 3)
    first = state.quarantine_rows()
    state.quarantine_page = 2
    second = state.quarantine_rows()
    assert len(first) == 3 and len(second) == 1
    assert (second.iloc[0]["load_id"], second.iloc[0]["line"]) == (1, 5)
    state.kind = "systems"
    assert state.quarantine_page == 1
    assert state.quarantine_rows()["line"].tolist() == [4, 5]


def test_quarantine_csv_is_the_whole_filter_with_raw_rows(state):
    state.kind = "devices"
    frame = pd.read_csv(io.BytesIO(state.quarantine_csv()))
    assert frame.columns.tolist() == ["load_id", "kind", "source_file", "line", "columns",
                                      "reason", "raw"]
    assert len(frame) == 1 and frame.loc[0, "source_file"].endswith("/in/devices.csv")
    assert "teleportation" in frame.loc[0, "raw"] and "teleportation" in frame.loc[0, "reason"]
    state.kind = None
    assert len(pd.read_csv(io.BytesIO(state.quarantine_csv()))) == 4


def test_answer_counts_per_message_and_code(state):
    counts = state.answer_counts()
    got = {(r.message, r.code_reponse): r.answers for r in counts.itertuples()}
    assert got == _views_db.EXPECTED["answers"]
    shares = {(r.message, r.code_reponse): r.share for r in counts.itertuples()}
    assert shares[("M1", 0)] == pytest.approx(2 / 3)  # 2 of 3 M1 answered OK
    assert shares[("M3", 4)] == pytest.approx(0.5)     # 1 of 2 M3
    labels = dict(zip(counts["code_reponse"], counts["libelle_reponse"]))
    assert labels[1] == "CHAMPS_NON_RENSEIGNE" and labels[4] == "PM_INCONNU"


def test_ko_answers_with_description(state):
    assert state.ko_total() == 3
    rows = state.ko_rows()
    assert rows["line"].tolist() == [3, 5, 7]
    assert rows["code_reponse"].tolist() == [1, 4, 3]
    state.message = "M3"
    rows = state.ko_rows()
    assert rows[["code_reponse", "description_reponse"]].values.tolist() == [
        [4, "PM PM9 is not a known PM"]]
    frame = pd.read_csv(io.BytesIO(state.ko_csv()))
    assert frame["line"].tolist() == [5]
    assert state.message_choices() == {"every message": None, "M1": "M1", "M3": "M3",
                                       "M5": "M5"}


def test_ko_paging(store):
    state = DataState(store, page_size=2)
    assert state.ko_pages() == 2  # 3 KO answers, 2 per page
    state.ko_page = 2
    assert state.ko_rows()["line"].tolist() == [7]
    state.message = "M1"
    assert state.ko_page == 1 and state.ko_pages() == 1


def test_page_count():
    assert [page_count(n, 20) for n in (0, 1, 20, 21, 40, 41)] == [1, 1, 1, 2, 2, 3]


def test_empty_database(tmp_path):
    db.connect(tmp_path / "empty.duckdb").close()
    state = DataState(ReadOnlyStore(tmp_path / "empty.duckdb"))
    assert not state.has_loads() and not state.has_messages()
    assert state.quarantine_total() == 0 and state.quarantine_pages() == 1
    assert state.quarantine_rows().empty and state.answer_counts().empty
    assert state.load_choices() == {"every load": None}
    assert set(state.table_counts()["rows"]) == {0}


def test_a_new_load_is_seen_without_restart(tmp_path):
    path = tmp_path / "db.duckdb"
    _views_db.build(path, tmp_path / "in")
    state = DataState(ReadOnlyStore(path))
    assert state.quarantine_total() == 4  # now cached
    bad = tmp_path / "more.csv"
    bad.write_text("system_id,risk_level\nS9,0\nS8,1\n")  # risk 0 is outside 1..3
    con = db.connect(path)
    try:
        ingest(con, "systems", [bad])
    finally:
        con.close()
    assert state.quarantine_total() == 5
    assert state.table_counts().set_index("table").loc["systems", "rows"] == 3
    assert state.loads()["load_id"].iloc[0] == 5


def test_deliveries_of_the_live_endpoint(tmp_path):
    """Flow 2's outbox, read from the endpoint's journal beside the database: counts by OC,
    message and state; no journal (no endpoint ever ran) is an empty table, not an error."""
    from evaluation.eintervention import journal
    path = tmp_path / "db.duckdb"
    db.connect(path).close()
    state = DataState(ReadOnlyStore(path))
    assert state.deliveries().empty
    con = journal.connect(path)
    for i, (oc, message, st) in enumerate([("OCAA", "M2", "delivered"), ("OCAA", "M2",
                                           "delivered"), ("OCAA", "M4", "failed"),
                                           ("BLEU", "M2", "pending")]):
        con.execute("INSERT INTO outbox (seq, message, ref_interv_oi, code_oc, url, body, state, "
                    "created_at, series_at, next_at, last_at) VALUES (?, ?, 'R', ?, 'u', '{}', ?, "
                    "'t', 't', ?, ?)", [i, message, oc, st, "n" if st == "pending" else None,
                                         f"2025-01-0{i + 1}"])
    con.commit()
    con.close()
    got = state.deliveries()
    assert got[["code_oc", "message", "state", "deliveries"]].values.tolist() == [
        ["BLEU", "M2", "pending", 1], ["OCAA", "M2", "delivered", 2], ["OCAA", "M4", "failed", 1]]
    assert got.loc[1, "last_attempt"] == "2025-01-02"
