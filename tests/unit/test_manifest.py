"""manifest.json (format 2) and the inventory's deploy fields, without Ansible.

Every node file says who owns it, its mode, how it is validated, what runs
when it changes, when it is installed and what must be on the node first;
all of it comes from one table (``KINDS``) that a new generator extends.
"""

from __future__ import annotations

import json

import pytest
import yaml
from hamodel.generators.configs import ConfigError, NodeFile, build_configs
from hamodel.generators.manifest import FORMAT, KINDS, render_manifest
from hamodel.generators.sysctl import DEST as SYSCTL_DEST
from test_configs import reference, small_arch

from hamodel.model.base import SecretRef
from hamodel.pipeline import resolve


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def inventory(files) -> dict:
    return yaml.load(files["ansible/inventory.yml"], Loader=_Loader)


@pytest.fixture(scope="module")
def multirack():
    from hamodel.generators.configs import build_configs

    return build_configs(reference("multirack"))


def test_every_file_has_its_install_metadata(multirack):
    m = json.loads(multirack["manifest.json"])
    assert m["format"] == FORMAT == 2
    assert {e["kind"] for e in m["files"].values()} >= {"haproxy", "keepalived", "sysctl"}
    for rel, e in m["files"].items():
        k = KINDS[e["kind"]]
        assert (e["owner"], e["group"], e["order"]) == (k.owner, k.group, k.order), rel
        assert e["mode"] == (k.secret_mode if e["secret"] else k.mode), rel
        assert e["validate"]["command"] == k.validate, rel
        # A kind without a validator says why.
        assert e["validate"]["command"] or e["validate"]["note"], rel
        assert set(e["prerequisites"]) == {
            "packages",
            "files",
            "directories",
            "sysctl",
            "firewall",
            "health_endpoints",
        }, rel
    node = next(
        n
        for n in sorted({e["node"] for e in m["files"].values()})
        if {"haproxy", "keepalived", "sysctl"} <= {e["kind"] for e in m["files"].values() if e["node"] == n}
    )
    by_kind = {e["kind"]: e for e in m["files"].values() if e["node"] == node}
    assert by_kind["haproxy"]["validate"]["command"] == "haproxy -c -f %s"
    assert by_kind["keepalived"]["validate"]["command"] == "keepalived -t -f %s"
    assert by_kind["sysctl"]["validate"]["command"] is None
    assert by_kind["sysctl"]["on_change"] == {"action": "apply sysctl", "command": ["sysctl", "-p", SYSCTL_DEST]}
    assert by_kind["haproxy"]["on_change"]["action"] == "reload haproxy"
    assert by_kind["keepalived"]["on_change"]["action"] == "reload keepalived"
    # sysctl before HAProxy (it binds VIPs), HAProxy before keepalived (which tracks it).
    order = [x["kind"] for x in m["install_order"]]
    assert order.index("sysctl") < order.index("haproxy") < order.index("keepalived")


def test_health_endpoints_the_checks_query_are_prerequisites(multirack):
    """Galera's clustercheck (9200) in multirack, Patroni's REST API (8008) in
    webplatform: every backend node, its address and the firewall rule letting
    the HAProxy node in, listed on each haproxy.cfg that checks it."""
    m = json.loads(multirack["manifest.json"])
    dep = reference("multirack")
    hp = {e["node"]: e for e in m["files"].values() if e["kind"] == "haproxy"}
    assert hp
    for node, e in hp.items():
        ends = e["prerequisites"]["health_endpoints"]
        galera = [x for x in ends if x["service"] == "galera"]
        assert sorted(x["node"] for x in galera) == sorted(dep.placement.nodes_of("galera")), node
        for x in galera:
            assert x["port"] == 9200 and "clustercheck" in x["provider"] and "GET / answers 200" in x["check"]
            backend = dep.architecture.node(x["node"])
            net = next(i.network for i in backend.interfaces if str(i.address) == x["address"])
            assert x["firewall"]["sources"] == [str(dep.architecture.node(node).interface_on(net).address)]
            assert (x["firewall"]["port"], x["firewall"]["node"]) == (9200, x["node"])
        assert {x["service"] for x in ends} == {"galera"}, ends  # no other front has a check port of its own
    web = json.loads(build_configs(reference("webplatform"))["manifest.json"])
    ends = [
        x
        for e in web["files"].values()
        if e["kind"] == "haproxy"
        for x in e["prerequisites"]["health_endpoints"]
        if x["service"] == "postgres"
    ]
    assert ends and all(x["port"] == 8008 and x["packages"] == ["patroni"] and "/primary" in x["check"] for x in ends)


