# ---
# jupyter:
#   kernelspec:
#     display_name: Python (opeval)
#     language: python
#     name: opeval
# ---

# %% [markdown]
# # Getting started with opeval
#
# opeval keeps the histories of security systems (faults, maintenance, alarms) and of a fibre
# network (interventions at shared cabinets, customer cuts) in **one DuckDB file**, and answers
# three questions from them: is a security system fit after maintenance (chapter 6 of
# DB33/T 830-2011), which alarms need tuning, and which interventions cut other customers.
#
# This notebook shows the ground floor:
#
# 1. open the demo database and see what each table holds;
# 2. load a small file with a bad row and look at the quarantine;
# 3. query the tables with Ibis through `evaluation.store.engine.open_tables`;
# 4. call one analysis function;
# 5. the same steps on the command line.
#
# The next notebooks go deeper: `02b` chapter 6 evaluation, `03b` alarm analysis, `04` outage
# correlation and blacklist (see `README.md` in this folder).
#
# **The database.** The notebooks read the path from the environment variable `OPEVAL_DB`, else
# `../data/opeval.duckdb` (where `make demo` builds it, relative to this folder). Build it from the
# repository root with
#
# ```sh
# .venv/bin/opeval demo --scale small      # about 10 s; --scale medium for ~1M rows
# ```

# %%
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import ibis
import pandas as pd
from IPython.display import display

from evaluation.demo import demo_database
from evaluation.store import db
from evaluation.store.engine import open_tables
from evaluation.store.schema import LOAD_ORDER, TABLES

DB, _ = demo_database()   # $OPEVAL_DB, else ../data/opeval.duckdb
print("database:", DB.name)

# %% [markdown]
# ## 1. What the database holds
#
# `open_tables(path)` binds every table of the data contract as an Ibis table on the DuckDB file,
# read-only and in UTC. Counting rows is an Ibis expression executed by DuckDB; only the counts come
# back to Python. The description of each table, its natural key (the columns that identify a row,
# used to make re-loads idempotent) and its required columns come from the contract itself,
# `evaluation.store.schema.TABLES`.

# %%
t = open_tables(DB)
overview = pd.DataFrame([{
    "table": name,
    "rows": int(t[name].count().execute()),
    "key": ", ".join(TABLES[name].key),
    "required": ", ".join(c.name for c in TABLES[name].columns if c.required),
    "what it holds": TABLES[name].doc.split(" (")[0],
} for name in LOAD_ORDER])
overview

# %%
# every contract table of the demo database has rows
assert (overview.rows > 0).all(), overview[overview.rows == 0]

# %% [markdown]
# Beside the contract tables, the store keeps its own bookkeeping: `meta` (settings such as the
# OI codes this database belongs to, and the end of the demo world), `load_log` (every load with its
# counts: *read = accepted + quarantined*), `quarantine` (every rejected row with its file, line,
# columns and reason) and `messages` (every e-Intervention message received and the answer given).
# The `demo` setting (how the demo was built, and the folder its files went to) is left out below.

# %%
con = db.connect(DB, read_only=True)
settings = con.sql("SELECT key, value FROM meta WHERE key <> 'demo' ORDER BY key").df()
loads = con.sql("""SELECT load_id, kind, status, rows_read, quarantined, inserted, updated, unchanged
                    FROM load_log ORDER BY load_id""").df()
con.close()
display(settings)
loads

# %%
AS_OF = pd.Timestamp(settings.set_index("key").value.get("demo_as_of", "2025-07-01"))
LAST_DAY = (AS_OF - pd.Timedelta(1, "us")).date()   # as of a date = through the end of that day
print("the demo world ends at", AS_OF, "- the analyses below look at it as of", LAST_DAY)

# %% [markdown]
# A few rows of the two tables the risk manager and the network operator start from: faults of the
# security systems and customer cuts of the fibre network. `restored_at` is empty while a fault is
# open; `ref_interv_oi` is empty for cuts known from line supervision rather than from an M5.

# %%
t.faults.order_by(t.faults.occurred_at.desc()).limit(5).execute()

# %%
t.outages.select("code_oc", "pm_id", "pto", "cut_at", "restored_at", "cause", "churned",
                 "ref_interv_oi").limit(5).execute()

# %% [markdown]
# ## 2. Loading a file with a bad row
#
# Loads never change the demo database here: the database is copied into a scratch folder first.
# The small CSV below has three faults. The first is fine. The second names a system that does
# not exist, and the third was restored before it occurred: both break the contract. `ingest` reads
# the file with DuckDB's bulk reader, checks every column, **quarantines** the bad rows with their
# reasons and applies the rest in one transaction. The counts reconcile per file.

# %%
scratch = Path(tempfile.mkdtemp(prefix="opeval-nb01-"))
work_db = scratch / "opeval.duckdb"
shutil.copy(DB, work_db)
faults_csv = scratch / "faults-new.csv"
faults_csv.write_text(
    "fault_id,system_id,device_id,subsystem,occurred_at,reported_at,restored_at,repair_mode,symptom\n"
    "NB-0001,SYS-0001,SYS-0001-D0001,video_surveillance,"
    "2025-06-30T08:00:00,2025-06-30T08:05:00,2025-06-30T10:00:00,onsite,no picture\n"
    "NB-0002,SYS-9999,,video_surveillance,2025-06-30T09:00:00,,,onsite,no picture\n"
    "NB-0003,SYS-0001,SYS-0001-D0002,video_surveillance,"
    "2025-06-30T11:00:00,,2025-06-30T10:00:00,remote,frozen image\n")
print(faults_csv.read_text())

# %%
from evaluation.store.ingest import ingest

