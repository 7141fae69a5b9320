# ---
# jupyter:
#   kernelspec:
#     display_name: Python (opeval)
#     language: python
#     name: opeval
# ---

# %% [markdown]
# # Chapter 6 operation evaluation on the demo database
#
# DB33/T 830-2011 chapter 6 asks, after maintenance and repair, whether each security system is in a
# fit state and efficient, and what to do about what threatens it: maintain, repair, partly replace
# or renew (6.3), with a validity period for the evaluation (6.1). `opeval` answers with an audit per
# system: a checklist of findings (clause, requirement, evidence, conformity, corrective action), a
# classification, a disposition with its reasons and the date until which the evaluation holds.
#
# Notebook `02` runs the same evaluation on data nobody here shaped (the azure-pdm sample). This one
# runs it on the demo database, whose planted patterns (`docs/demo.md`) give known answers: it is the
# place to see what each finding means on a case where the answer is known.
#
# Every threshold is in `evaluation.analyses.efficiency.EvaluationConfig`; every rule in the
# `efficiency` package with its clause. The notebook only calls `evaluate` and reads its result.

# %%
import subprocess
import sys
import tempfile
from pathlib import Path

import holoviews as hv
import pandas as pd
import panel as pn
from IPython.display import display

from evaluation.analyses.efficiency import DEFAULT, evaluate
from evaluation.demo import demo_database
from evaluation.reports.evaluation import write_reports
from evaluation.store.engine import open_tables

hv.extension("bokeh", logo=False, inline=True)   # BokehJS inside the notebook: its plots show offline
pn.extension(inline=True)                        # Panel widgets, their scripts and stylesheets inline too
pd.set_option("display.max_columns", 30)
DB, AS_OF = demo_database()   # $OPEVAL_DB, else ../data/opeval.duckdb; its last day
print("database:", DB.name, "- as of", AS_OF, "- window", DEFAULT.window_days, "days")

# %% [markdown]
# ## Every system at once
#
# One call evaluates every system over the window before the as-of date. The heavy work (fault
# timelines, down-time islands, SLA checks, maintenance gaps, exposure) runs in DuckDB; the result is
# a small JSON-ready dict (the one `opeval evaluate --format json` prints).

# %%
ev = evaluate(open_tables(DB), as_of=AS_OF).as_dict()
systems = {s["system_id"]: s for s in ev["systems"]}
overview = pd.DataFrame([{
    "system_id": s["system_id"], "name": s["name"], "risk_level": s["risk_level"],
    "availability": s["availability"], "mttr_h": s["mttr_h"], "sla_response": s["sla"]["response"],
    "sla_arrival": s["sla"]["arrival"], "sla_repair": s["sla"]["repair"],
    "overdue": s["maintenance_overdue"], "past_life": len(s["devices_past_service_life"]),
    "classification": s["classification"], "disposition": s["disposition"], "valid_until": s["valid_until"],
} for s in ev["systems"]]).set_index("system_id")
print("window", ev["window"]["start"], "->", ev["window"]["end"])
overview.round(3)

# %%
overview.classification.value_counts().to_frame("systems")

# %% [markdown]
# ## What the planted patterns give
#
# Each check below is a pattern planted in the demo (see `docs/demo.md`) and the finding the
# evaluation must draw from it.

# %%
# 5.1.2 periodicity: SYS-0002's last periodic maintenance is ~300 days old, the only overdue system
assert overview.index[overview.overdue].tolist() == ["SYS-0002"]
print("SYS-0002 days since maintenance:", systems["SYS-0002"]["days_since_maintenance"])

# 5.1.2 service life: SYS-0004 was installed in 2015, its devices are past their life -> renewal
s4 = systems["SYS-0004"]
print("SYS-0004:", len(s4["devices_past_service_life"]), "devices past service life;", s4["disposition_reasons"])
assert s4["disposition"] == "overall_renewal"

# repeat faults on one device: SYS-0003-D0005 failed 4 times in 68 days
assert "SYS-0003-D0005" in systems["SYS-0003"]["repeat_fault_devices"]

