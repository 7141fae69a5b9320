"""Loads while the dashboards read (issue #14, items 1-2): validate apart, apply briefly, queue.

DuckDB lets one process write a file, and a writing process shuts every other
process out. These tests check what opeval builds on that
(:mod:`evaluation.store.writer`, :mod:`evaluation.store.turns`): a load reads
and validates with the store read-only (other processes keep reading it), holds
the write lock only for its transaction, readers serve the last committed data
while it applies, writers wait for each other with ``--wait`` and say whom they
wait for, and a store written by another program between validation and apply
is validated again.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import duckdb
import pytest

from conftest import holding
from evaluation.errors import public_message
from evaluation.store import db, turns, writer
from evaluation.store.ingest import ingest
from evaluation.views.queries import ReadOnlyStore, stamp

ALARMS_HEADER = "alarm_id,system_id,definition,resource_id,raised_at\n"


def _store(path, alarms: int = 2):
    con = db.connect(path)
    con.execute("INSERT INTO systems (system_id) VALUES ('S1')")
    con.execute(f"""INSERT INTO alarms (alarm_id, system_id, definition, resource_id, raised_at)
        SELECT 'A' || range, 'S1', 'door_forced', 'D1', TIMESTAMP '2024-03-01' + to_minutes(range)
        FROM range({alarms})""")
    con.close()
    return path


def _alarms_csv(path, n: int, prefix: str = "N"):
    with path.open("w") as fh:
        fh.write(ALARMS_HEADER)
        fh.writelines(f"{prefix}{i},S1,door_forced,D1,2024-04-01 10:{i % 60:02d}:{i % 59:02d}\n"
                      for i in range(n))
    return path


def _cli(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "evaluation.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _count(path) -> int:
    con = db.connect(path, read_only=True, wait=0)
    try:
        return con.execute("SELECT count(*) FROM alarms").fetchone()[0]
    finally:
        con.close()


@pytest.mark.slow
def test_a_load_reads_and_validates_while_other_processes_read_the_store(tmp_path):
    """Issue #14 item 1: "the write lock is held while files are read and validated".

    While the load says it is validating (its progress line), this process opens
    the store read-only without waiting (``wait=0``) and reads the 2 committed
    alarms; before the change the load held the file for writing from the start
    and this open failed with DuckDB's lock error. After the load: 2 + 200 000.
    """
    path = _store(tmp_path / "db.duckdb")
    csv = _alarms_csv(tmp_path / "alarms.csv", 200_000)
    load = _cli("--db", path, "ingest", "alarms", csv, "--progress")
    seen = []
    for line in load.stderr:
        if "validating" in line:
            seen.append(_count(path))
            writer_now = turns.status(path)
            assert writer_now is not None and writer_now.phase == turns.READING
            assert writer_now.what == "ingest alarms" and writer_now.pid == load.pid
            break
    _, err = load.communicate(timeout=300)
    assert load.returncode == 0, err
    assert seen == [2]
    assert _count(path) == 2 + 200_000
    assert turns.status(path) is None             # the turn is released


def test_readers_serve_the_last_committed_data_while_a_load_applies(tmp_path, monkeypatch):
    """While a writer applies (its turn says ``applying`` and it holds DuckDB's write
    lock), a page's query asked before is answered from the cache at the last committed
    stamp, without touching the file; a query never asked before waits for the apply
    (shortened here to 0.5 s) and then says, in words without path or PID, that the
    database is being written. Once the writer is done, the same query reads the new
    state (3 alarms instead of 2)."""
    path = _store(tmp_path / "db.duckdb")
    store = ReadOnlyStore(path)
    before = store.value("SELECT count(*) FROM alarms")
    committed = stamp(path)
    turn = turns.Turn(path, "opeval ingest alarms x.csv", "ingest alarms")
    assert turn.try_acquire()
    turn.phase(turns.APPLYING)
    holder = holding(path, sql="INSERT INTO alarms (alarm_id, definition, resource_id, "
                               "raised_at) VALUES ('X', 'd', 'r', TIMESTAMP '2024-05-01')")
    holder.__enter__()
    try:
        monkeypatch.setattr(db, "APPLY_WAIT", 0.5)
        assert stamp(path) == committed                 # the WAL grew; the stamp did not move
        assert store.value("SELECT count(*) FROM alarms") == before == 2
        with pytest.raises(db.StoreError) as caught:
            store.value("SELECT count(*) FROM systems")
        shown = public_message(caught.value)
        assert "being written" in shown and str(path) not in shown and "PID" not in shown
    finally:
        holder.__exit__(None, None, None)
        turn.release()
    assert stamp(path) != committed
    assert store.value("SELECT count(*) FROM alarms") == 3


def test_a_store_written_between_validation_and_apply_is_validated_again(tmp_path, monkeypatch):
    """Another program (not an opeval writer, so not queued) writes alarm N1 with other
    values after the load validated its file and before it takes the write lock. The
    load classified N1 as new; applying that would break the primary key. The stamp
    check catches the change and the load runs again with the store writable
    throughout: N1 is then *updated* (1 updated, 1 inserted: N0), not inserted twice."""
    path = _store(tmp_path / "db.duckdb")
    csv = _alarms_csv(tmp_path / "alarms.csv", 2)
    opened = writer._open_for_writing
    sneaked = []

    def other_program_writes_first(*args, **kw):
        if not sneaked:
            proc = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
                import duckdb
                c = duckdb.connect({str(path)!r})
                c.execute("INSERT INTO alarms (alarm_id, system_id, definition, resource_id, "
                          "raised_at) VALUES ('N1', 'S1', 'other', 'D9', TIMESTAMP '2024-01-01')")
                c.close()""")], capture_output=True, text=True, check=False)
            assert proc.returncode == 0, proc.stderr
            sneaked.append(True)
        return opened(*args, **kw)

    monkeypatch.setattr(writer, "_open_for_writing", other_program_writes_first)
    said = []
    result = writer.run(path, lambda con: ingest(con, "alarms", [csv]), "test", "ingest alarms",
                        say=said.append)
    assert sneaked and any("validating again" in m for m in said)
    f = result.files[0]
    assert (f.inserted, f.updated, f.unchanged) == (1, 1, 0)
    con = db.connect(path, read_only=True)
    assert con.execute("SELECT definition FROM alarms WHERE alarm_id = 'N1'").fetchone()[0] == \
        "door_forced"
    assert con.execute("SELECT count(*) FROM load_log").fetchone()[0] == 1
    con.close()


