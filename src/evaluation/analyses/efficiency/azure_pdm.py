"""Map the Azure predictive-maintenance sample data onto the opeval contract.

The data (100 machines, failures and errors of 2015, maintenance from mid-2014)
is not a security system; the mapping below turns it into one so that the
chapter 6 evaluation can be checked on records nobody here shaped.

=====================  =====================================================
source                 contract
=====================  =====================================================
``PdM_machines``       ``devices``: one per machine; ``device_type`` = model;
                       ``subsystem`` = ``other``; no zone; ``installed_on`` =
                       2015-01-01 minus ``age`` years (age read as "at the
                       start of the data year").
(grouping)             ``systems``: one per model (``AZ-model3`` ...) or, with
                       ``group_by="machine"``, one per machine (``AZ-M042``);
                       ``accepted_on`` = the earliest installation in the
                       system; warranty 12 months; cycle 182 days.
``PdM_failures``       ``faults``: one per failure; ``occurred_at`` = its time;
                       no report, response or arrival time (not in the data);
                       ``restored_at`` = the time of the replacement of the
                       same component on the same machine logged in
                       ``PdM_maint`` at or after the failure (within a day);
                       for the 18 failures stamped 2015-01-02 03:00, the
                       first hours of the data, no such replacement exists
                       (the next one comes weeks later while the machine
                       keeps reporting errors): they are taken as restored
                       within the hour like the other 743, and ``action``
                       says so; ``repair_mode`` onsite, class hardware;
                       ``symptom`` = the component.
``PdM_maint``          ``maintenance``: one per replacement; ``kind`` per_call
                       when it is the replacement of a failure, else periodic
                       (scheduled); whole system (no subsystem); ``content``
                       "replace compN"; ``report_issued`` empty (the data holds
                       no reports).
``PdM_errors``         ``alarms``: one per error; ``definition`` = errorID;
                       ``resource_id`` = machine; no status (a bare event log).
=====================  =====================================================

Times are rounded to the hour in the source, and 743 of the 761 failures are
logged in the same hour as their replacement, so repair times are 0 h: the
availability and MTTR figures are lower bounds on downtime and the repair limit
of 5.1.1 is met by construction. MTBF, fault rates, repeat faults, maintenance
gaps and the survival model do not depend on repair times.

The tables are written as CSV into a temporary folder and loaded with the
regular loader (:func:`evaluation.store.ingest.ingest`), so the contract's
validation applies to them as to any input.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd

FILES = ("PdM_machines.csv", "PdM_failures.csv", "PdM_maint.csv", "PdM_errors.csv")
DATA_YEAR_START = dt.date(2015, 1, 1)
MATCH_DAYS = 1


def frames(source: str | Path, group_by: str = "model") -> dict[str, pd.DataFrame]:
    """The contract's tables (systems, devices, faults, maintenance, alarms) as pandas frames."""
    if group_by not in ("model", "machine"):
        raise ValueError("group_by must be 'model' or 'machine'")
    src = Path(source)
    missing = [f for f in FILES if not (src / f).exists()]
    if missing:
        raise FileNotFoundError(f"{src}: missing {', '.join(missing)}")
    machines = pd.read_csv(src / "PdM_machines.csv")
    failures = pd.read_csv(src / "PdM_failures.csv", parse_dates=["datetime"])
    maint = pd.read_csv(src / "PdM_maint.csv", parse_dates=["datetime"])
    errors = pd.read_csv(src / "PdM_errors.csv", parse_dates=["datetime"])

    machines["device_id"] = machines.machineID.map(lambda i: f"M{i:03d}")
    machines["system_id"] = (("AZ-" + machines.model) if group_by == "model"
                             else ("AZ-" + machines.device_id))
    machines["installed_on"] = [DATA_YEAR_START.replace(year=DATA_YEAR_START.year - int(a))
                                for a in machines.age]
    sys_of = machines.set_index("machineID").system_id
    dev_of = machines.set_index("machineID").device_id

    systems = machines.groupby("system_id").agg(accepted_on=("installed_on", "min"),
                                                machines=("device_id", "size")).reset_index()
    systems["name"] = systems.apply(
        lambda r: f"{r.system_id[3:]} fleet ({r.machines} machines)" if group_by == "model"
        else f"machine {r.system_id[3:]}", axis=1)
    systems["site"] = "azure-pdm"
    systems["warranty_months"] = 12
    systems["maintenance_cycle_days"] = 182

    devices = machines.assign(subsystem="other", device_type=machines.model, zone=None,
                              decommissioned_on=None)

    # restoration = the replacement of the same component logged at or after the failure
    f = failures.rename(columns={"datetime": "occurred_at", "failure": "comp"})
    f["fault_id"] = [f"F{i:04d}" for i in range(len(f))]
    m = maint.rename(columns={"datetime": "replaced_at"}).sort_values("replaced_at")
    f = pd.merge_asof(f.sort_values("occurred_at"), m, left_on="occurred_at", right_on="replaced_at",
                      by=["machineID", "comp"], direction="forward",
                      tolerance=pd.Timedelta(days=MATCH_DAYS))
    logged = f.replaced_at.notna()
    faults = pd.DataFrame({
        "fault_id": f.fault_id, "system_id": f.machineID.map(sys_of), "device_id": f.machineID.map(dev_of),
        "subsystem": "other", "occurred_at": f.occurred_at,
        "restored_at": f.replaced_at.where(logged, f.occurred_at),
        "repair_mode": "onsite", "repair_class": "hardware", "symptom": "failure of " + f.comp,
        "action": ("replace " + f.comp).where(logged, "restoration not logged in the source; "
                                              "assumed within the hour"),
    }).sort_values("fault_id")

    corrective = set(zip(f.machineID[f.replaced_at.notna()], f.comp[f.replaced_at.notna()],
                         f.replaced_at[f.replaced_at.notna()]))
    mk = maint.reset_index(drop=True)
    maintenance = pd.DataFrame({
        "maintenance_id": [f"W{i:05d}" for i in range(len(mk))],
        "system_id": mk.machineID.map(sys_of),
        "kind": ["per_call" if (a, c, t) in corrective else "periodic"
                 for a, c, t in zip(mk.machineID, mk.comp, mk.datetime)],
        "started_at": mk.datetime, "content": "replace " + mk.comp + " on " + mk.machineID.map(dev_of),
    })

    alarms = pd.DataFrame({
        "alarm_id": [f"E{i:05d}" for i in range(len(errors))],
        "system_id": errors.machineID.map(sys_of), "definition": errors.errorID,
        "event_type": "machine_error", "resource_id": errors.machineID.map(dev_of),
        "raised_at": errors.datetime,
    })
    return {
        "systems": systems[["system_id", "name", "site", "accepted_on", "warranty_months",
                            "maintenance_cycle_days"]],
        "devices": devices[["device_id", "system_id", "subsystem", "device_type", "zone", "installed_on",
                            "decommissioned_on"]],
        "faults": faults, "maintenance": maintenance, "alarms": alarms,
    }


def build_db(source: str | Path, path: str | Path, group_by: str = "model") -> dict[str, int]:
    """Create (or fill) the opeval store at ``path`` from the Azure files; return rows accepted per table.

    The frames go through the regular loader; a quarantined row raises, since
    the mapping must produce valid rows only.
    """
    from ...store import db
    from ...store.ingest import ingest

    tables = frames(source, group_by)
    con = db.connect(path)
    counts = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for kind in ("systems", "devices", "faults", "maintenance", "alarms"):
                csv = Path(tmp) / f"{kind}.csv"
                tables[kind].to_csv(csv, index=False)
                res = ingest(con, kind, [csv])
                q = res.total("quarantined")
                if q:
                    raise ValueError(f"azure-pdm mapping produced {q} invalid {kind} rows")
                counts[kind] = res.total("accepted")
    finally:
        con.close()
    return counts
