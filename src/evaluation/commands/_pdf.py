"""``--format pdf``: the printed report of a command, written to ``--out FILE``
(:mod:`evaluation.reports.pdf`)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import OpevalError


def need_out(args) -> None:
    """A PDF is a file: ``--out`` is required (checked before the analysis runs)."""
    if args.format == "pdf" and not args.out:
        raise OpevalError("--format pdf needs --out FILE")


def write(args, data: bytes) -> int:
    Path(args.out).write_bytes(data)
    print(f"written to {args.out}", file=sys.stderr)
    return 0
