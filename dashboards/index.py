"""The index page alone: `panel serve dashboards/index.py` (database from $OPEVAL_DB).

`opeval serve` serves this page at `/` together with every other registered page.
"""
from evaluation.serve import build_page

template = build_page("/")
template.servable()
