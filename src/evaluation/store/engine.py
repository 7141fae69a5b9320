"""The engine layer: analyses receive Ibis tables, never file paths.

``open_tables`` binds the contract's tables on a backend. The default backend
is the DuckDB store (read-only, UTC); a Spark backend plugs in here too, so an
analysis written once against Ibis tables runs on either engine.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from . import db
from .schema import TABLES


@dataclass
class Tables:
    """The contract's tables on one backend, as Ibis table expressions."""

    backend: BaseBackend

    def __getitem__(self, name: str) -> ibis.Table:
        return self.backend.table(name)

    def __getattr__(self, name: str) -> ibis.Table:
        if name in TABLES or name in ("load_log", "quarantine", "messages", "meta"):
            return self.backend.table(name)
        raise AttributeError(name)


def duckdb_backend(path: str | Path, read_only: bool = True) -> BaseBackend:
    """An Ibis DuckDB backend on the store (schema checked, session in UTC)."""
    con = db.connect(path, read_only=read_only)
    return ibis.duckdb.from_connection(con)


def open_tables(path: str | Path, read_only: bool = True) -> Tables:
    return Tables(duckdb_backend(path, read_only=read_only))
