"""The azure-pdm mapping (hand-made files in its format, and the real data) and the notebook run."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import shared_dataset
from evaluation.analyses.efficiency import azure_pdm, evaluate
from evaluation.store.engine import open_tables


def write_sample(folder: Path) -> Path:
    """Two machines of one model; a failure replaced in the same hour, one never replaced."""
    (folder / "PdM_machines.csv").write_text('"machineID","model","age"\n1,"model3",18\n2,"model3",0\n')
    (folder / "PdM_failures.csv").write_text(
        '"datetime","machineID","failure"\n'
        "2015-01-02 03:00:00,2,\"comp1\"\n"          # first-hours artefact: no replacement follows
        "2015-03-01 06:00:00,1,\"comp2\"\n"          # replaced in the same hour
        "2015-03-20 06:00:00,1,\"comp2\"\n"
        "2015-04-10 06:00:00,1,\"comp4\"\n")         # 3 failures of machine 1 within 40 days
    (folder / "PdM_maint.csv").write_text(
        '"datetime","machineID","comp"\n'
        "2014-12-01 06:00:00,1,\"comp1\"\n"          # scheduled
        "2015-02-15 06:00:00,2,\"comp3\"\n"          # scheduled
        "2015-03-01 06:00:00,1,\"comp2\"\n"          # replacement of the 03-01 failure
        "2015-03-20 06:00:00,1,\"comp2\"\n"
        "2015-04-10 06:00:00,1,\"comp4\"\n"
        "2015-02-01 06:00:00,2,\"comp1\"\n")         # 30 days after machine 2's failure: not its repair
    (folder / "PdM_errors.csv").write_text(
        '"datetime","machineID","errorID"\n2015-03-01 02:00:00,1,"error1"\n2015-04-30 05:00:00,2,"error3"\n')
    return folder


def test_mapping_on_hand_made_files(tmp_path):
    t = azure_pdm.frames(write_sample(tmp_path), group_by="model")
    # one system for model3; installed 2015-01-01 minus age: machine 1 on 1997-01-01, machine 2 on 2015-01-01
    assert t["systems"].system_id.tolist() == ["AZ-model3"]
    assert t["systems"].accepted_on.tolist() == [dt.date(1997, 1, 1)]
    assert t["devices"].installed_on.tolist() == [dt.date(1997, 1, 1), dt.date(2015, 1, 1)]
    f = t["faults"].set_index("fault_id")
    # F0000 (machine 2, 01-02 03:00): no replacement within a day -> restored at its own time, flagged
    assert f.loc["F0000", "restored_at"] == f.loc["F0000", "occurred_at"]
    assert "not logged" in f.loc["F0000", "action"]
    # F0001 (machine 1, 03-01 06:00): replaced in the same hour
    assert f.loc["F0001", "restored_at"] == f.loc["F0001", "occurred_at"]
    assert f.loc["F0001", "action"] == "replace comp2"
    m = t["maintenance"]
    # 3 replacements answer failures (per_call); 3 are scheduled (periodic)
    assert sorted(m.kind.value_counts().items()) == [("per_call", 3), ("periodic", 3)]
    assert t["alarms"].definition.tolist() == ["error1", "error3"]
    with pytest.raises(ValueError):
        azure_pdm.frames(tmp_path, group_by="site")


def test_mapped_store_evaluates(tmp_path):
    (tmp_path / "src").mkdir()
    counts = azure_pdm.build_db(write_sample(tmp_path / "src"),
                                tmp_path / "az.duckdb", group_by="machine")
    assert counts == {"systems": 2, "devices": 2, "faults": 4, "maintenance": 6, "alarms": 2}
    ev = {s["system_id"]: s for s in evaluate(open_tables(tmp_path / "az.duckdb")).as_dict()["systems"]}
    # as of 2015-04-30 (latest error); machine 1: 3 failures within 03-01 .. 04-10 = 40 days -> repeat
    assert ev["AZ-M001"]["repeat_fault_devices"] == ["M001"]
    assert ev["AZ-M001"]["disposition"] == "partial_replacement"
    # zero-hour repairs: availability 1, repair limit met; no report, response or arrival times
    assert ev["AZ-M001"]["availability"] == 1.0 and ev["AZ-M001"]["sla"]["repair"] == 1.0
    assert ev["AZ-M001"]["sla"]["response"] is None
    # no status on the errors: the alarm-handling line is not applicable
    st = {f["key"]: f["status"] for f in ev["AZ-M002"]["findings"]}
    assert st["unhandled_alarms"] == "not_applicable" and st["service_life"] == "not_applicable"


@pytest.mark.external
def test_real_data_mapping():
    src = shared_dataset("azure-pdm")
    t = azure_pdm.frames(src)
    assert len(t["faults"]) == 761 and len(t["maintenance"]) == 3286 and len(t["alarms"]) == 3919
    # 743 failures are replaced in the same hour; 18 (2015-01-02 03:00) have no logged replacement
    flagged = t["faults"].action.str.contains("not logged")
    assert int(flagged.sum()) == 18
    assert (t["faults"].restored_at == t["faults"].occurred_at).all()
    assert int((t["maintenance"].kind == "per_call").sum()) == 743
