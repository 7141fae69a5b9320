"""The chapter 6 evaluation report: one self-contained, printable HTML page per system.

The page carries its CSS inline (screen and print rules), no script, no font,
no image and no link to any external resource, so it can be opened on a closed
network, printed, or filed as one file. With several systems, one document
holds one page per system (each starts on a new printed page), or
:func:`write_reports` writes one file per system into a directory.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import jinja2

from .. import __version__

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("evaluation.reports", "templates"),
    autoescape=jinja2.select_autoescape(("html", "j2", "html.j2")),
    trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
)

STATUS_LABEL = {"conforming": "Conforming", "nonconforming": "Nonconforming",
                "not_applicable": "Not applicable"}
CLASS_LABEL = {"fit": "Fit", "fit_with_remarks": "Fit with remarks", "impaired": "Impaired",
               "unfit": "Unfit", "insufficient_evidence": "Insufficient evidence"}
CYCLE_LABEL = {"overdue": "overdue", "under_warranty": "under warranty", "within_cycle": "within the cycle",
               "not_in_service": "no device in service now"}
DISPOSITION_LABEL = {"none": "No action", "maintain": "Maintain", "repair": "Repair",
                     "partial_replacement": "Partial replacement", "overall_renewal": "Overall renewal"}


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _num(v, fmt="{:.1f}") -> str:
    return "n/a" if v is None else fmt.format(v)


_ENV.filters.update(pct=_pct, num=_num)


def render(evaluation: dict, system_ids: list[str] | None = None) -> str:
    """One HTML document with a page per system of ``evaluation`` (an ``Evaluation.as_dict()``)."""
    systems = [s for s in evaluation["systems"] if system_ids is None or s["system_id"] in system_ids]
    return _ENV.get_template("evaluation.html.j2").render(
        ev=evaluation, systems=systems, status_label=STATUS_LABEL, class_label=CLASS_LABEL,
        cycle_label=CYCLE_LABEL,
        disposition_label=DISPOSITION_LABEL, version=__version__,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


def safe_name(system_id: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]+", "_", system_id) or "system"


def write_reports(evaluation: dict, directory: Path) -> list[Path]:
    """One file ``evaluation-<system_id>.html`` per system in ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for s in evaluation["systems"]:
        path = directory / f"evaluation-{safe_name(s['system_id'])}.html"
        path.write_text(render(evaluation, [s["system_id"]]), encoding="utf-8")
        out.append(path)
    return out


__all__ = ["render", "write_reports"]
