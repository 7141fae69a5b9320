"""Interventions × customer cuts: the correlation at scale, against plain pandas.

Targets (issue 5): 1M interventions × 10M cuts correlated in < 10 s; at
200k × 2M at least 10× faster than a straightforward pandas implementation
measured in the same run; peak memory of each reported.

The data are generated (vectorised numpy, then typed in DuckDB) into a store
file: PMs, interventions with HD/HF (1 % without HF), one target line each,
M5 reports (≈60 % of interventions covered), and cuts — 30 % inside windows
(half of them from M5s), the rest spread over the year (supervision), with
power cuts, churned lines and unknown PTOs mixed in.

*opeval* is timed from the store file to the per-PM table in memory
(``correlate`` + ``per_pm``: window matching, target exclusion, coverage,
per-intervention counts, union of window hours, baseline). The *reference* is
timed on DataFrames already in memory (loading them is not counted): merge on
PM, filter on the window, drop targets, group by. Both produce the per-PM
interventions / covered / impacted / clients_hs / cuts_in_windows, which the
bench checks are equal.
"""
from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bench.measure import line, measure

# imported here so that the measured child process has them loaded before the clock starts
from evaluation.analyses.outages.report import correlate
from evaluation.store.engine import open_tables

T0 = np.datetime64("2025-01-01T00:00:00", "s")
YEAR_S = 365 * 86400


