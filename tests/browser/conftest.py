"""One `opeval serve` for the browser tests, on a small hand-made database, and Chromium.

The server runs as a child process on a free loopback port for the whole
session. Chromium is Debian's (/usr/bin/chromium; `make browser` installs it):
Playwright cannot download its own build here. Every page a test opens is
watched: requests leaving the server, console errors, uncaught page errors and
traceback text all fail the test (see :class:`Watch`).
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

import _views_db

from ._browser import CHROMIUM, CHROMIUM_ARGS, Watch, route_local_only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    db: Path
    expected: dict
    log: Path


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    root = tmp_path_factory.mktemp("browser")
    expected = _views_db.build(root / "db.duckdb", root / "in")
    port = _free_port()
    log = root / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "evaluation.cli", "--db", str(root / "db.duckdb"), "serve",
             "--port", str(port), "--address", "127.0.0.1", "--no-show"],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"opeval serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url + "/", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"opeval serve did not answer within 90 s:\n{log.read_text()}")
            time.sleep(0.3)
        yield Server(url, root / "db.duckdb", expected, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, server):
    """open_page(path) -> (page, watch): a fresh page, recorded from its first request."""
    contexts = []

    def _open(path: str, **kw):
        context = browser.new_context(viewport={"width": 1400, "height": 2400},
                                      accept_downloads=True)
        contexts.append(context)
        route_local_only(context)
        page = context.new_page()
        watch = Watch()
        page.on("request", lambda r: watch.requests.append(r.url))
        page.on("console", lambda m: m.type == "error" and watch.console_errors.append(m.text))
        page.on("pageerror", lambda e: watch.page_errors.append(str(e)))
        page.goto(server.url + path, wait_until="networkidle", **kw)
        page.locator(".tabulator-row").first.wait_for(timeout=30_000)
        return page, watch

    yield _open
    for context in contexts:
        context.close()
