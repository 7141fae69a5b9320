"""The ``opeval`` command line: parse arguments, call the layers below, print.

Each sub-command lives in ``evaluation.commands.<name>`` and exposes
``register(subparsers, common)``; ``common`` carries the options every command
takes (``--db``). Errors the user can act on are printed as one line and exit 1.
"""
from __future__ import annotations

import argparse
import importlib
import sys

import duckdb

from . import __version__
from .config import default_db
from .errors import OpevalError, engine_message

COMMANDS = ("ingest", "quarantine", "config", "serve", "evaluate", "demo", "alarms", "export", "privacy",
            "outages", "blacklist", "users", "oi", "alerts", "digest")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS,
                        help="DuckDB database file (default: $OPEVAL_DB or data/opeval.duckdb)")
    parser = argparse.ArgumentParser(
        prog="opeval", parents=[common],
        description="Operation evaluation of security systems (DB33/T 830-2011 ch. 6), "
                    "alarm handling, and FTTH interventions vs customer outages (e-Intervention).")
    parser.add_argument("--version", action="version", version=f"opeval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"evaluation.commands.{name}").register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not hasattr(args, "db"):  # --db may stand before or after the command
        args.db = default_db()
    try:
        return int(args.func(args) or 0)
    except OpevalError as exc:
        print(f"opeval: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # Engine errors (DuckDB, Spark/Py4J, Ibis) and unreadable files are the
        # user's to act on: one line. Anything else is a bug: keep the traceback.
        if not (isinstance(exc, (duckdb.Error, OSError))
                or type(exc).__module__.split(".")[0] in ("pyspark", "py4j", "ibis")):
            raise
        first = engine_message(exc)
        print(f"opeval: error: {type(exc).__name__}: {first}"
              if not isinstance(exc, (duckdb.Error, OSError)) else f"opeval: error: {first}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("opeval: interrupted; the current load was not applied", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
