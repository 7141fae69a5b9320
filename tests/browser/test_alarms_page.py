"""The /alarms page in a real Chromium, on the hand-made alarm database of
tests/_alarms_views_db.py (numbers worked out there).

Its own server (the shared one's database holds no alarm); every test ends
with ``watch.assert_clean(page)``: nothing left the server, no console error,
no uncaught error, no traceback text.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from playwright.sync_api import expect

import _alarms_views_db as fx

from ._browser import cells, downloaded, page_opener, page_text, serving
from .conftest import Server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def alarms_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_alarms")
    path = fx.build(root / "db.duckdb", root / "in")
    with serving(path) as served:
        yield Server(served.url, path, {}, served.stderr)


@pytest.fixture
def open_alarms(browser, alarms_server):
    yield from page_opener(browser, alarms_server.url + "/alarms", 1400, lambda page: page.locator(
        ".opeval-kpi[data-kpi='alarms'] .v").wait_for(timeout=60_000))


def kpi(page, name: str) -> str:
    return page.locator(f".opeval-kpi[data-kpi='{name}'] .v").inner_text()


def wait_kpi(page, name: str, value: str) -> None:
    page.locator(f".opeval-kpi[data-kpi='{name}'] .v", has_text=value).wait_for(timeout=30_000)
    assert kpi(page, name) == value


def tab(page, title: str) -> None:
    page.locator(".bk-tab", has_text=title).first.click()


def test_filter_changes_the_views_url_and_download(open_alarms):
    page, watch = open_alarms()
    assert kpi(page, "alarms") == "18" and kpi(page, "floods") == "1"
    tab(page, "Bad actors")
    page.locator(".opeval-table-pareto .tabulator-row").first.wait_for(timeout=30_000)
    assert cells(page, "opeval-table-pareto", "definition") == [
        "Motion detected", "Door held open", "Intrusion detected"]
    # System S1: D1 ×5 and Z1; the Motion flood of S2 is gone.
    page.locator(".opeval-filter-system select").select_option(label="S1")
    wait_kpi(page, "alarms", "6")
    assert kpi(page, "floods") == "0"
    expect(page.locator(".opeval-table-pareto .tabulator-row")).to_have_count(2, timeout=30_000)
    assert cells(page, "opeval-table-pareto", "definition") == ["Door held open",
                                                                "Intrusion detected"]
    page.wait_for_function("() => location.search.includes('system=S1')", timeout=30_000)
    assert parse_qs(urlparse(page.url).query).get("system") == ["S1"]
    download = downloaded(page, page.locator(".bk-panel-models-layout-Column button",
                                             has_text="Download CSV").locator("visible=true").first)
    assert download.suggested_filename == "alarm_bad_actors.csv"
    frame = pd.read_csv(download.path())
    assert frame["definition"].tolist() == ["Door held open", "Intrusion detected"]
    assert frame["alarms"].tolist() == [5, 1]
    assert frame["bad_actor"].tolist() == [True, False]   # 5/6 = 83 % crosses 80 %
    watch.assert_clean(page)


def test_history_review_from_a_row_click_shows_comments_as_text(open_alarms):
    page, watch = open_alarms()
    tab(page, "Chattering & repeats")
    cell = page.locator(".opeval-table-chattering .tabulator-cell[tabulator-field='resource_id']",
                        has_text="D1")
    cell.wait_for(timeout=30_000)
    cell.click()
    expect(page.locator(".opeval-table-history .tabulator-row")).to_have_count(5, timeout=30_000)
    assert len(cells(page, "opeval-table-history", "raised_at")) == 5
    assert cells(page, "opeval-table-history", "close_reason") == [      # codes in words
        "False alarm"] * 4 + ["Handled"]
    comments = cells(page, "opeval-table-history", "comment")
    assert comments[1] == fx.SCRIPT_COMMENT               # shown literally ...
    history = page.locator(".opeval-table-history")
    assert history.locator("script").count() == 0         # ... never as markup
    # The open alarm's comment is an <img onerror>: pick it by the definition select.
    page.locator(".opeval-filter-history-definition select").select_option(
        label="Intrusion detected")
    expect(page.locator(".opeval-table-history .tabulator-row")).to_have_count(1, timeout=30_000)
    assert cells(page, "opeval-table-history", "comment") == [fx.IMG_COMMENT]
    assert history.locator("img").count() == 0
    assert page.evaluate("() => window.__opeval_xss === undefined")
    page.wait_for_function("() => location.search.includes('history=Intrusion')",
                           timeout=30_000)
    assert parse_qs(urlparse(page.url).query).get("history") == ["Intrusion detected"]
    assert "Traceback" not in page_text(page)
    watch.assert_clean(page)


def test_filters_come_from_the_url(open_alarms):
    # S1 and priority 3: the five raises of D1 (Z1 has priority 1)
    page, watch = open_alarms("?system=S1&priority=3&bucket=1h")
    wait_kpi(page, "alarms", "5")
    assert kpi(page, "floods") == "0"
    for css, label in (("system", "S1"), ("priority", "3"), ("bucket", "hour")):
        select = page.locator(f".opeval-filter-{css} select")
        deadline = time.monotonic() + 30
        while select.evaluate("s => s.options[s.selectedIndex].text") != label:
            assert time.monotonic() < deadline, f"the {css} select does not show {label}"
            page.wait_for_timeout(200)
    watch.assert_clean(page)
