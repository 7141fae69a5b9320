"""The conda environment and the pip metadata declare the same dependencies."""
from __future__ import annotations

import re
import tomllib

import yaml

from conftest import ROOT


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(r) for r in project["dependencies"]}
    for extra in ("test", "notebooks"):
        wanted |= {_norm(r) for r in project["optional-dependencies"][extra]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_deps = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    have = {_norm(r) for r in pip_deps if r != "-e ."}
    assert have == wanted, (f"only in pyproject: {sorted(wanted - have)}; "
                            f"only in environment.yml: {sorted(have - wanted)}")
    assert "-e ." in pip_deps


def test_console_script_points_at_cli():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"opeval": "evaluation.cli:main"}
