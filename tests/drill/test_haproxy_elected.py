"""A front to an Elected cluster (Patroni behind HAProxy): when the leader
changes, the clients' sessions to the old one are cut.

HAProxy sends new connections to the one member that passes the check
(Patroni's ``/primary``), but a session opened to the old leader stays open
after that member is marked down unless the server line says
``on-marked-down shutdown-sessions``: clients go on writing to a member that
no longer takes writes. Shown with a real haproxy in a network namespace,
the generated config, and two fake members whose check answer the test
moves from one to the other.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hamodel.generators.configs import build_configs

from hamodel import Architecture, Network, Node, Service, VirtualIP
from hamodel.pipeline import resolve
from hamodel.strategies import AppCluster, BehindVip, Elected, Vrrp

pytestmark = [
    pytest.mark.slow,
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(x) for x in ("ip", "haproxy")), reason="needs root, ip, haproxy"
    ),
]

VIP, LB, PG = "10.0.0.100", "10.0.0.11", ("10.0.0.21", "10.0.0.22")

# Each member: a TCP port (5432) that holds a session open and echoes, and a
# check port (8008) whose /primary answers 200 on the member named in LEADER.
MEMBERS = textwrap.dedent("""
    import socketserver, sys, threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    leader_file = sys.argv[1]
    class Echo(socketserver.BaseRequestHandler):
        def handle(self):
            while data := self.request.recv(1024):
                self.request.sendall(data)
    class Check(BaseHTTPRequestHandler):
        def do_GET(self):
            with open(leader_file) as f:
                me = f.read().strip() == self.server.server_address[0]
            self.send_response(200 if me and self.path == "/primary" else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()
        def log_message(self, *a):
            pass
    class T(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
    for a in sys.argv[2:]:
        for srv in (T((a, 5432), Echo), HTTPServer((a, 8008), Check)):
            threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()
""")

# A client session through the VIP: prints "open" once its first echo came back,
# then the seconds from "flip" on stdin to the session's end (or "still-open").
CLIENT = textwrap.dedent("""
    import socket, sys, time
    s = socket.create_connection((sys.argv[1], 5432), timeout=5)
    s.sendall(b"x"); assert s.recv(1) == b"x"
    print("open", flush=True)
    sys.stdin.readline()
    t0 = time.monotonic()
    s.settimeout(5)
    try:
        while time.monotonic() - t0 < float(sys.argv[2]):
            s.sendall(b"y")
            if not s.recv(1):
                break
            time.sleep(0.2)
        else:
            print("still-open", flush=True)
            sys.exit(0)
    except OSError:
        pass
    print(f"closed {time.monotonic() - t0:.2f}", flush=True)
""")


def _config(elected: bool) -> str:
    """lb1's generated haproxy.cfg: postgres Elected on etcd behind the VIP, or
    (the control) the same front to a service HAProxy balances, no leader."""
    lan = Network("lan", subnet="10.0.0.0/24")
    vip = VirtualIP("db-vip", VIP, network=lan)
    nodes = [Node("lb1", roles={"lb", "etcd"}, addresses={lan: LB})] + [
        Node(f"pg{i}", roles={"pg", "etcd"}, addresses={lan: a}) for i, a in enumerate(PG, 1)
    ]
    access = BehindVip(vip, port=5432, check={"port": 8008, "http_path": "/primary", "inter_ms": 500})
    arch = Architecture(
        "elected",
        nodes=nodes,
        networks=[lan],
        vips=[vip],
        services=[
            Service("haproxy", on="lb", strategy=Vrrp(vip, track="haproxy")),
            Service("etcd", on="etcd", replicas=3, strategy=AppCluster()),
            Service("postgres", on="pg", replicas=2, strategy=Elected("etcd", access=access) if elected else access),
        ],
    )
    return build_configs(resolve(arch, analyse=False))["nodes/lb1/haproxy/haproxy.cfg"].decode()


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def _session_after_leader_change(tmp_path: Path, cfg: str, wait_s: float) -> str:
    """Run haproxy with ``cfg`` and the two members (pg1 leader), open a client
    session through the VIP, move the leader to pg2; what the session saw."""
    sock = tmp_path / "admin.sock"
    cfg = (
        cfg.replace("stats socket /run/haproxy/admin.sock", f"stats socket {sock}")
        .replace("log /dev/log local0", "log stdout local0")
        .replace("user haproxy\n", "")
        .replace("group haproxy\n", "")
    )
    (tmp_path / "haproxy.cfg").write_text(cfg)
    (tmp_path / "members.py").write_text(MEMBERS)
    (tmp_path / "client.py").write_text(CLIENT)
    leader = tmp_path / "leader"
    leader.write_text(PG[0])
    ns = f"hel-{os.getpid()}-{len(os.listdir(tmp_path))}"
    _run("ip", "netns", "add", ns)
    procs: list[subprocess.Popen] = []
    try:
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        for a in (VIP, LB, *PG):
            _run("ip", "-n", ns, "addr", "add", f"{a}/32", "dev", "lo")
        m = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, str(tmp_path / "members.py"), str(leader), *PG],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(m)
        assert m.stdout is not None and m.stdout.readline().strip() == "ready"
        hp = subprocess.Popen(
            ["ip", "netns", "exec", ns, "haproxy", "-db", "-f", str(tmp_path / "haproxy.cfg")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(hp)
        # pg1 UP, pg2 DOWN: the session goes to pg1.
        deadline = time.monotonic() + 30
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = _states(sock)
            if states.get("pg1") == "UP" and states.get("pg2", "").startswith("DOWN"):
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"pg1 UP and pg2 DOWN not reached within 30 s: {states}")
        c = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, str(tmp_path / "client.py"), VIP, str(wait_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(c)
        assert c.stdout is not None and c.stdin is not None
        assert c.stdout.readline().strip() == "open"
        leader.write_text(PG[1])
        c.stdin.write("flip\n")
        c.stdin.flush()
        return c.stdout.readline().strip()
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


def _states(sock: Path) -> dict[str, str]:
    """server -> status of the postgres proxy, from the stats socket."""
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(sock))
        except (FileNotFoundError, ConnectionRefusedError):
            return {}
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    rows = csv.reader(io.StringIO(data.decode().lstrip("# ")))
    head = next(rows, [])
    return {
        r[1]: r[head.index("status")]
        for r in rows
        if len(r) == len(head) and r[0] == "postgres-5432" and r[1] not in ("FRONTEND", "BACKEND")
    }


def test_the_elected_front_cuts_sessions_to_the_old_leader():
    cfg = _config(elected=True)
    servers = [x.strip() for x in cfg.splitlines() if x.strip().startswith("server pg")]
    assert servers and all(x.endswith("on-marked-down shutdown-sessions") for x in servers), servers


def test_a_session_to_the_old_leader_ends_when_it_is_marked_down(tmp_path):
    """fall 3 x inter 500 ms: pg1 is marked down about 1.5 s after the flip, and
    its sessions with it."""
    seen = _session_after_leader_change(tmp_path, _config(elected=True), wait_s=15)
    assert seen.startswith("closed"), seen
    assert float(seen.split()[1]) < 10, seen


def test_without_it_the_session_stays_on_the_old_leader(tmp_path):
    """The control: a balanced front with the same check keeps the session (what
    the Elected front did before), so the test above shows the setting's effect."""
    cfg = _config(elected=False)
    assert "shutdown-sessions" not in cfg
    assert _session_after_leader_change(tmp_path, cfg, wait_s=8) == "still-open"
