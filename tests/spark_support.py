"""Local Spark for the tests, and a comparison helper for engine parity.

``local_spark()`` starts the one SparkSession of a test run (the session-scoped
``spark`` fixture in conftest.py calls it). ``assert_same`` compares analysis
results from two engines: data frames order-independently, floats to a
tolerance, nested dicts/lists/dataclasses recursively.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

LOCAL_SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "1g",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.warehouse.dir": "",  # filled in by local_spark
}


def java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and (Path(home) / "bin" / "java").exists()))


def missing(reason: str):
    """Skip for want of ``reason``, except in CI, where Spark's tests must run: fail."""
    if os.environ.get("OPEVAL_REQUIRE_SPARK") or os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must provide it (.ci/run installs Java, make test pyspark)")
    pytest.skip(reason)


def local_spark(tmp: Path):
    """A ``local[2]`` SparkSession with opeval's settings, or skip/fail when Spark cannot run.

    Without Java (or pyspark) the Spark tests skip with the reason, except in CI
    (``$OPEVAL_REQUIRE_SPARK`` or ``$CI`` set; .ci/run sets the first), where they
    fail: ``make test`` installs Java and the spark extra.
    """
    if not java_available():
        missing("no Java runtime (java not on PATH, JAVA_HOME unset): Spark cannot start")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing("pyspark is not installed (pip install -e '.[spark]')")
    from evaluation.store.engine import spark_session

    conf = dict(LOCAL_SPARK_CONF, **{"spark.sql.warehouse.dir": str(tmp / "warehouse")})
    return spark_session("local[2]", conf=conf, app_name="opeval-tests")


# ------------------------------------------------------------------ comparison


def _norm_scalar(v):
    """One representation per value whatever the engine returned."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, np.datetime64):
        v = pd.Timestamp(v).to_pydatetime()
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        v = v.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(v, pd.Timedelta):
        return v.to_pytimedelta()
    if isinstance(v, np.ndarray):
        return [_norm_scalar(x) for x in v.tolist()]
    return v


def _sort_key(row: tuple):
    # Floats are rounded in the key so that two engines' last-bit differences do
    # not change the row order; None sorts first.
    return tuple((0, "") if v is None else (1, f"{round(v, 6):.6f}") if isinstance(v, float)
                 else (1, str(v)) for v in row)


def _close(a, b, rel: float, abs_: float) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)
    return a == b


def frame_rows(df: pd.DataFrame) -> list[tuple]:
    """The rows of ``df`` as normalised tuples, sorted (engine order does not count)."""
    rows = [tuple(_norm_scalar(v) for v in r) for r in df.itertuples(index=False, name=None)]
    return sorted(rows, key=_sort_key)


def assert_frames_same(a: pd.DataFrame, b: pd.DataFrame, rel: float = 1e-9, abs_: float = 1e-9,
                       what: str = "frame") -> None:
    """Same columns (in order), same multiset of rows; floats within tolerance."""
    assert list(a.columns) == list(b.columns), f"{what}: columns {list(a.columns)} != {list(b.columns)}"
    assert len(a) == len(b), f"{what}: {len(a)} rows != {len(b)} rows"
    ra, rb = frame_rows(a), frame_rows(b)
    for i, (x, y) in enumerate(zip(ra, rb, strict=True)):
        bad = [(c, u, v) for c, u, v in zip(a.columns, x, y, strict=True) if not _close(u, v, rel, abs_)]
        assert not bad, f"{what}: sorted row {i} differs in {bad}\n  {x}\n  {y}"


def assert_same(a, b, rel: float = 1e-9, abs_: float = 1e-9, path: str = "result") -> None:
    """Recursive comparison of two analysis results (frames order-independent)."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert dataclasses.is_dataclass(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
        a, b = dataclasses.asdict(a), dataclasses.asdict(b)
    if isinstance(a, pd.DataFrame):
        assert isinstance(b, pd.DataFrame), f"{path}: DataFrame vs {type(b).__name__}"
        assert_frames_same(a, b, rel, abs_, path)
        return
    if isinstance(a, pd.Series):
        assert_frames_same(a.to_frame(), b.to_frame(), rel, abs_, path)
        return
    if isinstance(a, dict):
        assert isinstance(b, dict), f"{path}: dict vs {type(b).__name__}"
        assert set(a) == set(b), f"{path}: keys {sorted(set(a) ^ set(b))} only on one side"
        for k in a:
            assert_same(a[k], b[k], rel, abs_, f"{path}.{k}")
        return
    if isinstance(a, list | tuple):
        assert isinstance(b, list | tuple), f"{path}: list vs {type(b).__name__}"
        assert len(a) == len(b), f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, rel, abs_, f"{path}[{i}]")
        return
    x, y = _norm_scalar(a), _norm_scalar(b)
    assert _close(x, y, rel, abs_), f"{path}: {x!r} != {y!r}"
