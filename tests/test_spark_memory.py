"""No analysis pulls a whole table into pandas: peak memory at 10M rows.

The outage analysis (``opeval outages``, the largest tables: cuts and
interventions) runs over a generated lake in a child process while its resident
memory is sampled (1M cuts by default, 10M with ``OPEVAL_MEMCHECK_ROWS``). The cuts
table alone would take several GB as a pandas DataFrame (estimated from a 100 000-row
sample, linearly); the analysis must
grow the process by less than that, which it can only do if the joins and
group-bys stay in the engine and pandas receives the per-PM result. DuckDB's own
working memory does not shrink with the data, so the margin widens with size
(about 5x at 10M cuts). DuckDB runs it here; the
Spark side of the same check (the Python driver's peak next to the JVM's) is
in ``bench/scaling.py`` (docs/performance.md), too slow for the suite.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

# 1M cuts in the default suite (about 30 s); OPEVAL_MEMCHECK_ROWS=10000000 runs the
# issue's 10M check (minutes on two shared cores: generation and export dominate).
ROWS = int(os.environ.get("OPEVAL_MEMCHECK_ROWS", "1000000"))


def _peak_rss(cmd: list[str]) -> tuple[int, float, subprocess.CompletedProcess]:
    """Run ``cmd``; return (peak resident bytes of it and its children, seconds, result)."""
    import psutil
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = proc.communicate()
    return peak, time.perf_counter() - t0, subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_outage_analysis_stays_far_below_the_pandas_size_of_the_cuts(tmp_path):
    import duckdb

    from conftest import ROOT
    if str(ROOT) not in sys.path:  # the bench package beside src/ (python -m pytest has it)
        sys.path.insert(0, str(ROOT))
    from bench.scaling import build_lake
    lake_dir = build_lake(tmp_path, "network", ROWS)
    con = duckdb.connect()
    from evaluation.store import lake
    lake.attach_duckdb(con, lake_dir)
    assert con.execute("SELECT count(*) FROM outages").fetchone()[0] == ROWS
    sample = con.execute("SELECT * FROM outages USING SAMPLE 100000 ROWS").df()
    pandas_bytes = sample.memory_usage(deep=True).sum() * ROWS / len(sample)
    con.close()

    # What Python, Ibis, DuckDB and pandas cost before any data is read.
    warm_up = ("import evaluation.cli, evaluation.analyses.outages; from evaluation.store.engine "
               f"import open_engine; open_engine('duckdb', lake={str(lake_dir)!r}).outages.count().execute()")
    base, _, res = _peak_rss([sys.executable, "-c", warm_up])
    assert res.returncode == 0, res.stderr
    out = tmp_path / "outages.json"
    peak, seconds, res = _peak_rss([sys.executable, "-m", "evaluation.cli", "outages", "--lake", str(lake_dir),
                                    "--format", "json", "--out", str(out), "--limit", "100"])
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())
    assert len(report["pms"]) == ROWS // 500  # every generated PM has interventions
    print(f"\n{ROWS:,} cuts: analysis {seconds:.1f} s, peak {peak / 2**20:.0f} MB "
          f"(start-up {base / 2**20:.0f} MB); cuts as pandas ~{pandas_bytes / 2**20:.0f} MB")
    # Loading the cuts into pandas would by itself add pandas_bytes to the start-up
    # memory; the whole analysis (DuckDB's hash tables and cached pairs included)
    # must add less. Seen: 1M cuts +217 MB vs 342 MB; 10M cuts +700 MB vs ~3.4 GB.
    assert peak - base < pandas_bytes, (peak, base, pandas_bytes)
