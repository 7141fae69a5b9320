"""The /alerts page alone: `panel serve dashboards/alerts.py` (database from $OPEVAL_DB).

`opeval serve` serves this page at `/alerts` together with every other registered page.
"""
import sys
from pathlib import Path

# `panel serve` puts this folder first on sys.path, where evaluation.py would hide the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from evaluation.serve import build_page  # noqa: E402

template = build_page("/alerts")
template.servable()
