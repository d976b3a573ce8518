"""Production options of the generated haproxy.cfg and keepalived.conf (issue 11).

Each option is asserted on the generated text, and where it changes what a
client or a backend sees, on the behaviour of a real haproxy run in a
network namespace with real HTTP backends: X-Forwarded-For replaced (not
appended), X-Forwarded-Proto set per front, the 80 -> 443 redirect, an
HTTP check that marks a backend DOWN when its path answers 500 while its
port is open, a front on two VIPs with TLS on one of them only.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hamodel.generators.configs import ConfigError, build_configs

from hamodel import Architecture, Network, Node, Service, VirtualIP
from hamodel.analysis.config_findings import config_findings, haproxy_detection_ms, vrrp_takeover_ms
from hamodel.errors import HamodelError
from hamodel.model.strategies import INTERMEDIATE_CIPHERS
from hamodel.pipeline import resolve
from hamodel.strategies import BehindVip, Front, Vrrp
from hamodel.validate import haproxy_check

ROOT = Path(__file__).resolve().parents[2]
NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(x) for x in ("ip", "haproxy", "openssl", "curl")),
    reason="needs root, ip, haproxy, openssl, curl",
)
# Upper bound for haproxy's checks to settle (polled, never asserted as a duration).
SETTLE_S = 30

INTERNAL, PUBLIC = "10.0.0.100", "192.0.2.100"


def two_vip_arch(
    access: dict | None = None,
    *,
    lb_backends: bool = False,
    stats: object = None,
    vrrp: dict | None = None,
    settings: dict | None = None,
    **extra: Service,
) -> Architecture:
    """Three load balancers holding an internal and a public VIP (one VRRP
    group each); ``api`` runs on three app nodes (or on the load balancers
    with ``lb_backends``) behind ``access``."""
    lan = Network("lan", subnet="10.0.0.0/24")
    pub = Network("pub", subnet="192.0.2.0/24")
    ivip = VirtualIP("ivip", INTERNAL, network=lan)
    pvip = VirtualIP("pvip", PUBLIC, network=pub, exposure="public")
    lbs = [
        Node(f"lb{i}", roles={"lb"}, addresses={lan: f"10.0.0.{10 + i}", pub: f"192.0.2.{10 + i}"}) for i in (1, 2, 3)
    ]
    apps = [Node(f"app{i}", roles={"app"}, addresses={lan: f"10.0.0.{20 + i}"}) for i in (1, 2, 3)]
    access = (
        access
        if access is not None
        else {
            "vip": "pvip",
            "port": 443,
            "backend_port": 8080,
            "mode": "http",
            "tls": {"certificate": "/etc/pki/api.pem"},
        }
    )
    services = [
        Service(
            "haproxy",
            on="lb",
            ports=[stats if stats is not None else {"port": 9300, "loopback": True}],
            strategy=Vrrp(ivip, track="haproxy", **(vrrp or {})),
        ),
        Service(
            "haproxy-public",
            process="haproxy",
            on="lb",
            colocate=["haproxy"],
            strategy=Vrrp(pvip, track="haproxy", **(vrrp or {})),
        ),
        Service("api", on="lb" if lb_backends else "app", strategy=BehindVip(**access)),
        *extra.values(),
    ]
    return Architecture(
        "prod",
        nodes=lbs + ([] if lb_backends else apps),
        networks=[lan, pub],
        vips=[ivip, pvip],
        services=services,
        haproxy=settings or {},
    )


def config(arch: Architecture, node: str = "lb1") -> str:
    return build_configs(resolve(arch, analyse=False))[f"nodes/{node}/haproxy/haproxy.cfg"].decode()


def section(cfg: str, keyword: str, name: str) -> list[str]:
    lines = cfg.splitlines()
    start = lines.index(f"{keyword} {name}")
    body = [lines[start]]
    for line in lines[start + 1 :]:
        if line and not line[0].isspace():
            break
        body.append(line)
    return [x.strip() for x in body if x.strip()]


def both_fronts(**access) -> dict:
    """The API on the public VIP with TLS and on the internal VIP in clear text."""
    return {
        "vip": "pvip",
        "port": 443,
        "backend_port": 8080,
        "mode": "http",
        "tls": {"certificate": "/etc/pki/api.pem", "redirect_from": 80},
        "also_on": [Front("ivip")],
        "check": {"http_path": "/healthz"},
        **access,
    }


# -- generated text -----------------------------------------------------------------


def test_a_service_on_two_vips_each_with_its_own_tls():
    cfg = config(two_vip_arch(both_fronts()))
    api = section(cfg, "listen", "api-443")
    assert f"bind {PUBLIC}:443 ssl crt /etc/pki/api.pem" in api
    assert f"bind {INTERNAL}:443" in api  # no ssl on the internal VIP
    # Backends reached over the internal network, once, whatever the number of VIPs.
    assert [x.split()[2] for x in api if x.startswith("server ")] == [f"10.0.0.2{i}:8080" for i in (1, 2, 3)]
    # Mixed TLS: the header follows the connection, not a fixed value.
    assert "http-request set-header X-Forwarded-Proto https if { ssl_fc }" in api
    assert "http-request set-header X-Forwarded-Proto http if !{ ssl_fc }" in api
    # Both VIPs' groups run on every load balancer: each one serves both binds.
    for n in ("lb2", "lb3"):
        assert section(config(two_vip_arch(both_fronts()), n), "listen", "api-443")[1:] == api[1:]


def test_the_redirect_front_answers_301_to_https():
    cfg = config(two_vip_arch(both_fronts()))
    assert section(cfg, "frontend", "api-80-redirect") == [
        "frontend api-80-redirect",
        f"bind {PUBLIC}:80",
        "mode http",
        "http-request redirect scheme https code 301",
    ]
    assert f"{INTERNAL}:80" not in cfg  # only the TLS front redirects
    with pytest.raises(HamodelError, match="redirect_from"):  # https:// means 443
        BehindVip("pvip", port=8443, mode="http", tls={"certificate": "/etc/x.pem", "redirect_from": 80})


def test_http_mode_options_in_order():
    api = section(
        config(two_vip_arch(both_fronts(check={"http_path": "/healthz", "expect_status": 204}))), "listen", "api-443"
    )
    assert "option httplog" in api and "option tcplog" not in api
    # The client's header goes before forwardfor appends HAProxy's own.
    assert api.index("http-request del-header X-Forwarded-For") < api.index("option forwardfor")
    assert api[api.index("option httpchk") : api.index("option httpchk") + 3] == [
        "option httpchk",
        "http-check send meth GET uri /healthz",
        "http-check expect status 204",
    ]


def test_tcp_mode_logs_tcp_and_sets_no_http_header():
    cfg = config(two_vip_arch({"vip": "ivip", "port": 3306}))
    db = section(cfg, "listen", "api-3306")
    assert "mode tcp" in db and "option tcplog" in db
    assert not [x for x in db if "X-Forwarded" in x or x == "option httplog" or x.startswith("option forwardfor")]


def test_tls_in_tcp_mode_only_as_explicit_pass_through():
    with pytest.raises(HamodelError, match="tls_passthrough"):
        BehindVip("pvip", port=5671, tls={"certificate": "/etc/x.pem"})
    with pytest.raises(HamodelError, match="tls_passthrough"):
        BehindVip("pvip", port=5671, mode="http", tls_passthrough=True)
    arch = two_vip_arch({"vip": "pvip", "port": 5671, "tls_passthrough": True})
    amqps = section(config(arch), "listen", "api-5671")
    assert "mode tcp" in amqps and not [x for x in amqps if "ssl" in x.split()]
    assert amqps[amqps.index("tcp-request inspect-delay 5s") + 1 :][:2] == [
        "tcp-request content accept if { req.ssl_hello_type 1 }",
        "tcp-request content reject",
    ]
    # Encrypted end to end: no clear-text finding on the public VIP.
    assert not [f for f in config_findings(arch) if f.id.startswith("cleartext-public")]
    clear = two_vip_arch({"vip": "pvip", "port": 5671})
    assert "cleartext-public:api" in {f.id for f in config_findings(clear)}


def test_reencryption_verifies_the_backends():
    api = section(config(two_vip_arch(both_fronts(backend_tls={"ca_file": "/etc/pki/ca.pem"}))), "listen", "api-443")
    servers = [x for x in api if x.startswith("server ")]
    assert servers
    for x in servers:
        node = x.split()[1]  # the name each backend's certificate must carry: the node's, by default
        assert x.endswith(
            f"ssl verify required ca-file /etc/pki/ca.pem sni str({node}) check-sni {node} verifyhost {node}"
        ), x
    fqdn = section(
        config(
            two_vip_arch(
                both_fronts(backend_tls={"ca_file": "/etc/pki/ca.pem", "server_name": "{node}.be.example.org"})
            )
        ),
        "listen",
        "api-443",
    )
    assert "verifyhost app1.be.example.org" in "\n".join(fqdn)
    bare = section(
        config(two_vip_arch(both_fronts(backend_tls={"ca_file": "/etc/pki/ca.pem", "server_name": None}))),
        "listen",
        "api-443",
    )
    assert not [x for x in bare if "sni" in x or "verifyhost" in x]


@pytest.mark.parametrize("name", ["{node}.", "-{node}", "{node} x", "{node}/x", "a" * 64 + ".{node}", "{node}\nbind"])
def test_a_backend_certificate_name_that_is_no_host_name_is_refused(name):
    with pytest.raises(HamodelError, match=r"server_name"):
        both_fronts(backend_tls={"ca_file": "/etc/pki/ca.pem", "server_name": name})
        two_vip_arch(both_fronts(backend_tls={"ca_file": "/etc/pki/ca.pem", "server_name": name}))


def test_global_tls_defaults_and_override():
    cfg = config(two_vip_arch(both_fronts()))
    g = cfg.split("\ndefaults\n")[0]
    for side in ("bind", "server"):
        assert f"    ssl-default-{side}-options ssl-min-ver TLSv1.2 no-tls-tickets\n" in g
        assert f"    ssl-default-{side}-ciphers {INTERMEDIATE_CIPHERS}\n" in g
        assert f"    ssl-default-{side}-ciphersuites TLS_AES_128_GCM_SHA256:" in g
    assert "DHE-RSA" not in INTERMEDIATE_CIPHERS.replace("ECDHE-RSA", "")  # no DH parameters needed
    cfg13 = config(two_vip_arch(both_fronts(), settings={"tls_min_version": "TLSv1.3"}))
    assert "ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets" in cfg13
    with pytest.raises(HamodelError, match="tls_min_version"):
        two_vip_arch(settings={"tls_min_version": "TLSv1.1"})


def test_timeouts_and_maxconn_come_from_the_model():
    settings = {
        "maxconn": 20000,
        "frontend_maxconn": 3000,
        "timeout_connect_s": 4,
        "timeout_client_s": 51,
        "timeout_server_s": 52,
        "timeout_http_request_s": 7,
        "timeout_http_keep_alive_s": 8,
        "timeout_queue_s": 33,
        "timeout_check_s": 9,
        "retries": 2,
    }
    cfg = config(
        two_vip_arch(
            both_fronts(maxconn=1500, timeout_http_request_s=5, timeout_tunnel_s=3600, timeout_client_s=70),
            settings=settings,
        )
    )
    head = cfg.split("\n\n# ")[0] + "\n"
    for line in (
        "maxconn 20000",
        "maxconn 3000",
        "retries 2",
        "timeout connect 4s",
        "timeout client 51s",
        "timeout server 52s",
        "timeout http-request 7s",
        "timeout http-keep-alive 8s",
        "timeout queue 33s",
        "timeout check 9s",
    ):
        assert f"\n    {line}\n" in head, line
    api = section(cfg, "listen", "api-443")
    for line in ("maxconn 1500", "timeout http-request 5s", "timeout tunnel 3600s", "timeout client 70s"):
        assert line in api, line
    assert not [x for x in api if x.startswith("timeout server")]  # the defaults' value
    # The template writes no number of its own for a timeout or a connection cap.
    template = (ROOT / "generators" / "haproxy" / "haproxy.cfg.j2").read_text()
    assert not re.findall(r"^\s*(?:timeout [a-z-]+|maxconn|retries) \d", template, re.M)
    with pytest.raises(HamodelError, match="frontend_maxconn"):
        two_vip_arch(settings={"maxconn": 100, "frontend_maxconn": 200})
    with pytest.raises(HamodelError, match="timeout_http_request_s"):
        BehindVip("ivip", port=3306, timeout_http_request_s=5)


def test_stats_need_a_password_or_loopback():
    from hamodel.model.base import SecretRef

    loop = section(config(two_vip_arch()), "listen", "stats-9300")
    assert "bind 127.0.0.1:9300" in loop and not [x for x in loop if x.startswith("stats auth")]
    assert not [f for f in config_findings(two_vip_arch()) if f.id.startswith("stats-no-auth")]
    os.environ["T_HP_STATS"] = "ops:Secret123"
    try:
        authed = section(
            config(two_vip_arch(stats={"port": 9300, "auth": SecretRef(env="T_HP_STATS")})), "listen", "stats-9300"
        )
    finally:
        del os.environ["T_HP_STATS"]
    assert "bind 10.0.0.11:9300" in authed and "stats auth ops:Secret123" in authed
    open_ = two_vip_arch(stats=9300)
    assert "bind 10.0.0.11:9300" in section(config(open_), "listen", "stats-9300")
    assert "stats-no-auth:haproxy" in {f.id for f in config_findings(open_)}


def test_a_second_vip_held_elsewhere_is_refused_by_name():
    lan = Network("lan", subnet="10.0.0.0/24")
    a, b = VirtualIP("a", "10.0.0.100", network=lan), VirtualIP("b", "10.0.0.101", network=lan)
    nodes = [Node(f"n{i}", roles={"x" if i < 3 else "y"}, addresses={lan: f"10.0.0.{10 + i}"}) for i in (1, 2, 3, 4)]
    arch = Architecture(
        "split",
        nodes=nodes,
        networks=[lan],
        vips=[a, b],
        services=[
            Service("haproxy", on="x", strategy=Vrrp(a, track="haproxy")),
            Service("haproxy-b", process="haproxy", on="y", strategy=Vrrp(b, track="haproxy")),
            Service("api", on="x", strategy=BehindVip(a, port=80, also_on=[Front(b)], accept_single_backend=True)),
        ],
    )
    with pytest.raises(ConfigError, match=re.escape("services[api].strategy.also_on[0].vip")):
        build_configs(resolve(arch, analyse=False))
    with pytest.raises(HamodelError, match="also_on"):
        BehindVip(a, port=80, also_on=[Front(a)])


def test_every_generated_config_passes_haproxy_dW_c():
    """Warnings are errors: the option-rich configs of this file, as generated."""
    for access in (
        both_fronts(backend_tls={"ca_file": "/etc/pki/ca.pem"}, maxconn=100, timeout_tunnel_s=60),
        {"vip": "pvip", "port": 5671, "tls_passthrough": True},
        {"vip": "ivip", "port": 3306, "single_writer": True, "check": {"port": 9200, "http_path": "/"}},
    ):
        r = haproxy_check(config(two_vip_arch(access)).encode())
        assert r.ok, r.output


# -- detection ordering and the track script ----------------------------------------------


def test_detection_order_finding_with_the_numbers():
    # HAProxy on the nodes that run the backends: a node death takes both.
    arch = two_vip_arch({"vip": "ivip", "port": 80}, lb_backends=True)
    access = arch.service("api").access
    assert haproxy_detection_ms(arch, access) == 3 * 1000 + 1000 and vrrp_takeover_ms(1) == 3000
    dep = resolve(arch, analyse=False)
    found = {f.id: f for f in config_findings(arch, dep.vrrp_groups, dep.placement)}
    f = found["detection-order:haproxy"]
    assert f.severity == "medium" and "api 4000 ms" in f.impact and "3000 ms" in f.impact
    assert f.details["services"]["api"]["haproxy_detection_ms"] == 4000 and f.details["vrrp_takeover_ms"] == 3000
    # Faster checks, or a slower VRRP takeover, put HAProxy first.
    for fixed in (
        two_vip_arch({"vip": "ivip", "port": 80, "check": {"inter_ms": 500}}, lb_backends=True),
        two_vip_arch({"vip": "ivip", "port": 80}, lb_backends=True, vrrp={"advert_int": 2}),
    ):
        d = resolve(fixed, analyse=False)
        assert not [x for x in config_findings(fixed, d.vrrp_groups, d.placement) if x.id.startswith("detection")]
    # Backends elsewhere: a backend's death moves no VIP, nothing to order.
    apart = two_vip_arch({"vip": "ivip", "port": 80})
    d = resolve(apart, analyse=False)
    assert not [x for x in config_findings(apart, d.vrrp_groups, d.placement) if x.id.startswith("detection")]


@pytest.mark.parametrize(
    "check, words",
    [
        ({"fall": 1}, "fall 1"),
        ({"rise": 1}, "rise 1"),
        ({"timeout_s": 2, "interval_s": 2}, "timeout 2 s"),
    ],
)
def test_a_track_script_that_would_flap_is_a_finding(check, words):
    arch = two_vip_arch(vrrp={"check": check})
    dep = resolve(arch, analyse=False)
    found = {f.id: f for f in config_findings(arch, dep.vrrp_groups, dep.placement)}
    assert words in found["track-flap:haproxy"].impact
    conf = build_configs(dep)["nodes/lb1/keepalived/keepalived.conf"].decode()
    c = {"interval_s": 2, "timeout_s": 1, "fall": 2, "rise": 2, **check}
    assert (
        f"    interval {c['interval_s']}\n    timeout {c['timeout_s']}\n    fall {c['fall']}\n    rise {c['rise']}\n"
    ) in conf
    ok = two_vip_arch()
    d = resolve(ok, analyse=False)
    assert not [x for x in config_findings(ok, d.vrrp_groups, d.placement) if x.id.startswith("track-flap")]


def test_check_reports_config_findings(tmp_path):
    """config_findings is part of the analysis: `hamodel check` gates on it."""
    from typer.testing import CliRunner

    from hamodel.cli import app

    model = tmp_path / "open_stats.py"
    model.write_text(
        textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_haproxy_production import two_vip_arch
        architecture = two_vip_arch(stats=9300)
    """)
    )
    r = CliRunner().invoke(app, ["check", str(model), "--format", "json", "--fail-on", "medium"])
    assert r.exit_code == 1, r.output
    assert "stats-no-auth:haproxy" in r.output
    dep = resolve(two_vip_arch())
    assert not [f for f in dep.findings if f.kind == "config"]


