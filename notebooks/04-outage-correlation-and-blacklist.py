# ---
# jupyter:
#   kernelspec:
#     display_name: Python (opeval)
#     language: python
#     name: opeval
# ---

# %% [markdown]
# # Interventions at shared cabinets and customer cuts: correlation and blacklist
#
# The network operator (OI) owns the fibre network; commercial operators (OC) sell lines on it;
# ordering parties (DO) send technicians to the shared cabinets (PM). Under the e-Intervention
# protocol (lot 1) the DO declares each presence period with its start and end (HD/HF, messages
# M1/M3), the OI forwards the anonymised window to every OC present at the PM (M2/M4), and an OC that
# uses flow 3 answers with the clients it lost during the window (M5), **also when it lost none**.
# So an intervention without an M5 is *unknown*, never "nobody was cut".
#
# This notebook follows the network operator's questions on the demo database:
#
# 1. Which PMs have interventions that cut other customers, and how often? (`analyse`)
# 2. Which PMs are so bad that they belong on a blacklist, credibly and not by chance? (`blacklist`)
# 3. Which DOs declare their windows badly (timestamp quality)?
#
# Every rule (what counts as a cut, what a covered intervention is, the 5-minute tolerance) lives in
# `evaluation.analyses.outages.rules` with the clause it implements; this notebook only calls the
# analysis and looks at its small results. See also `docs/outages.md`.

# %%
import subprocess
import sys

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn

from evaluation import period
from evaluation.analyses.blacklist import BlacklistConfig, blacklist
from evaluation.analyses.outages import analyse
from evaluation.analyses.outages.report import period_dict, warnings
from evaluation.analyses.outages.stats import funnel
from evaluation.demo import demo_database
from evaluation.store.engine import open_tables

hv.extension("bokeh", logo=False, inline=True)   # BokehJS inside the notebook: its plots show offline
pn.extension(inline=True)                        # Panel widgets, their scripts and stylesheets inline too
pd.set_option("display.max_columns", 30)
DB, AS_OF = demo_database()   # $OPEVAL_DB, else ../data/opeval.duckdb; its last day
t = open_tables(DB)
print("database:", DB.name, "- as of", AS_OF)

# %% [markdown]
# ## 1. Correlation per PM
#
# `analyse` binds the correlation to the period in the engine (interventions' windows, the
# counted cuts, the cut-window pairs) and returns small per-PM, per-DO and per-OC tables plus network
# totals. For each PM over the period:
#
# * `interventions` — its interventions; `covered_interventions` — those with at least one M5;
# * `impacted_interventions` — covered ones with at least one counted cut in their window;
# * `incident_rate` = impacted / covered;
# * `cuts_in_windows` — every counted cut at the PM inside one of its windows, whatever its source (M5
#   or line supervision); `rate_ratio` — the cut rate inside windows over the rate outside them.
#
# A cut is *counted* only if it is not a power cut, not on the line the DO works on, its PTO and time
# are known and the line has not churned.

# %%
report = analyse(t, as_of=AS_OF)
print(period.describe(period_dict(report.period)))
print("warnings:", warnings(report.period))
pd.Series(report.network).drop("excluded_cuts").to_frame("network")

# %%
pd.Series(report.network["excluded_cuts"], name="cuts not counted, by reason").to_frame()

# %%
cols = ["pm_id", "lines", "interventions", "covered_interventions", "impacted_interventions",
        "incident_rate", "cuts_in_windows", "cuts_out_of_windows", "rate_ratio"]
pms = report.pms[cols].sort_values("incident_rate", ascending=False)
pms.head(8).round(3)

# %% [markdown]
# The three PMs planted as bad in the demo (`FI-35238-0001`, `FI-44109-0001`, `FI-29019-0001`)
# have the highest rates among PMs with real volume. At the very top sits `FI-56121-0001`: one
# intervention, covered, one client cut: a rate of 1 on a single observation. Ranking PMs by raw rate
# puts noise first; the blacklist below must not.

# %%
top = pms.set_index("pm_id")
bad = ["FI-35238-0001", "FI-44109-0001", "FI-29019-0001"]
assert (top.loc[bad, "incident_rate"] > 0.35).all()
assert top.loc["FI-56121-0001", ["covered_interventions", "impacted_interventions"]].tolist() == [1, 1]
others = top.drop(index=bad + ["FI-56121-0001"])
assert (others[others.covered_interventions >= 10].incident_rate < 0.2).all()

# %% [markdown]
# **Operators that do not answer.** `NOIR` never uses flow 3: it sent no M5, so its clients'
# cuts reach the OI only through line supervision. Counting its silence as "no impact" would lower the
# incident rate; the analysis keeps covered and uncovered interventions apart instead.

# %%
report.ocs[["code_oc", "uses_flow3", "m5_received", "m5_empty", "m5_cuts", "supervision_cuts",
            "counted_cuts", "power_cuts"]]

# %%
ocs = report.ocs.set_index("code_oc")
assert not ocs.loc["NOIR", "uses_flow3"] and ocs.loc["NOIR", "m5_received"] == 0
assert ocs.loc["OCAA", "m5_empty"] > 0   # an OC using flow 3 also sends empty M5s