def test_prerequisites_name_certificates_socket_folder_sysctl_and_vrrp(multirack):
    m = json.loads(multirack["manifest.json"])
    hp = next(e for e in m["files"].values() if e["kind"] == "haproxy" and "horizon" in e["services"])
    need = hp["prerequisites"]
    assert "/etc/pki/tls/horizon.pem" in [f["path"] for f in need["files"]]
    assert "haproxy" in need["packages"]
    assert [d["path"] for d in need["directories"]] == ["/run/haproxy"]
    assert {(s["key"], s["value"]) for s in need["sysctl"]} == {("net.ipv4.ip_nonlocal_bind", "1")}
    dep = reference("multirack")
    ka = {e["node"]: e for e in m["files"].values() if e["kind"] == "keepalived"}
    for node, e in ka.items():
        rules = e["prerequisites"]["firewall"]
        assert rules and all(r["protocol"] == 112 for r in rules)
        groups = [g for g in dep.vrrp_groups if node in g.priorities and g.manager == "keepalived"]
        assert len(rules) == len(groups)
        for r, g in zip(rules, sorted(groups, key=lambda g: (g.network, g.vrid))):
            peers = {str(dep.architecture.node(p).interface_on(g.network).address) for p in g.priorities if p != node}
            assert set(r["sources"]) == peers and node not in r["sources"]
            assert r["interface"] == dep.architecture.node(node).interface_on(g.network).device


def test_inventory_groups_are_prefixed_and_every_file_carries_its_metadata(multirack):
    inv = inventory(multirack)["all"]
    groups = inv["children"]["hamodel"]["children"]
    # One group per kind, plus the rolling waves (every host in exactly one).
    waves = {g: v for g, v in groups.items() if g.startswith("hamodel_wave_")}
    assert sorted(h for v in waves.values() for h in v["hosts"]) == sorted(inv["hosts"])
    assert set(groups) - set(waves) == {
        f"hamodel_{k}" for k in {e["kind"] for e in json.loads(multirack["manifest.json"])["files"].values()}
    }
    assert not set(inv["children"]) & {"haproxy", "keepalived", "sysctl", "galera"}
    assert inv["vars"]["hamodel_root"] == "{{ playbook_dir }}/.."
    for name, host in inv["hosts"].items():
        assert "ansible_host" not in host
        orders = [KINDS[f["kind"]].order for f in host["hamodel_files"]]
        assert orders == sorted(orders), name  # listed in install order
        for f in host["hamodel_files"]:
            assert {"owner", "group", "mode", "secret", "on_change"} <= set(f), name


def test_playbook_follows_the_table(multirack):
    plays = yaml.safe_load(multirack["ansible/deploy.yml"])
    play = plays[0]
    assert "hamodel_wave_" in play["hosts"]  # the rolling waves in order (test_rolling_waves.py runs them)

    def flat(tasks):
        for t in tasks:
            yield t
            yield from flat(t.get("block", []))
            yield from flat(t.get("rescue", []))

    tasks = list(flat(play["tasks"]))
    names = [t["name"] for t in tasks]
    for kind, k in KINDS.items():
        if k.scope == "cluster":
            continue  # test_pacemaker_playbook.py
        copies = [t for t in tasks if t["name"].startswith(f"{kind}: files")]
        assert len(copies) == 2, kind
        for t in copies:
            assert t["ansible.builtin.copy"].get("validate") == k.validate
            assert t["ansible.builtin.copy"]["backup"] is True  # the previous file, put back on failure
        secret = next(t for t in copies if "secret" in t["name"])
        assert secret["no_log"] is True and secret["diff"] is False
        if k.action is not None:
            block = next(t for t in play["tasks"] if t["name"].startswith(f"{kind}: install, "))
            assert f"{kind}: {k.action}" in [t["name"] for t in block["block"]]
            assert [t["name"] for t in block["rescue"]][-1] == f"{kind}: stop the rollout"
    kinds_in_order = [n.split(":")[0] for n in names if n.endswith(": files")]
    assert kinds_in_order == sorted((k for k in KINDS if KINDS[k].scope == "node"), key=lambda k: (KINDS[k].order, k))
    # The cluster kinds' play (no host in it without a Pacemaker cluster).
    assert [p["hosts"] for p in plays][1:] == ["hamodel_corosync"]
    assert "handlers" not in play  # actions run inside each kind's block, where a failure is rescued
    assert [n for n in names if n.startswith("health gate")] == names[-3:]


