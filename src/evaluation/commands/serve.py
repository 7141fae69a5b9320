"""``opeval serve [--port 5006] [--address 127.0.0.1]``: the dashboards on one server."""
from __future__ import annotations

import argparse
import sys


def register(sub, common) -> None:
    p = sub.add_parser(
        "serve", parents=[common], help="serve the dashboards (/, /data, …) on one server",
        description="Serve every dashboard page on one Panel server. Every script, style "
                    "and font comes from this server, so pages work on a closed network. "
                    "The database is opened read-only for each query, so loads can run "
                    "while the server is up (reload a page to see them).")
    p.add_argument("--port", type=int, default=5006, help="port to listen on (default 5006)")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--show", action=argparse.BooleanOptionalAction, default=False,
                   help="open a browser on the index page (default: no)")
    p.add_argument("--allow-origin", action="append", dest="allow_origins", metavar="HOST[:PORT]",
                   help="another host name browsers use to reach this server (repeatable), "
                        "e.g. the machine's name when --address is 0.0.0.0")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..serve import serve

    try:
        serve(args.db, port=args.port, address=args.address, show=args.show,
              allow_origins=args.allow_origins)
    except KeyboardInterrupt:
        print("opeval: server stopped", file=sys.stderr)
    return 0
