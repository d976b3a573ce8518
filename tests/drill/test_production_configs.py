"""Generated HAProxy and keepalived output as an operator deploys it (issue 11,
"Wrong today"): each test drives the real daemon with the generated file.

- A request through the generated horizon listener reaches a backend and
  gets 200 (TLS ends at HAProxy; backends serve plain HTTP on 80).
- The shipped keepalived track script identifies *this* HAProxy by its pid
  file: a decoy process named haproxy does not keep the VIP.
- Long-lived fronts get fitting timeouts; ``check`` reports short ones,
  clear text on a public VIP, unauthenticated stats and VRID collisions.
- A rotated secret changes manifest.json (HMAC), without revealing it.

Needs root, ``ip netns``, haproxy, keepalived and openssl; namespaces are
named ``hmp-<pid>-*`` and removed even when a test fails.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from hamodel.generators.configs import ConfigError, build_configs
from test_configs import reference, small_arch

from hamodel import Architecture, Network, Node, Service, VirtualIP
from hamodel.analysis.placement import place
from hamodel.deployment import HAPROXY_PIDFILE
from hamodel.errors import HamodelError
from hamodel.pipeline import resolve
from hamodel.strategies import BehindVip, Vrrp

ROOT = Path(__file__).resolve().parents[2]


def config_findings(*args):
    from hamodel.analysis.config_findings import config_findings as f

    return f(*args)


NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(x) for x in ("ip", "haproxy", "keepalived", "openssl", "unshare")),
    reason="needs root, ip, haproxy, keepalived, openssl, unshare",
)
# Upper bounds for a daemon to reach a state (polled): generous, never asserted as a duration.
SETTLE_S = 30


# -- helpers -----------------------------------------------------------------------


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


@contextmanager
def netns(tag: str, addresses: list[str], veth: str | None = None):
    """A network namespace with ``addresses`` on lo (or on ``veth``, one end
    of a veth pair inside it); every process in it is killed on exit."""
    ns = f"hmp-{os.getpid()}-{tag}"
    _run("ip", "netns", "add", ns)
    try:
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        dev = "lo"
        if veth:
            _run("ip", "-n", ns, "link", "add", veth, "type", "veth", "peer", "name", f"{veth}p")
            for d in (veth, f"{veth}p"):
                _run("ip", "-n", ns, "link", "set", d, "up")
            dev = veth
        for a in addresses:
            _run("ip", "-n", ns, "addr", "add", a, "dev", dev)
        yield ns
    finally:
        pids = _run("ip", "netns", "pids", ns, check=False).stdout.split()
        for p in pids:
            try:
                os.kill(int(p), signal.SIGKILL)
            except ProcessLookupError:
                pass
        _run("ip", "netns", "del", ns, check=False)


def _wait(predicate, what: str):
    deadline = time.monotonic() + SETTLE_S
    last = None
    while time.monotonic() < deadline:
        ok, last = predicate()
        if ok:
            return last
        time.sleep(0.3)
    pytest.fail(f"{what}: not reached within {SETTLE_S} s (last: {last})")


def self_signed(tmp_path: Path, names: Sequence[str] = ()) -> tuple[Path, Path, Path]:
    """(key, cert, key+cert pem for HAProxy's crt); ``names``: its DNS subject alternative names."""
    key, crt = tmp_path / "tls.key", tmp_path / "tls.crt"
    san = ["-addext", "subjectAltName=" + ",".join(f"DNS:{n}" for n in names)] if names else []
    _run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=hamodel-test",
        *san,
        "-keyout",
        str(key),
        "-out",
        str(crt),
    )
    pem = tmp_path / "tls.pem"
    pem.write_bytes(crt.read_bytes() + key.read_bytes())
    return key, crt, pem


BACKEND = textwrap.dedent('''\
    """Backends: one thread per ADDR:PORT[:tls]; GET answers 200 with the server's address."""
    import http.server, ssl, sys, threading
    crt, key = sys.argv[1], sys.argv[2]
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ("backend %s:%d\\n" % self.server.server_address[:2]).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a): pass
    servers = []
    for spec in sys.argv[3:]:
        addr, port, *tls = spec.split(":")
        s = http.server.ThreadingHTTPServer((addr, int(port)), H)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(crt, key)
            s.socket = ctx.wrap_socket(s.socket, server_side=True)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
    print("ready", flush=True)
    threading.Event().wait()
''')


