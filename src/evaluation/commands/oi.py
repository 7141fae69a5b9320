"""``opeval oi serve|partners|outbox|log|simulate``: the OI's live e-Intervention endpoint.

See docs/eintervention.md ("The live endpoint") and docs/security.md (tokens,
limits, TLS).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ..errors import OpevalError
from ._output import positive_int


def _delays(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        values = ()
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected seconds separated by commas, got {text!r}")
    return values


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return value


def register(sub, common) -> None:
    p = sub.add_parser(
        "oi", parents=[common], help="the OI's live e-Intervention endpoint (M1/M3/M5 over HTTP)",
        description="Receive e-Intervention lot 1 messages over HTTP as the OI (DOs post M1/M3, "
                    "OCs post M5), answer them with the rules of `opeval ingest messages`, "
                    "relay M2/M4 to the OCs present at the PM (flow 2), and manage the partners' "
                    "tokens. Runs beside `opeval serve` (the dashboards), which sees the new "
                    "interventions within seconds.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    s = actions.add_parser("serve", parents=[common], help="run the endpoint",
                           description="Serve POST /v1/intervention_DO and "
                                       "/v1/client_HS_OC_Par_Inter (lot 1 OpenAPI) and GET "
                                       "/health until interrupted. Every answered message is "
                                       "in the journal (<db>.oi.sqlite) before its answer and "
                                       "in the store within about --apply-every seconds.")
    s.add_argument("--port", type=int, default=8443, help="port (default 8443)")
    s.add_argument("--address", default="127.0.0.1", help="address (default 127.0.0.1)")
    s.add_argument("--ocs", metavar="FILE", default=None,
                   help="TOML file of the OCs present at the PMs and their endpoints (flow 2; "
                        "docs/eintervention.md); without it no M2/M4 is sent")
    s.add_argument("--oi-code", action="append", dest="oi_codes", metavar="CODE",
                   help="an OI code of this database (as `ingest messages --oi-code`)")
    s.add_argument("--apply-every", type=_rate, default=1.0, metavar="SECONDS",
                   help="apply the messages received to the store this often (default 1)")
    s.add_argument("--retry-delays", type=_delays, default=None, metavar="S1,S2,…",
                   help="seconds before each automatic retry of an M2/M4 (default "
                        "60,120,300,600,72000: the spec's 1, 2, 5, 10 min, 20 h)")
    s.add_argument("--max-body-bytes", type=positive_int("number of bytes"), default=None,
                   metavar="N", help="refuse larger bodies with 413 (default 262144)")
    s.add_argument("--tls-cert", metavar="PEM", default=None, help="serve HTTPS with this "
                   "certificate (chain); with --tls-key")
    s.add_argument("--tls-key", metavar="PEM", default=None, help="the certificate's key")
    s.add_argument("--tls-client-ca", metavar="PEM", default=None,
                   help="mutual TLS: require a client certificate signed by this CA")
    s.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --address without TLS (tokens in clear)")
    s.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="request log on stderr: text, or one JSON object per line")
    s.set_defaults(func=run_serve)

    pa = actions.add_parser("partners", parents=[common], help="the DOs' and OCs' tokens")
    pact = pa.add_subparsers(dest="partners_action", required=True, metavar="ACTION")
    add = pact.add_parser("add", parents=[common], help="make a token for a partner; the token "
                          "is printed once, alone on the last line")
    add.add_argument("code", help="the partner's Interop code (Code_DO or Code_OC)")
    add.add_argument("--role", required=True, choices=("do", "oc"),
                     help="do: a DO, posts M1/M3 (scope write:interventions); oc: an OC, "
                          "posts M5 (scope write:clients)")
    add.add_argument("--rate", type=_rate, default=None, metavar="PER_SECOND",
                     help="requests per second allowed (default 100)")
    add.add_argument("--burst", type=positive_int("number of requests"), default=None,
                     metavar="N", help="requests allowed at once above the rate (default 200)")
    pact.add_parser("list", parents=[common], help="list the tokens (never the secrets)")
    rv = pact.add_parser("revoke", parents=[common], help="revoke a partner's tokens, or one "
                         "token by its id")
    rv.add_argument("who", metavar="CODE|TOKEN_ID")
    pa.set_defaults(func=run_partners)

    ob = actions.add_parser("outbox", parents=[common], help="flow 2 deliveries (M2/M4 to OCs)")
    ob.add_argument("--state", choices=("pending", "delivered", "rejected", "failed"),
                    default=None, help="only deliveries in this state")
    ob.add_argument("--limit", type=positive_int(), default=100, help="at most N (default 100)")
    ob.add_argument("--retry", action="store_true",
                    help="retry by hand the failed and rejected deliveries selected by --id "
                         "and/or --since/--until (the endpoint sends them within a second)")
    ob.add_argument("--id", type=int, action="append", dest="ids", metavar="N",
                    help="with --retry: this delivery (repeatable)")
    ob.add_argument("--since", metavar="TIME", help="with --retry: created at or after (UTC)")
    ob.add_argument("--until", metavar="TIME", help="with --retry: created before (UTC)")
    ob.set_defaults(func=run_outbox)

    lg = actions.add_parser("log", parents=[common],
                            help="the messages received, as a message log for `ingest messages`")
    lg.add_argument("--out", metavar="FILE", default=None, help="write here (default stdout)")
    lg.set_defaults(func=run_log)

    sim = actions.add_parser(
        "simulate", parents=[common], help="replay a message log against a running endpoint",
        description="Post every M1/M3/M5 of a message log as its DO or OC would, at --rate per "
                    "second, retrying what gets no answer, with late M1s on demand; prints a "
                    "summary (answers, retries, latency p50/p99).")
    sim.add_argument("log", help="message log (the format of `opeval ingest messages`)")
    sim.add_argument("--url", required=True, help="the endpoint's base URL, e.g. "
                     "http://127.0.0.1:8443/v1")
    sim.add_argument("--tokens", metavar="FILE", required=True,
                     help="one CODE=TOKEN per line: the token of each DO and OC of the log")
    sim.add_argument("--rate", type=_rate, default=50.0, help="messages per second (default 50)")
    sim.add_argument("--concurrency", type=positive_int(), default=4,
                     help="requests at once (default 4)")
    sim.add_argument("--retry-delays", type=_delays, default=None, metavar="S1,S2,…",
                     help="seconds before each retry (default 1,2,5,10,20)")
    sim.add_argument("--late", type=float, default=0.0, metavar="FRACTION",
                     help="share of the M1s sent late (default 0)")
    sim.add_argument("--late-by", type=float, default=5.0, metavar="SECONDS",
                     help="how late (default 5)")
    sim.add_argument("--seed", type=int, default=1, help="which M1s are late (default 1)")
    sim.add_argument("--answers", metavar="FILE", default=None,
                     help="write one NDJSON record per line sent (status, answer, attempts, ms)")
    sim.set_defaults(func=run_simulate)


def run_serve(args) -> int:
    from ..eintervention import endpoint, outbox
    from ..serve import LOOPBACK, check_tls

    directory = outbox.Directory.read(args.ocs)
    tls = check_tls(args.tls_cert, args.tls_key)
    if args.tls_client_ca and not tls:
        raise OpevalError("--tls-client-ca needs --tls-cert and --tls-key")
    if args.address not in LOOPBACK and not tls:
        if not args.insecure:
            raise OpevalError(f"refusing to serve on {args.address} without TLS: the partners' "
                              "tokens would cross the network in clear; give --tls-cert and "
                              "--tls-key, or serve on 127.0.0.1 behind a TLS reverse proxy, or "
                              "--insecure if the network is trusted")
        print(f"opeval: WARNING: serving on {args.address} WITHOUT TLS: tokens cross the "
              "network in clear", file=sys.stderr, flush=True)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(message)s" if args.log_format == "json"
                        else "%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    try:
        endpoint.serve(args.db, args.port, args.address, directory, oi_codes=args.oi_codes,
                       apply_every=args.apply_every,
                       delays=args.retry_delays or outbox.DEFAULT_DELAYS,
                       max_body=args.max_body_bytes or endpoint.DEFAULT_MAX_BODY,
                       ssl_options=endpoint.ssl_context(args.tls_cert, args.tls_key,
                                                        args.tls_client_ca) if tls else None,
                       log_json=args.log_format == "json")
    except KeyboardInterrupt:
        pass
    return 0


def _journal(args, create: bool):
    from ..eintervention import journal
    try:
        return journal.connect(args.db, create=create)
    except FileNotFoundError as exc:
        raise OpevalError(str(exc)) from None


def run_partners(args) -> int:
    from ..eintervention import partners

    con = _journal(args, create=args.partners_action == "add")
    try:
        if args.partners_action == "add":
            token = partners.add(con, args.code, args.role,
                                 rate=args.rate or partners.DEFAULT_RATE,
                                 burst=args.burst or partners.DEFAULT_BURST)
            print(f"partner {args.code} ({args.role.upper()}, scope "
                  f"{partners.ROLES[args.role]}): new token {token.split('.')[0]}; it is shown "
                  "once, keep it now:")
            print(token)
        elif args.partners_action == "list":
            rows = partners.listing(con)
            if not rows:
                print("no partner")
            for r in rows:
                state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
                print(f"{r['code']}  {r['role']}  oi_{r['token_id']}  {r['rate']:g}/s burst "
                      f"{r['burst']}  created {r['created_at']}  {state}")
        else:
            n = partners.revoke(con, args.who)
            if not n:
                raise OpevalError(f"no active token of partner or id {args.who!r}")
            print(f"revoked {n} token(s) of {args.who}")
    finally:
        con.close()
    return 0


def run_outbox(args) -> int:
    from ..eintervention import journal, outbox

    if not args.retry and (args.ids or args.since or args.until):
        raise OpevalError("--id, --since and --until select deliveries for --retry")
    con = _journal(args, create=False)
    try:
        if args.retry:
            if not (args.ids or args.since or args.until):
                raise OpevalError("--retry needs --id N or a period (--since/--until)")
            n = outbox.retry(con, args.ids, since=args.since, until=args.until)
            print(f"deliveries due again now: {n}")
            return 0
        counts = journal.delivery_counts(con)
        print("deliveries: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for r in journal.deliveries(con, args.state, args.limit):
            print(f"#{r['id']} {r['message']} {r['ref_interv_oi']} -> {r['code_oc']}: "
                  f"{r['state']}, {r['attempts']} attempt(s), created {r['created_at']}"
                  + (f", next {r['next_at']}" if r["next_at"] else "")
                  + (f", last: {r['last_result']}" if r["last_result"] else ""))
    finally:
        con.close()
    return 0


def run_log(args) -> int:
    con = _journal(args, create=False)
    try:
        lines = (line + "\n" for (line,) in con.execute("SELECT line FROM inbox ORDER BY seq"))
        if args.out:
            with open(args.out, "w", encoding="utf-8") as out:
                out.writelines(lines)
        else:
            sys.stdout.writelines(lines)
    finally:
        con.close()
    return 0


def read_tokens(path: str) -> dict[str, str]:
    """CODE=TOKEN lines (blank lines and # comments skipped)."""
    tokens = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise OpevalError(f"--tokens {path}: cannot read it ({exc})") from None
    for n, text in enumerate(lines, start=1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        code, sep, token = text.partition("=")
        if not sep or not code.strip() or not token.strip():
            raise OpevalError(f"--tokens {path}:{n}: expected CODE=TOKEN")
        tokens[code.strip()] = token.strip()
    return tokens


def run_simulate(args) -> int:
    from ..eintervention import simulate

    tokens = read_tokens(args.tokens)
    try:
        with open(args.log, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise OpevalError(f"{args.log}: cannot read it ({exc.strerror or exc})") from None
    summary = simulate.replay(args.url, lines, tokens, rate=args.rate,
                              concurrency=args.concurrency,
                              delays=args.retry_delays or simulate.DEFAULT_DELAYS,
                              late=args.late, late_by=args.late_by, seed=args.seed)
    if args.answers:
        with open(args.answers, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(r.as_json(), ensure_ascii=False) + "\n"
                           for r in summary.results)
    print(summary.text())
    return 0
