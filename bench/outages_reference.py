"""A straightforward pandas process computing the per-PM outage figures (the bench's reference).

``python -m bench.outages_reference DIR OUT.json [--blacklist]`` reads the Parquet
files of the network tables in ``DIR`` with pandas, merges the cuts with the
intervention windows on the PM (a slice of the PMs at a time, so that the merge
fits in memory), filters to the windows, counts per intervention
and per PM, and writes the per-PM table as JSON (with ``--blacklist``, the PMs
above the exact binomial funnel instead). It follows docs/outages.md on the
bench's data (UTC, the period of the whole data): one cut per (OC, PM, PTO, cut
time) whatever its sources, power cuts and churned lines dropped, a cut that an
M5 listed attributed to that M5's intervention only, the DO's own lines dropped
for their intervention, [HD, HF] bounds included, ±5 minutes for the timestamp
quality, the union of the windows for their hours. It is written the way an
analyst would, independently of the product's code.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

CORE = ["interventions", "covered_interventions", "impacted_interventions", "clients_hs",
        "cuts_in_windows", "counted_cuts", "cuts_before_hd", "cuts_after_hf", "short_cuts"]
TOL = pd.Timedelta(minutes=5)


def per_pm(d: Path) -> pd.DataFrame:
    i = pd.read_parquet(d / "interventions.parquet",
                        columns=["ref_interv_oi", "pm_id", "started_at", "ended_at"])
    tg = pd.read_parquet(d / "intervention_targets.parquet", columns=["ref_interv_oi", "pto"])
    rep = pd.read_parquet(d / "outage_reports.parquet", columns=["ref_interv_oi"])
    o = pd.read_parquet(d / "outages.parquet", columns=["code_oc", "pm_id", "pto", "cut_at",
                                                        "restored_at", "cause", "churned",
                                                        "ref_interv_oi"])
    # one cut per (OC, PM, PTO, time): merge its rows
    o = o[o["pto"].notna() & o["cut_at"].notnull()]
    o["excluded"] = (o["cause"] == "power") | o["churned"].fillna(False).astype(bool)
    key = ["code_oc", "pm_id", "pto", "cut_at"]
    g = o.groupby(key, sort=False, observed=True)
    cuts = g.agg(restored_at=("restored_at", "min"), excluded=("excluded", "any"),
                 from_m5=("ref_interv_oi", "count")).reset_index()
    refs = o.loc[o["ref_interv_oi"].notna(), key + ["ref_interv_oi"]].drop_duplicates()
    cuts = cuts[~cuts["excluded"]].drop(columns="excluded")
    cuts["cut_no"] = np.arange(len(cuts))
    cuts["short"] = cuts["restored_at"].notna() & (cuts["restored_at"].dt.floor("D")
                                                   == cuts["cut_at"].dt.floor("D"))
    # pairs: same PM, time within the window ± 5 minutes; merged a slice of the PMs at a
    # time so that the merge (every cut of a PM with every window of that PM) fits in memory
    w = i[i["ended_at"].notna()]
    slices = max(1, int(len(cuts) * len(w) / max(w["pm_id"].nunique(), 1) // 20_000_000) + 1)
    part_c = pd.util.hash_pandas_object(cuts["pm_id"], index=False) % slices
    part_w = pd.util.hash_pandas_object(w["pm_id"], index=False) % slices
    pieces = []
    for k in range(slices):
        m = cuts[part_c.values == k].merge(w[part_w.values == k], on="pm_id")
        pieces.append(m[(m["cut_at"] >= m["started_at"] - TOL)
                        & (m["cut_at"] <= m["ended_at"] + TOL)])
    m = pd.concat(pieces, ignore_index=True)
    m["pos"] = np.select([m["cut_at"] < m["started_at"], m["cut_at"] > m["ended_at"]],
                         ["before", "after"], "in")
    listed = refs.merge(cuts[key + ["cut_no"]], on=key)[["cut_no", "ref_interv_oi"]]
    listed["listed"] = True
    m = m.merge(listed, on=["cut_no", "ref_interv_oi"], how="left")
    m["attributed"] = (m["from_m5"] == 0) | m["listed"].fillna(False).astype(bool)
    m = m.merge(tg.dropna().drop_duplicates().assign(target=True),
                on=["ref_interv_oi", "pto"], how="left")
    m["target"] = m["target"].fillna(False).astype(bool)
    inside = m[m["pos"] == "in"]
    per_cut = inside.groupby("cut_no").agg(pm_id=("pm_id", "first"), short=("short", "first"),
                                           target_only=("target", "all"))
    placed = per_cut[~per_cut["target_only"]].groupby("pm_id").size().rename("cuts_in_windows")
    target_only = per_cut[per_cut["target_only"]]
    att = m[m["attributed"] & ~m["target"]]
    per_i = pd.DataFrame({"cuts": att[att["pos"] == "in"].groupby("ref_interv_oi").size(),
                          "before": att[att["pos"] == "before"].groupby("ref_interv_oi").size(),
                          "after": att[att["pos"] == "after"].groupby("ref_interv_oi").size()})
    pi = i.set_index("ref_interv_oi").join(rep.groupby("ref_interv_oi").size().rename("m5"))
    pi = pi.join(per_i).fillna({"m5": 0, "cuts": 0, "before": 0, "after": 0})
    pi["covered"] = pi["ended_at"].notna() & pi["m5"].gt(0)
    pi["impacted"] = pi["covered"] & pi["cuts"].gt(0)
    pi["hs"] = np.where(pi["covered"], pi["cuts"], 0)
    out = pi.groupby("pm_id").agg(interventions=("pm_id", "size"),
                                  covered_interventions=("covered", "sum"),
                                  impacted_interventions=("impacted", "sum"),
                                  clients_hs=("hs", "sum"), cuts_before_hd=("before", "sum"),
                                  cuts_after_hf=("after", "sum"))
    tot = cuts.groupby("pm_id").agg(all_cuts=("cut_no", "size"), all_short=("short", "sum"))
    tgt = target_only.groupby("pm_id").agg(target_cuts=("short", "size"),
                                           target_short=("short", "sum"))
    out = out.join([placed, tot, tgt], how="outer").fillna(0)
    out["counted_cuts"] = out["all_cuts"] - out["target_cuts"]
    out["short_cuts"] = out["all_short"] - out["target_short"]
    ws = w.sort_values(["pm_id", "started_at", "ref_interv_oi"])
    prev = ws.groupby("pm_id")["ended_at"].cummax().groupby(ws["pm_id"]).shift()
    start = np.maximum(ws["started_at"], prev.fillna(ws["started_at"]))
    added = (ws["ended_at"] - start).dt.total_seconds().clip(lower=0)
    out["window_hours"] = added.groupby(ws["pm_id"]).sum().reindex(out.index).fillna(0) / 3600
    out = out[(out["interventions"] > 0) | (out["counted_cuts"] > 0)]
    return out[CORE].astype("int64").assign(window_hours=out["window_hours"])


def funnel_candidates(pms: pd.DataFrame, level: float = 0.998, min_covered: int = 10) -> list:
    """PMs above the exact binomial funnel around the network rate, with enough volume."""
    from scipy import stats
    cov, imp = pms["covered_interventions"], pms["impacted_interventions"]
    p0 = imp.sum() / cov.sum()
    p = stats.binom.sf(imp - 1, cov, p0)
    return sorted(pms.index[(cov >= min_covered) & (p < 1 - level)])


def main(argv: list[str]) -> None:
    src, out = Path(argv[0]), Path(argv[1])
    pms = per_pm(src)
    if "--blacklist" in argv:
        out.write_text(json.dumps({"above_funnel": funnel_candidates(pms)}))
    else:
        pms.index.name = "pm_id"
        out.write_text(pms.reset_index().to_json(orient="records"))


if __name__ == "__main__":
    main(sys.argv[1:])
