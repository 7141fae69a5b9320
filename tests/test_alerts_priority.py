"""The alert rules after a load and on the server's schedule run below the pages' CPU
priority (issue 14: at the usual priority they held both cores for 45 s after a load and a
page took 22.7 s to render). Linux keeps a nice value per thread: these tests read it per
thread from ``/proc``."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from evaluation.alerts import engine
from evaluation.alerts.engine import BACKGROUND_NICENESS, at_low_priority
from evaluation.alerts.schedule import Schedule

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the nice value is per thread on Linux only")


def _nice(tid: int | str) -> int:
    """The nice value of thread ``tid`` of this process (field 19 of its stat line)."""
    stat = Path(f"/proc/self/task/{tid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


def _threads() -> dict[str, int]:
    return {t: _nice(t) for t in os.listdir("/proc/self/task")}


def _expected(base: int) -> int:
    return min(base + BACKGROUND_NICENESS, 19)


def test_work_and_the_duckdb_workers_it_starts_run_lower_the_caller_unchanged():
    """The caller at nice ``b``: the work's thread is at ``b + 10`` (19 at most), and so is
    every DuckDB worker thread that appears when the work opens a database (DuckDB starts
    them from the opening thread, which they inherit from); the caller is still at ``b``
    afterwards, and so is every thread that existed before."""
    base = _nice(threading.get_native_id())
    before = _threads()

    def work():
        con = duckdb.connect(":memory:")
        con.execute("SELECT sum(range) FROM range(1000000)").fetchall()
        return threading.get_native_id(), _threads()

    tid, during = at_low_priority(work, BACKGROUND_NICENESS)
    started = {t: n for t, n in during.items() if t not in before}
    assert str(tid) in started and len(started) >= 2       # the work's thread and DuckDB's
    assert set(started.values()) == {_expected(base)}
    assert {t: during[t] for t in before if t in during} == before
    assert _nice(threading.get_native_id()) == base


def test_errors_of_the_work_reach_the_caller():
    def work():
        raise ValueError("a rule's bug")

    with pytest.raises(ValueError, match="a rule's bug"):
        at_low_priority(work, BACKGROUND_NICENESS)


def test_after_load_checks_the_rules_at_low_priority(monkeypatch, tmp_path):
    """``after_load`` calls :func:`engine.run` on a thread ten steps lower and returns its
    summary line; the calling thread keeps its priority."""
    seen = []

    def run(path, **kwargs):
        seen.append(_nice(threading.get_native_id()))
        return engine.RunResult()

    monkeypatch.setattr(engine, "run", run)
    base = _nice(threading.get_native_id())
    line = engine.after_load(tmp_path / "x.duckdb", "opeval ingest alarms")
    assert line == "alerts: 0 alert(s) fired, 0 cleared"
    assert seen == [_expected(base)]
    assert _nice(threading.get_native_id()) == base


def test_the_servers_schedule_ticks_at_low_priority(monkeypatch, tmp_path):
    """The schedule's thread lowers itself before its first tick."""
    from evaluation.alerts import schedule
    seen, ticked = [], threading.Event()

    def tick(path):
        seen.append(_nice(threading.get_native_id()))
        ticked.set()
        return []

    monkeypatch.setattr(schedule, "tick", tick)
    base = _nice(threading.get_native_id())
    s = Schedule(tmp_path / "x.duckdb", 0.01).start()
    try:
        assert ticked.wait(10)
    finally:
        s.stop()
        s.thread.join(10)
    assert seen[0] == _expected(base)
