"""A real three-member MariaDB Galera cluster in the drill lab, configured from the model.

:class:`GaleraLab` builds namespaces for the nodes that hold the model's
Galera service (an :class:`~hamodel.model.strategies.AppCluster` behind a
VIP, ``process="mariadb"`` or named ``galera``), one bridge per switch, a
client namespace, and starts:

- one ``mariadbd`` per member, each with its own ``--defaults-file``, data
  dir, socket, pid file and log; ``bind-address`` and
  ``wsrep_node_address`` are the node's address on the VIP's network,
  ``wsrep_cluster_address`` is ``gcomm://`` + every member placed by the
  model. The first member is bootstrapped (``--wsrep-new-cluster``), the
  others join by rsync state transfer;
- a clustercheck-style health endpoint per member (HTTP 200 only when the
  member is ``Synced`` and ``Primary``, else 503), served by
  :func:`serve_health` (``python -m hamodel.drill.galera.health``) inside
  the member's namespace, on the check port the model gives HAProxy (9200);
- the generated ``haproxy.cfg`` of the VIP's preferred holder on that node,
  with the VIP configured on it statically (no keepalived: the Galera
  scenarios do not move the VIP), so writes go through the generated
  single-writer listener and its real ``option httpchk``.

Facts this relies on (see PLATFORM.md): members run as ``user=mysql`` with
their folder owned by mysql (as root, rsync state transfer fails on the
joiner), so member folders live under :data:`GALERA_ROOT` (0711), not under
the lab's root-only state dir.

``hamodel drill MODEL --scenario galera-member-down`` (or any Galera
scenario name) runs the scenarios of :mod:`hamodel.drill.galera.scenarios`
on it, through their kinds (:mod:`hamodel.drill.galera.kinds`).
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hamodel.drill import reroot
from hamodel.drill.files import generated_files
from hamodel.drill.lab import EXTRA_ROOTS, Lab, LabError, Process, required, run
from hamodel.drill.lab import cleanup_leftovers as lab_cleanup
from hamodel.drill.observe import haproxy_stat
from hamodel.model import Architecture
from hamodel.model.strategies import AppCluster

GALERA_ROOT = Path("/run/hamodel-galera")
assert GALERA_ROOT in EXTRA_ROOTS  # removed by the lab's leftover cleanup
MARIADBD = "/usr/sbin/mariadbd"
PROVIDER = "/usr/lib/galera/libgalera_smm.so"
DB_USER, DB_PASS = "drill", "drill"  # a lab-only account for writes through the VIP
GCOMM_PORT = 4567

Progress = Callable[[str], None]


def available() -> str | None:
    """Why a Galera drill cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for p in (MARIADBD, PROVIDER, shutil.which("rsync"), shutil.which("mariadb"), shutil.which("haproxy")):
        if not p or not Path(p).exists():
            return f"missing {p or 'rsync/mariadb/haproxy'} (install mariadb-server galera-4 rsync mariadb-client)"
    try:
        pwd.getpwnam("mysql")
    except KeyError:
        return "no mysql user"
    return None


def version() -> str:
    """``mariadbd --version``'s version, for the report."""
    try:
        out = subprocess.run([MARIADBD, "--version"], capture_output=True, text=True, timeout=10).stdout.split()
        return "MariaDB " + next((w for w in out if w[:1].isdigit()), "unknown")
    except (OSError, subprocess.TimeoutExpired):
        return "MariaDB unknown"


# -- the plan: which nodes, addresses and ports, from the model -------------------


@dataclass
class Member:
    node: str
    address: str
    prefix: int
    device: str
    switch: str
    index: int


@dataclass
class GaleraPlan:
    service: str
    members: list[Member]
    port: int
    check_port: int
    vip: str
    vip_prefix: int
    network: str
    lb_node: str | None  # the VIP's preferred holder, running the generated haproxy.cfg
    haproxy_cfg: str | None
    backend: reroot.Backend | None
    switches: list[str]
    links: list[tuple[str, str]]
    client: tuple[str, str]  # (address/prefix, switch)
    strategy: AppCluster

    @property
    def cluster_address(self) -> str:
        return "gcomm://" + ",".join(f"{m.address}:{GCOMM_PORT}" for m in self.members)


