"""``opeval oi simulate``: DOs and OCs replaying a message log against a running endpoint.

Each line of the log (the format of ``opeval ingest messages``) is posted as its
sender would: an M1/M3 body to ``/v1/intervention_DO`` with the token of its
``Code_DO``, an M5 body to ``/v1/client_HS_OC_Par_Inter`` with the token of its
``Code_OC_impacte``. Lines that are not JSON objects with a message and a body, or
whose sender has no token, cannot be posted: they are counted, not sent.

- **Rate**: line *i* is due ``i / rate`` seconds after the start; ``concurrency``
  senders work at once. The lines of one intervention (its DO reference, or the OI
  reference of an M5) always go to the same sender, in log order, as one DO's or
  OC's system would send them.
- **Retries** (spec chapter 3: "un retry automatique dans la limite de 5 retry"): a
  request that gets no answer (connection refused or cut, timeout), a 5xx or a 429 is
  sent again after each of ``delays`` (a 429's ``Retry-After`` when longer), then
  given up. An answer — OK or KO — is never re-sent.
- **Late messages** (spec 4, "Cas du pb SI provoquant l'envoi de M3 avant M1", and the
  very late re-sent M1): a ``late`` fraction of the M1s (chosen with ``seed``) is held
  back ``late_by`` seconds while the lines after it go on, so its M3 may arrive first.

The summary counts lines sent, answers per HTTP status and per answer code, lines
given up, and the latency (p50, p99) of the answered requests; ``answers`` writes one
NDJSON record per line sent.
"""
from __future__ import annotations

import heapq
import http.client
import json
import random
import threading
import time
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .live import DO_OPERATION, OC_OPERATION
from .rules import make_ref

DEFAULT_DELAYS = (1.0, 2.0, 5.0, 10.0, 20.0)
RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass
class Send:
    """One line to post."""

    line: int
    message: str
    operation: str
    sender: str
    body: bytes
    key: str
    due: float = 0.0


@dataclass
class Result:
    line: int
    message: str
    status: int | None
    answer: dict | None
    attempts: int
    latency_ms: float | None

    def as_json(self) -> dict:
        out = {"line": self.line, "message": self.message, "status": self.status,
               "attempts": self.attempts, "latency_ms": self.latency_ms}
        if isinstance(self.answer, dict):
            out.update({k: self.answer[k] for k in ("Code_Reponse", "Libelle_Reponse",
                                                    "Description_Reponse", "Ref_Interv_OI")
                        if k in self.answer})
        return out


@dataclass
class Summary:
    lines: int = 0
    unsendable: int = 0
    no_token: int = 0
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0

    def percentile(self, q: float) -> float | None:
        values = sorted(r.latency_ms for r in self.results if r.latency_ms is not None)
        if not values:
            return None
        return values[min(len(values) - 1, int(q * len(values)))]

    def text(self) -> str:
        statuses = Counter(r.status for r in self.results if r.status is not None)
        codes = Counter(r.answer.get("Code_Reponse") for r in self.results
                        if isinstance(r.answer, dict) and "Code_Reponse" in r.answer)
        given_up = sum(r.status is None for r in self.results)
        retried = sum(r.attempts > 1 for r in self.results)
        rate = len(self.results) / self.seconds if self.seconds else 0.0
        p50, p99 = self.percentile(0.50), self.percentile(0.99)
        lat = (f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms" if p50 is not None
               else "no latency (nothing answered)")
        return (f"lines {self.lines}: sent {len(self.results)} in {self.seconds:.1f} s "
                f"({rate:.0f}/s), not sendable {self.unsendable}, no token {self.no_token}; "
                f"HTTP {dict(sorted(statuses.items()))}; Code_Reponse "
                f"{dict(sorted(codes.items()))}; retried {retried}, given up {given_up}; {lat}")


