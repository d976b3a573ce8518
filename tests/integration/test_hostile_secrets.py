"""Issue 17, secrets: a VRRP or stats password is never printed (errors, docs,
validator output), the secret grammar and the templates agree, and a drill's
lab copies of secret-bearing configs are root-only and never outlive a
killed drill.

Real parts: the real Sphinx build (as tests/integration/test_docs.py runs it), real
haproxy -c and keepalived -t (in a namespace) for the secret alphabet.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys

import pytest
from hamodel.generators.configs import SECRET_CHARS, ConfigError, build_configs, token
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_configs import small_arch
from test_docs import sphinx_build

from hamodel.drill import lab as labmod
from hamodel.drill.lab import STATE_ROOT, Lab, LabError, write_private
from hamodel.model.base import SecretRef
from hamodel.pipeline import resolve

SPECIALS = "".join(sorted(set(re.sub(r"A-Za-z0-9", "", SECRET_CHARS))))


def _error(dep, env) -> str:
    with pytest.raises(ConfigError) as exc:
        build_configs(dep, env=env)
    return str(exc.value)


# -- one grammar, never echoed ------------------------------------------------------------


def test_refused_vrrp_secret_names_object_field_and_env_var_not_the_value():
    dep = resolve(small_arch(vrrp={"auth": {"env": "T_VRRP_PASS"}}), analyse=False)
    msg = _error(dep, {"T_VRRP_PASS": "ab;cd"})
    # Before the fix: "template: refusing to render 'ab;cd' as a config token".
    assert "services[haproxy].strategy.auth (env:T_VRRP_PASS)" in msg, msg
    assert "ab;cd" not in msg and "template" not in msg


def test_refused_stats_secret_names_the_secret_file_not_the_value(tmp_path):
    secret = tmp_path / "stats.secret"
    secret.write_text("admin:s3cr;et\n")
    dep = resolve(small_arch(stats_auth=SecretRef(file=str(secret))), analyse=False)
    msg = _error(dep, {})
    assert f"services[haproxy].ports[9300].auth (file:{secret})" in msg, msg
    assert "s3cr" not in msg and ";et" not in msg


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=10))
def test_a_secret_is_rendered_as_read_or_refused_at_the_source_with_a_fixed_message(value):
    """Whatever the value: either the build renders it verbatim, or the
    error is the same text as for any other refused value (nothing of the
    value leaks, not even its length) and names the env var."""
    dep = resolve(small_arch(vrrp={"auth": {"env": "H_VRRP"}}), analyse=False)
    try:
        files = build_configs(dep, env={"H_VRRP": value})
    except ConfigError as exc:
        assert str(exc) == _error(dep, {"H_VRRP": "a b"}), str(exc)
        assert "(env:H_VRRP)" in str(exc)
        return
    conf = files["nodes/n1/keepalived/keepalived.conf"].decode()
    assert f"        auth_pass {value}\n" in conf
    assert token(value, "vrrp_secret", "x") == value


def test_secret_files_that_are_not_short_text_are_refused_without_their_content(tmp_path):
    dep = resolve(small_arch(stats_auth=SecretRef(file=str(tmp_path / "s"))), analyse=False)
    cases = {
        "not UTF-8 text": b"admin:\xffPassword\n",
        "larger than 4096 bytes": b"admin:" + b"P" * 5000,
    }
    for why, data in cases.items():
        (tmp_path / "s").write_bytes(data)
        msg = _error(dep, {})
        assert why in msg and "Password" not in msg and "PPP" not in msg and "xff" not in msg, msg
    (tmp_path / "s").unlink()
    os.mkfifo(tmp_path / "s")  # before the fix: read_text() blocked forever on a FIFO
    assert "not a regular file" in _error(dep, {})


@pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(x) for x in ("haproxy", "keepalived", "ip", "openssl")),
    reason="needs root, haproxy, keepalived, ip",
)
def test_every_character_of_the_secret_alphabet_passes_the_real_daemons(tmp_path):
    from hamodel.validate import validate_files

    secret = tmp_path / "stats"
    secret.write_text(f"admin:Pw{SPECIALS}\n")
    arch = small_arch(vrrp={"auth": {"env": "V_AUTH"}}, stats_auth=SecretRef(file=str(secret)))
    vrrp = ("x" + SPECIALS)[-8:]
    files = build_configs(resolve(arch, analyse=False), env={"V_AUTH": vrrp})
    assert f"auth_pass {vrrp}\n" in files["nodes/n1/keepalived/keepalived.conf"].decode()
    results = validate_files(arch, files)
    assert results and all(r.ok for r in results), [(r.command, r.output) for r in results if not r.ok]


# -- the docs never publish a secret ------------------------------------------------------

MODEL = """
from hamodel import Architecture, Network, Node, Service, VirtualIP
from hamodel.strategies import BehindVip, Vrrp

