"""The /alarms page alone: `panel serve dashboards/alarms.py` (database from $OPEVAL_DB).

`opeval serve` serves this page at `/alarms` together with every other registered page.
"""
from evaluation.serve import build_page

template = build_page("/alarms")
template.servable()