def api_arch(**access) -> Architecture:
    """small_arch's load-balancer trio with the API front given in full."""
    lan = Network("lan", subnet="10.0.0.0/24")
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    nodes = [Node(f"n{i}", roles={"lb"}, addresses={lan: f"10.0.0.{10 + i}"}) for i in (1, 2, 3)]
    return Architecture(
        "small",
        nodes=nodes,
        networks=[lan],
        vips=[vip],
        services=[
            Service("haproxy", on="lb", ports=[9300], strategy=Vrrp(vip, track="haproxy")),
            Service("api", on="lb", strategy=BehindVip(vip, **access)),
        ],
    )


def _head(cfg: str) -> str:
    """The generated global and defaults sections (blocks before the first proxy)."""
    out = []
    for block in cfg.split("\n\n"):
        first = next((line for line in block.splitlines() if line and not line.startswith("#")), "")
        if first.split()[:1] in (["global"], ["defaults"]):
            out.append(block)
    return "\n\n".join(out)


def _listen(cfg: str, name: str) -> list[str]:
    lines = cfg.splitlines()
    start = lines.index(f"listen {name}")
    body = [lines[start]]
    for line in lines[start + 1 :]:
        if line and not line[0].isspace():
            break
        body.append(line)
    return body


def _through_haproxy(
    tmp_path: Path, cfg: str, listen: str, url: str, extra_addrs: list[str], names: Sequence[str] = ()
) -> int:
    """Run the generated ``listen`` section (global and defaults as generated,
    host paths re-rooted into tmp_path) in a namespace with its backends
    (plain HTTP, or TLS where the server line says ``ssl`` or the port is
    443, as a real service on 443 would; their certificate carries
    ``names``); the HTTP status of ``url``."""
    key, crt, pem = self_signed(tmp_path, names)
    section = _listen(cfg, listen)
    head = _head(cfg)
    head = head.replace("stats socket /run/haproxy/admin.sock", f"stats socket {tmp_path}/admin.sock")
    head = head.replace("log /dev/log local0", "log stdout local0")
    text = "\n".join(section)
    for word in text.split():
        if word.endswith(".pem") and word.startswith("/"):
            text = text.replace(word, str(pem))
    text = text.replace("ca-file " + str(pem), f"ca-file {crt}")
    (tmp_path / "haproxy.cfg").write_text(head + "\n" + text + "\n")
    specs, addrs = [], set(extra_addrs)
    bind = next(w for w in section if w.strip().startswith("bind")).split()[1]
    addrs.add(bind.rsplit(":", 1)[0] + "/32")
    for line in section:
        words = line.split()
        if words and words[0] == "server":
            a, p = words[2].rsplit(":", 1)
            addrs.add(f"{a}/32")
            specs.append(f"{a}:{p}" + (":tls" if "ssl" in words or p == "443" else ""))
    (tmp_path / "backend.py").write_text(BACKEND)
    _run("haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg"))
    with netns("lb", sorted(addrs)) as ns:
        be = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, str(tmp_path / "backend.py"), str(crt), str(key), *specs],
            stdout=subprocess.PIPE,
            text=True,
        )
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
        try:

            def status():
                r = _run(
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    "curl",
                    "-sk",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "5",
                    url,
                    check=False,
                )
                return r.stdout == "200", r.stdout

            codes = []
            # The checks need rise x inter to settle; poll until 200 or give the last status.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                ok, code = status()
                codes.append(code)
                if ok:
                    return 200
                time.sleep(0.5)
            return int(codes[-1] or 0)
        finally:
            hp.kill()
            be.kill()
            hp.wait()
            be.wait()


# -- 1. backend port and protocol ---------------------------------------------------------


