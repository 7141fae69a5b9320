"""The PM blacklist (e-Intervention lot 1, §6 evolution "blacklist of PMs whose incident rate is too high").

A PM is a *candidate* when, over the period, its incident rate (impacted /
covered interventions, contract §3) is credibly above the network's, given how
many covered interventions it had:

1. **Minimum evidence** — at least ``min_covered`` covered interventions (an
   intervention without an M5 is unknown, never "not impacted").
2. **Funnel plot** — its impacted count lies above the exact binomial
   ``funnel_level`` (default 99.8 %) limit around the network rate for its
   number of covered interventions (one-sided p < 1 − level). The funnel is
   the classic tool for comparing units of very different volume: the limit
   narrows as volume grows, so 1 impacted intervention of 1 is never outside.
3. **Shrinkage** — an empirical-Bayes beta-binomial prior is fitted over all
   PMs (maximum likelihood); the posterior probability that the PM's true rate
   exceeds the network rate must reach ``min_posterior``. The funnel alone
   assumes every PM shares one true rate; the prior measures how much PMs
   really differ, so a PM needs evidence beyond the ordinary spread.
4. **Attribution** — where out-of-window cuts are known (supervision), the
   in/out-of-window cut-rate ratio tells a PM that interventions break from one
   that is fragile anyway. With ``exclude_fragile`` a PM whose ratio is not
   credibly above 1 (interval's lower bound ≤ 1) goes to ``fragile`` instead.

``score`` ranks candidates most urgent first: the expected number of excess
incidents over the period, ``(shrunken rate − network rate) × interventions``,
multiplied by ``worsening_boost`` when the recent rate is significantly worse
than before (``trend``: last ``recent_days`` against the earlier period,
two-sided Fisher exact test at ``trend_alpha``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .outages import correlation as c
from .outages.report import Correlation, _clean, add_rate_ratio, correlate, records
from .outages.stats import fit_beta_binomial, funnel, posterior, two_proportion_p


@dataclass(frozen=True)
class BlacklistConfig:
    """Every threshold of the blacklist, in one place."""

    min_covered: int = 10
    """Covered interventions a PM needs before it can be a candidate."""
    funnel_level: float = 0.998
    """Level of the binomial funnel limit (0.998 ≈ 3 sigma, one-sided p < 0.002)."""
    min_posterior: float = 0.95
    """Posterior probability (beta-binomial) that the PM's rate exceeds the network's."""
    recent_days: int = 90
    """Length of the recent period of the trend, counted back from the period end."""
    trend_alpha: float = 0.05
    """Significance of the recent-vs-before comparison."""
    min_trend_covered: int = 5
    """Covered interventions each side needs before a trend is stated."""
    worsening_boost: float = 1.5
    """Score multiplier for a PM whose recent rate is significantly worse."""
    exclude_fragile: bool = True
    """Move PMs whose cuts are not concentrated in intervention windows to ``fragile``."""
    rate_ratio_level: float = 0.95
    """Level of the in/out-of-window rate-ratio interval."""
    max_evidence: int | None = None
    """Cap on listed interventions / cuts per candidate (None: all)."""


@dataclass
class Blacklist:
    """The result: candidates (most urgent first), fragile PMs, the fitted method."""

    period: c.Period
    config: BlacklistConfig
    network_rate: float | None
    prior: dict
    baseline_available: bool
    table: pd.DataFrame
    candidates: pd.DataFrame
    fragile: pd.DataFrame
    evidence: dict

    def to_dict(self) -> dict:
        def rows(df):
            out = []
            for r in records(df):
                r["evidence"] = self.evidence.get(r["pm_id"], {"interventions": [], "cuts": []})
                r["trend"] = {k: r.pop(f"trend_{k}") for k in _TREND}
                out.append(r)
            return out
        return {
            "as_of": _clean(self.period.end),
            "period": {"start": _clean(self.period.start), "end": _clean(self.period.end)},
            "method": "exact binomial funnel limits + beta-binomial empirical-Bayes shrinkage",
            "config": asdict(self.config),
            "network_rate": _clean(self.network_rate),
            "prior": _clean(self.prior),
            "baseline_available": self.baseline_available,
            "pms_assessed": len(self.table),
            "candidates": rows(self.candidates),
            "fragile": rows(self.fragile),
        }


_TREND = ("recent_covered", "recent_impacted", "recent_rate", "before_covered",
          "before_impacted", "before_rate", "p_value", "direction")

COLUMNS = ["rank", "pm_id", "incident_rate", "interventions", "covered_interventions",
           "impacted_interventions", "score", "shrunken_rate", "posterior_prob_above",
           "funnel_upper", "funnel_p_value", "clients_hs", "cuts_in_windows",
           "cuts_out_of_windows", "rate_ratio", "rate_ratio_lo", "rate_ratio_hi", "attribution",
           *[f"trend_{k}" for k in _TREND]]


def _trend(corr: Correlation, cfg: BlacklistConfig) -> pd.DataFrame:
    pi = corr.interventions
    recent = pi.hd >= corr.period.end - dt.timedelta(days=cfg.recent_days)
    t = pi.group_by("pm_id").aggregate(
        trend_recent_covered=c._n(pi.covered & recent),
        trend_recent_impacted=c._n(pi.impacted & recent),
        trend_before_covered=c._n(pi.covered & ~recent),
        trend_before_impacted=c._n(pi.impacted & ~recent))
    return t.to_pandas()


def _direction(row, cfg: BlacklistConfig) -> tuple[float | None, str]:
    rc, ri = row.trend_recent_covered, row.trend_recent_impacted
    bc, bi = row.trend_before_covered, row.trend_before_impacted
    if rc < cfg.min_trend_covered or bc < cfg.min_trend_covered:
        return None, "insufficient"
    p = two_proportion_p(ri, rc, bi, bc)
    if p >= cfg.trend_alpha:
        return p, "stable"
    return p, "worse" if ri / rc > bi / bc else "better"


def assess(pms: pd.DataFrame, trend: pd.DataFrame, cfg: BlacklistConfig) -> tuple[pd.DataFrame, float | None, dict, bool]:
    """The per-PM statistics and decisions (pure pandas/numpy on the per-PM table)."""
    t = pms.merge(trend, on="pm_id", how="left")
    for k in ("trend_recent_covered", "trend_recent_impacted", "trend_before_covered",
              "trend_before_impacted"):
        t[k] = t[k].fillna(0).astype("int64")
    cov, imp = t["covered_interventions"].to_numpy(float), t["impacted_interventions"].to_numpy(float)
    total_cov = cov.sum()
    p0 = float(imp.sum() / total_cov) if total_cov else None
    prior = fit_beta_binomial(imp, cov)
    if p0 is None or len(t) == 0:
        t = t.assign(shrunken_rate=np.nan, posterior_prob_above=np.nan, funnel_upper=np.nan,
                     funnel_p_value=np.nan)
    else:
        upper, _lower, pval = funnel(imp, cov, p0, cfg.funnel_level)
        shrunk, prob = posterior(imp, cov, prior, p0)
        t = t.assign(shrunken_rate=shrunk, posterior_prob_above=prob, funnel_upper=upper,
                     funnel_p_value=pval)
    if "rate_ratio" not in t:
        t = add_rate_ratio(t, cfg.rate_ratio_level)
    baseline = bool(t["cuts_out_of_windows"].sum() > 0) if len(t) else False
    lo = t["rate_ratio_lo"].to_numpy(float)
    t["attribution"] = np.where(
        (not baseline) | (t["cuts_in_windows"].to_numpy() == 0), "unknown",
        np.where(np.nan_to_num(lo, nan=0.0) > 1.0, "interventions", "fragile"))
    t["trend_recent_rate"] = t.trend_recent_impacted / t.trend_recent_covered.replace(0, np.nan)
    t["trend_before_rate"] = t.trend_before_impacted / t.trend_before_covered.replace(0, np.nan)
    dirs = [_direction(r, cfg) for r in t.itertuples()] if len(t) else []
    t["trend_p_value"] = [d[0] for d in dirs]
    t["trend_direction"] = [d[1] for d in dirs]
    boost = np.where(t["trend_direction"] == "worse", cfg.worsening_boost, 1.0)
    if p0 is not None:
        t["score"] = (t["shrunken_rate"] - p0) * t["interventions"] * boost
    else:
        t["score"] = np.nan
    t["candidate"] = ((t["covered_interventions"] >= cfg.min_covered)
                      & (t["funnel_p_value"] < 1.0 - cfg.funnel_level)
                      & (t["posterior_prob_above"] >= cfg.min_posterior))
    prior_d = {"alpha": prior.alpha, "beta": prior.beta, "mean": prior.mean,
               "strength": prior.strength}
    return t, p0, prior_d, baseline


def blacklist(tables, since=None, as_of=None, config: BlacklistConfig | None = None,
              outage_config: c.OutageConfig | None = None) -> Blacklist:
    """Rank the PMs whose incident rate is credibly above the network's (see module doc)."""
    config = config or BlacklistConfig()
    corr = correlate(tables, since=since, as_of=as_of, config=outage_config)
    try:
        pms = add_rate_ratio(corr.per_pm().to_pandas(), config.rate_ratio_level)
        t, p0, prior, baseline = assess(pms, _trend(corr, config), config)
        sel = t[t["candidate"]]
        fragile_mask = (sel["attribution"] == "fragile") if config.exclude_fragile else False
        cands = sel[~fragile_mask] if config.exclude_fragile else sel
        fragile = sel[fragile_mask] if config.exclude_fragile else sel.iloc[0:0]
        cands = cands.sort_values(["score", "pm_id"], ascending=[False, True])
        fragile = fragile.sort_values(["score", "pm_id"], ascending=[False, True])
        cands = cands.assign(rank=np.arange(1, len(cands) + 1))
        fragile = fragile.assign(rank=np.arange(1, len(fragile) + 1))
        ids = list(cands["pm_id"]) + list(fragile["pm_id"])
        evidence = _evidence(corr, ids, config.max_evidence)
        return Blacklist(corr.period, config, p0, prior, baseline, t, cands[COLUMNS],
                         fragile[COLUMNS], evidence)
    finally:
        corr.release()


