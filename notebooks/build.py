"""Builds the notebooks from their jupytext sources and executes them (``make notebooks``).

Each ``NN-name.py`` here (jupytext percent format: ``# %%`` code cells,
``# %% [markdown]`` text cells) becomes ``NN-name.ipynb`` with its outputs,
executed top to bottom by nbclient in the project's kernel, with the working
directory in this folder, on a small demo database built for the run
(``opeval demo --scale small``, deterministic) unless ``--db`` names one. A
notebook that reads ``../shared/datasets/NAME`` is kept as committed when that
dataset is absent. A notebook whose outputs name a machine-specific path or
load a remote resource (:func:`leaks`) is not written: the build fails instead.

BokehJS and Panel's scripts are inlined once per plotting notebook (about
3 MB): the copy that classic Jupyter Notebook reads (``application/javascript``)
is dropped where JupyterLab's (``application/vnd.holoviews_load.v0+json``)
holds the same script (:func:`slim`).

    .venv/bin/python notebooks/build.py                 # every notebook
    .venv/bin/python notebooks/build.py 04-outage-correlation-and-blacklist.py
"""
from __future__ import annotations

import argparse
import getpass
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATASETS = ROOT.parent / "shared" / "datasets"
KERNEL = "opeval"          # registered by `make install` (ipykernel install --sys-prefix --name opeval)
CELL_TIMEOUT_S = 300

LOAD_MIME = "application/vnd.holoviews_load.v0+json"   # a library or comm script, run by JupyterLab's pyviz extension
# a remote script, image, stylesheet or style import, or any CDN address, in an output (a link to a page,
# <a href=...>, loads nothing and is allowed)
_REMOTE = re.compile(r"""src\\*["']?\s*[=:]\s*\\*["']\s*(?:https?:)?//"""
                     r"""|<link[^>]*href\s*=\s*\\*["']\s*(?:https?:)?//"""
                     r"""|(?:url|@import)\\*["']?\s*[:(]?\s*\\*["']?\s*(?:https?:)?//"""
                     r"""|https?://[^\s"'<>\\]*cdn""", re.IGNORECASE)
# addresses that BokehJS and Panel carry in their own code and fetch only for a feature these
# notebooks do not use (LaTeX labels through MathJax, Tabler icons): inlining the libraries copies them
DORMANT = {"https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-svg.js": ("TeX", "MathML", "MathText"),
           "https://cdn.jsdelivr.net/npm/@tabler/icons-webfont@latest": ("TablerIcon",)}
# "shared" / "datasets" / "azure-pdm"  or  shared/datasets/tep-alarms
_DATASET_REF = re.compile(r"""datasets["']?\s*(?:/\s*["']|/)([A-Za-z0-9][A-Za-z0-9_.-]*)""")


def sources() -> list[Path]:
    """The notebooks' jupytext sources, in reading order."""
    return sorted(p for p in HERE.glob("*.py") if re.match(r"\d\d[a-z]?-", p.name))


def read_source(source: Path):
    """The notebook a source describes (cells and metadata, no outputs), its cells numbered
    ``c000``, ``c001``… (jupytext draws random ids: a rebuild would rewrite every one)."""
    import jupytext
    nb = jupytext.read(source)
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i:03d}"
    return nb


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


def missing_datasets(nb) -> list[str]:
    return sorted(d for d in datasets_needed(nb) if not (DATASETS / d).exists())


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def slim(nb) -> None:
    """Drop each ``application/javascript`` copy of a script that the JupyterLab mimetype already holds."""
    for out in _outputs(nb):
        data = out.get("data", {})
        if LOAD_MIME in data and data.get("application/javascript") == data[LOAD_MIME]:
            del data["application/javascript"]


def leaks(nb, *paths: Path) -> list[str]:
    """What a notebook's outputs should not contain: a remote resource or CDN address, a path of this machine.

    The dormant addresses of :data:`DORMANT` are allowed in the inlined libraries only, and only
    while no output uses the feature that would fetch them. ``paths`` are folders whose name must
    not appear (the scratch folders of the run); the folder holding the repository (and
    ../shared), the home folder, the temporary folder and the user's name are always checked.
    """
    import json
    libraries = "\n".join(json.dumps(o) for o in _outputs(nb) if LOAD_MIME in o.get("data", {}))
    others = "\n".join(json.dumps(o) for o in _outputs(nb) if LOAD_MIME not in o.get("data", {}))
    for url in DORMANT:
        libraries = libraries.replace(url, "")
    found = [f"remote resource {m.group(0)!r}" for text in (libraries, others) for m in _REMOTE.finditer(text)][:3]
    found += [f"{model} model (fetches {url})" for url, models in DORMANT.items() for model in models
              if re.search(rf'\\*"name\\*"\s*:\s*\\*"{model}\\*"', others)]
    text = libraries + others
    user = getpass.getuser()
    names = {str(p) for p in (ROOT.parent, Path.home(), Path(tempfile.gettempdir()), *paths)} - {"/"}
    found += [f"machine path {name!r}" for name in sorted(names) if name in text]
    if re.search(rf"\b{re.escape(user)}\b", text) and user not in {"root", "user", "opeval"}:
        found.append(f"user name {user!r}")
    return found


def execute(nb, db: Path, kernel: str = KERNEL) -> None:
    """Run every cell of ``nb`` in place on database ``db`` (CellExecutionError if a cell raises)."""
    import nbclient
    previous = os.environ.get("OPEVAL_DB")
    os.environ["OPEVAL_DB"] = str(db)
    try:
        nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name=kernel,
                                resources={"metadata": {"path": str(HERE)}}).execute()
    finally:
        if previous is None:
            os.environ.pop("OPEVAL_DB")
        else:
            os.environ["OPEVAL_DB"] = previous


def run(nb, db: Path, *scratch: Path) -> list[str]:
    """Execute ``nb`` on ``db`` and keep one copy of each library script (:func:`slim`); what
    its outputs should not hold (:func:`leaks`, ``scratch`` the run's own folders)."""
    execute(nb, db)
    slim(nb)
    return leaks(nb, *scratch)


def demo_db(folder: Path) -> Path:
    """A small demo database built in ``folder`` (the one the notebooks' asserts are written for)."""
    db = folder / "opeval.duckdb"
    subprocess.run([sys.executable, "-m", "evaluation.cli", "--db", str(db), "demo", "--scale", "small",
                    "--out", str(folder / "files"), "--no-progress"], check=True, capture_output=True)
    return db


def build(source: Path, db: Path, scratch: Path) -> Path | None:
    """Execute ``source`` and write its ``.ipynb``; None when a dataset it reads is absent."""
    import jupytext
    nb = read_source(source)
    missing = missing_datasets(nb)
    if missing:
        print(f"{source.name}: kept as committed, ../shared/datasets/{', '.join(missing)} absent here")
        return None
    found = run(nb, db, scratch, db.parent)
    if found:
        raise SystemExit(f"{source.name}: not written, its outputs hold {'; '.join(found)}")
    target = source.with_suffix(".ipynb")
    jupytext.write(nb, target, fmt="ipynb")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", help="sources to build (default: every NN-*.py here)")
    ap.add_argument("--db", type=Path, help="the demo database to run on (default: a new small one)")
    args = ap.parse_args(argv)
    chosen = [HERE / Path(n).name for n in args.notebooks] or sources()
    with tempfile.TemporaryDirectory(prefix="opeval-notebooks-") as tmp:
        scratch = Path(tmp)
        db = args.db.resolve() if args.db else demo_db(scratch)
        for source in chosen:
            target = build(source, db, scratch)
            if target is not None:
                print(f"{target.name}: {target.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
