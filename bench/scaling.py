"""Scaling: rows vs time and peak memory, DuckDB against local Spark, over a lake.

Two workloads, each on generated data of growing size written as an opeval
lake (``opeval export`` layout):

* **outage correlation** — ``outages.correlate`` + ``per_pm`` (window matching
  by PM and time, target exclusion, coverage, per-PM counts, union of window
  hours, baseline), the size being the number of customer cuts (one
  intervention per 10 cuts, one PM per 500 cuts);
* **alarm KPIs** — ``alarms.alarm_report`` (per-alarm windows for chattering
  and repeats, floods per 10-minute interval, life cycle, standing alarms), the
  size being the number of alarms.

Each (workload, engine, size) runs in a fresh child process; the time is the
workload's only (Spark's JVM start is printed apart), the peak memory is the
largest resident set of the child *and its children* (Spark's JVM included),
sampled every 50 ms. The reference of this bench is DuckDB reading the same
lake: Spark's column says what a single machine pays for the distributed
engine, and where the curves cross is where a cluster takes over
(docs/performance.md, "Scaling").

Sizes: ``small`` 100k and 1M rows; ``full`` 1M and 10M rows on both engines,
plus 30M on DuckDB (what fits comfortably in 24 GB while Spark local would need
more than its share of a shared 2-core machine).
"""
from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import shutil
import tempfile
import threading
import time
from pathlib import Path

ALARMS_AS_OF = dt.datetime(2025, 1, 1)
SPARK_CONF = {"spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "false",
              "spark.driver.memory": "6g", "spark.sql.adaptive.enabled": "true"}


# ------------------------------------------------------------------ data


