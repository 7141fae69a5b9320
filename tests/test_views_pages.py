"""Page registry, Viewers, `opeval serve` start-up and the dashboards/ entry files (no browser)."""
from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import panel as pn
import pytest

import _views_db
from _serve_proc import free_port, pull_document
from conftest import ROOT, opeval_subprocess
from evaluation.serve import build_page, make_apps
from evaluation.store import db
from evaluation.views import layout
from evaluation.views.data_page import NO_LOADS, NO_MESSAGES, DataPage
from evaluation.views.data_state import DataState
from evaluation.views.index_page import IndexPage
from evaluation.views.index_state import IndexState
from evaluation.views.pages import PAGES, page
from evaluation.views.queries import ReadOnlyStore

DASHBOARDS = sorted((ROOT / "dashboards").glob("*.py"))


@pytest.fixture(scope="module")
def db_file(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("views_pages")
    _views_db.build(root / "db.duckdb", root / "in")
    return root / "db.duckdb"


@pytest.fixture
def empty_db(tmp_path) -> Path:
    db.connect(tmp_path / "empty.duckdb").close()
    return tmp_path / "empty.duckdb"


def test_registry_has_index_and_data_and_every_factory_imports():
    assert list(PAGES)[:2] == ["/", "/data"]
    for path, entry in PAGES.items():
        assert entry.path == path and path.startswith("/")
        assert callable(entry.load_factory())
    assert page("data") is PAGES["/data"] and page("/") is PAGES["/"]
    with pytest.raises(KeyError, match="no dashboard page '/nowhere'"):
        page("nowhere")


def test_nav_links_every_registered_page_and_marks_the_current_one():
    html = layout.nav("/data").object
    for entry in PAGES.values():
        assert f'href="./{entry.slug}"' in html
    assert html.count('class="current"') == 1
    assert 'class="current" data-path="/data"' in html


def test_index_state_lists_pages_and_counts(db_file):
    state = IndexState(ReadOnlyStore(db_file))
    assert [p.path for p in state.pages()] == [p for p in PAGES if p != "/"]
    summary = state.summary().set_index("table")
    assert summary.loc["systems", "rows"] == 2 and summary.loc["messages", "rows"] == 7
    assert summary.loc["pms", "holds"].startswith("Shared cabinets")
    # 2 systems + 2 devices + 2 pms = 6 rows in 3 of the 10 contract tables
    assert state.headline() == {"rows": 6, "tables_with_rows": 3, "tables": 10, "loads": 4,
                                "quarantined": 4, "messages": 7}


def test_data_page_widgets_follow_the_state_and_back(db_file):
    view = DataPage(state=DataState(ReadOnlyStore(db_file), page_size=3))
    view.__panel__()
    s = view.state
    assert len(view._q_table.value) == 3 and view._q_pager._prev.disabled
    assert "page 1 of 2 (4 rows)" in view._q_pager._label.object
    view._q_pager._next.clicks += 1          # the Next button
    assert s.quarantine_page == 2 and len(view._q_table.value) == 1
    assert "page 2 of 2" in view._q_pager._label.object and view._q_pager._next.disabled
    view._kind_select.value = "devices"      # the widget drives the state ...
    assert s.kind == "devices" and s.quarantine_page == 1
    assert view._q_table.value["kind"].tolist() == ["devices"]
    s.load_id = 1                            # ... and the state drives the widget
    assert view._load_select.value == 1 and view._q_table.value.empty
    assert view._q_empty.visible and not view._q_table.visible
    s.load_id = 99                           # unknown load (e.g. from a URL): no filter
    assert s.load_id is None and view._load_select.value == "*"
    view._message_select.value = "M5"
    assert view._ko_table.value["code_reponse"].tolist() == [3]


def test_data_page_empty_database_says_what_to_load(empty_db):
    view = DataPage(state=DataState(ReadOnlyStore(empty_db)))
    assert view._no_loads.visible and view._no_loads.object == NO_LOADS
    assert view._no_messages.visible and view._no_messages.object == NO_MESSAGES
    assert "opeval demo" in NO_LOADS and "opeval ingest" in NO_LOADS
    assert not view._loads.visible and not view._answers.visible


def test_index_page_empty_database_says_what_to_load(empty_db):
    content = IndexPage(state=IndexState(ReadOnlyStore(empty_db))).__panel__()
    texts = [getattr(o, "object", "") for o in content.objects]
    assert any("opeval demo" in str(t) for t in texts)


@pytest.mark.parametrize("path", list(PAGES))
def test_build_page_for_every_registered_path(db_file, path):
    template = build_page(path, db_file)
    assert isinstance(template, pn.template.BootstrapTemplate)
    assert template.title == f"opeval · {PAGES[path].title}"


def test_build_page_on_a_missing_database_shows_the_reason(tmp_path):
    template = build_page("/data", tmp_path / "missing.duckdb")
    (content,) = template.main.objects
    assert "does not exist" in content.object and "opeval demo" in content.object


def test_make_apps_serves_every_registered_page(db_file):
    assert set(make_apps(db_file)) == set(PAGES)


@pytest.mark.parametrize("entry", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_entry_files_build_their_page(entry, db_file, monkeypatch):
    monkeypatch.setenv("OPEVAL_DB", str(db_file))
    namespace = runpy.run_path(str(entry))
    template = namespace["template"]
    assert isinstance(template, pn.template.BaseTemplate)
    assert "Cannot show" not in str(template.main.objects[0])


@pytest.mark.slow
def test_panel_serve_of_every_dashboard_file_serves_every_page(db_file, tmp_path):
    """`panel serve dashboards/*.py`, as README says: Bokeh puts dashboards/ first on
    sys.path while it runs a file, where evaluation.py used to hide the package
    ("'evaluation' is not a package" on every page). Each page is requested over
    HTTP, its document pulled over the websocket like a browser, and shows its own
    page's title; the server logs no failed handler."""
    port = free_port()
    err = tmp_path / "panel.err"
    with open(err, "wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "panel", "serve", *map(str, DASHBOARDS), "--port", str(port),
             "--address", "127.0.0.1"], stdout=e, stderr=subprocess.STDOUT, cwd=tmp_path,
            env={**os.environ, "OPEVAL_DB": str(db_file)})
    base = f"http://127.0.0.1:{port}"
    try:
        for entry in DASHBOARDS:
            path = "/" + entry.stem
            html = _get_when_up(base + path, proc)
            doc = json.loads(pull_document(base, path, html))["doc"]
            shown = page("/" if entry.stem == "index" else path)   # index.py is the page at /
            assert doc["title"] == f"opeval · {shown.title}", path
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    log = err.read_text()
    assert "Error running application handler" not in log and "Traceback" not in log, log


def _get_when_up(url: str, proc, timeout: float = 120) -> str:
    """The page at ``url`` once the server answers (it fails the test if the server exits)."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, "panel serve exited"
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_every_registered_page_has_a_dashboard_file():
    files = {p.stem for p in DASHBOARDS}
    for entry in PAGES.values():
        assert (entry.slug or "index") in files, entry.path


def test_serve_on_a_missing_database_fails_with_one_line(tmp_path):
    proc = opeval_subprocess("--db", tmp_path / "none.duckdb", "serve", "--port", "1",
                             timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "does not exist" in proc.stderr and "opeval demo" in proc.stderr


def test_data_page_says_so_when_the_database_is_busy(tmp_path):
    path = tmp_path / "db.duckdb"
    _views_db.build(path, tmp_path / "in")
    view = DataPage(state=DataState(ReadOnlyStore(path)))
    assert not view._error.visible
    writer = db.connect(path)  # a writer holds the file: read-only opens fail meanwhile
    try:
        view.state.kind = "pms"  # not cached yet: needs the database
        assert view._error.visible and "try again in a moment" in view._error.object
    finally:
        writer.close()
    view.state.kind = "devices"
    assert not view._error.visible
    assert view._q_table.value["kind"].tolist() == ["devices"]


def test_server_start_warms_pages_and_survives_a_failing_warm(monkeypatch):
    from evaluation import serve
    from evaluation.views import alarms_state, evaluation_state, outages_state
    calls = []
    monkeypatch.setattr(evaluation_state, "warm", lambda path: calls.append(path))
    monkeypatch.setattr(alarms_state, "warm", lambda path: calls.append("alarms"))
    monkeypatch.setattr(outages_state, "warm", lambda path: calls.append("outages"))
    status = serve.warm_pages("/tmp/x.duckdb")
    assert status.wait(120)
    assert calls == ["/tmp/x.duckdb", "alarms", "outages"]   # in the registry's order
    report = status.as_dict()
    assert report["state"] == "ready" and set(report["pages"].values()) == {"ok"}

    def boom(path):
        raise RuntimeError("database locked")
    monkeypatch.setattr(evaluation_state, "warm", boom)
    status = serve.warm_pages("/tmp/x.duckdb")  # logged, not raised
    assert status.wait(120)
    report = status.as_dict()
    assert report["pages"]["/evaluation"] == "failed: database locked"
    assert report["pages"]["/outages"] == "ok" and report["state"] == "ready"
