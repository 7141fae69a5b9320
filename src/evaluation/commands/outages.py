"""``opeval outages``: interventions at PMs versus customer cuts (e-Intervention lot 1).

``opeval outages [--as-of DATE] [--since DATE] [--format text|json|csv] [--out FILE]
[--anonymise-do] [--limit N]``. JSON keys: contract §3 "outages" (``pms``, ``dos``)
plus ``network``, ``ocs``, ``short_cuts``, ``missing_hf`` (docs/outages.md); CSV is
the per-PM table.
"""
from __future__ import annotations

import os

from .. import config, period
from ..csv_export import to_csv
from ..errors import OpevalError
from ..progress import step_printer
from ._engine import add_engine_options, tables_from_args
from ._output import add_period_options, add_progress_option, emit, pct, period_line, say_warnings


def pseudonym_key(args) -> bytes:
    """The database's pseudonym key (created on first use), or $OPEVAL_PSEUDONYM_KEY (hex)."""
    from ..analyses.outages.pseudonym import KEY_ENV
    env = os.environ.get(KEY_ENV)
    if env:
        try:
            return bytes.fromhex(env)
        except ValueError:
            raise OpevalError(f"${KEY_ENV} must be hexadecimal") from None
    if getattr(args, "lake", None) or getattr(args, "engine", "duckdb") != "duckdb":
        raise OpevalError(f"--anonymise-do on a lake or Spark needs the key in ${KEY_ENV}")
    from .export import database_pseudonym_key
    return database_pseudonym_key(args.db)


def register(sub, common) -> None:
    p = sub.add_parser(
        "outages", parents=[common],
        help="do interventions at PMs cut other customers? per PM, DO and OC",
        description="Correlate intervention windows [HD, HF] with customer cuts by the "
                    "e-Intervention rules (not power cuts, not the DO's own lines, PTO and time "
                    "known, churned lines dropped; no M5 = unknown). See docs/outages.md.")
    add_period_options(p, "the first day with data")
    config.add_config_option(p)
    p.add_argument("--format", choices=("text", "json", "csv", "pdf"), default="text",
                   help="text (default), json (contract keys), csv (the per-PM table) or pdf "
                        "(the printed report with the blacklist, A4; needs --out; with "
                        "--anonymise-do the OC version)")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--anonymise-do", action="store_true",
                   help="replace DO codes by keyed pseudonyms (views meant for OCs)")
    p.add_argument("--limit", type=int, default=1000, metavar="N",
                   help="rows listed for short cuts and interventions without HF (default 1000; "
                        "0 = all); totals are always complete")
    add_progress_option(p)
    add_engine_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..analyses.outages import analyse
    from ..analyses.outages.report import warnings
    if args.limit < 0:
        raise OpevalError("--limit must be 0 or more")
    from . import _pdf
    _pdf.need_out(args)
    step = step_printer(args.progress)
    key = pseudonym_key(args) if args.anonymise_do else None
    step("opening the tables")
    tables = tables_from_args(args)
    tables.bound_memory()
    since, as_of = period.asked(args.since, args.as_of, tables.zone)
    step("correlating interventions and cuts")
    settings = config.for_command(args)
    report = analyse(tables, since=since, as_of=as_of, pseudonym_key=key,
                     config=settings.outages, list_limit=args.limit or None, zone=tables.zone)
    say_warnings(warnings(report.period))
    step("writing the result")
    if args.format == "pdf":
        from ..analyses.blacklist import blacklist
        from ..reports.pdf import outages_pdf
        step("assessing the PMs (blacklist)")
        b = blacklist(tables, since=since, as_of=as_of, config=settings.blacklist,
                      outage_config=settings.outages, zone=tables.zone).to_dict()
        return _pdf.write(args, outages_pdf(report.to_dict(), b, key))
    if args.format == "json":
        text = report.to_json()
    elif args.format == "csv":
        text = to_csv(report.pms).rstrip("\n")
    else:
        text = render_text(report.to_dict())
    return emit(args, text)


