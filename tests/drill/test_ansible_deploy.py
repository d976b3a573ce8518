"""The shipped playbook (OUT/ansible/deploy.yml) and inventory, with real ansible-core.

- The playbook runs with a local connection inside a network namespace that
  has the node's interfaces (so the real ``keepalived -t`` of its
  ``validate:`` runs, and the real ``haproxy -c``), writing under a per-test
  ``hamodel_dest_root``; reload handlers go through ``hamodel_handler_prefix``,
  a command that only logs what it would run. Asserted: every file lands with
  the manifest's owner, group and mode; handlers run in install order and
  only for files that changed; a second run changes nothing; a rotated VRRP
  password is pushed (keepalived reloaded, nothing else) and appears nowhere
  in ``--diff -v`` output; a file its validator refuses is never installed.
- The inventory merges with a site inventory in either order: the site's
  ``ansible_host`` values and its OpenStack-Ansible ``haproxy`` group stay as
  they were, hamodel's groups sit beside them.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hamodel.generators.configs import build_configs
from test_configs import small_arch
from test_hostile_injection import ansible_env, needs_ansible, unwrap

from hamodel.model.base import SecretRef
from hamodel.output import write_tree
from hamodel.pipeline import resolve
from hamodel.validate import available, namespace, node_interfaces

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
ANSIBLE_INVENTORY = str(Path(sys.executable).parent / "ansible-inventory")
KEY = "k" * 40  # manifest HMAC key: a rotated secret must change the manifest

# An OpenStack-Ansible-like site inventory: its own haproxy group and the
# addresses Ansible must keep using for these hosts.
SITE = """\
all:
  hosts:
    n1: {ansible_host: 172.29.236.11}
    n2: {ansible_host: 172.29.236.12}
    n3: {ansible_host: 172.29.236.13}
    infra-1: {ansible_host: 172.29.236.100}
  children:
    haproxy:
      hosts: {n1: null, infra-1: null}
    haproxy_all:
      children: {haproxy: null}
