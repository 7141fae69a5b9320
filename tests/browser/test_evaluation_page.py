"""The /evaluation page in Chromium on the hand-made chapter 6 fixture (tests/evaluation_fixture.py).

Its own `opeval serve` (the shared server's database holds no faults): the page
shows the six systems' verdicts, follows a change of the system in detail (table,
verdict and URL) in the open tab and in tabs opened later or reopened, reads its
filters from the URL, and downloads a CSV and the HTML report — with no request
leaving the server, no console error, no traceback.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

import evaluation_fixture as fx
from evaluation.store import db

from ._browser import cells as table_cells
from ._browser import downloaded, page_opener, serving

pytestmark = pytest.mark.browser

EVALUATED = 60_000   # ms: the first evaluation runs in the server's background worker


@pytest.fixture(scope="module")
def eval_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_evaluation")
    path = root / "fx.duckdb"
    con = db.connect(path)
    fx.load(con)
    con.close()
    with serving(path) as served:
        yield served.url


@pytest.fixture
def open_eval(browser, eval_server):
    def evaluated(page):
        page.locator(".opeval-done").wait_for(timeout=EVALUATED)
        page.locator(".opeval-table-findings .tabulator-row").first.wait_for(timeout=EVALUATED)

    yield from page_opener(browser, eval_server + "/evaluation", 2400, evaluated)


def cells(page, table: str, field: str) -> list[str]:
    return table_cells(page, f"opeval-table-{table}", field)


TWELVE = tuple([f"2024-{m:02d}" for m in range(7, 13)] + [f"2025-{m:02d}" for m in range(1, 7)])
# the months drawn in the browser: the "label" column of every Bokeh data source of the page
MONTHS_JS = """() => { const out = [];
  for (const doc of Bokeh.documents) for (const m of doc.all_models)
    if (m.constructor.__name__ === "ColumnDataSource" && m.data && "label" in m.data)
      out.push(Array.from(m.data.label));
  return out; }"""


def months(page) -> set[tuple[str, ...]]:
    """The month axes of the faults and MTTR charts as BokehJS holds them (one per source)."""
    return {tuple(m) for m in page.evaluate(MONTHS_JS)}


def tab(page, title: str) -> None:
    """Open a tab of the page (only the open one is drawn: dynamic tabs)."""
    page.locator(".opeval-evaluation-tabs .bk-tab", has_text=title).first.click()


def focus(page, label: str, disposition: str) -> None:
    """Choose the system in detail and wait for its verdict."""
    page.locator(".opeval-detail select").first.select_option(label=label)
    page.locator(".opeval-verdict [data-key='disposition']",
                 has_text=disposition).wait_for(timeout=60_000)


def device_cell(page, device: str):
    return page.locator(".opeval-table-devices .tabulator-cell[tabulator-field='device_id']",
                        has_text=device)


def test_overview_detail_and_a_change_of_system(open_eval):
    page, watch = open_eval()
    assert "6 systems evaluated as of 2025-06-30" in page.locator(".opeval-done").inner_text()
    assert cells(page, "overview", "system_id") == ["S1", "S2", "S3", "S4", "S5", "S6"]
    assert cells(page, "overview", "classification") == [      # codes shown in words
        "Impaired", "Impaired", "Unfit", "Insufficient evidence", "Fit", "Fit with remarks"]
    headers = page.locator(".opeval-table-overview .tabulator-col-title").all_inner_texts()
    assert "MTBF (mean time between failures)" in headers
    assert not [h for h in headers if "_" in h]
    mtbf = cells(page, "overview", "mtbf_h")                   # durations as "725 d 12 h"
    assert all(re.fullmatch(r"(\d+ (d|h|min|s))( \d+ (h|min|s))?|–", v) for v in mtbf), mtbf
    assert page.locator(".opeval-fleet [data-key='fleet_systems'] .value").inner_text() == "6"
    verdict = page.locator(".opeval-verdict [data-key='disposition']")
    assert "Partial replacement" in verdict.inner_text()
    # Findings is the open tab; the other tabs' tables and charts are not drawn yet
    assert page.locator(".opeval-evaluation-tabs .bk-tab.bk-active").inner_text().strip() == "Findings"
    assert page.locator(".opeval-table-devices").count() == 0
    assert page.locator(".opeval-plot-faults").count() == 0
    # every chart is drawn once its tab is opened (Bokeh canvases inside the plot panes)
    tab(page, "Devices & service life")
    device_cell(page, "D6").wait_for(timeout=60_000)
    assert cells(page, "devices", "device_id") == ["D1", "D2", "D4", "D5", "D3", "D6"]
    page.locator(".opeval-plot-life canvas").first.wait_for(timeout=60_000)
    tab(page, "Faults & MTTR by month")
    for plot in ("faults", "mttr"):
        page.locator(f".opeval-plot-{plot} canvas").first.wait_for(timeout=60_000)
    assert months(page) == {TWELVE}
    # another system in detail while the devices tab is open: verdict, devices table and URL follow
    tab(page, "Devices & service life")
    focus(page, "S3 · Depot", "Overall renewal")
    device_cell(page, "H3").wait_for(timeout=60_000)
    assert cells(page, "devices", "device_id") == ["H1", "H2", "H3"]
    assert cells(page, "devices", "life_status") == ["Past its life", "Past its life", "Within its life"]
    page.locator(".opeval-life-note", has_text="3 active devices: 2 past").wait_for(timeout=60_000)
    assert parse_qs(urlparse(page.url).query).get("system") == ["S3"]
    # a tab opened for the first time shows the system now in detail (S3: zone Y1, never exposed)
    tab(page, "Exposure by zone")
    page.locator(".opeval-never-exposed").wait_for(timeout=60_000)
    assert cells(page, "exposure", "zone") == ["Y1"]
    # back to S1 while the devices and exposure tabs are hidden: reopened, they show S1
    tab(page, "Findings")
    focus(page, "S1 · Warehouse", "Partial replacement")
    tab(page, "Devices & service life")
    device_cell(page, "D6").wait_for(timeout=60_000)
    assert cells(page, "devices", "device_id") == ["D1", "D2", "D4", "D5", "D3", "D6"]
    page.locator(".opeval-life-note", has_text="6 active devices: 1 past").wait_for(timeout=60_000)
    page.locator(".opeval-plot-life canvas").first.wait_for(timeout=60_000)
    tab(page, "Exposure by zone")
    page.locator(".opeval-table-exposure .tabulator-cell[tabulator-field='zone']",
                 has_text="CR").wait_for(timeout=60_000)
    page.locator(".opeval-plot-exposure canvas").first.wait_for(timeout=60_000)
    assert cells(page, "exposure", "zone") == ["Z1", "Z1", "CR"]
    assert not page.locator(".opeval-never-exposed").is_visible()
    tab(page, "Expected failures")
    page.locator(".opeval-table-expected .tabulator-row").first.wait_for(timeout=60_000)
    assert sorted(cells(page, "expected", "device_type")) == [
        "CCD camera", "DVR", "Door reader", "Intrusion detector"]
    page.wait_for_timeout(500)
    watch.assert_clean(page)


def test_filters_from_the_url_and_downloads(open_eval):
    page, watch = open_eval("?systems=S6,S3&system=S3")
    page.locator(".opeval-table-overview .tabulator-row").first.wait_for()
    assert cells(page, "overview", "system_id") == ["S6", "S3"]
    assert "Unfit" in page.locator(".opeval-verdict [data-key='classification']").inner_text()

    findings_csv = downloaded(page, page.locator(".opeval-findings button", has_text="Download CSV"))
    assert findings_csv.suggested_filename == "evaluation_findings.csv"
    findings = pd.read_csv(findings_csv.path())
    assert set(findings["status"]) <= {"conforming", "nonconforming", "not_applicable"}
    # S3: H1, H2 of its 3 active devices past their life -> the service-life line is nonconforming
    life = findings[findings["requirement"].str.startswith("No device in use beyond")]
    assert life["status"].tolist() == ["nonconforming"] and life["severity"].tolist() == ["critical"]

    report_html = downloaded(page, page.locator(".opeval-report button", has_text="Download HTML report"))
    assert report_html.suggested_filename == "evaluation-S3.html"
    with open(report_html.path(), encoding="utf-8") as f:
        report = f.read()
    assert 'id="system-S3"' in report and "Overall renewal" in report and "<script" not in report

    # another window: evaluated again in the background, then the charts redrawn, both in the
    # open tab and in one drawn before and hidden meanwhile (12 months -> 1: new plots)
    tab(page, "Faults & MTTR by month")
    page.locator(".opeval-plot-faults canvas").first.wait_for(timeout=60_000)
    assert months(page) == {TWELVE}
    tab(page, "Findings")
    window = page.locator(".opeval-window input").first
    window.fill("30")
    window.press("Enter")
    page.locator(".opeval-done", has_text="(30 days)").wait_for(timeout=EVALUATED)
    assert parse_qs(urlparse(page.url).query).get("window") == ["30"]
    tab(page, "Faults & MTTR by month")
    page.locator(".opeval-plot-faults canvas").first.wait_for(timeout=60_000)
    page.locator(".opeval-plot-mttr canvas").first.wait_for(timeout=60_000)
    # the charts drawn before (12 months) are brought to the new window once their tab is open
    page.wait_for_function(f"() => ({MONTHS_JS})().every(m => m.length === 1)", timeout=60_000)
    assert months(page) == {("2025-06",)}        # window 2025-06-01 .. 06-30
    window.fill("60")
    window.press("Enter")
    page.locator(".opeval-done", has_text="(60 days)").wait_for(timeout=EVALUATED)
    page.locator(".opeval-plot-faults canvas").first.wait_for(timeout=60_000)
    page.wait_for_function(f"() => ({MONTHS_JS})().every(m => m.length === 2)", timeout=60_000)
    assert months(page) == {("2025-05", "2025-06")}   # window 2025-05-02 .. 06-30, open tab
    page.wait_for_timeout(1000)
    watch.assert_clean(page)
