"""Small-sample statistics on per-PM counts (numpy/scipy on small results).

- :func:`rate_ratio_ci`: in-window vs out-of-window cut rate of a PM, the
  *conditional* exact interval: given ``n = a + b`` cuts, the in-window count
  ``a`` is Binomial(n, π) with π = T₁·RR / (T₁·RR + T₀); a Clopper–Pearson
  interval on π maps to one on RR = π/(1−π) · T₀/T₁. Exact for any counts,
  defined with zeros (lower bound 0 when a = 0, upper ∞ when b = 0).
- :func:`funnel`: exact binomial funnel-plot limits around the network rate.
- :func:`fit_beta_binomial` / :func:`posterior`: empirical-Bayes shrinkage of
  each PM's incident rate towards the network's, the prior fitted by maximum
  likelihood of the beta-binomial over all PMs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

# scipy.stats (a second of imports) is needed by the blacklist's funnel and tests only;
# the rate ratio every outage report carries uses the special functions directly.


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def rate_ratio_ci(a, t1, b, t0, level: float = 0.95):
    """Point estimate, interval and one-sided p-value (RR > 1) of (a/t1) / (b/t0).

    ``a``/``b``: counts in/out of the windows; ``t1``/``t0``: their exposures
    (hours). Returns four arrays: ``rr``, ``lo``, ``hi``, ``p_greater``. NaN
    where there is no exposure on either side or no cut at all.
    """
    a, b, t1, t0 = _arr(a), _arr(b), _arr(t1), _arr(t0)
    n = a + b
    ok = (t1 > 0) & (t0 > 0) & (n > 0)
    alpha = 1.0 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = np.where(ok, (a / np.where(t1 > 0, t1, 1)) / (b / np.where(t0 > 0, t0, 1)), np.nan)
        # Clopper–Pearson: beta quantiles (betaincinv is the beta distribution's ppf)
        p_lo = np.where(a > 0, special.betaincinv(np.maximum(a, 1e-12), b + 1, alpha / 2), 0.0)
        p_hi = np.where(b > 0, special.betaincinv(a + 1, np.maximum(b, 1e-12), 1 - alpha / 2),
                        1.0)
        scale = np.where(ok, t0 / np.where(t1 > 0, t1, 1), np.nan)
        lo = np.where(ok, p_lo / (1 - p_lo) * scale, np.nan)
        hi = np.where(ok & (p_hi < 1), p_hi / (1 - p_hi) * scale, np.where(ok, np.inf, np.nan))
        pi0 = np.where(ok, t1 / np.where(ok, t1 + t0, 1), np.nan)
        # P(X ≥ a) for X ~ Binomial(n, π₀): the binomial survival function at a − 1
        p_greater = np.where(ok, special.bdtrc(a - 1, n.astype(np.int64), np.where(ok, pi0, 0.5)), np.nan)
    rr = np.where(ok & (b == 0) & (a > 0), np.inf, rr)
    return rr, lo, hi, p_greater


def funnel(impacted, covered, p0: float, level: float = 0.998):
    """Exact binomial funnel around ``p0``: upper limit (as a rate) and one-sided p-value.

    A PM is *above* the funnel when its impacted count exceeds the ``level``
    quantile of Binomial(covered, p0), i.e. ``p_value = P(X ≥ impacted) < 1 − level``.
    """
    from scipy import stats
    x, n = _arr(impacted), _arr(covered)
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = np.where(n > 0, stats.binom.ppf(level, n, p0) / np.where(n > 0, n, 1), np.nan)
        lower = np.where(n > 0, stats.binom.ppf(1 - level, n, p0) / np.where(n > 0, n, 1), np.nan)
    p_value = np.where(n > 0, stats.binom.sf(x - 1, n, p0), np.nan)
    return upper, lower, p_value


@dataclass(frozen=True)
class BetaPrior:
    """Beta(alpha, beta) prior of PM incident rates; ``mean`` = alpha/(alpha+beta)."""

    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def strength(self) -> float:
        """alpha + beta: how many interventions' worth of weight the network rate has."""
        return self.alpha + self.beta


def fit_beta_binomial(impacted, covered, max_strength: float = 1e6) -> BetaPrior:
    """Maximum-likelihood beta-binomial prior over PMs with at least one covered intervention.

    Parametrised by the mean μ (logit) and the strength M = α + β (log); M is
    capped at ``max_strength`` (no measurable spread between PMs → almost
    complete shrinkage to the network rate).
    """
    x, n = _arr(impacted), _arr(covered)
    keep = n > 0
    x, n = x[keep], n[keep]
    if len(n) == 0 or x.sum() == 0:  # nothing impacted anywhere: every rate shrinks to 0
        return BetaPrior(alpha=1e-9, beta=max_strength)
    p0 = float(np.clip(x.sum() / n.sum(), 1e-6, 1 - 1e-6))
    if x.sum() == n.sum():
        return BetaPrior(alpha=p0 * max_strength, beta=(1 - p0) * max_strength)

    def nll(theta):
        mu = special.expit(theta[0])
        m = np.exp(theta[1])
        a, b = mu * m, (1 - mu) * m
        ll = (special.betaln(x + a, n - x + b) - special.betaln(a, b))
        return -ll.sum()

    best = None
    for m0 in (2.0, 20.0, 200.0):
        from scipy import optimize
        res = optimize.minimize(nll, x0=[special.logit(p0), np.log(m0)], method="L-BFGS-B",
                                bounds=[(-15, 15), (np.log(1e-3), np.log(max_strength))])
        if best is None or res.fun < best.fun:
            best = res
    mu, m = float(special.expit(best.x[0])), float(np.exp(best.x[1]))
    return BetaPrior(alpha=mu * m, beta=(1 - mu) * m)


def posterior(impacted, covered, prior: BetaPrior, p_ref: float):
    """Shrunken rate (posterior mean) and P(rate > p_ref) for each PM."""
    x, n = _arr(impacted), _arr(covered)
    a, b = prior.alpha + x, prior.beta + n - x
    return a / (a + b), special.betaincc(a, b, p_ref)   # the beta survival function


def two_proportion_p(x1, n1, x2, n2):
    """Two-sided Fisher exact p-value for x1/n1 vs x2/n2 (one pair; used on few candidates)."""
    table = [[int(x1), int(n1 - x1)], [int(x2), int(n2 - x2)]]
    from scipy import stats
    return float(stats.fisher_exact(table).pvalue)
