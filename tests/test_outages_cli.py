"""``opeval outages`` and ``opeval blacklist`` end to end on a temporary store loaded from files.

The network (written as CSV, loaded with the real ingest): six PMs with 30 interventions
each, one a day from 2025-04-01 10:00 to 10:30, all covered by an M5 from OC01.
FI-BAD has a cut in 25 of its windows, FI-OK0..FI-OK4 in one window each; DO D001 works
at FI-BAD, D002 elsewhere. One more intervention at FI-OK0 has no HF.
Network rate: (25 + 5) / 180 = 1/6.
"""
from __future__ import annotations

import csv
import datetime as dt
import json

import pytest

from evaluation.cli import main as cli_main
from evaluation.store import db
from evaluation.store.ingest import ingest

PMS = ["FI-BAD", "FI-OK0", "FI-OK1", "FI-OK2", "FI-OK3", "FI-OK4"]


def _write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("outages_cli")
    db_path = tmp_path / "opeval.duckdb"
    base = dt.datetime(2025, 4, 1, 10, 0, 0)
    pms, ints, targets, reports, cuts = [], [], [], [], []
    for p, pm_id in enumerate(PMS):
        pms.append({"pm_id": pm_id, "oi_code": "OI01", "lines": 200, "zone": "Z1"})
        for d in range(30):
            ref = f"OI-{p}-{d:02d}"
            hd = base + dt.timedelta(days=d)
            ints.append({"ref_interv_oi": ref, "ref_interv_do": f"DO-{ref}",
                         "code_do": "D001" if pm_id == "FI-BAD" else "D002", "code_oi": "OI01",
                         "pm_id": pm_id, "started_at": hd.isoformat(),
                         "ended_at": (hd + dt.timedelta(minutes=30)).isoformat(),
                         "m1_received_at": (hd + dt.timedelta(seconds=20)).isoformat(),
                         "m3_received_at": (hd + dt.timedelta(minutes=31)).isoformat()})
            targets.append({"ref_interv_oi": ref, "nature": "racc", "pbo": "PT0000001",
                            "pto": f"FI-TGT-{p}-{d}"})
            hit = d < 25 if pm_id == "FI-BAD" else d == 0
            reports.append({"ref_interv_oi": ref, "code_oc": "OC01",
                            "received_at": (hd + dt.timedelta(hours=2)).isoformat(),
                            "clients_hs": int(hit)})
            if hit:
                cuts.append({"code_oc": "OC01", "pm_id": pm_id, "pto": f"FI-C-{p}-{d}",
                             "pbo": "inconnu", "tube": "", "fibre": "", "position_pm": "",
                             "cut_at": (hd + dt.timedelta(minutes=10)).isoformat(),
                             "restored_at": "", "cause": "", "churned": "false",
                             "ref_interv_oi": ref})
    ints.append({**ints[30], "ref_interv_oi": "OI-NOHF", "ref_interv_do": "DO-NOHF",
                 "ended_at": "", "m3_received_at": ""})
    con = db.connect(db_path)
    for kind, rows in (("pms", pms), ("interventions", ints), ("intervention_targets", targets),
                       ("outage_reports", reports), ("outages", cuts)):
        res = ingest(con, kind, [_write(tmp_path / f"{kind}.csv", rows)])
        assert res.total("quarantined") == 0, kind
    con.close()
    return db_path