# under warranty, nothing due: SYS-0008
assert systems["SYS-0008"]["in_warranty"] and not systems["SYS-0008"]["maintenance_overdue"]

# %% [markdown]
# **Exposure** is the time a protected zone had no working intrusion detector (or no working
# camera): every device of that kind in the zone down at once. The demo plants a 12.5-hour hole in
# SYS-0004's warehouse and a 7.5-hour one in SYS-0006's car park.

# %%
exposure = pd.DataFrame([{**e, "system_id": sid} for sid in ("SYS-0004", "SYS-0006")
                         for e in systems[sid]["exposure"]])
exposure.sort_values("exposure_h", ascending=False).head(6).round(2)

# %%
x = exposure.set_index(["system_id", "zone", "subsystem"]).exposure_h
assert abs(x["SYS-0004", "Warehouse", "intrusion_alarm"] - 12.5) < 0.01
assert abs(x["SYS-0006", "Car park", "video_surveillance"] - 7.5) < 0.01

# %% [markdown]
# **A maintenance that did not hold.** SYS-0007 has two faults 30 h and 80 h after the end of
# every periodic maintenance of the last year. The before/after comparison of each maintenance shows
# it: faults follow within the hold period for most of them (`held` false).

# %%
eff = pd.DataFrame(systems["SYS-0007"]["maintenance_effect"])
eff[["maintenance_id", "kind", "started_at", "faults_before", "faults_after", "held", "hold_complete"]].tail(6)

# %%
periodic = eff[(eff.kind == "periodic") & eff.hold_complete]
print((~periodic.held).sum(), "of", len(periodic), "complete periodic maintenances did not hold")
assert (~periodic.held).sum() > len(periodic) / 2, 'most periodic maintenances of SYS-0007 are followed by faults'

# %% [markdown]
# ## One system in detail: the audit
#
# The findings of SYS-0004, as the risk manager reads them: each requirement with its clause, the
# evidence, the status and the corrective action. Then the trend of faults and repair time per month
# with the 5.1.1 repair limit.

# %%
findings = pd.DataFrame(s4["findings"])[["clause", "requirement", "status", "evidence", "corrective_action"]]
with pd.option_context("display.max_colwidth", 80):
    display(findings)
assert {"conforming", "nonconforming"} <= set(findings.status)

# %%
monthly = pd.DataFrame(s4["monthly"]).assign(month=lambda d: pd.to_datetime(d.month))
limit = s4["sla_limits_h"]["repair"]
bars = hv.Bars(monthly, "month", "faults").opts(width=700, height=220, tools=["hover"], color="#1f4e79",
                                                 xrotation=45, title="SYS-0004: faults per month")
mttr = (hv.Curve(monthly, "month", "mttr_h").opts(color="#c0392b", tools=["hover"])
        * hv.HLine(limit).opts(color="grey", line_dash="dashed")).opts(
    width=700, height=220, title=f"mean time to repair (h) against the {limit:g} h limit")
pn.panel((bars + mttr).cols(1))

# %% [markdown]
# ## The printable report
#
# The same evaluation renders as an HTML report per system (what `opeval evaluate --format html`
# writes and the `/evaluation` page offers for download).

# %%
out_dir = Path(tempfile.mkdtemp(prefix="opeval-nb02b-"))
paths = write_reports(ev, out_dir)
print(len(paths), "reports, e.g.", paths[0].name, f"({paths[0].stat().st_size:,} bytes)")
assert any("SYS-0004" in p.name for p in paths)

# %% [markdown]
# ## The same on the command line
#
# ```sh
# opeval evaluate --as-of 2025-06-30                          # text summary of every system
# opeval evaluate --system SYS-0004 --format json             # the dict used above
# opeval evaluate --format html --out reports/                # the printable reports
# ```

# %%
out = subprocess.run([sys.executable, "-m", "evaluation.cli", "--db", str(DB), "evaluate", "--system", "SYS-0002",
                      "--as-of", str(AS_OF)], capture_output=True, text=True, check=False)
assert out.returncode == 0, out.stderr
print("\n".join(out.stdout.splitlines()[:15]))

# %%
import shutil

shutil.rmtree(out_dir)