lan = Network("lan", subnet="10.0.0.0/24")
vip = VirtualIP("vip", "10.0.0.100", network=lan)
architecture = Architecture("secretive", nodes=[
    Node(f"n{i}", roles={"lb"}, addresses={lan: f"10.0.0.{10 + i}"}) for i in (1, 2, 3)
], networks=[lan], vips=[vip], services=[
    Service("haproxy", on="lb", ports=[{"port": 9300, "auth": {"file": "SECRET_FILE"}}],
            strategy=Vrrp(vip, track="haproxy")),
    Service("api", on="lb", strategy=BehindVip(vip, port=8080)),
])
"""


def test_sphinx_build_of_a_model_with_a_refused_secret_does_not_publish_it(tmp_path):
    value = "Hunter2;Leak"
    secret = tmp_path / "stats.secret"
    secret.write_text(f"admin:{value}\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "secretive.py").write_text(MODEL.replace("SECRET_FILE", str(secret)))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "conf.py").write_text('extensions = ["hamodel.sphinx"]\nhamodel_models = ["models/*.py"]\n')
    (docs / "index.rst").write_text("Test\n====\n\n.. toctree::\n\n   generated/index\n")
    html = tmp_path / "html"
    proc = sphinx_build(docs, html)
    # The docs build configs with every secret redacted (hamodel.sphinx): a
    # secret is never read there, so a refused one neither fails the build nor
    # leaks; the file that holds it is published with the placeholder.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    published = [p for p in [*html.rglob("*"), *(docs / "generated").rglob("*")] if p.is_file()]
    for text in [proc.stdout, proc.stderr, *(p.read_bytes().decode("utf-8", "replace") for p in published)]:
        assert "Hunter2" not in text and ";Leak" not in text
    cfg = docs / "generated" / "secretive" / "configs" / "nodes" / "n1" / "haproxy" / "haproxy.cfg"
    assert "stats auth REDACTED:REDACTED" in cfg.read_text(), "the secret-bearing file should be published redacted"


# -- drill lab: root-only files, nothing readable after a SIGKILL ---------------------------


def test_lab_files_are_0600_in_0700_dirs_and_never_follow_symlinks(tmp_path):
    target = tmp_path / "a" / "b" / "keepalived.conf"
    labmod.private_dir(target.parent)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    target.write_text("old")
    os.chmod(target, 0o644)
    write_private(target, "auth_pass S3cret\n")  # an existing 0644 file becomes 0600
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_text() == "auth_pass S3cret\n"
    (tmp_path / "elsewhere").write_text("keep")
    (tmp_path / "a" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError):
        write_private(tmp_path / "a" / "link", "x")
    assert (tmp_path / "elsewhere").read_text() == "keep"


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="the lab state dir is under /run (root)")
def test_drill_writes_root_only_configs_and_the_next_lab_removes_a_dead_drills_dir(tmp_path):
    from hamodel.drill.runner import Drill, generated_files

    # A SIGKILLed drill's state dir, still holding its secret-bearing config.
    stale = STATE_ROOT / f"hml-{_dead_pid()}"
    labmod.private_dir(stale / "nodes" / "n1")
    write_private(stale / "nodes" / "n1" / "keepalived.conf", "auth_pass S3cret\n")
    lab = Lab(prefix=f"hml-{os.getpid()}-sec{os.urandom(3).hex()}-")
    try:
        lab.create()
        # Before the fix the stale dir stayed until `drill --cleanup`.
        assert not stale.exists()
        assert stat.S_IMODE(STATE_ROOT.stat().st_mode) == 0o700
        assert stat.S_IMODE(lab.root.stat().st_mode) == 0o700
        with pytest.raises(LabError):
            lab.write_file(tmp_path / "outside", "x")

        # The drill's own writer, on the files the generators produce
        # (no namespaces needed: only the node dirs the writer fills).
        arch = small_arch(vrrp={"auth": {"env": "D_VRRP"}})
        os.environ["D_VRRP"] = "Dr1llPw"
        try:
            dep, files = generated_files(arch)
        finally:
            del os.environ["D_VRRP"]
        drill = Drill(arch, dep, files, quick=True, lab=lab)
        for n in ("n1", "n2", "n3"):
            labmod.private_dir(lab.node_dir(n))
            drill._write_node_files(n)
        conf = lab.node_dir("n1") / "keepalived.conf"
        assert "auth_pass Dr1llPw" in conf.read_text()
        written = list(lab.root.rglob("*"))
        assert conf in written and lab.node_dir("n1") / "haproxy.cfg" in written
        for p in written:
            mode = stat.S_IMODE(p.stat().st_mode)
            if p.is_dir():
                assert mode == 0o700, p
            elif p.suffix in (".conf", ".cfg"):
                assert mode == 0o600, p
            else:  # track scripts: run by root only
                assert mode & 0o077 == 0, p
    finally:
        lab.teardown()
    assert not lab.root.exists()
