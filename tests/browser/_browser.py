"""Helpers of the browser tests: watching a page, a simulated closed network, screenshots."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("OPEVAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

# All text of the page, shadow roots included (Bokeh renders every model in one).
_PAGE_TEXT = """() => {
  const out = [];
  const walk = (root) => {
    for (const e of root.querySelectorAll('*')) {
      if (e.shadowRoot) { out.push(e.shadowRoot.textContent || ''); walk(e.shadowRoot); }
    }
  };
  out.push(document.documentElement.textContent || '');
  walk(document);
  return out.join(' ');
}"""


def page_text(page) -> str:
    return page.evaluate(_PAGE_TEXT)


@dataclass
class Watch:
    """Everything a page did that a closed network or a user would notice."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def external(self) -> list[str]:
        return [url for url in self.requests if not _is_local(url)]

    def assert_clean(self, page) -> None:
        assert self.requests, "the page made no request at all"
        assert not self.external(), f"requests leaving the server: {self.external()}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
        assert not self.page_errors, f"uncaught page errors: {self.page_errors}"
        assert "Traceback" not in page_text(page), "traceback text on the page"


def _is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname in LOCAL_HOSTS


def route_local_only(context) -> None:
    """Simulate a closed network: requests to anywhere but this machine are aborted.

    They still reach the ``request`` event first, so a :class:`Watch` records them.
    """
    context.route("**/*", lambda route: route.continue_() if _is_local(route.request.url)
                  else route.abort("internetdisconnected"))


@contextlib.contextmanager
def serving(db: Path, timeout: float = 90) -> Iterator:
    """``opeval serve`` on ``db`` (loopback, free port) until the ``with`` ends, as a
    :class:`_serve_proc.Served`; the fixture fails if the server exits or its ``/``
    does not answer in ``timeout`` s."""
    from _serve_proc import start  # tests/ is on sys.path under pytest (not for shoot.py)

    try:
        served = start(Path(db), "--address", "127.0.0.1", wait_path="/", timeout=timeout)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield served
    finally:
        served.stop()


def watched(page) -> Watch:
    """A :class:`Watch` recording ``page`` from now on."""
    watch = Watch()
    page.on("request", lambda r: watch.requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and watch.console_errors.append(m.text))
    page.on("pageerror", lambda e: watch.page_errors.append(str(e)))
    return watch


def new_page(browser, width: int, height: int):
    """(context, page, watch): a fresh context on a closed network, one watched page."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  accept_downloads=True)
    route_local_only(context)
    page = context.new_page()
    return context, page, watched(page)


def page_opener(browser, url: str, height: int, ready) -> Iterator:
    """For a fixture to ``yield from``: ``open(query="") -> (page, watch)`` loads ``url``
    plus ``query`` in a fresh 1366-wide context and waits for ``ready(page)`` (a page
    that is not ready fails with the errors it shows); every context it opened is
    closed when the test ends."""
    contexts = []

    def _open(query: str = ""):
        context, page, watch = new_page(browser, 1366, height)
        contexts.append(context)
        page.goto(url + query, wait_until="networkidle")
        try:
            ready(page)
        except Exception as exc:
            shown = [t.strip() for t in page.locator(".opeval-error").all_inner_texts()]
            raise AssertionError(f"{url + query} not ready: {exc}; errors on the page: "
                                 f"{shown or 'none'}") from exc
        return page, watch

    try:
        yield _open
    finally:
        for context in contexts:
            context.close()


def downloaded(page, button, timeout: float = 30_000):
    """The download started by a click on ``button`` (a locator)."""
    with page.expect_download(timeout=timeout) as info:
        button.click()
    return info.value


def cells(page, table_class: str, field: str) -> list[str]:
    """The texts of column ``field`` in the Tabulator table of CSS class ``table_class``."""
    rows = page.locator(f".{table_class} .tabulator-row .tabulator-cell[tabulator-field='{field}']")
    return [t.strip() for t in rows.all_inner_texts()]
