"""Pieces the analysis commands share: ``--progress``, number and date arguments,
writing the result to stdout or ``--out FILE``."""
from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

from .. import localtime
from ..errors import OpevalError


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show progress on stderr (default: when stderr is a terminal)")


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
