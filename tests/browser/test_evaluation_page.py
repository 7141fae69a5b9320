"""The /evaluation page in Chromium on the hand-made chapter 6 fixture (tests/evaluation_fixture.py).

Its own `opeval serve` (the shared server's database holds no faults): the page
shows the six systems' verdicts, follows a change of the system in detail (table,
verdict and URL), reads its filters from the URL, and downloads a CSV and the
HTML report — with no request leaving the server, no console error, no traceback.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

import evaluation_fixture as fx
from evaluation.store import db

from ._browser import cells as table_cells
from ._browser import downloaded, new_page, serving

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
    contexts = []

    def _open(query: str = ""):
        context, page, watch = new_page(browser, 1366, 2400)
        contexts.append(context)
        page.goto(eval_server + "/evaluation" + query, wait_until="networkidle")
        page.locator(".opeval-done").wait_for(timeout=EVALUATED)
        page.locator(".opeval-table-findings .tabulator-row").first.wait_for(timeout=EVALUATED)
        return page, watch

    yield _open
    for context in contexts:
        context.close()


def cells(page, table: str, field: str) -> list[str]:
    return table_cells(page, f"opeval-table-{table}", field)


def test_overview_detail_and_a_change_of_system(open_eval):
    page, watch = open_eval()
    assert "6 systems evaluated as of 2025-06-30" in page.locator(".opeval-done").inner_text()
    assert cells(page, "overview", "system_id") == ["S1", "S2", "S3", "S4", "S5", "S6"]
    assert cells(page, "overview", "classification") == [
        "impaired", "impaired", "unfit", "impaired", "fit", "fit_with_remarks"]
    verdict = page.locator(".opeval-verdict [data-key='disposition']")
    assert "Partial replacement" in verdict.inner_text()
    assert cells(page, "devices", "device_id") == ["D1", "D2", "D4", "D5", "D3", "D6"]
    # every chart is drawn (Bokeh canvases inside the plot panes)
    for plot in ("faults", "mttr", "life", "exposure"):
        page.locator(f".opeval-plot-{plot} canvas").first.wait_for(timeout=60_000)
    # another system in detail: verdict, devices table and URL follow
    page.locator(".opeval-detail select").first.select_option(label="S3 · Depot")
    page.locator(".opeval-verdict [data-key='disposition']",
                 has_text="Overall renewal").wait_for(timeout=60_000)
    page.locator(".opeval-table-devices .tabulator-cell[tabulator-field='device_id']",
                 has_text="H3").wait_for(timeout=60_000)
    assert cells(page, "devices", "device_id") == ["H1", "H2", "H3"]
    assert cells(page, "devices", "life_status") == ["past", "past", "ok"]
    assert parse_qs(urlparse(page.url).query).get("system") == ["S3"]
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

    # another window: evaluated again in the background, then every chart redrawn
    window = page.locator(".opeval-window input").first
    window.fill("30")
    window.press("Enter")
    page.locator(".opeval-done", has_text="(30 days)").wait_for(timeout=EVALUATED)
    assert parse_qs(urlparse(page.url).query).get("window") == ["30"]
    page.locator(".opeval-plot-faults canvas").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    watch.assert_clean(page)
