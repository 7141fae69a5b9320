"""The /outages page in a real Chromium, on the hand-made network of tests/test_views_outages.py.

PB (funnel p-value 2/3) is listed before PA (8/9); zone Z1 leaves PA alone; PA's
interventions are I1, I2, I3. Every test ends with ``watch.assert_clean(page)``:
no request left the server, no console error, no traceback.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from ._browser import Watch, page_text, route_local_only

pytestmark = pytest.mark.browser

QUERY = "?since=2025-03-01&as_of=2025-03-31&min=1"


def _start(db, log, port):
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "evaluation.cli", "--db", str(db), "serve", "--port",
             str(port), "--address", "127.0.0.1", "--no-show"], stdout=out,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            pytest.fail(f"opeval serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            pytest.fail(f"opeval serve did not answer within 90 s:\n{log.read_text()}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def network_server(tmp_path_factory):
    import socket

    from test_views_outages import INTERVENTIONS, OUTAGES, PMS, REPORTS, TARGETS, _build

    root = tmp_path_factory.mktemp("outages_browser")
    db = root / "net.duckdb"
    _build(db, root / "in", {"pms": PMS, "interventions": INTERVENTIONS,
                             "intervention_targets": TARGETS, "outage_reports": REPORTS,
                             "outages": OUTAGES})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, url = _start(db, root / "serve.log", port)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1366, "height": 1600}, accept_downloads=True)
    route_local_only(context)
    page = context.new_page()
    watch = Watch()
    page.on("request", lambda r: watch.requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and watch.console_errors.append(m.text))
    page.on("pageerror", lambda e: watch.page_errors.append(str(e)))
    page.goto(url, wait_until="networkidle", timeout=90_000)
    return context, page, watch


def cells(page, table_class: str, field: str) -> list[str]:
    rows = page.locator(f".{table_class} .tabulator-row .tabulator-cell[tabulator-field='{field}']")
    return [t.strip() for t in rows.all_inner_texts()]


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
        with page.expect_download(timeout=30_000) as info:
            page.locator(".opeval-pms button", has_text="Download CSV").click()
        frame = pd.read_csv(info.value.path())
        assert info.value.suggested_filename == "pms.csv"
        assert frame["pm_id"].tolist() == ["PA"]
        assert frame["impacted_interventions"].tolist() == [1]

        # Selecting PA (a click on its row) shows its evidence and puts it in the URL.
        page.locator(".opeval-table-pms .tabulator-cell[tabulator-field='pm_id']",
                     has_text="PA").first.click()
        _wait_cells(page, "opeval-table-pm-interventions", "ref_interv_oi", ["I1", "I2", "I3"])
        _wait_cells(page, "opeval-table-pm-cuts", "pto", ["PTO-1"])
        _wait_query(page, "pm", "PA")
        assert page.locator(".opeval-timeline-plot canvas").count() >= 1
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
