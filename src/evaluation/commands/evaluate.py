"""``opeval evaluate``: chapter 6 operation evaluation of the security systems.

``--format json`` prints the contract's keys (docs/evaluation.md);
``--format html`` writes a self-contained printable report: with ``--out
FILE`` one document holding one page per system; with ``--out DIR/`` (an
existing directory or a path ending in ``/``) one file per system
``evaluation-<system_id>.html``; without ``--out`` the document goes to stdout.
``--format pdf --out FILE`` prints the same report as a PDF with a fleet summary page
in front; ``--out DIR/`` writes one PDF per system ``evaluation-<system_id>.pdf``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from .. import config
from ..errors import OpevalError
from ..progress import step_printer
from ._engine import add_engine_options, tables_from_args
from ._output import add_progress_option, period_line, positive_int, say_warnings


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


_days = positive_int("number of days")


def register(sub, common) -> None:
    from ..analyses.efficiency.config import DEFAULT
    p = sub.add_parser(
        "evaluate", parents=[common], help="chapter 6 operation evaluation of the security systems",
        description="Evaluate each security system as of a date (DB33/T 830-2011 chapter 6): "
                    "performance, timeliness (5.1.1), periodicity and service life (5.1.2), device "
                    "effectiveness, potential threats, expected failures; findings as an audit, "
                    "classification, disposition (6.3) and validity (6.1).",
        epilog="Examples: opeval evaluate --format json; opeval evaluate --system S1 --format html "
               "--out s1.html; opeval evaluate --format html --out reports/ (one file per system)")
    p.add_argument("--system", action="append", dest="systems", metavar="ID",
                   help="only this system (repeatable; default: every system)")
    p.add_argument("--as-of", type=_date, metavar="DATE",
                   help="evaluation date YYYY-MM-DD: through the end of that day in the "
                        "database's time zone (default: the last day with a fault, "
                        "maintenance or alarm record)")
    p.add_argument("--window", type=_days, default=None, metavar="DAYS",
                   help="look-back window of DAYS days ending with the as-of date (default: "
                        f"window_days of the settings file, else {DEFAULT.window_days})")
    config.add_config_option(p)
    p.add_argument("--format", choices=("text", "json", "html", "pdf"), default="text",
                   help="text, json, html, or pdf (A4, a fleet summary page first; needs --out)")
    p.add_argument("--out", metavar="FILE",
                   help="write to FILE instead of stdout (html, pdf: a directory gives one file "
                        "per system)")
    add_progress_option(p)
    add_engine_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from . import _pdf
    _pdf.need_out(args)
    step = step_printer(args.progress)
    step("opening the store")
    cfg = config.override(config.for_command(args).evaluation,
                          window_days=("--window", args.window))
    tables = tables_from_args(args)
    if args.systems:
        known = set(tables["systems"].filter(tables["systems"].system_id.isin(args.systems))
                    .system_id.to_pyarrow().to_pylist())
        missing = [s for s in args.systems if s not in known]
        if missing:
            raise OpevalError(f"unknown system(s): {', '.join(missing)}")
    step("evaluating")
    from ..analyses.efficiency import evaluate as run_evaluation  # imported when run: the
    from ..reports import evaluation as report  # CLI starts faster
    try:
        ev = run_evaluation(tables, as_of=args.as_of, system_ids=args.systems, config=cfg,
                             progress=step)
    except ValueError as exc:
        raise OpevalError(str(exc)) from None
    say_warnings(ev.warnings)
    data = ev.as_dict()
    step(f"{len(data['systems'])} systems evaluated; writing {args.format}")
    if args.format == "pdf":
        from ..reports import pdf
        if args.out.endswith(("/", "\\")) or Path(args.out).is_dir():
            Path(args.out).mkdir(parents=True, exist_ok=True)
            for s in data["systems"]:
                path = Path(args.out) / f"evaluation-{report.safe_name(s['system_id'])}.pdf"
                path.write_bytes(pdf.evaluation_pdf(data, [s["system_id"]], fleet=False))
            print(f"{len(data['systems'])} report(s) written to {args.out}")
            return 0
        return _pdf.write(args, pdf.evaluation_pdf(data))
    if args.format == "html" and args.out and (args.out.endswith(("/", "\\")) or Path(args.out).is_dir()):
        paths = report.write_reports(data, Path(args.out))
        print(f"{len(paths)} report(s) written to {args.out}")
        return 0
    if args.format == "json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "html":
        text = report.render(data)
    else:
        text = render_text(data)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _pct(v) -> str:
    return "   n/a" if v is None else f"{100 * v:5.1f}%"


def _share(v) -> str:
    return "n/a" if v is None else f"{100 * v:.0f}"


def _clocks(s: dict, step: str) -> str:
    """'occurrence/report' shares of one 5.1.1 limit, in whole percent."""
    return f"{_share(s['sla'][step])}/{_share(s['sla_from_report'][step])}"


def render_text(data: dict) -> str:
    """A terminal summary: one line per system, then its nonconforming findings."""
    lines = [(f"Operation evaluation (DB33/T 830-2011 ch. 6) as of {data['as_of']}, window "
              f"{data['window']['start']} .. {data['window']['end']} ({data['window']['days']} days)"),
             period_line(data["period"]),
             ("5.1.1 resp/arr/rep: % within the limit from the fault's occurrence (the standard's clock, "
              "used by the findings) / from the report"), ""]
    head = (f"{'system':<12} {'class':<21} {'disposition':<20} {'avail':>6} {'MTBF h':>8} {'MTTR h':>7} "
            f"{'resp %':>9} {'arr %':>9} {'rep %':>9} {'overdue':>7} {'past life':>9} {'repeat':>6} valid until")
    lines += [head, "-" * len(head)]
    for s in data["systems"]:
        mtbf = "n/a" if s["mtbf_h"] is None else f"{s['mtbf_h']:.0f}"
        mttr = "n/a" if s["mttr_h"] is None else f"{s['mttr_h']:.1f}"
        lines.append(
            f"{s['system_id']:<12} {s['classification']:<21} {s['disposition']:<20} {_pct(s['availability'])} "
            f"{mtbf:>8} {mttr:>7} {_clocks(s, 'response'):>9} {_clocks(s, 'arrival'):>9} "
            f"{_clocks(s, 'repair'):>9} {('yes' if s['maintenance_overdue'] else 'no'):>7} "
            f"{len(s['devices_past_service_life']):>9} {len(s['repeat_fault_devices']):>6} "
            f"{s['valid_until'] or 'none'}")
    for s in data["systems"]:
        bad = [f for f in s["findings"] if f["status"] == "nonconforming"]
        reason = s["observation"]["reason"]
        if not bad and not reason:
            continue
        lines += ["", f"{s['system_id']} ({s['name'] or '-'}): {len(bad)} nonconforming"
                  + (f"; disposition {s['disposition']}: {'; '.join(s['disposition_reasons'])}"
                     if s["disposition_reasons"] else "")]
        if reason:
            lines.append(f"  insufficient evidence to classify (6.1): {reason}; no validity date")
        for f in bad:
            lines.append(f"  [{f['severity']:<8}] {f['clause']:<9} {f['requirement']}")
            lines.append(f"             evidence: {f['evidence']}")
            lines.append(f"             action:   {f['corrective_action']}")
    n = len(data["systems"])
    counts = {}
    for s in data["systems"]:
        counts[s["disposition"]] = counts.get(s["disposition"], 0) + 1
    lines += ["", f"{n} system(s): " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))]
    return "\n".join(lines) + "\n"


__all__ = ["register", "render_text", "run"]
