"""``opeval export --to DIR [--tables T,...]``: the store as a partitioned Parquet lake.

The lake is what ``--lake DIR`` reads, with DuckDB or Spark (docs/spark.md).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import OpevalError
from ..progress import step_printer
from ..store import db, lake, writer
from ._output import add_progress_option, add_wait_option, positive_int, say_waiting

_positive = positive_int()


# Contract tables holding customer line references (PTO), pseudonymised by default.
PTO_TABLES = ("outages", "intervention_targets")


def database_pseudonym_key(path: str, wait: float | None = None) -> bytes:
    """The database's pseudonym key; created (one short write, in the writers' turn) if the
    database has none yet."""
    from ..auth.scope import read_pseudonym_key
    stored = read_pseudonym_key(path)
    if stored:
        return stored
    from ..store import privacy
    with writer.exclusive(path, f"opeval export (creating the pseudonym key of {path})",
                          "export", wait, say_waiting, create=False) as con:
        return privacy.pseudonym_key(con)


def register(sub, common) -> None:
    p = sub.add_parser(
        "export", parents=[common], help="write the tables as a partitioned Parquet lake",
        description="Write every table of the store (or --tables) as hive-partitioned Parquet "
                    "under DIR: event tables by month of their time column, and by system or "
                    "PM when the partitions stay large; a manifest records the schema version, "
                    "row counts and export time. An existing lake is updated table by table.",
        epilog="Example: opeval export --to lake/ ; opeval evaluate --engine spark --lake lake/")
    p.add_argument("--to", required=True, metavar="DIR", help="lake directory (created if missing)")
    p.add_argument("--tables", action="append", metavar="T[,T...]",
                   help="only these tables (comma-separated or repeated; default: all)")
    p.add_argument("--min-rows-per-partition", type=_positive, default=lake.MIN_ROWS_PER_PARTITION,
                   metavar="N", help="add the system/PM partition level only when partitions "
                                     f"average at least N rows (default {lake.MIN_ROWS_PER_PARTITION})")
    add_progress_option(p)
    p.add_argument("--pseudonymise", action=argparse.BooleanOptionalAction, default=True,
                   help="write customer line references (PTO) as keyed pseudonyms, the "
                        "database's HMAC key (default); --no-pseudonymise only for readers "
                        "allowed to see them (docs/security.md)")
    add_wait_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if not Path(args.db).exists():
        raise OpevalError(f"{args.db}: no such database")
    names = lake.parse_table_list(args.tables)
    step = step_printer(args.progress)
    column_sql = None
    if args.pseudonymise:
        from ..auth.scope import PTO_PREFIX, pseudonym_sql, register_pseudonym
        key = database_pseudonym_key(args.db, args.wait)
        column_sql = {t: {"pto": pseudonym_sql('"pto"', PTO_PREFIX)} for t in PTO_TABLES}
    con = db.connect(args.db, read_only=True)
    try:
        if args.pseudonymise:
            register_pseudonym(con, key)
        manifest = lake.export_lake(con, args.to, names, min_rows_per_partition=args.min_rows_per_partition,
                                    source=Path(args.db).name, progress=step, column_sql=column_sql)
    finally:
        con.close()
    for name in names:
        t = manifest.tables[name]
        parts = ", ".join(t.partition_by) or "-"
        print(f"  {name:<21} {t.rows:>10} rows  {t.files:>5} file(s)  partitioned by {parts}")
    print(f"lake {args.to}: {sum(manifest.tables[n].rows for n in names)} rows in {len(names)} table(s); "
          f"manifest {lake.MANIFEST}")
    return 0
