"""Per-process in-memory copies of the store, shared by the pages' states.

A page that needs window functions over a whole table copies what it reads
into an in-memory DuckDB of this process, once per database *stamp*
(:func:`evaluation.views.queries.stamp`). The store is attached read-only only
for the copy (:func:`attached`), so the server never holds the database file
and ``opeval ingest`` can write while pages are open; :class:`SnapshotCache`
keeps the latest copy of a few databases and rebuilds one when its stamp
changes, leaving the old copy to the pages still reading it. No Panel here.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import duckdb

from ..store import db, turns
from .queries import stamp


@dataclass
class Snapshot:
    """What a page copied from one database at one stamp: the in-memory DuckDB
    (``con``), the Ibis backend on it, and a lock for the queries on it. Pages
    subclass it with what else they keep (row counts, cached analyses…)."""

    path: str
    stamp: tuple
    con: duckdb.DuckDBPyConnection
    backend: object
    lock: threading.RLock = field(default_factory=threading.RLock, kw_only=True)
    _tables: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def table(self, name: str):
        """The Ibis table ``name`` of the copy, looked up once under :attr:`lock`.

        A lookup reads DuckDB's catalog, and DuckDB 2 refuses any call on a connection
        that another thread is using ("connection is busy") instead of waiting: a page
        building its expressions while the warm-up queried the same copy failed to
        open. Expressions are only run under the lock; their tables are looked up here.
        """
        with self.lock:
            found = self._tables.get(name)
            if found is None:
                found = self._tables[name] = self.backend.table(name)
            return found


class _Stamped(Protocol):
    stamp: tuple


S = TypeVar("S", bound=_Stamped)


def quote(path: str) -> str:
    """``path`` as a SQL string literal."""
    return "'" + path.replace("'", "''") + "'"


@contextlib.contextmanager
def attached(path: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A new in-memory DuckDB with the store at ``path`` attached read-only as ``src``
    for the body of the ``with``; ``src`` is detached when it ends. Like every reader
    it lets a writer finish applying first and waits a moment for a lock
    (:func:`evaluation.store.db.connect`)."""
    con = db.configure(duckdb.connect())
    turns.wait_while_applying(path, db.APPLY_WAIT)
    try:
        db.retry_locked(lambda: con.execute(f"ATTACH {quote(path)} AS src (READ_ONLY)"), path,
                        db.lock_wait(read_only=True), reader=True)
    except BaseException:
        con.close()
        raise
    try:
        yield con
    finally:
        con.execute("DETACH src")


class SnapshotCache(Generic[S]):
    """The snapshot of each database at its current stamp, at most ``most`` databases
    (the oldest one is dropped first); a snapshot whose stamp is stale is rebuilt.

    A snapshot replaced or dropped is not closed here: a page being built may still
    read it (a page's state asks the cache at each query, and the live e-Intervention
    endpoint moves the stamp every second or so; closing it made such a page fail with
    "Connection has already been closed"). It is freed with its last reader — its
    in-memory DuckDB goes with the connection.
    """

    def __init__(self, build: Callable[[str], S], most: int = 2) -> None:
        self._build = build
        self._most = most
        self._snapshots: dict[str, S] = {}
        self._lock = threading.Lock()

    def get(self, path) -> S:
        path = os.fspath(path)
        current = stamp(path)
        with self._lock:
            snap = self._snapshots.get(path)
            if snap is not None and snap.stamp == current:
                return snap
            fresh = self._build(path)
            self._snapshots.pop(path, None)
            while len(self._snapshots) >= self._most:
                self._snapshots.pop(next(iter(self._snapshots)))
            self._snapshots[path] = fresh
            return fresh
