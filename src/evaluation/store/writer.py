"""Write the store while the dashboards read it: validate apart, hold the write lock only to apply.

DuckDB lets one process write a database file, and a process that has the file
open for writing shuts every other process out, readers included. A load that
read and validated its files on a writable connection held that lock for the
whole load (83 s for 1.66 M rows) and every page failed meanwhile. A writer
now works in three steps (:func:`run`):

1. **Its turn.** It takes the store's writer turn (:mod:`.turns`); a second
   writer waits for it up to ``--wait`` seconds, saying whom it waits for.
2. **Read and validate apart.** Its connection is an in-memory DuckDB with the
   store attached *read-only* as ``store`` (and made the default catalog, so the
   loaders' SQL is unchanged); the staged files, typed rows and quarantine live
   in that connection's temporary tables. DuckDB lets any number of processes
   read together, so the dashboards keep reading the last committed data.
3. **Apply.** Just before its transaction the loader enters :func:`writing`:
   the phase turns to ``applying`` (readers of this machine hold back new
   connections and serve what they have), the store is detached and attached
   again for writing, the transaction runs, and the store is detached (DuckDB
   checkpoints) when the writer ends. Only this step shuts readers out.

Why this and not a copy swapped in: a copy of the store costs its whole size
on every load (gigabytes for a few thousand new rows) and a swap loses what
another program wrote meanwhile. Here only the load's own rows are held apart.

Between the read-only detach and the write attach another program (not an
opeval writer: those wait for their turn) could write the file; the validation
would then be stale. :func:`writing` compares the file's stamp before and
after and, if it moved, raises :class:`StoreChanged`: :func:`run` then does the
whole work again on a connection opened for writing from the start (the old,
correct but blocking way).
"""
from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import duckdb

from . import db, turns

T = TypeVar("T")
Say = Callable[[str], None]


class StoreChanged(Exception):
    """The store was written by another program between validation and apply."""


HOLD = 5.0
"""Seconds readers are held back at a time while a writer waits for the write lock:
if other processes still hold the file then, readers go on for a moment and the
writer tries again (a forgotten notebook connection does not freeze the pages)."""


@dataclass
class _Staging:
    turn: turns.Turn
    path: str
    wait: float
    say: Say
    writable: bool = False


_STAGED: dict[int, _Staging] = {}   # id(connection) -> its staging state


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _waiting(s: _Staging, wait: float) -> Callable[[str, float], None]:
    def say(holder: str, waited: float) -> None:
        s.say(f"waiting for {holder}, which holds the database file ({waited:.0f} s of {wait:g} s)")
    return say


def _open_for_writing(turn: turns.Turn, path: str, wait: float, say: Say,
                      open_db: Callable[[float, Callable], T]) -> T:
    """``open_db(timeout, on_wait)`` (which takes DuckDB's write lock) with readers held
    back :data:`HOLD` s at a time; between tries readers go on. ``say`` names the holder
    (every 5 s at most)."""
    start = time.monotonic()
    told: list[float] = []

    def waiting(holder: str, _waited: float) -> None:
        waited = time.monotonic() - start
        if not told or time.monotonic() - told[-1] >= 5:
            told.append(time.monotonic())
            say(f"waiting for {holder}, which holds the database file "
                f"({waited:.0f} s of {wait:g} s)")

    while True:
        turn.phase(turns.APPLYING)
        left = wait - (time.monotonic() - start)
        try:
            return open_db(max(0.0, min(HOLD, left)), waiting)
        except db.StoreBusy as exc:
            waited = time.monotonic() - start
            if waited >= wait:
                raise db.StoreBusy(f"{exc} (--wait {wait:g} s)", exc.holder) from None
            turn.phase(turns.WAITING)
            waiting(exc.holder, waited)
            time.sleep(min(2.0, max(0.0, wait - waited)))