def generate_network(con, n_cuts: int, seed: int = 7) -> None:
    """PMs, interventions, targets, M5 reports and ``n_cuts`` cuts into the store ``con``.

    One intervention per 10 cuts (HD over 2025, 20 min..4 h long, 1 % without
    HF), one PM per 500 cuts; 30 % of the cuts fall inside a window of their
    PM (a fifth of those on the intervention's target line), the rest anywhere
    in the year; 60 % of the interventions have an M5.
    """
    n_int = max(n_cuts // 10, 10)
    n_pm = max(n_cuts // 500, 20)
    con.execute(f"SELECT setseed({(seed % 100) / 100})")
    con.execute(f"""INSERT INTO pms SELECT 'FI-' || lpad(i::VARCHAR, 6, '0'), 'OI01', 300, NULL
                    FROM range({n_pm}) t(i)""")
    con.execute(f"""CREATE TEMP TABLE gi AS
        SELECT i, hash(i * 3 + {seed}) % {n_pm} AS pm,
               TIMESTAMP '2025-01-01' + to_seconds(CAST(hash(i * 5 + {seed}) % 31536000 AS BIGINT)) AS hd,
               1200 + CAST(hash(i * 7 + {seed}) % 13200 AS BIGINT) AS dur,
               hash(i * 11 + {seed}) % 100 AS u
        FROM range({n_int}) t(i)""")
    con.execute("""INSERT INTO interventions SELECT 'OI-' || i, 'DO-' || i,
        'D' || lpad((i % 40)::VARCHAR, 3, '0'), 'OI01', 'FI-' || lpad(pm::VARCHAR, 6, '0'),
        hd, CASE WHEN u > 0 THEN hd + to_seconds(dur) END, hd + to_seconds(90),
        CASE WHEN u > 0 THEN hd + to_seconds(dur + 30) END FROM gi""")
    con.execute("INSERT INTO intervention_targets SELECT 'OI-' || i, 'racc', NULL, 'PTO-T' || i, "
                "'m1' FROM gi")
    con.execute("""INSERT INTO outage_reports SELECT 'OI-' || i, 'OC01', hd + to_seconds(dur + 600), 0,
                   0 FROM gi WHERE u > 0 AND u <= 60""")
    n_in = int(n_cuts * 0.3)
    con.execute(f"""INSERT INTO outages
        WITH c AS (
            SELECT j, hash(j * 13 + {seed}) AS h, hash(j * 17 + {seed}) % {n_int} AS k FROM range({n_cuts}) t(j))
        SELECT 'OC0' || (c.h % 4), 'FI-' || lpad((CASE WHEN c.j < {n_in} THEN gi.pm
                                                      ELSE c.h % {n_pm} END)::VARCHAR, 6, '0'),
               CASE WHEN c.j < {n_in} AND c.h % 5 = 0 THEN 'PTO-T' || gi.i ELSE 'PTO-' || c.j END,
               NULL, NULL, NULL, NULL,
               CASE WHEN c.j < {n_in} THEN gi.hd + to_seconds(CAST(c.h % gi.dur AS BIGINT))
                    ELSE TIMESTAMP '2025-01-01' + to_seconds(CAST(c.h % 31536000 AS BIGINT)) END AS cut_at,
               cut_at + to_seconds(CAST(60 + c.h % 28800 AS BIGINT)),
               CASE WHEN c.h % 20 = 0 THEN 'power' END, c.h % 50 = 0,
               CASE WHEN c.j < {n_in} AND gi.u > 0 AND gi.u <= 60 AND c.h % 4 = 1 THEN 'OI-' || gi.i END
        FROM c JOIN gi ON gi.i = c.k""")
    con.execute("DROP TABLE gi")


def generate_alarms(con, n: int, seed: int = 7) -> None:
    """``n`` alarms over 2024: 50 systems, 300 definitions, 3000 resources; one raise
    in ten belongs to a burst of ten raises 20 s apart on one resource (chatter and
    floods); most are closed, a quarter of those as false alarms."""
    con.execute(f"""INSERT INTO alarms
        WITH b AS (
            SELECT i, hash(i + {seed}) AS h1, hash(i * 7 + {seed}) AS h2, hash(i // 10 + {seed}) AS hb
            FROM range({n}) t(i)),
        t AS (
            SELECT i, h1, h2, hb % 10 = 0 AS burst,
                   CASE WHEN hb % 10 = 0 THEN hb % 3000 ELSE h2 % 3000 END AS res,
                   TIMESTAMP '2024-01-01' + to_seconds(CASE WHEN hb % 10 = 0
                       THEN CAST(hb % 31000000 AS BIGINT) + (i % 10) * 20
                       ELSE CAST(h1 % 31536000 AS BIGINT) END) AS raised_at
            FROM b)
        SELECT 'A' || i, 'S' || (res % 50), 'D' || (res % 300), NULL, 'R' || res,
               1 + CAST(h1 % 5 AS INTEGER), raised_at,
               raised_at + to_seconds(CAST(5 + h2 % 600 AS BIGINT)),
               CASE WHEN h1 % 10 < 8 THEN raised_at + to_seconds(CAST(10 + h2 % 120 AS BIGINT)) END,
               CASE WHEN h1 % 10 < 8 THEN 'op' || (h2 % 40) END,
               CASE WHEN h1 % 20 = 0 THEN raised_at + to_seconds(60) END,
               CASE WHEN h1 % 100 < 95 THEN raised_at + to_seconds(CAST(30 + h2 % 900 AS BIGINT)) END,
               CASE WHEN h1 % 100 < 95 THEN 'closed' ELSE 'new' END,
               CASE WHEN h1 % 100 < 95 THEN (CASE WHEN h2 % 4 = 0 THEN 'false_alarm' ELSE 'handled' END) END,
               NULL
        FROM t""")


def build_lake(root: Path, kind: str, rows: int) -> Path:
    """A store with ``rows`` of ``kind`` (network: cuts; alarms: alarms), exported as a lake."""
    from evaluation.store import db, lake
    store = root / f"{kind}-{rows}.duckdb"
    con = db.connect(store)
    (generate_network if kind == "network" else generate_alarms)(con, rows)
    con.execute("CHECKPOINT")
    con.close()
    con = db.connect(store, read_only=True)
    tables = (["pms", "interventions", "intervention_targets", "outage_reports", "outages"]
              if kind == "network" else ["alarms"])
    out = root / f"{kind}-{rows}-lake"
    lake.export_lake(con, out, tables)
    con.close()
    store.unlink()
    return out


# ------------------------------------------------------------------ workloads


def correlation(tables) -> int:
    from evaluation.analyses.outages.report import correlate
    corr = correlate(tables)
    try:
        return len(corr.per_pm())
    finally:
        corr.release()


def alarm_kpis(tables) -> int:
    from evaluation.analyses.alarms import alarm_report
    return int(alarm_report(tables.alarms, as_of=ALARMS_AS_OF)["kpis"]["alarms"])


WORKLOADS = {"outage correlation": ("network", correlation), "alarm KPIs": ("alarms", alarm_kpis)}


# ------------------------------------------------------------------ measurement


def _tree_rss(proc) -> tuple[int, int]:
    """(resident bytes of this process, of it and all its children)."""
    import psutil
    own = proc.memory_info().rss
    total = own
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return own, total


def _child(workload: str, engine: str, lake_dir: str, queue) -> None:
    import psutil
    proc = psutil.Process()
    peak = [0, 0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            own, total = _tree_rss(proc)
            peak[0], peak[1] = max(peak[0], own), max(peak[1], total)
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    from evaluation.store.engine import open_engine, spark_session
    t0 = time.perf_counter()
    session = spark_session("local[2]", conf=SPARK_CONF, app_name="opeval-bench") if engine == "spark" else None
    tables = open_engine(engine, lake=lake_dir, session=session)
    start_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = WORKLOADS[workload][1](tables)
    seconds = time.perf_counter() - t1
    stop.set()
    own, total = _tree_rss(proc)
    if session is not None:
        session.stop()
    queue.put((seconds, start_s, max(peak[0], own) / 2**20, max(peak[1], total) / 2**20, result))


def measure_tree(workload: str, engine: str, lake_dir: Path) -> tuple[float, float, float, float, int]:
    """(workload s, engine start s, peak MB of Python, peak MB with children, result) in a child."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=_child, args=(workload, engine, str(lake_dir), queue))
    p.start()
    out = queue.get()
    p.join()
    return out


def main(scale: str) -> None:
    sizes = {"small": {"duckdb": [100_000, 1_000_000], "spark": [100_000, 1_000_000]},
             "full": {"duckdb": [1_000_000, 10_000_000, 30_000_000],
                      "spark": [1_000_000, 10_000_000]}}[scale]
    from evaluation.store.engine import spark_session  # noqa: F401  (fail early without pyspark)
    root = Path(tempfile.mkdtemp(prefix="opeval-scaling-"))
    rows_out = []
    try:
        for workload, (kind, _) in WORKLOADS.items():
            for rows in sorted(set(sizes["duckdb"]) | set(sizes["spark"])):
                t0 = time.perf_counter()
                lake_dir = build_lake(root, kind, rows)
                size_mb = sum(f.stat().st_size for f in lake_dir.rglob("*.parquet")) / 2**20
                print(f"{workload}: {rows:,} rows generated and exported in "
                      f"{time.perf_counter() - t0:.1f} s ({size_mb:.0f} MB of Parquet)", flush=True)
                for engine in ("duckdb", "spark"):
                    if rows not in sizes[engine]:
                        continue
                    secs, start_s, py_mb, all_mb, result = measure_tree(workload, engine, lake_dir)
                    rows_out.append((workload, engine, rows, secs, start_s, py_mb, all_mb, result))
                    print(f"  {engine:<7} {rows:>11,} rows {secs:8.1f} s  {rows / secs:>11,.0f} rows/s  "
                          f"peak {all_mb:7.0f} MB (Python {py_mb:6.0f} MB)  start {start_s:5.1f} s  "
                          f"result {result}", flush=True)
                shutil.rmtree(lake_dir, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("\nScaling table (time of the workload; peak = Python + JVM resident memory)")
    print(f"{'workload':<20} {'engine':<7} {'rows':>11} {'seconds':>8} {'rows/s':>11} "
          f"{'peak MB':>8} {'Python MB':>9} {'s/M rows':>8}")
    for workload, engine, rows, secs, _, py_mb, all_mb, _ in rows_out:
        print(f"{workload:<20} {engine:<7} {rows:>11,} {secs:8.1f} {rows / secs:>11,.0f} "
              f"{all_mb:8.0f} {py_mb:9.0f} {secs / rows * 1e6:8.2f}")
    for workload in WORKLOADS:
        for engine in ("duckdb", "spark"):
            pts = [(r, s) for w, e, r, s, *_ in rows_out if w == workload and e == engine]
            if len(pts) >= 2:
                (r0, s0), (r1, s1) = pts[0], pts[-1]
                print(f"{workload} on {engine}: {r1 / r0:.0f}x the rows took {s1 / s0:.1f}x the time")
