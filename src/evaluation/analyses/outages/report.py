"""The outage analysis as one small typed result, shared by the CLI, views and notebooks.

:func:`correlate` binds the expressions of :mod:`.correlation` to a period and
materialises in the engine the four that are reused (the merged cuts, the
(cut, window) pairs, where each cut lies, the per-intervention table);
:func:`analyse` turns them into the per-PM / per-DO / per-OC tables (pandas,
one row per PM/DO/OC) and the network totals. :meth:`OutageReport.to_json`
follows the contract's "outages" keys.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from ... import jsontext, localtime
from . import correlation as c
from .pseudonym import pseudonymise

TableSource = Mapping[str, ir.Table]


@dataclass
class Correlation:
    """The bound, partly materialised correlation of one period."""

    period: c.Period
    config: c.OutageConfig
    windows: ir.Table
    events: ir.Table
    all_pairs: ir.Table
    pairs: ir.Table
    placed: ir.Table
    interventions: ir.Table
    tables: Any
    _cached: list = field(default_factory=list, repr=False)
    _cut_table: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def cut_table(self) -> pd.DataFrame:
        """The period's cuts counted by PM, OC, reason, source and short
        (:func:`.correlation.cut_counts`), computed once."""
        if self._cut_table is None:
            self._cut_table = c.cut_counts(self.tables["outages"], self.period)
        return self._cut_table

    def per_pm(self) -> pd.DataFrame:
        """The per-PM table of :func:`.correlation.per_pm` for this correlation."""
        return c.per_pm(self.interventions, self.placed, self.cut_table, self.windows,
                        self.tables["pms"], self.period)

    def per_oc(self) -> pd.DataFrame:
        """The per-OC table of :func:`.correlation.per_oc` for this correlation."""
        return c.per_oc(self.tables["outage_reports"], self.cut_table, self.tables["outages"],
                        self.windows, self.period)

    def exclusions(self) -> dict[str, int]:
        """The cuts of the period not counted, by reason (:func:`.correlation.exclusions`)."""
        return c.exclusions(self.cut_table, self.placed)

    def release(self) -> None:
        """Drop the engine-side materialisations (temporary tables)."""
        while self._cached:
            self._cached.pop().release()


def _cache(t: ir.Table, keep: list, enabled: bool) -> ir.Table:
    if not enabled:
        return t
    cached = t.cache()
    keep.append(cached)
    return cached


def _window_end(windows: ir.Table, period: c.Period, config: c.OutageConfig) -> dt.datetime:
    """The end of the cuts to match: the period's, or later when a window of one of its
    interventions (with the tolerance) runs past it."""
    latest = c._to_datetime(windows.hf.max().execute())
    if latest is None:
        return period.end
    return max(period.end, latest + config.tolerance + dt.timedelta(microseconds=1))


def correlate(tables: TableSource, since=None, as_of=None,
              config: c.OutageConfig | None = None, cache: bool = True,
              zone: str = localtime.UTC) -> Correlation:
    """Bind the correlation to the period (days of ``zone``); materialise the windows, the
    pairs, the placement of each cut and the per-intervention rows (the merged cuts of a
    large network are not materialised: :func:`.correlation.all_pairs`)."""
    config = config or c.OutageConfig()
    interventions, outages = tables["interventions"], tables["outages"]
    period = c.resolve_period(interventions, outages, since=since, as_of=as_of, zone=zone)
    keep: list = []
    windows = _cache(c.intervention_windows(interventions, period, config), keep, cache)
    end = _window_end(windows, period, config)
    # the merged cuts stay an expression: read whole once for the counts (cut_table),
    # and by PM for a list or a timeline; the pairs are built from the rows directly
    events = c.cut_events(outages, period, period.start - config.tolerance, end)
    every = _cache(c.all_pairs(outages, windows, tables["intervention_targets"], period, end,
                               config), keep, cache)
    pairs = c.matched_pairs(every)
    placed = _cache(c.placement(every), keep, cache)
    pi = _cache(c.per_intervention(windows, pairs, tables["outage_reports"]), keep, cache)
    return Correlation(period, config, windows, events, every, pairs, placed, pi, tables, keep)


def add_rate_ratio(pms: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """In-window / out-of-window rate ratio of each PM's baseline cuts with its exact
    interval (:func:`.stats.rate_ratio_ci`); NULL where the PM has no baseline
    (no supervised OC, :func:`.correlation.per_pm`)."""
    from .stats import rate_ratio_ci
    rr, lo, hi, p = rate_ratio_ci(pms["baseline_cuts_in_windows"], pms["window_hours"],
                                  pms["baseline_cuts_out_of_windows"],
                                  pms["out_of_window_hours"], level)
    out = pms.assign(rate_ratio=rr, rate_ratio_lo=lo, rate_ratio_hi=hi, rate_ratio_p=p)
    cols = ["rate_ratio", "rate_ratio_lo", "rate_ratio_hi", "rate_ratio_p"]
    out.loc[~out["supervised"].astype(bool), cols] = float("nan")
    return out


@dataclass
class OutageReport:
    """Everything ``opeval outages`` shows, as small pandas tables and dicts."""

    period: c.Period
    network: dict
    pms: pd.DataFrame
    dos: pd.DataFrame
    ocs: pd.DataFrame
    short_cuts: pd.DataFrame
    short_cuts_total: int
    missing_hf: pd.DataFrame
    anonymised: bool = False
    rr_level: float = 0.95
    config: c.OutageConfig = field(default_factory=c.OutageConfig)

    def to_json(self) -> str:
        """The contract's ``outages`` JSON (plus period, network totals and quality lists),
        times in the database's zone with their offset."""
        p = self.period
        return jsontext.document({
            "as_of": p.end,
            "period": period_dict(p),
            "warnings": warnings(p),
            "anonymised_do": self.anonymised,
            "rate_ratio_level": self.rr_level,
            "config": self.config.as_dict(),
            "network": self.network,
            "pms": self.pms,
            "dos": self.dos,
            "ocs": self.ocs,
            "short_cuts": {"total": self.short_cuts_total, "listed": len(self.short_cuts),
                           "cuts": self.short_cuts},
            "missing_hf": self.missing_hf,
        }, p.zone)

    def to_dict(self) -> dict:
        """:meth:`to_json` as Python objects."""
        return json.loads(self.to_json())


