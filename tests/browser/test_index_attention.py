"""``/`` in a real Chromium says what needs attention, each item a link to its page and
filter (issue 15 item 4), on the hand-made store of tests/test_views_index.py (the
alerts it raises are worked out there: S4 overdue, one flood of S1, P5 a blacklist
candidate, no stale alarms)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from test_views_index import build

from ._browser import page_opener, serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def attention_server(tmp_path_factory):
    path = build(tmp_path_factory.mktemp("browser_index") / "db.duckdb")
    with serving(path) as served:
        yield served.url


@pytest.fixture
def open_index(browser, attention_server):
    yield from page_opener(browser, attention_server + "/", 1400, lambda page: page.locator(
        ".opeval-attention .card").first.wait_for(timeout=60_000))


def card(page, rule: str):
    return page.locator(f".opeval-attention .card[data-rule='{rule}']")


def test_the_cards_count_and_link_to_the_page_and_filter(open_index):
    """Overdue 1 (S4), floods 1, blacklist 1 (P5), stale 0; the run's time is printed.
    The S4 item opens /evaluation filtered on S4 as of the run's day of data, and the
    page shows S4's verdict."""
    page, watch = open_index()
    counts = {rule: card(page, rule).locator(".n").inner_text()
              for rule in ("blacklist_candidate", "maintenance_overdue", "alarm_flood",
                           "stale_alarms")}
    assert counts == {"blacklist_candidate": "1", "maintenance_overdue": "1",
                      "alarm_flood": "1", "stale_alarms": "0"}
    assert "2025-07-01T06:00:00+00:00" in page.locator(
        ".opeval-period", has_text="last run of the alert rules").inner_text()
    card(page, "maintenance_overdue").locator("li a").click()
    page.wait_for_url("**/evaluation?*")
    query = parse_qs(urlparse(page.url).query)
    assert query["system"] == ["S4"] and query["as_of"] == ["2025-06-30"]
    page.locator(".opeval-verdict .verdict[data-system='S4']").wait_for(timeout=60_000)
    watch.assert_clean(page)
