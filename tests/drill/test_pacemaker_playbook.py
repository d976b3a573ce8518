"""A corosync/Pacemaker cluster formed by the shipped playbook from nothing
(issue 24), on the drill's lab: three namespace nodes with nothing running
and no corosync.conf or key; ``ansible-playbook`` installs the key and
corosync.conf on every node, starts the stack, waits for quorum and a DC,
pushes the CIB once and runs ``crm_verify -L``. A node is then put in
standby; a second deploy that changes a resource default keeps it there.

The lab's rewrites, as in the drill: the CIB's agents other than IPaddr2
and the fence devices are the lab's stand-ins (hamodel.drill.pacemaker.lab_cib),
so the pushed cib.xml is the generated one with the lab's configuration;
``systemctl`` is a stand-in that starts corosync and pacemakerd in the
node's namespaces and runs every other command inside the node
(``hamodel_handler_prefix``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_ansible_deploy import ANSIBLE_PLAYBOOK, recap
from test_hostile_injection import ansible_env, needs_ansible

from hamodel.drill.pacemaker.cluster_plan import available, generated_files, lab_cib, plan
from hamodel.drill.pacemaker.lab import PacemakerLab
from hamodel.loader import load
from hamodel.output import write_tree

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "openstack_pacemaker.py"
LOCK = ROOT / "tests" / "golden" / "openstack_pacemaker.lock.json"

pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.skipif(available() is not None, reason=str(available()))]

# argv: NS NODE_DIR DEST, then the command. "lab-start" boots the node's stack; "is-active X"
# checks it; "systemctl ... haproxy" is left to Pacemaker; anything else runs inside the node.
NODE = r"""
import os, subprocess, sys, time
ns, d, dest, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def pid(name):
    try:
        p = int(open(os.path.join(d, name + ".pid")).read())
        os.kill(p, 0)
        return p
    except (OSError, ValueError):
        return None
def inside(cmd, **kw):
    return subprocess.run(["nsenter", "-t", str(pid("corosync")), "-m", "-n", "--", *cmd], **kw)
if argv[0] == "is-active":
    sys.exit(0 if pid(argv[1]) else 3)
if argv[0] == "lab-start":
    if not pid("corosync"):
        with open(os.path.join(d, "corosync.out"), "ab") as log:
            p = subprocess.Popen(["ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private",
                                  os.path.join(d, "node.sh")], stdout=log, stderr=log, start_new_session=True)
        open(os.path.join(d, "corosync.pid"), "w").write(str(p.pid))
        for _ in range(100):
            time.sleep(0.2)
            if inside(["corosync-cfgtool", "-s"], capture_output=True).returncode == 0:
                break
        else:
            sys.exit("corosync did not start: " + open(os.path.join(d, "corosync.out")).read()[-2000:])
    if not pid("pacemakerd"):
        with open(os.path.join(d, "pacemakerd.out"), "ab") as log:
            p = subprocess.Popen(["nsenter", "-t", str(pid("corosync")), "-m", "-n", "--", "pacemakerd", "-f"],
                                 stdout=log, stderr=log, start_new_session=True)
        open(os.path.join(d, "pacemakerd.pid"), "w").write(str(p.pid))
    sys.exit(0)
