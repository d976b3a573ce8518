"""Issue 17, data loss: hamodel never destroys what it did not write.

- ``build -o`` replaces only an empty or missing directory, or a tree
  hamodel wrote (its manifest lists everything there); anything else is
  refused (exit 2) with nothing touched.
- The swap of OUT is one atomic step: a SIGKILL at any point of a rebuild
  leaves OUT the complete old or the complete new tree, and the next run
  removes the litter.
- ``build --check`` never prints a secret nor follows a symlink inside OUT.
- Every write failure (directory in the way, read-only or full
  filesystem) is a clear error naming the path, exit 2, nothing half
  written. The read-only and full-disk cases use a real read-only bind
  mount and a real size-limited tmpfs (root only).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hamodel.generators.configs import build_configs, drift
from test_configs import GOLDEN, ROOT, small_arch, tree
from typer.testing import CliRunner

from hamodel.cli import app
from hamodel.output import FileSet, OutputError, write_file, write_tree
from hamodel.pipeline import resolve

SMALL_MODEL = textwrap.dedent("""\
    from hamodel import Architecture, Network, Node, Service, VirtualIP
    from hamodel.strategies import BehindVip, Vrrp
    lan = Network('lan', subnet='10.0.0.0/24')
    vip = VirtualIP('vip', '10.0.0.100', network=lan)
    nodes = [Node(f'n{i}', roles={'lb'}, addresses={lan: f'10.0.0.{10 + i}'}) for i in (1, 2, 3)]
    architecture = Architecture('small', nodes=nodes, networks=[lan], vips=[vip], services=[
        Service('haproxy', on='lb', strategy=Vrrp(vip, track='haproxy')),
        Service('api', on='lb', strategy=BehindVip(vip, port=%d))])
    """)

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mount)")


def model_file(tmp_path: Path, port: int = 8080) -> Path:
    m = tmp_path / "models" / "small.py"
    m.parent.mkdir(parents=True, exist_ok=True)
    m.write_text(SMALL_MODEL % port)
    return m


def build(*args: str):
    return CliRunner().invoke(app, ["build", *map(str, args)])


def snapshot(path: Path) -> dict[str, object]:
    """Every entry under ``path`` (links as their target text), for 'nothing touched'."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(path))
            out[rel] = ("link", os.readlink(p)) if p.is_symlink() else ("dir",) if p.is_dir() else p.read_bytes()
    return out


def assert_refused(r, *words: str) -> None:
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "error:" in r.output and "refusing" in r.output, r.output
    for w in words:
        assert w in r.output, r.output


# -- build -o: only hamodel's own trees are replaced ----------------------------------------


