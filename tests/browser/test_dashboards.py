"""The dashboards in a real Chromium: content matches the database, filters, downloads, offline.

Every test ends with ``watch.assert_clean(page)``: no request left the
server (closed networks), no console error, no uncaught error, no traceback.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from ._browser import Watch, route_local_only

pytestmark = pytest.mark.browser


def cell_texts(page, table_class: str, field: str) -> list[str]:
    rows = page.locator(f".{table_class} .tabulator-row .tabulator-cell[tabulator-field='{field}']")
    return [t.strip() for t in rows.all_inner_texts()]


def pager_text(page, page_param: str) -> str:
    return page.locator(f".opeval-pager[data-page='{page_param}']").inner_text()


def test_index_lists_pages_and_table_counts(open_page, server):
    page, watch = open_page("/")
    tables = cell_texts(page, "opeval-table-summary", "table")
    rows = cell_texts(page, "opeval-table-summary", "rows")
    shown = dict(zip(tables, map(int, rows)))
    for table, count in server.expected["rows"].items():
        assert shown[table] == count, table
    assert shown["faults"] == 0
    links = page.locator(".opeval-pages a")
    assert links.count() >= 1 and "/data" in links.evaluate_all("a => a.map(x => x.dataset.path)")
    assert "6 input rows in 3 of 10 tables" in page.locator(".opeval-headline").inner_text()
    # the alert rules never ran on this store: no card says "0" (tests/test_views_index.py)
    assert page.locator(".opeval-empty", has_text="alert rules have never run").count() == 1
    assert page.locator(".opeval-attention").count() == 0
    links.filter(has_text="Data").click()
    page.wait_for_url("**/data")
    page.locator(".opeval-table-quarantine .tabulator-row").first.wait_for()
    watch.assert_clean(page)


def test_data_page_counts_filter_and_download(open_page, server):
    page, watch = open_page("/data")
    # Tables and the load log as in the database.
    shown = dict(zip(cell_texts(page, "opeval-table-tables", "table"),
                     map(int, cell_texts(page, "opeval-table-tables", "rows"))))
    assert {t: shown[t] for t in server.expected["rows"]} == server.expected["rows"]
    assert cell_texts(page, "opeval-table-loads", "load_id") == ["4", "3", "2", "1"]
    # Every quarantined row, then only those of the systems load.
    assert pager_text(page, "quarantine_page") == "page 1 of 1 (4 rows)"
    assert len(cell_texts(page, "opeval-table-quarantine", "reason")) == 4
    # Answers per message type and code.
    answers = list(zip(cell_texts(page, "opeval-table-answers", "message"),
                       map(int, cell_texts(page, "opeval-table-answers", "code_reponse")),
                       map(int, cell_texts(page, "opeval-table-answers", "answers"))))
    assert {(m, c): n for m, c, n in answers} == server.expected["answers"]
    assert cell_texts(page, "opeval-table-ko", "description_reponse") == [
        "Code_OI is missing", "PM PM9 is not a known PM", "Ref_Interv_OI OI01-999 is unknown"]

    page.locator(".opeval-quarantine select").nth(1).select_option(label="systems")
    page.locator(".opeval-pager[data-page='quarantine_page']",
                 has_text="(2 rows)").wait_for(timeout=15_000)
    assert cell_texts(page, "opeval-table-quarantine", "columns") == ["risk_level", "system_id"]
    # The URL is updated by a separate round trip after the table: wait for it.
    page.wait_for_url(lambda url: parse_qs(urlparse(url).query).get("kind") == ["systems"],
                      timeout=15_000)

    with page.expect_download(timeout=30_000) as info:
        page.locator(".opeval-quarantine button", has_text="Download CSV").click()
    download = info.value
    assert download.suggested_filename == "quarantine.csv"
    frame = pd.read_csv(download.path())
    assert frame["kind"].tolist() == ["systems", "systems"]
    assert frame["line"].tolist() == [4, 5]
    assert frame["reason"].str.contains("risk_level").tolist() == [True, False]
    watch.assert_clean(page)


def test_data_page_filters_come_from_the_url(open_page):
    page, watch = open_page("/data?load=2&message=M5")
    page.locator(".opeval-pager[data-page='quarantine_page']",
                 has_text="(1 row)").wait_for(timeout=15_000)
    assert cell_texts(page, "opeval-table-quarantine", "kind") == ["devices"]
    assert page.locator(".opeval-quarantine select").first.evaluate(
        "s => s.options[s.selectedIndex].text").startswith("#2 devices")
    page.locator(".opeval-pager[data-page='ko_page']", has_text="(1 row)").wait_for()
    assert cell_texts(page, "opeval-table-ko", "libelle_reponse") == ["REF_INTERV_OI_INCONNUE"]
    watch.assert_clean(page)


def test_the_watch_catches_external_requests_and_console_errors(browser):
    """The checks above can fail: an outside font and a console error are both caught."""
    context = browser.new_context()
    route_local_only(context)
    page = context.new_page()
    watch = Watch()
    page.on("request", lambda r: watch.requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and watch.console_errors.append(m.text))
    page.set_content('<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=X">'
                     '<script>console.error("boom")</script><p>Traceback (most recent call)</p>')
    with pytest.raises(AssertionError, match="requests leaving the server"):
        watch.assert_clean(page)
    assert watch.external() == ["https://fonts.googleapis.com/css?family=X"]
    assert any("boom" in e for e in watch.console_errors)
    watch.requests.clear()
    watch.requests.append("http://127.0.0.1:1/")
    watch.console_errors.clear()
    with pytest.raises(AssertionError, match="traceback"):
        watch.assert_clean(page)
    context.close()
