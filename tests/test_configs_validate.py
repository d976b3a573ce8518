"""Generated configs against the real daemons: ``haproxy -c`` and
``keepalived -t`` (inside a network namespace with the node's interfaces).

No mocks: these tests need root, ``ip netns``, haproxy and keepalived.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hamodel.generators.configs import ConfigError, build_configs
from hamodel import Architecture, Network, Node, Service, VirtualIP
from hamodel.errors import HamodelError
from hamodel.model.base import SecretRef
from hamodel.pipeline import resolve
from hamodel.strategies import Vrrp
from hamodel.validate import available, haproxy_check, keepalived_check, namespace, node_interfaces, validate_files
from test_configs import MODELS, reference, small_arch

pytestmark = [pytest.mark.netns, pytest.mark.skipif(not available(), reason="needs root, haproxy, keepalived, ip")]


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@pytest.fixture(autouse=True)
def no_leftover_namespaces():
    before = _namespaces()
    yield
    assert {n for n in _namespaces() - before if n.startswith("hmv-")} == set()


def _assert_valid(results) -> None:
    assert results, "nothing was validated"
    bad = [f"{r.path}: {r.command} -> {r.returncode}\n{r.output}" for r in results if not r.ok]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("model", MODELS)
def test_every_reference_config_passes_the_real_validators(model):
    dep = reference(model)
    files = build_configs(dep)
    results = validate_files(dep.architecture, files)
    _assert_valid(results)
    expected = sum(k.endswith(("haproxy.cfg", "keepalived.conf")) for k in files)
    assert len(results) == expected


def test_validators_are_not_vacuous():
    """A config the daemons reject is reported as rejected."""
    files = build_configs(resolve(small_arch(), analyse=False))
    conf = files["nodes/n1/keepalived/keepalived.conf"]
    arch = small_arch()
    assert keepalived_check(conf, node_interfaces(arch, "n1")).ok
    missing_iface = keepalived_check(conf, [("eth7", "10.0.0.11/24")])
    assert missing_iface.returncode == 5
    assert not keepalived_check(conf.replace(b"advert_int", b"advert_intx"), node_interfaces(arch, "n1")).ok
    cfg = files["nodes/n1/haproxy/haproxy.cfg"]
    assert haproxy_check(cfg).ok
    assert not haproxy_check(cfg.replace(b"balance roundrobin", b"balance nosuchalgo")).ok
    assert not haproxy_check(cfg + b"\nlisten x\n    bind 10.0.0.100:8080\n    option nosuchoption\n").ok


def test_namespace_is_removed_on_failure():
    with pytest.raises(RuntimeError):
        with namespace([("eth0", "10.9.9.1/24")]) as ns:
            assert ns in _namespaces()
            raise RuntimeError("boom")
    assert ns not in _namespaces()


def test_secret_bearing_and_ipv6_configs_validate(tmp_path):
    secret = tmp_path / "stats"
    secret.write_text("admin:Pw-1234\n")
    for arch in (small_arch(vrrp={"auth": {"env": "V_AUTH"}, "notify": "/usr/local/bin/vrrp-notify",
                                  "garp_master_refresh_s": 10, "preempt": True},
                            stats_auth=SecretRef(file=str(secret))),
                 small_arch(ipv6=True, access={"mode": "http", "sticky": True, "check": {"http_path": "/healthz"}}),
                 small_arch(ipv6=True, vrrp={"unicast": False}, access={"single_writer": True, "check": {"port": 9200}})):
        files = build_configs(resolve(arch, analyse=False), env={"V_AUTH": "Vr9p"})
        _assert_valid(validate_files(arch, files))


# -- hypothesis: small models pass both validators or are rejected clearly ------------

PORTS = [80, 443, 3306, 5000, 8080, 9292]


@st.composite
def small_models(draw):
    n = draw(st.integers(1, 4))
    ipv6 = draw(st.booleans())
    if ipv6:
        lan, vip_addr, addrs = Network("lan", subnet="fd00:20::/64"), "fd00:20::100", [f"fd00:20::{i + 10}" for i in range(1, n + 1)]
    else:
        lan, vip_addr, addrs = Network("lan", subnet="10.20.0.0/24"), "10.20.0.100", [f"10.20.0.{i + 10}" for i in range(1, n + 1)]
    vip = VirtualIP("vip", vip_addr, network=lan)
    devices = draw(st.sampled_from(["eth0", "ens3", "bond0.100"]))
    nodes = [Node(f"lb{i}", roles={"lb"}, interfaces=[{"network": "lan", "address": a, "device": devices}])
             for i, a in enumerate(addrs, 1)]
    vrrp = Vrrp(vip, track="haproxy", preempt=draw(st.booleans()), unicast=draw(st.booleans()),
                advert_int=draw(st.integers(1, 5)),
                garp_master_refresh_s=draw(st.none() | st.integers(1, 60)),
                notify=draw(st.none() | st.just("/usr/local/bin/vrrp-notify")),
                # VRRPv3 (IPv6) has no auth: that refusal is tested in test_configs.py
                auth=None if ipv6 else draw(st.none() | st.just({"env": "HYP_VRRP"})))
    services = [Service("haproxy", on="lb", ports=[9300], strategy=vrrp)]
    ports = draw(st.lists(st.sampled_from(PORTS), min_size=0, max_size=3, unique=True))
    for i, port in enumerate(ports):
        mode = draw(st.sampled_from(["tcp", "http"]))
        services.append(dict(
            name=f"api{i}", on="lb", replicas=draw(st.integers(1, n)),
            strategy=dict(
                kind="behind_vip", vip="vip", ports=[port], mode=mode,
                balance=draw(st.sampled_from(["roundrobin", "leastconn", "source", "first"])),
                sticky=mode == "http" and draw(st.booleans()),
                single_writer=mode == "tcp" and draw(st.booleans()),
                check=dict(inter_ms=draw(st.sampled_from([500, 1000, 2000])), rise=draw(st.integers(1, 3)),
                           fall=draw(st.integers(1, 3)), http_path=draw(st.none() | st.just("/health")),
                           port=draw(st.none() | st.just(9200))),
                timeout_client_s=draw(st.none() | st.integers(1, 7200)),
                timeout_server_s=draw(st.none() | st.integers(1, 7200)),
                tcp_keepalive=draw(st.booleans()),
                tls={"certificate": "/etc/ssl/private/api.pem"} if port == 443 else None,
                accept_single_backend=draw(st.booleans()),
                backend_port_offset=draw(st.sampled_from([0, 10000])),
            )))
    return dict(name="hypothesis", nodes=nodes, networks=[lan], vips=[vip], services=services)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_models())
def test_generated_models_validate_or_are_rejected_clearly(data):
    try:
        arch = Architecture(**data)
        dep = resolve(arch, analyse=False)
    except HamodelError as exc:  # the model or its placement was rejected
        assert str(exc).strip()
        event(f"rejected by the model or placement: {type(exc).__name__}")
        return
    try:
        files = build_configs(dep, env={"HYP_VRRP": "hyp0"})
    except ConfigError as exc:
        assert re.search(r"(services|nodes|vips|vrrp_groups)\[[^\]]+\]", str(exc)), str(exc)
        event(f"rejected by the config generator: {type(exc).__name__}: {str(exc).split(': ')[1][:60]}")
        return
    _assert_valid(validate_files(arch, files))
    event("generated and accepted by haproxy -c and keepalived -t")


def test_cli_build_validate(tmp_path):
    from typer.testing import CliRunner

    from hamodel.cli import app
    from test_configs import ROOT

    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["build", str(ROOT / "models/multirack.py"), "-o", str(out), "--validate"])
    assert r.exit_code == 0, r.output
    assert (out / "nodes/lb-1/keepalived/keepalived.conf").is_file()
