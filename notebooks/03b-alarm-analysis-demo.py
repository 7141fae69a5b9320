# ---
# jupyter:
#   kernelspec:
#     display_name: Python (opeval)
#     language: python
#     name: opeval
# ---

# %% [markdown]
# # Alarm analysis on the demo database
#
# The alarm operator and the supervisor ask: how heavy is the load, when does it flood, which few
# alarm definitions make most of it (bad actors), which alarms chatter or repeat, which are mostly
# false and when, who handles alarms how fast, and which open alarms are probably false. The VMS alarm
# guide gives the life cycle (priority 1-5, handle, escalate, expire, close with a reason); the
# ISA-18.2 / EEMUA 191 benchmarks give the KPIs (alarms per 10 minutes, floods of more than 10 in 10
# minutes, chattering = 3 raises within a minute, ...). Thresholds live in
# `evaluation.analyses.alarms.AlarmRules`.
#
# Notebook `03` runs the analysis on the Tennessee Eastman process alarm logs (an external dataset);
# this one runs it on the demo database, whose planted patterns (`docs/demo.md`) give known answers:
# a chattering door contact, false motion alarms on a wrong schedule, a flood during a car-park
# incident, standing alarms, and a slow operator.

# %%
import datetime as dt
import subprocess
import sys

import holoviews as hv
import ibis
import pandas as pd
import panel as pn
from ibis import _

from evaluation import period
from evaluation.analyses.alarms import AlarmRules, alarm_report, instances, select
from evaluation.analyses.alarms import model as fa_model
from evaluation.analyses.alarms.nuisance import flag_nuisance, history
from evaluation.demo import demo_database
from evaluation.store.engine import open_tables

hv.extension("bokeh", logo=False, inline=True)   # BokehJS inside the notebook: its plots show offline
pn.extension(inline=True)                        # Panel widgets, their scripts and stylesheets inline too
pd.set_option("display.max_columns", 30)
DB, AS_OF = demo_database()   # $OPEVAL_DB, else ../data/opeval.duckdb; its last day
tables = open_tables(DB)
alarms = tables.alarms
print("database:", DB.name, "- as of", AS_OF)

# %% [markdown]
# ## The whole report
#
# `alarm_report` computes every KPI in the engine (one windowed pass over the alarms, the rest are
# aggregations) and returns a small JSON-ready dict, the one `opeval alarms --format json` prints.

# %%
report = alarm_report(alarms, as_of=AS_OF, zone=tables.zone)   # a date: through its end
LAST = dt.datetime.fromisoformat(report["kpis"]["as_of"])   # the last instant of that day
print(period.describe(report["period"]), report["warnings"])
k = report["kpis"]
pd.Series({key: k[key] for key in ("alarms", "systems", "definitions", "avg_per_10min", "rate_class",
                                   "rate_grade", "peak_per_10min", "floods", "busy_hour_share",
                                   "chattering_alarms", "fleeting_alarms", "repeat_share",
                                   "standing", "stale", "stale_episodes", "stale_daily_max",
                                   "top10_share", "false_alarm_rate", "closed_without_reason",
                                   "median_handle_s", "escalated_share", "expired_share",
                                   "high_priority_share")}).to_frame("value")

# %%
pd.Series(k["benchmark_status"], name="against the benchmark").to_frame()

# %% [markdown]
# ## Floods
#
# A flood is a run of 10-minute intervals with more than 10 alarms for one system. The demo plants one:
# SYS-0006, 2025-05-17 from 02:10, the night the car-park cameras went down.

# %%
floods = pd.DataFrame(report["floods"])
floods[["system_id", "start", "end", "minutes", "alarms", "peak_per_10min", "top_contributors"]]

# %%
f = floods.iloc[0]
assert f.system_id == "SYS-0006" and str(f.start).startswith("2025-05-17T02:1")
assert f.peak_per_10min > 10

# %% [markdown]
# ## Bad actors, chattering, repeats
#
# A handful of definitions make most of the load (the Pareto list). `Door held open` on
# `SYS-0003-D0007` chatters: 40 bursts of 3-6 raises a few seconds apart.

# %%
pd.DataFrame(report["bad_actors"]).round(3)

# %%
defs = pd.DataFrame(report["definitions"])
chatter = defs[defs.chattering].sort_values("chatter_index", ascending=False)
chatter[["definition", "resource_id", "alarms", "chatter_raises", "chatter_index", "false_alarm_rate"]].head(5).round(3)

# %%
assert ("Door held open", "SYS-0003-D0007") in set(zip(chatter.definition, chatter.resource_id))

# %% [markdown]
# ## False alarms by hour: a wrong schedule
#
# `Motion detected` on two cameras of SYS-0005 fires most mornings between 06:00 and 07:30 (the
# cleaners, while the shop is closed) and operators close those alarms as false. The false-alarm rate
# of that definition on that system by hour of day shows it. Below the chart, the tuning advice the
# analysis gives per definition (`evaluation.analyses.alarms.tuning`), each with its evidence.

