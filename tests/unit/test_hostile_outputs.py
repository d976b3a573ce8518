"""Issue 30, data loss: every ``-o`` and ``--lock`` writes only a regular file or a new path.

- A character device (a ``/dev/null`` twin made with ``mknod`` in a temp
  dir, never the real one), a FIFO, a symbolic link, a directory, a socket:
  refused with exit 2 and the kind named, the thing left as it was (as
  root, ``export -o /dev/null`` replaced the system's device by a file).
- ``-o -`` (or no ``-o``) is standard output.
- No output is one of the command's inputs: the model (``export -o MODEL``,
  ``schema -o MODEL``, ``place --fresh --lock MODEL`` overwrote it), a
  module it imports, the lock file it reads; any spelling (a hard link).
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest
from test_hostile_dataloss import SMALL_MODEL
from typer.testing import CliRunner

from hamodel.cli import app
from hamodel.output import OutputError, check_writable, write_file

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mknod of a character device, drill)")


def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def model(tmp_path: Path) -> Path:
    m = tmp_path / "models" / "small.py"
    m.parent.mkdir(parents=True, exist_ok=True)
    m.write_text(SMALL_MODEL % 8080)
    return m


def fifo(p: Path) -> Path:
    os.mkfifo(p)
    return p


def chardev(p: Path) -> Path:
    os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers, at a path of ours
    return p


def symlink(p: Path) -> Path:
    target = p.with_name(p.name + ".target")
    target.write_text("the link's target\n")
    p.symlink_to(target.name)
    return p


def sock(p: Path) -> Path:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(p))
    s.close()
    return p


KINDS = {
    "FIFO": (fifo, "a FIFO"),
    "symlink": (symlink, "a symbolic link"),
    "socket": (sock, "a socket"),
    "chardev": (chardev, "a character device"),
}


def state(p: Path) -> tuple:
    st = os.lstat(p)
    extra = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
    target = p.with_name(p.name + ".target")
    return stat.S_IFMT(st.st_mode), st.st_ino, st.st_rdev, extra, target.read_bytes() if target.exists() else None


def commands(m: Path, out: Path) -> dict[str, list[object]]:
    return {
        "export": ["export", m, "-o", out],
        "export opsa-mef": ["export", m, "--format", "opsa-mef", "-o", out],
        "schema": ["schema", "-o", out],
        "place --lock": ["place", m, "--lock", out],
        "place --fresh --lock": ["place", m, "--fresh", "--lock", out],
    }


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_output_refuses_what_is_not_a_regular_file(tmp_path, kind):
    """Before: each of these was replaced by a regular file (exit 0)."""
    make, words = KINDS[kind]
    if kind == "chardev" and os.geteuid() != 0:
        pytest.skip("mknod of a character device needs root")
    m = model(tmp_path)
    for name, args in commands(m, tmp_path / "out").items():
        out = make(tmp_path / "out")
        before = state(out)
        r = run(*args)
        assert r.exit_code == 2, (name, r.output)
        assert isinstance(r.exception, SystemExit), (name, repr(r.exception))
        assert f"refusing to write {out}: it is {words}" in r.output, (name, r.output)
        assert state(out) == before, name
        out.unlink()
        out.with_name("out.target").unlink(missing_ok=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # no temp file, no lock written anywhere


def test_a_directory_is_refused_by_every_output(tmp_path):
    m = model(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for name, args in commands(m, out).items():
        r = run(*args)
        assert r.exit_code == 2, (name, r.output)
        assert f"cannot write {out}: it is a directory" in r.output, (name, r.output)
    assert list(out.iterdir()) == []


def test_dash_is_standard_output(tmp_path):
    m = model(tmp_path)
    for args in (["export", m, "-o", "-"], ["schema", "-o", "-"], ["export", m, "--format", "opsa-mef", "-o", "-"]):
        r = run(*args)
        assert r.exit_code == 0, r.output
        assert r.output.lstrip().startswith(("{", "<?xml")), r.output[:200]
    assert not (Path.cwd() / "-").exists()
    assert run("place", m, "--lock", "-").exit_code == 2


def test_a_regular_file_and_a_new_path_are_written(tmp_path):
    m = model(tmp_path)
    old = tmp_path / "old.json"
    old.write_text("previous\n")
    assert run("export", m, "-o", old).exit_code == 0
    assert json.loads(old.read_text())["name"] == "small"
    assert run("schema", "-o", tmp_path / "new" / "schema.json").exit_code == 0
    assert run("schema", "-o", tmp_path / "new" / "schema.json").exit_code == 0  # its own output again
    lock = tmp_path / "small.lock.json"
    assert run("place", m, "--lock", lock).exit_code == 0
    assert run("place", m, "--fresh", "--lock", lock).exit_code == 0  # the lock it reads is the one it writes


def test_no_output_is_the_model_or_what_it_imports(tmp_path):
    """Before: export -o MODEL, schema -o MODEL and place --fresh --lock MODEL wrote over the model."""
    d = tmp_path / "models"
    d.mkdir()
    (d / "common.py").write_text("PORT = 8080\n")
    m = d / "small.py"
    m.write_text("from common import PORT\n" + (SMALL_MODEL % 8080).replace("port=8080", "port=PORT"))
    exported = tmp_path / "small.json"
    assert run("export", m, "-o", exported).exit_code == 0
    (tmp_path / "hard.json").hardlink_to(exported)
    (tmp_path / "hard.py").hardlink_to(m)
    before = {p: p.read_bytes() for p in (m, d / "common.py", exported)}
    cases = {
        "export -o MODEL": (["export", m, "-o", m], "Python source"),
        "export -o imported module": (["export", m, "-o", d / "common.py"], "Python source"),
        "schema -o MODEL": (["schema", "-o", m], "Python source"),
        "place --fresh --lock MODEL": (["place", m, "--fresh", "--lock", m], "Python source"),
        "export JSON -o itself": (["export", exported, "-o", exported], "it is the model"),
        "export JSON -o a hard link of itself": (["export", exported, "-o", tmp_path / "hard.json"], "it is the model"),
        "export -o a hard link of the model": (["export", m, "-o", tmp_path / "hard.py"], "Python source"),
        "place --fresh --lock JSON MODEL": (["place", exported, "--fresh", "--lock", exported], "it is the model"),
        "schema -o JSON MODEL": (["schema", "-o", exported], "a hamodel model"),
    }
    for name, (args, words) in cases.items():
        r = run(*args)
        assert r.exit_code == 2, (name, r.output)
        assert "refusing to write" in r.output and words in r.output, (name, r.output)
    assert {p: p.read_bytes() for p in before} == before


def test_schema_never_writes_over_a_big_exported_model(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(
        json.dumps({"name": "x", "nodes": [{"name": f"n{i}", "pad": "p" * 200} for i in range(10_000)], "services": []})
    )
    assert big.stat().st_size > 2 << 20
    before = big.read_bytes()
    r = run("schema", "-o", big)
    assert r.exit_code == 2 and "it holds a hamodel model" in r.output, r.output
    assert big.read_bytes() == before


def test_export_never_writes_over_the_lock_it_reads(tmp_path):
    m = model(tmp_path)
    lock = m.with_name("small.lock.json")
    assert run("place", m).exit_code == 0
    before = lock.read_bytes()
    r = run("export", m, "--format", "opsa-mef", "-o", lock)
    assert r.exit_code == 2 and "it is the lock file this command reads" in r.output, r.output
    assert lock.read_bytes() == before


def test_write_file_itself_refuses(tmp_path):
    """The one writer (hamodel/output.py) refuses, whoever calls it (the Sphinx extension, the drills)."""
    for make, words in KINDS.values():
        if make is chardev and os.geteuid() != 0:
            continue
        p = make(tmp_path / "x")
        before = state(p)
        for call in (lambda: write_file(p, b"data"), lambda: check_writable(p)):
            with pytest.raises(OutputError, match=f"refusing to write {p}: it is {words}"):
                call()
        assert state(p) == before
        p.unlink()
        p.with_name("x.target").unlink(missing_ok=True)


@root_only
def test_drill_refuses_a_device_or_the_model_as_report_path_before_the_drill(tmp_path):
    m = model(tmp_path)
    dev = chardev(tmp_path / "null")
    for target, words in ((dev, "a character device"), (m, "Python source")):
        for flag in ("--rst-out", "--json-out"):
            r = run("drill", m, "-s", "no-such-scenario", flag, target)
            assert r.exit_code == 2, r.output
            assert words in r.output and "no-such-scenario" not in r.output, r.output
    assert stat.S_ISCHR(os.lstat(dev).st_mode)
