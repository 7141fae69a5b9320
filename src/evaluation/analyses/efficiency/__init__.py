"""Chapter 6 operation evaluation (DB33/T 830-2011, 3.4 and 6.1-6.3).

"Judge device effectiveness, test system performance and analyse potential
threats" after maintenance and repair, as an audit with findings, a
classification, a disposition (6.3) and a validity period (6.1).

* :mod:`.config` -- every threshold, in one dataclass;
* :mod:`.metrics` -- the metrics as engine-agnostic Ibis expressions;
* :mod:`.survival` -- expected failures next cycle (censored Weibull or Kaplan-Meier);
* :mod:`.audit` -- findings, classification, disposition, validity;
* :mod:`.evaluate` -- runs it all, returns JSON-ready per-system results;
* :mod:`.azure_pdm` -- maps the Azure predictive-maintenance sample onto the contract.
"""
from .config import DEFAULT, EvaluationConfig
from .evaluate import Evaluation, evaluate

__all__ = ["DEFAULT", "Evaluation", "EvaluationConfig", "evaluate"]
