"""hamodel import / drift: semantic drift, hostile input, the CLI, hand-written configs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hamodel.generators.configs import build_configs

from hamodel.adopt import AdoptError, import_folder
from hamodel.adopt.collected import read_collected
from hamodel.adopt.drift import drift, drift_sarif
from hamodel.adopt.layout import as_collected
from hamodel.analysis.placement import lock_path_for
from hamodel.loader import load
from hamodel.pipeline import resolve

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "collected"


@pytest.fixture(scope="module")
def multirack(tmp_path_factory):
    """multirack's build as a collected folder, and the model's files."""
    model = str(ROOT / "models" / "multirack.py")
    arch = load(model)
    files = build_configs(resolve(arch, lock=lock_path_for(model), analyse=False), redact=True)
    root = tmp_path_factory.mktemp("collected")
    for rel, data in as_collected(files, json.loads(files["manifest.json"])).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return arch, files, root


def _edit(root: Path, rel: str, old: str, new: str, count: int = 1) -> None:
    p = root / rel
    text = p.read_text()
    assert old in text, old
    p.write_text(text.replace(old, new, count))


def test_drift_is_semantic(multirack, tmp_path):
    arch, files, root = multirack
    col = tmp_path / "c"
    shutil.copytree(root, col)
    # not drift: reordered backends, a changed comment, reordered sections
    _edit(
        col,
        "lb-1/etc/haproxy/haproxy.cfg",
        "    server ctl-1 10.10.0.21:5000 check inter 1000 rise 2 fall 3\n    server ctl-2 10.10.0.22:5000 check inter 1000 rise 2 fall 3\n",
        "    server ctl-2 10.10.0.22:5000 check inter 1000 rise 2 fall 3\n    server ctl-1 10.10.0.21:5000 check inter 1000 rise 2 fall 3\n",
    )
    _edit(col, "lb-1/etc/haproxy/haproxy.cfg", "# keystone on", "# edited by hand: keystone on")
    _edit(col, "lb-2/etc/keepalived/keepalived.conf", "# haproxy:", "! a keepalived comment\n# haproxy:")
    assert drift(arch, files, col).items == []
    # drift: a changed timeout, a missing backend, a different priority, a moved VIP
    _edit(
        col,
        "lb-1/etc/haproxy/haproxy.cfg",
        "timeout server 3600s\n    server ctl-1",
        "timeout server 7200s\n    server ctl-1",
    )
    _edit(col, "lb-1/etc/haproxy/haproxy.cfg", "    server ctl-3 10.10.0.23:9696 check inter 1000 rise 2 fall 3\n", "")
    _edit(col, "lb-2/etc/keepalived/keepalived.conf", "priority 110", "priority 130")
    _edit(col, "lb-3/etc/keepalived/keepalived.conf", "10.10.0.10/24", "10.10.0.99/24")
    items = drift(arch, files, col).items
    got = {(d.node, d.object, d.message.split(":")[0]) for d in items}
    assert got == {
        ("lb-1", "services[glance-api]", "glance-api-9292 timeout server"),
        ("lb-1", "services[neutron-server]", "neutron-server-9696"),
        ("lb-2", "services[haproxy].strategy", "vrrp_instance haproxy priority"),
        ("lb-3", "services[haproxy].strategy", "vrrp_instance haproxy vips"),
    }, items
    lines = (col / "lb-1/etc/haproxy/haproxy.cfg").read_text().split("\n")
    timeout = next(d for d in items if "timeout" in d.message)
    assert lines[timeout.line - 1].strip() == "timeout server 7200s"
    sarif = json.loads(drift_sarif(drift(arch, files, col)))
    assert len(sarif["runs"][0]["results"]) == 4
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(sarif, json.loads((ROOT / "tests/data/sarif-schema-2.1.0.json").read_text()))


def test_missing_file_is_drift(multirack, tmp_path):
    arch, files, root = multirack
    col = tmp_path / "c"
    shutil.copytree(root, col)
    (col / "lb-3/etc/keepalived/keepalived.conf").unlink()
    items = drift(arch, files, col).items
    assert [(d.node, d.file, d.message) for d in items] == [
        ("lb-3", "etc/keepalived/keepalived.conf", "missing on the node: the model generates it")
    ]


def _node(tmp_path: Path, rel: str, data: bytes | str) -> Path:
    p = tmp_path / "n1" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return tmp_path


@pytest.mark.parametrize(
    "rel,data,message",
    [
        ("etc/haproxy/haproxy.cfg", b"global\n\x00\x01binary", "binary data"),
        ("etc/haproxy/haproxy.cfg", b"global\n  maxconn \xff\xfe\n", "not UTF-8"),
        ("etc/keepalived/keepalived.conf", "a {\n" * 40 + "}\n" * 40, "nested more than"),
        ("etc/keepalived/keepalived.conf", "vrrp_instance x {\n  state MASTER\n", "cannot parse"),
        ("etc/keepalived/keepalived.conf", "include /etc/keepalived/keepalived.conf\n", "include loop"),
        ("etc/keepalived/keepalived.conf", "include /etc/../../../../etc/passwd\n", "outside the node's"),
        (
            "cib.xml",
            '<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            "<cib><configuration>&b;</configuration></cib>",
            "refused",
        ),
        ("cib.xml", "<cib><configuration>" + "<x>" * 40 + "</x>" * 40 + "</configuration></cib>", "nested more than"),
        ("etc/haproxy/haproxy.cfg", "global\n  log 'unterminated\n", "cannot split"),
    ],
)
def test_hostile_input_is_refused(tmp_path, rel, data, message):
    with pytest.raises(AdoptError, match=message) as exc:
        read_collected(_node(tmp_path, rel, data))
    assert "n1/" in str(exc.value)


def test_huge_file_is_refused(tmp_path):
    root = _node(tmp_path, "etc/haproxy/haproxy.cfg", "")
    with open(root / "n1/etc/haproxy/haproxy.cfg", "wb") as fh:
        fh.truncate(5 * 1024 * 1024)
    with pytest.raises(AdoptError, match="more than the"):
        read_collected(root)


def test_hostile_names_never_reach_the_model(tmp_path):
    conf = (
        'vrrp_script chk_haproxy {\n  script "/usr/bin/pgrep -x haproxy"\n}\n'
        "vrrp_instance x$(reboot)<b> {\n  virtual_router_id 5\n  interface eth0\n"
        "  virtual_ipaddress {\n    10.0.0.10/24 dev eth0\n  }\n}\n"
        "vrrp_instance ok {\n  virtual_router_id 6\n  interface eth0\n  unicast_src_ip 10.0.0.1\n"
        "  virtual_ipaddress {\n    10.0.0.11/24 dev eth0\n  }\n  track_script {\n    chk_haproxy\n  }\n}\n"
    )
    root = _node(tmp_path, "etc/keepalived/keepalived.conf", conf)
    _node(
        tmp_path,
        "etc/haproxy/haproxy.cfg",
        "global\n  maxconn 100\nlisten {{7*7}}-80\n  bind 10.0.0.11:80\n"
        "  server a`id` 10.0.0.1:80 check\nlisten web-80\n  bind 10.0.0.11:80\n  server {{x}} 10.0.0.1:80\n"
        "  server n1 10.0.0.1:80 check\n",
    )
    draft = import_folder(root)
    code = draft.source.split('"""', 2)[2]
    assert "{{" not in code and "$(" not in code and "`" not in code
    unsafe = sorted((u.file.split("/")[-1], u.line) for u in draft.unmapped if u.reason == "unsafe")
    assert unsafe == [("haproxy.cfg", 3), ("haproxy.cfg", 8), ("keepalived.conf", 4)], draft.unmapped
    (tmp_path / "m.py").write_text(draft.source)
    load(str(tmp_path / "m.py"))


