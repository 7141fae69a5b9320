"""The table cells' JavaScript formatters write what the Python ones write (views/display.py).

Tabulator formats a cell in the browser from its number, so that sorting a column
sorts the numbers; the text must still be the one the Python formatter gives (the
PDF, the cards and the tests read that one). Run in the Chromium of the browser
tests, the engine that shows the pages.
"""
from __future__ import annotations

import json

from evaluation.views import display


def test_table_cells_write_durations_and_codes_as_the_python_does(browser):
    values = [1_935_484.0, 86_430, 3_660, 59.9, 0, 250, -4000.5, 1e9, 0.4, None]
    hours = [17412.895486111112, 6.629513888888889, 0.25, None]
    codes = ["fit_with_remarks", "nonconforming", "brand_new_code", None]
    page = browser.new_page()

    def js(fn: str, cells: list) -> list[str]:
        return page.evaluate(
            f"() => {{ const f = {fn}; return {json.dumps(cells)}.map(v => {{"
            "const r = f({getValue: () => v}); return typeof r === 'string' ? r : r.textContent; }); }")

    try:
        assert js(display.duration_js(1), values) == [display.duration(v) for v in values]
        assert js(display.duration_js(3600), hours) == [display.hours(v) for v in hours]
        code_js = display.cell_format("classification", object).js_code
        assert js(code_js, codes) == [display.value_label(v) for v in codes]
    finally:
        page.close()