def test_a_user_file_in_out_is_not_deleted(tmp_path):
    m = model_file(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    assert_refused(build(m, "-o", out), str(out), "manifest")
    assert snapshot(out) == {"notes.txt": b"mine\n"}


def test_a_directory_holding_the_models_is_refused(tmp_path):
    m = model_file(tmp_path)
    before = snapshot(m.parent)
    assert_refused(build(m, "-o", m.parent), str(m.parent))
    assert snapshot(m.parent) == before


def test_home_and_current_directory_and_root_are_refused(tmp_path, monkeypatch):
    m = model_file(tmp_path)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh/id_ed25519").write_text("key\n")
    monkeypatch.setenv("HOME", str(home))
    assert_refused(build(m, "-o", home), "home directory")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert_refused(build(m, "-o", "."), "current directory")
    assert_refused(build(m, "-o", ".."), "contains")
    assert_refused(build(m, "-o", "/"), "root directory")
    assert snapshot(home) == {".ssh": ("dir",), ".ssh/id_ed25519": b"key\n"}
    assert list(work.iterdir()) == []


def test_a_file_or_a_symlink_is_not_turned_into_a_directory(tmp_path):
    m = model_file(tmp_path)
    f = tmp_path / "out.txt"
    f.write_text("data\n")
    assert_refused(build(m, "-o", f), "not a directory")
    assert f.read_text() == "data\n"
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "out"
    link.symlink_to(target)
    assert_refused(build(m, "-o", link), "symbolic link")
    assert link.is_symlink() and os.readlink(link) == str(target) and list(target.iterdir()) == []
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    assert_refused(build(m, "-o", dangling), "symbolic link")
    assert dangling.is_symlink() and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("intruder", ["file", "symlink", "emptydir"])
def test_a_hamodel_tree_with_something_it_does_not_list_is_refused(tmp_path, intruder):
    m = model_file(tmp_path)
    out = tmp_path / "out"
    assert build(m, "-o", out).exit_code == 0
    if intruder == "file":
        (out / "nodes/n1/local.cfg").write_text("hand-written\n")
    elif intruder == "symlink":
        (out / "nodes/data").symlink_to(tmp_path)
    else:
        (out / "backup").mkdir()
    before = snapshot(out)
    assert_refused(build(m, "-o", out), "does not list")
    assert snapshot(out) == before


def test_empty_missing_and_own_directories_are_written(tmp_path):
    m = model_file(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (empty, tmp_path / "new" / "deeper"):
        r = build(m, "-o", out)
        assert r.exit_code == 0, r.output
        assert (out / "manifest.json").is_file()
    # re-runnable over its own output, also when the model changed
    model_file(tmp_path, port=8081)
    r = build(m, "-o", empty)
    assert r.exit_code == 0, r.output
    assert "8081" in (empty / "nodes/n1/haproxy/haproxy.cfg").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "models", "new"]  # no litter


# -- the swap is one atomic step ---------------------------------------------------------

# Runs write_tree (or the CLI) in a child whose state-changing file system
# calls are wrapped: before call number N the child says PAUSE and sleeps,
# and the test SIGKILLs it there. The wrapping lives in this script only.
KILL_SCRIPT = textwrap.dedent("""\
    import json, os, shutil, sys, time
    import hamodel.output as output
    n = int(sys.argv[1]); mode = sys.argv[2]
    count = 0
    def wrap(mod, name):
        real = getattr(mod, name)
        def hooked(*a, **kw):
            global count
            count += 1
            if count == n:
                print("PAUSE", name, a[:2], flush=True)
                time.sleep(600)
            return real(*a, **kw)
        setattr(mod, name, hooked)
    for name in ("replace", "rename", "rmdir", "unlink"):
        wrap(os, name)
    wrap(shutil, "rmtree")
    if hasattr(output, "_renameat2"):
        wrap(output, "_renameat2")
    if mode == "tree":
        files = json.loads(open(sys.argv[4]).read())
        output.write_tree(sys.argv[3], output.FileSet({k: v.encode() for k, v in files.items()}))
    else:
        from hamodel.cli import app
        try:
            app(["build", *sys.argv[3:]])
        except SystemExit as e:
            if e.code:
                raise
    print("DONE", count, flush=True)
    """)


def fake_tree(version: str, n: int = 4) -> dict[str, str]:
    files = {f"nodes/n{i}/conf/c.cfg": f"{version} {i}\n" for i in range(n)}
    manifest = {"generator": "hamodel test", "files": {k: {"secret": False} for k in files}}
    return {
        **files,
        "manifest.json": json.dumps(manifest, sort_keys=True) + "\n",
        "ansible/inventory.yml": f"# {version}\n",
    }


def run_until_paused(args: list[str], n: int) -> bool:
    """Run the child until it pauses before call ``n`` (then SIGKILL it): True, or to the end: False."""
    p = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(n), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = p.stdout.readline()
        if line.startswith("PAUSE"):
            p.send_signal(signal.SIGKILL)
            p.wait()
            return True
        rest, errs = p.communicate(timeout=120)
        assert p.returncode == 0 and line.startswith("DONE"), (line, rest, errs)
        return False
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_sigkill_at_any_point_of_the_swap_leaves_old_or_new_and_next_run_cleans(tmp_path):
    old, new = fake_tree("old"), fake_tree("new")
    src = tmp_path / "new.json"
    src.write_text(json.dumps(new))
    as_bytes = lambda d: {k: v.encode() for k, v in d.items()}
    killed_states = []
    for n in range(1, 80):
        work = tmp_path / f"run{n}"
        out = work / "out"
        write_tree(out, FileSet(as_bytes(old)))
        paused = run_until_paused(["tree", str(out), str(src)], n)
        assert out.is_dir() and not out.is_symlink(), f"kill before call {n}: no OUT"
        state = tree(out)
        assert state in (as_bytes(old), as_bytes(new)), f"kill before call {n}: OUT is a mix"
        if not paused:
            assert state == as_bytes(new)
            assert [p.name for p in work.iterdir()] == ["out"]
            break
        killed_states.append("old" if state == as_bytes(old) else "new")
        # the next run removes what the killed one left behind, and only that
        (work / "keep.txt").write_text("a neighbour's file\n")
        (work / ".out2.hamodel-new-x").mkdir()  # another OUT's name: not ours to clean
        write_tree(out, FileSet(as_bytes(new)))
        assert tree(out) == as_bytes(new)
        assert sorted(p.name for p in work.iterdir()) == [".out2.hamodel-new-x", "keep.txt", "out"], n
    else:
        pytest.fail("the child never finished")
    assert "old" in killed_states and "new" in killed_states  # the kill did land on both sides of the switch


def test_sigkill_during_a_real_build_leaves_a_complete_tree(tmp_path):
    model = [str(ROOT / "models/openstack_keepalived.py"), "--lock", str(GOLDEN / "openstack_keepalived.lock.json")]
    out = tmp_path / "out"
    assert build(*model, "-o", out).exit_code == 0
    golden = tree(GOLDEN / "openstack_keepalived")
    assert tree(out) == golden
    for n in (1, 2, 3):  # just before the exchange, just after, during the removal of the old tree
        # a changed previous tree, so that old and new differ
        cfg = out / "nodes/ctl-1/sysctl.d/60-hamodel-nonlocal-bind.conf"
        cfg.write_text("# old\n")
        old = tree(out)
        assert run_until_paused(["cli", *model, "-o", str(out)], n)
        assert tree(out) in (old, golden)
        assert build(*model, "-o", out).exit_code == 0
        assert tree(out) == golden
        assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_without_the_exchange_two_renames_still_recover(tmp_path, monkeypatch):
    import errno

    import hamodel.output as output

    def no_exchange(src, dst, flags):
        raise OSError(errno.EINVAL, "no exchange here")

    monkeypatch.setattr(output, "_renameat2", no_exchange)
    out = tmp_path / "out"
    old, new = fake_tree("old"), fake_tree("new")
    write_tree(out, FileSet({k: v.encode() for k, v in old.items()}))
    # a run killed between the two renames: OUT gone, both trees hidden beside it
    os.rename(out, tmp_path / ".out.hamodel-old-abc")
    (tmp_path / ".out.hamodel-new-abc").mkdir()
    write_tree(out, FileSet({k: v.encode() for k, v in new.items()}))
    assert tree(out) == {k: v.encode() for k, v in new.items()}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_litter_of_the_previous_version_is_cleaned_only_when_it_is_hamodels(tmp_path):
    out = tmp_path / "out"
    files = FileSet({k: v.encode() for k, v in fake_tree("x").items()})
    write_tree(tmp_path / ".out.old-k2j4", files)  # a tree the old two-rename swap left
    (tmp_path / ".out.new-zz").mkdir()
    (tmp_path / ".out.new-zz" / "precious").write_text("not hamodel's\n")
    write_tree(out, files)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.new-zz", "out"]


# -- build --check: no secret printed, no symlink followed ------------------------------------


def test_check_never_prints_a_secret_even_from_a_file_not_0600(tmp_path):
    dep = resolve(small_arch(vrrp={"auth": {"env": "T_VRRP_PASS"}}), analyse=False)
    out = tmp_path / "out"
    write_tree(out, build_configs(dep, env={"T_VRRP_PASS": "Vr9pPass"}))
    conf = out / "nodes/n1/keepalived/keepalived.conf"
    conf.chmod(0o644)  # a copy or checkout lost the mode
    assert "auth_pass Vr9pPass" in conf.read_text()
    # the model dropped authentication: the new file is not secret, the old one was
    plain = build_configs(resolve(small_arch(), analyse=False))
    assert "nodes/n1/keepalived/keepalived.conf" not in plain.secret
    text = drift(out, plain)
    assert "Vr9pPass" not in text
    assert "a/nodes/n1/keepalived/keepalived.conf and b/nodes/n1/keepalived/keepalived.conf differ (secret" in text
    # a node that disappeared entirely: its old secret file is reported, not printed
    plain_two = build_configs(resolve(small_arch(n=2), analyse=False))
    for name in ("n1", "n2", "n3"):
        (out / f"nodes/{name}/keepalived/keepalived.conf").chmod(0o644)
    text = drift(out, plain_two)
    assert "Vr9pPass" not in text and "nodes/n3/keepalived/keepalived.conf" in text


def test_check_does_not_follow_symlinks_inside_out(tmp_path):
    m = model_file(tmp_path)
    out = tmp_path / "out"
    assert build(m, "-o", out).exit_code == 0
    secret = tmp_path / "shadow"
    secret.write_text("root:TOPSECRET-FILE:19000\n")
    secret_dir = tmp_path / "private"
    secret_dir.mkdir()
    (secret_dir / "haproxy.cfg").write_text("TOPSECRET-DIR\n")
    cfg = out / "nodes/n1/haproxy/haproxy.cfg"
    cfg.unlink()
    cfg.symlink_to(secret)
    import shutil

    shutil.rmtree(out / "nodes/n2/haproxy")
    (out / "nodes/n2/haproxy").symlink_to(secret_dir)
    r = build(m, "-o", out, "--check")
    assert r.exit_code == 1, r.output
    assert "TOPSECRET" not in r.output
    assert "Unexpected symlink a/nodes/n1/haproxy/haproxy.cfg" in r.output
    assert "Unexpected symlink a/nodes/n2/haproxy" in r.output
    # and the build refuses to replace a tree holding links it did not write
    assert_refused(build(m, "-o", out), "does not list")
    link_out = tmp_path / "link-out"
    link_out.symlink_to(out)
    r = build(m, "-o", link_out, "--check")
    assert r.exit_code == 1 and "symbolic link" in r.output


# -- write failures are named errors -------------------------------------------------------


def test_export_schema_to_a_directory_is_a_clear_error(tmp_path):
    m = model_file(tmp_path)
    for args in (["export", str(m), "-o", str(tmp_path)], ["schema", "-o", str(tmp_path)]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2, r.output
        assert isinstance(r.exception, SystemExit), repr(r.exception)
        assert f"cannot write {tmp_path}" in r.output and "directory" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def test_write_file_under_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "f"
    f.write_text("x\n")
    with pytest.raises(OutputError, match=rf"cannot write {f}/sub/x.json: Not a directory"):
        write_file(f / "sub" / "x.json", b"{}")
    assert f.read_text() == "x\n"


@contextlib.contextmanager
def mounted(*mount_args: str, target: Path):
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", *mount_args, str(target)], check=True, capture_output=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


@root_only
def test_read_only_filesystem(tmp_path):
    m = model_file(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    assert build(m, "-o", src / "out").exit_code == 0
    (src / "model.json").write_text("previous\n")
    before = snapshot(src)
    with mounted("--bind", "-o", "ro", str(src), target=tmp_path / "ro") as ro:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        cases = {
            "export": ["export", str(m), "-o", str(ro / "model.json")],
            "export new dir": ["export", str(m), "-o", str(ro / "sub" / "model.json")],
            "place": ["place", str(m), "--lock", str(ro / "small.lock.json")],
            "build": ["build", str(m), "-o", str(ro / "out")],
            "build new": ["build", str(m), "-o", str(ro / "out2")],
        }
        for name, args in cases.items():
            r = CliRunner().invoke(app, args)
            assert r.exit_code == 2, (name, r.output)
            assert isinstance(r.exception, SystemExit), (name, repr(r.exception))
            assert "Read-only file system" in r.output and str(ro) in r.output, (name, r.output)
        assert snapshot(ro) == before
    assert snapshot(src) == before


@root_only
def test_full_filesystem(tmp_path):
    m = model_file(tmp_path)
    # 1m: the reference build with its monitoring files and the rolling playbook (464k on disk)
    with mounted("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=tmp_path / "small") as small:
        out = small / "out"
        r = build(
            ROOT / "models/openstack_keepalived.py", "--lock", GOLDEN / "openstack_keepalived.lock.json", "-o", out
        )
        assert r.exit_code == 0, r.output
        (small / "model.json").write_text("previous\n")
        filler = small / "filler"
        with open(filler, "wb", buffering=0) as fh:  # fill the disk
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * 4096)
        before = snapshot(small)
        for args in (
            ["export", str(ROOT / "models/openstack_keepalived.py"), "-o", str(small / "model.json")],
            ["build", str(m), "-o", str(out)],
            ["build", str(m), "-o", str(small / "out2")],
        ):
            r = CliRunner().invoke(app, args)
            assert r.exit_code == 2, (args, r.output)
            assert isinstance(r.exception, SystemExit), (args, repr(r.exception))
            assert "No space left on device" in r.output, (args, r.output)
        assert snapshot(small) == before  # old outputs intact, no temp file, no litter
        filler.unlink()
        r = build(m, "-o", out)  # space again: hamodel's own tree (of another model) is replaced
        assert r.exit_code == 0, r.output
        assert json.loads((out / "manifest.json").read_text())["model"]["name"] == "small"


# -- the same class elsewhere: drill report paths, the Sphinx extension ---------------------


@root_only
def test_drill_refuses_an_unwritable_report_path_before_the_drill(tmp_path):
    m = model_file(tmp_path)
    # an unknown scenario stops the drill before any lab exists: what is
    # reported first shows whether the report path was checked up front
    for flag in ("--rst-out", "--json-out"):
        r = CliRunner().invoke(app, ["drill", str(m), "-s", "no-such-scenario", flag, str(tmp_path)])
        assert r.exit_code == 2, r.output
        assert f"cannot write {tmp_path}" in r.output and "no-such-scenario" not in r.output, r.output


def sphinx_project(root: Path, output: str = "generated") -> Path:
    from test_docs import BROKEN_MODEL  # fails fast: its page is an error page, no diagrams

    (root / "models").mkdir(parents=True)
    (root / "models" / "first.py").write_text(BROKEN_MODEL)
    docs = root / "docs"
    docs.mkdir()
    (docs / "conf.py").write_text(
        'extensions = ["hamodel.sphinx"]\nhamodel_models = ["models/*.py"]\n'
        f"hamodel_root = {str(root)!r}\nhamodel_output = {output!r}\n"
    )
    (docs / "index.rst").write_text("Test\n====\n\n.. toctree::\n\n   generated/index\n")
    return docs


def test_sphinx_removes_only_pages_it_published(tmp_path):
    from test_docs import sphinx_build

    docs = sphinx_project(tmp_path)
    gen = docs / "generated"
    gen.mkdir()
    (gen / "notes.rst").write_text("Notes\n=====\n\nhand-written\n")
    (gen / "keep").mkdir()
    (gen / "keep" / "data.csv").write_text("a,b\n")
    sphinx_build(docs, tmp_path / "html")
    assert (gen / "first" / "index.rst").is_file()
    # the model is renamed: its old page goes, the hand-written files stay
    (tmp_path / "models" / "first.py").rename(tmp_path / "models" / "second.py")
    sphinx_build(docs, tmp_path / "html")
    assert (gen / "second" / "index.rst").is_file() and not (gen / "first").exists()
    assert (gen / "notes.rst").read_text() == "Notes\n=====\n\nhand-written\n"
    assert (gen / "keep" / "data.csv").read_text() == "a,b\n"


def test_sphinx_output_cannot_be_the_source_directory(tmp_path):
    from test_docs import sphinx_build

    docs = sphinx_project(tmp_path, output=".")
    (docs / "chapter.rst").write_text("Chapter\n=======\n")
    before = snapshot(docs)
    proc = sphinx_build(docs, tmp_path / "html")
    assert proc.returncode != 0
    assert "hamodel_output = '.' must name a subdirectory" in proc.stderr + proc.stdout
    assert snapshot(docs) == before


def test_check_of_a_foreign_directory_prints_no_content(tmp_path):
    m = model_file(tmp_path)
    ssh = tmp_path / "ssh"
    ssh.mkdir()
    (ssh / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nKEYMATERIAL\n")
    (ssh / "id_ed25519").chmod(0o644)
    for i in range(80):
        (ssh / f"known_{i:02}").write_text(f"host{i} KEYMATERIAL\n")
    r = build(m, "-o", ssh, "--check")
    assert r.exit_code == 1, r.output
    assert "KEYMATERIAL" not in r.output
    assert "Only in a: id_ed25519" in r.output and "more entries" in r.output
