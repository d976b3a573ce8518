"""Issue 30: ``hamodel diff`` under a hostile or careless user.

- ``diff MODEL --base REV`` with a symlinked model compares the model path
  as it was at REV, following the link as it was then (it compared the
  link's current target with itself: a link moved from v1 to v2 passed
  ``--fail-on high``).
- ``--base`` reads from git only what the model imports (it ran one
  ``git show`` per ``.py``/``.json`` file under the model's folder: the
  whole repository for a model at its root), counted with a ``git`` on
  PATH that logs each call.
- An unknown ``--base`` revision says why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_diff import GALERA, git, run

R123, R113 = '["r1", "r2", "r3"]', '["r1", "r1", "r3"]'


def was_high(stdout: str) -> bool:
    """quorum-loss:galera was high on the old side and is not on the new."""
    d = json.loads(stdout)["findings"]
    return any(f["id"] == "quorum-loss:galera" and f["severity"] == "high" for f in d["removed"]) or any(
        c["id"] == "quorum-loss:galera" and c["from"] == "high" for c in d["changed"]
    )


def quorum_change(stdout: str) -> list[str]:
    d = json.loads(stdout)
    return [c["to"] for c in d["findings"]["changed"] if c["id"] == "quorum-loss:galera"] + [
        f["severity"] for f in d["findings"]["added"] if f["id"] == "quorum-loss:galera"
    ]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    (r / "models").mkdir(parents=True)
    git(r, "init", "-q")
    return r


def test_a_symlinked_model_is_compared_as_the_link_was_at_the_revision(repo: Path) -> None:
    """Before: the link was resolved in the working tree (v2) and v2@HEAD
    compared with v2: no change, exit 0 under --fail-on high."""
    (repo / "models/v1.py").write_text(GALERA.format(racks=R123))
    (repo / "models/v2.py").write_text(GALERA.format(racks=R113))
    (repo / "models/current.py").symlink_to("v1.py")
    git(repo, "add", "models")
    git(repo, "commit", "-qm", "v1 is current")
    (repo / "models/current.py").unlink()
    (repo / "models/current.py").symlink_to("v2.py")
    r = run("diff", "--base", "HEAD", "models/current.py", "--fail-on", "high", "--format", "json", cwd=repo)
    assert r.returncode == 1, r.stderr
    assert quorum_change(r.stdout) == ["high"], r.stdout
    assert json.loads(r.stdout)["old"] == "models/current.py@HEAD"
    # and the other way: the link unchanged, its target changed since HEAD
    git(repo, "add", "models")
    git(repo, "commit", "-qm", "v2 is current")
    (repo / "models/v2.py").write_text(GALERA.format(racks=R123))
    r = run("diff", "--base", "HEAD", "models/current.py", "--format", "json", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert was_high(r.stdout), r.stdout


def test_a_link_into_another_folder_imports_that_folder_as_at_the_revision(repo: Path) -> None:
    """At REV the link pointed into old/, whose sibling module held the racks."""
    (repo / "old").mkdir()
    (repo / "old/racks.py").write_text(f"RACKS = {R113}\n")
    (repo / "old/galera.py").write_text(GALERA.format(racks="__import__('racks').RACKS"))
    (repo / "models/galera.py").symlink_to("../old/galera.py")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "old layout")
    (repo / "models/galera.py").unlink()
    (repo / "models/galera.py").write_text(GALERA.format(racks=R123))
    (repo / "old/racks.py").write_text(f"RACKS = {R123}\n")  # the working tree's copy is not what REV had
    r = run("diff", "--base", "HEAD", "models/galera.py", "--format", "json", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert was_high(r.stdout), r.stdout


def test_a_link_out_of_the_repository_at_the_revision_is_named(repo: Path) -> None:
    (repo / "models/galera.py").symlink_to("/etc/passwd")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "bad link")
    (repo / "models/galera.py").unlink()
    (repo / "models/galera.py").write_text(GALERA.format(racks=R123))
    r = run("diff", "--base", "HEAD", "models/galera.py", cwd=repo)
    assert r.returncode == 2 and "link out of the repository" in r.stderr, r.stderr


def git_logging_path(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A PATH whose ``git`` logs its arguments and runs the real git."""
    import shutil

    real = shutil.which("git")
    assert real
    bindir, log = tmp_path / "bin", tmp_path / "git.log"
    bindir.mkdir()
    (bindir / "git").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    (bindir / "git").chmod(0o755)
    return {"PATH": f"{bindir}:{os.environ['PATH']}"}, log


def test_base_reads_only_what_the_model_imports(repo: Path, tmp_path: Path) -> None:
    """A model at the repository root beside 400 modules (and a package):
    a handful of git calls, not one per file. Before: 400+ ``git show``."""
    for i in range(400):
        (repo / f"pkg{i % 8}").mkdir(exist_ok=True)
        (repo / f"pkg{i % 8}" / f"m{i}.py").write_text(f"X = {i}\n")
    (repo / "dcsite").mkdir()
    (repo / "dcsite/__init__.py").write_text("")
    (repo / "dcsite/racks.py").write_text(f"RACKS = {R113}\n")
    (repo / "galera.py").write_text(GALERA.format(racks="__import__('dcsite.racks').racks.RACKS"))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "many files")
    (repo / "dcsite/racks.py").write_text(f"RACKS = {R123}\n")
    env, log = git_logging_path(tmp_path)
    r = run("diff", "--base", "HEAD", "galera.py", "--format", "json", cwd=repo, env=env)
    assert r.returncode == 0, r.stderr
    calls = log.read_text().splitlines()
    assert 0 < len(calls) <= 10, calls
    assert not [c for c in calls if c.startswith("show")], calls
    # the package module came from HEAD (two members in r1 then), the working tree's from now
    assert was_high(r.stdout), r.stdout


def test_an_unknown_revision_says_why(repo: Path) -> None:
    (repo / "models/galera.py").write_text(GALERA.format(racks=R123))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "x")
    for rev in ("no-such-rev", "--output=/tmp/x"):
        r = run("diff", "--base", rev, "models/galera.py", cwd=repo)
        assert r.returncode == 2, r.stderr
        assert f"--base {rev}: unknown revision" in r.stderr and "(git: fatal:" in r.stderr, r.stderr