def galera_service(arch: Architecture, name: str | None = None) -> str:
    """The model's Galera service: ``name``, else the AppCluster running mariadb / named galera."""
    if name is not None:
        svc = arch.service(name)
        if not isinstance(svc.strategy, AppCluster):
            raise LabError(f"service {name!r}: strategy is {type(svc.strategy).__name__}, not AppCluster")
        return name
    for s in arch.services:
        if isinstance(s.strategy, AppCluster) and ("galera" in s.name or (s.process or "") in ("mariadb", "mysql")):
            return s.name
    raise LabError("the model has no Galera service (an AppCluster named galera or with process='mariadb')")


def _switch_of(arch: Architecture, network: str, switch: str | None) -> str:
    if switch is not None:
        return switch
    net = arch.network(network)
    return net.switches[0] if net.switches else f"{network}-sw"


def plan(arch: Architecture, dep, files: Mapping[str, bytes], service: str | None = None) -> GaleraPlan:
    """Members, addresses and ports of the Galera drill, from the model and the generated files."""
    name = galera_service(arch, service)
    svc = arch.service(name)
    st: AppCluster = svc.strategy  # type: ignore[assignment]
    nodes = list(dep.placement.nodes_of(name))
    if len(nodes) < 3:
        raise LabError(f"service {name!r}: placed on {len(nodes)} node(s); the Galera drill needs 3")
    if st.access is None:
        raise LabError(f"service {name!r}: strategy AppCluster has no access (BehindVip): no VIP to write through")
    vip = arch.vip(st.access.vip)
    net = arch.network(vip.network)
    members = []
    for i, n in enumerate(nodes):
        iface = arch.node(n).interface_on(net.name)
        if iface is None:
            raise LabError(f"node {n!r} (member of {name!r}) has no interface on network {net.name!r}")
        members.append(
            Member(
                n, str(iface.address), net.subnet.prefixlen, iface.device, _switch_of(arch, net.name, iface.switch), i
            )
        )
    port = st.access.backend_port or st.access.ports[0]
    check_port = st.access.check.port or 9200
    lb = next((g.master for g in dep.vrrp_groups if vip.name in g.vips), None)
    hcfg = backend = None
    if lb is not None and f"nodes/{lb}/haproxy/haproxy.cfg" in files:
        hcfg = files[f"nodes/{lb}/haproxy/haproxy.cfg"].decode()
        backend = reroot.parse_haproxy(hcfg).backend_for(str(vip.address), port)
        if backend is None:
            hcfg = None
    switches = {m.switch for m in members}
    lb_switch = None
    if lb is not None and lb not in nodes:
        iface = arch.node(lb).interface_on(net.name)
        lb_switch = _switch_of(arch, net.name, iface.switch) if iface else None
        if lb_switch:
            switches.add(lb_switch)
    links = sorted((a, b) for a, b in net.switch_links() if a in switches and b in switches)
    used = {ipaddress.ip_address(str(i.address)) for nd in arch.nodes for i in nd.interfaces} | {
        v.address for v in arch.vips
    }
    client_ip = next(h for h in reversed(list(net.subnet.hosts())) if h not in used)
    lb_member = next((m for m in members if m.node == lb), None)
    client_sw = lb_member.switch if lb_member else (lb_switch or members[0].switch)
    return GaleraPlan(
        name,
        members,
        port,
        check_port,
        str(vip.address),
        net.subnet.prefixlen,
        net.name,
        lb if hcfg else None,
        hcfg,
        backend,
        sorted(switches),
        links,
        (f"{client_ip}/{net.subnet.prefixlen}", client_sw),
        st,
    )


# -- the health endpoint (runs inside a member's namespace) -------------------------


