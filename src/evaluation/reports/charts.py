"""Charts for the printed reports as SVG: vector graphics that print sharp at any size,
drawn here from the figures (no plotting library, no font or script to fetch). Every
text is escaped; every chart says what it shows in its ``<title>``."""
from __future__ import annotations

import math
from html import escape

INK, MUTED, LINE, BAD, OK, ACCENT = "#1d232a", "#5b6670", "#c9d1d8", "#a12622", "#1e6b3a", "#2b5c8a"


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}mm" height="{height:g}mm" '
            f'viewBox="0 0 {width * 4:g} {height * 4:g}" role="img" class="chart">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _text(x, y, s, size=9, anchor="start", fill=INK, weight="normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}" font-weight="{weight}">{escape(str(s))}</text>')


def hbars(items: list[tuple[str, float, str]], title: str, width: float = 170,
          fmt=lambda v: f"{v:g}", limit: float | None = None, limit_label: str = "") -> str:
    """Horizontal bars: (label, value, colour) per row; ``limit`` draws a dashed line."""
    row, left, right = 22, 260, 80
    w, h = width * 4, max(len(items), 1) * row + 30
    top = max([v for _l, v, _c in items if v is not None] + [limit or 0, 1e-9])
    scale = (w - left - right) / top
    body = []
    for i, (label, v, colour) in enumerate(items):
        y = 20 + i * row
        body.append(_text(left - 8, y + 13, label[:40], anchor="end"))
        if v is None:
            body.append(_text(left + 4, y + 13, "n/a", fill=MUTED))
            continue
        body.append(f'<rect x="{left}" y="{y + 3}" width="{max(v * scale, 0.5):.1f}" '
                    f'height="{row - 8}" fill="{colour}"/>')
        body.append(_text(left + v * scale + 4, y + 13, fmt(v)))
    if limit is not None:
        x = left + limit * scale
        body.append(f'<line x1="{x:.1f}" y1="12" x2="{x:.1f}" y2="{h - 8:.1f}" stroke="{BAD}" '
                    f'stroke-dasharray="4 3"/>')
        body.append(_text(x, 10, limit_label, size=8, anchor="middle", fill=BAD))
    return _svg(width, h / 4, title, body)


def columns(values: list[tuple[str, float]], title: str, width: float = 170, height: float = 45,
            limit: float | None = None, limit_label: str = "", every: int = 1) -> str:
    """Vertical columns (a count per day, per hour); ``every``: label every n-th column."""
    w, h, left, bottom = width * 4, height * 4, 40, 22
    n = max(len(values), 1)
    top = max([v for _l, v in values] + [limit or 0, 1e-9])
    step = (w - left - 6) / n
    scale = (h - bottom - 10) / top
    body = [f'<line x1="{left}" y1="{h - bottom}" x2="{w - 4}" y2="{h - bottom}" stroke="{LINE}"/>',
            _text(left - 4, 14, f"{top:g}", size=8, anchor="end", fill=MUTED),
            _text(left - 4, h - bottom, "0", size=8, anchor="end", fill=MUTED)]
    for i, (label, v) in enumerate(values):
        x = left + i * step
        body.append(f'<rect x="{x + step * 0.1:.2f}" y="{h - bottom - v * scale:.2f}" '
                    f'width="{max(step * 0.8, 0.4):.2f}" height="{v * scale:.2f}" fill="{ACCENT}"/>')
        if i % every == 0:
            body.append(_text(x + step / 2, h - 6, label, size=7, anchor="middle", fill=MUTED))
    if limit is not None:
        y = h - bottom - limit * scale
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - 4}" y2="{y:.1f}" stroke="{BAD}" '
                    f'stroke-dasharray="4 3"/>')
        body.append(_text(w - 6, y - 3, limit_label, size=8, anchor="end", fill=BAD))
    return _svg(width, height, title, body)


def funnel(points: list[tuple[str, int, float, bool]], network_rate: float | None,
           upper: list[tuple[int, float]], title: str, width: float = 170,
           height: float = 80) -> str:
    """A funnel plot: each PM at (covered interventions, incident rate), candidates in red,
    the network rate and the funnel's upper limit (``upper``: (n, limit) pairs)."""
    w, h, left, bottom = width * 4, height * 4, 46, 30
    xs = [n for _p, n, _r, _c in points] + [n for n, _l in upper] + [1]
    xmax = max(xs)
    ymax = max([r for _p, _n, r, _c in points if r is not None] + [lim for _n, lim in upper]
               + [network_rate or 0, 0.05])
    ymax = min(1.0, math.ceil(ymax * 10) / 10)

    def X(n):
        return left + (w - left - 10) * (n / xmax)

    def Y(r):
        return h - bottom - (h - bottom - 10) * (min(r, ymax) / ymax)

    body = [f'<line x1="{left}" y1="{h - bottom}" x2="{w - 6}" y2="{h - bottom}" stroke="{LINE}"/>',
            f'<line x1="{left}" y1="10" x2="{left}" y2="{h - bottom}" stroke="{LINE}"/>',
            _text(left - 4, Y(ymax) + 4, f"{ymax:.0%}", size=8, anchor="end", fill=MUTED),
            _text(left - 4, h - bottom, "0%", size=8, anchor="end", fill=MUTED),
            _text(w - 8, h - 8, f"covered interventions (max {xmax})", size=8, anchor="end",
                  fill=MUTED),
            _text(left + 4, 20, "incident rate", size=8, fill=MUTED)]
    if network_rate is not None:
        y = Y(network_rate)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - 6}" y2="{y:.1f}" stroke="{MUTED}"/>')
        body.append(_text(w - 8, y - 3, f"network {network_rate:.1%}", size=8, anchor="end",
                          fill=MUTED))
    if upper:
        path = " ".join(f"{'M' if i == 0 else 'L'}{X(n):.1f},{Y(lim):.1f}"
                        for i, (n, lim) in enumerate(sorted(upper)))
        body.append(f'<path d="{path}" fill="none" stroke="{BAD}" stroke-dasharray="4 3"/>')
    for pm, n, r, cand in points:
        if r is None:
            continue
        body.append(f'<circle cx="{X(n):.1f}" cy="{Y(r):.1f}" r="{4 if cand else 2.5}" '
                    f'fill="{BAD if cand else ACCENT}" fill-opacity="{1 if cand else 0.55}">'
                    f"<title>{escape(pm)}</title></circle>")
    return _svg(width, height, title, body)
