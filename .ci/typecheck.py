#!/usr/bin/env python3
"""pyright over hamodel/, generators/ and models/ as the installed package is laid out.

generators/ installs as hamodel.generators (pyproject's [tool.setuptools.package-dir]);
pyright cannot follow setuptools' editable finder, and given the checkout it finds
hamodel/ without generators/ in it. So build/typecheck/ mirrors the installed
layout (hamodel/, hamodel/generators/, models/: directories of links to the files) and
pyright checks only through that tree: every module has one path, hence one
identity (checking generators/ directly as well would make two Deployment
classes). The settings are pyproject's [tool.pyright] (the generated config
extends it); the report's paths are mapped back to the checkout.

    .venv/bin/python .ci/typecheck.py                   # what `make typecheck` runs
    .venv/bin/python .ci/typecheck.py generators/docs   # only these files (and options for pyright)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"
# Link tree directory -> checkout directory, the longest first.
MAPPED = [
    (TREE / "hamodel" / "generators", ROOT / "generators"),
    (TREE / "hamodel", ROOT / "hamodel"),
    (TREE / "models", ROOT / "models"),
]


def _mirror(src: Path, dst: Path) -> None:
    # Directories are made, Python files linked: pyright does not enter a linked directory.
    dst.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        if entry.is_dir() and entry.name != "__pycache__":
            _mirror(entry, dst / entry.name)
        elif entry.suffix in (".py", ".pyi"):
            (dst / entry.name).symlink_to(entry)


def build_tree() -> None:
    if TREE.exists():
        shutil.rmtree(TREE)
    _mirror(ROOT / "hamodel", TREE / "hamodel")
    _mirror(ROOT / "generators", TREE / "hamodel" / "generators")
    _mirror(ROOT / "models", TREE / "models")
    config = {
        "extends": "../../pyproject.toml",
        # pyproject's include names the checkout's folders; here, the tree's.
        "include": ["hamodel", "models"],
        # A model may import its sibling, as hamodel's loader allows.
        "extraPaths": ["models"],
    }
    (TREE / "pyrightconfig.json").write_text(json.dumps(config, indent=2) + "\n")


def checkout_path(file: str) -> str:
    path = Path(file)
    for tree, real in MAPPED:
        if path.is_relative_to(tree):
            return str((real / path.relative_to(tree)).relative_to(ROOT))
    return file


def tree_path(arg: str) -> str:
    # A file or folder of the checkout named on the command line: its place in the tree.
    path = Path(arg).resolve()
    for tree, real in MAPPED:
        if path.is_relative_to(real):
            return str(tree / path.relative_to(real))
    return arg


def main(argv: list[str]) -> int:
    exe = shutil.which("pyright", path=str(Path(sys.executable).parent)) or shutil.which("pyright")
    if exe is None:
        print("pyright is not installed: it is in the test extra (pip install -e '.[test]')", file=sys.stderr)
        return 2
    build_tree()
    out = subprocess.run(
        [exe, "--outputjson", "--pythonpath", sys.executable, "-p", str(TREE), *map(tree_path, argv)],
        cwd=TREE,
        capture_output=True,
        text=True,
    )
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        print(out.stdout + out.stderr, file=sys.stderr)
        return out.returncode or 2
    diagnostics = sorted(
        report["generalDiagnostics"], key=lambda d: (checkout_path(d["file"]), d["range"]["start"]["line"])
    )
    for d in diagnostics:
        start = d["range"]["start"]
        rule = f" ({d['rule']})" if d.get("rule") else ""
        print(
            f"{checkout_path(d['file'])}:{start['line'] + 1}:{start['character'] + 1} - "
            f"{d['severity']}: {d['message']}{rule}"
        )
    s = report["summary"]
    print(
        f"{s['errorCount']} errors, {s['warningCount']} warnings in {s['filesAnalyzed']} files "
        f"(pyright {report['version']}, {s['timeInSec']:.1f} s)"
    )
    return 1 if s["errorCount"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
