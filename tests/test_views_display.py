"""What every page shows: human headers and codes, durations, one missing sign (views/display.py).

The formatters are checked on their own (a property test of :func:`duration`, the
JavaScript of the table cells against the Python in Chromium: tests/browser/test_display_cells.py),
then on real pages:
every table of every page built by ``build_page`` on the views database (and of the
/evaluation page on its fixture, in test_views_evaluation.py) has a human header for each column and
the cell rules of its columns, while its ``value`` (what the CSV downloads write)
keeps the machine names.
"""
from __future__ import annotations

import re

import pandas as pd
import panel as pn
import pytest
from hypothesis import given
from hypothesis import strategies as st

import _views_db
from evaluation.cli import main as cli_main
from evaluation.serve import build_page
from evaluation.views import display
from evaluation.views.pages import PAGES
from evaluation.views.queries import ReadOnlyStore

UNIT = dict(display.UNITS)
PART = re.compile(r"(\d+) (d|h|min|s)")


def _parse(text: str) -> tuple[int, int]:
    """(seconds written, seconds of the smallest unit written)."""
    sign = -1 if text.startswith("-") else 1
    parts = PART.findall(text)
    assert " ".join(f"{c} {u}" for c, u in parts) == text.lstrip("-")
    return sign * sum(int(c) * UNIT[u] for c, u in parts), UNIT[parts[-1][1]]


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_duration_writes_two_units_at_most_and_never_more_than_the_value(seconds):
    text = display.duration(seconds)
    written, smallest = _parse(text)
    parts = PART.findall(text)
    assert 1 <= len(parts) <= 2
    units = [UNIT[u] for _, u in parts]
    assert units == sorted(units, reverse=True) and len(set(units)) == len(units)
    assert all(int(c) > 0 for c, _ in parts) or text == "0 s"
    if len(parts) == 2:                        # the second unit is the next one down
        names = [u for u, _ in display.UNITS]
        assert names.index(parts[1][1]) == names.index(parts[0][1]) + 1
        assert int(parts[1][0]) < UNIT[parts[0][1]] // UNIT[parts[1][1]]
    # truncated: what is written is within one unit of the next one down of the value
    next_unit = min((s for s in UNIT.values() if s < UNIT[parts[0][1]]), default=1)
    assert abs(written) <= abs(seconds) < abs(written) + max(next_unit, smallest)


@pytest.mark.parametrize(("seconds", "text"), [
    (1_935_484.0, "22 d 9 h"), (86_400 + 30, "1 d"), (3_660, "1 h 1 min"), (59.9, "59 s"),
    (0, "0 s"), (250, "4 min 10 s"), (None, "–"), (float("nan"), "–")])
def test_duration_examples(seconds, text):
    assert display.duration(seconds) == text


def test_missing_values_have_one_sign():
    assert display.MISSING == "–"
    for f in (display.duration, display.hours, display.percent, display.number, display.value_label):
        assert f(None) == display.MISSING and f(float("nan")) == display.MISSING
    assert display.hours(17412.9) == "725 d 12 h" and display.percent(0.1234) == "12.3%"


def test_labels_and_codes_read_as_words():
    assert display.label("mtbf_h") == "MTBF (mean time between failures)"
    assert display.label("some_new_delay_s") == "Some new delay time"
    assert display.value_label("fit_with_remarks") == "Fit with remarks"
    assert display.value_label("brand_new_code") == "Brand new code"
    for column in display.LABELS:
        assert "_" not in display.label(column)


# ------------------------------------------------------------------ the pages

def _walk(root):
    """Every Panel object of a page: its layouts' children and its Viewers' parts."""
    seen, todo = set(), [root]
    while todo:
        o = todo.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        yield o
        todo.extend(getattr(o, "objects", None) or [])
        if isinstance(o, pn.viewable.Viewer):
            todo.extend(v for v in vars(o).values() if isinstance(v, pn.viewable.Viewable))
            todo.append(o.__panel__())


def _tables(root) -> list[pn.widgets.Tabulator]:
    return [o for o in _walk(root) if isinstance(o, pn.widgets.Tabulator)]


