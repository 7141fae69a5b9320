"""The /evaluation page alone: `panel serve dashboards/evaluation.py` (database from $OPEVAL_DB).

`opeval serve` serves this page at `/evaluation` together with every other registered page.
"""
from evaluation.serve import build_page

template = build_page("/evaluation")
template.servable()
