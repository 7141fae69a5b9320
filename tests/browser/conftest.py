"""One `opeval serve` for the browser tests, on a small hand-made database, and Chromium.

The server runs as a child process on a free loopback port for the whole
session. Chromium is Debian's (/usr/bin/chromium; `make browser` installs it):
Playwright cannot download its own build here. Every page a test opens is
watched: requests leaving the server, console errors, uncaught page errors and
traceback text all fail the test (see :class:`Watch`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

import _views_db

from ._browser import CHROMIUM, CHROMIUM_ARGS, new_page, serving


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
    with serving(root / "db.duckdb") as served:
        yield Server(served.url, root / "db.duckdb", expected, served.stderr)


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
        context, page, watch = new_page(browser, 1400, 2400)
        contexts.append(context)
        page.goto(server.url + path, wait_until="networkidle", **kw)
        page.locator(".tabulator-row").first.wait_for(timeout=30_000)
        return page, watch

    yield _open
    for context in contexts:
        context.close()