def _assert_human(tab: pn.widgets.Tabulator) -> None:
    frame = tab.value
    for c in frame.columns:
        header = tab.titles.get(c, c)
        assert "_" not in header and header[:1].isupper(), (tab.css_classes, c, header)
        fmt = tab.formatters.get(c)
        if display.duration_factor(c) and pd.api.types.is_numeric_dtype(frame[c]):
            assert "Math.floor" in fmt.js_code, c
        if c in display.CODE_COLUMNS and not pd.api.types.is_numeric_dtype(frame[c]):
            assert "textContent" in fmt.js_code, c


@pytest.fixture(scope="module")
def views_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("display")
    _views_db.build(root / "db.duckdb", root / "in")
    return root / "db.duckdb"


@pytest.mark.parametrize("path", list(PAGES))
def test_every_table_of_every_page_has_human_headers(views_db, path):
    tables = _tables(build_page(path, views_db).main)
    for tab in tables:
        _assert_human(tab)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("display_demo")
    assert cli_main(["demo", "--db", str(root / "demo.duckdb"), "--out", str(root / "in"),
                     "--scale", "small", "--no-progress"]) == 0
    return root / "demo.duckdb"


def _plots(root) -> list[pn.pane.HoloViews]:
    return [o for o in _walk(root) if isinstance(o, pn.pane.HoloViews) and o.object is not None]


@pytest.mark.parametrize("path", ["/evaluation", "/alarms", "/outages"])
def test_every_axis_drawn_on_a_demo_page_says_what_it_counts(demo_db, path):
    import holoviews as hv
    from bokeh.models import CategoricalAxis

    view = PAGES[path].load_factory()(ReadOnlyStore(demo_db))
    if hasattr(view, "_res"):                               # /evaluation: wait for its worker
        view.state.result()
        view.__panel__()
    checked = 0
    for pane in _plots(view):
        fig = hv.render(pane.object)
        if not fig.title.text:                              # a tab's placeholder, not yet drawn
            continue
        for axis in fig.xaxis + fig.yaxis:
            if not isinstance(axis, CategoricalAxis):
                assert axis.axis_label not in (None, "", "x", "y"), (pane.css_classes, fig.title.text)
                checked += 1
    assert checked >= 3


def test_opening_every_tab_of_every_page_writes_nothing_beside_the_database(demo_db):
    """Every page built on the demo database, every tab of it opened (the /alarms open-alarm
    tab with no saved model, its rationalisation tabs, /evaluation's and /outages' tabs):
    the folder of the database holds the same files afterwards, and the open-alarm tab
    found no saved model for it and made none (a slot is none, ready or failed: the page
    never trains one)."""
    from evaluation.views import alarms_state

    folder = demo_db.parent
    before = sorted((str(p.relative_to(folder)), p.stat().st_size if p.is_file() else 0)
                    for p in folder.rglob("*") if p.suffix != ".wal")
    opened = 0
    for path in PAGES:
        template = build_page(path, demo_db)
        for o in _walk(template.main):
            if hasattr(o, "state") and hasattr(o.state, "result"):
                o.state.result()                            # /evaluation: its worker's result
            if isinstance(o, pn.Tabs):
                for i in range(len(o)):
                    o.active = i
                    opened += 1
    assert opened >= 15
    after = sorted((str(p.relative_to(folder)), p.stat().st_size if p.is_file() else 0)
                   for p in folder.rglob("*") if p.suffix != ".wal")
    assert after == before
    # this database's model slot only: other tests of the same worker save models for theirs
    assert alarms_state._models[str(demo_db)].status == "none"


def test_a_new_frame_of_the_same_columns_keeps_the_formats_sent():
    """Filters replace a table's frame often: the headers and formats are sent again only
    when the columns or their types change."""
    from evaluation.views.layout import table

    tab = table(pd.DataFrame({"handle_s": [1.0], "status": ["fit_with_remarks"]}))
    sent = tab.formatters
    tab.value = pd.DataFrame({"handle_s": [90_000.0], "status": ["unfit"]})
    assert tab.formatters is sent
    tab.value = pd.DataFrame({"handle_s": [1.0], "status": ["unfit"], "share": [0.5]})
    assert tab.formatters is not sent and tab.formatters["share"] is display.PCT
    assert tab.titles == {"handle_s": "Time to handle", "status": "Status", "share": "Share"}
