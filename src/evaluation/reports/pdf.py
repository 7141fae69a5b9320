"""The printed reports as PDF: chapter 6 (per system, and a fleet report with a summary
page), alarms, and outages with the blacklist (with an OC version).

**Renderer: WeasyPrint** (HTML and CSS to PDF). It lays out for print what the browser
reports already are — CSS paged media gives A4 pages, running headers, "Page N of M"
(``counter(pages)``), table headers repeated on every page a table crosses
(``thead``), no row cut in two, SVG charts kept as vector graphics — and the chapter 6
report is the existing HTML report (:mod:`.evaluation`) printed, not a second copy of
it. It installs from PyPI (pure-Python dependencies: pydyf, tinycss2, cssselect2,
tinyhtml5, fonttools) plus Pango, which Debian ships (``libpango-1.0-0``,
``libpangoft2-1.0-0``, and ``fonts-dejavu-core`` for the fonts; docs/alerts.md). The
alternatives were weighed: ReportLab and fpdf2 need no system library but
every table, page break and repeated header drawn by hand in Python, and the chapter 6
HTML report written a second time; a headless browser prints HTML well but is a 300 MB
install. Every figure is formatted here from the JSON result of the command, so a PDF
says what ``--format json`` says.

**No network.** Fonts are the system's (DejaVu Sans, found through fontconfig); the
documents name no external resource, and the URL fetcher refuses every URL that is not
a ``data:`` URL, so rendering never reaches the network whatever a text contains.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter

import jinja2

from .. import __version__
from . import charts
from . import evaluation as ev_report

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("evaluation.reports", "templates"),
    autoescape=jinja2.select_autoescape(("html", "j2", "html.j2")),
    trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)

ROWS = 40
"""Rows a long table prints at most (the rest are counted under it, the JSON has them)."""
EVIDENCE_ROWS = 10
"""Impacted interventions printed per blacklist candidate."""


def pct(v) -> str:
    """A share as a percentage with one decimal ("12.5%"), "n/a" when unknown."""
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"


def num(v, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:,.{digits}f}"


def secs(v) -> str:
    if v is None:
        return "n/a"
    return f"{v:.0f} s" if v < 120 else f"{v / 60:.1f} min" if v < 7200 else f"{v / 3600:.1f} h"


def when(v) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM`` (its offset, if any, left out: the period line
    names the zone)."""
    return "-" if not v else str(v)[:16].replace("T", " ")


def _status(v) -> str:
    return "-" if v is None else v


def _cell(v) -> str:
    return pct(v) if isinstance(v, float) and 0 <= v <= 1 else ("-" if v is None else str(v))


_ENV.filters.update(pct=pct, num=num, secs=secs, when=when, status=_status, cell=_cell)

STYLESHEET = "pdf/print.css"


class NetworkRefused(ValueError):
    """A report tried to load something from outside the document."""


def _no_network(url: str, *args, **kwargs):
    """WeasyPrint's URL fetcher: ``data:`` URLs only; anything else is refused."""
    if url.startswith("data:"):
        from weasyprint.urls import default_url_fetcher
        return default_url_fetcher(url, *args, **kwargs)
    raise NetworkRefused(f"the PDF reports load nothing from outside: {url[:80]!r}")


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(html: str) -> bytes:
    """The PDF of an HTML document, laid out with the print stylesheet; the footer names
    the program, its version and when the document was made."""
    import weasyprint
    css_text = _ENV.loader.get_source(_ENV, STYLESHEET)[0]
    made = _css_string(f"opeval {__version__} · generated {_generated()}")
    footer = f"@page {{ @bottom-left {{ content: {made}; }} }}"
    return weasyprint.HTML(string=html, url_fetcher=_no_network, base_url=".").write_pdf(
        stylesheets=[weasyprint.CSS(string=css_text + footer, url_fetcher=_no_network)])


def _generated() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _signoff() -> str:
    return _ENV.get_template("pdf/macros.html.j2").module.signoff()


# ------------------------------------------------------------------ chapter 6