def plan(lines: Iterable[str], tokens: dict[str, str], summary: Summary) -> list[Send]:
    """The lines that can be posted, in log order."""
    out = []
    for number, text in enumerate(lines, start=1):
        summary.lines += 1
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        message = obj.get("message") if isinstance(obj, dict) else None
        body = obj.get("body") if isinstance(obj, dict) else None
        if message not in ("M1", "M3", "M5") or body is None:
            summary.unsendable += 1
            continue
        schema = OC_OPERATION if message == "M5" else DO_OPERATION
        inner = body.get(schema) if isinstance(body, dict) and len(body) == 1 else None
        fields = inner if isinstance(inner, dict) else body if isinstance(body, dict) else {}
        if message == "M5":
            sender, key = fields.get("Code_OC_impacte"), fields.get("Ref_Interv_OI")
        else:
            sender = fields.get("Code_DO")
            parts = (fields.get("Code_OI"), sender, fields.get("Ref_Interv_DO"))
            key = make_ref(*parts) if all(isinstance(x, str) for x in parts) else None
        if not isinstance(sender, str) or sender not in tokens:
            summary.no_token += 1
            continue
        out.append(Send(number, message, schema, sender,
                        json.dumps(body, ensure_ascii=False).encode("utf-8"),
                        str(key) if key is not None else f"line-{number}"))
    return out


class _Sender(threading.Thread):
    def __init__(self, base: str, tokens: dict[str, str], delays, timeout: float,
                 results: list, start_at: float):
        super().__init__(daemon=True)
        self.parts = urllib.parse.urlsplit(base)
        self.tokens, self.delays, self.timeout = tokens, delays, timeout
        self.heap: list[tuple[float, int, Send]] = []
        self.results, self.start_at = results, start_at
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            cls = (http.client.HTTPSConnection if self.parts.scheme == "https"
                   else http.client.HTTPConnection)
            self.conn = cls(self.parts.hostname, self.parts.port, timeout=self.timeout)
        return self.conn

    def _post(self, s: Send) -> tuple[int, dict | None, float, float | None]:
        path = f"{self.parts.path.rstrip('/')}/{s.operation}"
        headers = {"Content-Type": "application/json", "Authorization":
                   f"Bearer {self.tokens[s.sender]}"}
        t0 = time.perf_counter()
        conn = self._connection()
        try:
            conn.request("POST", path, body=s.body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            self.conn = None
            raise
        ms = 1000 * (time.perf_counter() - t0)
        try:
            answer = json.loads(payload) if payload else None
        except ValueError:
            answer = None
        after = resp.getheader("Retry-After")
        return resp.status, answer, ms, float(after) if after and after.isdigit() else None

    def run(self) -> None:
        while self.heap:
            due, _, s = heapq.heappop(self.heap)
            wait = self.start_at + due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            attempts, status, answer, ms = 0, None, None, None
            while True:
                attempts += 1
                try:
                    status, answer, ms, after = self._post(s)
                    if status not in RETRY_STATUSES:
                        break
                except (OSError, http.client.HTTPException):
                    status, answer, ms, after = None, None, None, None
                if attempts > len(self.delays):
                    if status in RETRY_STATUSES:
                        status = None        # no answer to keep: given up
                    break
                time.sleep(max(self.delays[attempts - 1], after or 0.0))
            self.results.append(Result(s.line, s.message, status,
                                       answer if status is not None else None, attempts,
                                       round(ms, 3) if status is not None else None))


def replay(base_url: str, lines: Iterable[str], tokens: dict[str, str], rate: float = 50.0,
           concurrency: int = 4, delays=DEFAULT_DELAYS, late: float = 0.0,
           late_by: float = 5.0, seed: int = 1, timeout: float = 10.0) -> Summary:
    """Post every sendable line of ``lines`` to the endpoint at ``base_url`` (``…/v1``)."""
    summary = Summary()
    sends = plan(lines, tokens, summary)
    rng = random.Random(seed)
    start_at = time.monotonic() + 0.05
    results: list[Result] = []
    senders = [_Sender(base_url, tokens, tuple(delays), timeout, results, start_at)
               for _ in range(max(1, concurrency))]
    for i, s in enumerate(sends):
        s.due = i / rate
        if s.message == "M1" and late > 0 and rng.random() < late:
            s.due += late_by
        sender = senders[zlib.crc32(s.key.encode()) % len(senders)]
        heapq.heappush(sender.heap, (s.due, i, s))
    t0 = time.monotonic()
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    summary.seconds = time.monotonic() - t0
    summary.results = sorted(results, key=lambda r: r.line)
    return summary
