"""The engine layer: analyses receive Ibis tables, never file paths.

``open_tables`` binds the contract's tables on the DuckDB store (read-only,
UTC). ``open_engine`` gives the same :class:`Tables` over any of the three
sources an analysis can run on:

* ``engine="duckdb", db=FILE``   the DuckDB store (same as ``open_tables``);
* ``engine="duckdb", lake=DIR``  an in-memory DuckDB whose views read a Parquet
  lake written by ``opeval export`` (:mod:`evaluation.store.lake`);
* ``engine="spark", lake=DIR``   a Spark session (local, a cluster master URL or
  Spark Connect) whose temporary views read the same lake.

Engine-specific code lives here and nowhere else (docs/spark.md, "Engine
differences"); the analyses are plain Ibis and do not know which engine runs them:

* every session runs in UTC (DuckDB ``TimeZone``; Spark
  ``spark.sql.session.timeZone`` and the JVM's ``user.timezone``), and contract
  TIMESTAMP columns are read by Spark as ``TimestampType`` with an explicit
  schema, so both engines hand Ibis the same naive UTC timestamps;
* two fixes to Ibis' PySpark compiler: float literals as DOUBLE
  (:func:`_spark_double_literals`) and ordered ``collect``
  (:func:`_spark_ordered_collect`), and one to its backend: ``cache()`` on a
  Spark Connect session (:func:`_spark_cache_on_any_session`);
* Spark never downloads anything at run time (no ``spark.jars.packages``, no
  Ivy): Parquet support is built in.
"""
from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import ibis
from ibis.backends import BaseBackend

from .. import localtime
from ..errors import OpevalError
from . import db, lake
from .schema import TABLES

ENGINES = ("duckdb", "spark")
BOOKKEEPING = ("load_log", "quarantine", "messages", "meta")

# Spark settings opeval always applies (a user's --spark-conf may add others).
SPARK_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
# Only meaningful when opeval starts the driver JVM itself (local or master URL).
SPARK_JVM_DEFAULTS = {
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}

_view_ids = itertools.count(1)

MEMORY_ENV = "OPEVAL_MEMORY_LIMIT"
ANALYSIS_MEMORY = "1GB"
"""DuckDB's memory in ``opeval outages`` and ``opeval blacklist`` (:meth:`Tables.bound_memory`).
Merging the period's cut rows into cuts (issue 12) is a grouping with one group per cut;
unbounded, DuckDB held about 2.5 GB for it at 1M interventions × 10M cuts. Bounded, it
spills to disk: the whole process peaked at 1.3 to 1.4 GB, with no more CPU time
(docs/performance.md, "Interventions × cuts")."""
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


@dataclass
class Tables:
    """The contract's tables on one backend, as Ibis table expressions.

    ``views`` maps a contract table name to the name it has on the backend when
    the two differ (Spark temporary views are prefixed so that two lakes can be
    open on one session).
    """

    backend: BaseBackend
    views: Mapping[str, str] = field(default_factory=dict)
    engine: str = "duckdb"
    settings: Mapping[str, str] = field(default_factory=dict)
    """The store's settings (``meta``), or those a lake's manifest carries."""

    @property
    def zone(self) -> str:
        """The time zone of the data (:mod:`evaluation.localtime`)."""
        return localtime.database_zone(self.settings.get)

    def bound_memory(self, limit: str = ANALYSIS_MEMORY) -> None:
        """Hold DuckDB to ``limit`` of memory for the rest of the session (``$OPEVAL_MEMORY_LIMIT``
        wins), spilling what does not fit to disk (:func:`evaluation.store.db.configure` says
        where); Spark keeps its own settings (``--spark-conf``). See :data:`ANALYSIS_MEMORY`."""
        if self.engine != "duckdb":
            return
        limit = os.environ.get(MEMORY_ENV) or limit
        if not _MEMORY.match(limit):
            raise OpevalError(f"memory limit {limit!r} (${MEMORY_ENV}): expected a size such as "
                              f"1GB, 1500MB or 2GiB")
        self.backend.con.execute(f"SET memory_limit = '{limit}'")

    def __getitem__(self, name: str) -> ibis.Table:
        if self.views and name in TABLES and name not in self.views:
            raise OpevalError(f"the lake has no table {name!r}; export it with "
                              f"`opeval export --to DIR --tables {name}`")
        return self.backend.table(self.views.get(name, name))

    def __getattr__(self, name: str) -> ibis.Table:
        if name in TABLES or name in BOOKKEEPING:
            return self[name]
        raise AttributeError(name)


def duckdb_backend(path: str | Path, read_only: bool = True) -> BaseBackend:
    """An Ibis DuckDB backend on the store (schema checked, session in UTC)."""
    con = db.connect(path, read_only=read_only)
    return ibis.duckdb.from_connection(con)


