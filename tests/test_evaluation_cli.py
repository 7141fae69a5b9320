"""``opeval evaluate`` end to end on a temp database holding the hand-made fixture."""
from __future__ import annotations

import json
import re

import pytest

import evaluation_fixture as fx
from evaluation.store import db

KEYS = {"system_id", "classification", "disposition", "availability", "mtbf_h", "mttr_h", "sla",
        "maintenance_overdue", "days_since_maintenance", "devices_past_service_life",
        "repeat_fault_devices", "findings", "valid_until"}


@pytest.fixture
def loaded(db_path):
    con = db.connect(db_path)
    fx.load(con)
    con.close()
    return db_path


def test_json_contract_keys(loaded, run_cli):
    code, out, err = run_cli("evaluate", "--as-of", "2025-06-30", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["as_of"] == "2025-06-30"
    assert [s["system_id"] for s in data["systems"]] == ["S1", "S2", "S3", "S4", "S5", "S6"]
    for s in data["systems"]:
        assert KEYS <= set(s)
        assert set(s["sla"]) == {"response", "arrival", "repair"}
        assert s["disposition"] in ("none", "maintain", "repair", "partial_replacement", "overall_renewal")
        for f in s["findings"]:
            assert {"clause", "requirement", "status", "evidence", "corrective_action"} <= set(f)
    s1 = data["systems"][0]
    assert s1["disposition"] == "partial_replacement" and s1["devices_past_service_life"] == ["D1"]
    # the contract's sla is the findings' clock, from the occurrence (5.1.1); the report clock beside it
    assert s1["sla_clock"] == "occurrence"
    assert s1["sla"]["repair"] == pytest.approx(3 / 7) and s1["sla_from_report"]["repair"] == pytest.approx(4 / 7)
    # S4 (no record at all): no classification, no validity, no availability (6.1)
    s4 = data["systems"][3]
    assert (s4["classification"], s4["valid_until"], s4["availability"]) == ("insufficient_evidence", None, None)


def test_system_window_and_default_as_of(loaded, run_cli):
    code, out, _ = run_cli("evaluate", "--system", "S2", "--window", "30", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["as_of"] == "2025-06-30" and data["window"]["days"] == 30
    # the only fault of S2 (2025-04-01) is outside the last 30 days
    assert [s["system_id"] for s in data["systems"]] == ["S2"] and data["systems"][0]["faults"] == 0


def test_text_output(loaded, run_cli):
    code, out, _ = run_cli("evaluate", "--as-of", "2025-06-30")
    assert code == 0
    assert re.search(r"^S3\s+unfit\s+overall_renewal", out, re.MULTILINE)
    assert "M3 -> M5 (183 d, due 2025-06-29): access_control, intrusion_alarm, video_surveillance" in out
    # S1 response/arrival/repair shares, occurrence/report: 50/50, 33/33, 43/57
    assert re.search(r"^S1\s+impaired\s+partial_replacement .* 50/50\s+33/33\s+43/57 ", out, re.MULTILINE)
    assert re.search(r"^S4\s+insufficient_evidence\s+maintain .* none$", out, re.MULTILINE)
    assert ("insufficient evidence to classify (6.1): no fault and no maintenance record in the window; "
            "no validity date") in out


def test_html_single_file_and_directory(loaded, run_cli, tmp_path):
    target = tmp_path / "report.html"
    code, _, err = run_cli("evaluate", "--as-of", "2025-06-30", "--format", "html", "--out", str(target))
    assert code == 0, err
    page = target.read_text()
    assert page.count('class="page"') == 6 and "@media print" in page
    # self-contained: no external resource of any kind
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script" not in page and "@import" not in page and "url(" not in page
    assert "Partial replacement" in page and "M4, M5" in page
    s4 = page[page.index('id="system-S4"'):page.index('id="system-S5"')]
    assert "Insufficient evidence" in s4 and "no fault and no maintenance record in the window" in s4
    assert "no evidence" in s4 and ">none<" in s4
    assert "From the fault's occurrence" in page and "From the report" in page
    assert "Maintenance cycle per subsystem" in page and "access_control" in page
    code, out, _ = run_cli("evaluate", "--as-of", "2025-06-30", "--format", "html",
                           "--out", str(tmp_path / "dir") + "/")
    assert code == 0 and "6 report(s)" in out
    assert (tmp_path / "dir" / "evaluation-S3.html").read_text().count('class="page"') == 1


@pytest.mark.parametrize("args, message", [
    (("--system", "NOPE"), "unknown system(s): NOPE"),
])
def test_user_errors(loaded, run_cli, args, message):
    code, _, err = run_cli("evaluate", *args)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1


def test_bad_date_is_rejected(loaded, run_cli):
    with pytest.raises(SystemExit) as exc:
        run_cli("evaluate", "--as-of", "2025-02-30")
    assert exc.value.code == 2


def test_empty_database(db_path, run_cli):
    db.connect(db_path).close()
    code, _, err = run_cli("evaluate")
    assert code == 1 and "no fault, maintenance or alarm recorded" in err
