"""``opeval serve [--port 5006] [--address 127.0.0.1] [--auth basic|oauth] [--tls-cert PEM
--tls-key PEM]``: the dashboards on one server."""
from __future__ import annotations

import argparse
import sys


def register(sub, common) -> None:
    p = sub.add_parser(
        "serve", parents=[common], help="serve the dashboards (/, /data, …) on one server",
        description="Serve every dashboard page on one Panel server. Every script, style "
                    "and font comes from this server, so pages work on a closed network. "
                    "The database is opened read-only for each query, so loads can run "
                    "while the server is up: pages show the last committed data meanwhile, "
                    "and the new data once the load is done (reload a page). At start, a "
                    "background warm-up computes what each page shows first; GET /health "
                    "says when it is ready. The pages use the thresholds of opeval.toml beside "
                    "the database (docs/configuration.md), read again when it changes.")
    p.add_argument("--port", type=int, default=5006, help="port to listen on (default 5006)")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--show", action=argparse.BooleanOptionalAction, default=False,
                   help="open a browser on the index page (default: no)")
    p.add_argument("--allow-origin", action="append", dest="allow_origins", metavar="HOST[:PORT]",
                   help="another host name browsers use to reach this server (repeatable), "
                        "e.g. the machine's name when --address is 0.0.0.0")
    g = p.add_argument_group("access control (docs/security.md)")
    g.add_argument("--auth", choices=("none", "basic", "oauth"), default=None,
                   help="none (default: open, loopback only), basic (login page checked against "
                        "the users file's hashed passwords) or oauth (Panel's OAuth provider; "
                        "key, secret, redirect URI and encryption key from PANEL_OAUTH_KEY, "
                        "PANEL_OAUTH_SECRET, PANEL_OAUTH_REDIRECT_URI, PANEL_OAUTH_ENCRYPTION)")
    g.add_argument("--users", metavar="FILE", default=None,
                   help="users file made by `opeval users add` (default: $OPEVAL_USERS or "
                        "opeval-users.json beside the database)")
    g.add_argument("--oauth-provider", metavar="NAME", default=None,
                   help="Panel OAuth provider (github, google, azure, okta, generic, ...); "
                        "implies --auth oauth")
    g.add_argument("--allow-unauthenticated", action="store_true",
                   help="serve without --auth on a non-loopback --address (everyone who can "
                        "reach it reads every record)")
    g.add_argument("--tls-cert", metavar="PEM", default=None,
                   help="serve HTTPS with this certificate (chain) file; with --tls-key")
    g.add_argument("--tls-key", metavar="PEM", default=None,
                   help="the certificate's private key file")
    g.add_argument("--insecure", action="store_true",
                   help="allow --auth on a non-loopback --address without TLS (passwords and "
                        "session cookies cross the network in clear)")
    g.add_argument("--behind-proxy", action="store_true",
                   help="trust X-Forwarded-For / X-Forwarded-Proto from a reverse proxy in front "
                        "(client address for the login back-off, HTTPS for Secure cookies); "
                        "only when the proxy is the only way to reach this server")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="server logs on stderr: text, or one JSON object per line "
                        "(requests, page sessions, errors)")
    p.add_argument("--session-lifetime", type=float, default=15.0, metavar="SECONDS",
                   help="destroy a page session this long after its browser went away (default 15)")
    p.add_argument("--alerts-every", type=float, default=15.0, metavar="MINUTES",
                   help="run the alert rules and send the due digests every MINUTES while "
                        "serving (default 15; 0: never; docs/alerts.md)")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import config
    from ..serve import serve

    config.for_database(args.db)   # a broken settings file is said now, in one line
    try:
        auth = args.auth or ("oauth" if args.oauth_provider else "none")
        lifetime_ms = max(100, int(args.session_lifetime * 1000))
        serve(args.db, port=args.port, address=args.address, show=args.show,
              allow_origins=args.allow_origins, auth=auth, users_file=args.users,
              oauth_provider=args.oauth_provider, log_format=args.log_format,
              allow_unauthenticated=args.allow_unauthenticated,
              session_lifetime_ms=lifetime_ms, check_sessions_ms=max(100, lifetime_ms // 3),
              tls_cert=args.tls_cert, tls_key=args.tls_key, insecure=args.insecure,
              behind_proxy=args.behind_proxy, alerts_every_s=max(0.0, args.alerts_every * 60))
    except KeyboardInterrupt:
        print("opeval: server stopped", file=sys.stderr)
    return 0
