"""A DO's timestamp quality as one share, from the per-DO figures of the outage report.

e-Intervention's timestamp-quality chapter asks that HD be declared at most 5 minutes
before the first manipulation and never after it, and HF likewise at the end; a counted
cut within that tolerance before HD, or after HF, shows the timestamp was wrong
(``interventions_cut_before_hd``, ``interventions_cut_after_hf``); an intervention without
HF has no usable end at all (``missing_hf``). An intervention declares two timestamps;
the quality is the share of them that hold. The three counts never overlap on one
timestamp (without HF there is no window, so no cut after it), so the share is exact.
An HD is judged only where its window is known.
"""
from __future__ import annotations


def timestamp_quality(do: dict) -> float | None:
    """``1 − (cut before HD + cut after HF + missing HF) / (2 × interventions)`` of one
    row of the report's ``dos``; None without an intervention."""
    n = do["interventions"]
    if not n:
        return None
    wrong = do["interventions_cut_before_hd"] + do["interventions_cut_after_hf"] + do["missing_hf"]
    return 1.0 - wrong / (2 * n)