def test_keepalived_takes_backend_networks_from_the_deployment():
    source = (ROOT / "generators" / "keepalived" / "__init__.py").read_text()
    assert "generators.haproxy" not in source
    dep = resolve(two_vip_arch(both_fronts()), analyse=False)
    assert dep.backend_networks({"pvip"}) == {"lan"} and dep.backend_network("api", "app1") == "lan"
    conf = build_configs(dep)["nodes/lb1/keepalived/keepalived.conf"].decode()
    # The public group tracks the internal interface, over which HAProxy reaches the backends.
    public = conf[conf.index("vrrp_instance haproxy-public") :]
    assert "track_interface {\n        eth0\n    }" in public


# -- behaviour with real haproxy -----------------------------------------------------------


BACKEND = textwrap.dedent('''\
    """HTTP backends ADDR:PORT[:sick]: GET /healthz answers 200 (500 when sick,
    the port staying open), any other path 200 with the request headers as JSON."""
    import http.server, json, os, ssl, sys, threading
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/healthz":
                code, body = (500 if self.server.sick else 200), b"health"
            else:
                code = 200
                body = json.dumps({"server": "%s:%d" % self.server.server_address[:2],
                                   "xff": self.headers.get_all("X-Forwarded-For") or [],
                                   "xfp": self.headers.get_all("X-Forwarded-Proto") or []}).encode()
            self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a): pass
    for spec in sys.argv[1:]:
        addr, port, *flags = spec.split(":")
        s = http.server.ThreadingHTTPServer((addr, int(port)), H)
        s.sick = "sick" in flags
        if "tls" in flags:  # the backend terminates TLS itself (pass-through fronts)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(os.environ["BACKEND_PEM"])
            s.socket = ctx.wrap_socket(s.socket, server_side=True)
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()
''')


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