@NEEDS_ROOT
def test_horizon_through_the_generated_listener_gets_200(tmp_path):
    """multirack's horizon: TLS on the public VIP :443, plain HTTP to the
    backends. Before the fix the servers were on :443 (where a real horizon
    speaks TLS) and the reply was 502 while the TCP check kept them UP."""
    cfg = build_configs(reference("multirack"))["nodes/lb-1/haproxy/haproxy.cfg"].decode()
    code = _through_haproxy(tmp_path, cfg, "horizon-443", "https://203.0.113.10/", [])
    assert code == 200


@NEEDS_ROOT
def test_reencryption_to_verified_tls_backends_gets_200(tmp_path):
    """backend_tls with a CA file: HAProxy verifies the backends' certificate."""
    crt = tmp_path / "tls.crt"  # written by self_signed() inside _through_haproxy, before haproxy -c
    arch = api_arch(
        port=8443,
        backend_port=443,
        mode="http",
        tls={"certificate": "/etc/pki/tls/api.pem"},
        backend_tls={"ca_file": "/etc/pki/tls/api.pem"},
    )
    cfg = build_configs(resolve(arch, analyse=False))["nodes/n1/haproxy/haproxy.cfg"].decode()
    listen = "\n".join(_listen(cfg, "api-8443"))
    assert "ssl verify required ca-file /etc/pki/tls/api.pem" in listen and "verifyhost n1" in listen
    # The backends' certificate names the nodes: verified, 200.
    assert _through_haproxy(tmp_path, cfg, "api-8443", "https://10.0.0.100:8443/", [], names=["n1", "n2", "n3"]) == 200
    assert crt.exists()


@NEEDS_ROOT
def test_reencryption_refuses_a_backend_certificate_for_another_host(tmp_path):
    """Signed by the right CA but for another name: verifyhost fails, no server is UP, no 200."""
    arch = api_arch(
        port=8443,
        backend_port=443,
        mode="http",
        tls={"certificate": "/etc/pki/tls/api.pem"},
        backend_tls={"ca_file": "/etc/pki/tls/api.pem"},
    )
    cfg = build_configs(resolve(arch, analyse=False))["nodes/n1/haproxy/haproxy.cfg"].decode()
    assert (
        _through_haproxy(tmp_path, cfg, "api-8443", "https://10.0.0.100:8443/", [], names=["elsewhere.example.org"])
        == 503
    )  # HAProxy answered: no server up


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"port": 443, "mode": "http", "tls": {"certificate": "/etc/x.pem"}}, "backend_tls"),
        ({"port": 443, "backend_tls": {"verify": False}}, "backend_tls"),
        ({"port": 443, "backend_tls": {}}, "ca_file"),
        ({"ports": [80, 443], "backend_port": 8080}, "backend_port"),
        ({"port": 80, "backend_port": 8080, "backend_port_offset": 1}, "backend_port"),
    ],
)
def test_incoherent_backend_port_or_tls_is_refused_by_name(kw, field):
    with pytest.raises(HamodelError) as e:
        BehindVip("vip", **kw)
    assert field in str(e.value)


def test_explicit_backend_port_and_no_verify_are_written():
    arch = api_arch(
        port=443, backend_port=8443, mode="http", tls={"certificate": "/etc/x.pem"}, backend_tls={"verify": False}
    )
    cfg = build_configs(resolve(arch, analyse=False))["nodes/n1/haproxy/haproxy.cfg"].decode()
    assert ":8443 check inter 1000 rise 2 fall 3 ssl verify none" in cfg


# -- 2. the track script identifies this HAProxy -------------------------------------------


KA_NODE = "ctl-1"