def test_cli_import_check_drift(multirack, tmp_path):
    _, _, root = multirack
    exe = [sys.executable, "-m", "hamodel.cli"]
    out = tmp_path / "site.py"
    r = subprocess.run([*exe, "import", str(root), "-o", str(out), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["nodes"] == 9 and report["unmapped"] == []
    assert "TODO failure domains" in out.read_text()
    r = subprocess.run([*exe, "import", str(root), "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 2 and "--force" in r.stderr  # never replaces a model silently
    r = subprocess.run([*exe, "drift", str(out), str(root)], capture_output=True, text=True)
    assert r.returncode == 0 and "no drift" in r.stdout, r.stdout + r.stderr
    _edit(root, "lb-1/etc/haproxy/haproxy.cfg", "balance roundrobin", "balance leastconn")
    try:
        r = subprocess.run([*exe, "drift", str(out), str(root), "--json"], capture_output=True, text=True)
        assert r.returncode == 1
        assert json.loads(r.stdout)["count"] == 1
    finally:
        _edit(root, "lb-1/etc/haproxy/haproxy.cfg", "balance leastconn", "balance roundrobin")


@pytest.mark.slow
def test_collect_playbook_fetches_the_layout(multirack, tmp_path):
    """The build's ansible/collect.yml, run with the real ansible-playbook on this host
    (a fake root for /etc), fetches what drift then reads without difference."""
    arch, files, root = multirack
    (tmp_path / "ansible").mkdir()
    (tmp_path / "ansible/collect.yml").write_bytes(files["ansible/collect.yml"])
    fake = tmp_path / "fake"
    shutil.copytree(root / "lb-1", fake)
    out = tmp_path / "fetched"
    exe = Path(sys.executable).absolute().parent / "ansible-playbook"
    r = subprocess.run(
        [
            str(exe),
            "-i",
            "lb-1,",
            "-c",
            "local",
            str(tmp_path / "ansible/collect.yml"),
            "-e",
            f"hamodel_collect_root={fake}",
            "-e",
            f"hamodel_collect_dir={out}",
            "-e",
            "hamodel_collect_hosts=all",
            "-e",
            f"ansible_python_interpreter={Path(sys.executable).absolute()}",
            "-e",
            "hamodel_collect_become=false",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-2000:]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "lb-1/etc/haproxy/haproxy.cfg",
        "lb-1/etc/keepalived/keepalived.conf",
    ]
    items = drift(arch, files, out).items
    assert items and all(d.node != "lb-1" for d in items)  # only the nodes it did not visit


KOLLA_KEEPALIVED = """\
global_defs {{
    script_user root
    enable_script_security
}}
vrrp_script check_alive {{
    script "/check_alive.sh"
    interval 2
    fall 2
    rise 10
}}
vrrp_instance kolla_internal_vip_51 {{
    state BACKUP
    nopreempt
    interface eth1
    virtual_router_id 51
    priority {prio}
    advert_int 1
    unicast_src_ip {me}
    unicast_peer {{
{peers}
    }}
    virtual_ipaddress {{
        10.0.0.250 dev eth1
    }}
    authentication {{
        auth_type PASS
        auth_pass not-copied
    }}
    track_script {{
        check_alive
    }}
}}
"""

KOLLA_HAPROXY = """\
global
    chroot /var/lib/haproxy
    user haproxy
    group haproxy
    daemon
    log 10.0.0.11:5140 local1
    maxconn 40000
    nbthread 1
defaults
    log global
    option redispatch
    retries 3
    timeout http-request 10s
    timeout queue 1m
    timeout connect 10s
    timeout client 1m
    timeout server 1m
    timeout check 10s
    balance roundrobin
listen keystone_internal
    mode http
    http-request del-header X-Forwarded-Proto
    bind 10.0.0.250:5000
    server ctl1 10.0.0.11:5000 check inter 2000 rise 2 fall 5
    server ctl2 10.0.0.12:5000 check inter 2000 rise 2 fall 5
    server ctl3 10.0.0.13:5000 check inter 2000 rise 2 fall 5
listen mariadb
    mode tcp
    option clitcpka
    timeout client 3600s
    option srvtcpka
    timeout server 3600s
    bind 10.0.0.250:3306
    server ctl1 10.0.0.11:3306 check port 4569 inter 2000 rise 2 fall 5
    server ctl2 10.0.0.12:3306 check port 4569 inter 2000 rise 2 fall 5 backup
    server ctl3 10.0.0.13:3306 check port 4569 inter 2000 rise 2 fall 5 backup
"""


def test_kolla_style_site_imports_loads_and_checks(tmp_path):
    """Written from kolla-ansible's template shapes (facts, not text): a
    VIP on eth1 with VRRP authentication, a check_alive script, `listen
    <service>` sections, Galera behind a single active writer."""
    me = {"ctl1": "10.0.0.11", "ctl2": "10.0.0.12", "ctl3": "10.0.0.13"}
    for i, (n, a) in enumerate(me.items()):
        peers = "\n".join(f"        {b}" for m, b in me.items() if m != n)
        d = tmp_path / n / "etc"
        (d / "keepalived").mkdir(parents=True)
        (d / "haproxy").mkdir()
        (d / "keepalived/keepalived.conf").write_text(KOLLA_KEEPALIVED.format(prio=120 - 10 * i, me=a, peers=peers))
        (d / "haproxy/haproxy.cfg").write_text(KOLLA_HAPROXY)
    draft = import_folder(tmp_path, "kolla site")
    reasons = {(u.file.split("/", 1)[1], u.directive.split(":")[-1].strip(), u.reason) for u in draft.unmapped}
    assert ("etc/keepalived/keepalived.conf", "script", "ambiguous") in reasons  # /check_alive.sh: which process?
    assert ("etc/haproxy/haproxy.cfg", "option clitcpka", "unsupported") in reasons
    (tmp_path / "site.py").write_text(draft.source)
    arch = load(str(tmp_path / "site.py"))
    assert arch.service("mariadb").strategy.kind == "app_cluster"
    assert arch.service("keystone_internal").strategy.check.fall == 5
    dep = resolve(arch)
    # what a person reasons by hand: three controllers, one VIP, nothing
    # single: no single point of failure among the imported services
    assert not [f for f in dep.findings if f.kind == "spof"], [f.id for f in dep.findings]