if argv[0] == "sysctl":
    sys.exit(subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-p", dest + argv[2]]).returncode)
if argv[0] == "systemctl":
    sys.exit(0)  # haproxy: Pacemaker's (try-reload-or-restart of a unit that does not run here)
if argv[0] == "rabbitmq-plugins":
    sys.exit(0)  # no RabbitMQ broker runs in this lab (tests/drill/test_rabbitmq_metrics.py enables it on real ones)
if not pid("corosync"):
    sys.exit("the cluster stack does not run on this node")
argv = [dest + a if a.startswith("/etc/hamodel/") else a for a in argv]
sys.exit(inside(argv).returncode)
"""


def _tool(d: Path, argv: list[str]) -> subprocess.CompletedProcess:
    if not (d / "corosync.pid").is_file():  # the deploy failed before the stack started: say so, do not hide it
        return subprocess.CompletedProcess(argv, 1, f"{d.name}: corosync never started\n", "")
    pid = (d / "corosync.pid").read_text()
    return subprocess.run(["nsenter", "-t", pid, "-m", "-n", "--", *argv], capture_output=True, text=True, timeout=30)


@needs_ansible
def test_the_playbook_forms_a_cluster_and_a_second_deploy_keeps_standby(tmp_path: Path) -> None:
    arch = load(MODEL)
    dep, files = generated_files(arch, lock=LOCK)
    p = plan(arch, dep, files)
    pl = PacemakerLab(arch, p, dep=dep)
    lab = pl.lab
    out = tmp_path / "build"
    script = tmp_path / "node.py"
    script.write_text(NODE)
    try:
        lab.create()
        for sw in p.switches:
            lab.add_switch(sw)
        for a, b in p.links:
            lab.link_switches(a, b, split_horizon=(a, b) in p.split_horizon)
        for m in p.members:
            lab.add_host(m.node)
            lab.plug(m.node, m.device, m.switch, f"{m.address}/{m.prefix}")
        pl.configuration, pl.substitutions, _ = lab_cib(p.cib, p, lab.root)
        pl._write_agent()
        lab.write_file(
            lab.root / "fence-map.json",
            json.dumps(
                {m.node: {"ns": lab.node_ns(m.node), "devices": [m.device], "static": m.static} for m in p.members}
            ),
        )
        hostvars = {}
        for m in p.members:
            pl._write_node(m.node)
            d = pl.ndir(m.node)
            # From nothing: no corosync.conf, no key; the node's /etc/corosync is the playbook's.
            etc = tmp_path / f"root-{m.node}" / "etc" / "corosync"
            etc.mkdir(parents=True)
            shutil.rmtree(d / "etc-corosync")
            (d / "etc-corosync").symlink_to(etc)
            prefix = ["python3", str(script), lab.node_ns(m.node), str(d), str(tmp_path / f"root-{m.node}")]
            hostvars[m.node] = {
                "hamodel_dest_root": str(tmp_path / f"root-{m.node}"),
                "hamodel_handler_prefix": prefix,
                "hamodel_health_prefix": prefix,
                "hamodel_service_check": ["is-active"],
                "hamodel_cluster_start": ["lab-start"],
            }
        assert not any(any((tmp_path / f"root-{m.node}" / "etc/corosync").iterdir()) for m in p.members)
        # The lab's CIB: the generated document with the lab's configuration (stand-in agents).
        cib = ET.fromstring(files["pacemaker/cib.xml"])
        cib.remove(cib.find("configuration"))
        cib.insert(0, ET.fromstring(pl.configuration))
        lab_files = dict(files)
        lab_files["pacemaker/cib.xml"] = ET.tostring(cib)
        write_tree(out, lab_files)
        # The files the manifest lists as prerequisites (an operator's: the mysqld exporter's
        # credentials), in each node's root; the corosync key is the playbook's to install.
        # The playbook checks them at their paths: point it at the node's root.
        manifest = json.loads(files["manifest.json"])
        for entry in manifest["files"].values():
            for f in entry.get("prerequisites", {}).get("files", ()):
                if f["path"] != "/etc/corosync/authkey":
                    pre = tmp_path / f"root-{entry['node']}" / f["path"].lstrip("/")
                    pre.parent.mkdir(parents=True, exist_ok=True)
                    pre.write_text("[client]\n")
                    required = hostvars[entry["node"]].setdefault("hamodel_required_files", [])
                    if str(pre) not in required:
                        required.append(str(pre))
        key = tmp_path / "authkey"
        subprocess.run(["corosync-keygen", "-l", "-k", str(key)], check=True, capture_output=True)
        inv = tmp_path / "lab.yml"
        inv.write_text(json.dumps({"all": {"hosts": hostvars}}))

        def deploy() -> subprocess.CompletedProcess:
            # The controller: the first node's namespace (corosync -t needs a node list address), its
            # /etc/corosync the node's (corosync -t reads the key the playbook installed there).
            etc = tmp_path / f"root-{p.members[0].node}" / "etc" / "corosync"
            return subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    lab.node_ns(p.members[0].node),
                    "unshare",
                    "-m",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    f'mount --bind "{etc}" /etc/corosync && exec "$@"',
                    "deploy",
                    ANSIBLE_PLAYBOOK,
                    "-c",
                    "local",
                    "-i",
                    str(out / "ansible" / "inventory.yml"),
                    "-i",
                    str(inv),
                    "-e",
                    json.dumps({"hamodel_corosync_authkey": str(key), "hamodel_health_retries": 60}),
                    str(out / "ansible" / "deploy.yml"),
                ],
                capture_output=True,
                text=True,
                timeout=1500,
                cwd=tmp_path,
                env=ansible_env(tmp_path),
            )

        first = deploy()
        if first.returncode != 0:
            dbg = [
                subprocess.run(
                    ["ip", "netns", "exec", lab.node_ns(p.members[0].node), "ping", "-c1", "-W1", m.address],
                    capture_output=True,
                    text=True,
                ).stdout
                for m in p.members
            ]
            dbg += [_tool(pl.ndir(m.node), ["corosync-cfgtool", "-s"]).stdout for m in p.members]
            dbg += [
                subprocess.run(["ip", "-n", lab.node_ns(m.node), "-br", "addr"], capture_output=True, text=True).stdout
                for m in p.members
            ]
            dbg += [
                _tool(pl.ndir(m.node), ["sh", "-c", "ls -la /etc/corosync; md5sum /etc/corosync/*"]).stdout
                for m in p.members
            ]
            raise AssertionError(first.stdout[-6000:] + first.stderr[-2000:] + "\n".join(dbg))
        first_node = pl.ndir(p.members[0].node)
        live = ET.fromstring(_tool(first_node, ["cibadmin", "--query"]).stdout)
        assert {r.get("id") for r in live.iter("primitive")} >= {r.get("id") for r in cib.iter("primitive")}
        resting = p.members[1].node
        r = _tool(first_node, ["crm_attribute", "--node", resting, "--name", "standby", "--update", "on"])
        assert r.returncode == 0, r.stderr

        # A second deploy changing a resource default: standby stays, the change is live.
        c = ET.fromstring((out / "pacemaker" / "cib.xml").read_bytes())
        c.find(".//rsc_defaults//nvpair[@name='resource-stickiness']").set("value", "5")
        (out / "pacemaker" / "cib.xml").write_bytes(ET.tostring(c))
        second = deploy()
        assert second.returncode == 0, second.stdout[-10000:] + second.stderr[-2000:]
        assert recap(second.stdout, p.members[0].node)["changed"] >= 2  # the CIB file and its push
        q = _tool(first_node, ["crm_attribute", "--node", resting, "--name", "standby", "--query", "--quiet"])
        assert q.stdout.strip() == "on", q.stdout + q.stderr
        live = ET.fromstring(_tool(first_node, ["cibadmin", "--query"]).stdout)
        assert live.find(".//rsc_defaults//nvpair[@name='resource-stickiness']").get("value") == "5"
        v = _tool(first_node, ["crm_verify", "-L"])
        assert v.returncode == 0, v.stdout + v.stderr
        print(f"\ncluster formed by the playbook; standby of {resting} kept by the second deploy; crm_verify -L clean")
    finally:
        for m in p.members:
            for name in ("pacemakerd", "corosync"):
                try:
                    os.killpg(int((pl.ndir(m.node) / f"{name}.pid").read_text()), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        lab.teardown()
