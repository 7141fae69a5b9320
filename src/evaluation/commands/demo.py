"""``opeval demo [--scale small|medium|large] [--seed N] [--out DIR] [--force]``: the demo's
files go to ``--out``, else to ``demo/<scale>`` beside the database, never the current folder."""
from __future__ import annotations

import argparse

from ..demo import SCALES, build
from ..demo.build import DEFAULT_SEED, default_out
from ..progress import step_printer


def register(sub, common) -> None:
    p = sub.add_parser(
        "demo", parents=[common], help="build the demo database (files + load)",
        description="Write a coherent demo dataset for every table of the data contract "
                    "(CSV and Parquet) plus the e-Intervention message log it came from, "
                    "then load the tables into the database with the ordinary loader. "
                    "The same seed gives the same files. See docs/demo.md for the planted "
                    "patterns.")
    p.add_argument("--scale", choices=tuple(SCALES), default="small",
                   help="small (~40k rows, seconds), medium (~1M rows), large (~10M rows)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument("--out", metavar="DIR",
                   help="directory for the files (default: demo/<scale> beside the database)")
    p.add_argument("--force", action="store_true",
                   help="replace the database if it exists")
    p.add_argument("--via-messages", action="store_true",
                   help="build interventions, targets and outage reports by receiving the "
                        "message log as the OI (fills the messages table with its answers) "
                        "instead of loading their tabular files")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show progress on stderr (default: when stderr is a terminal)")
    p.set_defaults(func=run)


def run(args) -> int:
    out = args.out or default_out(args.db, args.scale)
    built = build(args.db, scale=args.scale, seed=args.seed, out=out, force=args.force,
                  progress=step_printer(args.progress), via_messages=args.via_messages)
    gen = built.generated
    print(f"demo {args.scale}, seed {args.seed}: files in {gen.out} "
          f"(generated in {gen.seconds:.1f}s)")
    for name, result in built.loads.items():
        q = result.total("quarantined")
        if name == "messages":
            print(f"  {'(messages received)':<21} {result.total('rows_read'):>10} lines "
                  f"{gen.messages[0].name}  ({q} answered KO)")
            continue
        files = gen.paths[name]
        shown = files[0].name + (f" (+{len(files) - 1} more)" if len(files) > 1 else "")
        print(f"  {name:<21} {result.total('accepted'):>10} rows  {shown}"
              + (f"  ({q} quarantined)" if q else ""))
    if "messages" not in built.loads:
        print(f"  {'messages':<21} {gen.message_count:>10} lines {gen.messages[0].name} "
              f"(receive with: opeval ingest messages, or demo --via-messages)")
    total = sum(gen.rows.values())
    print(f"database {built.db_path}: {total} rows in {built.seconds:.1f}s; "
          f"oi_codes set; the demo world ends with 2025-06-30 (each analysis defaults to its "
          f"last day with data)")
    return 0
