"""Options shared by the analysis commands to choose the engine and the data source.

``add_engine_options(parser)`` adds ``--engine duckdb|spark``, ``--lake DIR``,
``--spark-master URL``, ``--spark-remote sc://HOST:PORT`` and ``--spark-conf
KEY=VALUE``; ``tables_from_args(args)`` turns them (with the common ``--db``)
into :class:`evaluation.store.engine.Tables`. Without any of them a command
reads the DuckDB store as before.
"""
from __future__ import annotations

import argparse

from ..errors import OpevalError
from ..store.engine import ENGINES, Tables, open_engine


def _conf(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"not KEY=VALUE: {text!r}")
    return key.strip(), value.strip()


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("engine", "where the analysis runs (docs/spark.md)")
    g.add_argument("--engine", choices=ENGINES, default="duckdb",
                   help="duckdb (default) or spark; spark needs --lake")
    g.add_argument("--lake", metavar="DIR",
                   help="read a Parquet lake written by `opeval export` instead of --db "
                        "(with spark also hdfs://, s3a://... as the cluster sees it)")
    g.add_argument("--spark-master", metavar="URL",
                   help="Spark master: local[N], spark://HOST:7077, yarn, k8s://... "
                        "(default: Spark's own settings, else local[*])")
    g.add_argument("--spark-remote", metavar="sc://HOST:PORT",
                   help="a Spark Connect server instead of a master (also $SPARK_REMOTE)")
    g.add_argument("--spark-conf", metavar="KEY=VALUE", type=_conf, action="append", default=[],
                   help="extra Spark setting (repeatable), e.g. spark.executor.memory=8g")


def tables_from_args(args: argparse.Namespace, session=None) -> Tables:
    """The tables the options select; ``session`` reuses a SparkSession (tests)."""
    engine = getattr(args, "engine", "duckdb") or "duckdb"
    lake = getattr(args, "lake", None)
    master = getattr(args, "spark_master", None)
    remote = getattr(args, "spark_remote", None)
    conf = dict(getattr(args, "spark_conf", None) or [])
    if engine != "spark" and (master or remote or conf):
        raise OpevalError("--spark-master/--spark-remote/--spark-conf need --engine spark")
    return open_engine(engine, db=getattr(args, "db", None), lake=lake, spark_master=master,
                       spark_remote=remote, spark_conf=conf or None, session=session)


__all__ = ["add_engine_options", "tables_from_args"]