def test_a_rotated_secret_changes_the_manifest_without_showing(tmp_path):
    from hamodel.generators.configs import build_configs

    dep = resolve(small_arch(vrrp={"auth": {"env": "T_VRRP_PASS"}}), analyse=False)
    key = {"HAMODEL_MANIFEST_KEY": "x" * 32}
    a = build_configs(dep, env={"T_VRRP_PASS": "Vr9pPass", **key})
    b = build_configs(dep, env={"T_VRRP_PASS": "0therPw", **key})
    assert a["manifest.json"] != b["manifest.json"]
    for files, secret in ((a, "Vr9pPass"), (b, "0therPw")):
        for public in ("manifest.json", "ansible/inventory.yml", "ansible/deploy.yml"):
            assert secret not in files[public].decode()


def test_a_file_kind_without_a_table_row_is_a_named_error():
    dep = resolve(small_arch(), analyse=False)
    f = NodeFile(
        node="n1",
        kind="mystery",
        path="nodes/n1/mystery.conf",
        dest="/etc/mystery.conf",
        services=(),
        vips=(),
        data=b"x\n",
        redacted=b"x\n",
        secret=False,
    )
    with pytest.raises(ConfigError) as exc:
        render_manifest(dep, [f])
    assert "nodes/n1/mystery.conf" in str(exc.value) and "'mystery'" in str(exc.value) and "KINDS" in str(exc.value)


def test_references_of_a_file_become_prerequisites():
    dep = resolve(small_arch(), analyse=False)
    f = NodeFile(
        node="n1",
        kind="haproxy",
        path="nodes/n1/haproxy/haproxy.cfg",
        dest="/etc/haproxy/haproxy.cfg",
        services=(),
        vips=(),
        data=b"global\n",
        redacted=b"global\n",
        secret=False,
        references=("/etc/ssl/private/extra.pem",),
    )
    m = json.loads(render_manifest(dep, [f])["manifest.json"])
    need = m["files"]["nodes/n1/haproxy/haproxy.cfg"]["prerequisites"]
    assert [x["path"] for x in need["files"]] == ["/etc/ssl/private/extra.pem"]
    host = inventory(render_manifest(dep, [f]))["all"]["hosts"]["n1"]
    assert host["hamodel_required_files"] == ["/etc/ssl/private/extra.pem"]


def test_stats_secret_file_mode_comes_from_the_table(tmp_path):
    from hamodel.generators.configs import build_configs

    secret = tmp_path / "s"
    secret.write_text("admin:Pw12345\n")
    files = build_configs(resolve(small_arch(stats_auth=SecretRef(file=str(secret))), analyse=False))
    e = json.loads(files["manifest.json"])["files"]["nodes/n1/haproxy/haproxy.cfg"]
    assert e["secret"] and e["mode"] == KINDS["haproxy"].secret_mode == "0600"


def test_an_operators_playbook_in_an_older_tree_is_never_replaced(tmp_path):
    """Before manifest format 2 hamodel wrote no ansible/deploy.yml: a file
    there is the operator's, and a rebuild refuses to replace the tree."""
    from hamodel.generators.configs import build_configs

    from hamodel.output import OutputError, write_tree

    files = build_configs(resolve(small_arch(), analyse=False))
    out = tmp_path / "out"
    write_tree(out, files)
    m = json.loads((out / "manifest.json").read_text())
    m["format"] = 1
    (out / "manifest.json").write_text(json.dumps(m))
    mine = b"- hosts: all\n  tasks: []\n"
    (out / "ansible" / "deploy.yml").write_bytes(mine)
    with pytest.raises(OutputError) as exc:
        write_tree(out, files)
    assert "ansible/deploy.yml" in str(exc.value)
    assert (out / "ansible" / "deploy.yml").read_bytes() == mine
    # A format-2 tree's playbook is hamodel's own: rebuilt in place.
    m["format"] = 2
    (out / "manifest.json").write_text(json.dumps(m))
    write_tree(out, files)
    assert (out / "ansible" / "deploy.yml").read_bytes() == files["ansible/deploy.yml"]


def test_a_path_in_a_haproxy_comment_is_no_prerequisite():
    dep = resolve(small_arch(), analyse=False)
    data = b"# api: see crt /etc/passwd\nglobal\n    stats socket /run/hp/admin.sock mode 660\n"
    f = NodeFile(
        node="n1",
        kind="haproxy",
        path="nodes/n1/haproxy/haproxy.cfg",
        dest="/etc/haproxy/haproxy.cfg",
        services=(),
        vips=(),
        data=data,
        redacted=data,
        secret=False,
    )
    need = json.loads(render_manifest(dep, [f])["manifest.json"])["files"][f.path]["prerequisites"]
    assert need["files"] == [] and [d["path"] for d in need["directories"]] == ["/run/hp"]
