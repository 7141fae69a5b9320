"""``make bench``: every benchmark, each against a straightforward reference in the same run.

Each module in ``BENCHES`` exposes ``main(scale: str) -> None`` and prints its
own figures (rows, seconds, rows/s, peak memory, speed-up over the reference,
target met or not). ``python -m bench --only ingest --scale small`` runs one at a
smaller size while developing; the figures in docs/performance.md come from the
default (full) scale.
"""
from __future__ import annotations

import argparse
import importlib
import time

BENCHES = ("ingest", "messages", "alarms", "evaluation", "outages", "dashboards", "loads",
           "scaling", "oi")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", action="append", choices=BENCHES, help="run only these")
    parser.add_argument("--scale", choices=("small", "full"), default="full",
                        help="small: quick sizes for development; full: the issue targets")
    args = parser.parse_args()
    for name in args.only or BENCHES:
        print(f"\n=== bench: {name} (scale {args.scale}) ===", flush=True)
        t0 = time.perf_counter()
        importlib.import_module(f"bench.{name}").main(args.scale)
        print(f"=== {name} done in {time.perf_counter() - t0:.1f} s ===", flush=True)


if __name__ == "__main__":
    main()