def test_writers_queue_and_name_the_writer_they_wait_for(tmp_path):
    """Item 2: "a second load (or purge) while one runs fails after 5 s". A load holds
    the turn (here this test process, as `opeval ingest alarms big.csv`). A purge with
    --wait 1 gives up with one line naming that command and this PID; a load with a long
    wait says whom it waits for, then runs once the turn is released."""
    path = _store(tmp_path / "db.duckdb")
    csv = _alarms_csv(tmp_path / "alarms.csv", 3)
    turn = turns.Turn(path, "opeval ingest alarms big.csv", "ingest alarms")
    assert turn.try_acquire()
    try:
        purge = _cli("--db", path, "purge", "--before", "2024-01-01", "--wait", "1")
        _, err = purge.communicate(timeout=120)
        assert purge.returncode == 1
        last = err.strip().splitlines()[-1]
        assert last.startswith("opeval: error: database") and "is busy" in last
        assert f"`opeval ingest alarms big.csv` (PID {__import__('os').getpid()}, reading" in last
        load = _cli("--db", path, "ingest", "alarms", csv, "--wait", "120")
        said = load.stderr.readline()
        turn.release()
        out, err = load.communicate(timeout=180)
    finally:
        turn.release()
    assert load.returncode == 0, err
    assert said.startswith("opeval: waiting for `opeval ingest alarms big.csv` (PID ")
    assert "read 3, accepted 3" in out
    assert _count(path) == 2 + 3


def test_a_forgotten_notebook_connection_is_named_when_the_wait_runs_out(tmp_path):
    """A notebook keeps a read-only connection open: the load validates (reading is
    shared) but cannot take the write lock. After --wait 2 it stops with one line naming
    the process (its name and PID, from DuckDB's message and /proc) and applies nothing;
    while it waited it said so on stderr."""
    path = _store(tmp_path / "db.duckdb")
    csv = _alarms_csv(tmp_path / "alarms.csv", 3)
    with holding(path, read_only=True) as notebook:
        load = _cli("--db", path, "ingest", "alarms", csv, "--wait", "2")
        _, err = load.communicate(timeout=120)
    assert load.returncode == 1
    lines = err.strip().splitlines()
    assert f"(PID {notebook.pid}: " in lines[-1] and "python" in lines[-1]
    assert "gave up after" in lines[-1] and "--wait 2" in lines[-1]
    assert any(ln.startswith("opeval: waiting for python") for ln in lines[:-1])
    assert _count(path) == 2


