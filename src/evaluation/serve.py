"""Build and run the dashboard server: one Panel server, one page per registered path.

:func:`build_page` makes one page (template + content) for a session; it is
what ``opeval serve`` runs for each request and what the thin entry files in
``dashboards/`` call, so ``panel serve dashboards/data.py`` shows the same page.
"""
from __future__ import annotations

import html
import logging
import os
from pathlib import Path

from .config import default_db
from .errors import OpevalError
from .store.db import StoreError
from .views.pages import PAGES, page
from .views.queries import ReadOnlyStore

log = logging.getLogger(__name__)


def check_database(db_path: str | Path) -> ReadOnlyStore:
    """A store on ``db_path``; :class:`StoreError` (one line) if it cannot be read."""
    store = ReadOnlyStore(db_path)
    store.check()
    return store


def build_page(path: str, db_path: str | Path | None = None):
    """The page registered at ``path`` inside the common template, for one session.

    A database that cannot be read at this moment (e.g. locked by a load in
    progress) gives a page that says so instead of a traceback.
    """
    from .views import layout

    layout.configure_offline()
    db_path = os.fspath(db_path) if db_path is not None else default_db()
    entry = page(path)
    try:
        store = check_database(db_path)
        with store.session():
            content = entry.load_factory()(store)
    except OpevalError as exc:
        log.warning("page %s: %s", entry.path, exc)
        content = layout.error(f"Cannot show this page: {html.escape(str(exc))}")
    return layout.page_template(entry.path, content, db_path)


def make_apps(db_path: str | Path) -> dict[str, object]:
    """URL path -> session factory for every registered page."""
    db_path = os.fspath(db_path)

    def factory(path: str):
        return lambda: build_page(path, db_path)

    return {p.path: factory(p.path) for p in PAGES.values()}


def serve(db_path: str | Path, port: int = 5006, address: str = "127.0.0.1",
          show: bool = False, allow_origins: list[str] | None = None) -> None:
    """Serve every registered page until interrupted; StoreError first if the db is unusable."""
    if not Path(db_path).exists():
        raise StoreError(f"database {db_path} does not exist (build it with `opeval demo` "
                         f"or load data with `opeval ingest`)")
    check_database(db_path)
    os.environ["BOKEH_RESOURCES"] = "server"
    import panel as pn

    origins = {f"localhost:{port}", f"127.0.0.1:{port}", f"{address}:{port}",
               *(allow_origins or [])}
    print(f"opeval: serving {db_path} at http://{address}:{port}/ — pages: "
          + ", ".join(PAGES), flush=True)
    pn.serve(make_apps(db_path), port=port, address=address, show=show, threaded=False,
             title={p.path: f"opeval · {p.title}" for p in PAGES.values()},
             websocket_origin=sorted(origins), print=False)
