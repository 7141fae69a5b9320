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
4. **Attribution**, decided per PM — where the PM has a baseline (cuts outside
   windows known from line supervision, :func:`.outages.correlation.per_pm`),
   the in/out-of-window cut-rate ratio tells a PM that interventions break from
   one that is fragile anyway. With ``exclude_fragile`` a PM whose ratio is not
   credibly above 1 (interval's lower bound ≤ 1) goes to ``fragile`` instead.
   Without a baseline, or without a baseline cut in its windows, the attribution
   is ``unknown`` and says why (``attribution_reason``).

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

from .. import jsontext, localtime
from . import checks
from .outages import correlation as c
from .outages.report import Correlation, add_rate_ratio, correlate, period_dict, records, warnings
from .outages.stats import fit_beta_binomial, funnel, posterior, two_proportion_p


@dataclass(frozen=True)
class BlacklistConfig:
    """Every threshold of the blacklist, in one place; each field's docstring ends with its
    source. Set in the ``[blacklist]`` table of the settings file (docs/configuration.md);
    the class checks its own values."""

    min_covered: int = 10
    """Covered interventions a PM needs before it can be a candidate. Source: project
    choice (minimum evidence; an intervention without an M5 is unknown, §2.1.5)."""
    funnel_level: float = 0.998
    """Level of the binomial funnel limit, in [0, 1) (0.998 ≈ 3 sigma, one-sided
    p < 0.002). Source: funnel-plot practice (Spiegelhalter 2005), project choice."""
    min_posterior: float = 0.95
    """Posterior probability (beta-binomial), in [0, 1), that the PM's rate exceeds the
    network's. Source: project choice."""
    recent_days: int = 90
    """Length in days of the recent period of the trend, counted back from the period
    end. Source: project choice."""
    trend_alpha: float = 0.05
    """Significance of the recent-vs-before comparison (two-sided Fisher exact test).
    Source: project choice."""
    min_trend_covered: int = 5
    """Covered interventions each side needs before a trend is stated. Source: project
    choice."""
    worsening_boost: float = 1.5
    """Score multiplier for a PM whose recent rate is significantly worse. Source: project
    choice."""
    exclude_fragile: bool = True
    """Move PMs whose cuts are not concentrated in intervention windows to ``fragile``.
    Source: project choice (§6 evolution: attribute the incidents)."""
    rate_ratio_level: float = 0.95
    """Level, in (0, 1), of the in/out-of-window rate-ratio interval. Source: project
    choice."""
    max_evidence: int | None = None
    """Cap on listed interventions / cuts per candidate (unset: all). Source: project
    choice (presentation)."""

    def __post_init__(self) -> None:
        """Refuse thresholds no blacklist can use, with a one-line reason."""
        for name in ("min_covered", "recent_days"):
            checks.whole(self, name, least=1)
        checks.whole(self, "min_trend_covered", least=0)
        checks.whole(self, "max_evidence", least=1, optional=True)
        for name in ("funnel_level", "min_posterior"):
            checks.number(self, name, least=0, below=1)
        for name in ("trend_alpha", "rate_ratio_level"):
            checks.number(self, name, above=0, below=1)
        checks.number(self, "worsening_boost", least=1)
        checks.flag(self, "exclude_fragile")


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

    def to_json(self) -> str:
        """The contract's ``blacklist`` JSON, times in the period's zone with their offset."""
        zone = self.period.zone

        def rows(df):
            out = []
            for r in records(df, zone):
                r["evidence"] = self.evidence.get(r["pm_id"], {"interventions": [], "cuts": []})
                r["trend"] = {k: r.pop(f"trend_{k}") for k in _TREND}
                out.append(r)
            return out
        return jsontext.document({
            "as_of": self.period.end,
            "period": period_dict(self.period),
            "warnings": warnings(self.period),
            "method": "exact binomial funnel limits + beta-binomial empirical-Bayes shrinkage",
            "config": asdict(self.config),
            "network_rate": self.network_rate,
            "prior": self.prior,
            "baseline_available": self.baseline_available,
            "pms_assessed": len(self.table),
            "candidates": rows(self.candidates),
            "fragile": rows(self.fragile),
        }, zone)

    def to_dict(self) -> dict:
        """:meth:`to_json` as Python objects."""
        import json
        return json.loads(self.to_json())


_TREND = ("recent_covered", "recent_impacted", "recent_rate", "before_covered",
          "before_impacted", "before_rate", "p_value", "direction")

COLUMNS = ["rank", "pm_id", "incident_rate", "interventions", "covered_interventions",
           "impacted_interventions", "score", "shrunken_rate", "posterior_prob_above",
           "funnel_upper", "funnel_p_value", "clients_hs", "cuts_in_windows",
           "cuts_out_of_windows", "supervised", "baseline_cuts_in_windows",
           "baseline_cuts_out_of_windows", "rate_ratio", "rate_ratio_lo", "rate_ratio_hi",
           "attribution", "attribution_reason", "multi_interventions", "shared_cuts",
           "impacted_shared_only", "late_m1_interventions", "impacted_late_m1",
           *[f"trend_{k}" for k in _TREND]]


def _trend(corr: Correlation, cfg: BlacklistConfig) -> pd.DataFrame:
    pi = corr.interventions
    # the recent days end with the data: days without any record are no evidence
    recent = pi.hd >= corr.period.observed_end - dt.timedelta(days=cfg.recent_days)
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


def assess(pms: pd.DataFrame, trend: pd.DataFrame,
           cfg: BlacklistConfig) -> tuple[pd.DataFrame, float | None, dict, bool]:
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
    t = attribute(t)
    baseline = bool(t["supervised"].any()) if len(t) else False
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


def attribute(t: pd.DataFrame) -> pd.DataFrame:
    """``attribution`` of each PM, decided on its own evidence, and why (module doc, step 4):
    ``interventions`` when the rate-ratio interval lies above 1, ``fragile`` when it
    does not, ``unknown`` without a baseline or without a baseline cut in its windows."""
    supervised = t["supervised"].to_numpy(bool)
    inside = t["baseline_cuts_in_windows"].to_numpy() > 0
    above = np.nan_to_num(t["rate_ratio_lo"].to_numpy(float), nan=0.0) > 1.0
    attribution = np.where(~supervised | ~inside, "unknown",
                           np.where(above, "interventions", "fragile"))
    reason = np.select(
        [~supervised, ~inside, above],
        ["no line-supervision record at this PM: cuts outside windows are unknown",
         "no cut of a supervised OC in its windows: nothing to compare",
         "its windows catch the supervised OCs' cuts more often than the rest of the time"],
        "its windows catch cuts no more often than the rest of the time")
    return t.assign(attribution=attribution, attribution_reason=reason)


def blacklist(tables, since=None, as_of=None, config: BlacklistConfig | None = None,
              outage_config: c.OutageConfig | None = None,
              zone: str = localtime.UTC) -> Blacklist:
    """Rank the PMs whose incident rate is credibly above the network's (see module doc)."""
    config = config or BlacklistConfig()
    corr = correlate(tables, since=since, as_of=as_of, config=outage_config, zone=zone)
    try:
        pms = add_rate_ratio(corr.per_pm(), config.rate_ratio_level)
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
    """For each PM: its impacted interventions (with whether their M1 came late and whether
    they overlap another presence) and the counted cuts inside their windows (with their
    source and whether they count for another window too)."""
    if not pm_ids:
        return {}
    zone = corr.period.zone
    pi = corr.interventions
    imp = pi.filter(pi.pm_id.isin(pm_ids) & pi.impacted).select(
        "pm_id", "ref_interv_oi", "code_do", "hd", "hf", "cuts", "shared_cuts", "late_m1",
        "multi").order_by(["pm_id", "hd", "ref_interv_oi"])
    p = corr.pairs
    cuts = p.filter(p.pm_id.isin(pm_ids) & (p.position == "in") & p.attributed).select(
        "pm_id", "ref_interv_oi", "code_oc", "pto", "cut_at", "shared",
        source=c.source(p.from_m5, p.from_supervision)).order_by(
        ["pm_id", "cut_at", "code_oc", "pto", "ref_interv_oi"])  # a total order: stable evidence
    imp_df, cut_df = imp.to_pandas(), cuts.to_pandas()
    impacted_refs = set(imp_df["ref_interv_oi"])
    cut_df = cut_df[cut_df["ref_interv_oi"].isin(impacted_refs)]
    out: dict = {pm: {"interventions": [], "cuts": []} for pm in pm_ids}
    for key, frame in (("interventions", imp_df), ("cuts", cut_df)):
        for pm, g in frame.groupby("pm_id", sort=False):
            g = g.drop(columns="pm_id")
            out[pm][key] = records(g.head(cap) if cap else g, zone)
    return out
