"""The outage analysis as one small typed result, shared by the CLI, views and notebooks.

:func:`correlate` binds the expressions of :mod:`.correlation` to a period and
materialises the two that are reused (the matched pairs and the
per-intervention table) in the engine; :func:`analyse` turns them into the
per-PM / per-DO / per-OC tables (pandas, one row per PM/DO/OC) and the network
totals. JSON conversion (:meth:`OutageReport.to_dict`) follows the contract's
"outages" keys.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from . import correlation as c
from .pseudonym import pseudonymise
from .stats import rate_ratio_ci

TableSource = Mapping[str, ir.Table]


@dataclass
class Correlation:
    """The bound, partly materialised correlation of one period."""

    period: c.Period
    config: c.OutageConfig
    windows: ir.Table
    cuts: ir.Table
    all_pairs: ir.Table
    pairs: ir.Table
    interventions: ir.Table
    target_only: ir.Table
    tables: Any
    _cached: list = field(default_factory=list, repr=False)

    def per_pm(self) -> ir.Table:
        """The per-PM table of :func:`.correlation.per_pm` for this correlation."""
        return c.per_pm(self.interventions, self.pairs, self.cuts, self.target_only,
                        self.windows, self.tables["pms"], self.period)

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


def correlate(tables: TableSource, since=None, as_of=None,
              config: c.OutageConfig | None = None, cache: bool = True) -> Correlation:
    """Bind the correlation to the period; materialise pairs and per-intervention rows."""
    config = config or c.OutageConfig()
    interventions, outages = tables["interventions"], tables["outages"]
    period = c.resolve_period(interventions, outages, since=since, as_of=as_of)
    keep: list = []
    windows = c.intervention_windows(interventions, period)
    cuts = c.counted_cuts(outages, period)
    targets = tables["intervention_targets"]
    every = _cache(c.all_pairs(cuts, windows, targets, config), keep, cache)
    pairs = c.matched_pairs(every)
    pi = _cache(c.per_intervention(windows, pairs, tables["outage_reports"]), keep, cache)
    target_only = c.target_only_cuts(every)
    return Correlation(period, config, windows, cuts, every, pairs, pi, target_only, tables, keep)


def add_rate_ratio(pms: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """In-window / out-of-window cut-rate ratio of each PM with its exact interval (stats)."""
    rr, lo, hi, p = rate_ratio_ci(pms["cuts_in_windows"], pms["window_hours"],
                                  pms["cuts_out_of_windows"], pms["out_of_window_hours"], level)
    return pms.assign(rate_ratio=rr, rate_ratio_lo=lo, rate_ratio_hi=hi, rate_ratio_p=p)


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

    def to_dict(self) -> dict:
        """The contract's ``outages`` JSON (plus period, network totals and quality lists)."""
        return {
            "as_of": _iso(self.period.end),
            "period": {"start": _iso(self.period.start), "end": _iso(self.period.end),
                       "hours": round(self.period.hours, 3)},
            "anonymised_do": self.anonymised,
            "rate_ratio_level": self.rr_level,
            "network": _clean(self.network),
            "pms": records(self.pms),
            "dos": records(self.dos),
            "ocs": records(self.ocs),
            "short_cuts": {"total": self.short_cuts_total, "listed": len(self.short_cuts),
                           "cuts": records(self.short_cuts)},
            "missing_hf": records(self.missing_hf),
        }


def analyse(tables: TableSource, since=None, as_of=None,
            config: c.OutageConfig | None = None, rr_level: float = 0.95,
            pseudonym_key: bytes | None = None, list_limit: int | None = 1000) -> OutageReport:
    """Run the whole outage analysis; DO codes pseudonymised when ``pseudonym_key`` is given."""
    corr = correlate(tables, since=since, as_of=as_of, config=config)
    try:
        return _report(corr, tables, rr_level, pseudonym_key, list_limit)
    finally:
        corr.release()


