"""The /data page alone: `panel serve dashboards/data.py` (database from $OPEVAL_DB).

`opeval serve` serves this page at `/data` together with every other registered page.
"""
from evaluation.serve import build_page

template = build_page("/data")
template.servable()