def period_dict(p: c.Period) -> dict:
    """What a result says of its period: start, end (exclusive), hours, time zone, and the
    data's days with the part of the period they cover (:meth:`evaluation.period.Covered.as_dict`)."""
    return {**p.as_dict(), "hours": round(p.hours, 3)}


OUTSIDE_DATA = ("hours without data count as no exposure (the out-of-window hours, rates and "
                "rate ratio cover the days with data only)")
"""What the outage analyses do about a period reaching beyond the data (docs/outages.md)."""


def warnings(p: c.Period) -> list[str]:
    """One line per side of the period lying outside the network data."""
    return p.warnings(OUTSIDE_DATA)


def analyse(tables: TableSource, since=None, as_of=None,
            config: c.OutageConfig | None = None, rr_level: float = 0.95,
            pseudonym_key: bytes | None = None, list_limit: int | None = 1000,
            zone: str = localtime.UTC) -> OutageReport:
    """Run the whole outage analysis; DO codes pseudonymised when ``pseudonym_key`` is given."""
    corr = correlate(tables, since=since, as_of=as_of, config=config, zone=zone)
    try:
        return _report(corr, rr_level, pseudonym_key, list_limit)
    finally:
        corr.release()


def _report(corr: Correlation, rr_level, key, limit) -> OutageReport:
    period, pi = corr.period, corr.interventions
    pms = add_rate_ratio(corr.per_pm(), rr_level)
    dos = c.per_do(pi, corr.config).to_pandas()
    ocs = corr.per_oc()
    short_df = c.short_cuts(corr.events, corr.placed, limit, pms).to_pandas()
    missing = pi.filter(~pi.has_window).select(
        "ref_interv_oi", "code_do", "pm_id", "hd", "m1_received_at").order_by(
        ["code_do", "hd", "ref_interv_oi"])
    missing_df = (missing.limit(limit) if limit is not None else missing).to_pandas()
    network = _network(pms, dos, ocs, corr.exclusions(), rr_level)
    short_total = network["short_cuts"]
    if key:
        # re-sorted by pseudonym: the order of the real codes would leak them
        dos = dos.assign(code_do=pseudonymise(dos["code_do"], key)).sort_values(
            "code_do", ignore_index=True)
        missing_df = missing_df.assign(code_do=pseudonymise(missing_df["code_do"], key)
                                       ).sort_values(["code_do", "hd", "ref_interv_oi"],
                                                     ignore_index=True)
    return OutageReport(period, network, pms, dos, ocs, short_df, short_total, missing_df,
                        anonymised=bool(key), rr_level=rr_level, config=corr.config)


_SUMS = ("interventions", "missing_hf", "covered_interventions", "impacted_interventions",
         "clients_hs", "counted_cuts", "cuts_in_windows", "cuts_out_of_windows",
         "cuts_before_hd", "cuts_after_hf", "short_cuts", "multi_interventions", "shared_cuts",
         "impacted_shared_only", "late_m1_interventions", "impacted_late_m1")


def _network(pms: pd.DataFrame, dos: pd.DataFrame, ocs: pd.DataFrame, excl: dict,
             level: float) -> dict:
    from .stats import rate_ratio_ci
    s = {k: int(pms[k].sum()) if len(pms) else 0 for k in _SUMS}
    sup = pms[pms["supervised"]] if len(pms) else pms
    covered, impacted = s["covered_interventions"], s["impacted_interventions"]
    rr, lo, hi, _p = rate_ratio_ci([sup["baseline_cuts_in_windows"].sum()],
                                   [sup["window_hours"].sum()],
                                   [sup["baseline_cuts_out_of_windows"].sum()],
                                   [sup["out_of_window_hours"].sum()], level)
    return {
        "pms": len(pms), "dos": len(dos), **s,
        "incident_rate": impacted / covered if covered else None,
        "window_hours": float(pms["window_hours"].sum()) if len(pms) else 0.0,
        "pms_supervised": len(sup),
        "rate_ratio": rr[0], "rate_ratio_lo": lo[0], "rate_ratio_hi": hi[0],
        "ocs_using_flow3": int(ocs["uses_flow3"].sum()) if len(ocs) else 0,
        "ocs": len(ocs),
        "excluded_cuts": excl,
    }


def records(df: pd.DataFrame, zone: str = localtime.UTC) -> list[dict]:
    """Rows of a small frame as JSON-safe dicts (times with their offset)."""
    return [jsontext.clean(r, zone) for r in df.to_dict(orient="records")]


__all__ = ["Correlation", "OutageReport", "add_rate_ratio", "analyse", "correlate",
           "period_dict", "records", "warnings"]