def _keepalived_in_private_run(ns: str, tmp_path: Path, conf: Path) -> subprocess.Popen:
    """keepalived in ``ns`` with a private tmpfs on /run (its own mount
    namespace), so the shipped script's /run/haproxy.pid is this node's."""
    script = tmp_path / "node.sh"
    script.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        set -e
        mount -t tmpfs tmpfs /run
        # the decoy: a process named haproxy that is not this load balancer (neutron's metadata proxy)
        cp /bin/sleep {tmp_path}/haproxy
        {tmp_path}/haproxy 1000 &
        echo $! > {tmp_path}/decoy.pid
        exec keepalived -n -l -D -f {conf} -p {tmp_path}/ka.pid -r {tmp_path}/vrrp.pid
        """)
    )
    script.chmod(0o755)
    with open(tmp_path / "keepalived.log", "wb") as log:
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private", str(script)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@NEEDS_ROOT
def test_shipped_track_script_is_not_fooled_by_a_decoy_haproxy(tmp_path):
    """openstack_keepalived's ctl-1 with its generated keepalived.conf, the
    track script unchanged: a process named haproxy runs, the load balancer
    does not -> the script fails and keepalived stays out of MASTER (FAULT),
    never adding the VIP. Once the real HAProxy runs as Debian's unit starts
    it (``-p /run/haproxy.pid``; the generated file has no ``pidfile``), the
    same script succeeds and the node takes the VIP.
    Before the fix (``pgrep -x haproxy``) the decoy kept the VIP."""
    files = build_configs(reference("openstack_keepalived"))
    conf_text = files[f"nodes/{KA_NODE}/keepalived/keepalived.conf"].decode()
    hcfg = files[f"nodes/{KA_NODE}/haproxy/haproxy.cfg"].decode()
    script_line = next(line for line in conf_text.splitlines() if line.strip().startswith("script "))
    command = script_line.split('"')[1].split()
    conf = tmp_path / "keepalived.conf"
    conf.write_text(conf_text)
    vip = "192.168.1.220"
    with netns("ka", ["192.168.1.221/24"], veth="eth0") as ns:
        ka = _keepalived_in_private_run(ns, tmp_path, conf)
        try:
            _wait(lambda: ((tmp_path / "ka.pid").exists(), None), "keepalived started")
            ka_pid = int((tmp_path / "ka.pid").read_text())

            def in_node(*argv: str, check: bool = False) -> subprocess.CompletedProcess:
                return _run("nsenter", "-t", str(ka_pid), "-m", "-n", *argv, check=check)

            # the shipped script, run in the node: the decoy is there, the pid file is not
            assert in_node("pgrep", "-x", "haproxy").returncode == 0  # the old check would pass
            assert in_node(*command).returncode != 0, f"{command}: a process merely named haproxy passes it"
            failed = b"VRRP_Script(chk_haproxy) failed"
            _wait(lambda: (failed in _log(tmp_path, ka), _log(tmp_path, ka)[-800:]), "the track script failing")
            assert vip not in _run("ip", "-n", ns, "addr", "show", "eth0").stdout
            # the real load balancer, started as Debian's unit does: -p /run/haproxy.pid (this node's /run)
            assert "pidfile" not in hcfg
            minimal = tmp_path / "lb.cfg"
            minimal.write_text(
                "defaults\n    mode tcp\n    timeout connect 1s\n"
                "    timeout client 1s\n    timeout server 1s\nlisten x\n    bind 127.0.0.1:1\n"
            )
            in_node("haproxy", "-D", "-f", str(minimal), "-p", HAPROXY_PIDFILE, check=True)
            assert in_node(*command).returncode == 0
            _wait(lambda: (vip in _run("ip", "-n", ns, "addr", "show", "eth0").stdout, None), "VIP on the node")
            log = _log(tmp_path, ka)
            # the VIP came only after the script succeeded: never while the decoy alone ran
            assert (
                log.index(failed)
                < log.index(b"Script `chk_haproxy` now returning 0")
                < log.index(b"(haproxy) Entering MASTER STATE")
            )
        finally:
            ka.kill()
            ka.wait()


def _log(tmp_path: Path, proc: subprocess.Popen) -> bytes:
    """keepalived's console log so far."""
    return (tmp_path / "keepalived.log").read_bytes()


# -- 3. timeouts ----------------------------------------------------------------------------


def test_galera_front_keeps_connections_for_an_hour():
    cfg = build_configs(reference("multirack"))["nodes/lb-1/haproxy/haproxy.cfg"].decode()
    galera = "\n".join(_listen(cfg, "galera-3306"))
    assert "timeout client 3600s" in galera and "timeout server 3600s" in galera


def test_tunnel_timeout_is_written():
    arch = api_arch(port=6080, mode="http", timeout_tunnel_s=3600)
    cfg = build_configs(resolve(arch, analyse=False))["nodes/n1/haproxy/haproxy.cfg"].decode()
    assert "timeout tunnel 3600s" in "\n".join(_listen(cfg, "api-6080"))


