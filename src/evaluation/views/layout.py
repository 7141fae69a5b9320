"""Shared look of every page: offline resources, template with navigation, small widgets.

Closed networks: operators often browse with no internet access, so every
script, style sheet and font must come from the opeval server itself.
:func:`configure_offline` makes it so for Panel 1.x / Bokeh 3.x:

* Bokeh's and Panel's JavaScript and CSS are served by the server under
  ``/static`` (resource mode ``server``, the default of a Bokeh server; forced
  here in case ``BOKEH_RESOURCES=cdn`` is set in the environment).
* Panel's third-party bundles (Tabulator, Bootstrap, …) come from its
  ``panel/dist/bundled`` folder, served at ``/static/extensions/panel/bundled``.
* No web fonts: the Bootstrap template uses the system font stack, whereas
  the Fast templates pull Open Sans from Google Fonts — not used here.
* No Tabler icons: Bokeh fetches their web font from a CDN the first time an
  icon is drawn, so no button or widget here is given an ``icon``.

``tests/browser`` proves it: it records every request a page makes and fails
on any that leaves the server.
"""
from __future__ import annotations

import functools
import html
import os
from collections.abc import Callable

import pandas as pd
import panel as pn
import param

from ..csv_export import to_csv
from .display import dress
from .pages import PAGES

ACCENT = "#1f4e79"
PAGE_SIZE = 20

_CSS = """
.opeval-nav a { display: block; padding: .35rem .5rem; border-radius: .25rem;
                color: #1f4e79; text-decoration: none; }
.opeval-nav a:hover { background: #e8eef5; }
.opeval-nav a.current { background: #1f4e79; color: white; font-weight: 600; }
.opeval-nav .summary { display: block; font-size: .8rem; color: #555; margin: 0 .5rem .6rem; }
.opeval-empty { padding: .75rem 1rem; background: #fff8e1; border-left: 4px solid #f0ad4e;
                border-radius: .25rem; }
.opeval-error { padding: .75rem 1rem; background: #fdecea; border-left: 4px solid #d9534f;
                border-radius: .25rem; }
.opeval-notice { padding: .5rem 1rem; background: #eef4fb; border-left: 4px solid #1f4e79;
                 border-radius: .25rem; font-size: .9rem; }
.opeval-period { font-size: .85rem; color: #444; }
.opeval-warning { padding: .35rem .75rem; margin-top: .25rem; background: #fff8e1;
                  border-left: 4px solid #f0ad4e; border-radius: .25rem; font-size: .85rem; }
"""


def configure_offline() -> None:
    """Serve every resource from this server; call before any page is built."""
    os.environ["BOKEH_RESOURCES"] = "server"
    pn.config.inline = False
    pn.extension("tabulator", raw_css=[_CSS], notifications=False,
                 loading_indicator=True)
    _local_fallback_for_detached_models()


def _local_fallback_for_detached_models() -> None:
    """Keep style sheets on this server when Panel updates a model out of the page.

    Panel 1.9 takes the address of its style sheets from the page a model is in;
    a model out of the page (a pane of a hidden dynamic tab, updated by a filter
    change) has none, and Panel then points the style sheets it shares with the
    whole page (``loading.css``) at its CDN (``panel.reactive``, fallback of
    ``Reactive._update_model``): the browser fetches it from the internet, or
    fails on a closed network. The fallback is made this server's own path.
    """
    import panel.reactive
    from panel.io.resources import LOCAL_DIST
    panel.reactive.CDN_DIST = LOCAL_DIST


@functools.cache
def bokeh_plots() -> None:
    """HoloViews on Bokeh (loaded once per process: a quarter of a second each time),
    drawn on a plain canvas rather than WebGL (HoloViews' default).

    The pages draw at most a few thousand glyphs (big sets are aggregated in
    the engine), where WebGL gains nothing, and a browser without a GPU (a
    headless one, many operator workstations) emulates it in software: a
    profile of the /outages funnel showed ~200 ms of canvas copies per update.
    """
    import holoviews as hv
    hv.extension("bokeh", logo=False)
    hv.renderer("bokeh").webgl = False


def nav(current: str) -> pn.pane.HTML:
    """Links to every registered page; the current one is marked."""
    from ..auth.roles import visible_pages  # the pages the current principal may open

    items = []
    for page in visible_pages():
        cls = ' class="current"' if page.path == current else ""
        items.append(f'<a href="./{page.slug}"{cls} data-path="{page.path}">'
                     f'{html.escape(page.title)}</a>'
                     f'<span class="summary">{html.escape(page.summary)}</span>')
    return pn.pane.HTML('<nav class="opeval-nav">' + "".join(items) + "</nav>",
                        sizing_mode="stretch_width")


def page_template(current: str, content, db_name: str, notice: str | None = None
                  ) -> pn.template.BootstrapTemplate:
    """The page at ``current`` inside the common template (title, navigation, the
    database's file name), with ``notice`` (plain text, e.g. that a load is running)
    above the content."""
    page = PAGES[current]
    main = [content]
    if notice:
        main.insert(0, pn.pane.HTML(f'<div class="opeval-notice">{html.escape(notice)}</div>',
                                    sizing_mode="stretch_width"))
    return pn.template.BootstrapTemplate(
        title=f"opeval · {page.title}",
        header_background=ACCENT,
        sidebar=[nav(current), pn.pane.HTML(
            f'<small>Database: <code>{html.escape(db_name)}</code></small>'), _signed_in()],
        main=main,
        sidebar_width=260,
    )


