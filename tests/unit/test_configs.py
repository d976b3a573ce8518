"""Config generation (issue 5): content, consistency checks, injection safety,
secrets, determinism, atomic writes, golden files and the drift gate.

The real validators (haproxy -c, keepalived -t in namespaces) run in
test_configs_validate.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
from pathlib import Path

import pytest
from hamodel.generators.configs import ConfigError, InconsistentConfig, Secrets, build_configs, drift
from hamodel.generators.haproxy import check_haproxy, plan_haproxy
from hamodel.generators.keepalived import check_keepalived, plan_keepalived
from typer.testing import CliRunner

from hamodel import Architecture, Network, Node, Service, VirtualIP
from hamodel.cli import app
from hamodel.deployment import Deployment, Placement
from hamodel.loader import load
from hamodel.model.base import SecretRef
from hamodel.output import write_tree
from hamodel.pipeline import resolve
from hamodel.strategies import BehindVip, Tls, Vrrp

ROOT = Path(__file__).resolve().parents[2]
MODELS = ["openstack_keepalived", "openstack_pacemaker", "multirack"]
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
REFERENCE_PORTS = [
    3306,
    5000,
    35357,
    9292,
    9191,
    8774,
    8775,
    6080,
    8776,
    9696,
    80,
    8777,
    8004,
    8000,
    8003,
    8080,
    8386,
    8779,
]


# -- helpers (also used by test_configs_validate.py) ---------------------------


def reference(name: str) -> Deployment:
    """A reference model resolved with the placement pinned by a lock file
    under tests/golden/, so golden files change only when configs do."""
    arch = load(ROOT / "models" / f"{name}.py")
    lock = GOLDEN / f"{name}.lock.json"
    if not lock.exists() and os.environ.get("HAMODEL_UPDATE_GOLDEN") == "1":
        from hamodel.analysis.placement import place, write_lock

        write_lock(lock, place(arch))
    # analysed, as `hamodel build` does: the monitoring rules carry the findings' ids
    return resolve(arch, lock=lock, analyse=True)


def small_arch(
    n: int = 3,
    *,
    vrrp: dict | None = None,
    access: dict | None = None,
    ipv6: bool = False,
    stats_auth: SecretRef | None = None,
    name: str = "small",
) -> Architecture:
    """A load-balancer trio: haproxy on a VRRP VIP, one API behind it."""
    if ipv6:
        lan = Network("lan", subnet="fd00:10::/64")
        vip = VirtualIP("vip", "fd00:10::100", network=lan)
        addr = [f"fd00:10::{10 + i}" for i in range(1, n + 1)]
    else:
        lan = Network("lan", subnet="10.0.0.0/24")
        vip = VirtualIP("vip", "10.0.0.100", network=lan)
        addr = [f"10.0.0.{10 + i}" for i in range(1, n + 1)]
    nodes = [Node(f"n{i}", roles={"lb"}, addresses={lan: a}) for i, a in enumerate(addr, 1)]
    ports = [{"port": 9300, "auth": stats_auth}] if stats_auth else [9300]
    return Architecture(
        name,
        nodes=nodes,
        networks=[lan],
        vips=[vip],
        services=[
            Service("haproxy", on="lb", ports=ports, strategy=Vrrp(vip, track="haproxy", **(vrrp or {}))),
            Service("api", on="lb", strategy=BehindVip(vip, port=8080, **(access or {}))),
        ],
    )


def poisoned(arch: Architecture, service: str, **update) -> Architecture:
    """``arch`` with one service's fields replaced, bypassing validation (as
    ``model_copy``/``model_construct`` in a model file would)."""
    services = [s.model_copy(update=update) if s.name == service else s for s in arch.services]
    out = arch.model_copy(update={"services": services})
    out.__dict__.pop("_ha_index", None)  # lookup cache of the unpoisoned copy
    return out


def tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# -- reference models: content --------------------------------------------------


@pytest.fixture(scope="module")
def keepalived_files():
    return build_configs(reference("openstack_keepalived"))


def test_layout_of_the_keepalived_reference(keepalived_files):
    nodes = ["ctl-1", "ctl-2", "ctl-3"]
    expected = {"manifest.json", "ansible/inventory.yml", "ansible/deploy.yml", "ansible/collect.yml"} | {
        f"nodes/{n}/{f}"
        for n in nodes
        for f in (
            "haproxy/haproxy.cfg",
            "keepalived/keepalived.conf",
            "sysctl.d/60-hamodel-nonlocal-bind.conf",
            # monitoring (hamodel.generators.monitoring)
            "keepalived/keepalived-state",
            "keepalived/keepalived-up",  # keepalived's liveness, run by its systemd timer
            "systemd/hamodel-keepalived-up.service",
            "systemd/hamodel-keepalived-up.timer",
            "prometheus/node-exporter",
            "prometheus/mysqld-exporter",
            "prometheus/redis-exporter",
            "prometheus/rabbitmq-exporter",
            "prometheus/mongodb-exporter",
        )
    }
    expected |= {"ansible/collect.yml", "monitoring/prometheus.yml"} | {
        f"monitoring/{d}/{a}.{x}yml"
        for d, x in (("rules", ""), ("tests", "test."))
        for a in ("galera", "haproxy", "mongodb", "nodes", "rabbitmq", "redis", "vrrp")
    }
    assert set(keepalived_files) == expected
    for n in nodes:
        assert keepalived_files[f"nodes/{n}/sysctl.d/60-hamodel-nonlocal-bind.conf"].endswith(
            b"net.ipv4.ip_nonlocal_bind = 1\n"
        )


@pytest.mark.parametrize("node", ["ctl-1", "ctl-2", "ctl-3"])
def test_haproxy_serves_every_api_port_of_the_reference_table(keepalived_files, node):
    cfg = keepalived_files[f"nodes/{node}/haproxy/haproxy.cfg"].decode()
    for port in REFERENCE_PORTS:
        assert f"    bind 192.168.1.220:{port}\n" in cfg, port
    own = {"ctl-1": "192.168.1.221", "ctl-2": "192.168.1.222", "ctl-3": "192.168.1.223"}[node]
    # Stats without a password: loopback only, never the node's own address.
    assert "    bind 127.0.0.1:9300\n" in cfg and f"{own}:9300" not in cfg


def _section(cfg: str, name: str) -> str:
    m = re.search(rf"^listen {re.escape(name)}\n(.*?)(?=^\S|\Z)", cfg, re.S | re.M)
    assert m, name
    return m.group(1)


def test_galera_is_active_backup_with_the_check_on_9200(keepalived_files):
    writers = set()
    for n in ("ctl-1", "ctl-2", "ctl-3"):
        galera = _section(keepalived_files[f"nodes/{n}/haproxy/haproxy.cfg"].decode(), "galera-3306")
        servers = [line.split() for line in galera.splitlines() if line.strip().startswith("server ")]
        assert len(servers) == 3
        assert all("port" in s and s[s.index("port") + 1] == "9200" for s in servers)
        assert all("on-marked-down" in s and "shutdown-sessions" in s for s in servers)
        active = [s[1] for s in servers if "backup" not in s]
        assert len(active) == 1
        writers.add(active[0])
        assert "stick-table type ip size 1000" in galera and "stick on dst" in galera
        assert "option httpchk\n" in galera and "http-check send meth GET uri /\n" in galera
        assert "timeout client 5400s" in galera and "timeout server 5400s" in galera
    assert writers == {"ctl-1"}  # the same writer everywhere: the VIP group's master


def test_horizon_uses_cookies(keepalived_files):
    horizon = _section(keepalived_files["nodes/ctl-2/haproxy/haproxy.cfg"].decode(), "horizon-80")
    assert "mode http" in horizon
    assert "cookie SERVERID insert indirect nocache" in horizon
    for n in ("ctl-1", "ctl-2", "ctl-3"):
        assert re.search(rf"server {n} \S+:80 check .* cookie {n}\n", horizon)


def test_keepalived_reference_is_one_nopreempt_unicast_group(keepalived_files):
    prios, vrids = [], set()
    for n, src in (("ctl-1", "221"), ("ctl-2", "222"), ("ctl-3", "223")):
        conf = keepalived_files[f"nodes/{n}/keepalived/keepalived.conf"].decode()
        assert f"router_id {n}\n" in conf and "enable_script_security" in conf
        assert 'script "/usr/bin/pgrep -F /run/haproxy.pid -x haproxy"' in conf  # this HAProxy, by pid file
        assert "state BACKUP\n    nopreempt\n" in conf
        assert f"unicast_src_ip 192.168.1.{src}\n" in conf
        peers = re.search(r"unicast_peer \{\n(.*?)\n    \}", conf, re.S).group(1).split()
        assert sorted(peers) == sorted(f"192.168.1.{x}" for x in ("221", "222", "223") if x != src)
        assert "192.168.1.220/24 dev eth0" in conf
        assert "authentication" not in conf
        prios.append(int(re.search(r"priority (\d+)", conf).group(1)))
        vrids.add(re.search(r"virtual_router_id (\d+)", conf).group(1))
    assert len(set(prios)) == 3 and len(vrids) == 1


def test_pacemaker_reference_has_no_keepalived(keepalived_files):
    files = build_configs(reference("openstack_pacemaker"))
    assert not any("keepalived" in k for k in files)
    assert sum(k.endswith("haproxy.cfg") for k in files) == 3


def test_multirack_public_group_tracks_the_backend_interface():
    files = build_configs(reference("multirack"))
    conf = files["nodes/lb-1/keepalived/keepalived.conf"].decode()
    public = conf[conf.index("vrrp_instance haproxy-public") :]
    assert "interface eth1" in public and "track_interface {\n        eth0\n    }" in public
    assert "nopreempt" not in public  # the model asks for preemption there
    cfg = files["nodes/lb-1/haproxy/haproxy.cfg"].decode()
    assert "bind 203.0.113.10:443 ssl crt /etc/pki/tls/horizon.pem" in cfg
    # controllers have no public address: reached over the internal network
    assert "server ctl-1 10.10.0.21:80 " in cfg  # TLS ends at HAProxy: plain HTTP to the backends
    assert "option tcpka" in _section(cfg, "glance-api-9292")


def test_manifest_and_inventory(keepalived_files):
    import hashlib

    import yaml

    m = json.loads(keepalived_files["manifest.json"])
    arch = load(ROOT / "models/openstack_keepalived.py")
    assert m["model"] == {"name": arch.name, "sha256": hashlib.sha256(arch.to_json().encode()).hexdigest()}
    assert m["nodes"]["ctl-1"]["addresses"] == {"mgmt": "192.168.1.221"}
    node_files = {k for k in keepalived_files if k.startswith("nodes/")}
    assert set(m["files"]) == node_files
    for rel, entry in m["files"].items():
        assert entry["sha256"] == hashlib.sha256(keepalived_files[rel]).hexdigest()
    assert "horizon" in m["files"]["nodes/ctl-1/haproxy/haproxy.cfg"]["services"]
    assert m["files"]["nodes/ctl-1/keepalived/keepalived.conf"]["vips"] == ["controller-vip"]

    class InventoryLoader(yaml.SafeLoader):
        pass

    # Ansible's !unsafe: a string Ansible never templates.
    InventoryLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    inv = yaml.load(keepalived_files["ansible/inventory.yml"], Loader=InventoryLoader)
    host = inv["all"]["hosts"]["ctl-2"]
    # The model's address, but not as ansible_host: a site inventory's value wins (tests/drill/test_ansible_deploy.py).
    assert host["hamodel_address"] == "192.168.1.222" and "ansible_host" not in host
    assert {f["path"] for f in host["hamodel_files"]} == {k for k in node_files if k.startswith("nodes/ctl-2/")}
    assert {f["dest"] for f in host["hamodel_files"]} == {
        "/etc/haproxy/haproxy.cfg",
        "/etc/keepalived/keepalived.conf",
        "/etc/sysctl.d/60-hamodel-nonlocal-bind.conf",
        # monitoring: keepalived's state script and the exporters' environment files
        "/usr/local/lib/hamodel/keepalived-state",
        "/usr/local/lib/hamodel/keepalived-up",
        "/etc/systemd/system/hamodel-keepalived-up.service",
        "/etc/systemd/system/hamodel-keepalived-up.timer",
        "/etc/default/prometheus-node-exporter",
        "/etc/default/prometheus-mysqld-exporter",
        "/etc/default/prometheus-redis-exporter",
        "/etc/default/prometheus-mongodb-exporter",
        "/etc/rabbitmq/conf.d/60-hamodel-prometheus.conf",  # RabbitMQ's own plugin's listener
    }


# -- determinism, golden files ------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_deterministic_and_matches_golden(model):
    files = build_configs(reference(model))
    assert build_configs(reference(model)) == files  # two runs, same bytes
    golden = GOLDEN / model
    if os.environ.get("HAMODEL_UPDATE_GOLDEN") == "1":
        write_tree(golden, files)
    assert tree(golden) == dict(files), f"regenerate with HAMODEL_UPDATE_GOLDEN=1 and review: {golden}"


# -- consistency checks ------------------------------------------------------------


def test_equal_priorities_are_refused():
    dep = resolve(small_arch(), analyse=False)
    g = dep.vrrp_groups[0]
    bad = dataclasses.replace(g, priorities=dict.fromkeys(g.priorities, 100))
    with pytest.raises(InconsistentConfig, match="priorities are not distinct"):
        build_configs(dataclasses.replace(dep, vrrp_groups=(bad,)))


def test_reserved_and_colliding_vrids_are_refused():
    arch = small_arch()
    dep = resolve(arch, analyse=False)
    g = dep.vrrp_groups[0]
    net = arch.network("lan").model_copy(update={"reserved_vrids": [g.vrid]})
    arch2 = arch.model_copy(update={"networks": [net]})
    arch2.__dict__.pop("_ha_index", None)
    with pytest.raises(InconsistentConfig, match=f"vrid {g.vrid} is reserved"):
        build_configs(dataclasses.replace(dep, architecture=arch2))


def test_tampered_plans_are_caught_before_rendering():
    dep = resolve(small_arch(vrrp={"auth": {"env": "T_AUTH"}}), analyse=False)
    plans = plan_keepalived(dep, Secrets({"T_AUTH": "s3cret"}))
    assert check_keepalived(dep, plans) == []

    def tamper(node, **kw):
        p = plans[node]
        return {
            **plans,
            node: dataclasses.replace(p, instances=tuple(dataclasses.replace(i, **kw) for i in p.instances)),
        }

    problems = check_keepalived(dep, tamper("n2", vrid=77))
    assert any("vrid differs" in m for _, m in problems)
    problems = check_keepalived(dep, tamper("n2", auth="other"))
    assert any("auth differs" in m and "other" not in m for _, m in problems)
    problems = check_keepalived(dep, tamper("n3", vips=("10.0.0.101/24",)))
    assert any("vips differs" in m for _, m in problems)
    problems = check_keepalived(dep, tamper("n1", unicast_peers=("10.0.0.12",)))
    assert any("unicast peers of n1" in m for _, m in problems)
    weighted = {
        **plans,
        "n1": dataclasses.replace(
            plans["n1"], scripts=tuple(dataclasses.replace(s, weight=-20) for s in plans["n1"].scripts)
        ),
    }
    assert any("weight -20 with nopreempt" in m for _, m in check_keepalived(dep, weighted))

    hp = plan_haproxy(dep, Secrets({}))
    assert check_haproxy(dep, hp) == []
    p = hp["n2"]
    other = dataclasses.replace(p, listens=tuple(dataclasses.replace(x, balance="leastconn") for x in p.listens))
    assert any("differs between nodes" in m for _, m in check_haproxy(dep, {**hp, "n2": other}))


def test_exactly_one_galera_writer():
    dep = resolve(small_arch(access={"single_writer": True, "check": {"port": 9200}}), analyse=False)
    hp = plan_haproxy(dep, Secrets({}))
    assert check_haproxy(dep, hp) == []
    for flags in ((False, False, True), (True, True, True)):

        def set_backup(plan):
            x = plan.listens[0]
            servers = tuple(dataclasses.replace(s, backup=b) for s, b in zip(x.servers, flags))
            return dataclasses.replace(plan, listens=(dataclasses.replace(x, servers=servers),))

        problems = check_haproxy(dep, {n: set_backup(p) for n, p in hp.items()})
        assert any("exactly one active server" in m for _, m in problems)


def test_single_server_backend_needs_acceptance():
    arch = small_arch()
    dep = resolve(arch, analyse=False)
    one = Placement({**dep.placement.to_dict(), "api": ["n1"]})
    with pytest.raises(InconsistentConfig, match=r"services\[api\]: listen api-8080: a backend of one server"):
        build_configs(dataclasses.replace(dep, placement=one))
    ok = small_arch(access={"accept_single_backend": True})
    dep2 = dataclasses.replace(resolve(ok, analyse=False), placement=one)
    assert "server n1 " in build_configs(dep2)["nodes/n1/haproxy/haproxy.cfg"].decode()


def test_proxy_name_clash_with_the_stats_listener_is_refused():
    lan = Network("lan", subnet="10.0.0.0/24")
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    nodes = [Node(f"n{i}", roles={"lb"}, addresses={lan: f"10.0.0.{10 + i}"}) for i in (1, 2)]
    arch = Architecture(
        "clash",
        nodes=nodes,
        networks=[lan],
        vips=[vip],
        services=[
            Service("haproxy", on="lb", ports=[9300], strategy=Vrrp(vip)),
            Service("stats", on="lb", strategy=BehindVip(vip, port=9300, backend_port_offset=1)),
        ],
    )
    with pytest.raises(
        InconsistentConfig,
        match=r"services\[haproxy\]: node n1: proxy name stats-9300 is also used by services\[stats\]",
    ):
        build_configs(resolve(arch, analyse=False))


def test_model_name_cannot_break_out_of_a_comment():
    arch = small_arch(name="evil\x0bname\u2028x\x85y")
    files = build_configs(resolve(arch, analyse=False))
    for rel, data in files.items():
        if rel.startswith("nodes/"):
            first = next(line for line in data.decode().splitlines() if not line.startswith("#!"))
            assert first.startswith("# ") and "evil?name?x?y" in first, rel
            assert data.decode().isascii()


# -- injection safety -----------------------------------------------------------


def test_newline_in_a_service_name_is_refused():
    arch = small_arch()
    dep = resolve(arch, analyse=False)
    bad = poisoned(arch, "api", name="x\n  bind *:22")
    inst = {**dep.placement.to_dict(), "x\n  bind *:22": list(dep.placement.nodes_of("api"))}
    inst.pop("api")
    with pytest.raises(ConfigError) as exc:
        build_configs(dataclasses.replace(dep, architecture=bad, placement=Placement(inst)))
    msg = str(exc.value)
    assert r"services[x\n  bind *:22].name" in msg and "nothing was written" in msg
    assert "\n  bind" not in msg  # the hostile value is shown escaped


@pytest.mark.parametrize(
    "update, field",
    [
        ({"tls": Tls.model_construct(certificate="/etc/pki/my cert.pem")}, r"strategy.tls.certificate"),
        ({"tls": Tls.model_construct(certificate='/etc/x.pem"\n  bind *:22')}, r"strategy.tls.certificate"),
        (
            {"check": BehindVip.model_fields["check"].default.model_copy(update={"http_path": "/ x"})},
            "strategy.check.http_path",
        ),
        ({"vip": "vip x"}, "strategy.vip"),
    ],
)
def test_unsafe_access_values_are_refused(update, field):
    arch = small_arch()
    dep = resolve(arch, analyse=False)
    access = arch.service("api").strategy.model_copy(update=update)
    with pytest.raises(ConfigError, match=re.escape(f"services[api].{field}")):
        build_configs(dataclasses.replace(dep, architecture=poisoned(arch, "api", strategy=access)))


def test_unsafe_vrrp_values_are_refused():
    arch = small_arch()
    dep = resolve(arch, analyse=False)
    for update, field in (
        ({"notify": "/usr/bin/notify me"}, "strategy.notify"),
        ({"track": 'haproxy"; rm -rf /'}, "strategy.track"),
    ):
        strat = arch.service("haproxy").strategy.model_copy(update=update)
        with pytest.raises(ConfigError, match=re.escape(f"services[haproxy].{field}")):
            build_configs(dataclasses.replace(dep, architecture=poisoned(arch, "haproxy", strategy=strat)))
    node = arch.node("n1")
    iface = node.interfaces[0].model_copy(update={"device": "eth0 x"})
    nodes = [node.model_copy(update={"interfaces": [iface]}), *arch.nodes[1:]]
    arch2 = arch.model_copy(update={"nodes": nodes})
    arch2.__dict__.pop("_ha_index", None)
    with pytest.raises(ConfigError, match=re.escape("nodes[n1].interfaces[lan].device")):
        build_configs(dataclasses.replace(dep, architecture=arch2))


def test_cli_refuses_an_injected_name_and_leaves_out_untouched(tmp_path):
    model = tmp_path / "hostile.py"
    model.write_text(
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_configs import small_arch, poisoned\n"
        "architecture = poisoned(small_arch(), 'api', name='x\\n  bind *:22')\n"
    )
    out = tmp_path / "out"
    write_tree(out, build_configs(resolve(small_arch(), analyse=False)))
    before = tree(out)
    r = CliRunner().invoke(app, ["build", str(model), "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert r"services[x\n  bind *:22].name" in r.output
    assert tree(out) == before


# -- secrets ---------------------------------------------------------------------------


def test_secrets_by_reference_mode_0600_and_absent_from_manifest(tmp_path):
    secret_file = tmp_path / "stats.secret"
    secret_file.write_text("admin:St4tsPassw0rd\n")
    arch = small_arch(vrrp={"auth": {"env": "T_VRRP_PASS"}}, stats_auth=SecretRef(file=str(secret_file)))
    dep = resolve(arch, analyse=False)
    files = build_configs(dep, env={"T_VRRP_PASS": "Vr9pPass"})
    assert "auth_pass Vr9pPass" in files["nodes/n1/keepalived/keepalived.conf"].decode()
    assert "stats auth admin:St4tsPassw0rd" in files["nodes/n1/haproxy/haproxy.cfg"].decode()
    assert files.secret == {
        f"nodes/n{i}/{f}" for i in (1, 2, 3) for f in ("keepalived/keepalived.conf", "haproxy/haproxy.cfg")
    }
    out = tmp_path / "out"
    write_tree(out, files)
    for rel in files:
        mode = stat.S_IMODE((out / rel).stat().st_mode)
        assert mode == (0o600 if rel in files.secret else 0o644), rel
    for public in ("manifest.json", "ansible/inventory.yml"):
        text = files[public].decode()
        assert "Vr9pPass" not in text and "St4tsPassw0rd" not in text
    m = json.loads(files["manifest.json"])
    entry = m["files"]["nodes/n1/keepalived/keepalived.conf"]
    assert entry["secret"] is True and entry["mode"] == "0600" and "sha256" not in entry
    # the manifest does not change when only the secret rotates
    rotated = build_configs(dep, env={"T_VRRP_PASS": "0therPw"})
    assert rotated["manifest.json"] == files["manifest.json"]
    # the drift gate says which secret file differs, never its contents
    text = drift(out, rotated)
    assert "nodes/n1/keepalived/keepalived.conf differ (secret" in text
    assert "Vr9pPass" not in text and "0therPw" not in text


def test_missing_or_unsafe_secrets_are_clear_errors():
    arch = small_arch(vrrp={"auth": {"env": "T_VRRP_PASS"}})
    dep = resolve(arch, analyse=False)
    with pytest.raises(
        ConfigError, match=r"services\[haproxy\]\.strategy\.auth: environment variable T_VRRP_PASS is not set"
    ):
        build_configs(dep, env={})
    with pytest.raises(
        ConfigError, match=r"services\[haproxy\]\.strategy\.auth \(env:T_VRRP_PASS\): <secret> is not"
    ) as exc:
        build_configs(dep, env={"T_VRRP_PASS": "a b\nc"})
    assert "a b" not in str(exc.value)
    with pytest.raises(ConfigError, match="not a valid vrrp secret"):
        build_configs(dep, env={"T_VRRP_PASS": "longer-than-8"})  # keepalived would silently truncate


def test_vrrp_auth_on_ipv6_is_refused():
    dep = resolve(small_arch(ipv6=True, vrrp={"auth": {"env": "T_VRRP_PASS"}}), analyse=False)
    with pytest.raises(ConfigError, match=r"services\[haproxy\]\.strategy\.auth: IPv6 VIPs use VRRP version 3"):
        build_configs(dep, env={"T_VRRP_PASS": "abc"})


# -- atomic writes and the drift gate -------------------------------------------------------


def test_failed_write_leaves_previous_output_untouched(tmp_path):
    out = tmp_path / "out"
    files = build_configs(resolve(small_arch(), analyse=False))
    write_tree(out, files)
    before = tree(out)
    broken = type(files)(files)
    broken["nodes/n1/zz-broken"] = None  # fails while the staging tree is written
    with pytest.raises(TypeError):
        write_tree(out, broken)
    assert tree(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging debris


def test_cli_inconsistent_deployment_exits_1_and_writes_nothing(tmp_path):
    model = tmp_path / "one_backend.py"
    model.write_text(
        "from hamodel import Architecture, Network, Node, Service, VirtualIP\n"
        "from hamodel.strategies import BehindVip, Vrrp\n"
        "lan = Network('lan', subnet='10.0.0.0/24')\n"
        "vip = VirtualIP('vip', '10.0.0.100', network=lan)\n"
        "nodes = [Node(f'n{i}', roles={'lb'}, addresses={lan: f'10.0.0.{10 + i}'}) for i in (1, 2)]\n"
        "architecture = Architecture('one backend', nodes=nodes, networks=[lan], vips=[vip], services=[\n"
        "    Service('haproxy', on='lb', strategy=Vrrp(vip)),\n"
        "    Service('db', on='lb', replicas=1, strategy=BehindVip(vip, port=3306))])\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous output\n")
    r = CliRunner().invoke(app, ["build", str(model), "-o", str(out)])
    assert r.exit_code == 1, r.output
    assert "services[db]: listen db-3306: a backend of one server" in r.output
    assert tree(out) == {"keep.txt": b"previous output\n"}


def test_drift_gate_both_ways(tmp_path):
    # The placement is pinned by a lock file: the gate is about configs.
    model = [str(ROOT / "models/openstack_keepalived.py"), "--lock", str(GOLDEN / "openstack_keepalived.lock.json")]
    out = tmp_path / "out"
    runner = CliRunner()
    r = runner.invoke(app, ["build", *model, "-o", str(out), "--check"])
    assert r.exit_code == 1  # nothing there yet: everything differs
    r = runner.invoke(app, ["build", *model, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert (
        "wrote 55 files" in r.output
    )  # 12 configs + 25 monitoring node files + 15 monitoring/ + 2 Ansible + manifest... as the golden tree
    r = runner.invoke(app, ["build", *model, "-o", str(out), "--check"])
    assert r.exit_code == 0, r.output
    assert "up to date" in r.output
    cfg = out / "nodes/ctl-2/haproxy/haproxy.cfg"
    cfg.write_text(cfg.read_text().replace("balance roundrobin", "balance leastconn", 1))
    (out / "nodes/ctl-2/stray.txt").write_text("x\n")
    r = runner.invoke(app, ["build", *model, "-o", str(out), "--check"])
    assert r.exit_code == 1
    assert "--- a/nodes/ctl-2/haproxy/haproxy.cfg" in r.output and "+++ b/nodes/ctl-2/haproxy/haproxy.cfg" in r.output
    assert "-    balance leastconn" in r.output and "+    balance roundrobin" in r.output
    assert "--- a/nodes/ctl-2/stray.txt" in r.output
    # a file the manifest does not list is not hamodel's: the build refuses to delete it
    r = runner.invoke(app, ["build", *model, "-o", str(out)])
    assert r.exit_code == 2 and "nodes/ctl-2/stray.txt" in r.output, r.output
    assert (out / "nodes/ctl-2/stray.txt").read_text() == "x\n"
    (out / "nodes/ctl-2/stray.txt").unlink()
    r = runner.invoke(app, ["build", *model, "-o", str(out)])
    assert r.exit_code == 0
    assert runner.invoke(app, ["build", *model, "-o", str(out), "--check"]).exit_code == 0
