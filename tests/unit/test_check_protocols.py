"""A HAProxy health check whose protocol cannot work is refused (issue 23).

The model expresses two check kinds (hamodel.model.strategies.HealthCheck):
a TCP connect (default) and an HTTP GET (``http_path``), to the backend port
or to ``check.port``; TLS for the check comes from ``tls_passthrough``
(check-ssl) or ``backend_tls`` (ssl). The combinations that cannot work are
refused by name (object and field); the ones that can, pass ``haproxy -c``.
MySQL and Redis checks (``option mysql-check``, ``tcp-check`` scripts) are
not expressible: HealthCheck refuses such fields and adopting a config with
``option mysql-check`` gives a plain TCP check."""

from __future__ import annotations

import shutil

import pytest
from hamodel.generators.configs import build_configs

from hamodel import Architecture, Endpoint, Network, Node, Service, VirtualIP
from hamodel.adopt.haproxy import parse_haproxy
from hamodel.errors import ModelError
from hamodel.model.strategies import HealthCheck
from hamodel.pipeline import resolve
from hamodel.strategies import BehindVip, Vrrp
from hamodel.validate import haproxy_check

HTTP = {"http_path": "/health"}


def lb_arch(port=22, svc=None, **access):
    """Two load balancers holding a VIP; service ``app`` behind it."""
    lan = Network("lan", subnet="10.0.0.0/24")
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    return Architecture(
        "checks",
        nodes=[Node(f"n{i}", roles={"lb", "app"}, addresses={lan: f"10.0.0.1{i}"}) for i in (1, 2)],
        networks=[lan],
        vips=[vip],
        services=[
            Service("haproxy", on="lb", strategy=Vrrp(vip, track="haproxy")),
            Service("app", on="app", strategy=BehindVip(vip, port=port, **access), **(svc or {})),
        ],
    )


@pytest.mark.parametrize(
    "port, svc, access, field, words",
    [
        (22, {"protocol": "ssh"}, {"check": HTTP}, "strategy.check.http_path", ["speaks ssh"]),
        (1194, {"protocol": "openvpn"}, {"check": HTTP}, "strategy.check.http_path", ["speaks openvpn"]),
        (636, {"protocol": "tls"}, {"check": HTTP}, "strategy.check.http_path", ["clear-text HTTP", "tls_passthrough"]),
        (51820, {"protocol": "wireguard"}, {}, "strategy", ["UDP"]),
        (500, {"protocol": "ipsec"}, {}, "strategy", ["UDP"]),
        (5353, {"ports": [Endpoint(5353, protocol="udp")]}, {}, "ports", ["port 5353 is UDP"]),
        (
            8080,
            {"ports": [Endpoint(8080, protocol="http"), Endpoint(9000, protocol="tcp")]},
            {"check": {**HTTP, "port": 9000}},
            "strategy.check.http_path",
            ["port 9000", "HTTP port 8080"],
        ),
    ],
)
def test_a_check_that_cannot_work_is_refused_by_name(port, svc, access, field, words):
    with pytest.raises(ModelError) as e:
        lb_arch(port, svc, **access)
    msg = str(e.value)
    assert "Service[app]" in msg and f"{field}:" in msg and all(w in msg for w in words), msg


@pytest.mark.parametrize(
    "port, svc, access",
    [
        (22, {"protocol": "ssh"}, {}),  # a TCP check of SSH works
        (22, {"protocol": "ssh"}, {"check": {**HTTP, "port": 8081}}),  # an HTTP sidecar
        (6443, {"protocol": "tls"}, {"tls_passthrough": True, "check": HTTP}),  # check-ssl
        (8080, {"ports": [Endpoint(8080, protocol="http"), Endpoint(9000)]}, {"check": HTTP}),
    ],
)
def test_a_check_that_can_work_is_kept_and_passes_haproxy_c(port, svc, access):
    arch = lb_arch(port, svc, **access)
    cfg = build_configs(resolve(arch, analyse=False))["nodes/n1/haproxy/haproxy.cfg"]
    if shutil.which("haproxy"):
        r = haproxy_check(cfg)
        assert r.ok, r.output
    servers = [x for x in cfg.decode().splitlines() if x.strip().startswith("server ")]
    if access.get("tls_passthrough"):
        assert all(x.endswith("check-ssl verify none") for x in servers), servers


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
def test_haproxy_c_alone_accepts_the_impossible_check():
    """Why the model refuses it: an HTTP check of an SSH port is a valid
    HAProxy configuration (same front, protocol unsaid)."""
    cfg = build_configs(resolve(lb_arch(22, {}, check=HTTP), analyse=False))["nodes/n1/haproxy/haproxy.cfg"]
    assert b"option httpchk" in cfg and haproxy_check(cfg).ok


@pytest.mark.parametrize("field", [{"kind": "mysql"}, {"mysql_check": True}, {"redis": True}, {"tcp_check": "PING"}])
def test_mysql_and_redis_checks_are_not_expressible(field):
    with pytest.raises(ModelError) as e:
        HealthCheck(**field)
    assert next(iter(field)) in str(e.value)


def test_adopting_a_mysql_check_gives_a_tcp_check():
    conf = parse_haproxy(
        "listen db\n  bind 10.0.0.100:3306\n  option httpchk GET /\n  option mysql-check user haproxy\n"
        "  server a 10.0.0.11:3306 check\n",
        "haproxy.cfg",
    )
    assert conf.fronts["db"].http_path is None
