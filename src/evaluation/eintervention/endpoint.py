"""``opeval oi serve``: the OI's lot 1 endpoint over HTTP (Tornado).

Operations (lot 1 OpenAPI, ``shared/specs/e-intervention-lot1-v1.0.0.oas3.yaml``,
base path ``/v1``):

- ``POST /v1/intervention_DO`` — M1 / M3 from a DO (scope ``write:interventions``);
- ``POST /v1/client_HS_OC_Par_Inter`` — M5 from an OC (scope ``write:clients``);
- ``GET /health`` — the endpoint's state (messages waiting for the store, deliveries).

Each request, in order: a bearer token of a partner (401 otherwise,
:class:`.partners.Gate`), of the role the operation needs (403), a body of at most
``max_body`` bytes (413), within the partner's rate (429 with ``Retry-After``); then
the message goes to the receiver thread, which answers the requests waiting
together (:meth:`.live.Live.receive`: the rules, then the journal's commit) — a DO
posting under another ``Code_DO``, an OC under another ``Code_OC_impacte``, gets 403.
The answer's status and body follow :mod:`.wire`. Methods other than POST on the
operations get 405; an unexpected failure 500 (the message is then not stored).

Every request is logged: one row of the journal's ``requests`` table, and a line on
stderr for those not answered 200 (``--log-format json``: one JSON object for every
request).

Beside the HTTP loop three threads work: the receiver, the applier (every
``apply_every`` s, :meth:`.live.Live.apply`) and the deliverer of flow 2
(:class:`.outbox.Deliverer`).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import queue
import signal
import sqlite3
import ssl
import threading
import time
from collections import deque

import tornado.httpserver
import tornado.web

from . import journal, outbox, wire
from .live import DO_OPERATION, OC_OPERATION, Incoming, Live
from .partners import Gate, Partner

log = logging.getLogger("evaluation.oi")

DEFAULT_MAX_BODY = 256 * 1024
MAX_BATCH = 256


class RateLimits:
    """A token bucket per partner: ``rate`` requests per second, bursts of ``burst``."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, partner: Partner) -> float:
        """0 when the request may go, else the seconds to wait before the next one."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(partner.code, (float(partner.burst), now))
            tokens = min(float(partner.burst), tokens + (now - last) * partner.rate)
            if tokens >= 1.0:
                self._buckets[partner.code] = (tokens - 1.0, now)
                return 0.0
            self._buckets[partner.code] = (tokens, now)
            return (1.0 - tokens) / partner.rate


class Receiver:
    """The thread that hands the requests waiting to :meth:`.live.Live.receive` together,
    and writes the request log with them."""

    def __init__(self, live: Live, deliverer: outbox.Deliverer | None):
        self.live, self.deliverer = live, deliverer
        self.queue: queue.Queue = queue.Queue()
        self.log_rows: deque = deque()
        self._unwritten: list[tuple] = []   # request-log rows of a batch that failed
        self.thread = threading.Thread(target=self.run, name="oi-receiver", daemon=True)

    def submit(self, item: Incoming) -> asyncio.Future:
        """Queue one request; the future gets its :class:`.live.Outcome` (one event loop
        serves every request, so the batch's loop is everyone's)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.queue.put((item, fut, loop))
        return fut

    def run(self) -> None:
        while True:
            try:
                first = self.queue.get(timeout=1.0)
            except queue.Empty:
                self._flush_log()
                self.live.release_idle()
                continue
            if first is None:
                self._flush_log()
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.queue.put(None)
                    break
                batch.append(nxt)
            rows = self._take_log()
            try:
                outcomes = self.live.receive([b[0] for b in batch], rows)
                error = None
            except Exception as exc:  # answered 500, nothing stored
                log.exception("receive failed")
                outcomes, error = [None] * len(batch), exc
                self._unwritten = rows      # the request log keeps them for the next write
            # One wake-up of the event loop for the whole batch.
            batch[0][2].call_soon_threadsafe(_settle, [(fut, out, error) for (_, fut, _), out
                                                       in zip(batch, outcomes)])
            if self.deliverer is not None and error is None:
                self.deliverer.wake.set()

    def _take_log(self) -> list[tuple]:
        """The request-log rows waiting (those of a failed batch first), their times
        (``time.time()``) as journal text."""
        rows, self._unwritten = self._unwritten, []
        while self.log_rows:
            at, *rest = self.log_rows.popleft()
            rows.append((journal.iso(dt.datetime.fromtimestamp(at, dt.UTC)), *rest))
        return rows

    def _flush_log(self) -> None:
        rows = self._take_log()
        if rows:
            with self.live.lock:
                try:
                    journal.log_requests(self.live.journal, rows)
                    self.live.journal.commit()
                except sqlite3.Error:
                    log.exception("request log not written; kept for the next write")
                    self.live.journal.rollback()
                    self._unwritten = rows

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(30)