CLASS_ORDER = ("fit", "fit_with_remarks", "impaired", "unfit", "insufficient_evidence")


def evaluation_html(data: dict, system_ids: list[str] | None = None, fleet: bool = True,
                    scope: str | None = None) -> str:
    """The chapter 6 report (:func:`.evaluation.render`) with, for ``fleet``, a summary
    page in front: systems per classification, a chart, one line per system."""
    html = ev_report.render(data, system_ids)
    if not fleet:
        return html
    systems = [s for s in data["systems"] if system_ids is None or s["system_id"] in system_ids]
    counts = Counter(s["classification"] for s in systems)
    classes = [(c, counts[c]) for c in CLASS_ORDER if counts[c]]
    colours = {"fit": charts.OK, "fit_with_remarks": charts.ACCENT, "impaired": charts.BAD,
               "unfit": charts.BAD, "insufficient_evidence": charts.MUTED}
    chart = charts.hbars([(f"{s['system_id']} {ev_report.CLASS_LABEL[s['classification']]}",
                           s["availability"], colours[s["classification"]])
                          for s in systems[:ROWS]],
                         "Availability per system (bar colour: classification)", fmt=pct,
                         limit=data["config"]["availability_target"],
                         limit_label=f"target {pct(data['config']['availability_target'])}")
    summary = _ENV.get_template("pdf/fleet.html.j2").render(
        ev=data, systems=systems, classes=classes, chart=chart, scope=scope,
        overdue=sum(bool(s["maintenance_overdue"]) for s in systems),
        class_label=ev_report.CLASS_LABEL, disposition_label=ev_report.DISPOSITION_LABEL,
        version=__version__, generated=_generated(), signoff=_signoff())
    head, sep, rest = html.partition("<body>")
    if not sep:
        raise ValueError("the chapter 6 report has no <body>")
    return f'{head}<body>{summary}<div class="page-break"></div>{rest}'


def evaluation_pdf(data: dict, system_ids: list[str] | None = None, fleet: bool = True,
                   scope: str | None = None) -> bytes:
    return render(evaluation_html(data, system_ids, fleet, scope))


# ------------------------------------------------------------------ alarms

