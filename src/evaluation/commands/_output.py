"""Pieces the commands share: ``--progress``, ``--wait``, number and date arguments,
writing the result to stdout or ``--out FILE``."""
from __future__ import annotations

import argparse
import datetime as dt
import re
import shlex
import sys
from pathlib import Path

from .. import localtime
from ..errors import OpevalError


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


def parse_when(text: str | None, zone: str = localtime.UTC) -> dt.date | dt.datetime | None:
    """``YYYY-MM-DD`` as a date (a whole day), or an ISO 8601 time as naive UTC (a time
    without offset is a wall time of ``zone``)."""
    if text is None:
        return None
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text)
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise OpevalError(f"not an ISO 8601 date or time: {text!r}") from None
    if t.tzinfo is not None:
        return t.astimezone(dt.UTC).replace(tzinfo=None)
    return localtime.to_utc(t, zone)


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
