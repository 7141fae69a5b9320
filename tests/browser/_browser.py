"""Helpers of the browser tests: watching a page, a simulated closed network, screenshots."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlparse

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