def _settle(answers: list[tuple]) -> None:
    """In the event loop: give each waiting request its outcome (or the failure)."""
    for fut, result, exc in answers:
        if fut.done():
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)


class _Base(tornado.web.RequestHandler):
    def initialize(self, app: EndpointApp) -> None:
        self.app = app
        self.partner: Partner | None = None
        self.seq: int | None = None
        self.detail: str | None = None
        self.received = 0

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.clear_header("Server")

    def refuse(self, status: int, reason: str) -> None:
        """A refusal before the rules: a JSON reason (no schema: the spec's 401, 403, 405
        carry no body description), logged with the request."""
        self.detail = reason
        self.set_status(status)
        self.finish({"error": reason})

    def write_error(self, status_code: int, **kwargs) -> None:
        if status_code == 405:
            self.set_header("Allow", "GET" if isinstance(self, HealthHandler) else "POST")
        self.finish({"error": self._reason})


@tornado.web.stream_request_body
class OperationHandler(_Base):
    """One lot 1 operation: ``operation`` with the scope its partner must hold."""

    def initialize(self, app: EndpointApp, operation: str) -> None:
        super().initialize(app)
        self.operation = operation
        self.scope = "write:clients" if operation == OC_OPERATION else "write:interventions"
        self.chunks: list[bytes] = []
        self.too_big = False

    async def prepare(self) -> None:
        if self.request.method != "POST":
            return
        header = self.request.headers.get("Authorization")
        self.partner = self.app.gate.known(header)
        if self.partner is False:      # a token not seen yet: one scrypt, off the loop
            self.partner = await asyncio.get_running_loop().run_in_executor(
                None, self.app.gate.check, header)
        if self.partner is None:
            self.set_header("WWW-Authenticate", f'Bearer scope="{self.scope}"')
            return self.refuse(401, "a valid bearer token is required")
        if self.partner.scope != self.scope:
            return self.refuse(403, f"a {self.partner.role.upper()} token may not call "
                                    f"{self.operation} (scope {self.scope})")
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.app.max_body:
            return self.refuse(413, f"body over {self.app.max_body} bytes")
        wait = self.app.limits.take(self.partner)
        if wait:
            self.set_header("Retry-After", str(max(1, round(wait + 0.5))))
            return self.refuse(429, f"rate limit of {self.partner.rate:g} requests/s exceeded")

    def data_received(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.app.max_body:
            self.too_big = True
            self.chunks.clear()
        elif not self.too_big:
            self.chunks.append(chunk)

    async def post(self) -> None:
        if self.too_big:
            return self.refuse(413, f"body over {self.app.max_body} bytes")
        item = Incoming(self.operation, b"".join(self.chunks), self.partner.code)
        out = await self.app.receiver.submit(item)
        if out.forbidden is not None:
            return self.refuse(403, out.forbidden)
        self.seq = out.seq
        kind = "M5" if self.operation == OC_OPERATION else out.answer.message
        self.set_status(wire.http_status(kind, out.answer.code))
        self.finish(wire.body(kind, out.answer))


class HealthHandler(_Base):
    def get(self) -> None:
        live = self.app.live
        with live.lock:
            counts = journal.delivery_counts(live.journal)
        self.finish({"status": "ok", "waiting_for_store": live.pending(),
                     "applied_seq": live.applied_seq, "applies": live.applies,
                     "last_apply": live.last_apply, "answers_differing": live.mismatches,
                     "deliveries": counts, "time": journal.now()})


class EndpointApp:
    """The parts of a running endpoint, built by :func:`make_app`."""

    def __init__(self, live: Live, gate: Gate, receiver: Receiver, max_body: int,
                 log_json: bool):
        self.live, self.gate, self.receiver = live, gate, receiver
        self.max_body, self.log_json = max_body, log_json
        self.limits = RateLimits()

    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """Every request goes to the journal's ``requests`` table (written with the next
        batch, or within a second); stderr gets those not answered 200 — refusals, KO
        answers, errors — or, with ``--log-format json``, every one as a JSON object."""
        req = handler.request
        ms = 1000.0 * req.request_time()
        partner = getattr(handler, "partner", None)
        status = handler.get_status()
        row = (time.time(), partner.code if partner else None, req.remote_ip, req.method,
               req.path[:200], status, getattr(handler, "received", 0) or len(req.body or b""),
               round(ms, 3), getattr(handler, "seq", None), getattr(handler, "detail", None))
        self.receiver.log_rows.append(row)
        if self.log_json:
            log.info(json.dumps({"event": "request", "partner": row[1], "remote": row[2],
                                 "method": row[3], "path": row[4], "status": status,
                                 "bytes": row[6], "duration_ms": row[7], "seq": row[8],
                                 "detail": row[9]}))
        elif status != 200:
            log.info("%s %s %s %s %.1f ms%s", row[1] or "-", row[3], row[4], status, ms,
                     f" ({row[9]})" if row[9] else "")


def make_app(app: EndpointApp) -> tornado.web.Application:
    return tornado.web.Application(
        [(r"/v1/intervention_DO", OperationHandler, {"app": app, "operation": DO_OPERATION}),
         (r"/v1/client_HS_OC_Par_Inter", OperationHandler,
          {"app": app, "operation": OC_OPERATION}),
         (r"/health", HealthHandler, {"app": app})],
        log_function=app.log_request, compress_response=False)


def ssl_context(cert: str | None, key: str | None, client_ca: str | None):
    """HTTPS with ``cert``/``key``; with ``client_ca``, mutual TLS (a client certificate
    signed by that CA is required, on top of the token)."""
    if cert is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def serve(db_path: str, port: int, address: str, directory: outbox.Directory,
          oi_codes=None, apply_every: float = 1.0, delays=outbox.DEFAULT_DELAYS,
          max_body: int = DEFAULT_MAX_BODY, ssl_options=None, log_json: bool = False,
          ready=None) -> None:
    """Run the endpoint until SIGINT/SIGTERM: apply what a previous run left in the
    journal, serve, then stop taking requests, answer those taken, apply, and return."""
    live = Live(db_path, oi_codes, outbox.flows_for(directory))
    recovered = live.apply()
    if recovered:
        print(f"opeval: applied {recovered} message(s) received before the last stop",
              flush=True)
    deliverer = outbox.Deliverer(db_path, directory, delays) if directory.ocs else None
    receiver = Receiver(live, deliverer)
    gate = Gate(journal.connect(db_path))
    app = EndpointApp(live, gate, receiver, max_body, log_json)
    stop = threading.Event()
    threads = [receiver.thread,
               threading.Thread(target=live.run_applier, args=(apply_every, stop),
                                name="oi-applier", daemon=True)]
    if deliverer is not None:
        threads.append(threading.Thread(target=deliverer.run, args=(stop,),
                                        name="oi-deliverer", daemon=True))
    for t in threads:
        t.start()
    server = tornado.httpserver.HTTPServer(make_app(app), ssl_options=ssl_options,
                                           max_body_size=max_body + 65_536, xheaders=False)

    async def main() -> None:
        server.listen(port, address)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        scheme = "https" if ssl_options else "http"
        print(f"opeval: OI endpoint for {db_path} at {scheme}://{address}:{port}/v1 — "
              f"{len(directory.ocs)} OC(s) configured for flow 2", flush=True)
        if ready is not None:
            ready()
        await done.wait()
        server.stop()
        await server.close_all_connections()

    try:
        asyncio.run(main())
    finally:
        receiver.stop()
        stop.set()
        if deliverer is not None:
            deliverer.wake.set()
        for t in threads[1:]:
            t.join(60)
        waiting = live.pending()
        live.close()
        gate.close()
        if deliverer is not None:
            deliverer.close()
        print(f"opeval: OI endpoint stopped at {dt.datetime.now(dt.UTC):%H:%M:%S} UTC; "
              f"{waiting} message(s) still waiting for the store", flush=True)
