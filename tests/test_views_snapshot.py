"""The pages' snapshot cache (views/snapshot.py) while the store changes under it."""
from __future__ import annotations

import time

from evaluation.store import db
from evaluation.views import outages_state


def test_a_replaced_snapshot_still_answers_its_readers(tmp_path):
    """Issue 18 item 4: the live endpoint moves the store's stamp about every second, and
    a /outages page takes seconds to build, asking the cache at each query. A page that
    got the snapshot before a write must still be able to read it after another page got
    the new one. By hand: snapshot 1 sees 1 PM; a write adds a second; snapshot 2 sees 2;
    snapshot 1, replaced in the cache, still answers 1 (before the fix its connection was
    closed: "Connection has already been closed")."""
    path = tmp_path / "s.duckdb"
    con = db.connect(path)
    con.execute("INSERT INTO pms (pm_id, oi_code) VALUES ('FI-00001-0001', 'OI01')")
    con.close()
    first = outages_state.snapshot(str(path))
    time.sleep(0.01)                      # a new mtime for the stamp, whatever the clock
    con = db.connect(path)
    con.execute("INSERT INTO pms (pm_id, oi_code) VALUES ('FI-00002-0001', 'OI01')")
    con.close()
    second = outages_state.snapshot(str(path))
    assert second is not first
    assert second.con.execute("SELECT count(*) FROM pms").fetchall() == [(2,)]
    assert first.con.execute("SELECT count(*) FROM pms").fetchall() == [(1,)]
    assert first.backend.table("pms").count().execute() == 1
