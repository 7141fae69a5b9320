"""The /outages page in a real Chromium, on the hand-made network of tests/test_views_outages.py.

PB (funnel p-value 2/3) is listed before PA (8/9); zone Z1 leaves PA alone; PA's
interventions are I1, I2, I3. Every test ends with ``watch.assert_clean(page)``:
no request left the server, no console error, no traceback.
"""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from playwright.sync_api import expect

from ._browser import cells, downloaded, new_page, page_text, serving

pytestmark = pytest.mark.browser

QUERY = "?since=2025-03-01&as_of=2025-03-31&min=1"


@pytest.fixture(scope="module")
def network_server(tmp_path_factory):
    from test_views_outages import build_network

    with serving(build_network(tmp_path_factory.mktemp("outages_browser"))) as served:
        yield served.url


def _open(browser, url: str):
    context, page, watch = new_page(browser, 1366, 1600)
    page.goto(url, wait_until="networkidle", timeout=90_000)
    return context, page, watch


def _wait_cells(page, table_class, field, expected, timeout=30.0):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = cells(page, table_class, field)
        if got == expected:
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"{table_class}.{field}: {got} != {expected}")


def _wait_query(page, key: str, value: str, timeout: float = 30.0) -> None:
    """Wait until the page's URL (kept in sync with the filters) has ``key=value``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if parse_qs(urlparse(page.url).query).get(key) == [value]:
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"{key}={value} not in {page.url}")


def test_funnel_filter_selection_and_download(browser, network_server):
    context, page, watch = _open(browser, network_server + "/outages" + QUERY)
    try:
        page.locator(".opeval-table-pms .tabulator-row").first.wait_for(timeout=60_000)
        assert cells(page, "opeval-table-pms", "pm_id") == ["PB", "PA"]
        headline = page.locator(".opeval-outages-headline").inner_text()
        assert "network incident rate 66.7%" in headline and "5 interventions" in headline
        assert page.locator(".opeval-funnel-plot canvas").count() >= 1
        # The blacklist is empty here, and says so.
        assert "No PM is on the blacklist" in page_text(page)

        # Filter: zone Z1 leaves PA alone (rate 1/2), and goes into the URL.
        zone = page.locator("select", has=page.locator("option", has_text="every zone"))
        zone.select_option(label="Z1")
        _wait_cells(page, "opeval-table-pms", "pm_id", ["PA"])
        page.locator(".opeval-outages-headline",
                     has_text="network incident rate 50.0%").wait_for(timeout=30_000)
        _wait_query(page, "zone", "Z1")

        # Download of the PM table: the filtered rows.
        pms_csv = downloaded(page, page.locator(".opeval-pms button", has_text="Download CSV"))
        frame = pd.read_csv(pms_csv.path())
        assert pms_csv.suggested_filename == "pms.csv"
        assert frame["pm_id"].tolist() == ["PA"]
        assert frame["impacted_interventions"].tolist() == [1]

        # Selecting PA (a click on its row) shows its evidence and puts it in the URL.
        page.locator(".opeval-table-pms .tabulator-cell[tabulator-field='pm_id']",
                     has_text="PA").first.click()
        _wait_cells(page, "opeval-table-pm-interventions", "ref_interv_oi", ["I1", "I2", "I3"])
        _wait_cells(page, "opeval-table-pm-cuts", "pto", ["PTO-1"])
        _wait_query(page, "pm", "PA")
        assert page.locator(".opeval-timeline-plot canvas").count() >= 1
        # Back on the funnel, a DO filter updates the now hidden PM tab's title: the page
        # must still load nothing from outside (Panel would point loading.css at its CDN).
        page.locator(".bk-tab", has_text="PMs and blacklist").click()
        before = page.locator(".opeval-outages-headline").inner_text()
        do = page.locator("select", has=page.locator("option", has_text="every DO"))
        do.select_option(label="AAAA")
        _wait_query(page, "do", "AAAA")
        expect(page.locator(".opeval-outages-headline")).not_to_have_text(before, timeout=30_000)
        page.wait_for_timeout(1000)
        watch.assert_clean(page)
    finally:
        context.close()


def test_url_state_and_oc_view(browser, network_server):
    url = network_server + "/outages" + QUERY + "&pm=PB&oc=true"
    context, page, watch = _open(browser, url)
    try:
        page.locator(".opeval-table-pms .tabulator-row").first.wait_for(timeout=60_000)
        page.locator(".bk-tab", has_text="DOs").click()
        page.locator(".opeval-table-dos .tabulator-row").first.wait_for(timeout=30_000)
        dos = cells(page, "opeval-table-dos", "code_do")
        assert len(dos) == 2 and all(d.startswith("DO-") for d in dos)
        # No real DO code anywhere in the text (base64 in style sheets holds "AAAAAA…").
        assert not re.search(r"\b(AAAA|BBBB)\b", page_text(page))
        page.locator(".bk-tab", has_text="Selected PM").click()
        _wait_cells(page, "opeval-table-pm-interventions", "ref_interv_oi", ["I4", "I5"])
        assert all(d.startswith("DO-") for d in cells(page, "opeval-table-pm-interventions",
                                                        "code_do"))
        watch.assert_clean(page)
    finally:
        context.close()
