"""A load killed midway leaves a database that opens and holds none or all of it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from evaluation.store import db

N = 400_000


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("crash") / "systems.csv"
    with path.open("w") as fh:
        fh.write("system_id,name,risk_level\n")
        fh.writelines(f"S{i:07d},system {i},{i % 3 + 1}\n" for i in range(N))
    return path


def start_ingest(db_path, csv):
    return subprocess.Popen(
        [sys.executable, "-m", "evaluation.cli", "--db", str(db_path), "ingest", "systems",
         str(csv), "--progress"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


def wait_for(proc, marker: str) -> None:
    for line in proc.stderr:
        if marker in line:
            return
    raise AssertionError(f"ingest ended before printing {marker!r}")


@pytest.mark.slow
@pytest.mark.parametrize("marker,delay", [("validating", 0.0), ("transaction open", 0.0),
                                          ("transaction open", 0.3)])
def test_kill_midway_leaves_none_or_all(db_path, big_csv, marker, delay):
    db.connect(db_path).close()
    proc = start_ingest(db_path, big_csv)
    wait_for(proc, marker)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    con = db.connect(db_path)
    count = con.execute("SELECT count(*) FROM systems").fetchone()[0]
    logged = con.execute("SELECT count(*) FROM load_log").fetchone()[0]
    assert (count, logged) in ((0, 0), (N, 1))
    con.close()
    # Re-running is safe: the load completes and counts reconcile.
    done = subprocess.run([sys.executable, "-m", "evaluation.cli", "--db", str(db_path), "ingest",
                           "systems", str(big_csv)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    con = db.connect(db_path)
    assert con.execute("SELECT count(*) FROM systems").fetchone()[0] == N
    con.close()