"""


def build(out: Path, vrrp_pass: str, stats_file: Path, **kw) -> dict:
    arch = small_arch(vrrp={"auth": {"env": "T_VRRP_PASS"}}, stats_auth=SecretRef(file=str(stats_file)))
    files = build_configs(
        resolve(arch, analyse=False), env={"T_VRRP_PASS": vrrp_pass, "HAMODEL_MANIFEST_KEY": KEY}, **kw
    )
    write_tree(out, files)
    return files


def recap(output: str, host: str) -> dict[str, int]:
    m = re.search(rf"^{re.escape(host)}\s*:\s*(.*)$", output, re.M)
    assert m, output
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def handled(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


needs_netns = pytest.mark.skipif(not available(), reason="needs root, haproxy, keepalived, ip")


@needs_ansible
@needs_netns
@pytest.mark.netns
@pytest.mark.slow
def test_playbook_deploys_validates_reloads_once_and_never_shows_a_secret(tmp_path: Path) -> None:
    out, dest, log = tmp_path / "build", tmp_path / "n1-root", tmp_path / "handlers.log"
    stats = tmp_path / "stats.secret"
    stats.write_text("admin:St4tsPassw0rd\n")
    files = build(out, "Vr9pPass", stats)
    (tmp_path / "site.yml").write_text(SITE)
    manifest = json.loads(files["manifest.json"])
    arch = small_arch()
    extra = {
        "hamodel_dest_root": str(dest),
        "hamodel_health_gate": False,  # no daemons run here
        # Handlers log the command they would run instead of reloading this machine's daemons.
        "hamodel_handler_prefix": ["sh", "-c", f'printf "%s\\n" "$*" >> {log}', "handler"],
    }

    with namespace(node_interfaces(arch, "n1"), prefix="hmad") as ns:

        def deploy(*inventories: Path) -> subprocess.CompletedProcess:
            cmd = [
                "ip",
                "netns",
                "exec",
                ns,
                ANSIBLE_PLAYBOOK,
                "-c",
                "local",
                "-l",
                "n1",
                "--diff",
                "-v",
                "-e",
                json.dumps(extra),
            ]
            for i in inventories:
                cmd += ["-i", str(i)]
            return subprocess.run(
                [*cmd, str(out / "ansible" / "deploy.yml")],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=tmp_path,
                env=ansible_env(tmp_path),
            )

        # First run, the site inventory first: hamodel_root must not follow it.
        first = deploy(tmp_path / "site.yml", out / "ansible" / "inventory.yml")
        assert first.returncode == 0, first.stdout + first.stderr
        for rel, entry in manifest["files"].items():
            if entry["node"] != "n1":
                continue
            got = dest / entry["dest"].lstrip("/")
            assert got.read_bytes() == files[rel], rel
            st = got.stat()
            assert f"{stat.S_IMODE(st.st_mode):04o}" == entry["mode"], rel
            assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name) == (
                entry["owner"],
                entry["group"],
            ), rel
        assert manifest["files"]["nodes/n1/keepalived/keepalived.conf"]["mode"] == "0600"  # holds auth_pass
        run_dir = dest / "run" / "haproxy"  # the stats socket's folder, a prerequisite
        assert pwd.getpwuid(run_dir.stat().st_uid).pw_name == "haproxy"
        # Every kind's handler once, in install order: sysctl before haproxy before keepalived.
        # (then the node exporter, whose /etc/default file the monitoring generator writes)
        assert handled(log) == [
            "sysctl -p /etc/sysctl.d/60-hamodel-nonlocal-bind.conf",
            "systemctl reload-or-restart haproxy",
            "systemctl reload-or-restart keepalived",
            "systemctl enable --now hamodel-keepalived-up.timer",  # keepalived's liveness metrics (issue 25)
            "systemctl restart prometheus-node-exporter",
        ]
        for secret in ("Vr9pPass", "St4tsPassw0rd"):
            assert secret not in first.stdout + first.stderr

        # Second run, our inventory first this time: nothing changes, no handler runs.
        second = deploy(out / "ansible" / "inventory.yml", tmp_path / "site.yml")
        assert second.returncode == 0, second.stdout + second.stderr
        assert recap(second.stdout, "n1")["changed"] == 0, second.stdout
        assert len(handled(log)) == 5

        # A rotated VRRP password: the manifest changes (keyed hash), the file is pushed,
        # keepalived alone is reloaded, and the password shows nowhere, --diff -v included.
        rotated = build(out, "N3wPass1", stats)
        assert rotated["manifest.json"] != files["manifest.json"]
        third = deploy(out / "ansible" / "inventory.yml")
        assert third.returncode == 0, third.stdout + third.stderr
        assert b"auth_pass N3wPass1" in (dest / "etc/keepalived/keepalived.conf").read_bytes()
        assert handled(log)[5:] == ["systemctl reload-or-restart keepalived"]
        assert recap(third.stdout, "n1")["changed"] == 2, third.stdout  # the file and its handler
        for secret in ("Vr9pPass", "N3wPass1", "St4tsPassw0rd"):
            assert secret not in third.stdout + third.stderr

        # validate: a config haproxy -c refuses is never installed, and nothing reloads.
        cfg = out / "nodes" / "n1" / "haproxy" / "haproxy.cfg"
        before = (dest / "etc/haproxy/haproxy.cfg").read_bytes()
        os.chmod(cfg, 0o600)
        cfg.write_bytes(cfg.read_bytes() + b"\nlisten broken\n    bind 10.0.0.11:notaport\n")
        fourth = deploy(out / "ansible" / "inventory.yml")
        assert fourth.returncode != 0
        # The file holds the stats password: the task's output is hidden, its failure is not.
        # The run stops naming the node, the step and the file; the validator's output stays hidden
        # (the file holds a secret), and nothing was restored or reloaded (nothing had changed).
        assert (
            "haproxy on n1: haproxy: files holding a secret (output hidden) failed for /etc/haproxy/haproxy.cfg"
            in fourth.stdout
        ), fourth.stdout
        assert (dest / "etc/haproxy/haproxy.cfg").read_bytes() == before
        assert len(handled(log)) == 6
        assert "St4tsPassw0rd" not in fourth.stdout + fourth.stderr


@needs_ansible
@needs_netns
@pytest.mark.netns
@pytest.mark.slow
def test_keepalived_validation_runs_against_the_node_interfaces(tmp_path: Path) -> None:
    """The real ``keepalived -t`` runs in ``validate:``: outside a namespace
    with the node's interfaces the same playbook refuses keepalived.conf
    (the check is not a no-op), and nothing is installed."""
    out, dest = tmp_path / "build", tmp_path / "n1-root"
    stats = tmp_path / "stats.secret"
    stats.write_text("admin:St4tsPassw0rd\n")
    build(out, "Vr9pPass", stats)
    with namespace([("lo0x", "10.9.9.9/24")], prefix="hmad") as ns:  # no eth0: keepalived -t exits 5
        proc = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                ANSIBLE_PLAYBOOK,
                "-c",
                "local",
                "-l",
                "n1",
                "-i",
                str(out / "ansible" / "inventory.yml"),
                "-e",
                json.dumps(
                    {"hamodel_dest_root": str(dest), "hamodel_handler_prefix": ["true"], "hamodel_health_gate": False}
                ),
                str(out / "ansible" / "deploy.yml"),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env=ansible_env(tmp_path),
        )
    assert proc.returncode != 0, proc.stdout
    assert "keepalived: files holding a secret" in proc.stdout
    assert not (dest / "etc/keepalived/keepalived.conf").exists()
    assert (dest / "etc/haproxy/haproxy.cfg").exists()  # the kinds before it went in
    assert "Vr9pPass" not in proc.stdout + proc.stderr


@needs_ansible
@needs_netns
@pytest.mark.netns
def test_a_missing_certificate_stops_the_deploy_before_any_file(tmp_path: Path) -> None:
    """A certificate haproxy.cfg names is a prerequisite: missing on the node,
    the playbook says which and writes nothing; once there, haproxy -c
    (validate:) reads it and the deploy goes through."""
    from hamodel.strategies import Tls

    crt = tmp_path / "pki" / "api.pem"
    arch = small_arch(access={"tls": Tls(certificate=str(crt)), "mode": "http", "backend_port": 8081})
    out, dest = tmp_path / "build", tmp_path / "n1-root"
    files = build_configs(resolve(arch, analyse=False), env={})
    write_tree(out, files)
    entry = json.loads(files["manifest.json"])["files"]["nodes/n1/haproxy/haproxy.cfg"]
    assert str(crt) in [f["path"] for f in entry["prerequisites"]["files"]]
    cmd = [
        ANSIBLE_PLAYBOOK,
        "-c",
        "local",
        "-l",
        "n1",
        "-i",
        str(out / "ansible" / "inventory.yml"),
        "-e",
        json.dumps({"hamodel_dest_root": str(dest), "hamodel_handler_prefix": ["true"], "hamodel_health_gate": False}),
        str(out / "ansible" / "deploy.yml"),
    ]
    with namespace(node_interfaces(arch, "n1"), prefix="hmad") as ns:
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, *cmd],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env=ansible_env(tmp_path),
        )
        assert proc.returncode != 0 and f"{crt} is missing on n1" in proc.stdout, proc.stdout
        assert not dest.exists() or not any(p.is_file() for p in dest.rglob("*"))
        crt.parent.mkdir()
        key = tmp_path / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=api",
                "-days",
                "2",
                "-keyout",
                str(key),
                "-out",
                str(crt),
            ],
            check=True,
            capture_output=True,
        )
        crt.write_bytes(crt.read_bytes() + key.read_bytes())
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, *cmd],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env=ansible_env(tmp_path),
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (dest / "etc/haproxy/haproxy.cfg").read_bytes() == files["nodes/n1/haproxy/haproxy.cfg"]


def inventory_list(tmp: Path, *sources: Path) -> dict:
    cmd = [ANSIBLE_INVENTORY]
    for s in sources:
        cmd += ["-i", str(s)]
    proc = subprocess.run([*cmd, "--list"], capture_output=True, text=True, timeout=120, cwd=tmp, env=ansible_env(tmp))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return unwrap(json.loads(proc.stdout))


@needs_ansible
def test_inventory_merges_with_a_site_inventory_in_either_order(tmp_path: Path) -> None:
    files = build_configs(resolve(small_arch(), analyse=False))
    ours = tmp_path / "out" / "ansible" / "inventory.yml"
    write_tree(tmp_path / "out", files)
    site = tmp_path / "site" / "hosts.yml"
    site.parent.mkdir()
    site.write_text(SITE)
    for order in ((site, ours), (ours, site)):
        listed = inventory_list(tmp_path, *order)
        hv = listed["_meta"]["hostvars"]
        # The site's addresses stay, whichever inventory came last.
        assert {n: hv[n]["ansible_host"] for n in ("n1", "n2", "n3", "infra-1")} == {
            "n1": "172.29.236.11",
            "n2": "172.29.236.12",
            "n3": "172.29.236.13",
            "infra-1": "172.29.236.100",
        }
        assert hv["n1"]["hamodel_address"] == "10.0.0.11"
        # OSA's haproxy group is the site's alone; hamodel's groups sit beside it.
        assert sorted(listed["haproxy"]["hosts"]) == ["infra-1", "n1"]
        assert sorted(listed["hamodel_haproxy"]["hosts"]) == ["n1", "n2", "n3"]
        assert sorted(listed["hamodel"]["children"]) == [
            "hamodel_exporter_node",
            "hamodel_haproxy",
            "hamodel_keepalived",
            "hamodel_keepalived_state",
            "hamodel_keepalived_up",  # keepalived's liveness script and its timer (issue 25)
            "hamodel_keepalived_up_unit",
            "hamodel_sysctl",
            # the rolling waves: one VRRP group, a host each
            "hamodel_wave_000",
            "hamodel_wave_001",
            "hamodel_wave_002",
        ]
        assert sorted(listed["hamodel"]["hosts"]) == ["n1", "n2", "n3"]
        assert "infra-1" not in listed["hamodel"]["hosts"]
        # Paths do not depend on the inventory's folder (which -i came first).
        assert hv["n1"]["hamodel_root"] == "{{ playbook_dir }}/.."


@needs_ansible
def test_ansible_host_only_when_asked(tmp_path: Path) -> None:
    dep = resolve(small_arch(), analyse=False)
    for ask in (False, True):
        out = tmp_path / f"out-{ask}"
        write_tree(out, build_configs(dep, ansible_host=ask))
        hv = inventory_list(tmp_path, out / "ansible" / "inventory.yml")["_meta"]["hostvars"]
        assert ("ansible_host" in hv["n1"]) is ask
        if ask:
            assert hv["n1"]["ansible_host"] == "10.0.0.11"


def test_cli_build_ansible_host_option(tmp_path: Path) -> None:
    from test_configs import GOLDEN, ROOT
    from typer.testing import CliRunner

    from hamodel.cli import app

    model = [str(ROOT / "models/openstack_keepalived.py"), "--lock", str(GOLDEN / "openstack_keepalived.lock.json")]
    for flag, expect in (([], False), (["--ansible-host"], True)):
        out = tmp_path / f"out{len(flag)}"
        r = CliRunner().invoke(app, ["build", *model, "-o", str(out), *flag])
        assert r.exit_code == 0, r.output
        text = (out / "ansible" / "inventory.yml").read_text()
        assert ("ansible_host: !unsafe '192.168.1.221'" in text) is expect
        assert "hamodel_address: !unsafe '192.168.1.221'" in text
