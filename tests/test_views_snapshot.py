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


def test_a_page_builds_while_another_thread_queries_the_same_copy(tmp_path):
    """The /alarms page opened during the server's warm-up failed with DuckDB's "connection
    is busy with another call": the page looked a table up in the copy's catalog (outside
    the copy's lock) while the warm-up ran a query on it under the lock, and DuckDB 2
    refuses a second call instead of waiting. By hand: one thread holds the lock and runs
    a query of about a second on the copy; meanwhile the page's table lookups and the
    views of the default filters must wait for it and answer 18 alarms (the count of
    tests/_alarms_views_db.py), not raise."""
    import threading

    import _alarms_views_db as fx
    from evaluation.views import alarms_state

    path = str(fx.build(tmp_path / "a.duckdb", tmp_path / "in"))
    snap = alarms_state.snapshot(path)
    busy, done = threading.Event(), []

    def slow_query() -> None:
        with snap.lock:
            busy.set()
            done.append(snap.con.execute(
                "SELECT count(*) FROM range(60000000) a WHERE a % 7 = 3").fetchall()[0][0])

    worker = threading.Thread(target=slow_query)
    worker.start()
    busy.wait()
    state = alarms_state.AlarmsState(path)
    assert snap.flagged.count().execute() == 18
    assert state.views().kpis["alarms"] == 18
    worker.join()
    assert done == [60000000 // 7 + (1 if 60000000 % 7 > 3 else 0)]