def open_tables(path: str | Path, read_only: bool = True) -> Tables:
    backend = duckdb_backend(path, read_only=read_only)
    settings = dict(backend.con.execute("SELECT key, value FROM meta").fetchall())
    return Tables(backend, settings=settings)


def duckdb_lake_backend(location: str | Path) -> tuple[BaseBackend, dict[str, str], dict]:
    """An in-memory DuckDB whose views (named as the contract's tables) read the lake,
    the tables it has and the settings its manifest carries."""
    if lake.is_uri(location):
        raise OpevalError(f"{location}: DuckDB reads a local lake directory; use --engine spark for a URI")
    con = db.configure(duckdb.connect())
    manifest = lake.attach_duckdb(con, location)
    return ibis.duckdb.from_connection(con), {n: n for n in manifest.tables}, manifest.settings


# ------------------------------------------------------------------ Spark


def spark_session(master: str | None = None, remote: str | None = None,
                  conf: Mapping[str, str] | None = None, app_name: str = "opeval"):
    """A SparkSession with opeval's settings.

    ``remote`` (``sc://host:port``) uses Spark Connect (needs ``pyspark[connect]``);
    ``master`` (``local[4]``, ``spark://host:7077``, ``yarn``...) starts a classic
    driver here. With neither, Spark's usual settings decide (``SPARK_REMOTE``,
    ``spark-defaults.conf``, ``spark-submit``); failing those, ``local[*]``.
    """
    if master and remote:
        raise OpevalError("give either --spark-master or --spark-remote, not both")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise OpevalError("the Spark engine needs pyspark: pip install 'opeval[spark]'") from None
    remote = remote or (None if master else os.environ.get("SPARK_REMOTE"))
    settings = dict(SPARK_DEFAULTS)
    builder = SparkSession.builder.appName(app_name)
    if remote:
        try:
            import grpc  # noqa: F401  (Spark Connect's transport)
        except ImportError:
            raise OpevalError("Spark Connect needs its client libraries: "
                              "pip install 'opeval[spark-connect]'") from None
        builder = builder.remote(remote)
    else:
        settings.update(SPARK_JVM_DEFAULTS)
        if master:
            builder = builder.master(master)
        elif not os.environ.get("MASTER") and "spark.master" not in (conf or {}):
            from pyspark import SparkConf
            if not SparkConf().contains("spark.master"):
                builder = builder.master("local[*]")
    settings.update(conf or {})
    if remote:  # a Connect server only takes SQL settings from a client
        settings = {k: v for k, v in settings.items() if k.startswith("spark.sql.")}
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 (Java missing, cluster unreachable: py4j and pyspark raise many types)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise OpevalError(f"cannot start Spark: {first}") from None
    for key, value in settings.items():  # getOrCreate may return an existing session
        if key.startswith("spark.sql.") and session.conf.isModifiable(key):
            session.conf.set(key, value)
    if not remote:
        session.sparkContext.setLogLevel("ERROR")
    return session


def _spark_double_literals() -> None:
    """Compile Ibis float64 literals for Spark as DOUBLE, not DECIMAL (engine difference 1).

    Ibis 12 writes ``x / 3600.0`` as ``x / 3600.0``; Spark SQL reads an unsuffixed
    ``3600.0`` as ``DECIMAL(5,1)``, so the quotient becomes a decimal rounded to a
    few places (DuckDB, like Python, divides in double). Wrapping every finite
    float literal in ``CAST(... AS DOUBLE)`` gives Spark the analysis' intended
    type; the value is exact because Python prints the shortest repr that reads
    back as the same double. Applied once, to Ibis' PySpark compiler only
    (ibis-project/ibis#10890 and #11947 report the same literal typing elsewhere).
    """
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    if getattr(PySparkCompiler, "_opeval_double_literals", False):
        return
    original = PySparkCompiler.visit_NonNullLiteral

    def visit_NonNullLiteral(self, op, *, value, dtype):
        result = original(self, op, value=value, dtype=dtype)
        if dtype.is_floating() and result is not None and math.isfinite(value):
            return self.cast(result, dtype)
        return result

    PySparkCompiler.visit_NonNullLiteral = visit_NonNullLiteral
    PySparkCompiler._opeval_double_literals = True


