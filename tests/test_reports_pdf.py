"""The PDF reports (WeasyPrint) checked for their text: page count and "Page N of M",
headings, and figures equal to the JSON of the same command on the demo database; the
OC version names no DO code in clear. Each report's first page is rendered to PNG
(pypdfium2, no network) and compared with the preview committed in docs/pdf/; run with
``OPEVAL_UPDATE_PREVIEWS=1`` to rewrite the previews."""
from __future__ import annotations

import io
import json
import os

import pytest

from conftest import ROOT
from evaluation.cli import main
from evaluation.reports.pdf import pct

pytestmark = pytest.mark.slow     # the demo database, four analyses, six PDFs

PREVIEWS = ROOT / "docs" / "pdf"
AS_OF = "2025-07-01"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("pdf")
    db = root / "demo.duckdb"
    assert main(["demo", "--db", str(db), "--out", str(root / "in"), "--scale", "small",
                 "--no-progress"]) == 0
    return root, db


def _both(demo, command: list[str], name: str, pdf_extra=()) -> tuple[dict, bytes]:
    """The command's JSON and its PDF."""
    root, db = demo
    j, p = root / f"{name}.json", root / f"{name}.pdf"
    assert main([*command, "--db", str(db), "--format", "json", "--out", str(j)]) == 0
    assert main([*command, *pdf_extra, "--db", str(db), "--format", "pdf", "--out", str(p)]) == 0
    return json.loads(j.read_text()), p.read_bytes()


def _pages(data: bytes) -> list[str]:
    from pypdf import PdfReader
    return [" ".join((pg.extract_text() or "").split()) for pg in PdfReader(io.BytesIO(data)).pages]


def _numbered(pages: list[str]) -> None:
    """Every page says "Page i of n", n the real page count."""
    for i, text in enumerate(pages, 1):
        assert f"Page {i} of {len(pages)}" in text, i


def _preview(data: bytes, name: str) -> None:
    """Render page 1 at 60 dpi; it is not blank, and has the size of the committed preview
    (written instead when OPEVAL_UPDATE_PREVIEWS=1)."""
    import pypdfium2 as pdfium
    from PIL import Image
    page = pdfium.PdfDocument(data)[0]
    img = page.render(scale=60 / 72).to_pil().convert("RGB")
    assert img.getextrema() != ((255, 255), (255, 255), (255, 255))   # something printed
    path = PREVIEWS / f"{name}.png"
    if os.environ.get("OPEVAL_UPDATE_PREVIEWS") == "1":
        PREVIEWS.mkdir(exist_ok=True)
        img.save(path, optimize=True)
    assert Image.open(path).size == img.size        # A4 at 60 dpi: 496 x 702


def test_alarms_pdf_says_what_the_json_says(demo):
    r, data = _both(demo, ["alarms", "--as-of", AS_OF], "alarms")
    pages = _pages(data)
    _numbered(pages)
    text = " ".join(pages)
    k = r["kpis"]
    for heading in ("Alarm report", "ISA-18.2 / EEMUA 191 figures", "Bad actors", "Chattering",
                    "Floods", "Stale alarms"):
        assert heading in text, heading
    assert (f"{k['alarms']} alarm(s) of {k['systems']} system(s) and {k['definitions']} "
            f"definition(s)") in text
    assert f"False-alarm rate (closed alarms) {pct(k['false_alarm_rate'])}" in text
    assert f"Peak alarms in 10 minutes {k['peak_per_10min']}" in text
    for a in r["bad_actors"][:3]:
        assert f"{a['rank']} {a['definition']} {a['alarms']} {pct(a['share'])}" in text
    # issue 17: the rationalisation, with the JSON's counts
    c = r["consequences"]
    assert "Rationalisation" in text and "Nuisance score" in text
    assert (f"Avalanches: {len(r['avalanches']['episodes'])} episode(s). Consequential pairs: "
            f"{c['pairs_tried']} tried, {c['pairs_tested']} tested, {len(c['suppression'])} "
            f"suppression advice(s).") in text
    for a in r["nuisance_scores"][:3]:
        assert f"{a['rank']} {a['definition']}" in text
    _preview(data, "alarms")


def test_outages_pdf_has_the_funnel_and_blacklist_of_the_json(demo):
    o, data = _both(demo, ["outages", "--as-of", AS_OF], "outages")
    b, _ = _both(demo, ["blacklist", "--as-of", AS_OF], "blacklist")
    pages = _pages(data)
    _numbered(pages)
    text = " ".join(pages)
    n = o["network"]
    for heading in ("Funnel: interventions, coverage, impact", "PM blacklist"):
        assert heading in text
    assert f"Interventions {n['interventions']} at {n['pms']} PM(s)" in text
    assert f"covered by an M5 {n['covered_interventions']}" in text
    assert f"incident rate {pct(n['incident_rate'])}" in text
    assert b["candidates"]
    for c in b["candidates"]:
        assert (f"{c['rank']} {c['pm_id']} {c['covered_interventions']} "
                f"{c['impacted_interventions']} {pct(c['incident_rate'])}") in text
        assert f"Evidence for {c['pm_id']}" in text
    _preview(data, "outages")


def test_outages_oc_version_names_no_do_code(demo):
    """``--anonymise-do``: the title says OC version; no DO code of the JSON appears (the
    evidence and the DO table show keyed pseudonyms ``DO-…``)."""
    o, data = _both(demo, ["outages", "--as-of", AS_OF], "outages_oc",
                    pdf_extra=["--anonymise-do"])
    text = " ".join(_pages(data))
    assert "(OC version)" in text and "DO-" in text
    codes = {d["code_do"] for d in o["dos"]}
    assert codes and not [c for c in codes if c in text]


def test_evaluation_pdf_fleet_page_and_one_section_per_system(demo):
    """The first page is the fleet summary: the count of systems and each system's
    classification as in the JSON; each system has its own section after it."""
    ev, data = _both(demo, ["evaluate", "--as-of", AS_OF], "evaluation")
    pages = _pages(data)
    _numbered(pages)
    first, rest = pages[0], " ".join(pages[1:])
    systems = ev["systems"]
    assert f"Operation evaluation of {len(systems)} system(s)" in first
    assert f"as of {ev['as_of']}" in first
    for s in systems:
        assert s["system_id"] in first and s["system_id"] in rest
    _preview(data, "evaluation")
