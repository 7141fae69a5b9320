"""``opeval blacklist``: PMs whose incident rate is credibly above the network's.

``opeval blacklist [--as-of DATE] [--since DATE] [--min-covered N] [--format text|json|csv]
[--out FILE]`` plus the other thresholds of
:class:`evaluation.analyses.blacklist.BlacklistConfig`. JSON keys: contract §3
"blacklist" (``candidates`` with ``pm_id``, ``incident_rate``, ``interventions``,
``score``, ``evidence``), most urgent first; CSV is the candidates table.
"""
from __future__ import annotations

from .. import config, period
from ..csv_export import to_csv
from ..errors import OpevalError
from ..progress import step_printer
from ._engine import add_engine_options, tables_from_args
from ._output import add_period_options, add_progress_option, emit, pct, period_line, say_warnings


def register(sub, common) -> None:
    from ..analyses.blacklist import BlacklistConfig
    d = BlacklistConfig()
    p = sub.add_parser(
        "blacklist", parents=[common],
        help="PMs whose incident rate is credibly too high (e-Intervention §6 evolution)",
        description="Funnel-plot limits and beta-binomial shrinkage on the incident rate "
                    "(impacted / covered interventions) of each PM; see docs/outages.md. "
                    "Thresholds come from the settings file ([blacklist]); the options "
                    "below override it.")
    add_period_options(p, "the first day with data")
    p.add_argument("--min-covered", type=int, default=None, metavar="N",
                   help=f"covered interventions a PM needs (default: the settings file, else {d.min_covered})")
    p.add_argument("--funnel-level", type=float, default=None, metavar="P",
                   help=f"funnel limit level (default: the settings file, else {d.funnel_level})")
    p.add_argument("--min-posterior", type=float, default=None, metavar="P",
                   help=f"posterior probability above the network rate (default: the "
                        f"settings file, else {d.min_posterior})")
    p.add_argument("--recent-days", type=int, default=None, metavar="D",
                   help=f"recent period of the trend in days (default: the settings file, else {d.recent_days})")
    p.add_argument("--keep-fragile", action="store_true", default=None,
                   help="keep PMs whose cuts are not concentrated in windows among the "
                        "candidates (exclude_fragile = false)")
    p.add_argument("--max-evidence", type=int, default=None, metavar="N",
                   help="list at most N interventions and N cuts per candidate")
    p.add_argument("--format", choices=("text", "json", "csv", "pdf"), default="text",
                   help="text, json, csv, or pdf (the outages report with these candidates, "
                        "A4; needs --out)")
    p.add_argument("--anonymise-do", action="store_true",
                   help="with --format pdf: DO codes as keyed pseudonyms (the OC version)")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    config.add_config_option(p)
    add_progress_option(p)
    add_engine_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..analyses.blacklist import blacklist
    from ..analyses.outages.report import warnings
    settings = config.for_command(args)
    cfg = config.override(
        settings.blacklist, min_covered=("--min-covered", args.min_covered),
        funnel_level=("--funnel-level", args.funnel_level),
        min_posterior=("--min-posterior", args.min_posterior),
        recent_days=("--recent-days", args.recent_days),
        exclude_fragile=("--keep-fragile", False if args.keep_fragile else None),
        max_evidence=("--max-evidence", args.max_evidence))
    from . import _pdf
    _pdf.need_out(args)
    if args.anonymise_do and args.format != "pdf":
        raise OpevalError("--anonymise-do applies to --format pdf")
    step = step_printer(args.progress)
    from .outages import pseudonym_key
    key = pseudonym_key(args) if args.anonymise_do else None   # before the tables are open
    step("opening the tables")
    tables = tables_from_args(args)
    tables.bound_memory()
    since, as_of = period.asked(args.since, args.as_of, tables.zone)
    step("assessing the PMs")
    result = blacklist(tables, since=since, as_of=as_of, config=cfg,
                       outage_config=settings.outages, zone=tables.zone)
    say_warnings(warnings(result.period))
    if args.format == "pdf":
        from ..analyses.outages import analyse
        from ..reports.pdf import outages_pdf
        o = analyse(tables, since=since, as_of=as_of, config=settings.outages, pseudonym_key=key,
                    zone=tables.zone)
        return _pdf.write(args, outages_pdf(o.to_dict(), result.to_dict(), key))
    if args.format == "json":
        return emit(args, result.to_json())
    if args.format == "csv":
        return emit(args, to_csv(result.candidates).rstrip("\n"))
    return emit(args, render_text(result.to_dict()))


def render_text(d: dict) -> str:
    c = d["config"]
    out = [f"PM blacklist, {period_line(d['period'])}",
           (f"  network incident rate {pct(d['network_rate'])} over {d['pms_assessed']} PM(s); "
           f"rule: ≥ {c['min_covered']} covered interventions, above the "
           f"{c['funnel_level']:.1%} binomial funnel, P(rate > network) ≥ {c['min_posterior']:.0%}"),
           ("  baseline (cuts outside windows, from line supervision) known: "
            + ("at some PMs; attribution decided per PM" if d["baseline_available"]
               else "nowhere; attribution unknown")),
           ""]
    if not d["candidates"]:
        out.append("No candidate.")
    else:
        out.append(f"{len(d['candidates'])} candidate(s), most urgent first")
        out.append(f"  {'#':>3} {'PM':<20} {'cov':>5} {'imp':>5} {'rate':>7} {'shrunk':>7} "
                   f"{'score':>7}  trend      attribution")
        for r in d["candidates"]:
            out.append(f"  {r['rank']:>3} {r['pm_id']:<20} {r['covered_interventions']:>5} "
                       f"{r['impacted_interventions']:>5} {pct(r['incident_rate']):>7} "
                       f"{pct(r['shrunken_rate']):>7} {r['score']:>7.2f}  "
                       f"{r['trend']['direction']:<10} {r['attribution']}")
            ev = r["evidence"]
            refs = ", ".join(i["ref_interv_oi"] for i in ev["interventions"][:5])
            more = len(ev["interventions"]) - 5
            out.append(f"      evidence: {len(ev['interventions'])} impacted intervention(s) "
                       f"({refs}{', …' if more > 0 else ''}), {len(ev['cuts'])} cut(s)")
    if d["fragile"]:
        out += ["", (f"{len(d['fragile'])} PM(s) above the funnel but fragile anyway "
                    "(cuts not concentrated in intervention windows):")]
        for r in d["fragile"]:
            out.append(f"  {r['pm_id']:<20} rate {pct(r['incident_rate'])}, in/out ratio "
                       f"{r['rate_ratio'] if r['rate_ratio'] is not None else '-'}")
    return "\n".join(out)