def _ts(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(T0 + seconds.astype("timedelta64[s]"), mask=mask)


def build(path: str, n_int: int, n_cut: int, n_pm: int, seed: int = 5) -> None:
    """Write a generated network into a fresh store at ``path``."""
    from evaluation.store import db
    r = np.random.default_rng(seed)
    pm = r.integers(0, n_pm, n_int)
    hd = r.integers(0, YEAR_S, n_int)
    dur = r.integers(20 * 60, 240 * 60, n_int)
    hf = hd + dur
    no_hf = r.random(n_int) < 0.01
    m1 = hd + r.exponential(90, n_int).astype(np.int64)
    inter = pa.table({"i": np.arange(n_int), "d": r.integers(0, 40, n_int), "pm": pm,
                      "hd": _ts(hd), "hf": _ts(hf, no_hf), "m1": _ts(m1), "m3": _ts(hf + 30, no_hf)})
    covered = (r.random(n_int) < 0.6) & ~no_hf
    second = covered & (r.random(n_int) < 0.5)
    rep_i = np.concatenate([np.flatnonzero(covered), np.flatnonzero(second)])
    reports = pa.table({"i": rep_i, "oc": np.r_[np.zeros(covered.sum(), int), np.ones(second.sum(), int)],
                        "t_at": _ts(hf[rep_i] + 600)})
    n_in = int(n_cut * 0.3)
    n_out = n_cut - n_in
    k = r.choice(np.flatnonzero(~no_hf), n_in)
    c_pm = np.r_[pm[k], r.integers(0, n_pm, n_out)]
    c_t = np.r_[hd[k] + (r.random(n_in) * dur[k]).astype(np.int64), r.integers(0, YEAR_S, n_out)]
    oc = r.integers(0, 4, n_cut)
    from_m5 = np.r_[covered[k] & (oc[:n_in] < 2), np.zeros(n_out, bool)]
    is_target = np.r_[r.random(n_in) < 0.05, np.zeros(n_out, bool)]
    pto = np.where(is_target, -np.r_[k, np.zeros(n_out, int)] - 1, r.integers(0, 10**9, n_cut))
    restored = c_t + r.exponential(4 * 3600, n_cut).astype(np.int64)
    cuts = pa.table({"oc": oc, "pm": c_pm, "pto": pto, "t_at": _ts(c_t), "rest": _ts(restored),
                     "power": r.random(n_cut) < 0.05, "churned": r.random(n_cut) < 0.02,
                     "unknown": r.random(n_cut) < 0.01,
                     "ref": pa.array(np.r_[k, np.zeros(n_out, int)], mask=~from_m5)})
    con = db.connect(path)
    con.register("g_int", inter)
    con.register("g_rep", reports)
    con.register("g_cut", cuts)
    con.execute("INSERT INTO pms SELECT 'FI-' || lpad(i::VARCHAR, 6, '0'), 'OI01', 300, NULL "
                f"FROM range({n_pm}) t(i)")
    con.execute("""INSERT INTO interventions SELECT 'OI-' || i, 'DO-' || i,
        'D' || lpad(d::VARCHAR, 3, '0'), 'OI01', 'FI-' || lpad(pm::VARCHAR, 6, '0'),
        hd, hf, m1, m3 FROM g_int""")
    con.execute("""INSERT INTO intervention_targets SELECT 'OI-' || i, 'racc', NULL,
        'PTO-T' || i FROM g_int""")
    con.execute("""INSERT INTO outage_reports SELECT 'OI-' || i, 'OC0' || oc, t_at, 0 FROM g_rep""")
    con.execute("""INSERT INTO outages SELECT 'OC0' || oc, 'FI-' || lpad(pm::VARCHAR, 6, '0'),
        CASE WHEN unknown THEN 'inconnu' WHEN pto < 0 THEN 'PTO-T' || (-pto - 1)
             ELSE 'PTO-' || pto END,
        NULL, NULL, NULL, NULL, t_at, rest, CASE WHEN power THEN 'power' END, churned,
        'OI-' || ref FROM g_cut""")
    con.execute("CHECKPOINT")
    con.close()


_CORE = ["interventions", "covered_interventions", "impacted_interventions", "clients_hs",
         "cuts_in_windows", "counted_cuts", "cuts_before_hd", "cuts_after_hf", "short_cuts"]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_opeval(path: str) -> tuple[float, pd.DataFrame]:
    """The product's path: store file → per-PM table (pandas); also its CPU seconds."""
    c0 = _cpu()
    t = open_tables(path)
    corr = correlate(t)
    pms = corr.per_pm().to_pandas()
    corr.release()
    return _cpu() - c0, pms.set_index("pm_id")[_CORE + ["window_hours"]]


def load_frames(path: str) -> dict[str, pd.DataFrame]:
    import duckdb
    con = duckdb.connect(path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    out = {name: con.table(name).df() for name in
           ("interventions", "intervention_targets", "outage_reports", "outages")}
    con.close()
    return out


def pandas_reference(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A straightforward pandas version of the same per-PM table.

    Merge cuts and windows on the PM, keep pairs within [HD − 5 min, HF + 5 min],
    flag targets, then group: per intervention, per cut, per PM; union of the
    windows by a cumulative maximum.
    """
    i, tg, rep, o = (frames[k] for k in ("interventions", "intervention_targets",
                                           "outage_reports", "outages"))
    o = o[(o["cause"] != "power") & ~o["churned"].fillna(False) & o["pto"].notna()
          & (o["pto"].str.strip().str.lower() != "inconnu")].copy()
    o["cut_no"] = np.arange(len(o))
    o["short"] = o["restored_at"].notna() & (o["restored_at"].dt.floor("D")
                                             == o["cut_at"].dt.floor("D"))
    tol = pd.Timedelta(minutes=5)
    w = i[i["ended_at"].notna()][["ref_interv_oi", "pm_id", "started_at", "ended_at"]]
    m = o.merge(w, on="pm_id", suffixes=("_cut", ""))
    m = m[(m["cut_at"] >= m["started_at"] - tol) & (m["cut_at"] <= m["ended_at"] + tol)]
    m["pos"] = np.select([m["cut_at"] < m["started_at"], m["cut_at"] > m["ended_at"]],
                         ["before", "after"], "in")
    tk = tg[["ref_interv_oi", "pto"]].drop_duplicates().assign(target=True)
    m = m.merge(tk, on=["ref_interv_oi", "pto"], how="left")
    m["target"] = m["target"].notna()
    inside = m[m["pos"] == "in"]
    st = inside.groupby("cut_no").agg(pm_id=("pm_id", "first"), short=("short", "first"),
                                      customer=("target", lambda s: (~s).any()))
    per_pm_st = st.assign(tgt=~st["customer"], tgt_short=~st["customer"] & st["short"],
                          in_short=st["customer"] & st["short"]).groupby("pm_id").agg(
        cuts_in_windows=("customer", "sum"), target_cuts=("tgt", "sum"),
        target_short=("tgt_short", "sum"))
    att = m[~m["target"] & (m["ref_interv_oi_cut"].isna()
                            | (m["ref_interv_oi_cut"] == m["ref_interv_oi"]))]
    per_i = pd.DataFrame({"cuts": att[att["pos"] == "in"].groupby("ref_interv_oi").size(),
                          "before": att[att["pos"] == "before"].groupby("ref_interv_oi").size(),
                          "after": att[att["pos"] == "after"].groupby("ref_interv_oi").size()})
    cov = rep.groupby("ref_interv_oi").size().rename("m5")
    pi = i.set_index("ref_interv_oi").join(cov).join(per_i).fillna(
        {"m5": 0, "cuts": 0, "before": 0, "after": 0})
    pi["covered"] = pi["ended_at"].notna() & pi["m5"].gt(0)
    pi["impacted"] = pi["covered"] & pi["cuts"].gt(0)
    pi["hs"] = np.where(pi["covered"], pi["cuts"], 0)
    g = pi.groupby("pm_id").agg(interventions=("pm_id", "size"),
                                covered_interventions=("covered", "sum"),
                                impacted_interventions=("impacted", "sum"),
                                clients_hs=("hs", "sum"), cuts_before_hd=("before", "sum"),
                                cuts_after_hf=("after", "sum"))
    tot = o.groupby("pm_id").agg(all_cuts=("cut_no", "size"), all_short=("short", "sum"))
    g = g.join([per_pm_st, tot], how="outer").fillna(0)
    g["counted_cuts"] = g["all_cuts"] - g["target_cuts"]
    g["short_cuts"] = g["all_short"] - g["target_short"]
    ws = w.sort_values(["pm_id", "started_at", "ref_interv_oi"])
    prev = ws.groupby("pm_id")["ended_at"].transform(lambda s: s.cummax().shift())
    start = np.maximum(ws["started_at"], prev.fillna(ws["started_at"]))
    added = (ws["ended_at"] - start).dt.total_seconds().clip(lower=0)
    g["window_hours"] = added.groupby(ws["pm_id"]).sum().reindex(g.index).fillna(0) / 3600
    g = g[(g["interventions"] > 0) | (g["counted_cuts"] > 0)]
    return g[_CORE].astype("int64").assign(window_hours=g["window_hours"])


def _pandas_timed(path: str) -> tuple[float, float, pd.DataFrame]:
    frames = load_frames(path)
    t0, c0 = time.perf_counter(), _cpu()
    out = pandas_reference(frames)
    return time.perf_counter() - t0, _cpu() - c0, out


def main(scale: str) -> None:
    sizes = {"small": [(20_000, 200_000, 2_000, True), (100_000, 1_000_000, 10_000, False)],
             "full": [(200_000, 2_000_000, 20_000, True), (1_000_000, 10_000_000, 50_000, False)]}
    tmp = Path(tempfile.mkdtemp(prefix="opeval-bench-outages-"))
    try:
        for n_int, n_cut, n_pm, with_ref in sizes[scale]:
            path = str(tmp / f"o{n_int}.duckdb")
            t0 = time.perf_counter()
            build(path, n_int, n_cut, n_pm)
            print(f"generated {n_int:,} interventions x {n_cut:,} cuts at {n_pm:,} PMs "
                  f"in {time.perf_counter() - t0:.1f} s", flush=True)
            secs, peak, (cpu, ours) = measure(run_opeval, path)
            label = f"opeval correlate {n_int // 1000}k x {n_cut // 1000}k"
            load = f"  cpu {cpu:.1f} s, load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            if not with_ref:
                print(line(label, n_int + n_cut, secs, peak,
                           target_s=10.0 if n_int >= 1_000_000 else None) + load, flush=True)
                continue
            _, ref_peak, (ref_secs, ref_cpu, ref) = measure(_pandas_timed, path)
            print(line(f"pandas reference {n_int // 1000}k x {n_cut // 1000}k", n_int + n_cut,
                       ref_secs, ref_peak) + f"  cpu {ref_cpu:.1f} s", flush=True)
            print(line(label, n_int + n_cut, secs, peak, reference_s=ref_secs)
                  + ("  (>= 10x: met)" if ref_secs / secs >= 10 else "  (>= 10x: MISSED)")
                  + load + f", {ref_cpu / cpu:.1f}x less CPU", flush=True)
            a = ours.reindex(ref.index)
            same = (len(ours) == len(ref) and a[_CORE].astype("int64").equals(ref[_CORE])
                    and np.allclose(a["window_hours"], ref["window_hours"]))
            print(f"  per-PM figures equal to the reference: {'yes' if same else 'NO'}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    import sys
    main(sys.argv[1] if len(sys.argv) > 1 else "small")