def _spark_ordered_collect() -> None:
    """Compile ``collect(order_by=...)`` for Spark (engine difference 2).

    Ibis 12 refuses an ordered ``collect`` on PySpark because ``collect_list``
    keeps no order. Ascending orders (what the analyses use) compile instead to
    ``transform(array_sort(collect_list(struct(k1, .., v))), x -> x.v)``: the
    structs sort by their keys first, so the values come out in key order (ties
    by value). Rows filtered out by ``where`` and null values are left out, as
    ``collect`` does. A group with no value gives NULL, as on DuckDB (Spark's
    ``collect_list`` alone gives an empty array); this holds for unordered
    ``collect`` too. Descending orders still raise Ibis' error.
    """
    import sqlglot as sg
    import sqlglot.expressions as sge
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    if getattr(PySparkCompiler, "_opeval_ordered_collect", False):
        return
    original = PySparkCompiler.visit_ArrayCollect

    def visit_ArrayCollect(self, op, *, arg, where, order_by, include_null, distinct):
        keys = [o.this if isinstance(o, sge.Ordered) else o for o in order_by or ()]
        ascending = all(not (isinstance(o, sge.Ordered) and o.args.get("desc")) for o in order_by or ())
        if not order_by or distinct or include_null or not ascending:
            result = original(self, op, arg=arg, where=where, order_by=order_by,
                              include_null=include_null, distinct=distinct)
        else:
            names = [f"k{i}" for i in range(len(keys))] + ["v"]
            item = sge.Struct.from_arg_list([e.as_(n, quoted=self.quoted)
                                             for n, e in zip(names, [*keys, arg], strict=True)])
            keep = arg.is_(sge.Null()).not_()
            if where is not None:
                keep = sge.and_(where, keep)
            collected = self.f.collect_list(self.if_(keep, item, sge.Null()))
            x = sg.to_identifier("opeval_x")
            result = self.f.transform(self.f.array_sort(collected), sge.Lambda(
                this=sge.Dot(this=x, expression=sg.to_identifier("v", quoted=self.quoted)),
                expressions=[x]))
        return self.if_(self.f.size(result) > 0, result, sge.Null())

    PySparkCompiler.visit_ArrayCollect = visit_ArrayCollect
    PySparkCompiler._opeval_ordered_collect = True


def _spark_cache_on_any_session() -> None:
    """Let ``Table.cache()`` work on a Spark Connect session (engine difference 3).

    Ibis 12's PySpark backend persists the query's DataFrame and then asserts
    ``is_cached``; with Spark Connect (pyspark 4.0) the storage level of a
    DataFrame made by ``session.sql`` reads as NONE even after ``persist``, so
    the assertion failed and every analysis that caches an intermediate table
    (alarms, outages) stopped with an AssertionError. The same steps without
    that check; classic sessions are unaffected.
    """
    from ibis.backends.pyspark import Backend

    if getattr(Backend, "_opeval_cache_any_session", False):
        return

    def _create_cached_table(self, name, expr):
        t = self._session.sql(self.compile(expr)).cache()
        t.createTempView(name)
        self._cached_dataframes[name] = t
        return self.table(name)

    Backend._create_cached_table = _create_cached_table
    Backend._opeval_cache_any_session = True


def spark_tables(session, location: str | Path, prefix: str | None = None) -> Tables:
    """Tables over the lake at ``location`` on ``session`` (temporary views, prefixed)."""
    manifest = lake.spark_manifest(session, location)
    frames = lake.spark_dataframes(session, location, manifest)
    prefix = prefix or f"opeval{next(_view_ids)}_"
    views = {}
    for name, frame in frames.items():
        frame.createOrReplaceTempView(prefix + name)
        views[name] = prefix + name
    _spark_double_literals()
    _spark_ordered_collect()
    _spark_cache_on_any_session()
    backend = ibis.pyspark.connect(session)
    return Tables(backend, views, engine="spark", settings=manifest.settings)


def open_engine(engine: str = "duckdb", db: str | Path | None = None, lake: str | Path | None = None,
                spark_master: str | None = None, spark_remote: str | None = None,
                spark_conf: Mapping[str, str] | None = None, session=None) -> Tables:
    """The contract's tables on ``engine`` over the store ``db`` or the lake ``lake``.

    DuckDB reads either (``lake`` wins when both are given); Spark reads a lake
    only. ``session`` reuses an existing SparkSession (tests start one per run).
    """
    if engine not in ENGINES:
        raise OpevalError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "duckdb":
        if spark_master or spark_remote or spark_conf:
            raise OpevalError("--spark-master/--spark-remote/--spark-conf need --engine spark")
        if lake is not None:
            backend, views, settings = duckdb_lake_backend(lake)
            return Tables(backend, views, settings=settings)
        if db is None:
            raise OpevalError("no database given")
        return open_tables(db)
    if lake is None:
        raise OpevalError("the Spark engine reads a lake: write one with `opeval export --to DIR`, "
                          "then pass --lake DIR")
    if session is None:
        session = spark_session(spark_master, spark_remote, spark_conf)
    return spark_tables(session, lake)


__all__ = [
    "ANALYSIS_MEMORY",
    "ENGINES",
    "MEMORY_ENV",
    "SPARK_DEFAULTS",
    "Tables",
    "duckdb_backend",
    "duckdb_lake_backend",
    "open_engine",
    "open_tables",
    "spark_session",
    "spark_tables",
]