@contextmanager
def lab(tmp_path: Path, arch: Architecture, sick: set[str] = frozenset(), tls_backends: bool = False):
    """lb1's generated haproxy.cfg (paths re-rooted into tmp_path, certificate
    a throwaway one) running in a namespace with its VIPs and the backends
    (``sick`` ones answer 500 on /healthz). Yields (namespace, stats socket)."""
    cfg = config(arch)
    key, crt, pem = tmp_path / "k.pem", tmp_path / "c.pem", tmp_path / "kc.pem"
    _run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=hamodel-test",
        "-keyout",
        str(key),
        "-out",
        str(crt),
    )
    pem.write_bytes(crt.read_bytes() + key.read_bytes())
    sock = tmp_path / "admin.sock"
    sock.unlink(missing_ok=True)  # a second lab in the same test
    cfg = (
        cfg.replace("stats socket /run/haproxy/admin.sock", f"stats socket {sock}")
        .replace("log /dev/log local0", "log stdout local0")
        .replace("user haproxy\n", "")
        .replace("group haproxy\n", "")
    )
    cfg = re.sub(r"ssl crt \S+", f"ssl crt {pem}", cfg)
    (tmp_path / "haproxy.cfg").write_text(cfg)
    (tmp_path / "backend.py").write_text(BACKEND)
    addrs = {INTERNAL, PUBLIC, "10.0.0.11", "192.0.2.11"}  # the VIPs and lb1's own addresses (clients)
    specs = []
    for line in cfg.splitlines():
        words = line.split()
        if words[:1] == ["bind"]:
            addrs.add(words[1].rsplit(":", 1)[0])
        if words[:1] == ["server"]:
            a, p = words[2].rsplit(":", 1)
            addrs.add(a)
            node = words[1]
            specs.append(f"{a}:{p}" + (":sick" if node in sick else "") + (":tls" if tls_backends else ""))
    addrs.discard("127.0.0.1")
    ns = f"hhp-{os.getpid()}-{len(os.listdir(tmp_path))}"
    _run("ip", "netns", "add", ns)
    procs: list[subprocess.Popen] = []
    try:
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        for a in sorted(addrs):
            _run("ip", "-n", ns, "addr", "add", f"{a}/32", "dev", "lo")
        be = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, str(tmp_path / "backend.py"), *sorted(set(specs))],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "BACKEND_PEM": str(pem)},
        )
        procs.append(be)
        assert be.stdout.readline().strip() == "ready"
        hp = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "haproxy",
                "-db",
                "-f",
                str(tmp_path / "haproxy.cfg"),
                "-p",
                str(tmp_path / "haproxy.pid"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(hp)
        # Listening once its stats socket answers (it binds every front before).
        wait_for(lambda: (_answers(sock), None), "haproxy up")
        yield ns, sock
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for pid in _run("ip", "netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        _run("ip", "netns", "del", ns, check=False)


def server_states(sock: Path, proxy: str) -> dict[str, str]:
    """server -> status (UP, DOWN, ...) of ``proxy`` from the stats socket."""
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(sock))
        except (FileNotFoundError, ConnectionRefusedError):  # haproxy not up yet
            return {}
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    rows = csv.reader(io.StringIO(data.decode().lstrip("# ")))
    head = next(rows, [])
    out = {}
    for r in rows:
        if len(r) == len(head):
            row = dict(zip(head, r))
            if row["pxname"] == proxy and row["svname"] not in ("FRONTEND", "BACKEND"):
                out[row["svname"]] = row["status"]
    return out


def _answers(sock: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(sock))
        except (FileNotFoundError, ConnectionRefusedError):
            return False
        s.sendall(b"show info\n")
        return b"Pid:" in s.recv(65536)


def wait_for(predicate, what: str):
    deadline = time.monotonic() + SETTLE_S
    last = None
    while time.monotonic() < deadline:
        ok, last = predicate()
        if ok:
            return last
        time.sleep(0.3)
    pytest.fail(f"{what}: not reached within {SETTLE_S} s (last: {last})")


def curl(ns: str, *args: str) -> subprocess.CompletedProcess:
    return _run("ip", "netns", "exec", ns, "curl", "-sk", "--max-time", "5", *args, check=False)


@NEEDS_ROOT
def test_forwarded_headers_through_real_haproxy(tmp_path):
    """The client's X-Forwarded-For is replaced, not appended to; the
    X-Forwarded-Proto a client sends is overwritten with what the front is."""
    import json

    with lab(tmp_path, two_vip_arch(both_fronts())) as (ns, sock):
        wait_for(lambda: (set((s := server_states(sock, "api-443")).values()) == {"UP"}, s), "backends UP")
        forged = ["-H", "X-Forwarded-For: 6.6.6.6", "-H", "X-Forwarded-Proto: https"]
        # The internal VIP, clear text: a client pretending to be on HTTPS is corrected.
        r = curl(ns, *forged, "--interface", "10.0.0.11", f"http://{INTERNAL}:443/x")
        seen = json.loads(r.stdout)
        assert seen["xff"] == ["10.0.0.11"], seen
        assert seen["xfp"] == ["http"], seen
        r = curl(ns, *forged, "-H", "X-Forwarded-Proto: http", "--interface", "192.0.2.11", f"https://{PUBLIC}/x")
        seen = json.loads(r.stdout)
        assert seen["xff"] == ["192.0.2.11"], seen
        assert seen["xfp"] == ["https"], seen


@NEEDS_ROOT
def test_plain_http_is_redirected_to_https(tmp_path):
    with lab(tmp_path, two_vip_arch(both_fronts())) as (ns, _):
        r = curl(ns, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", f"http://{PUBLIC}/login?next=/a")
        assert r.stdout == f"301 https://{PUBLIC}/login?next=/a", r.stdout + r.stderr


@NEEDS_ROOT
def test_http_check_marks_a_500_backend_down_while_its_port_is_open(tmp_path):
    http = two_vip_arch(both_fronts(check={"http_path": "/healthz", "inter_ms": 200}))
    with lab(tmp_path, http, sick={"app2"}) as (ns, sock):
        states = wait_for(
            lambda: (
                (s := server_states(sock, "api-443")).get("app2", "").startswith("DOWN")
                and s.get("app1") == "UP"
                and s.get("app3") == "UP",
                s,
            ),
            "app2 DOWN, others UP",
        )
        assert states["app2"].startswith("DOWN")
        # Its port is open all along, only the path fails.
        direct = curl(ns, "-o", "/dev/null", "-w", "%{http_code}", "http://10.0.0.22:8080/healthz")
        assert direct.stdout == "500", direct.stdout + direct.stderr
        served = {curl(ns, f"http://{INTERNAL}:443/x").stdout for _ in range(6)}
        assert all("10.0.0.22" not in s for s in served), served
    tcp = two_vip_arch(both_fronts(check={"inter_ms": 200}))
    with lab(tmp_path, tcp, sick={"app2"}) as (ns, sock):
        states = wait_for(
            lambda: (len(s := server_states(sock, "api-443")) == 3 and set(s.values()) == {"UP"}, s),
            "all UP under a TCP check",
        )
        assert states["app2"] == "UP"


def test_pass_through_http_check_speaks_tls():
    """A TLS pass-through front with an HTTP health path: the check must
    speak TLS to the backend (it terminates TLS), without verifying a
    certificate HAProxy has no CA for; with a separate check port it stays
    plain."""
    arch = two_vip_arch({"vip": "pvip", "port": 6443, "tls_passthrough": True, "check": {"http_path": "/readyz"}})
    servers = [x for x in section(config(arch), "listen", "api-6443") if x.startswith("server ")]
    assert servers and all(x.endswith("check-ssl verify none") for x in servers), servers
    plain = two_vip_arch(
        {"vip": "pvip", "port": 6443, "tls_passthrough": True, "check": {"http_path": "/readyz", "port": 8081}}
    )
    assert not [x for x in section(config(plain), "listen", "api-6443") if "check-ssl" in x]


@NEEDS_ROOT
def test_pass_through_http_check_marks_real_tls_backends_up(tmp_path):
    """Real haproxy, real TLS backends (Python's ssl server answering
    /healthz over TLS): the generated check marks them UP. Without
    check-ssl the HTTP check would reach a TLS port in clear text and mark
    every backend DOWN."""
    arch = two_vip_arch(
        {
            "vip": "pvip",
            "port": 6443,
            "backend_port": 8443,
            "tls_passthrough": True,
            "check": {"http_path": "/healthz", "inter_ms": 200},
        }
    )
    with lab(tmp_path, arch, tls_backends=True) as (ns, sock):
        wait_for(
            lambda: (len(s := server_states(sock, "api-6443")) == 3 and set(s.values()) == {"UP"}, s), "TLS backends UP"
        )
        r = curl(ns, "-o", "/dev/null", "-w", "%{http_code}", f"https://{PUBLIC}:6443/x")
        assert r.stdout == "200", r.stdout + r.stderr


def test_a_check_port_that_is_the_backend_port_still_speaks_tls():
    """check.port naming the backends' own TLS port (pass-through) used to
    write ``port 8443`` without check-ssl: a clear-text HTTP check of a TLS
    port, every backend DOWN (failed before the fix). The redundant port is
    left out, so the check speaks TLS; with re-encryption (backend_tls) the
    ``ssl`` of the server line then covers the check too."""
    same = {"http_path": "/healthz", "port": 8443}
    arch = two_vip_arch({"vip": "pvip", "port": 6443, "backend_port": 8443, "tls_passthrough": True, "check": same})
    servers = [x for x in section(config(arch), "listen", "api-6443") if x.startswith("server ")]
    assert servers and all(x.endswith("check-ssl verify none") and " port " not in x for x in servers), servers
    assert haproxy_check(config(arch).encode()).ok


@NEEDS_ROOT
def test_a_check_port_that_is_the_backend_port_marks_real_tls_backends_up(tmp_path):
    """Real haproxy, real TLS backends, check.port = the backend port: UP."""
    arch = two_vip_arch(
        {
            "vip": "pvip",
            "port": 6443,
            "backend_port": 8443,
            "tls_passthrough": True,
            "check": {"http_path": "/healthz", "inter_ms": 200, "port": 8443},
        }
    )
    with lab(tmp_path, arch, tls_backends=True) as (ns, sock):
        wait_for(
            lambda: (len(s := server_states(sock, "api-6443")) == 3 and set(s.values()) == {"UP"}, s), "TLS backends UP"
        )


@NEEDS_ROOT
def test_expected_status_is_enforced(tmp_path):
    """expect_status 204 against backends answering 200: every one is DOWN."""
    arch = two_vip_arch(both_fronts(check={"http_path": "/healthz", "inter_ms": 200, "expect_status": 204}))
    with lab(tmp_path, arch) as (ns, sock):
        wait_for(
            lambda: (
                len(s := server_states(sock, "api-443")) == 3 and all(v.startswith("DOWN") for v in s.values()),
                s,
            ),
            "all DOWN",
        )


@NEEDS_ROOT
def test_tls_ciphers_of_the_model_are_enforced(tmp_path):
    """A TLS 1.2 client offering only a CBC/SHA-1 suite (outside Mozilla
    intermediate) is refused; the same suite admitted by the model's
    tls_ciphers is accepted, so the refusal comes from the generated line."""
    weak, strong = "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES128-GCM-SHA256"

    def handshake(ns: str, cipher: str) -> int:
        return subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "openssl",
                "s_client",
                "-connect",
                f"{PUBLIC}:443",
                "-tls1_2",
                "-cipher",
                f"{cipher}:@SECLEVEL=0",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
        ).returncode

    with lab(tmp_path, two_vip_arch(both_fronts())) as (ns, _):
        assert handshake(ns, strong) == 0
        assert handshake(ns, weak) != 0
    allowing = two_vip_arch(both_fronts(), settings={"tls_ciphers": f"{strong}:{weak}"})
    with lab(tmp_path, allowing) as (ns, _):
        assert handshake(ns, weak) == 0


@pytest.mark.skipif(not shutil.which("haproxy") or not shutil.which("openssl"), reason="needs haproxy, openssl")
def test_random_combinations_of_the_options_pass_haproxy_dW_c_or_are_refused_by_name():
    """Fronts, TLS, redirect, pass-through, checks, timeouts and caps drawn
    at random: the model refuses a combination naming the field, or
    the generated file passes ``haproxy -dW -c`` (warnings are errors)."""
    from hypothesis import HealthCheck, event, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.fixed_dictionaries(
            {
                "mode": st.sampled_from(["tcp", "http"]),
                "port": st.sampled_from([443, 8443, 3306]),
                "tls": st.booleans(),
                "redirect": st.booleans(),
                "internal": st.sampled_from([None, "clear", "tls"]),
                "passthrough": st.booleans(),
                "backend_tls": st.sampled_from([None, "verify", "none"]),
                "http_path": st.none() | st.just("/healthz"),
                "expect_status": st.sampled_from([200, 204, 301]),
                "maxconn": st.none() | st.integers(1, 8192),
                "http_request": st.none() | st.integers(1, 60),
                "tunnel": st.none() | st.integers(1, 3600),
                "single_writer": st.booleans(),
            }
        )
    )
    def check(d):
        access = {
            "vip": "pvip",
            "port": d["port"],
            "mode": d["mode"],
            "backend_port": 8080,
            "check": {"http_path": d["http_path"], "expect_status": d["expect_status"]},
            "maxconn": d["maxconn"],
            "timeout_http_request_s": d["http_request"],
            "timeout_tunnel_s": d["tunnel"],
            "single_writer": d["single_writer"],
            "tls_passthrough": d["passthrough"],
        }
        if d["tls"]:
            access["tls"] = {"certificate": "/etc/pki/api.pem", "redirect_from": 80 if d["redirect"] else None}
        if d["internal"]:
            access["also_on"] = [
                {"vip": "ivip", "tls": {"certificate": "/etc/pki/int.pem"} if d["internal"] == "tls" else None}
            ]
        if d["backend_tls"]:
            access["backend_tls"] = (
                {"ca_file": "/etc/pki/ca.pem"} if d["backend_tls"] == "verify" else {"verify": False}
            )
        try:
            arch = two_vip_arch(access)
        except HamodelError as exc:
            assert re.search(r"BehindVip|services\[api\]|also_on|tls", str(exc)), str(exc)
            event("refused by the model")
            return
        r = haproxy_check(config(arch).encode())
        assert r.ok, r.output
        event("generated and accepted by haproxy -dW -c")

    check()