# %%
inst = instances(select(alarms, LAST))
flagged = flag_nuisance(inst, AlarmRules())


def false_alarms_by_hour(system_id: str, definition: str) -> pd.DataFrame:
    one = flagged.filter((flagged.system_id == system_id) & (flagged.definition == definition))
    hours = (one.mutate(hour=one.raised_at.hour())
             .group_by("hour").agg(alarms=_.count(), false_alarms=(_.close_reason == "false_alarm").sum())
             .order_by("hour").execute())
    return hours.assign(false_rate=hours.false_alarms / hours.alarms)


def hour_chart(system_id: str, definition: str) -> hv.Bars:
    hours = false_alarms_by_hour(system_id, definition)
    return hv.Bars(hours.assign(hour=hours.hour.map("{:02d}h".format)), "hour",
                   ["false_alarms", "alarms", "false_rate"]).opts(
        width=700, height=260, tools=["hover"], color="#c0392b", ylabel="false alarms",
        title=f"{system_id} '{definition}': false alarms by hour of day")


by_hour = false_alarms_by_hour("SYS-0005", "Motion detected")
pn.panel(hour_chart("SYS-0005", "Motion detected"))

# %%
morning = by_hour[by_hour.hour.isin([6, 7])].false_alarms.sum()
assert morning > 0.5 * by_hour.false_alarms.sum(), "most false motion alarms fall between 06:00 and 08:00"
pd.DataFrame(report["tuning"])[["definition", "kind", "advice"]]

# %% [markdown]
# The same chart for the other definitions with the most false alarms: pick one in the list. The
# widget is a Panel widget (`pn.extension()` above): it redraws the chart while the notebook's kernel
# runs; the saved notebook shows the first choice.

# %%
worst = (flagged.filter(flagged.close_reason == "false_alarm")
         .group_by(["system_id", "definition"]).agg(false_alarms=_.count())
         .order_by([ibis.desc("false_alarms"), "system_id", "definition"]).limit(8).execute())
pairs = {f"{s} · {d}": (s, d) for s, d in zip(worst.system_id, worst.definition)}
pairs.setdefault("SYS-0005 · Motion detected", ("SYS-0005", "Motion detected"))
choice = pn.widgets.Select(name="system · definition", options=pairs, value=("SYS-0005", "Motion detected"))
pn.Column(choice, pn.bind(lambda pair: hour_chart(*pair), choice))

# %% [markdown]
# ## Handling per operator and standing alarms
#
# `op.zhao` takes alarms in hand about three times slower than the others. Four alarms on SYS-0009
# stand `in_progress` for weeks, never cleared nor closed.

# %%
ops = pd.DataFrame(report["operators"]).sort_values("median_handle_s", ascending=False)
ops[["assigned_to", "alarms", "handled", "median_handle_s", "median_close_s", "escalated_share"]].head(5).round(3)

# %%
assert ops.assigned_to.iloc[0] == "op.zhao"
assert ops.median_handle_s.iloc[0] > 2 * ops.median_handle_s.iloc[1:].median()
standing = pd.DataFrame(report["standing"])
assert {"SYS-0009-D0008", "SYS-0009-D0007"} <= set(standing.resource_id)
standing[["alarm_id", "system_id", "definition", "resource_id", "status", "age_h"]].round(1)

# %% [markdown]
# ## History review of one alarm
#
# The guide's *history*: every time an alarm fired, to tell a repetitive alarm. Here the chattering
# door, with the gap to the previous raise and the chatter / repeat flags.

# %%
door = history(flagged, "Door held open", "SYS-0003-D0007").execute()
print(len(door), "raises;", int(door.chatter.sum()), "flagged as chatter")
door.head(8)

# %% [markdown]
# ## Which open alarms are probably false?
#
# The false-alarm model (scikit-learn, trained on closed alarms before a split date, evaluated on
# those after it against a per-definition baseline) scores the alarms still open.

# %%
m = fa_model.fit(alarms)
ev = m.metadata.get("evaluation", {})
print({side: {k: ev.get(side, {}).get(k) for k in ("roc_auc", "precision", "recall")}
       for side in ("model", "baseline")})
ranked = pd.DataFrame(fa_model.score_open(m, alarms, limit=10))
ranked.round(3)

# %%
assert ranked.empty or ranked.p_false.is_monotonic_decreasing

# %% [markdown]
# ## The same on the command line
#
# ```sh
# opeval alarms --as-of 2025-06-30                 # text KPIs, floods, bad actors, tuning advice
# opeval alarms --as-of 2025-06-30 --format json   # the dict used above
# opeval serve                                     # the /alarms page
# ```

# %%
out = subprocess.run([sys.executable, "-m", "evaluation.cli", "--db", str(DB), "alarms",
                      "--as-of", AS_OF.isoformat()], capture_output=True, text=True, check=False)
assert out.returncode == 0, out.stderr
print("\n".join(out.stdout.splitlines()[:20]))