def test_check_warns_about_a_short_single_writer_timeout():
    arch = api_arch(port=3306, single_writer=True, timeout_client_s=60)
    found = {f.id: f for f in config_findings(arch)}
    f = found["short-timeout:api"]
    assert f.severity == "medium" and "timeout_client_s" in f.mitigation and "60 s" in f.impact
    assert "short-timeout:api" not in {f.id for f in config_findings(api_arch(port=3306, single_writer=True))}


# -- 4. clear text on a public VIP, stats without auth ----------------------------------------


def test_public_clear_text_and_open_stats_are_findings():
    # multirack as it was before its public APIs got TLS and its stats moved to loopback.
    shipped = reference("multirack").architecture
    assert not [f for f in config_findings(shipped) if f.id.startswith(("cleartext-public", "stats-no-auth"))]
    apis = ("keystone", "nova-api", "neutron-server", "glance-api")
    arch = shipped.replace_services(
        {
            **{a: {"strategy": shipped.service(a).strategy.replace(tls=None)} for a in apis},
            "haproxy": {"ports": [9300]},
        }
    )
    ids = {f.id: f for f in config_findings(arch)}
    for api in apis:
        assert ids[f"cleartext-public:{api}"].severity == "medium"
    assert "cleartext-public:horizon" not in ids  # TLS on the public VIP
    assert "cleartext-public:galera" not in ids  # internal VIP
    stats = ids["stats-no-auth:haproxy"]
    assert stats.severity == "medium" and "9300" in stats.impact and "auth" in stats.mitigation


def test_stats_with_auth_is_not_a_finding(tmp_path):
    from hamodel.model.base import SecretRef

    arch = small_arch(stats_auth=SecretRef(env="T_STATS"))
    assert not [f for f in config_findings(arch) if f.id.startswith("stats-no-auth")]


# -- 5. VRRP router ids ---------------------------------------------------------------------


def _two_groups(**net) -> Architecture:
    lan = Network("lan", subnet="10.0.0.0/24", **net)
    vips = [VirtualIP("vip1", "10.0.0.101", network=lan), VirtualIP("vip2", "10.0.0.102", network=lan)]
    ns = [Node(f"lb{i}", roles={"lb"}, addresses={lan: f"10.0.0.{i}"}) for i in (1, 2)]
    return Architecture(
        "v",
        nodes=ns,
        networks=[lan],
        vips=vips,
        services=[
            Service("a", process="haproxy", on="lb", strategy=Vrrp("vip1")),
            Service("b", process="haproxy", on="lb", strategy=Vrrp("vip2")),
        ],
    )


def test_default_vrids_avoid_1_and_a_range_is_honoured():
    from hamodel.model.topology import DEFAULT_VRID_RANGE

    assert {g.vrid for g in place(_two_groups()).vrrp_groups} == {DEFAULT_VRID_RANGE[0], DEFAULT_VRID_RANGE[0] + 1}
    assert 1 not in range(DEFAULT_VRID_RANGE[0], DEFAULT_VRID_RANGE[1] + 1)
    assert {g.vrid for g in place(_two_groups(vrid_range=(50, 99), reserved_vrids=[50])).vrrp_groups} == {51, 52}
    with pytest.raises(HamodelError, match="vrid_range 50-50"):
        place(_two_groups(vrid_range=(50, 50)))
    with pytest.raises(HamodelError, match="vrid_range"):
        Network("x", subnet="10.0.0.0/24", vrid_range=(99, 50))


def test_lock_ids_stay_unless_outside_an_explicit_range(tmp_path):
    from hamodel.analysis.placement import read_lock, write_lock

    lock = tmp_path / "v.lock.json"
    old = _two_groups(vrid_range=(1, 255))
    write_lock(lock, place(old))
    assert {g.service: g.vrid for g in place(old).vrrp_groups} == {"a": 1, "b": 2}
    # the default range: ids from the lock file stay with their group
    default = _two_groups()
    assert {g.service: g.vrid for g in place(default, previous=read_lock(lock, default)).vrrp_groups} == {
        "a": 1,
        "b": 2,
    }
    # an operator's range moves them inside it
    ranged = _two_groups(vrid_range=(60, 69))
    assert {g.service: g.vrid for g in place(ranged, previous=read_lock(lock, ranged)).vrrp_groups} == {
        "a": 60,
        "b": 61,
    }


