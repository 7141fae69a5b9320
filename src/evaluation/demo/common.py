"""Shared pieces of the demo generator: scales, the fixed calendar, time and file helpers.

Everything is drawn from one :class:`numpy.random.Generator` per part (seeded
from the user's seed and the part's name), so a part's output does not change
when another part draws more or fewer numbers. Times are handled as int64
seconds since the Unix epoch (UTC) and turned into ``datetime64[s]`` columns at
the end.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# The demo world ends here: the data describe the two years (security side) and
# the six months (network side) before this instant. Analyses run on the demo
# database should use it as their ``as_of``; it is stored as the ``demo_as_of``
# setting.
AS_OF = pd.Timestamp("2025-07-01 00:00:00")
FAULTS_FROM = pd.Timestamp("2023-07-01 00:00:00")      # faults and maintenance
ALARMS_FROM = pd.Timestamp("2025-01-01 00:00:00")      # alarm instances
NETWORK_FROM = pd.Timestamp("2025-01-01 00:00:00")     # interventions and cuts

HOUR = 3600
DAY = 86400
MINUTE = 60


def secs(ts: pd.Timestamp | str) -> int:
    """Seconds since the epoch of a (naive, UTC) timestamp."""
    return int(pd.Timestamp(ts).value // 1_000_000_000)


T_END = secs(AS_OF)


@dataclass(frozen=True)
class Scale:
    """Sizes of one demo scale (the planted patterns are the same at every scale).

    ``systems`` and ``pms`` are per shard; a scale of several shards is generated
    shard by shard (one file per shard and table), so memory stays that of one shard.
    """

    name: str
    systems: int
    devices_per_system: tuple[int, int]   # uniform range
    fault_rate: float                     # faults per device-year (before the age factor)
    alarm_rate: float                     # multiplier of the alarm definitions' base rates
    pms: int
    interventions_per_line_month: float
    shards: int = 1


@dataclass(frozen=True)
class Shard:
    """One shard of a scale: its number and where its identifiers start.

    Shard 0 holds the planted patterns; the others are background only. A
    shard's random numbers come from ``seed/index`` (shard 0: ``seed`` itself).
    """

    index: int = 0
    system_base: int = 0     # systems before this shard
    pm_base: int = 0         # PMs before this shard
    line_base: int = 0       # customer lines before this shard

    @property
    def planted(self) -> bool:
        return self.index == 0

    def seed(self, seed: int) -> int | str:
        return seed if self.index == 0 else f"{seed}/{self.index}"


SINGLE = Shard()  # the only shard of a single-shard scale


SCALES = {
    "small": Scale("small", systems=12, devices_per_system=(40, 80), fault_rate=0.3,
                   alarm_rate=1.0, pms=40, interventions_per_line_month=0.03),
    "medium": Scale("medium", systems=320, devices_per_system=(40, 110), fault_rate=0.3,
                    alarm_rate=1.4, pms=1300, interventions_per_line_month=0.03),
    "large": Scale("large", systems=320, devices_per_system=(40, 110), fault_rate=0.3,
                   alarm_rate=1.4, pms=1300, interventions_per_line_month=0.03, shards=10),
}


def rng_for(seed: int | str, part: str) -> np.random.Generator:
    """An independent generator for one part of the dataset, fixed by (seed, part)."""
    digest = hashlib.sha256(f"{seed}:{part}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def to_dt(s: np.ndarray) -> pd.Series:
    """int64 seconds (with a NaN/None mask given as float NaN) -> datetime64[s] column."""
    arr = np.asarray(s, dtype="float64")
    out = np.full(arr.shape, np.datetime64("NaT"), dtype="datetime64[s]")
    ok = ~np.isnan(arr)
    out[ok] = arr[ok].astype("int64").astype("datetime64[s]")
    return pd.Series(out)


def to_date(s: np.ndarray) -> pd.Series:
    """int64 seconds -> datetime64 at day precision (written as a date)."""
    arr = np.asarray(s, dtype="float64")
    out = np.full(arr.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    ok = ~np.isnan(arr)
    out[ok] = (arr[ok].astype("int64") // DAY).astype("datetime64[D]")
    return pd.Series(out)


def ids(prefix: str, n: int, width: int, start: int = 1) -> np.ndarray:
    """``prefix`` + zero-padded numbers ``start..start+n-1`` (vectorised)."""
    nums = np.char.zfill(np.arange(start, start + n).astype(str), width)
    return np.char.add(prefix, nums).astype(object)


def zpad(values: np.ndarray, width: int) -> np.ndarray:
    return np.char.zfill(np.asarray(values, dtype=np.int64).astype(str), width)


def pick(rng: np.random.Generator, options, n: int, p=None) -> np.ndarray:
    """``n`` choices among ``options`` (array of objects) with probabilities ``p``."""
    options = np.asarray(options, dtype=object)
    return options[rng.choice(len(options), size=n, p=p)]


def lognormal_h(rng: np.random.Generator, median_h: float, sigma: float, n: int) -> np.ndarray:
    """Durations in seconds, lognormal with the given median (hours) and log-sd."""
    return np.exp(np.log(median_h * HOUR) + sigma * rng.standard_normal(n))


# ------------------------------------------------------------------ writing

def _iso_ts(col: pd.Series) -> pd.Series:
    return col.dt.strftime("%Y-%m-%dT%H:%M:%S").where(col.notna(), "")


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """CSV with ISO times (no offset = UTC), dates as YYYY-MM-DD, empty for missing."""
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            if c.endswith("_on"):
                out[c] = s.dt.strftime("%Y-%m-%d").where(s.notna(), "")
            else:
                out[c] = _iso_ts(s)
    out.to_csv(path, index=False, lineterminator="\n")
    return path


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    """Parquet (zstd) without the pandas index; byte-identical for identical frames."""
    df.to_parquet(path, index=False, compression="zstd", engine="pyarrow")
    return path