@pytest.fixture
def run_cli(loaded, capsys):
    """``opeval --db <the loaded store> ARGS`` in-process: (exit code, stdout, stderr)."""
    def run(*args):
        code = cli_main(["--db", str(loaded), *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def test_outages_json_has_the_contract_keys_and_values(run_cli):
    code, out, err = run_cli("outages", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert {"pms", "dos"} <= set(d)
    pms = {r["pm_id"]: r for r in d["pms"]}
    for r in pms.values():
        assert {"pm_id", "interventions", "covered_interventions", "impacted_interventions",
                "clients_hs", "cuts_in_windows", "incident_rate"} <= set(r)
    bad, ok0 = pms["FI-BAD"], pms["FI-OK0"]
    assert (bad["interventions"], bad["covered_interventions"], bad["impacted_interventions"],
            bad["clients_hs"], bad["cuts_in_windows"]) == (30, 30, 25, 25, 25)
    assert bad["incident_rate"] == pytest.approx(25 / 30)
    # FI-OK0: 31 interventions (one without HF, never covered), 30 covered, 1 impacted.
    assert (ok0["interventions"], ok0["covered_interventions"], ok0["missing_hf"]) == (31, 30, 1)
    assert ok0["incident_rate"] == pytest.approx(1 / 30)
    dos = {r["code_do"]: r for r in d["dos"]}
    assert set(dos) == {"D001", "D002"}
    assert dos["D002"]["incident_rate"] == pytest.approx(5 / 150)
    assert dos["D002"]["missing_hf"] == 1
    assert dos["D001"]["m1_delay_median_s"] == 20
    assert d["network"]["incident_rate"] == pytest.approx(30 / 180)
    assert [r["ref_interv_oi"] for r in d["missing_hf"]] == ["OI-NOHF"]


def test_outages_csv_is_the_pm_table(run_cli, tmp_path):
    out_file = tmp_path / "pms.csv"
    code, _out, err = run_cli("outages", "--format", "csv", "--out", out_file)
    assert code == 0, err
    rows = list(csv.DictReader(out_file.open()))
    assert [r["pm_id"] for r in rows] == sorted(PMS)
    assert rows[0]["impacted_interventions"] == "25"


def test_outages_text_and_period(run_cli):
    code, out, _ = run_cli("outages", "--since", "2025-04-10", "--as-of", "2025-04-19")
    assert code == 0
    # 10 days × 6 PMs = 60 interventions; FI-BAD impacted on days 9..18 (all 10).
    assert "60 intervention(s) at 6 PM(s)" in out
    assert "FI-BAD" in out.splitlines()[10]   # first PM row: the worst rate


def test_anonymised_do_codes_are_stable_pseudonyms(run_cli):
    code, out1, err = run_cli("outages", "--format", "json", "--anonymise-do")
    assert code == 0, err
    code, out2, _ = run_cli("outages", "--format", "json", "--anonymise-do")
    d1, d2 = json.loads(out1), json.loads(out2)
    codes = [r["code_do"] for r in d1["dos"]]
    assert all(c.startswith("DO-") for c in codes) and len(set(codes)) == 2
    assert "D001" not in out1 and "D002" not in out1
    assert codes == [r["code_do"] for r in d2["dos"]]
    assert d1["anonymised_do"] is True


def test_blacklist_json_finds_the_bad_pm(run_cli):
    code, out, err = run_cli("blacklist", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert [c["pm_id"] for c in d["candidates"]] == ["FI-BAD"]
    c = d["candidates"][0]
    assert {"pm_id", "incident_rate", "interventions", "score", "evidence"} <= set(c)
    assert c["incident_rate"] == pytest.approx(25 / 30) and c["interventions"] == 30
    assert len(c["evidence"]["interventions"]) == 25 and len(c["evidence"]["cuts"]) == 25
    assert d["network_rate"] == pytest.approx(1 / 6)
    assert c["attribution"] == "unknown"     # no cut known outside windows: no baseline


def test_blacklist_min_covered_and_csv(run_cli):
    code, out, _ = run_cli("blacklist", "--min-covered", "31", "--format", "csv")
    assert code == 0
    assert out.strip().splitlines()[0].startswith('"rank","pm_id","incident_rate"')
    assert len(out.strip().splitlines()) == 1            # 30 covered < 31: no candidate
    code, out, _ = run_cli("blacklist")
    assert code == 0 and "1 candidate(s)" in out and "FI-BAD" in out


@pytest.mark.parametrize("args", [("outages", "--as-of", "2025-13-01"),
                                  ("outages", "--since", "2025-05-01", "--as-of", "2025-04-01"),
                                  ("blacklist", "--min-covered", "0"),
                                  ("blacklist", "--funnel-level", "1.5")])
def test_bad_arguments_fail_with_one_line(run_cli, args):
    code, out, err = run_cli(*args)
    assert code == 1 and out == ""
    assert err.startswith("opeval: error:") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["outages", "blacklist"])
def test_commands_bound_duckdb_memory(run_cli, monkeypatch, command):
    """Issue 12's target (< 2 GB for the whole process at 1M × 10M): both commands hold
    DuckDB to :data:`engine.ANALYSIS_MEMORY`, or to ``$OPEVAL_MEMORY_LIMIT``, and spill the
    rest to disk; the figures do not depend on it."""
    from evaluation.store import engine
    seen = []
    bound = engine.Tables.bound_memory

    def spy(self, *args):
        bound(self, *args)
        seen.append(self.backend.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    monkeypatch.setattr(engine.Tables, "bound_memory", spy)
    code, out, err = run_cli(command, "--format", "json")
    assert code == 0 and seen == ["953.6 MiB"], err       # 1GB as DuckDB shows it
    monkeypatch.setenv(engine.MEMORY_ENV, "64MB")
    code, small, _ = run_cli(command, "--format", "json")
    assert code == 0 and seen[-1] == "61.0 MiB" and json.loads(small) == json.loads(out)


def test_bad_memory_limit_fails_with_one_line(run_cli, monkeypatch):
    from evaluation.store import engine
    monkeypatch.setenv(engine.MEMORY_ENV, "lots")
    code, out, err = run_cli("outages", "--format", "json")
    assert code == 1 and out == ""
    assert err.startswith("opeval: error:") and "OPEVAL_MEMORY_LIMIT" in err
    assert len(err.strip().splitlines()) == 1
