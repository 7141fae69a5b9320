"""The OI endpoint (`opeval oi serve`) as a child process on a free loopback port, its
partners, and stub OC endpoints (flow 2) for the tests."""
from __future__ import annotations

import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jsonschema import Draft4Validator
from tests._serve_proc import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "specs" / "e-intervention-lot1-v1.0.0.oas3.yaml"


def cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evaluation.cli", "--db", str(db), *args],
                          capture_output=True, text=True, check=False)


def add_partner(db: Path, code: str, role: str, *extra: str) -> str:
    """``opeval oi partners add``; the token is the last line printed."""
    r = cli(db, "oi", "partners", "add", code, "--role", role, *extra)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


@dataclass
class Endpoint:
    proc: subprocess.Popen
    url: str            # base URL, …/v1
    root: str           # http://127.0.0.1:PORT
    err: Path
    port: int
    ssl_context: ssl.SSLContext | None = None

    def stop(self) -> None:
        stop_process(self.proc, 60)

    def health(self) -> dict:
        with urllib.request.urlopen(f"{self.root}/health", timeout=10,
                                    context=self.ssl_context) as r:
            return json.loads(r.read())

    def wait_applied(self, timeout: float = 60) -> dict:
        """Until nothing waits for the store (and no delivery is pending, when asked)."""
        deadline = time.monotonic() + timeout
        while True:
            h = self.health()
            if h["waiting_for_store"] == 0 or time.monotonic() > deadline:
                return h
            time.sleep(0.2)


def start(db: Path, *args: str, port: int | None = None, timeout: float = 60,
          ssl_context: ssl.SSLContext | None = None) -> Endpoint:
    """``opeval oi serve ARGS`` on a free loopback port, once /health answers (over HTTPS
    with ``ssl_context`` when one is given)."""
    port = port or free_port()
    err = db.parent / f"oi-{port}-{time.monotonic_ns()}.err"
    with open(err, "wb") as e:
        proc = subprocess.Popen([sys.executable, "-m", "evaluation.cli", "--db", str(db), "oi",
                                 "serve", "--port", str(port), *args],
                                stdout=e, stderr=subprocess.STDOUT, env=dict(os.environ))
    scheme = "https" if ssl_context is not None else "http"
    ep = Endpoint(proc, f"{scheme}://127.0.0.1:{port}/v1", f"{scheme}://127.0.0.1:{port}", err,
                  port, ssl_context)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"opeval oi serve exited with {proc.returncode}:\n"
                               f"{err.read_text()}")
        try:
            ep.health()
            return ep
        except OSError:
            if time.monotonic() > deadline:
                ep.stop()
                raise
            time.sleep(0.1)


def post(url: str, body: bytes | dict, token: str | None, headers: dict | None = None,
         context: ssl.SSLContext | None = None) -> tuple[int, dict | None, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as r:
            status, payload, hdrs = r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        status, payload, hdrs = exc.code, exc.read(), dict(exc.headers)
    return status, (json.loads(payload) if payload else None), hdrs


def spec() -> dict:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def validator(name: str) -> Draft4Validator:
    """A JSON Schema validator of the OpenAPI schema ``name`` (its $refs resolved in the
    description; OpenAPI 3.0 schemas are a JSON Schema draft 4 dialect)."""
    return Draft4Validator({"$ref": f"#/components/schemas/{name}",
                            "components": spec()["components"]})


@dataclass
class OCStub:
    """An OC's lot 1 endpoint on 127.0.0.1: records every M2/M4 posted to
    ``/v1/intervention_OI`` once by its ``Idempotency-Key`` (a re-sent one is answered OK
    and not recorded again); the first ``fail`` requests get HTTP 503."""

    fail: int = 0
    received: list = field(default_factory=list)
    headers: list = field(default_factory=list)
    keys: set = field(default_factory=set)
    attempts: int = 0

    def __post_init__(self) -> None:
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                stub.attempts += 1
                if self.path != "/v1/intervention_OI":
                    return self._send(404, {"Code_Reponse": 3, "Libelle_Reponse": "PM_INCONNU"})
                if stub.attempts <= stub.fail:
                    return self._send(503, None)
                key = self.headers.get("Idempotency-Key")
                if key not in stub.keys:           # at-least-once delivery: keep one
                    stub.keys.add(key)
                    stub.received.append(json.loads(body))
                    stub.headers.append(dict(self.headers))
                return self._send(200, {"Code_Reponse": 0, "Libelle_Reponse": "OK"})

            def _send(self, status, obj):
                data = json.dumps(obj).encode() if obj is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
