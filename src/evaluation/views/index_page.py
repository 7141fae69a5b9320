"""The ``/`` page: links to every registered page and what the database holds."""
from __future__ import annotations

import html

import panel as pn
import param

from .index_state import IndexState
from .layout import download, empty, frame_csv, table
from .queries import ReadOnlyStore

EMPTY_DB = ("**The database is empty.** Run `opeval demo` to build the demo database, or "
            "`opeval ingest KIND FILE…` to load your own files, then reload this page.")


class IndexPage(pn.viewable.Viewer):
    state = param.ClassSelector(class_=IndexState)

    def __init__(self, **params):
        super().__init__(**params)
        self._summary = table(self.state.summary(), css_classes=["opeval-table-summary"],
                              widths={"holds": 560})

    def _links(self) -> pn.pane.HTML:
        items = "".join(
            f'<li><a href="./{p.slug}" data-path="{p.path}"><strong>{html.escape(p.title)}'
            f'</strong></a> — {html.escape(p.summary)}</li>' for p in self.state.pages())
        return pn.pane.HTML(f'<ul class="opeval-pages">{items}</ul>',
                            sizing_mode="stretch_width", styles={"font-size": "1rem"})

    def _headline(self):
        h = self.state.headline()
        if h["loads"] == 0 and h["rows"] == 0:
            return empty(EMPTY_DB)
        return pn.pane.HTML(
            f'<p class="opeval-headline">{h["rows"]:,} input rows in {h["tables_with_rows"]} of '
            f'{h["tables"]} tables; {h["loads"]:,} loads, {h["quarantined"]:,} quarantined rows, '
            f'{h["messages"]:,} e-Intervention messages.</p>',
            sizing_mode="stretch_width", styles={"font-size": "1rem"})

    def __panel__(self):
        return pn.Column(
            pn.pane.HTML("<h3>Pages</h3>"), self._links(),
            pn.pane.HTML("<h3>What the database holds</h3>"), self._headline(),
            self._summary, download("tables.csv", frame_csv(self.state.summary)),
            sizing_mode="stretch_width")


def create(store: ReadOnlyStore) -> IndexPage:
    return IndexPage(state=IndexState(store))