# %% [markdown]
# ## 2. The blacklist
#
# The e-Intervention specification lists, among its evolutions, a blacklist of PMs whose incident
# rate is too high. `blacklist` makes "too high" a statistical statement (thresholds in
# `BlacklistConfig`, method in the module's docstring):
#
# * at least `min_covered` covered interventions;
# * the impacted count above the exact binomial **funnel** limit (99.8 %) around the network rate for
#   that many covered interventions — the limit narrows as volume grows;
# * an empirical-Bayes **beta-binomial** prior over all PMs: the posterior probability that the PM's
#   true rate exceeds the network's must reach 95 %;
# * where supervision shows cuts outside windows too, the in/out-of-window rate ratio must be credibly
#   above 1, otherwise the PM is *fragile* rather than damaged by interventions.
#
# Candidates are ranked by `score`, the expected number of excess incidents over the period.

# %%
cfg = BlacklistConfig()
bl = blacklist(t, as_of=AS_OF, config=cfg)
print(f"network rate {bl.network_rate:.3f}; prior mean {bl.prior['mean']:.3f}, strength {bl.prior['strength']:.1f}")
bl.candidates[["rank", "pm_id", "incident_rate", "covered_interventions", "impacted_interventions",
               "shrunken_rate", "posterior_prob_above", "funnel_p_value", "score", "attribution",
               "trend_direction"]].round(4)

# %%
assert bl.candidates.pm_id.tolist()[:3] == bad, bl.candidates.pm_id.tolist()
assert "FI-56121-0001" not in set(bl.candidates.pm_id)      # 1 of 1 is never enough evidence
noise = bl.table.set_index("pm_id").loc["FI-56121-0001"]
print("noise PM: funnel p", round(noise.funnel_p_value, 3), "posterior", round(noise.posterior_prob_above, 3))

# %% [markdown]
# ### The funnel plot
#
# Each PM is a point: covered interventions against incident rate. The line is the funnel limit
# around the network rate: a PM above it has more impacted interventions than chance allows at its
# volume. Small PMs can reach high rates inside the funnel; the bad PMs stand out at high volume.

# %%
table = bl.table
n = np.arange(1, int(table.covered_interventions.max()) + 2)
upper, _lo, _p = funnel(np.zeros_like(n), n, bl.network_rate, cfg.funnel_level)
points = hv.Points(table.assign(candidate=table.candidate.map({True: "candidate", False: "other"})),
                   ["covered_interventions", "incident_rate"], ["pm_id", "candidate", "impacted_interventions"])
limit = hv.Curve((n, upper), "covered_interventions", "incident_rate", label=f"funnel {cfg.funnel_level:.1%}")
network = hv.HLine(bl.network_rate).opts(color="grey", line_dash="dashed")
pn.panel((points.opts(color="candidate", cmap={"candidate": "#c0392b", "other": "#1f4e79"}, size=7,
                      tools=["hover"], width=700, height=380, legend_position="top_left")
          * limit.opts(color="#c0392b") * network).opts(title="Incident rate against covered interventions"))

# %% [markdown]
# ### Evidence for the first candidate
#
# The blacklist keeps, for each candidate, its impacted interventions and the counted cuts inside
# their windows, with their source (M5 or supervision). This is what an OI shows the DO when it asks
# for a corrective action.

# %%
first = bl.candidates.pm_id.iloc[0]
ev = bl.evidence[first]
print(first, ":", len(ev["interventions"]), "impacted interventions,", len(ev["cuts"]), "cuts")
pd.DataFrame(ev["interventions"]).head(5)

# %%
cuts = pd.DataFrame(ev["cuts"])
assert len(ev["interventions"]) == int(bl.candidates.impacted_interventions.iloc[0])
assert set(cuts.source) <= {"m5", "supervision"}
cuts.head(5)

# %% [markdown]
# ## 3. Timestamp quality per DO
#
# The DO's HD must not be after the first manipulation that can cut customers nor more than 5 minutes
# before it, and HF likewise around the last one. Cuts a little before HD or after HF, and M1 messages
# arriving long after HD (or after the M3), are signs of windows declared carelessly. `RAPI` is the
# sloppy DO of the demo.

# %%
dos = report.dos[["code_do", "interventions", "incident_rate", "cuts_before_hd", "cuts_after_hf",
                   "m3_before_m1", "m1_late", "m1_delay_median_s", "m1_delay_p90_s"]]
dos.sort_values("m1_delay_median_s", ascending=False).round(3)

# %%
worst = dos.sort_values("m1_delay_median_s", ascending=False).code_do.iloc[0]
assert worst == "RAPI"
d = dos.set_index("code_do")
others = d.drop(index="RAPI")[["cuts_before_hd", "cuts_after_hf"]].sum(axis=1)
assert d.loc["RAPI", "cuts_before_hd"] + d.loc["RAPI", "cuts_after_hf"] >= others.max()

# %% [markdown]
# ## The same on the command line
#
# ```sh
# opeval outages --as-of 2025-06-30 --format json      # per PM / DO / OC, network totals
# opeval blacklist --as-of 2025-06-30 --format csv     # candidates, most urgent first
# opeval serve                                         # the /outages page: funnel, blacklist, timeline
# ```

# %%
out = subprocess.run([sys.executable, "-m", "evaluation.cli", "--db", str(DB), "blacklist",
                      "--as-of", str(AS_OF), "--format", "csv"], capture_output=True, text=True, check=False)
assert out.returncode == 0, out.stderr
print("\n".join(out.stdout.splitlines()[:4]))
