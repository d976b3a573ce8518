"""The explicit package list in pyproject.toml covers every package folder.

The generators live in the top-level ``generators/`` folder but install as
``hamodel.generators`` (a package-dir mapping), which rules out setuptools'
automatic discovery: the list is explicit, and a new sub-package that is
not added to it is silently missing from a plain install. This test fails
at once, without the slow fresh-venv install of test_packaging.py.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _packages(folder: Path, name: str) -> set[str]:
    return {
        ".".join([name, *d.relative_to(folder).parts])
        for d in [folder, *folder.rglob("*")]
        if d.is_dir() and (d / "__init__.py").is_file() and "__pycache__" not in d.parts
    }


def test_every_package_folder_is_listed():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    assert conf["package-dir"] == {"hamodel.generators": "generators"}
    found = _packages(ROOT / "hamodel", "hamodel") | _packages(ROOT / "generators", "hamodel.generators")
    assert found - listed == set(), "package folders missing from [tool.setuptools] packages"
    assert listed - found == set(), "listed packages without a folder"
