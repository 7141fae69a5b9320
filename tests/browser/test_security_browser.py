"""Access control and escaping in a real Chromium, on `opeval serve --auth basic`.

* An OC logs in through the login form: the navigation offers only its pages,
  another page answers 403, and nothing it must not see (other OCs' lines, the
  DO code in clear, the targeted line, security systems) reaches the browser —
  neither in the page nor in any websocket frame.
* The admin opens pages holding hostile text (``<script>`` in an alarm comment,
  an ``<img onerror>`` in a system name, ``<script>`` in a fault symptom): it is
  shown literally and no script runs (``window.__pwned`` stays undefined).
"""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

import _security_db
from _serve_proc import add_users, password, start
from evaluation.store import privacy

from ._browser import Watch, page_text, route_local_only

pytestmark = pytest.mark.browser

XSS_SYSTEM = '<img src=x onerror="window.__pwned=5">Gate <b>three</b>'


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_security")
    path = _security_db.build(root / "db.duckdb", root / "in")
    import duckdb
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO systems (system_id, name, risk_level) VALUES ('S3', ?, 1)", [XSS_SYSTEM])
    con.close()
    users = root / "users.json"
    add_users(path, users, {"ocuser": ("oc", ["--oc", "OC01"]), "root": ("admin", [])})
    served = start(path, "--auth", "basic", "--users", str(users))
    yield served
    served.stop()


@pytest.fixture
def login(browser, secured):
    contexts = []

    def _login(user: str):
        context = browser.new_context(viewport={"width": 1366, "height": 1400})
        contexts.append(context)
        route_local_only(context)
        page = context.new_page()
        watch = Watch()
        frames: list[str] = []
        page.on("request", lambda r: watch.requests.append(r.url))
        page.on("console", lambda m: m.type == "error" and watch.console_errors.append(m.text))
        page.on("pageerror", lambda e: watch.page_errors.append(str(e)))
        page.on("websocket", lambda ws: ws.on(
            "framereceived", lambda payload: frames.append(
                payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))))
        page.goto(secured.url + "/login", wait_until="networkidle")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password(user))
        page.locator("form button, form input[type=submit]").first.click()
        page.wait_for_url(secured.url + "/", timeout=60_000)
        page.locator(".opeval-pages").first.wait_for(timeout=60_000)
        return page, watch, frames

    yield _login
    for c in contexts:
        c.close()


def test_oc_sees_only_its_pages_and_rows(login, secured):
    page, watch, frames = login("ocuser")
    links = page.locator(".opeval-nav a").evaluate_all("els => els.map(e => e.dataset.path)")
    assert links == ["/", "/outages", "/alerts"]
    assert "Signed in as ocuser (oc)" in page_text(page)
    response = page.goto(secured.url + "/alarms")
    assert response.status == 403
    assert "not authorized" in page.content()
    watch.console_errors.remove("Failed to load resource: the server responded with a status "
                                "of 403 (Forbidden)")   # the refusal just asked for
    page.goto(secured.url + "/", wait_until="networkidle")
    page.locator(".opeval-table-summary .tabulator-row").first.wait_for(timeout=60_000)
    received = "\n".join(frames) + page_text(page)
    assert len(frames) >= 2
    for secret in _security_db.FORBIDDEN["oc"]:
        assert secret not in received, secret
    watch.assert_clean(page)
    # Its outages page: the DO shows only as its keyed pseudonym (flow 2).
    frames.clear()
    page.goto(secured.url + "/outages", wait_until="networkidle")
    do = privacy.pseudonym("DOXA", bytes.fromhex("ab" * 32), "DO")
    page.wait_for_function("() => document.body.innerHTML.length > 0", timeout=60_000)
    deadline = time.monotonic() + 90
    while do not in "\n".join(frames) and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    received = "\n".join(frames) + page_text(page)
    assert do in received
    for secret in _security_db.FORBIDDEN["oc"]:
        assert secret not in received, secret


def test_hostile_text_is_shown_literally_and_never_runs(login, secured):
    page, watch, _ = login("root")
    page.goto(secured.url + "/alarms?history=door_forced", wait_until="networkidle")
    page.locator(".bk-tab", has_text="History review").first.click()
    history = page.locator(".opeval-table-history")
    comment = history.locator(".tabulator-cell[tabulator-field='comment']",
                              has_text="<script>window.__pwned=1</script>")
    expect(comment.first).to_be_visible(timeout=60_000)
    assert comment.first.inner_text().strip() == _security_db.XSS_COMMENT
    assert history.locator("script").count() == 0 and history.locator("img").count() == 0
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    watch.assert_clean(page)

    page.goto(secured.url + "/evaluation", wait_until="networkidle")
    expect(page.get_by_text("Gate <b>three</b>", exact=False).first).to_be_attached(timeout=90_000)
    assert XSS_SYSTEM in page_text(page)
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
