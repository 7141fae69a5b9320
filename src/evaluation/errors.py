"""Errors that opeval reports to the user as one line (the CLI prints them and exits 1).

The CLI is the operator's: its lines name files and processes. A dashboard is
anyone's: what it shows of an error goes through :func:`public_message`, which
names no file path, interpreter or process id.
"""
from __future__ import annotations

import re


class OpevalError(Exception):
    """Base class: a problem the user can act on, stated in one line.

    ``public`` is what a dashboard may show of it (None: the message, redacted).
    """

    def __init__(self, message: str = "", public: str | None = None):
        super().__init__(message)
        self.public = public


class InputError(OpevalError):
    """An input file cannot be read as the kind it was given as."""


class LoadRejected(OpevalError):
    """A ``--strict`` load met rejected rows and was rolled back."""


# Quoted text holding a path separator, then bare absolute paths (POSIX, Windows, UNC).
_QUOTED_PATH = re.compile(r"""(["'])[^"'\n]*[/\\][^"'\n]*\1""")
_BARE_PATH = re.compile(r"""(?<![\w.:/-])(?:/|[A-Za-z]:\\|\\\\)[^\s"',;()]*""")
_PID = re.compile(r"\s*\(?\bPID\s*:?\s*\d+\)?", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` without file paths, interpreters' paths or process ids."""
    text = _QUOTED_PATH.sub("a file", text)
    text = _BARE_PATH.sub("a file", text)
    return _PID.sub("", text)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def engine_message(exc: BaseException) -> str:
    """One line for the operator from an engine's error: its first line, and the cause
    DuckDB gives on a later line ("Original error: …", e.g. "No space left on device"
    behind "database has been invalidated")."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    cause = next((ln for ln in lines[1:] if ln.lower().startswith("original error")), None)
    return lines[0] + (f" ({cause})" if cause else "")


def public_message(exc: BaseException) -> str:
    """What a page or ``/health`` may show anyone about ``exc``: one line, no paths, no PIDs."""
    public = getattr(exc, "public", None)
    return public if public else redact(first_line(exc))