@contextlib.contextmanager
def writing(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Around a loader's transaction: make a staged connection's store writable.

    A connection that is not staged (opened with :func:`evaluation.store.db.connect`,
    as in tests and notebooks) is already writable: nothing to do.
    """
    s = _STAGED.get(id(con))
    if s is None or s.writable:
        yield
        return
    before = db.stamp(s.path)
    con.execute("USE memory")
    con.execute("DETACH store")
    sql = f"ATTACH {_quote(s.path)} AS store"
    _open_for_writing(s.turn, s.path, s.wait, s.say,
                      lambda t, w: db.retry_locked(lambda: con.execute(sql), s.path, t, w))
    con.execute("USE store")
    s.writable = True
    if db.stamp(s.path) != before:
        raise StoreChanged
    yield


def _schema_version(s: _Staging) -> int | None:
    if not os.path.exists(s.path):
        return None
    probe = db.retry_locked(lambda: duckdb.connect(s.path, read_only=True), s.path, s.wait,
                            _waiting(s, s.wait))
    try:
        return db.schema_version(probe)
    finally:
        probe.close()


@contextlib.contextmanager
def _staged(s: _Staging) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection with the store attached read-only as its default catalog."""
    if _schema_version(s) != db.SCHEMA_VERSION:
        # A new store, or one to migrate: created or migrated now, in one short write
        # (a newer schema is refused here with its one-line reason).
        _open_for_writing(s.turn, s.path, s.wait, s.say,
                          lambda t, w: db.connect(s.path, wait=t, on_wait=w)).close()
        s.turn.phase(turns.READING)
    con = db.configure(duckdb.connect(), spill=f"{s.path}.tmp")
    _STAGED[id(con)] = s
    try:
        db.retry_locked(lambda: con.execute(f"ATTACH {_quote(s.path)} AS store (READ_ONLY)"),
                        s.path, s.wait, _waiting(s, s.wait))
        con.execute("USE store")
        yield con
    finally:
        _STAGED.pop(id(con), None)
        con.close()


def _take_turn(path: str, command: str, what: str, wait: float, say: Say) -> turns.Turn:
    turn = turns.Turn(path, command, what)
    start = time.monotonic()
    told = None
    while not turn.try_acquire():
        waited = time.monotonic() - start
        holder = turns.status(path)
        shown = holder.describe() if holder is not None else "another writer"
        if waited >= wait:
            raise db.StoreBusy(f"database {path} is busy: {shown} is writing it; gave up after "
                               f"{waited:.0f} s (--wait {wait:g} s)", shown)
        if told is None or time.monotonic() - told >= 5:
            told = time.monotonic()
            say(f"waiting for {shown} to finish ({waited:.0f} s of {wait:g} s)")
        time.sleep(0.2)
    return turn


def run(path: str | os.PathLike, work: Callable[[duckdb.DuckDBPyConnection], T], command: str,
        what: str, wait: float | None = None, say: Say | None = None) -> T:
    """``work(con)`` as one writer turn on the store at ``path``: staged (the store
    read-only until ``work`` enters :func:`writing`), and, should the store change
    under it, once more on a connection writable throughout. ``wait`` bounds each
    wait (for the turn, for DuckDB's lock; default
    :func:`evaluation.store.db.lock_wait`); ``say`` gets the waiting messages."""
    path = os.fspath(path)
    wait = db.lock_wait(read_only=False) if wait is None else wait
    say = say or (lambda _m: None)
    turn = _take_turn(path, command, what, wait, say)
    try:
        s = _Staging(turn, path, wait, say)
        try:
            with _staged(s) as con:
                return work(con)
        except StoreChanged:
            say("another program wrote the database during validation: validating again "
                "with the database open for writing")
        con = _open_for_writing(turn, path, wait, say,
                                lambda t, w: db.connect(path, wait=t, on_wait=w))
        try:
            return work(con)
        finally:
            con.close()
    finally:
        turn.release()


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, command: str, what: str, wait: float | None = None,
              say: Say | None = None, create: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable connection for a short write (a purge, an erasure, a setting), in the
    store's writer turn: it waits behind loads instead of failing, and readers of this
    machine know it applies."""
    path = os.fspath(path)
    wait = db.lock_wait(read_only=False) if wait is None else wait
    say = say or (lambda _m: None)
    if not create and not os.path.exists(path):
        db.connect(path, create=False)      # the one-line "does not exist" error
    turn = _take_turn(path, command, what, wait, say)
    try:
        con = _open_for_writing(turn, path, wait, say,
                                lambda t, w: db.connect(path, create=create, wait=t, on_wait=w))
        try:
            yield con
        finally:
            con.close()
    finally:
        turn.release()
