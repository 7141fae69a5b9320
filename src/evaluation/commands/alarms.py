"""``opeval alarms``: alarm KPIs, nuisance alarms, life cycle, false alarms, tuning advice.

``opeval alarms [--as-of DATE] [--since DATE] [--system ID] [--format text|json]``
plus ``--observed-until DATE`` (declare that every system's log ran until then;
by default each system is observed from its first to its last record),
``--repeat-window S``, ``--history DEFINITION [--resource ID]`` (the guide's
history review of one alarm), ``--fit-model`` (train, evaluate on a later period
and save the false-alarm model under ``--model-dir``) and ``--model PATH`` (score
the open alarms with a saved model). JSON keys: contract §3 "alarms" and
docs/alarms.md.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from .. import config, period
from ..errors import OpevalError
from ..progress import step_printer
from ._output import add_period_options, add_progress_option, emit, pct, period_line, say_warnings

ONE_US = dt.timedelta(microseconds=1)


def last_instant(value, zone: str) -> dt.datetime | None:
    """The last instant an ``--as-of`` includes: the end of the period it gives
    (:func:`evaluation.period.end_of`, excluded) less one microsecond."""
    end = period.end_of(value, zone)
    return None if end is None else end - ONE_US


def observed_until(value, zone: str) -> dt.datetime | None:
    """The last instant ``--observed-until`` declares observed: a date's last microsecond
    (the end of that local day), a time itself."""
    v = period.when(value, zone)
    return v if v is None or isinstance(v, dt.datetime) else last_instant(v, zone)


def register(sub, common) -> None:
    from ..analyses.alarms.rules import AlarmRules
    p = sub.add_parser(
        "alarms", parents=[common], help="alarm KPIs: load, floods, chattering, repeats, "
        "stale alarms, bad actors, handling, false alarms, tuning advice",
        description="Alarm analytics against the VMS alarm guide and ISA-18.2 / EEMUA 191 "
                    "(see docs/alarms.md).")
    add_period_options(p, "the first raise")
    p.add_argument("--system", metavar="ID", help="only this system (for process logs: the case)")
    p.add_argument("--observed-until", metavar="DATE|TIME",
                   help="declare that every system's log ran until this date/time (a date "
                        "means the end of that day in the database's time zone; without "
                        "--as-of the analysis runs as of it when it is "
                        "later than the data; default: each system is observed from its first "
                        "to its last record, so a log that ended early is not charged for the "
                        "time after it)")
    p.add_argument("--format", choices=("text", "json", "pdf"), default="text",
                   help="text, json, or pdf (the printed report, A4; needs --out)")
    p.add_argument("--repeat-window", type=float, metavar="S", default=None,
                   help="a raise of the same alarm within S seconds is a repeat (default: "
                        f"repeat_window_s of the settings file, else "
                        f"{AlarmRules().repeat_window_s:g})")
    p.add_argument("--history", metavar="DEFINITION",
                   help="print the history review of this alarm definition instead")
    p.add_argument("--resource", metavar="ID", help="with --history: only this resource")
    p.add_argument("--fit-model", action="store_true",
                   help="train the false-alarm model on closed alarms, evaluate it on a later "
                        "period, save it under --model-dir and score the open alarms")
    p.add_argument("--split-at", metavar="DATE",
                   help="with --fit-model: train before, evaluate from this time "
                        "(default: 70 %% of the closed alarms before)")
    p.add_argument("--model-dir", metavar="DIR", default=None,
                   help="where --fit-model saves (default: models/ beside the database)")
    p.add_argument("--model", metavar="PATH", help="score the open alarms with this saved model")
    p.add_argument("--out", metavar="FILE", help="write the output to FILE instead of stdout")
    config.add_config_option(p)
    add_progress_option(p)
    from ._engine import add_engine_options
    add_engine_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..analyses.alarms import alarm_report, nuisance
    from ..analyses.alarms.prep import instances, select
    from ._engine import tables_from_args

    rules = config.override(config.for_command(args).alarms,
                            repeat_window_s=("--repeat-window", args.repeat_window))
    if args.resource and not args.history:
        raise OpevalError("--resource applies to --history only")
    from . import _pdf
    _pdf.need_out(args)
    if args.format == "pdf" and args.history:
        raise OpevalError("--format pdf prints the alarm report, not --history")
    step = step_printer(args.progress)
    tables = tables_from_args(args)
    zone = tables.zone
    since, _end = period.asked(args.since, args.as_of, zone)
    as_of = last_instant(args.as_of, zone)
    until = observed_until(args.observed_until, zone)
    if until and since and until < since:
        raise OpevalError("--observed-until is before --since")
    alarms = tables.alarms
    if args.history:
        t = nuisance.flag_nuisance(instances(select(alarms, as_of, since, args.system),
                                             rules.chatter_raises), rules)
        df = nuisance.history(t, args.history, args.resource, args.system).execute()
        from ..analyses.alarms.report import records
        rows = records(df)
        if not rows:
            raise OpevalError(f"no alarm of definition {args.history!r}"
                              + (f" on resource {args.resource!r}" if args.resource else ""))
        if args.format == "json":
            return emit(args, json.dumps({"definition": args.history, "history": rows},
                                         indent=2, ensure_ascii=False, default=str))
        lines = [f"history of {args.history}" + (f" on {args.resource}" if args.resource else "")
                 + f": {len(rows)} raise(s)"]
        for r in rows:
            lines.append(f"  {r['raised_at']}  {r['resource_id']:<14} sys {r['system_id'] or '-':<6}"
                         f" gap {_s(r['gap_s'])}  cleared after {_s(r['clear_s'])}  "
                         f"{r['status'] or '-'} {r['close_reason'] or ''}"
                         + ("  CHATTER" if r["chatter"] else "") + ("  repeat" if r["repeat"] else ""))
        return emit(args, "\n".join(lines))
    step("computing the alarm KPIs")
    report = alarm_report(alarms, as_of=as_of, since=since, system_id=args.system, rules=rules,
                          observed_until=until, zone=zone)
    say_warnings(report["warnings"])
    if args.fit_model or args.model:
        from ..analyses.alarms import model as fam
        if args.model:
            step(f"scoring open alarms with {args.model}")
            fitted = fam.load_model(args.model)
            report["model"] = {"path": str(args.model), **fitted.metadata}
        else:
            step("training the false-alarm model")
            split = period.start_of(args.split_at, zone)
            fitted = fam.fit(select(alarms, as_of, since, args.system), split_at=split, rules=rules,
                             zone=zone)
            fitted.metadata["database"] = str(Path(args.db).resolve())   # what /alarms looks for
            model_dir = Path(args.model_dir) if args.model_dir else Path(args.db).resolve().parent / "models"
            path = fam.save_model(fitted, model_dir)
            report["model"] = {"path": str(path), **fitted.metadata}
        scores = fam.score_open(fitted, select(alarms, as_of, since, args.system), rules=rules)
        report["open_alarm_scores"] = scores
    if args.format == "json":
        return emit(args, json.dumps(report, indent=2, ensure_ascii=False, default=str))
    if args.format == "pdf":
        from ..reports.pdf import alarms_pdf
        return _pdf.write(args, alarms_pdf(report))
    return emit(args, render_text(report))


def _s(v) -> str:
    if v is None:
        return "-"
    if v < 120:
        return f"{v:.0f} s"
    if v < 7200:
        return f"{v / 60:.1f} min"
    return f"{v / 3600:.1f} h"


def _share_or_na(v) -> str:
    return "n/a" if v is None else pct(v)


def render_text(r: dict) -> str:
    """The report as a readable page (the JSON carries every figure). Every
    threshold printed comes from the rules and benchmarks in force."""
    k = r["kpis"]
    b = k["benchmark_status"]
    m = r["benchmarks"]
    rules = r["parameters"]
    prio = k["priority_distribution"]
    windows = {(w["window_start"], w["window_end"]) for w in r["rates"]}
    observed = (f"each system over its own window ({len(r['rates'])} windows, see rates)"
                if len(windows) > 1 else
                f"observed {next(iter(windows))[0]} .. {next(iter(windows))[1]}" if windows else "")
    iv = f"{rules['interval_s'] / 60:g} min"
    out = [f"Alarms {k['period_start']} .. {k['as_of']}: {k['alarms']} alarm(s), "
           f"{k['systems']} system(s), {k['definitions']} definition(s)",
           f"  {observed}" if observed else "", f"  {period_line(r['period'])}", "",
           "Load per operator position (ISA-18.2 / EEMUA 191)",
           f"  average per 10 min   {k['avg_per_10min']:.2f}  ({k['rate_class'] or '-'}; "
           f"benchmark ≤ {m['avg_per_10min_acceptable']:g} acceptable, "
           f"≤ {m['avg_per_10min_manageable']:g} manageable) {b.get('avg_per_10min', '')}",
           f"  EEMUA 191 grade      {k['rate_grade'] or '-'} (≤ {m['eemua_acceptable_per_10min']:g}"
           f" / ≤ {m['eemua_manageable_per_10min']:g} / ≤ {m['eemua_unacceptable_per_10min']:g}"
           f" / more per 10 min)",
           f"  average per hour     {k['avg_per_hour']:.1f}    per day {k['avg_per_day']:.0f}",
           f"  peak per {iv:<12} {k['peak_per_10min']}  (benchmark ≤ {m['peak_per_10min_max']}) "
           f"{b.get('peak_per_10min', '')}",
           f"  {iv} periods > {rules['flood_threshold']}  {k['flood_intervals']} = "
           f"{_share_or_na(k['flood_interval_share'])} of {k['intervals_10min']} observed "
           f"(benchmark < {pct(m['flood_interval_share_max'])}) {b.get('flood_interval_share', '')}",
           f"  hours > {rules['busy_hour_threshold']} alarms     {k['busy_hours']} = "
           f"{_share_or_na(k['busy_hour_share'])} (benchmark < {pct(m['busy_hour_share_max'])}) "
           f"{b.get('busy_hour_share', '')}",
           f"  floods               {k['floods']}, time in flood {_share_or_na(k['time_in_flood_share'])}",
           "  priority distribution " + (
               "n/a (the log carries no priorities)" if not prio["prioritised"] else
               f"high {pct(prio['high'])} / medium {pct(prio['medium'])} / low {pct(prio['low'])}"
               f" (target ~{pct(m['high_priority_share'])} / {pct(m['medium_priority_share'])} / "
               f"{pct(m['low_priority_share'])}) {b.get('priority_distribution', '')}"
               + (f"; {prio['unprioritised']} without priority" if prio["unprioritised"] else "")),
           "", "Nuisance alarms",
           f"  chattering alarms    {k['chattering_alarms']} (system and definition; "
           f"{k['chatter_raises']} raises {rules['chatter_raises']}-in-{rules['chatter_window_s']:g} s; "
           f"benchmark {m['chattering_max']}) {b.get('chattering_alarms', '')}",
           f"  fleeting alarms      {k['fleeting_alarms']} ({k['fleeting_raises']} raises back to "
           f"normal within {rules['fleeting_s']:g} s; benchmark {m['fleeting_max']}) "
           f"{b.get('fleeting_alarms', '')}",
           f"  repeat alarms        {k['repeat_alarms']} = {pct(k['repeat_share'])} of the raises "
           f"(window {rules['repeat_window_s']:g} s)",
           f"  standing / stale     {k['standing']} / {k['stale']} at the end of the window "
           f"(stale: > {rules['stale_after_h']:g} h)",
           f"  stale on one day     at most {k['stale_daily_max']} (benchmark < "
           f"{m['stale_max_per_day']}) {b.get('stale', '')}; {k['stale_episodes']} alarm(s) stood "
           f"more than {rules['stale_after_h']:g} h in the period",
           f"  top 10 share         {pct(k['top10_share'])} (benchmark < {pct(m['top10_share_max'])}) "
           f"{b.get('top10_share', '')}",
           "", "Life cycle (VMS guide)",
           f"  median time to handle {_s(k['median_handle_s'])}, to close {_s(k['median_close_s'])}, "
           f"to clear {_s(k['median_clear_s'])}",
           f"  escalated {pct(k['escalated_share'])}, expired {pct(k['expired_share'])}, "
           f"closed without handling {pct(k['closed_without_handling_share'])}",
           f"  escalated ≤ {rules['escalate_min_s']:g} s after the raise {k['escalated_too_early']}, "
           f"expired ≤ {rules['expire_min_s']:g} s after the raise {k['expired_too_early']} "
           "(the guide allows only longer times)",
           f"  closed {k['closed']}, false alarms {k['false_alarms']} "
           f"(rate {pct(k['false_alarm_rate'])}); closed without a reason "
           f"{k['closed_without_reason']}"]
    if r["close_reasons"]:
        out.append("  close reasons: " + ", ".join(
            f"{c['close_reason']} {c['alarms']} ({pct(c['share'])})" for c in r["close_reasons"]))
    if r["operators"]:
        out += ["", "Operators (alarms, median handle, median close, false, avg per 10 min)"]
        for o in r["operators"][:15]:
            out.append(f"  {o['assigned_to']:<20} {o['alarms']:>7} {_s(o['median_handle_s']):>9} "
                       f"{_s(o['median_close_s']):>9} {o['false_alarms']:>6} "
                       f"{(o['avg_per_10min'] or 0):6.2f}")
    if r["bad_actors"]:
        out += ["", "Bad actors (Pareto of the load)"]
        for a in r["bad_actors"]:
            out.append(f"  {a['rank']:>2}. {a['definition']:<32} {a['alarms']:>8} "
                       f"{pct(a['share']):>7}  cumulative {pct(a['cumulative_share'])}")
    if r["floods"]:
        out += ["", f"Floods ({len(r['floods'])}; longest first, up to 10)"]
        for f in sorted(r["floods"], key=lambda f: (-f["minutes"], f["start"]))[:10]:
            tops = ", ".join(f"{c['definition']} {c['alarms']}" for c in f["top_contributors"])
            out.append(f"  system {f['system_id'] or '-'} {f['start']} for {f['minutes']} min, "
                       f"peak {f['peak_per_10min']} per {iv}, {f['alarms']} alarms: {tops}")
    defs = r["definitions"]
    if defs:
        out += ["", "Definitions (top 15 by load): alarms, chattering, repeats, false-alarm rate"]
        for d in defs[:15]:
            out.append(f"  {d['definition']:<28} {d['resource_id']:<14} {d['alarms']:>8} "
                       f"{'CHATTER' if d['chattering'] else '':<8} {d['repeat_alarms']:>8} "
                       f"{pct(d['false_alarm_rate']):>7}")
    if r["stale_episodes"]:
        out += ["", f"Stale episodes ({len(r['stale_episodes'])}; longest first, up to 10)"]
        for s in r["stale_episodes"][:10]:
            how = f"until {s['ended_at']}" if s["ended_at"] else "still standing at the end"
            out.append(f"  {s['alarm_id']}  {s['definition']} stood {s['stood_h']:.1f} h, {how}")
    if r["tuning"]:
        out += ["", f"Tuning advice ({len(r['tuning'])})"]
        for a in r["tuning"][:30]:
            out.append(f"  [{a['kind']}] {a['advice']}\n      evidence: {a['evidence']}")
    if "model" in r:
        m = r["model"]
        out += ["", f"False-alarm model {m.get('model_version')} saved/loaded at {m['path']}"]
        ev = m.get("evaluation") or {}
        for name in ("model", "baseline"):
            e = ev.get(name)
            if e:
                out.append(f"  {name:<9} ROC-AUC {e['roc_auc'] if e['roc_auc'] is not None else '-'}"
                           f"  precision {e['precision']:.3f}  recall {e['recall']:.3f}")
        top = r.get("open_alarm_scores") or []
        out.append(f"  open alarms scored: {len(top)}")
        for s in top[:10]:
            out.append(f"    {s['alarm_id']}  {s['definition']}  p(false) = {s['p_false']:.2f}")
    return "\n".join(out)


__all__ = ["last_instant", "observed_until", "register", "render_text", "run"]