def alarms_html(r: dict, scope: str | None = None) -> str:
    chat = [d for d in r["definitions"] if d["chattering"]]
    chat.sort(key=lambda d: (-d["chatter_raises"], d["definition"], d["resource_id"]))
    per_day = r["load"]["per_day"]
    chart = charts.columns([(str(d["period"])[5:10], d["alarms"]) for d in per_day],
                           "Alarms per day", every=max(1, len(per_day) // 12)) if per_day else ""
    k = r["kpis"]
    return _ENV.get_template("pdf/alarms.html.j2").render(
        r=r, title="Alarm report", kicker="Alarm handling · ISA-18.2 / EEMUA 191 · VMS alarm guide",
        period=f"alarms raised {k['period_start']} to {k['as_of']}",
        command="opeval alarms --format json", scope=scope, version=__version__,
        generated=_generated(), per_day=chart, chattering=chat[:ROWS],
        chattering_more=max(0, len(chat) - ROWS), floods=r["floods"][:ROWS],
        floods_more=max(0, len(r["floods"]) - ROWS), stale=r["stale"][:ROWS],
        stale_more=max(0, len(r["stale"]) - ROWS), tuning=r["tuning"][:ROWS],
        tuning_more=max(0, len(r["tuning"]) - ROWS),
        initiators=r.get("avalanches", {}).get("initiators", [])[:ROWS],
        suppression=r.get("consequences", {}).get("suppression", [])[:ROWS],
        nuisance=r.get("nuisance_scores", [])[:ROWS])


def alarms_pdf(r: dict, scope: str | None = None) -> bytes:
    """The alarm report ``r`` (:func:`evaluation.analyses.alarms.alarm_report`'s dict, as
    ``opeval alarms --format json`` writes it) printed."""
    return render(alarms_html(json.loads(json.dumps(r, default=str)), scope))


# ------------------------------------------------------------------ outages

def _funnel_chart(o: dict, b: dict) -> str:
    from ..analyses.outages.stats import funnel
    p0 = b["network_rate"]
    cands = {c["pm_id"] for c in b["candidates"]}
    pts = [(r["pm_id"], r["covered_interventions"], r["incident_rate"], r["pm_id"] in cands)
           for r in o["pms"] if r["covered_interventions"]]
    upper = []
    if p0 is not None and pts:
        top = max(n for _p, n, _r, _c in pts)
        ns = sorted({max(1, round(top * i / 60)) for i in range(61)})
        lims, _low, _p = funnel([0] * len(ns), ns, p0, b["config"]["funnel_level"])
        upper = list(zip(ns, map(float, lims)))
    return charts.funnel(pts, p0, upper, "Funnel plot: incident rate per PM against its covered "
                         "interventions, candidates in red")


def outages_html(o: dict, b: dict | None, pseudonym_key: bytes | None = None,
                 scope: str | None = None, tolerance: str = "5 min") -> str:
    """The outages report; with ``pseudonym_key`` (the OC version) every DO code in the
    blacklist evidence becomes its keyed pseudonym, as ``o`` has them already when it was
    made with the key."""
    from ..analyses.outages.pseudonym import pseudonymise
    from ..analyses.outages.quality import timestamp_quality
    if b is not None:
        b = dict(b)
        cands = []
        for c in b["candidates"]:
            c = dict(c)
            c["cuts_by_oc"] = dict(Counter(x["code_oc"] for x in c["evidence"]["cuts"]))
            ivs = [dict(i) for i in c["evidence"]["interventions"]]
            if pseudonym_key is not None:
                for i, p in zip(ivs, pseudonymise([i["code_do"] for i in ivs], pseudonym_key)):
                    i["code_do"] = p
            c["evidence"] = {"interventions": ivs}
            cands.append(c)
        b["candidates"] = cands
    pms = sorted(o["pms"], key=lambda r: (-(r["incident_rate"] or 0), -r["covered_interventions"],
                                          r["pm_id"]))
    dos = [dict(d, quality=timestamp_quality(d)) for d in o["dos"]]
    excluded = o["network"]["excluded_cuts"]
    return _ENV.get_template("pdf/outages.html.j2").render(
        o=o, b=b, title="Interventions and customer cuts"
        + (" (OC version)" if pseudonym_key is not None or o.get("anonymised_do") else ""),
        kicker="FTTH interventions · e-Intervention lot 1",
        period=f"{o['period']['start']} to {o['period']['end']} ({o['period']['time_zone']})",
        command="opeval outages --format json` and `opeval blacklist --format json",
        scope=scope, version=__version__, generated=_generated(), pms=pms[:ROWS],
        pms_more=max(0, len(pms) - ROWS), dos=dos, evidence_rows=EVIDENCE_ROWS,
        funnel=_funnel_chart(o, b) if b is not None else "",
        excluded_total=sum(excluded.values()), tolerance=tolerance)


def outages_pdf(o: dict, b: dict | None, pseudonym_key: bytes | None = None,
                scope: str | None = None) -> bytes:
    return render(outages_html(o, b, pseudonym_key, scope))


def outages_period_pdf(tables, since, as_of, settings, zone: str,
                       pseudonym_key: bytes | None = None, scope: str | None = None) -> bytes:
    """The outages report of a period as ``opeval outages --format pdf`` prints it: the
    correlation and the blacklist with the thresholds of ``settings``
    (:class:`evaluation.config.Settings`); with ``pseudonym_key``, the OC version."""
    from ..analyses.blacklist import blacklist
    from ..analyses.outages import analyse
    o = analyse(tables, since=since, as_of=as_of, pseudonym_key=pseudonym_key,
                config=settings.outages, zone=zone).to_dict()
    b = blacklist(tables, since=since, as_of=as_of, config=settings.blacklist,
                  outage_config=settings.outages, zone=zone).to_dict()
    return outages_pdf(o, b, pseudonym_key, scope)


__all__ = ["alarms_pdf", "evaluation_pdf", "outages_pdf", "outages_period_pdf", "pct", "render"]

