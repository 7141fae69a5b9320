"""What every notebook generator (make_*.py) shares: cell constructors and the writer.

Run a generator from anywhere (``.venv/bin/python notebooks/make_01_getting_started.py``);
the notebook is written beside it.
"""
from pathlib import Path

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell

KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
          "language_info": {"name": "python"}}


def write(cells: list, name: str, **metadata) -> Path:
    """Write ``cells`` as notebook ``name`` in this folder (kernel metadata plus ``metadata``)."""
    nb = nbf.v4.new_notebook(cells=cells, metadata={**KERNEL, **metadata})
    out = Path(__file__).with_name(name)
    nbf.write(nb, out)
    print("wrote", out)
    return out
