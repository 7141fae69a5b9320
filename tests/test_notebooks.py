"""The notebooks: built from their jupytext sources, committed with outputs, opened by `make lab`.

Each ``notebooks/NN-*.py`` (jupytext percent format) runs top to bottom on a
small demo database built once per session (``opeval demo --scale small`` into
a temporary folder, ~10 s) and handed over through ``OPEVAL_DB``, in the
project's kernel, in the notebooks/ folder, with a time limit per cell. A
notebook fails the test when any cell raises — the notebooks assert what they
show (planted demo patterns, reconciled counts), so a wrong result fails too.
A notebook that reads ``../shared/datasets/NAME`` is skipped, with the reason,
when that dataset is absent. The committed ``.ipynb`` must hold the same cells
as its source, carry outputs, load nothing remote and name no path of the
machine that built it (``notebooks/build.py``, ``make notebooks``).
"""
from __future__ import annotations

import importlib.util
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from _lab import running_lab
from conftest import DATASETS, ROOT

_spec = importlib.util.spec_from_file_location("notebooks_build", ROOT / "notebooks" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

SOURCES = build.sources()
EXEC_MIME = "application/vnd.holoviews_exec.v0+json"   # a Panel or HoloViews object rendered by Bokeh
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def test_dataset_references_are_found():
    """The skip rule sees the two spellings notebooks use (so it can skip, or not)."""
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('SOURCE = ROOT / "shared" / "datasets" / "azure-pdm"'),
        nbformat.v4.new_code_cell('log = Path("../../shared/datasets/tep-alarms/x.csv")'),
        nbformat.v4.new_markdown_cell('datasets/ignored-in-markdown')])
    assert build.datasets_needed(nb) == {"azure-pdm", "tep-alarms"}
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        'DATASETS = ROOT.parent / "shared" / "datasets"\nlog = DATASETS / name')])
    assert build.datasets_needed(other) == {""}
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('DB = os.environ["OPEVAL_DB"]')])
    assert build.datasets_needed(plain) == set()
    nb.metadata["opeval"] = {"datasets": []}
    assert build.datasets_needed(nb) == set()


def test_leak_check_finds_remote_resources_and_machine_paths(tmp_path):
    """What :func:`build.leaks` flags, and the dormant library addresses it lets through."""
    import nbformat

    def nb_with(*outputs):
        cell = nbformat.v4.new_code_cell("x")
        cell.outputs = [nbformat.v4.new_output("display_data", data=d) for d in outputs]
        return nbformat.v4.new_notebook(cells=[cell])

    mathjax, tabler = build.DORMANT
    library = {build.LOAD_MIME: f't.src="{mathjax}";f._url="{tabler}"', "application/javascript": "same"}
    assert build.leaks(nb_with(library, {"text/html": '<a href="https://bokeh.org/">Bokeh</a>'})) == []
    for bad in ['<script src="https://example.org/x.js"></script>',
                '<link rel="stylesheet" href="//example.org/x.css">',
                '{"type":"object","name":"ImportedStyleSheet","attributes":{"url":"https://example.org/a.css"}}',
                "see https://cdn.example.org/lib",
                f'{{"name":"TablerIcon"}} {tabler}']:
        assert build.leaks(nb_with({"text/html": bad})), bad
    assert build.leaks(nb_with({"text/plain": f"database: {tmp_path / 'opeval.duckdb'}"}), tmp_path)
    assert build.leaks(nb_with({"text/plain": f"wrote {ROOT / 'notebooks'}"}))


def test_slim_keeps_one_copy_of_each_library_script():
    import nbformat
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        build.LOAD_MIME: "bokeh()", "application/javascript": "bokeh()"})]
    nb = nbformat.v4.new_notebook(cells=[cell])
    build.slim(nb)
    assert cell.outputs[0].data == {build.LOAD_MIME: "bokeh()"}


def test_there_are_notebooks_in_reading_order():
    names = [p.name for p in SOURCES]
    assert names and names[0].startswith("01-")
    assert all(re.match(r"\d\d[a-z]?-", n) for n in names), names


def test_each_committed_notebook_is_built_from_its_source():
    """Same cells in the .ipynb as in its jupytext source, and no .ipynb without a source."""
    import nbformat
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in SOURCES]
    for source in SOURCES:
        committed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        assert _cells(committed) == _cells(build.read_source(source)), \
            f"{source.name} changed since its .ipynb was built: run `make notebooks NOTEBOOKS={source.name}`"
        assert committed.metadata.kernelspec.name == build.KERNEL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_has_outputs_and_loads_nothing_remote(path):
    """Outputs committed, BokehJS inline once where the notebook plots, no remote resource, no local path."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "a cell was not executed"
    assert any(c.outputs for c in code), "the notebook was committed without outputs"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert build.leaks(nb) == []
    libraries = [o for c in code for o in c.outputs
                 if len(o.get("data", {}).get(build.LOAD_MIME, "")) > 1_000_000]
    plots = any("pn.extension(inline=True)" in c.source for c in code)
    assert len(libraries) == (1 if plots else 0), "BokehJS and Panel inline exactly once in a plotting notebook"
    for cell in (c for c in code if "pn.widgets." in c.source):  # a cell making a widget shows it
        assert any(EXEC_MIME in o.get("data", {}) for o in cell.outputs), cell.source


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    return build.demo_db(tmp_path_factory.mktemp("notebooks-demo"))


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_runs_on_the_demo_database(source, demo_db):
    nb = build.read_source(source)
    missing = build.missing_datasets(nb)
    if missing:
        pytest.skip(f"{source.name} reads ../shared/datasets/{', '.join(missing)}, absent here ({DATASETS})")
    # CellExecutionError (with the cell and its traceback) if any cell fails
    assert build.run(nb, demo_db, demo_db.parent) == []
    assert any(c.outputs for c in nb.cells if c.cell_type == "code"), "the notebook showed nothing"


@pytest.mark.slow
def test_make_lab_serves_the_notebooks_with_the_project_kernel(tmp_path):
    """`make lab` on 127.0.0.1 (random port, token, no browser): the opeval kernel runs this venv's
    Python, and the committed notebooks open trusted (their plots render without re-running)."""
    with running_lab(tmp_path) as lab:
        specs = lab.get("/api/kernelspecs")
        assert "opeval" in specs["kernelspecs"], sorted(specs["kernelspecs"])
        argv = specs["kernelspecs"]["opeval"]["spec"]["argv"]
        assert Path(argv[0]).resolve() == Path(sys.executable).resolve()
        with pytest.raises(urllib.error.HTTPError):  # the token is required
            urllib.request.urlopen(f"{lab.url}/api/kernelspecs", timeout=10)
        plotting = next(p for p in NOTEBOOKS if p.name.startswith("04-"))
        model = lab.get(f"/api/contents/{plotting.name}")
        code = [c for c in model["content"]["cells"] if c["cell_type"] == "code"]
        assert code and all(c["metadata"].get("trusted") for c in code), "make lab trusts the notebooks"
