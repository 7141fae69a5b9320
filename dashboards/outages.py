"""The /outages page alone: `panel serve dashboards/outages.py` (database from $OPEVAL_DB).

`opeval serve` serves this page at `/outages` together with every other registered page.
"""
from evaluation.serve import build_page

template = build_page("/outages")
template.servable()