def _signed_in() -> pn.pane.HTML:
    """Who is signed in and a log-out link (nothing when the server has no --auth)."""
    from ..auth.roles import current_principal

    who = current_principal()
    if who.name == "local":
        return pn.pane.HTML("")
    return pn.pane.HTML(f'<small class="opeval-user">Signed in as <b>{html.escape(who.name)}</b> '
                        f'({html.escape(who.role)}) · <a href="./logout">log out</a></small>')


def empty(message: str) -> pn.pane.Markdown:
    """An empty state that says what to do (a Markdown sentence)."""
    return pn.pane.Markdown(message, css_classes=["opeval-empty"], sizing_mode="stretch_width")


def error(message: str) -> pn.pane.Markdown:
    return pn.pane.Markdown(message, css_classes=["opeval-error"], sizing_mode="stretch_width")


# Identifiers shown as they are (no thousands separator): line 1,067 reads as a number.
PLAIN_COLUMNS = ("load_id", "file_index", "line", "code_reponse")


def table(frame: pd.DataFrame, **kw) -> pn.widgets.Tabulator:
    """A read-only Tabulator with opeval's defaults (no index, fitted columns), its headers
    and cells in words (:func:`.display.dress`); ``value`` keeps the machine names."""
    formatters = {c: {"type": "plaintext"} for c in PLAIN_COLUMNS}
    formatters.update(kw.pop("formatters", {}))
    opts = {"show_index": False, "disabled": True, "layout": "fit_data_table",
            "sizing_mode": "stretch_width", "theme": "bootstrap5"}
    opts.update(kw)
    return dress(pn.widgets.Tabulator(frame, **opts), formatters)


def download(filename: str, make_csv: Callable[[], bytes], label: str = "Download CSV"
             ) -> pn.widgets.FileDownload:
    """A CSV download whose content is built when clicked (never embedded in the page)."""
    import io
    return pn.widgets.FileDownload(callback=lambda: io.BytesIO(make_csv()), filename=filename,
                                   label=label, color="light", embed=False, width=160,
                                   )


def pdf_download(make_pdf: Callable[[], bytes], filename: str, css: str
                 ) -> pn.widgets.FileDownload:
    """A "Download PDF report" button: the file (:mod:`evaluation.reports.pdf`, the one the
    CLI's ``--format pdf`` writes) is printed when clicked, never embedded in the page."""
    import io
    return pn.widgets.FileDownload(callback=lambda: io.BytesIO(make_pdf()), filename=filename,
                                   label="Download PDF report", color="light", embed=False,
                                   width=200, css_classes=[css])


def pdf_name(kind: str, period: dict, suffix: str = "") -> str:
    """``kind-FIRSTDAY_LASTDAY[suffix].pdf`` from a result's ``period`` (its local days)."""
    return f"{kind}-{period['first_day']}_{period['last_day']}{suffix}.pdf"


def frame_csv(frame_fn: Callable[[], pd.DataFrame]) -> Callable[[], bytes]:
    """A CSV maker for a small table already held as a DataFrame (text cells neutralised
    against formula injection, :mod:`evaluation.csv_export`)."""
    return lambda: to_csv(frame_fn()).encode("utf-8")


class Pager(pn.viewable.Viewer):
    """Previous / next buttons and 'page i of n (N rows)' for a page parameter of a state.

    The rows themselves are fetched by the state one page at a time (SQL LIMIT/OFFSET).
    """

    state = param.Parameter()
    page_param = param.String()

    def __init__(self, total: Callable[[], int], pages: Callable[[], int], **params):
        super().__init__(**params)
        self._total, self._pages = total, pages
        self._prev = pn.widgets.Button(label="‹ Previous", width=110)
        self._next = pn.widgets.Button(label="Next ›", width=110)
        self._label = pn.pane.HTML("", sizing_mode="stretch_width",
                                   styles={"padding-top": "6px"})
        self._prev.on_click(lambda _e: self._step(-1))
        self._next.on_click(lambda _e: self._step(+1))
        self.refresh()

    def _step(self, delta: int) -> None:
        current = getattr(self.state, self.page_param)
        target = min(max(1, current + delta), self._pages())
        if target != current:
            setattr(self.state, self.page_param, target)

    def refresh(self) -> None:
        total, pages = self._total(), self._pages()
        page = getattr(self.state, self.page_param)
        self._label.object = (f'<span class="opeval-pager" data-page="{self.page_param}">'
                              f'page {min(page, pages)} of {pages}'
                              f' ({total} row{"s" if total != 1 else ""})</span>')
        self._prev.disabled = page <= 1
        self._next.disabled = page >= pages

    def __panel__(self):
        return pn.Row(self._prev, self._next, self._label, sizing_mode="stretch_width")
