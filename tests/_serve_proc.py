"""Start `opeval serve` as a child process on a free loopback port (security/ops tests)."""
from __future__ import annotations

import html
import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def password(name: str) -> str:
    """The test password of user ``name``: strong enough for `opeval users add`, and
    different for every user."""
    return f"sesame-{name[::-1]}-47"


def add_users(db: Path, users_file: Path, users: dict[str, tuple[str, list[str]]]) -> None:
    """``opeval users add`` for each ``name: (role, extra options)``, with its test password."""
    for name, (role, extra) in users.items():
        r = subprocess.run([sys.executable, "-m", "evaluation.cli", "--db", str(db), "users",
                            "--users", str(users_file), "add", name, "--role", role, *extra,
                            "--password-stdin"], input=password(name) + "\n", text=True,
                           capture_output=True, check=False)
        assert r.returncode == 0, r.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM a child server still running, SIGKILL it after ``timeout`` s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Served:
    proc: subprocess.Popen
    url: str
    stderr: Path
    stdout: Path

    def stop(self) -> None:
        stop_process(self.proc, 20)

    def log_lines(self) -> list[str]:
        return [ln for ln in self.stderr.read_text().splitlines() if ln.strip()]


def start(db: Path, *args: str, env: dict | None = None, wait_path: str = "/health",
          timeout: float = 120, ssl_context=None) -> Served:
    """``opeval --db DB serve ARGS`` on a free loopback port, once it answers ``wait_path``
    (over HTTPS, trusting ``ssl_context``, when one is given)."""
    port = free_port()
    out, err = db.parent / f"serve-{port}.out", db.parent / f"serve-{port}.err"
    with open(out, "wb") as o, open(err, "wb") as e:  # the child keeps its own descriptors
        proc = subprocess.Popen(
            [sys.executable, "-m", "evaluation.cli", "--db", str(db), "serve", "--port",
             str(port), "--no-show", *args],
            stdout=o, stderr=e, env={**os.environ, **(env or {})})
    scheme = "https" if ssl_context is not None else "http"
    served = Served(proc, f"{scheme}://127.0.0.1:{port}", err, out)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"opeval serve exited with {proc.returncode}:\n{err.read_text()}")
        try:
            with urllib.request.urlopen(served.url + wait_path, timeout=5, context=ssl_context):
                return served
        except urllib.error.HTTPError:
            return served
        except OSError:
            pass
        if time.monotonic() > deadline:
            served.stop()
            raise RuntimeError(f"opeval serve did not answer within {timeout} s:\n{err.read_text()}")
        time.sleep(0.3)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


class Client:
    """An HTTP client with its own cookie jar; redirects are not followed. The headers it
    returns are the response's (``headers.get_all("Set-Cookie")`` lists every cookie)."""

    def __init__(self, base: str, ssl_context=None):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()]
        if ssl_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
        self.opener = urllib.request.build_opener(*handlers)

    def request(self, path: str, data: dict | None = None) -> tuple[int, Any, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=120) as r:
                return r.status, r.headers, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode("utf-8", "replace")

    def submit_login(self, user: str, password: str, xsrf: bool = True) -> tuple[int, Any, str]:
        """Open the login page and post its form (with the form's XSRF token unless not
        ``xsrf``), as a browser does."""
        _, _, page = self.request("/login")
        form = {"username": user, "password": password}
        token = re.search(r'name="_xsrf" value="([^"]+)"', page)
        if xsrf and token:
            form["_xsrf"] = html.unescape(token.group(1))
        return self.request("/login", form)

    def login(self, user: str, password: str) -> int:
        return self.submit_login(user, password)[0]

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


def pull_document(base: str, path: str, html: str, cookie: str = "") -> str:
    """The Bokeh document of a served page as JSON, pulled over its websocket like a browser.

    ``html`` is the page as served (it holds the session token); ``cookie`` the
    login cookies (the websocket of an authenticated server refuses a connection
    without them). Bokeh's client runs its own event loop, so it runs in a thread
    of its own: the test process may already run one (Playwright's sync API does).
    Calls from several threads take turns (the pull patches Bokeh's client module).
    """
    from concurrent.futures import ThreadPoolExecutor

    with _PULLING, ThreadPoolExecutor(1) as pool:
        return pool.submit(_pull_document, base, path, html, cookie).result()


_PULLING = threading.Lock()


def _pull_document(base: str, path: str, html: str, cookie: str) -> str:
    import json
    import re

    from bokeh.client import connection
    from bokeh.client.session import ClientSession
    from bokeh.util.token import get_session_id
    from tornado.httpclient import HTTPRequest

    token = re.search(r'"token":\s*"([^"]+)"', html).group(1)

    class TokenSession(ClientSession):
        @property
        def token(self):
            return token

    from bokeh.protocol.messages.pull_doc_reply import pull_doc_reply

    captured: list[str] = []
    original = connection.HTTPRequest, pull_doc_reply.push_to_document
    connection.HTTPRequest = lambda url: HTTPRequest(url, headers={"Cookie": cookie})
    # Keep the document exactly as the server sent it (no need to rebuild Panel's models).
    pull_doc_reply.push_to_document = lambda self, doc: captured.append(json.dumps(self.content))
    try:
        ws = base.replace("http://", "ws://") + path.rstrip("/") + "/ws"
        session = TokenSession(session_id=get_session_id(token), websocket_url=ws)
        session.pull()
        session.close()
    finally:
        connection.HTTPRequest, pull_doc_reply.push_to_document = original
    if not captured:
        raise ConnectionError(f"no document received from {path}")
    return captured[0]
