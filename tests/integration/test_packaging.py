"""The distribution as a user gets it: a NON-editable install into a fresh
virtual environment (no system site packages), used from outside the
checkout. A module the code imports but pyproject.toml does not declare, a
template missing from the package data, or an import of a top-level name
that is not hamodel's fails here (an editable install in a well-stocked
interpreter hides all three)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    # No PYTHONPATH and a cwd outside the checkout: only the install counts.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _checkout_files() -> list[str]:
    """What a clone of the working tree would hold (tracked or not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return [p for p in out.decode().split("\0") if p and (ROOT / p).is_file()]


def _install(base: Path) -> tuple[Path, Path, Path]:
    """(venv, source copy, a working directory outside both)."""
    src = base / "src"
    for rel in _checkout_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    venv = base / "venv"
    r = _run([sys.executable, "-m", "venv", str(venv)], cwd=base)
    assert r.returncode == 0, r.stderr
    # A plain install (a wheel built from the copy), the way pip installs a release.
    r = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(src)], cwd=base)
    assert r.returncode == 0, r.stdout + r.stderr
    work = base / "elsewhere"
    work.mkdir()
    return venv, src, work


def _installed_files_are_hamodels_own(installed: tuple[Path, Path, Path]) -> None:
    venv, _, work = installed
    r = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.metadata as m, hamodel, json; d = m.distribution('hamodel');"
            "print(hamodel.__file__); print(json.dumps(sorted({str(f).split('/')[0] for f in d.files})))",
        ],
        cwd=work,
    )
    assert r.returncode == 0, r.stderr
    path, tops = r.stdout.splitlines()
    assert "site-packages" in path, path  # the install, not the checkout
    top_level = {t for t in __import__("json").loads(tops) if not t.endswith(".dist-info") and t != ".."}
    assert top_level == {"hamodel"}, top_level
    r = _run([str(venv / "bin" / "python"), "-c", "import generators"], cwd=work)
    assert r.returncode != 0 and "No module named 'generators'" in r.stderr


def _every_module_imports_with_the_declared_dependencies(installed: tuple[Path, Path, Path]) -> None:
    venv, _, work = installed
    r = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib, pkgutil, hamodel\n"
            "names = [m.name for m in pkgutil.walk_packages(hamodel.__path__, 'hamodel.')]\n"
            "for n in names: importlib.import_module(n)\n"
            "print(len(names))",
        ],
        cwd=work,
    )
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) > 30  # the walk reached the generators and the drill


def _templates_and_data_are_in_the_package(installed: tuple[Path, Path, Path]) -> None:
    """Package data the checkout has must be installed: every template."""
    venv, src, work = installed
    r = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import hamodel.generators as g, pathlib; root = pathlib.Path(g.__file__).parent;"
            "print('\\n'.join(sorted(str(p.relative_to(root)) for p in root.rglob('*') "
            "if p.is_file() and p.suffix in ('.j2', '.css', '.txt'))))",
        ],
        cwd=work,
    )
    assert r.returncode == 0, r.stderr
    shipped = set(r.stdout.split())
    in_checkout = {
        str(p.relative_to(src / "generators"))
        for p in (src / "generators").rglob("*")
        if p.is_file() and p.suffix in (".j2", ".css", ".txt")
    }
    assert in_checkout and in_checkout <= shipped, sorted(in_checkout - shipped)


def _cli_runs_outside_the_checkout(installed: tuple[Path, Path, Path]) -> None:
    venv, src, work = installed
    hamodel = str(venv / "bin" / "hamodel")
    r = _run([hamodel, "--help"], cwd=work)
    assert r.returncode == 0, r.stderr
    assert "check" in r.stdout and "build" in r.stdout
    model = str(src / "models" / "openstack_keepalived.py")
    r = _run([hamodel, "check", model, "--fail-on", "critical"], cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr
    r = _run([hamodel, "build", model, "-o", str(work / "out")], cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr
    # The same files, byte for byte, as the checkout's own build: no template
    # or data file is missing from the install or differs in it.
    r = _run([sys.executable, "-m", "hamodel.cli", "build", model, "-o", str(work / "out-checkout")], cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr

    def tree(d: Path) -> dict[str, bytes]:
        return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}

    installed_files, checkout_files = tree(work / "out"), tree(work / "out-checkout")
    assert any(name.endswith("haproxy.cfg") for name in installed_files)
    assert installed_files == checkout_files


def _docs_build_from_the_install(installed: tuple[Path, Path, Path]) -> None:
    """sphinx-build -W with the installed package (docs/conf.py adds no path)."""
    venv, src, work = installed
    sphinx = str(venv / "bin" / "sphinx-build")
    r = _run([sphinx, "-W", "--keep-going", "-q", "-b", "html", str(src / "docs"), str(work / "html")], cwd=work)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert (work / "html" / "index.html").is_file()


@pytest.mark.slow
def test_a_plain_install_in_a_fresh_venv_works_outside_the_checkout(tmp_path):
    """One install (a minute or two), then every check on it: one test, so
    that pytest-xdist does not install twice."""
    installed = _install(tmp_path)
    _installed_files_are_hamodels_own(installed)
    _every_module_imports_with_the_declared_dependencies(installed)
    _templates_and_data_are_in_the_package(installed)
    _cli_runs_outside_the_checkout(installed)
    _docs_build_from_the_install(installed)


def test_declared_dependencies_cover_the_imports():
    """The same promise, cheaply, for the interpreter running the tests:
    every third-party import of the package is a declared requirement."""
    import ast

    declared = {
        r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
        for r in importlib.metadata.requires("hamodel") or []
        if "extra ==" not in r
    }
    # Import names that differ from distribution names.
    provided_by = {"z3": "z3-solver", "yaml": "pyyaml"}
    stdlib = set(sys.stdlib_module_names)
    missing = set()
    for path in list((ROOT / "hamodel").rglob("*.py")) + list((ROOT / "generators").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            for name in names:
                top = name.split(".")[0]
                # _typeshed: the type checkers' stub-only module (imported under TYPE_CHECKING)
                if top in stdlib or top in ("hamodel", "_typeshed"):
                    continue
                if provided_by.get(top, top).lower().replace("_", "-") not in declared:
                    missing.add(f"{path.relative_to(ROOT)}: {top}")
    assert not missing, sorted(missing)
