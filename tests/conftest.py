"""Shared fixtures: a temporary store, the CLI in-process, paths to shared data."""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evaluation.cli import main as cli_main
from evaluation.store import db

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATASETS = SHARED / "datasets"


@pytest.fixture
def db_path(tmp_path) -> Path:
    """Path of a fresh (not yet created) database file."""
    return tmp_path / "opeval.duckdb"


@pytest.fixture
def con(db_path):
    """A writable connection to a fresh store."""
    c = db.connect(db_path)
    yield c
    c.close()


@pytest.fixture
def run_cli(db_path, capsys, monkeypatch):
    """Run ``opeval --db <tmp> ARGS`` in-process (``stdin``: the text it reads on standard
    input); return (exit code, stdout, stderr)."""
    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin + "\n"))
        code = cli_main(["--db", str(db_path), *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def opeval_subprocess(*args: str, **kw) -> subprocess.CompletedProcess:
    """Run the real ``opeval`` entry point in a child process."""
    return subprocess.run([sys.executable, "-m", "evaluation.cli", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, **kw.pop("env", {})},
                          check=kw.pop("check", False), **kw)


@contextlib.contextmanager
def holding(path: Path, read_only: bool = False, sql: str | None = None):
    """Another process (a notebook, say) holding a DuckDB connection to ``path`` for the
    body of the ``with``, having run ``sql`` on it; yields the process (its ``pid``)."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time
        c = duckdb.connect({str(path)!r}, read_only={read_only!r})
        if {sql!r}:
            c.execute({sql!r})
        print('ready', flush=True)
        time.sleep(300)""")], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def load_csv_texts(con, workdir: Path, files: dict[str, str], strict: bool = True) -> None:
    """Write each ``kind -> CSV text`` of a hand-made fixture into ``workdir`` and
    ingest it: strictly (a quarantined row raises) unless the fixture means to
    quarantine rows (``strict=False``)."""
    from evaluation.store.ingest import ingest

    workdir.mkdir(parents=True, exist_ok=True)
    for kind, text in files.items():
        f = workdir / f"{kind}.csv"
        f.write_text(text)
        ingest(con, kind, [f], strict=strict)


def pytest_collection_modifyitems(items):
    """Under ``pytest -n 2 --dist loadgroup`` (``make test``), the tests that share one
    costly session fixture run on one worker, so that it is built once: the SparkSession,
    the browser tests' server and Chromium, the notebooks' demo database."""
    for item in items:
        path = Path(str(item.fspath))
        if "spark" in getattr(item, "fixturenames", ()):
            group = "spark"
        elif path.parent.name == "browser":
            group = "browser"
        elif path.name == "test_notebooks.py":
            group = "notebooks"
        else:
            continue
        item.add_marker(pytest.mark.xdist_group(group))


def shared_dataset(*parts: str) -> Path:
    """A file under ../shared/datasets, or skip the test saying it is absent."""
    path = DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"external dataset {path} is absent (expected ../shared/datasets beside the checkout)")
    return path


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """The one local[2] SparkSession of the test run (slow to start; see tests/spark_support.py).

    Skips with the reason when Java or pyspark is absent, except in CI (.ci/run), where it fails.
    """
    from spark_support import local_spark
    session = local_spark(tmp_path_factory.mktemp("spark"))
    yield session
    session.stop()


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 made with openssl (the test is skipped without it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is absent: cannot make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def pdf_text(data: bytes) -> str:
    """The text of a PDF's pages, its generation time masked (two prints of one report
    differ only there)."""
    import re

    from pypdf import PdfReader
    raw = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "<time>", raw)
