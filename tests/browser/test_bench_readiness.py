"""The browser benchmark's in-page checks (bench/dashboards.py) on hand-made pages.

Bokeh renders inside (nested) shadow roots: the readiness and change checks
must see through them, wait for every Panel spinner to go, and tell a changed
view from an unchanged one — otherwise the bench would time the wrong moment.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.dashboards import CHANGED_JS, READY_JS, SIGNATURE_JS, TRACK_ROOTS_JS

pytestmark = pytest.mark.browser

# A plot host whose canvas sits two shadow roots deep, and a KPI pane with its text in a
# shadow root; the page starts "loading" (a .pn-loading element, also in a shadow root).
PAGE = """
<div id="plot" class="opeval-load-plot"></div>
<div id="kpis" class="opeval-kpis"></div>
<script>
  const outer = document.getElementById('plot').attachShadow({mode: 'open'});
  outer.innerHTML = '<div class="bk-Figure"></div>';
  const inner = outer.querySelector('.bk-Figure').attachShadow({mode: 'open'});
  inner.innerHTML = '<canvas width="50" height="20"></canvas>';
  const kpis = document.getElementById('kpis').attachShadow({mode: 'open'});
  kpis.innerHTML = '<span class="pn-loading">spinner</span><b>12 alarms</b>';
</script>
"""

READY = [[".opeval-load-plot", "canvas"], [".opeval-kpis"]]


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.add_init_script(TRACK_ROOTS_JS)
    page = context.new_page()
    page.goto("about:blank")
    page.set_content(PAGE)
    yield page
    context.close()


def _unspin(page):
    page.evaluate("document.getElementById('kpis').shadowRoot.querySelector('.pn-loading')"
                  ".classList.remove('pn-loading')")


def test_ready_waits_for_the_spinner_and_sees_through_shadow_roots(page):
    assert page.evaluate("window.__opevalRoots.length") == 3
    assert page.evaluate(READY_JS, READY) is False          # spinner shown
    _unspin(page)
    ready_at = page.evaluate(READY_JS, READY)
    assert isinstance(ready_at, (int, float)) and ready_at > 0
    # a selector path that matches nothing keeps the page "not ready"
    assert page.evaluate(READY_JS, READY + [[".opeval-load-plot", "table"]]) is False


def test_hidden_content_is_not_ready(page):
    _unspin(page)
    page.evaluate("document.getElementById('plot').style.display = 'none'")
    assert page.evaluate(READY_JS, READY) is False


def test_change_is_seen_only_when_the_watched_text_changes_and_no_spinner_is_left(page):
    _unspin(page)
    before = page.evaluate(SIGNATURE_JS, [".opeval-kpis"])
    assert "12 alarms" in before
    assert page.evaluate(CHANGED_JS, [[".opeval-kpis"], before]) is False
    page.evaluate("document.getElementById('kpis').shadowRoot.querySelector('b')"
                  ".textContent = '7 alarms'")
    page.evaluate("document.getElementById('kpis').shadowRoot.querySelector('b')"
                  ".classList.add('pn-loading')")
    assert page.evaluate(CHANGED_JS, [[".opeval-kpis"], before]) is False   # still loading
    page.evaluate("document.getElementById('kpis').shadowRoot.querySelector('b')"
                  ".classList.remove('pn-loading')")
    assert page.evaluate(CHANGED_JS, [[".opeval-kpis"], before]) > 0


def test_roots_are_found_without_the_init_script(browser):
    """A page opened without the tracking script is walked instead (same answers)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_content(PAGE)
    _unspin(page)
    assert page.evaluate("window.__opevalRoots") is None
    assert page.evaluate(READY_JS, READY) > 0
    context.close()