def test_health_says_loading_without_naming_the_writer(tmp_path):
    """/health is open to anyone: while a load runs it answers 200 with status "loading"
    and what the load does, never its command line (file names) or PID."""
    from evaluation.auth.server import health

    path = _store(tmp_path / "db.duckdb")
    turn = turns.Turn(path, "opeval ingest alarms /secret/place/day.csv", "ingest alarms")
    assert turn.try_acquire()
    try:
        status, body = health(str(path))
        assert status == 200 and body["status"] == "loading"
        assert body["load"]["what"] == "ingest alarms" and body["load"]["phase"] == "reading"
        assert body["rows"]["alarms"] == 2 and body["database_readable"] is True
        turn.phase(turns.APPLYING)
        status, body = health(str(path))      # not opened while applying: last rows read
        assert status == 200 and body["database_readable"] is None
        assert body["rows"]["alarms"] == 2 and body["rows_as_of"]
        text = json.dumps(body)
        assert "/secret/place" not in text and str(__import__("os").getpid()) not in text
    finally:
        turn.release()
    status, body = health(str(path))
    assert status == 200 and body["status"] == "ok" and "load" not in body


def test_a_page_built_during_a_load_says_so(tmp_path):
    """The page notice of item 1: quiet, names what runs, no path or PID."""
    import _views_db
    from evaluation.serve import build_page

    path = tmp_path / "db.duckdb"
    _views_db.build(path, tmp_path / "in")
    assert len(build_page("/data", path).main.objects) == 1
    turn = turns.Turn(path, "opeval ingest faults /secret/f.csv", "ingest faults")
    assert turn.try_acquire()
    try:
        notice, content = build_page("/data", path).main.objects
    finally:
        turn.release()
    assert "A data load (ingest faults) is running" in notice.object
    assert "/secret" not in notice.object and "Cannot show" not in str(content)


def _release_after(seconds: float, holder, turn) -> threading.Thread:
    def release():
        time.sleep(seconds)
        holder.__exit__(None, None, None)
        turn.release()
    t = threading.Thread(target=release)
    t.start()
    return t


def test_a_reader_meeting_a_short_write_waits_for_it_instead_of_failing(tmp_path, monkeypatch):
    """The race the loads bench met on /alerts: a reader that opens the file just as an
    opeval writer (here the alert run's record) takes it. The writer's turn says
    ``applying`` and it holds the file 2 s; readers wait only 0.3 s for a lock of their own
    (shortened from 1 s). A reader opening the file directly (as the alert state's schema
    check did, without first looking at the turn) meets the lock: it now waits for the
    apply to end and opens the file (elapsed ≥ 2 s, no error); without ``reader`` the same
    call gives up after 0.3 s, as a writer's probe should."""
    path = _store(tmp_path / "db.duckdb")
    monkeypatch.setenv(db.LOCK_WAIT_ENV, "0.3")
    for reader in (False, True):
        turn = turns.Turn(path, "opeval alerts run", "alerts")
        assert turn.try_acquire()
        turn.phase(turns.APPLYING)
        holder = holding(path, sql=f"INSERT INTO systems (system_id) VALUES ('S{int(reader)}9')")
        holder.__enter__()
        releaser = _release_after(2.0, holder, turn)
        start = time.monotonic()
        try:
            if not reader:
                with pytest.raises(db.StoreBusy):
                    db.retry_locked(lambda: duckdb.connect(str(path), read_only=True), str(path),
                                    db.lock_wait(read_only=True))
                assert time.monotonic() - start < 1.5
                continue
            from evaluation.alerts.service import list_for
            from evaluation.auth.roles import LOCAL_ADMIN
            assert list_for(path, LOCAL_ADMIN) == []
            assert time.monotonic() - start >= 1.5
        finally:
            releaser.join()
