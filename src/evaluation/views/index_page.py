"""The ``/`` page: what needs attention today, links to every registered page and what the
database holds."""
from __future__ import annotations

import html

import panel as pn
import param

from .. import localtime
from .display import MISSING
from .index_state import Attention, Card, IndexState
from .layout import download, empty, frame_csv, table
from .queries import ReadOnlyStore

EMPTY_DB = ("**The database is empty.** Run `opeval demo` to build the demo database, or "
            "`opeval ingest KIND FILE…` to load your own files, then reload this page.")


NEVER_CHECKED = ("The alert rules have never run on this database, so nothing here says what "
                 "needs attention: every `opeval ingest` runs them, or run `opeval alerts "
                 "run`; then reload this page.")
SHOWN = 5
"""Alerts listed on a card; the others are counted with a link to ``/alerts``."""
_CSS = """
.opeval-attention { display: flex; flex-wrap: wrap; gap: 8px; }
.opeval-attention .card { flex: 1 1 220px; background: #f4f7fb; border-radius: 4px;
  padding: 6px 10px; }
.opeval-attention .card.due { border-left: 4px solid #d9534f; }
.opeval-attention .n { font-size: 1.4rem; font-weight: 600; color: #1f4e79; }
.opeval-attention ul { margin: .25rem 0; padding-left: 1.1rem; }
.opeval-attention .quiet { color: #555; font-size: .9rem; }
"""


NOTES = {
    (True, False): '<p class="quiet">none open</p>',
    (True, True): "",
    (False, False): '<p class="quiet">not checked at the last run (<code>opeval alerts run'
                    '</code> says why)</p>',
    (False, True): '<p class="quiet">not checked at the last run (<code>opeval alerts run'
                   '</code> says why): these come from an earlier run</p>',
}
"""The line a card with data ends with, by (the last run checked its rule, it lists
alerts): an unchecked rule's card says so, since its alerts (or their absence) are not
of that run."""


def _card(c: Card) -> str:
    """One rule's card: its count, its first :data:`SHOWN` alerts and its :data:`NOTES`
    line, or "no data to judge" when the store holds nothing the rule reads."""
    head = (f'<div class="card{" due" if c.alerts else ""}" data-rule="{c.rule}">'
            f'<a href=".{c.page}"><strong>{html.escape(c.title)}</strong></a>')
    if not c.data:
        return head + f'<p class="n">{MISSING}</p><p class="quiet">no data to judge</p></div>'
    note = NOTES[c.checked, bool(c.alerts)]
    if not c.alerts:
        return head + f'<p class="n">{"0" if c.checked else "?"}</p>{note}</div>'
    items = "".join(
        f'<li><a href=".{html.escape(a.link)}">{html.escape(a.title)}</a>'
        + (f' <span class="quiet">(acknowledged by {html.escape(a.acknowledged_by)})</span>'
           if a.acknowledged_by else "") + "</li>" for a in c.alerts[:SHOWN])
    more = len(c.alerts) - SHOWN
    tail = (f'<p class="quiet">and {more} more on <a href="./alerts">Alerts</a></p>'
            if more > 0 else "")
    return head + f'<p class="n">{len(c.alerts)}</p><ul>{items}</ul>{tail}{note}</div>'


def attention_html(a: Attention) -> str:
    """The "needs attention" cards of ``a``, dated by the run they come from."""
    when = localtime.iso(a.check.at, a.zone)
    others = (f' Other open alerts: <a href="./alerts">{a.others}</a>.' if a.others else "")
    return (f'<p class="opeval-period">Open and acknowledged alerts as of the last run of the '
            f'alert rules, {when} ({html.escape(a.zone)}).{others}</p>'
            f'<div class="opeval-attention">{"".join(map(_card, a.cards))}</div>')


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

    def _attention(self):
        a = self.state.attention()
        if a.check is None:
            return empty(NEVER_CHECKED)
        return pn.pane.HTML(attention_html(a), sizing_mode="stretch_width", stylesheets=[_CSS],
                            css_classes=["opeval-attention-cards"])

    def __panel__(self):
        return pn.Column(
            pn.pane.HTML("<h3>Needs attention</h3>"), self._attention(),
            pn.pane.HTML("<h3>Pages</h3>"), self._links(),
            pn.pane.HTML("<h3>What the database holds</h3>"), self._headline(),
            self._summary, download("tables.csv", frame_csv(self.state.summary)),
            sizing_mode="stretch_width")


def create(store: ReadOnlyStore) -> IndexPage:
    return IndexPage(state=IndexState(store))
