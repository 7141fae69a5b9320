"""Progress reporting on stderr for long work (silent when stderr is not a terminal)."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable


def step_printer(enabled: bool | None = None) -> Callable[[str], None]:
    """A function that prints timestamped steps to stderr (``None``: only on a terminal)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    start = time.perf_counter()

    def step(message: str) -> None:
        if enabled:
            print(f"[{time.perf_counter() - start:7.1f}s] {message}", file=sys.stderr, flush=True)

    return step
