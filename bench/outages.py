"""``opeval outages`` and ``opeval blacklist`` as users run them, against a pandas process.

Targets (issue 12): at 1M interventions × 10M cuts, the whole ``opeval outages
--format json`` process (and ``opeval blacklist``) at least 10× faster than a
straightforward pandas process computing the same per-PM figures, measured in the
same run, under 10 s, with a peak memory under 2 GB.

The data are generated (vectorised numpy, then typed in DuckDB) into a store
file: PMs, interventions with HD/HF (1 % without HF), one target line each,
M5 reports (≈60 % of interventions covered), and cuts — 30 % inside windows
(half of them from M5s, and half of those seen again by line supervision: one
cut, two rows), the rest spread over the year (supervision), with power cuts,
churned lines and unknown PTOs mixed in. The same tables are written as Parquet
for the reference.

Both sides are whole processes started by the bench, timed from start to exit,
with their peak resident memory: *opeval* is the command a user types; the
*reference* is ``python -m bench.outages_reference`` (read Parquet with pandas,
merge on PM, filter to the windows, count per PM, write JSON). The bench checks
that both give the same per-PM figures and the same PMs above the funnel.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from bench.measure import line

T0 = np.datetime64("2025-01-01T00:00:00", "s")
YEAR_S = 365 * 86400
TABLES = ("pms", "interventions", "intervention_targets", "outage_reports", "outages")


def _ts(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(T0 + seconds.astype("timedelta64[s]"), mask=mask)


def build(path: str, n_int: int, n_cut: int, n_pm: int, seed: int = 5) -> None:
    """Write a generated network into a fresh store at ``path`` (values as the loaders store
    them: upper-case references, an unknown PTO empty)."""
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
    pto = np.where(is_target, -np.r_[k, np.zeros(n_out, int)] - 1, r.integers(0, 10**8, n_cut))
    restored = c_t + r.exponential(4 * 3600, n_cut).astype(np.int64)
    seen = from_m5 & (r.random(n_cut) < 0.5)         # the same cut from supervision too
    cuts = pa.table({"oc": oc, "pm": c_pm, "pto": pto, "t_at": _ts(c_t), "rest": _ts(restored),
                     "power": r.random(n_cut) < 0.05, "churned": r.random(n_cut) < 0.02,
                     "unknown": r.random(n_cut) < 0.01, "seen": seen,
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
    # PTO references in the spec's shape FI-YYYY-YYYY (12 characters); targets FJ-…
    con.execute("""INSERT INTO intervention_targets SELECT 'OI-' || i, 'racc', NULL,
        'FJ-' || lpad((i // 10000)::VARCHAR, 4, '0') || '-' || lpad((i % 10000)::VARCHAR, 4, '0'),
        'm1' FROM g_int""")
    con.execute("""INSERT INTO outage_reports SELECT 'OI-' || i, 'OC0' || oc, t_at, 0, 0
        FROM g_rep""")
    cut_sql = """SELECT 'OC0' || oc, 'FI-' || lpad(pm::VARCHAR, 6, '0'),
        CASE WHEN unknown THEN NULL
             WHEN pto < 0 THEN 'FJ-' || lpad(((-pto - 1) // 10000)::VARCHAR, 4, '0') || '-'
                               || lpad(((-pto - 1) % 10000)::VARCHAR, 4, '0')
             ELSE 'FI-' || lpad((pto // 10000 % 10000)::VARCHAR, 4, '0') || '-'
                  || lpad((pto % 10000)::VARCHAR, 4, '0') END,
        NULL, NULL, NULL, NULL, t_at, rest, CASE WHEN power THEN 'power' END, churned, {ref}
        FROM g_cut"""
    con.execute("INSERT INTO outages " + cut_sql.format(ref="'OI-' || ref"))
    con.execute("INSERT INTO outages " + cut_sql.format(ref="NULL") + " WHERE seen")
    con.execute("CHECKPOINT")
    con.close()


def export_parquet(store: str, dest: Path) -> None:
    """The network tables of ``store`` as one Parquet file each (the reference's input)."""
    import duckdb
    con = duckdb.connect(store, read_only=True)
    dest.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        con.execute(f"COPY {name} TO '{dest / (name + '.parquet')}' (FORMAT parquet)")
    con.close()


def run_process(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` to its end; (wall seconds, peak resident MB of the process)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.strip()[-500:]}")
    return seconds, usage.ru_maxrss / 1024


def _opeval(*args: str) -> list[str]:
    return [sys.executable, "-m", "evaluation.cli", *args]


def main(scale: str) -> None:
    sizes = {"small": [(100_000, 1_000_000, 10_000)],
             "full": [(200_000, 2_000_000, 20_000), (1_000_000, 10_000_000, 50_000)]}
    tmp = Path(tempfile.mkdtemp(prefix="opeval-bench-outages-"))
    try:
        for n_int, n_cut, n_pm in sizes[scale]:
            store = str(tmp / f"o{n_int}.duckdb")
            t0 = time.perf_counter()
            build(store, n_int, n_cut, n_pm)
            export_parquet(store, tmp / "parquet")
            print(f"generated {n_int:,} interventions x {n_cut:,} cuts at {n_pm:,} PMs "
                  f"in {time.perf_counter() - t0:.1f} s", flush=True)
            rows = n_int + n_cut
            size = f"{n_int // 1000}k x {n_cut // 1000}k"
            ours_json, ref_json = tmp / "ours.json", tmp / "ref.json"
            secs, peak = run_process(_opeval("--db", store, "outages", "--format", "json",
                                             "--out", str(ours_json)))
            ref_secs, ref_peak = run_process([sys.executable, "-m", "bench.outages_reference",
                                              str(tmp / "parquet"), str(ref_json)])
            load = f"  load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            print(line(f"pandas process, per-PM figures {size}", rows, ref_secs, ref_peak),
                  flush=True)
            target = 10.0 if n_int >= 1_000_000 else None
            print(line(f"opeval outages --format json {size}", rows, secs, peak, target_s=target,
                       reference_s=ref_secs)
                  + ("  (>= 10x: met)" if ref_secs / secs >= 10 else "  (>= 10x: MISSED)")
                  + f"  (< 2 GB: {'met' if peak < 2048 else 'MISSED'})" + load, flush=True)
            print(f"  per-PM figures equal to the reference: "
                  f"{'yes' if _same_pms(ours_json, ref_json) else 'NO'}", flush=True)
            bl_json = tmp / "bl.json"
            secs, peak = run_process(_opeval("--db", store, "blacklist", "--format", "json",
                                             "--out", str(bl_json)))
            ref_secs, ref_peak = run_process([sys.executable, "-m", "bench.outages_reference",
                                              str(tmp / "parquet"), str(ref_json), "--blacklist"])
            print(line(f"pandas process, PMs above the funnel {size}", rows, ref_secs, ref_peak),
                  flush=True)
            print(line(f"opeval blacklist --format json {size}", rows, secs, peak,
                       target_s=target, reference_s=ref_secs)
                  + ("  (>= 10x: met)" if ref_secs / secs >= 10 else "  (>= 10x: MISSED)")
                  + f"  (< 2 GB: {'met' if peak < 2048 else 'MISSED'})"
                  + f"  load avg {os.getloadavg()[0]:.1f}", flush=True)
            listed = json.loads(bl_json.read_text())
            ours_pms = {r["pm_id"] for r in listed["candidates"] + listed["fragile"]}
            above = set(json.loads(ref_json.read_text())["above_funnel"])
            print(f"  {len(ours_pms)} candidate(s), all above the reference's funnel "
                  f"({len(above)} PMs): {'yes' if ours_pms <= above else 'NO'}", flush=True)
            shutil.rmtree(tmp / "parquet", ignore_errors=True)
            Path(store).unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _same_pms(ours: Path, ref: Path) -> bool:
    from bench.outages_reference import CORE
    a = {r["pm_id"]: r for r in json.loads(ours.read_text())["pms"]}
    b = {r["pm_id"]: r for r in json.loads(ref.read_text())}
    if set(a) != set(b):
        return False
    return all(all(int(a[p][k]) == int(b[p][k]) for k in CORE)
               and abs(a[p]["window_hours"] - b[p]["window_hours"]) < 1e-6 for p in a)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "small")