def _report(corr: Correlation, tables, rr_level, key, limit) -> OutageReport:
    period, pi, pairs = corr.period, corr.interventions, corr.pairs
    pms = corr.per_pm().to_pandas()
    pms = add_rate_ratio(pms, rr_level)
    dos = c.per_do(pi, corr.config).to_pandas()
    ocs = c.per_oc(tables["outage_reports"], tables["outages"], corr.windows, period).to_pandas()
    short = c.short_cuts(corr.cuts, pairs)
    short_total = int(short.count().execute())
    short_df = (short.limit(limit) if limit is not None else short).to_pandas()
    missing = pi.filter(~pi.has_window).select(
        "ref_interv_oi", "code_do", "pm_id", "hd", "m1_received_at").order_by(
        ["code_do", "hd", "ref_interv_oi"])
    missing_df = (missing.limit(limit) if limit is not None else missing).to_pandas()
    excl = {r.reason: int(r.cuts) for r in c.exclusions(tables["outages"], period)
            .to_pandas().itertuples()}
    excl["target_line"] = int(c.target_exclusions(corr.all_pairs).count().execute())
    network = _network(pms, dos, ocs, excl, rr_level)
    if key:
        # re-sorted by pseudonym: the order of the real codes would leak them
        dos = dos.assign(code_do=pseudonymise(dos["code_do"], key)).sort_values(
            "code_do", ignore_index=True)
        missing_df = missing_df.assign(code_do=pseudonymise(missing_df["code_do"], key)
                                       ).sort_values(["code_do", "hd", "ref_interv_oi"],
                                                     ignore_index=True)
    return OutageReport(period, network, pms, dos, ocs, short_df, short_total, missing_df,
                        anonymised=bool(key), rr_level=rr_level)


def _network(pms: pd.DataFrame, dos: pd.DataFrame, ocs: pd.DataFrame, excl: dict,
             level: float) -> dict:
    s = pms.sum(numeric_only=True) if len(pms) else pd.Series(dtype=float)

    def g(k):
        return int(s.get(k, 0) or 0)

    covered, impacted = g("covered_interventions"), g("impacted_interventions")
    rr, lo, hi, _p = rate_ratio_ci([g("cuts_in_windows")], [float(s.get("window_hours", 0) or 0)],
                                  [g("cuts_out_of_windows")],
                                  [float(s.get("out_of_window_hours", 0) or 0)], level)
    return {
        "pms": len(pms), "dos": len(dos),
        "interventions": g("interventions"), "missing_hf": g("missing_hf"),
        "covered_interventions": covered, "impacted_interventions": impacted,
        "incident_rate": impacted / covered if covered else None,
        "clients_hs": g("clients_hs"), "counted_cuts": g("counted_cuts"),
        "cuts_in_windows": g("cuts_in_windows"), "cuts_out_of_windows": g("cuts_out_of_windows"),
        "window_hours": float(s.get("window_hours", 0) or 0),
        "rate_ratio": rr[0], "rate_ratio_lo": lo[0], "rate_ratio_hi": hi[0],
        "cuts_before_hd": g("cuts_before_hd"), "cuts_after_hf": g("cuts_after_hf"),
        "short_cuts": g("short_cuts"),
        "ocs_using_flow3": int(ocs["uses_flow3"].sum()) if len(ocs) else 0,
        "ocs": len(ocs),
        "excluded_cuts": excl,
    }


# ---------------------------------------------------------------- JSON helpers

def _iso(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, pd.Timestamp):
        if pd.isna(v):
            return None
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        return v.isoformat(timespec="seconds")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _clean(v):
    """A JSON-safe value: NaN/NA → None, ±inf → None, numpy scalars → Python, times → ISO."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_clean(x) for x in v]
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return _iso(v)
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if (math.isnan(f) or math.isinf(f)) else f
    return v


def records(df: pd.DataFrame) -> list[dict]:
    """Rows of a small frame as JSON-safe dicts."""
    return [_clean(r) for r in df.to_dict(orient="records")]
