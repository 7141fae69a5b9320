"""Read-only, cached SQL access to the store for the dashboards (no Panel here).

Every query opens a short read-only connection and closes it again, so a
running ``opeval serve`` never holds the database file between page updates
and ``opeval ingest`` can write to it while the dashboards are open (DuckDB
lets one process write, or several read, at a time).

Results are cached on the SQL text, its parameters and a *stamp* of the
database files (size and modification time of the file and its write-ahead
log): a new load changes the stamp, so pages see it on their next query
without any manual invalidation. Filter values are always passed as query
parameters, never formatted into the SQL text.

While an opeval writer applies its transaction (:mod:`evaluation.store.turns`),
the file changes under way and nobody else may open it: :func:`stamp` then
keeps giving the last stamp this process saw before, so the pages serve what
they already hold (the last committed data) and only a query never asked
before waits for the apply to end.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .. import config
from ..csv_export import to_csv
from ..store import db, turns
from ..store.schema import LOAD_ORDER

# The bookkeeping tables shown beside the contract tables.
BOOKKEEPING = ("load_log", "quarantine", "messages")

_CACHE_SIZE = 256


_committed: dict[str, tuple] = {}   # path -> the last stamp seen while no writer applied


def stamp(path: str | Path) -> tuple:
    """The stamp of the last committed state of the database at ``path`` (see above), and
    of the settings file beside it (:func:`evaluation.config.file_stamp`): a changed
    threshold is seen like a new load."""
    key = os.fspath(path)
    writer = turns.status(key)
    if writer is not None and writer.phase == turns.APPLYING and key in _committed:
        return _committed[key]
    current = db.stamp(key) + (config.file_stamp(key),)
    if writer is None or writer.phase != turns.APPLYING:
        _committed[key] = current
    return current


_local = threading.local()  # path -> connection of the session open on this thread


@contextlib.contextmanager
def _connection(path: str):
    """The connection of the enclosing :meth:`ReadOnlyStore.session` (opened at its first
    query), else a new short one."""
    sessions = getattr(_local, "sessions", {})
    if path in sessions:
        if sessions[path] is None:
            sessions[path] = db.connect(path, read_only=True)
        yield sessions[path]
        return
    con = db.connect(path, read_only=True)
    try:
        yield con
    finally:
        con.close()


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _cached(path: str, file_stamp: tuple, sql: str, params: tuple) -> pd.DataFrame:
    with _connection(path) as con:
        return con.cursor().execute(sql, list(params)).df()


class ReadOnlyStore:
    """Parameterised, cached queries on one database file, opened read-only each time."""

    def __init__(self, path: str | Path, principal=None, source: str | Path | None = None):
        self.path = os.fspath(path)
        # The store itself, where ``path`` is a role's scoped copy of its tables: the
        # alerts' state lives there only (evaluation.views.alerts_state).
        self.source = os.fspath(source) if source is not None else self.path
        # Who the pages built on this store are for (evaluation.auth.roles.Principal);
        # None outside an authenticated server. The rows are already restricted: with
        # --auth, ``path`` is the principal's scoped database (evaluation.auth.scope).
        self.principal = principal

    def may_open(self, page_path: str) -> bool:
        """Whether the store's principal may open the dashboard page ``page_path``."""
        return self.principal is None or self.principal.may_open(page_path)

    def check(self) -> None:
        """Raise :class:`~evaluation.store.db.StoreError` when the file is missing or unusable."""
        db.connect(self.path, read_only=True).close()

    @contextlib.contextmanager
    def session(self):
        """Run the queries inside on one read-only connection (opening one costs ~50 ms),
        opened by the first query the cache cannot answer: a burst answered from the
        cache opens nothing.

        Use it around a burst of queries (building a page, applying a filter) and
        leave it soon: while it is open, no other process can write the database.
        """
        sessions = _local.__dict__.setdefault("sessions", {})
        if self.path in sessions:
            yield self
            return
        sessions[self.path] = None
        try:
            yield self
        finally:
            con = sessions.pop(self.path)
            if con is not None:
                con.close()

    def df(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """The result as a new DataFrame (a copy: callers may change it freely)."""
        return _cached(self.path, stamp(self.path), sql, tuple(params)).copy()

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        frame = _cached(self.path, stamp(self.path), sql, tuple(params))
        return None if frame.empty else frame.iat[0, 0]

    def csv(self, sql: str, params: Sequence[Any] = (), batch_rows: int = 50_000) -> bytes:
        """The whole result as CSV bytes with a header, read from DuckDB in Arrow batches
        and written by :func:`evaluation.csv_export.to_csv` (text cells neutralised).

        Not cached: a download is asked for once, and may be larger than a page.
        """
        with _connection(self.path) as con:
            # A fresh cursor: the connection itself may hold the schema check's result.
            reader = con.cursor().sql(sql, params=list(params)).to_arrow_reader(batch_rows)
            parts = itertools.chain([reader.schema.empty_table().to_pandas()],
                                    (batch.to_pandas() for batch in reader))
            return to_csv(parts).encode("utf-8")

    def table_counts(self) -> pd.DataFrame:
        """Row count of every contract table (load order) and bookkeeping table."""
        names = LOAD_ORDER + BOOKKEEPING
        union = " UNION ALL ".join(
            f"SELECT {i} AS pos, '{n}' AS \"table\", count(*) AS \"rows\" FROM \"{n}\""
            for i, n in enumerate(names))
        return self.df(f'SELECT "table", "rows" FROM ({union}) ORDER BY pos')
