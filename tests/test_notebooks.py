"""Every notebook in notebooks/ runs top to bottom on a small demo database.

The database is built once per session (``opeval demo --scale small`` into a
temporary folder, ~10 s) and handed to the notebooks through ``OPEVAL_DB``;
each notebook is executed by nbclient in a kernel of this interpreter (the
venv's ipykernel), in the notebooks/ folder, with a time limit per cell. A
notebook fails the test when any cell raises — the notebooks assert what
they show (planted demo patterns, reconciled counts), so a wrong result fails
too. A notebook that reads ``../shared/datasets/NAME`` is skipped, with the
reason, when that dataset is absent.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATASETS, ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 300

# "shared" / "datasets" / "azure-pdm"  or  shared/datasets/tep-alarms
_DATASET_REF = re.compile(r"""datasets["']?\s*(?:/\s*["']|/)([A-Za-z0-9][A-Za-z0-9_.-]*)""")


def datasets_needed(nb) -> set[str]:
    """The ../shared/datasets entries a notebook reads (metadata ``opeval.datasets`` or its code).

    A notebook that names the shared datasets folder without a recognisable entry
    (e.g. ``DATASETS / name``) needs the folder itself: ``{""}``.
    """
    declared = nb.metadata.get("opeval", {}).get("datasets")
    if declared is not None:
        return set(declared)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    found = set(_DATASET_REF.findall(code))
    if not found and re.search(r"shared", code) and re.search(r"datasets", code, re.IGNORECASE):
        found = {""}
    return found


def test_dataset_references_are_found():
    """The skip rule sees the two spellings notebooks use (so it can skip, or not)."""
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('SOURCE = ROOT / "shared" / "datasets" / "azure-pdm"'),
        nbformat.v4.new_code_cell('log = Path("../../shared/datasets/tep-alarms/x.csv")'),
        nbformat.v4.new_markdown_cell('datasets/ignored-in-markdown')])
    assert datasets_needed(nb) == {"azure-pdm", "tep-alarms"}
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        'DATASETS = ROOT.parent / "shared" / "datasets"\nlog = DATASETS / name')])
    assert datasets_needed(other) == {""}
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('DB = os.environ["OPEVAL_DB"]')])
    assert datasets_needed(plain) == set()
    nb.metadata["opeval"] = {"datasets": []}
    assert datasets_needed(nb) == set()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("notebooks-demo")
    db = root / "opeval.duckdb"
    run = subprocess.run([sys.executable, "-m", "evaluation.cli", "--db", str(db), "demo",
                          "--scale", "small", "--out", str(root / "files"), "--no-progress"],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    return db


def test_there_are_notebooks_in_reading_order():
    names = [p.name for p in NOTEBOOKS]
    assert names and names[0].startswith("01-")
    assert all(re.match(r"\d\d[a-z]?-", n) for n in names), names


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_demo_database(path, demo_db, monkeypatch):
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    missing = sorted(d for d in datasets_needed(nb) if not (DATASETS / d).exists())
    if missing:
        pytest.skip(f"{path.name} reads ../shared/datasets/{', '.join(missing)}, absent here "
                    f"({DATASETS})")
    monkeypatch.setenv("OPEVAL_DB", str(demo_db))
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # CellExecutionError (with the cell and its traceback) if any cell fails
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    assert not errors
    assert any(c.outputs for c in nb.cells if c.cell_type == "code"), "the notebook showed nothing"