def _evidence(corr: Correlation, pm_ids: list[str], cap: int | None) -> dict:
    """For each PM: its impacted interventions and the counted cuts inside their windows."""
    if not pm_ids:
        return {}
    pi = corr.interventions
    imp = pi.filter(pi.pm_id.isin(pm_ids) & pi.impacted).select(
        "pm_id", "ref_interv_oi", "code_do", "hd", "hf", "cuts").order_by(
        ["pm_id", "hd", "ref_interv_oi"])
    p = corr.pairs
    cuts = p.filter(p.pm_id.isin(pm_ids) & (p.position == "in") & p.attributed).select(
        "pm_id", "ref_interv_oi", "code_oc", "pto", "cut_at", "m5_ref").order_by(
        ["pm_id", "cut_at", "code_oc", "pto", "ref_interv_oi"])  # a total order: stable evidence
    imp_df, cut_df = imp.to_pandas(), cuts.to_pandas()
    impacted_refs = set(imp_df["ref_interv_oi"])
    cut_df = cut_df[cut_df["ref_interv_oi"].isin(impacted_refs)]
    out: dict = {pm: {"interventions": [], "cuts": []} for pm in pm_ids}
    for pm, g in imp_df.groupby("pm_id", sort=False):
        out[pm]["interventions"] = records(g.drop(columns="pm_id").head(cap) if cap else
                                           g.drop(columns="pm_id"))
    for pm, g in cut_df.groupby("pm_id", sort=False):
        g = g.drop(columns="pm_id").assign(source=np.where(g["m5_ref"].notna(), "m5",
                                                           "supervision")).drop(columns="m5_ref")
        out[pm]["cuts"] = records(g.head(cap) if cap else g)
    return out