def wsrep_status(sock: Path, timeout: float = 3.0) -> dict[str, str] | None:
    """``SHOW GLOBAL STATUS LIKE 'wsrep_%'`` over the member's socket; None if it does not answer."""
    try:
        p = subprocess.run(
            [
                "mariadb",
                f"--socket={sock}",
                "--user=root",
                "-N",
                "-B",
                "--connect-timeout=2",
                "-e",
                "SHOW GLOBAL STATUS LIKE 'wsrep\\_%'",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None
    if p.returncode != 0:
        return None
    return dict(line.split("\t", 1) for line in p.stdout.splitlines() if "\t" in line)


def healthy(st: dict[str, str] | None) -> bool:
    """clustercheck's rule: Synced (state 4) and in the primary component."""
    return bool(st) and st.get("wsrep_local_state_comment") == "Synced" and st.get("wsrep_cluster_status") == "Primary"


def serve_health(sock: Path, bind: str, port: int) -> None:
    """HTTP 200 when the member is Synced and Primary, 503 otherwise (any path, GET or HEAD)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bool) -> None:
            st = wsrep_status(sock, timeout=2.5)
            ok = healthy(st)
            text = (
                f"Galera node is {'synced' if ok else 'not synced'}: "
                f"{(st or {}).get('wsrep_local_state_comment', 'down')}, "
                f"{(st or {}).get('wsrep_cluster_status', 'down')}\r\n"
            ).encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.send_header("Connection", "close")
            self.end_headers()
            if body:
                self.wfile.write(text)

        def do_GET(self) -> None:
            self._answer(True)

        def do_HEAD(self) -> None:
            self._answer(False)

        def do_OPTIONS(self) -> None:
            self._answer(True)

        def log_message(self, format: str, *args: Any) -> None:  # one line per check would flood the log
            pass

    srv = ThreadingHTTPServer((bind, port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever()


# -- the lab ----------------------------------------------------------------------


def cleanup_leftovers() -> list[str]:
    """Remove member folders (and processes) of Galera labs whose drill process is gone.

    The lab's own cleanup does it (:data:`GALERA_ROOT` is one of
    :data:`hamodel.drill.lab.EXTRA_ROOTS`), so ``hamodel drill --cleanup``
    removes Galera leftovers too; this process's own labs are spared.
    """
    return [d for d in lab_cleanup(keep_own=True)["dirs"] if d.startswith(str(GALERA_ROOT) + "/")]


@dataclass
class GaleraLab:
    """A lab with a real Galera cluster; :meth:`teardown` always cleans up (idempotent)."""

    arch: Architecture
    plan: GaleraPlan
    say: Progress = field(default=lambda s: None)
    lab: Lab = field(default_factory=Lab)
    procs: dict[tuple[str, str], Process] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    dep: Any = None  # the analysed Deployment the plan came from (predictions read its findings)

    def __post_init__(self) -> None:
        self.root = GALERA_ROOT / self.lab.prefix.rstrip("-")

    # paths
    def mdir(self, node: str) -> Path:
        return self.root / node

    def sock(self, node: str) -> Path:
        return self.mdir(node) / "mysqld.sock"

    def grastate(self, node: str) -> dict[str, str]:
        """The member's grastate.dat (``seqno``, ``safe_to_bootstrap``...)."""
        try:
            text = (self.mdir(node) / "data" / "grastate.dat").read_text()
        except OSError:
            return {}
        return {k.strip(): v.strip() for k, v in (l.split(":", 1) for l in text.splitlines() if ":" in l)}

    # -- building ---------------------------------------------------------------

    def setup(self) -> None:
        """Standalone: namespaces, switches, client, the cluster, haproxy with a static VIP."""
        p, lab = self.plan, self.lab
        lab.create()
        for sw in p.switches:
            lab.add_switch(sw)
        # The lab runs no STP: a meshed set of switches gets split-horizon links.
        mesh = len(p.links) >= len(p.switches) > 1
        for a, b in p.links:
            lab.link_switches(a, b, split_horizon=mesh)
        for m in p.members:
            lab.add_host(m.node)
            lab.plug(m.node, m.device, m.switch, f"{m.address}/{m.prefix}")
        lab.add_host("client", client=True)
        lab.plug("client", "eth0", p.client[1], p.client[0], ns=lab.client_ns)
        self.start_cluster()
        if p.lb_node:
            self._start_haproxy()

    def start_cluster(self) -> None:
        """The members, in the lab's node namespaces (which must exist): bootstrap the
        first, join the others, wait until all are Primary and Synced, start the health
        endpoints. Used standalone (:meth:`setup`) and by the drill's Galera kinds."""
        p = self.plan
        GALERA_ROOT.mkdir(mode=0o711, exist_ok=True)
        os.chmod(GALERA_ROOT, 0o711)  # mysql traverses it to its own 0700 folder
        self.root.mkdir(mode=0o711)
        os.chmod(self.root, 0o711)
        for m in p.members:
            self._write_member(m)
        t0 = time.monotonic()
        first = p.members[0]
        self._install_db(first.node)
        self.start(first.node, bootstrap=True)
        self.wait_synced([first.node], timeout=60)
        self.sql(
            first.node,
            f"CREATE USER IF NOT EXISTS '{DB_USER}'@'%' IDENTIFIED BY '{DB_PASS}'; "
            f"GRANT ALL ON drill.* TO '{DB_USER}'@'%'; CREATE DATABASE IF NOT EXISTS drill; "
            "CREATE TABLE IF NOT EXISTS drill.t (id INT AUTO_INCREMENT PRIMARY KEY, "
            "scenario VARCHAR(40) NOT NULL, n INT NOT NULL, node VARCHAR(64) NOT NULL, "
            "UNIQUE KEY (scenario, n))",
        )
        self.timings["bootstrap_s"] = round(time.monotonic() - t0, 2)
        t1 = time.monotonic()
        for m in p.members[1:]:
            self.start(m.node)
        self.wait_synced(self.nodes, timeout=120)
        self.timings["join_s"] = round(time.monotonic() - t1, 2)
        self.say(
            f"galera: {len(p.members)} members Primary and Synced; bootstrap {self.timings['bootstrap_s']} s, "
            f"join {self.timings['join_s']} s"
        )
        for m in p.members:
            self._start_health(m)

    def stop_cluster(self) -> None:
        """Kill this cluster's processes and remove the member folders (the drill's lab
        stays; its own teardown removes the namespaces). Idempotent."""
        for (_n, _what), proc in list(self.procs.items()):
            self.lab.stop(proc, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def unsettled(self) -> list[str]:
        """What keeps the cluster from its steady state (empty: settled): every member
        running, Primary, Synced and seeing all members, its health endpoint 200."""
        problems = []
        for n in self.nodes:
            if not self.alive(n):
                problems.append(f"galera: mariadbd on {n} is not running")
                continue
            st = self.status(n)
            if not healthy(st) or int((st or {}).get("wsrep_cluster_size", 0)) < len(self.nodes):
                problems.append(f"galera: {n} is {self.brief(n)}, not Primary/Synced/size {len(self.nodes)}")
        if not problems:
            for n in self.nodes:
                code = self.health(n)
                if code != 200:
                    problems.append(f"galera: health check of {n} answers {code}")
        return problems

    @property
    def nodes(self) -> list[str]:
        return [m.node for m in self.plan.members]

    def member(self, node: str) -> Member:
        return next(m for m in self.plan.members if m.node == node)

    def _chown(self, path: Path) -> None:
        pw = pwd.getpwnam("mysql")
        os.chown(path, pw.pw_uid, pw.pw_gid)

    def _write_member(self, m: Member) -> None:
        d = self.mdir(m.node)
        d.mkdir(mode=0o700)
        (d / "data").mkdir(mode=0o700)
        p = self.plan
        cnf = f"""# Galera member {m.node}: generated by the hamodel drill from the model.
[mysqld]
user=mysql
datadir={d}/data
socket={d}/mysqld.sock
pid-file={d}/mysqld.pid
log-error={d}/error.log
port={p.port}
bind-address={m.address}
skip-name-resolve
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
wsrep_on=ON
wsrep_provider={PROVIDER}
wsrep_provider_options="gcache.size=32M"
wsrep_cluster_name=hamodel-{p.service}
wsrep_cluster_address={p.cluster_address}
wsrep_node_address={m.address}
wsrep_node_name={m.node}
wsrep_sst_method=rsync
"""
        (d / "my.cnf").write_text(cnf)
        for path in (d, d / "data", d / "my.cnf"):
            self._chown(path)

    def _install_db(self, node: str) -> None:
        d = self.mdir(node)
        r = subprocess.run(
            [
                "mariadb-install-db",
                f"--defaults-file={d}/my.cnf",
                "--user=mysql",
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if r.returncode != 0:
            raise LabError(f"mariadb-install-db for {node}: {(r.stderr or r.stdout).strip()[-500:]}")

    def start(self, node: str, *, bootstrap: bool = False) -> Process:
        """Start the member's mariadbd in its namespace (``bootstrap``: a new primary component)."""
        d = self.mdir(node)
        argv = [MARIADBD, f"--defaults-file={d}/my.cnf"] + (["--wsrep-new-cluster"] if bootstrap else [])
        proc = self.lab.start(
            f"mariadbd@{node}", self.lab.node_ns(node), argv, log=self.lab.node_dir(node) / "mariadbd.out"
        )
        self.procs[(node, "mariadbd")] = proc
        return proc

    def kill(self, node: str) -> None:
        """SIGKILL the member (a crash / power loss of its host for the database)."""
        p = self.procs.get((node, "mariadbd"))
        if p is not None and p.alive():
            os.kill(p.pid, signal.SIGKILL)
            p.popen.wait(timeout=10)

    def stop(self, node: str, timeout: float = 60) -> None:
        """Graceful shutdown (SIGTERM, as systemctl stop does)."""
        p = self.procs.get((node, "mariadbd"))
        if p is not None and p.alive():
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.popen.wait(timeout=10)
                raise LabError(f"mariadbd on {node} did not stop within {timeout} s") from None

    def recover_position(self, node: str) -> int:
        """The member's last committed seqno, from ``mariadbd --wsrep-recover`` (mariadbd must be stopped)."""
        d = self.mdir(node)
        log = d / "error.log"
        before = log.stat().st_size if log.exists() else 0
        r = self.lab.exec(
            self.lab.node_ns(node),
            [MARIADBD, f"--defaults-file={d}/my.cnf", "--wsrep-recover"],
            check=False,
            timeout=120,
        )
        text = r.stdout + r.stderr
        try:
            with open(log, "rb") as fh:
                fh.seek(before)
                text += fh.read().decode(errors="replace")
        except OSError:
            pass
        m = re.findall(r"Recovered position:\s*[0-9a-f-]+:(-?\d+)", text)
        if not m:
            raise LabError(f"--wsrep-recover on {node} reported no position: {text.strip()[-300:]}")
        return int(m[-1])

    def set_safe_to_bootstrap(self, node: str) -> None:
        """Mark the member safe to bootstrap in its grastate.dat (the operator's edit)."""
        p = self.mdir(node) / "data" / "grastate.dat"
        p.write_text(re.sub(r"(?m)^safe_to_bootstrap:.*$", "safe_to_bootstrap: 1", p.read_text()))

    def alive(self, node: str) -> bool:
        p = self.procs.get((node, "mariadbd"))
        return p is not None and p.alive()

    def start_health(self, node: str) -> None:
        """(Re)start the member's health endpoint; returns once it answers."""
        self._start_health(self.member(node))

    def _start_health(self, m: Member) -> None:
        argv = [
            sys.executable,
            "-m",
            "hamodel.drill.galera.health",
            "--health",
            str(self.sock(m.node)),
            "--bind",
            "0.0.0.0",
            "--port",
            str(self.plan.check_port),
        ]
        env = {"PYTHONPATH": str(Path(__file__).resolve().parents[3])}
        self.procs[(m.node, "health")] = self.lab.start(
            f"health@{m.node}", self.lab.node_ns(m.node), argv, log=self.lab.node_dir(m.node) / "health.log", env=env
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.health(m.node) is not None:
                return
            time.sleep(0.1)
        raise LabError(f"health endpoint on {m.node} does not answer")

    def _start_haproxy(self) -> None:
        p, lab = self.plan, self.lab
        n = p.lb_node
        assert n and p.haproxy_cfg
        ns = lab.node_ns(n)
        # The VIP, statically on its preferred holder: the Galera scenarios never move it.
        iface = self.member(n).device
        run(["ip", "-n", ns, "addr", "add", f"{p.vip}/{p.vip_prefix}", "dev", iface])
        d = lab.node_dir(n)
        text, _notes = reroot.lab_haproxy(p.haproxy_cfg, d)
        lab.write_file(d / "haproxy.cfg", text)
        env = {k: "drill" for k in reroot.parse_haproxy(p.haproxy_cfg).env if k not in os.environ}
        self.procs[(n, "haproxy")] = lab.start(
            f"haproxy@{n}",
            ns,
            ["haproxy", "-db", "-f", str(d / "haproxy.cfg"), "-p", str(d / "haproxy.pid")],
            log=d / "haproxy.log",
            env=env,
        )
        # Wait until haproxy has seen the writer healthy (rise checks).
        writer = next(
            s.name for s in required(p.backend, f"the Galera backend of {n}'s haproxy.cfg").servers if not s.backup
        )
        if not self.wait(lambda: self.haproxy_status(writer) == "UP", 15):
            raise LabError(f"haproxy on {n} does not see {writer} UP: {self.haproxy_status(writer)}")

    # -- observation and actions --------------------------------------------------

    @staticmethod
    def wait(pred: Callable[[], bool], timeout: float, every: float = 0.1) -> float | None:
        """Poll ``pred``; the seconds it took to become true, or None."""
        t0 = time.monotonic()
        while True:
            if pred():
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                return None
            time.sleep(every)

    def status(self, node: str) -> dict[str, str] | None:
        return wsrep_status(self.sock(node)) if self.alive(node) else None

    def wait_synced(self, nodes: list[str], timeout: float) -> float:
        """Wait until every member of ``nodes`` is Primary and Synced (and sees them all)."""

        def ok() -> bool:
            for n in nodes:
                if not self.alive(n):
                    raise LabError(f"mariadbd on {n} exited: {self.tail(n)}")
                st = self.status(n)
                if st is None or not healthy(st) or int(st.get("wsrep_cluster_size", 0)) < len(nodes):
                    return False
            return True

        took = self.wait(ok, timeout, every=0.25)
        if took is None:
            raise LabError(
                f"{nodes} not all Primary and Synced within {timeout} s: "
                + "; ".join(f"{n}: {self.brief(n)}" for n in nodes)
            )
        return took

    def brief(self, node: str) -> str:
        st = self.status(node)
        if st is None:
            return "down" if not self.alive(node) else "not answering"
        return (
            f"{st.get('wsrep_cluster_status')}/{st.get('wsrep_local_state_comment')}"
            f"/size {st.get('wsrep_cluster_size')}"
        )

    def tail(self, node: str, n: int = 6) -> str:
        try:
            return " | ".join((self.mdir(node) / "error.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no error.log)"

    def sql(self, node: str, query: str, *, timeout: float = 10) -> subprocess.CompletedProcess:
        """Run SQL as root over the member's socket; raise LabError on failure."""
        r = subprocess.run(
            ["mariadb", f"--socket={self.sock(node)}", "--user=root", "-N", "-B", "-e", query],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if r.returncode != 0:
            raise LabError(f"SQL on {node}: {r.stderr.strip()}")
        return r

    def try_sql(self, node: str, query: str, *, timeout: float = 10) -> tuple[bool, str]:
        """(ok, output or error text): SQL on the member's socket, failures returned."""
        try:
            r = subprocess.run(
                [
                    "mariadb",
                    f"--socket={self.sock(node)}",
                    "--user=root",
                    "-N",
                    "-B",
                    "--connect-timeout=2",
                    "-e",
                    query,
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return False, "timeout"
        return r.returncode == 0, (r.stdout if r.returncode == 0 else r.stderr).strip()

    def health(self, node: str) -> int | None:
        """The HTTP status of the member's health endpoint, asked from inside its namespace."""
        code = (
            "import sys,urllib.request,urllib.error\n"
            "try:\n print(urllib.request.urlopen(sys.argv[1],timeout=4).status)\n"
            "except urllib.error.HTTPError as e:\n print(e.code)\n"
            "except Exception:\n print(0)\n"
        )
        url = f"http://{self.member(node).address}:{self.plan.check_port}/"
        r = self.lab.exec(self.lab.node_ns(node), [sys.executable, "-c", code, url], check=False, timeout=10)
        try:
            v = int(r.stdout.strip() or 0)
        except ValueError:
            return None
        return v or None

    def haproxy_status(self, server: str) -> str | None:
        """A server's status in the generated galera listener, from haproxy's stats socket."""
        if not self.plan.lb_node or self.plan.backend is None:
            return None
        sock = self.lab.node_dir(self.plan.lb_node) / "haproxy.sock"
        return haproxy_stat(sock, self.plan.backend.name, server)

    def insert(self, scenario: str, n: int, *, node: str | None = None) -> tuple[bool, str]:
        """One INSERT, through the VIP's galera listener from the client (or on ``node``'s socket).

        Returns (committed, serving member name or the error text).
        """
        q = (
            f"INSERT INTO drill.t (scenario, n, node) VALUES ('{scenario}', {n}, @@wsrep_node_name); "
            "SELECT @@wsrep_node_name"
        )
        if node is not None:
            return self.try_sql(node, q)
        argv = [
            "mariadb",
            "-h",
            self.plan.vip,
            "-P",
            str(self.plan.port),
            f"--user={DB_USER}",
            f"--password={DB_PASS}",
            "--connect-timeout=2",
            "-N",
            "-B",
            "-e",
            q,
        ]
        if not self.plan.lb_node:  # no haproxy to go through: the first member directly
            argv[2] = self.plan.members[0].address
        try:
            r = self.lab.exec(self.lab.client_ns, argv, check=False, timeout=15)
        except subprocess.TimeoutExpired:
            return False, "timeout"
        return r.returncode == 0, (r.stdout if r.returncode == 0 else r.stderr).strip()

    def rows(self, node: str, scenario: str) -> set[int] | None:
        ok, out = self.try_sql(node, f"SELECT n FROM drill.t WHERE scenario='{scenario}'")
        return {int(x) for x in out.split()} if ok else None

    def cut(self, node: str, up: bool) -> None:
        """Take the member's bridge port(s) down (a partition isolating it) or up again."""
        for port in self.lab.ports:
            if port.node == node:
                run(
                    [
                        "ip",
                        "-n",
                        self.lab.switch_ns(port.switch),
                        "link",
                        "set",
                        port.switch_port,
                        "up" if up else "down",
                    ]
                )

    def teardown(self) -> None:
        """Stop every daemon, delete the namespaces and the member folders. Idempotent."""
        try:
            self.lab.teardown()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def open_lab(
    arch: Architecture, *, lock: Path | None = None, service: str | None = None, progress: Progress | None = None
) -> GaleraLab:
    """Plan and set up a Galera lab for ``arch`` (tears down what it built if setup fails)."""
    dep, files = generated_files(arch, analyse=True, lock=lock)
    gl = GaleraLab(arch, plan(arch, dep, files, service), progress or (lambda s: None), dep=dep)
    try:
        gl.setup()
    except BaseException:
        gl.teardown()
        raise
    return gl
