"""Pieces the commands share: ``--progress``, ``--wait``, number arguments, the period
options and how a result's period and warnings are shown, writing the result to stdout
or ``--out FILE``."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show progress on stderr (default: when stderr is a terminal)")


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    """``--wait SECONDS``: how long a writer waits for the database (docs/security.md)."""
    from ..store.db import LOCK_WAIT_ENV, WRITER_WAIT
    parser.add_argument(
        "--wait", type=float, default=None, metavar="SECONDS",
        help="wait up to SECONDS for another writer (a load, a purge) to finish and for "
             "programs holding the database file to let go, saying on stderr whom it waits "
             f"for (default ${LOCK_WAIT_ENV}, else {WRITER_WAIT:g})")


def command_line(args) -> str:
    """The command as the operator typed it (shown to other writers waiting for it)."""
    return "opeval " + shlex.join(getattr(args, "argv", None) or [args.command])


def say_waiting(message: str) -> None:
    """Where a writer says whom it waits for (every 5 s at most): stderr, whether or not
    it is a terminal, so that a scheduled job's log says why the job took longer."""
    print(f"opeval: {message}", file=sys.stderr, flush=True)


def positive_int(what: str = "number"):
    """An argparse type: an integer of at least 1, else "not a positive <what>"."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = 0
        if n < 1:
            raise argparse.ArgumentTypeError(f"not a positive {what}: {text!r}")
        return n
    return parse


def add_period_options(parser: argparse.ArgumentParser, since: str) -> None:
    """``--as-of`` and ``--since``, with the one meaning every command gives them
    (:mod:`evaluation.period`); ``since`` says what the period starts with by default."""
    parser.add_argument(
        "--as-of", metavar="DATE|TIME",
        help="end of the period: a date means the end of that day in the database's time "
             "zone, a time that instant, excluded (default: the end of the last day with data)")
    parser.add_argument(
        "--since", metavar="DATE|TIME",
        help=f"start of the period: a date means its midnight in the database's time zone "
             f"(default: {since})")


def say_warnings(warnings: list[str]) -> None:
    """Each warning of a result as one ``opeval: warning:`` line on stderr (the JSON
    carries them too, under ``warnings``)."""
    for w in warnings:
        print(f"opeval: warning: {w}", file=sys.stderr)


def period_line(p: dict) -> str:
    """How a text report names its period (the ``period`` of a result)."""
    from ..period import describe
    return describe(p)


def emit(args, text: str) -> int:
    """``text`` and a newline to ``args.out`` (UTF-8) when given, else to stdout."""
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def pct(v) -> str:
    """A share as a percentage with one decimal; '-' when unknown."""
    return "-" if v is None else f"{v:.1%}"
