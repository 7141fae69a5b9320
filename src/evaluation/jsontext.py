"""JSON text of results: small values as usual, tables fast, times with their offset.

A result is a dict whose values are plain values, nested dicts and lists, or
pandas frames. :func:`document` renders it: plain values with :mod:`json`
(indented), each frame as one array of objects written by pandas' C writer
rather than value by value — a per-PM table of 100 000 rows takes a fraction
of a second. Times (naive UTC in every table) are printed in
the database's zone with their offset (:func:`evaluation.localtime.iso`); NaN,
NA and ±inf become ``null``.
"""
from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd

from .localtime import UTC, iso


def clean(v, zone: str = UTC):
    """A JSON-safe value: NaN/NA/±inf → None, numpy scalars → Python, times → ISO with offset."""
    if isinstance(v, dict):
        return {k: clean(x, zone) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [clean(x, zone) for x in v]
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return iso(v, zone)
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if (math.isnan(f) or math.isinf(f)) else f
    return v


def _times(s: pd.Series, zone: str) -> pd.Series:
    """A datetime column as ISO 8601 text in ``zone`` with its offset (``+01:00``)."""
    t = s.dt.tz_localize(UTC) if s.dt.tz is None else s.dt.tz_convert(UTC)
    text = t.dt.tz_convert(zone).dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    return text.str.replace(r"([+-]\d\d)(\d\d)$", r"\1:\2", regex=True).where(s.notna(), None)


def frame(df: pd.DataFrame, zone: str = UTC) -> str:
    """The rows of ``df`` as a JSON array of objects."""
    if df.empty:
        return "[]"
    out = {}
    for name, col in df.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            col = _times(col, zone)
        elif pd.api.types.is_float_dtype(col):
            col = col.where(np.isfinite(col.to_numpy(dtype=float, na_value=np.nan)), np.nan)
        elif col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) != "string":
            col = col.map(lambda v: clean(v, zone), na_action="ignore")
        out[name] = col
    return pd.DataFrame(out).to_json(orient="records", double_precision=15, force_ascii=False,
                                     date_format="iso")


def document(parts: dict, zone: str = UTC, indent: int = 2) -> str:
    """``parts`` as an indented JSON document; frames anywhere in it written by :func:`frame`."""
    frames: dict[str, str] = {}

    def mark(v):
        if isinstance(v, pd.DataFrame):
            key = f"\x00frame{len(frames)}\x00"
            frames[key] = frame(v, zone)
            return key
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mark(x) for x in v]
        return clean(v, zone)

    text = json.dumps(mark(parts), indent=indent, ensure_ascii=False)
    for key, body in frames.items():
        text = text.replace(json.dumps(key), body, 1)
    return text
