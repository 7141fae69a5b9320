"""Timing and peak-memory measurement shared by the benchmarks.

Each measured function runs in a fresh child process so that its peak resident
memory (``ru_maxrss`` of the child) is its own and not the harness's.
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections.abc import Callable
from typing import Any


def _child(fn, args, queue) -> None:
    t0 = time.perf_counter()
    out = fn(*args)
    elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((elapsed, peak_mb, out))


def measure(fn: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """Run ``fn(*args)`` in a child process; return (seconds, peak MB, result)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def line(label: str, rows: int, seconds: float, peak_mb: float, target_s: float | None = None,
         reference_s: float | None = None) -> str:
    """One printed figure: rows, time, throughput, peak memory, target and speed-up."""
    parts = [f"{label:<44} {rows:>11,} rows {seconds:8.2f} s {rows / max(seconds, 1e-9):>12,.0f} rows/s "
             f"peak {peak_mb:7.0f} MB"]
    if target_s is not None:
        parts.append(f"target < {target_s:g} s: {'met' if seconds < target_s else 'MISSED'}")
    if reference_s is not None:
        parts.append(f"{reference_s / seconds:5.1f}x faster than the reference")
    return "  ".join(parts)
