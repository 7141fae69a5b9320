"""The registry of dashboard pages: URL path -> title, summary and factory.

This is the one place a page is registered. ``opeval serve`` serves every
entry, the ``/`` page lists them and every page's navigation links to them.
A factory is named as ``"module:function"`` and imported only when the page
is built; it takes the :class:`~evaluation.views.queries.ReadOnlyStore` and
returns the page's main content (a Panel viewable). To add a page::

    PAGES["/alarms"] = Page("/alarms", "Alarms", "Alarm KPIs, floods, bad actors.",
                            "evaluation.views.alarms_page:create")
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    path: str        # URL path, "/" or "/name"
    title: str       # short title shown in the navigation
    summary: str     # one line: who the page is for and what it shows
    factory: str     # "module:function" building the page content from a ReadOnlyStore
    warm: str | None = None  # "module:function(db_path)" started once when the server starts

    def load_factory(self) -> Callable[..., Any]:
        return _load(self.factory)

    def load_warm(self) -> Callable[..., Any] | None:
        return _load(self.warm) if self.warm else None

    @property
    def slug(self) -> str:
        return self.path.strip("/")


PAGES: dict[str, Page] = {p.path: p for p in (
    Page("/", "Overview", "The pages of this server and what the database holds.",
         "evaluation.views.index_page:create"),
    Page("/data", "Data", "What was loaded, the rows quarantined and why, and the answers "
         "given to e-Intervention messages.", "evaluation.views.data_page:create"),
    Page("/evaluation", "Evaluation", "Risk manager: chapter 6 evaluation of each security system "
         "(findings, classification, disposition, report).", "evaluation.views.evaluation_page:create",
         warm="evaluation.views.evaluation_state:warm"),
    Page("/alarms", "Alarms", "Alarm operator / supervisor: load and floods, bad actors, "
         "chattering and repeats, false alarms, handling times, open alarms ranked, history.",
         "evaluation.views.alarms_page:create", warm="evaluation.views.alarms_state:warm"),
    Page("/outages", "Outages", "Network operator: do interventions at a PM cut other "
         "customers? Funnel plot, PM blacklist with evidence, PM timeline, DO comparison.",
         "evaluation.views.outages_page:create", warm="evaluation.views.outages_state:warm"),
    Page("/alerts", "Alerts", "Everyone, within their role's scope: open alerts with their "
         "evidence, acknowledge or resolve them, their history.",
         "evaluation.views.alerts_page:create"),
)}


def _load(ref: str) -> Callable[..., Any]:
    module, _, func = ref.partition(":")
    return getattr(importlib.import_module(module), func)


def page(path: str) -> Page:
    """The registered page at ``path`` (with or without its leading slash)."""
    key = "/" + path.strip("/")
    if key not in PAGES:
        raise KeyError(f"no dashboard page {key!r}; registered: {', '.join(PAGES)}")
    return PAGES[key]