wcon = db.connect(work_db)
result = ingest(wcon, "faults", [faults_csv])
print(result.summary())
f = result.files[0]
assert (f.rows_read, f.accepted, f.quarantined) == (3, 1, 2)   # read = accepted + quarantined
assert f.rows_read == f.accepted + f.quarantined

# %%
quarantined = wcon.execute(
    "SELECT line, columns, reason FROM quarantine WHERE load_id = ? ORDER BY line", [result.load_id]).df()
wcon.close()
quarantined

# %%
# line numbers count the header as line 1: the bad rows are lines 3 and 4 of the file
assert quarantined.line.tolist() == [3, 4]
assert quarantined["columns"].tolist() == ["system_id", "restored_at"]

# %% [markdown]
# Loading the same file again changes nothing: rows are matched on the table's key
# (`fault_id`), so the good row is *unchanged* and the bad ones are quarantined again (a
# rejected row is never stored, so the sender can correct it and send it again). With
# `strict=True` (`--strict` on the command line) any rejection fails the whole load and
# nothing is applied.

# %%
from evaluation.errors import OpevalError

wcon = db.connect(work_db)
again = ingest(wcon, "faults", [faults_csv])
print(again.summary())
assert again.total("unchanged") == 1 and again.total("inserted") == 0
try:
    ingest(wcon, "faults", [faults_csv], strict=True)
except OpevalError as exc:
    print("strict load refused:", exc)
n = wcon.execute("SELECT count(*) FROM faults WHERE fault_id LIKE 'NB-%'").fetchone()[0]
wcon.close()
assert n == 1

# %% [markdown]
# ## 3. Querying with Ibis
#
# Analyses in opeval are written once with Ibis, so they run on DuckDB here and on Spark for a data
# lake, and the heavy work (joins, group-bys, windows) stays in the engine. The same style works for
# ad-hoc questions. Here: faults per subsystem over the last year, how many are still open, and the
# median repair time in hours. `ibis.to_sql` shows what DuckDB runs.

# %%
faults = t.faults
year = faults.filter((faults.occurred_at >= AS_OF - pd.Timedelta(days=365)) & (faults.occurred_at < AS_OF))
repair_h = (year.restored_at.epoch_seconds() - year.occurred_at.epoch_seconds()) / 3600
by_subsystem = (year.mutate(repair_h=repair_h)
                .group_by("subsystem")
                .agg(faults=ibis._.count(), still_open=ibis._.restored_at.isnull().sum(),
                     median_repair_h=ibis._.repair_h.median())
                .order_by(ibis.desc("faults")))
by_subsystem.execute().round(2)

# %%
print(ibis.to_sql(by_subsystem))

# %% [markdown]
# Tables join like in SQL. The busiest alarm definitions per system over the same year, with the
# share of alarms operators closed as *false alarm*:

# %%
a = t.alarms
a_year = a.filter((a.raised_at >= AS_OF - pd.Timedelta(days=365)) & (a.raised_at < AS_OF))
busiest = (a_year.join(t.systems.select("system_id", "name"), "system_id")
           .group_by(["system_id", "name", "definition"])
           .agg(alarms=ibis._.count(),
                false_share=(ibis._.close_reason == "false_alarm").cast("int").mean())
           .order_by(ibis.desc("alarms")).limit(8))
top = busiest.execute()
top.round(3)

# %%
# the demo's planted chattering door and the false alarms on a wrong schedule are among the busiest
assert {"Door held open", "Motion detected"} & set(top.definition)

# %% [markdown]
# ## 4. Calling an analysis
#
# The business rules live in `evaluation.analyses`, not in notebooks. Each analysis takes Ibis
# tables and parameters and returns Ibis tables or a small result. For example the chapter 6
# evaluation of one system: `SYS-0004` had devices past their service life and a slow repair planted
# in the demo.

# %%
from evaluation.analyses.efficiency import evaluate

ev = evaluate(t, as_of=LAST_DAY, system_ids=["SYS-0004"]).as_dict()
s = ev["systems"][0]
print(s["system_id"], "->", s["classification"], "/", s["disposition"])
pd.DataFrame(s["findings"])[["clause", "requirement", "status", "corrective_action"]].head(8)

# %%
assert s["devices_past_service_life"], "SYS-0004 was installed in 2015: its devices are past service life"
assert any(f["status"] == "nonconforming" for f in s["findings"])


# %% [markdown]
# ## 5. The same on the command line
#
# Every step above has an `opeval` command (run from the repository root; `--db` defaults to
# `$OPEVAL_DB`, else `data/opeval.duckdb`):
#
# | step | command |
# |---|---|
# | build the demo database | `opeval demo --scale small` |
# | load a file, bad rows quarantined | `opeval ingest faults faults-new.csv` (`--strict`: all or nothing) |
# | why rows were rejected | `opeval quarantine --load 12` |
# | chapter 6 evaluation | `opeval evaluate --system SYS-0004 --as-of 2025-06-30 --format json` |
# | alarm KPIs | `opeval alarms --as-of 2025-06-30 --format json` |
# | dashboards | `opeval serve` then http://127.0.0.1:5006/ |
#
# The cells below run two of them on the scratch copy, with the Python of this kernel (their output
# names the scratch folder `<scratch>`).

# %%
def opeval(*args):
    out = subprocess.run([sys.executable, "-m", "evaluation.cli", "--db", str(work_db), *map(str, args)],
                         capture_output=True, text=True, check=False)
    print((out.stdout or out.stderr).replace(str(scratch), "<scratch>"))
    return out


_ = opeval("quarantine", "--load", result.load_id)

# %%
res = opeval("ingest", "faults", faults_csv)
assert res.returncode == 0 and "quarantined 2" in (res.stdout + res.stderr)

# %%
shutil.rmtree(scratch)
