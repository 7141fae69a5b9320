"""``opeval ingest KIND PATH… [--strict] [--wait SECONDS]``: load files into the store.

The load reads and validates its files with the database open read-only, so the
dashboards keep serving meanwhile, and writes it only for the transaction that
applies the load (:mod:`evaluation.store.writer`).
"""
from __future__ import annotations

import argparse
import sys

from ..errors import OpevalError
from ..progress import step_printer
from ..store import writer
from ..store.ingest import LoadResult, ingest
from ..store.readers import DEFAULT_MAX_FIELD_BYTES, ReadOptions
from ..store.schema import LOAD_ORDER
from ..store.text import encoding_name
from ._output import add_wait_option, command_line, positive_int, say_waiting

SPECIAL_KINDS = ("messages", "alarm_log")


def register(sub, common) -> None:
    p = sub.add_parser(
        "ingest", parents=[common], help="load CSV, Parquet or NDJSON files into the store",
        description="Load files as one table of the data contract (docs/data-contract.md). "
                    "Rows that break the contract are quarantined with their reason; the "
                    "load is applied in one transaction (all files or none).",
        epilog="Load in reference order: systems, devices, faults, maintenance, alarms; "
               "pms, then messages or interventions, intervention_targets, outage_reports, "
               "outages. Example: opeval ingest faults data/faults.csv --strict")
    p.add_argument("kind", choices=LOAD_ORDER + SPECIAL_KINDS, metavar="KIND",
                   help="table to load: " + ", ".join(LOAD_ORDER + SPECIAL_KINDS))
    p.add_argument("paths", nargs="+", metavar="PATH", help="input files (.csv, .parquet, .ndjson)")
    p.add_argument("--strict", action="store_true",
                   help="any rejected row fails the whole load and nothing is applied")
    p.add_argument("--responses", metavar="FILE",
                   help="messages: write the OI's answer to each line as NDJSON")
    p.add_argument("--oi-code", action="append", dest="oi_codes", metavar="CODE",
                   help="messages: an OI code this database belongs to (repeatable; default: "
                        "the `oi_codes` setting, else the OI codes of the loaded PMs)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show progress on stderr (default: when stderr is a terminal)")
    p.add_argument("--encoding", metavar="NAME", default=None,
                   help="text encoding of CSV and NDJSON files (default UTF-8, with or without "
                        "a byte-order mark; UTF-16 is recognised by its byte-order mark), e.g. "
                        "latin-1 or cp1252 for a Windows export")
    p.add_argument("--max-field-bytes", type=positive_int("number of bytes"),
                   default=DEFAULT_MAX_FIELD_BYTES, metavar="N",
                   help="a row with a field longer than N bytes is quarantined "
                        f"(default {DEFAULT_MAX_FIELD_BYTES})")
    p.add_argument("--alerts", action=argparse.BooleanOptionalAction, default=True,
                   help="after the load, check the alert rules and deliver what fired "
                        "(default: yes; docs/alerts.md)")
    add_wait_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.kind != "messages" and (args.responses or args.oi_codes):
        raise OpevalError("--responses and --oi-code apply to messages only")
    if args.kind == "messages" and (args.encoding or args.max_field_bytes != DEFAULT_MAX_FIELD_BYTES):
        raise OpevalError("--encoding and --max-field-bytes do not apply to messages (an "
                          "e-Intervention message log is UTF-8 NDJSON, checked line by line)")
    options = ReadOptions(encoding_name(args.encoding) if args.encoding else None,
                          args.max_field_bytes)
    progress = step_printer(args.progress)
    shown = args.progress or (args.progress is None and sys.stderr.isatty())

    def load(con) -> LoadResult:
        if shown:
            con.execute("SET enable_progress_bar = true")  # DuckDB's bar for the long bulk steps
        if args.kind == "messages":
            from ..eintervention.reception import ingest_messages
            return ingest_messages(con, args.paths, responses=args.responses,
                                   oi_codes=args.oi_codes, strict=args.strict,
                                   progress=args.progress)
        if args.kind == "alarm_log":
            from ..store.alarm_log import ingest_alarm_log
            return ingest_alarm_log(con, args.paths, strict=args.strict, progress=progress,
                                    options=options)
        return ingest(con, args.kind, args.paths, strict=args.strict, progress=progress,
                      options=options)

    result = writer.run(args.db, load, command_line(args), f"ingest {args.kind}",
                        wait=args.wait, say=say_waiting)
    report(result)
    if args.alerts:
        progress("committed; checking the alert rules at a lower CPU priority")
        from ..alerts.engine import after_load
        print(after_load(args.db, command_line(args), args.wait, say_waiting))
    return 0


def report(result: LoadResult) -> None:
    """Print one line per file and the total (read = accepted + quarantined)."""
    for f in result.files:
        extra = f" (ignored columns: {', '.join(f.ignored_columns)})" if f.ignored_columns else ""
        extra += getattr(f, "note", "")
        print(f"{f.source}: read {f.rows_read}, accepted {f.accepted} (inserted {f.inserted}, "
              f"updated {f.updated}, unchanged {f.unchanged}), quarantined {f.quarantined}{extra}")
    print(f"load {result.load_id} {result.status}: {result.summary()}")
    if result.total("quarantined"):
        print(f"see the reasons with: opeval quarantine --load {result.load_id}")