def _rr(r: dict) -> str:
    if r.get("rate_ratio_lo") is None:
        return "-"
    hi = r.get("rate_ratio_hi")
    rr = r.get("rate_ratio")
    return (f"{rr:.1f}" if rr is not None else "inf") + \
        f" [{r['rate_ratio_lo']:.1f}, " + (f"{hi:.1f}]" if hi is not None else "inf]")


def render_text(d: dict, top: int = 20) -> str:
    """A readable page; the JSON carries every figure."""
    n = d["network"]
    ex = n["excluded_cuts"]
    out = [f"Interventions and customer cuts, {period_line(d['period'])}",
           (f"  {n['interventions']} intervention(s) at {n['pms']} PM(s) by {n['dos']} DO(s); "
           f"{n['missing_hf']} without HF (no window)"),
           (f"  covered by an M5: {n['covered_interventions']}, impacted: "
           f"{n['impacted_interventions']}, incident rate {pct(n['incident_rate'])} "
           f"(no M5 = unknown, not counted)"),
           (f"  counted cuts: {n['counted_cuts']} ({n['cuts_in_windows']} in windows, "
           f"{n['cuts_out_of_windows']} outside); clients HS in covered interventions: "
           f"{n['clients_hs']}"),
           "  not counted: " + (", ".join(f"{k} {v}" for k, v in sorted(ex.items())) or "none"),
           f"  in/out-of-window cut-rate ratio: {_rr(n)}",
           (f"  OCs using flow 3: {n['ocs_using_flow3']} of {n['ocs']}; short cuts restored the "
           f"same day: {d['short_cuts']['total']}"), ""]
    pms = sorted(d["pms"], key=lambda r: (-(r["incident_rate"] or 0), -r["covered_interventions"],
                                          r["pm_id"]))
    out.append(f"PMs by incident rate (top {min(top, len(pms))} of {len(pms)})")
    out.append(f"  {'PM':<20} {'interv':>6} {'cov':>5} {'imp':>5} {'rate':>7} {'HS':>5} "
               f"{'in-win':>6} {'out':>6}  in/out rate ratio [CI]")
    for r in pms[:top]:
        out.append(f"  {r['pm_id']:<20} {r['interventions']:>6} {r['covered_interventions']:>5} "
                   f"{r['impacted_interventions']:>5} {pct(r['incident_rate']):>7} "
                   f"{r['clients_hs']:>5} {r['cuts_in_windows']:>6} {r['cuts_out_of_windows']:>6}"
                   f"  {_rr(r)}")
    tol = d["config"]["tolerance_s"] / 60
    out += ["", (f"DOs (incident rate; timestamp quality: cuts ≤ {tol:g} min before HD / after "
                 f"HF; HD→M1 delay, late above {d['config']['m1_delay_large_s'] / 60:g} min)")]
    for r in d["dos"]:
        med = r["m1_delay_median_s"]
        out.append(f"  {r['code_do'] or '-':<12} {r['interventions']:>6} interv, rate "
                   f"{pct(r['incident_rate']):>7}, before HD {r['cuts_before_hd']}, after HF "
                   f"{r['cuts_after_hf']}, missing HF {r['missing_hf']}, M1 median "
                   + ("-" if med is None else f"{med:.0f} s")
                   + f", late M1 {r['m1_late']}, M3 before M1 {r['m3_before_m1']}")
    out += ["", "OCs"]
    for r in d["ocs"]:
        out.append(f"  {r['code_oc']:<6} flow 3 {'yes' if r['uses_flow3'] else 'no ':<3} "
                   f"M5 {r['m5_received']} ({r['m5_empty']} empty, {r['m5_late']} late), "
                   f"cuts {r['cuts']} (counted {r['counted_cuts']}, power {r['power_cuts']}, "
                   f"outside own window {r['cuts_outside_own_window']})")
    return "\n".join(out)