def test_check_reports_vrid_collisions():
    from hamodel.deployment import VrrpGroup

    arch = _two_groups(reserved_vrids=[7], vrid_range=(100, 110))
    g = lambda s, vrid: VrrpGroup(
        service=s,
        vips=("vip1",),
        network="lan",
        vrid=vrid,
        priorities={"lb1": 101, "lb2": 100},
        master="lb1",
        manager="keepalived",
    )
    ids = {f.id: f for f in config_findings(arch, [g("a", 7), g("b", 7)])}
    f = ids["vrid-collision:lan:7"]
    assert f.severity == "high" and set(f.services) == {"a", "b"} and f.details["reserved"]
    assert {"vrid-range:a", "vrid-range:b"} <= set(ids)
    assert not [f for f in config_findings(arch, [g("a", 100), g("b", 101)]) if f.id.startswith("vrid")]


# -- 6. a rotated secret changes the manifest ----------------------------------------------


KEY = "0123456789abcdef0123456789abcdef"


def test_rotated_secret_changes_the_manifest_without_revealing_it():
    arch = small_arch(vrrp={"auth": {"env": "T_VRRP_PASS"}})
    dep = resolve(arch, analyse=False)
    env = {"T_VRRP_PASS": "Vr9pPass", "HAMODEL_MANIFEST_KEY": KEY}
    first = build_configs(dep, env=env)
    again = build_configs(dep, env=env)
    rotated = build_configs(dep, env={**env, "T_VRRP_PASS": "0therPw"})
    assert first["manifest.json"] == again["manifest.json"]  # deterministic
    assert rotated["manifest.json"] != first["manifest.json"]
    m, r = json.loads(first["manifest.json"]), json.loads(rotated["manifest.json"])
    path = "nodes/n1/keepalived/keepalived.conf"
    assert m["secret_digest"] == "hmac-sha256"
    assert m["files"][path]["hmac_sha256"] != r["files"][path]["hmac_sha256"]
    assert m["files"][path]["sha256_redacted"] == r["files"][path]["sha256_redacted"]
    # the digest is the keyed one; a plain sha256 of the file (guessable) is nowhere
    data = first[path]
    assert (
        m["files"][path]["hmac_sha256"]
        == hmac.new(KEY.encode(), path.encode() + b"\0" + data, hashlib.sha256).hexdigest()
    )
    text = first["manifest.json"].decode()
    assert hashlib.sha256(data).hexdigest() not in text and "Vr9pPass" not in text and KEY not in text
    from hamodel.generators.manifest import secret_digest

    assert secret_digest(KEY.encode(), path, data) in text


def test_manifest_key_from_a_file_and_too_short_a_key(tmp_path):
    arch = small_arch(vrrp={"auth": {"env": "T_VRRP_PASS"}})
    dep = resolve(arch, analyse=False)
    keyfile = tmp_path / "manifest.key"
    keyfile.write_text(KEY + "\n")
    a = build_configs(dep, env={"T_VRRP_PASS": "x1", "HAMODEL_MANIFEST_KEY_FILE": str(keyfile)})
    b = build_configs(dep, env={"T_VRRP_PASS": "x1", "HAMODEL_MANIFEST_KEY": KEY})
    assert a["manifest.json"] == b["manifest.json"]
    with pytest.raises(ConfigError, match="at least 32 characters") as e:
        build_configs(dep, env={"T_VRRP_PASS": "x1", "HAMODEL_MANIFEST_KEY": "short"})
    assert "short" not in str(e.value).replace("at least", "")
    # without a key the manifest says so
    m = json.loads(build_configs(dep, env={"T_VRRP_PASS": "x1"})["manifest.json"])
    assert m["secret_digest"] == "none" and m["files"]["nodes/n1/keepalived/keepalived.conf"]["hmac_sha256"] is None
