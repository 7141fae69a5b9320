"""Writers take turns on a store; readers can see that a writer is at work, and in which phase.

DuckDB lets one process open a database file for writing, and while it does, no
other process can open the file at all, not even to read. opeval therefore lets
its writers (loads, purges, erasures, settings) take *turns*: a writer holds an
exclusive ``flock`` on ``<database>.writer``, a small file beside the database,
for the whole of its work, and writes in it what it is doing::

    {"pid": 4242, "command": "opeval ingest alarms day.csv", "what": "ingest alarms",
     "phase": "reading", "started": "2025-07-01T06:00:02+00:00", "phase_since": "..."}

Phases: ``reading`` (reading and validating its files; the database is only read,
so the dashboards go on as usual), ``applying`` (taking and holding DuckDB's write
lock for the one transaction that applies the result; readers on this machine do
not open new connections meanwhile, :func:`wait_while_applying`), ``waiting``
(its write lock is refused by another program holding the file; readers go on).

A second writer waits for its turn up to ``--wait`` seconds and can say who holds
it (:func:`holder`). The lock belongs to the process: when a writer dies, even by
``kill -9``, the kernel releases it, so a stale file never blocks anyone; a file
that nobody holds means no writer is at work, whatever it still says.

No DuckDB here (``db`` imports this module).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".writer"
_SIZE = 1024          # the status is written in place, padded to this many bytes
READING, WAITING, APPLYING = "reading", "waiting", "applying"


def lock_path(db_path: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(db_path)}{SUFFIX}")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Writer:
    """What the writer holding a store's turn says about itself."""

    pid: int | None
    command: str
    what: str
    phase: str
    started: str
    phase_since: str

    @classmethod
    def parse(cls, data: bytes) -> Writer:
        """From the status file; a file caught half-written reads as an unknown writer."""
        try:
            info = json.loads(data.decode("utf-8", "replace").strip() or "{}")
        except ValueError:
            info = {}
        if not isinstance(info, dict):
            info = {}
        pid = info.get("pid")
        return cls(pid if isinstance(pid, int) else None, str(info.get("command") or "a writer"),
                   str(info.get("what") or "a load"), str(info.get("phase") or READING),
                   str(info.get("started") or ""), str(info.get("phase_since") or ""))

    def describe(self) -> str:
        """One line for the operator (CLI): the command, its PID and since when."""
        pid = f"PID {self.pid}, " if self.pid is not None else ""
        return f"`{self.command}` ({pid}{self.phase} since {_clock(self.phase_since or self.started)})"

    def public(self) -> dict:
        """What ``/health`` may show anyone: no command line (it names files), no PID."""
        return {"what": self.what, "phase": self.phase, "started": self.started,
                "phase_since": self.phase_since}


def _clock(iso: str) -> str:
    try:
        return dt.datetime.fromisoformat(iso).strftime("%H:%M:%S UTC")
    except ValueError:
        return "an unknown time"


def status(db_path: str | os.PathLike) -> Writer | None:
    """The writer at work on the store at ``db_path``, or None when there is none.

    A shared, non-blocking ``flock`` probe: it succeeds (and is released at once)
    exactly when no writer holds the turn.
    """
    try:
        fd = os.open(lock_path(db_path), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return Writer.parse(os.pread(fd, _SIZE, 0))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def wait_while_applying(db_path: str | os.PathLike, timeout: float) -> Writer | None:
    """Wait (up to ``timeout`` s) while a writer applies its transaction; the writer
    still applying when the time ran out, else None."""
    deadline = time.monotonic() + timeout
    while True:
        writer = status(db_path)
        if writer is None or writer.phase != APPLYING or time.monotonic() >= deadline:
            return writer
        time.sleep(0.05)


class Turn:
    """This process's turn at writing a store (see the module docstring)."""

    def __init__(self, db_path: str | os.PathLike, command: str, what: str):
        self.path = lock_path(db_path)
        self.command, self.what = command[:400], what[:80]
        self.started = _now()
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the turn if it is free (never blocks)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        self.phase(READING)
        return True

    def phase(self, phase: str) -> None:
        """Say what this writer does now (written in place: readers may read it any time)."""
        text = json.dumps({"pid": os.getpid(), "command": self.command, "what": self.what,
                           "phase": phase, "started": self.started, "phase_since": _now()})
        os.pwrite(self._fd, text.encode("utf-8")[:_SIZE].ljust(_SIZE), 0)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.pwrite(self._fd, b" " * _SIZE, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None
