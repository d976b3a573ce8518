"""Run drills: bring the generated configs up in a lab, break things, measure, compare.

:func:`run_drill` is the entry point (the CLI is a thin wrapper). It builds
the lab from the model and the generated :class:`~hamodel.output.FileSet`,
runs each scenario of :mod:`hamodel.drill.scenarios` against the real
keepalived and haproxy, and returns a JSON-ready report: per scenario what
the analysis predicts, what was measured, and whether they agree.

Timing predictions (keepalived 2.2.7 semantics, RFC 3768 timers):

- a backup takes over when it has heard no advert for the master-down
  interval ``3 x advert_int + (256 - priority) / 256 x advert_int``;
- a master that leaves (FAULT from a failed track script) announces
  priority 0, and the backup takes over after its skew time alone;
- HAProxy marks a server down after ``fall`` failed checks ``inter`` ms
  apart.

Every bound adds :data:`MARGIN_S` for sampling (the holders are sampled
every :data:`SAMPLE_S`) and scheduling on a loaded 2-core machine.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from hamodel.deployment import Deployment, VrrpGroup
from hamodel.drill import configs as cfgs
from hamodel.drill.lab import Lab, LabError, Process
from hamodel.drill.scenarios import Scenario, default_scenarios, probe_service, select
from hamodel.model import Architecture

MARGIN_S = 0.5
SAMPLE_S = 0.05
PROBE_INTERVAL_S = 0.05
PROBE_TIMEOUT_S = 0.3
HERE = Path(__file__).resolve().parent

Progress = Callable[[str], None]


def _now() -> float:
    return time.monotonic()


# -- the lab plan: what to build, from the model and the generated files ------


@dataclass
class NodePlan:
    name: str
    interfaces: list[tuple[str, str, str, str]]  # (device, address/prefix, switch, network)
    keepalived: str | None = None
    haproxy: str | None = None
    sysctls: list[tuple[str, str]] = field(default_factory=list)
    backend_ports: dict[int, str] = field(default_factory=dict)  # port -> bind address


@dataclass
class LabPlan:
    switches: list[str]
    links: list[tuple[str, str]]
    split_horizon: set[tuple[str, str]]
    nodes: dict[str, NodePlan]
    client_interfaces: list[tuple[str, str, str, str]]  # (device, address/prefix, switch, network)
    haproxy: dict[str, cfgs.HaproxyConfig]
    keepalived: dict[str, cfgs.KeepalivedConfig]
    backend_services: list[str]
    skipped_backend_services: list[str]
    notes: list[str] = field(default_factory=list)


def _switch_of(arch: Architecture, network: str, switch: str | None) -> str:
    if switch is not None:
        return switch
    net = arch.network(network)
    return net.switches[0] if net.switches else f"{network}-sw"


def _sysctls(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            if k.startswith("net."):  # per-namespace keys only
                out.append((k, v))
    return out


def plan_lab(arch: Architecture, dep: Deployment, files: Mapping[str, bytes], *,
             backend_services: list[str] | None = None) -> LabPlan:
    """Nodes, switches, links and stand-in backends for this deployment's files."""
    notes: list[str] = []
    nodes: dict[str, NodePlan] = {}
    for node in arch.nodes:
        base = f"nodes/{node.name}/"
        mine = {k[len(base):]: v for k, v in files.items() if k.startswith(base)}
        if not mine:
            continue
        np_ = NodePlan(node.name, [])
        for i in node.interfaces:
            net = arch.network(i.network)
            np_.interfaces.append((i.device, f"{i.address}/{net.subnet.prefixlen}",
                                   _switch_of(arch, i.network, i.switch), i.network))
        if "keepalived/keepalived.conf" in mine:
            np_.keepalived = mine["keepalived/keepalived.conf"].decode()
        if "haproxy/haproxy.cfg" in mine:
            np_.haproxy = mine["haproxy/haproxy.cfg"].decode()
        for rel, data in sorted(mine.items()):
            if rel.startswith("sysctl.d/"):
                np_.sysctls += _sysctls(data.decode())
        nodes[node.name] = np_
    if not nodes:
        raise LabError("the generated files configure no node (no nodes/<node>/ files)")

    hap = {n: cfgs.parse_haproxy(p.haproxy) for n, p in nodes.items() if p.haproxy}
    kad = {n: cfgs.parse_keepalived(p.keepalived) for n, p in nodes.items() if p.keepalived}

    # Stand-in backends: every server of every proxy of the chosen services,
    # on the node that owns the server's address (a backend-only host when
    # it runs neither keepalived nor haproxy).
    owner = {str(i.address): n.name for n in arch.nodes for i in n.interfaces}
    all_lb = [s.name for s in arch.services if s.access is not None and dep.placement.nodes_of(s.name)]
    chosen = all_lb if backend_services is None else [s for s in all_lb if s in backend_services]
    for sname in chosen:
        a = arch.service(sname).access
        vip = str(arch.vip(a.vip).address)
        for port in a.ports:
            for hc in hap.values():
                be = hc.backend_for(vip, port)
                if be is None:
                    continue
                for srv in be.servers:
                    n = owner.get(srv.address)
                    if n is None:
                        notes.append(f"{sname}: server {srv.address} is no node's address; no stand-in for it")
                        continue
                    if n not in nodes:
                        node = arch.node(n)
                        nodes[n] = NodePlan(n, [(i.device, f"{i.address}/{arch.network(i.network).subnet.prefixlen}",
                                                 _switch_of(arch, i.network, i.switch), i.network)
                                                for i in node.interfaces])
                    nodes[n].backend_ports[srv.port] = srv.address
                    if srv.check_port:
                        nodes[n].backend_ports[srv.check_port] = srv.address

    switches = sorted({sw for n in nodes.values() for (_, _, sw, _) in n.interfaces})
    links: set[tuple[str, str]] = set()
    for net in arch.networks:
        for a, b in net.switch_links():
            if a in switches and b in switches:
                links.add((a, b))
    links_l = sorted(links)
    split_horizon = _loop_free(switches, links_l, notes)

    # The client: one interface per network that carries a keepalived VIP,
    # at the highest free host address, on the switch of the group's
    # preferred holder (the side a partition keeps).
    used = {ipaddress.ip_address(a) for a in owner} | {v.address for v in arch.vips}
    client_ifaces: list[tuple[str, str, str, str]] = []
    for g in dep.vrrp_groups:
        if g.manager != "keepalived" or any(c[3] == g.network for c in client_ifaces):
            continue
        net = arch.network(g.network)
        client_ip = next(h for h in reversed(list(net.subnet.hosts())) if h not in used)
        miface = arch.node(g.master).interface_on(net.name)
        client_ifaces.append((f"eth{len(client_ifaces)}", f"{client_ip}/{net.subnet.prefixlen}",
                              _switch_of(arch, net.name, miface.switch if miface else None), net.name))
    if not client_ifaces:
        raise LabError("no virtual IP is held by keepalived: the lab runs keepalived and haproxy only "
                       "(a Pacemaker-held VIP cannot be drilled here)")
    return LabPlan(switches, links_l, split_horizon, nodes, client_ifaces, hap, kad, chosen,
                   [s for s in all_lb if s not in chosen], notes)


def _loop_free(switches: list[str], links: list[tuple[str, str]], notes: list[str]) -> set[tuple[str, str]]:
    """The links to mark split-horizon so the lab's L2 has no loop (the lab runs no STP).

    Per connected group of switches: a tree needs nothing; a full mesh is
    made loop-free by split horizon (a frame entering a switch from one
    inter-switch link never leaves by another, like a fabric); anything
    else is refused.
    """
    comp = {s: s for s in switches}

    def find(x: str) -> str:
        while comp[x] != x:
            x = comp[x]
        return x

    for a, b in links:
        comp[find(a)] = find(b)
    marked: set[tuple[str, str]] = set()
    for root in sorted({find(s) for s in switches}):
        members = [s for s in switches if find(s) == root]
        mine = [l for l in links if find(l[0]) == root]
        n = len(members)
        if len(mine) == n - 1:
            continue
        if len(mine) == n * (n - 1) // 2:
            marked.update(mine)
            notes.append(f"inter-switch links of {', '.join(members)} form a full mesh: the lab marks them "
                         "split-horizon (bridge port 'isolated') instead of running STP, so the mesh has no L2 "
                         "loop; cutting one link therefore separates its two switches, unlike a real fabric")
            continue
        raise LabError(f"inter-switch links {mine} form loops but not a full mesh: the lab has no STP")
    return marked


# -- observation helpers ------------------------------------------------------


class HolderWatch(threading.Thread):
    """Samples which lab nodes hold each VIP, every SAMPLE_S."""

    def __init__(self, lab: Lab, vips: dict[str, list[str]]):
        super().__init__(daemon=True, name="holder-watch")
        self.lab, self.vips = lab, vips  # vip address -> member nodes
        self.samples: list[tuple[float, dict[str, frozenset[str]]]] = []
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def _addresses(self, node: str) -> set[str]:
        p = subprocess.run(["ip", "-n", self.lab.node_ns(node), "-o", "addr", "show"],
                           capture_output=True, text=True)
        return {w.split("/")[0] for line in p.stdout.splitlines() for w in line.split()[3:4]}

    def run(self) -> None:
        nodes = sorted({n for ms in self.vips.values() for n in ms})
        while not self._halt.is_set():
            t0 = _now()
            addrs = {n: self._addresses(n) for n in nodes}
            t = (t0 + _now()) / 2
            sample = {v: frozenset(n for n in ms if v in addrs[n]) for v, ms in self.vips.items()}
            with self._lock:
                self.samples.append((t, sample))
            self._halt.wait(max(0.0, SAMPLE_S - (_now() - t0)))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)

    def current(self, vip: str) -> frozenset[str] | None:
        with self._lock:
            return self.samples[-1][1][vip] if self.samples else None

    def since(self, vip: str, t: float) -> list[tuple[float, frozenset[str]]]:
        with self._lock:
            return [(s, h[vip]) for s, h in self.samples if s >= t]

    def wait_for(self, vip: str, pred: Callable[[frozenset[str]], bool], *, after: float,
                 timeout: float) -> float | None:
        """Time of the first sample at or after ``after`` whose holders satisfy ``pred``."""
        deadline = _now() + timeout
        while True:
            for t, h in self.since(vip, after):
                if pred(h):
                    return t
            if _now() > deadline:
                return None
            time.sleep(SAMPLE_S / 2)


class ProbeRun:
    """The client polling one VIP:port from its namespace (probe.py), results in memory."""

    def __init__(self, lab: Lab, target: str):
        self.results: list[dict[str, Any]] = []
        argv = [sys.executable, str(HERE / "probe.py"), "--target", target,
                "--interval", str(PROBE_INTERVAL_S), "--timeout", str(PROBE_TIMEOUT_S)]
        self.popen = subprocess.Popen(["ip", "netns", "exec", lab.client_ns, *argv], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
                                      start_new_session=True)
        lab.processes.append(Process("probe", lab.client_ns, argv, self.popen, Path(os.devnull)))
        self.thread = threading.Thread(target=self._read, daemon=True, name="probe-reader")
        self.thread.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            try:
                self.results.append(json.loads(line))
            except json.JSONDecodeError:
                pass

    def stop(self) -> list[dict[str, Any]]:
        if self.popen.poll() is None:
            self.popen.terminate()
        try:
            self.popen.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self.thread.join(timeout=2)
        return list(self.results)

    def wait_ok(self, n: int = 3, timeout: float = 10.0) -> bool:
        """True once the last ``n`` requests succeeded."""
        deadline = _now() + timeout
        while _now() < deadline:
            r = self.results[-n:]
            if len(r) == n and all(x["ok"] for x in r):
                return True
            time.sleep(0.05)
        return False


def haproxy_stat(sock: Path, proxy: str, server: str) -> str | None:
    """A server's status (``UP``, ``DOWN``, ...) from a haproxy stats socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(sock))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    except OSError:
        return None
    lines = data.decode(errors="replace").splitlines()
    if not lines:
        return None
    head = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(head, line.split(",")))
        if row.get("pxname") == proxy and row.get("svname") == server:
            return row.get("status")
    return None


def _requests(results: list[dict], start: float, end: float | None = None) -> list[dict]:
    return [r for r in results if r["t"] >= start and (end is None or r["t"] < end)]


def _summary(results: list[dict], t0: float) -> dict[str, Any]:
    after = _requests(results, t0)
    failed = [r for r in after if not r["ok"]]
    out: dict[str, Any] = {"requests": len(after), "failed_requests": len(failed)}
    if failed:
        out["first_failure_s"] = round(failed[0]["t"] - t0, 3)
        last = failed[-1]
        out["last_failure_s"] = round(last["t"] - t0, 3)
        ok_after = [r for r in after if r["ok"] and r["t"] > last["t"]]
        if ok_after:
            out["service_restored_s"] = round(ok_after[0]["t"] + ok_after[0]["ms"] / 1000 - t0, 3)
    return out


def _check(what: str, expected: Any, measured: Any, agreed: bool) -> dict[str, Any]:
    return {"what": what, "expected": expected, "measured": measured, "agreed": bool(agreed)}


# -- the drill ------------------------------------------------------------------


class Drill:
    """One lab, several scenarios. Use :func:`run_drill`; call :meth:`teardown` always."""

    def __init__(self, arch: Architecture, dep: Deployment, files: Mapping[str, bytes], *,
                 quick: bool = False, scenarios: list[str] | None = None, progress: Progress | None = None,
                 lab: Lab | None = None):
        self.arch, self.dep, self.files, self.quick = arch, dep, files, quick
        self.say: Progress = progress or (lambda s: None)
        self.lab = lab or Lab()
        self.groups = [g for g in dep.vrrp_groups if g.manager == "keepalived"]
        self.vip_addr = {v.name: str(v.address) for v in arch.vips}
        all_sc = default_scenarios(dep, quick=quick, switches_by_vip=self._switch_counts())
        self.scenarios = select(all_sc, scenarios)
        backends = None
        if quick:
            backends = sorted({s.service for s in self.scenarios if s.service} |
                              {p for g in self.groups for v in g.vips if (p := probe_service(dep, v))})
        self.plan = plan_lab(arch, dep, files, backend_services=backends)
        self.daemons: dict[tuple[str, str], Process] = {}
        self.rewrite_notes: set[str] = set()
        self.watch: HolderWatch | None = None
        self.baseline = 0.6 if quick else 1.0
        self.post = 1.5 if quick else 2.5

    def _switch_counts(self) -> dict[str, int]:
        out = {}
        for g in self.groups:
            sws = set()
            for n in g.priorities:
                for i in self.arch.node(n).interfaces:
                    if i.network == g.network:
                        sws.add(_switch_of(self.arch, i.network, i.switch))
            for v in g.vips:
                out[v] = len(sws)
        return out

    # -- lab life cycle ---------------------------------------------------------

    def setup(self) -> None:
        lab, plan = self.lab, self.plan
        lab.create()
        self.say(f"lab {lab.prefix}: {len(plan.nodes)} nodes, {len(plan.switches)} switches, "
                 f"{len(plan.links)} inter-switch links")
        for sw in plan.switches:
            lab.add_switch(sw)
        for a, b in plan.links:
            lab.link_switches(a, b, split_horizon=(a, b) in plan.split_horizon)
        for n, np_ in plan.nodes.items():
            ns = lab.add_host(n)
            for dev, addr, sw, _net in np_.interfaces:
                lab.plug(n, dev, sw, addr)
            for k, v in np_.sysctls:
                lab.sysctl(ns, k, v)
        lab.add_host("client", client=True)
        for dev, addr, sw, _net in plan.client_interfaces:
            lab.plug("client", dev, sw, addr, ns=lab.client_ns)
        for n, np_ in plan.nodes.items():
            self._write_node_files(n)
        for n in plan.nodes:
            self.start_backend(n)
        for n in plan.nodes:
            self.start_haproxy(n)
        for n in plan.nodes:
            self.start_keepalived(n)
        self.watch = HolderWatch(lab, {self.vip_addr[v]: sorted(g.priorities) for g in self.groups for v in g.vips})
        self.watch.start()
        time.sleep(0.5)
        for (n, kind), p in self.daemons.items():
            if not p.alive():
                raise LabError(f"{kind} on {n} exited at start: {self._tail(p.log)}")

    def _write_node_files(self, n: str) -> None:
        np_ = self.plan.nodes[n]
        d = self.lab.node_dir(n)
        if np_.haproxy:
            text, notes = cfgs.lab_haproxy(np_.haproxy, d)
            self.lab.write_file(d / "haproxy.cfg", text)  # 0600: may hold stats auth
            self.rewrite_notes.update(notes)
        if np_.keepalived:
            text, scripts, notes = cfgs.lab_keepalived(np_.keepalived, d, d / "haproxy.pid")
            self.lab.write_file(d / "keepalived.conf", text)  # 0600: may hold auth_pass
            for path, content in scripts.items():
                self.lab.write_file(Path(path), content, mode=0o700)
            self.rewrite_notes.update(notes)

    @staticmethod
    def _tail(log: Path, n: int = 8) -> str:
        try:
            return " | ".join(log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def start_backend(self, n: str) -> None:
        ports = self.plan.nodes[n].backend_ports
        if not ports:
            return
        d = self.lab.node_dir(n)
        argv = [sys.executable, str(HERE / "backend.py"), "--node", n, "--control", str(d / "backend.sock")]
        for port, addr in sorted(ports.items()):
            argv += ["--listen", f"{addr}:{port}"]
        (d / "backend.sock").unlink(missing_ok=True)
        self.daemons[(n, "backend")] = self.lab.start(f"backend@{n}", self.lab.node_ns(n), argv, log=d / "backend.log")
        deadline = _now() + 5
        while _now() < deadline and not (d / "backend.sock").exists():
            time.sleep(0.02)

    def backend_ctl(self, n: str, cmd: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(str(self.lab.node_dir(n) / "backend.sock"))
            s.sendall((cmd + "\n").encode())
            return s.recv(4096).decode().strip()

    def start_haproxy(self, n: str) -> None:
        if not self.plan.nodes[n].haproxy:
            return
        d = self.lab.node_dir(n)
        env = {k: "drill" for k in self.plan.haproxy[n].env if k not in os.environ}
        p = self.lab.start(f"haproxy@{n}", self.lab.node_ns(n), ["haproxy", "-db", "-f", str(d / "haproxy.cfg")],
                           log=d / "haproxy.log", env=env)
        (d / "haproxy.pid").write_text(f"{p.pid}\n")
        self.daemons[(n, "haproxy")] = p

    def start_keepalived(self, n: str) -> None:
        if not self.plan.nodes[n].keepalived:
            return
        d = self.lab.node_dir(n)
        argv = ["keepalived", "-n", "-l", "-D", "-G", "-P", "-f", str(d / "keepalived.conf"),
                "-p", str(d / "keepalived.pid"), "-r", str(d / "vrrp.pid")]
        self.daemons[(n, "keepalived")] = self.lab.start(f"keepalived@{n}", self.lab.node_ns(n), argv,
                                                         log=d / "keepalived.log")

    def teardown(self) -> None:
        if self.watch is not None:
            self.watch.stop()
        self.lab.teardown()

    # -- waiting ------------------------------------------------------------------

    def holder(self, vip: str, timeout: float = 20.0, stable: float = 1.0) -> str:
        """The single holder of ``vip`` once it has been the only one for ``stable`` s."""
        addr = self.vip_addr[vip]
        deadline = _now() + timeout
        while _now() < deadline:
            t = self.watch.wait_for(addr, lambda h: len(h) == 1, after=_now(), timeout=max(0.1, deadline - _now()))
            if t is None:
                break
            h = self.watch.current(addr)
            time.sleep(stable)
            if all(len(x) == 1 and x == h for _, x in self.watch.since(addr, t)):
                return next(iter(h))
        raise LabError(f"no single holder of {vip} within {timeout:.0f} s (holders: "
                       f"{sorted(self.watch.current(addr) or [])}); keepalived log: "
                       f"{self._tail(next(iter(self.daemons.values())).log)}")

    def settle(self, sc_vip: str) -> str:
        """Back to steady state: one holder, the polled service answering."""
        h = self.holder(sc_vip)
        svc = probe_service(self.dep, sc_vip)
        if svc:
            port = self.arch.service(svc).access.ports[0]
            pr = ProbeRun(self.lab, f"{self.vip_addr[sc_vip]}:{port}")
            try:
                if not pr.wait_ok(3, timeout=15):
                    raise LabError(f"{svc} through {sc_vip} does not answer after settling (holder {h})")
            finally:
                pr.stop()
        return h

    def reachability(self) -> dict[str, Any]:
        """One request through the VIP to every port of every service that has stand-in backends."""
        targets = {}
        for sname in self.plan.backend_services:
            a = self.arch.service(sname).access
            for port in a.ports:
                targets[f"{self.vip_addr[a.vip]}:{port}"] = f"{sname}:{port}"
        if not targets:
            return {}
        argv = [sys.executable, str(HERE / "probe.py"), "--once", "--timeout", "1.0"]
        for t in targets:
            argv += ["--target", t]
        out = self.lab.exec(self.lab.client_ns, argv, check=False, timeout=10 + 1.5 * len(targets)).stdout
        res = {}
        for line in out.splitlines():
            r = json.loads(line)
            res[targets[r["target"]]] = r["node"] if r["ok"] else f"failed: {r['err']}"
        return dict(sorted(res.items()))

    # -- predictions ----------------------------------------------------------------

    def group_of_vip(self, vip: str) -> VrrpGroup:
        return next(g for g in self.groups if vip in g.vips)

    def advert_int(self, g: VrrpGroup) -> float:
        return float(getattr(self.arch.service(g.service).strategy, "advert_int", 1))

    def master_down(self, g: VrrpGroup, node: str) -> float:
        a = self.advert_int(g)
        return 3 * a + (256 - g.priorities[node]) / 256 * a

    def skew(self, g: VrrpGroup, node: str) -> float:
        return (256 - g.priorities[node]) / 256 * self.advert_int(g)

    def instance(self, node: str, vip: str) -> cfgs.VrrpInstance | None:
        kc = self.plan.keepalived.get(node)
        addr = self.vip_addr[vip]
        return next((i for i in kc.instances.values() if addr in i.addresses), None) if kc else None

    # -- scenarios --------------------------------------------------------------------

    def run_scenario(self, sc: Scenario) -> dict[str, Any]:
        fn = getattr(self, "_" + sc.kind.replace("-", "_"))
        t = _now()
        res: dict[str, Any] = {"name": sc.name, "kind": sc.kind, "title": sc.title, "vip": sc.vip,
                               "service": sc.service, "notes": []}
        try:
            res.update(fn(sc, res["notes"]))
            res["agreed"] = all(c["agreed"] for c in res["checks"])
        except LabError as exc:
            res.update(error=str(exc), agreed=False, checks=res.get("checks", []))
        res["duration_s"] = round(_now() - t, 2)
        return res

    def _probe_target(self, sc: Scenario) -> tuple[str, str]:
        svc = sc.service if sc.kind in ("backend-death", "single-writer") else probe_service(self.dep, sc.vip)
        if svc is None:
            raise LabError(f"no load-balanced service behind {sc.vip} to poll")
        port = self.arch.service(svc).access.ports[0]
        return svc, f"{self.vip_addr[sc.vip]}:{port}"

    def _failover(self, sc: Scenario, notes: list[str], *, kill: bool) -> dict[str, Any]:
        g = self.group_of_vip(sc.vip)
        addr = self.vip_addr[sc.vip]
        old = self.holder(sc.vip)
        rest = [n for n in g.members if n != old]
        expected = rest[0]
        bound = self.master_down(g, expected) + MARGIN_S
        svc, target = self._probe_target(sc)
        # The new holder's HAProxy still sends some requests to the old
        # node's backend until its checks mark it down: the client's window
        # is the later of the VIP move and that detection.
        detect = self._detect_bound(expected, sc.vip, svc, old, unreachable=not kill)
        window = max(bound, detect or 0.0)
        pr = ProbeRun(self.lab, target)
        try:
            pr.wait_ok(3, timeout=5)
            time.sleep(self.baseline)
            t0 = _now()
            if kill:
                pids = self.lab.kill_all_in(self.lab.node_ns(old))
                self.say(f"  SIGKILL of {len(pids)} processes on {old} (holder)")
            else:
                self.lab.set_node_links(old, False)
                self.say(f"  links of {old} (holder) down")
            t_move = self.watch.wait_for(addr, lambda h: bool(h - {old}), after=t0, timeout=bound + 5)
            time.sleep(max(0.0, t0 + window + self.post - _now()))
            results = pr.stop()
        finally:
            pr.stop()
        after = self.watch.current(addr) or frozenset()
        new = sorted(after - {old})
        m: dict[str, Any] = {"old_holder": old, "new_holder": new[0] if len(new) == 1 else new,
                             "failover_s": round(t_move - t0, 3) if t_move else None,
                             "polled": f"{svc} {target}", **_summary(results, t0)}
        late = [r for r in _requests(results, t0 + window) if not r["ok"]]
        m["failed_after_window"] = len(late)
        checks = [
            _check("VIP moves within 3 x advert_int + skew(new holder) + margin (s)", round(bound, 3),
                   m["failover_s"], t_move is not None and t_move - t0 <= bound),
            _check("new holder (highest remaining priority)", expected, m["new_holder"], new == [expected]),
        ]
        if kill:
            stale = old in after
            m["old_holder_keeps_vip"] = stale
            checks.append(_check("old holder keeps the VIP configured (keepalived 2.2.7 after SIGKILL)", True, stale, stale))
            notes.append("SIGKILL leaves keepalived no chance to remove the VIP: two nodes hold it until the old "
                         "one is cleaned up; a client whose ARP entry is refreshed to the old node fails. "
                         "This is why a node crash is drilled as links going down.")
            m["failed_after_window_note"] = "not asserted: depends on which MAC the client's ARP entry holds"
        else:
            checks.append(_check("failed requests after the client window (VIP move and HAProxy marking the "
                                 "crashed node's backend down)", 0, len(late), not late))
        # restore
        if kill:
            self._drop_address(old, addr)
            self.start_backend(old)
            self.start_haproxy(old)
            self.start_keepalived(old)
        else:
            self.lab.set_node_links(old, True)
        time.sleep(0.5)
        self.settle(sc.vip)
        return {"prediction": {"failover_bound_s": round(bound, 3), "new_holder": expected,
                               "advert_int_s": self.advert_int(g), "priority_new_holder": g.priorities[expected],
                               "backend_marked_down_bound_s": round(detect, 3) if detect else None,
                               "client_window_s": round(window, 3), "margin_s": MARGIN_S,
                               "reason": ("the old holder's keepalived is killed and its VIP stays configured"
                                          if kill else "the crashed holder sends no more adverts")
                               + "; the highest-priority backup takes over after its master-down interval "
                               "(3 x advert_int + skew); clients also wait until HAProxy on the new holder has "
                               "marked the old node's backend down (fall x (inter + check connect timeout))"},
                "measured": m, "checks": checks}

    def _detect_bound(self, at: str, vip: str, svc: str, dead: str, *, unreachable: bool) -> float | None:
        """When ``at``'s HAProxy has marked ``dead``'s server of ``svc`` down, at the latest.

        ``fall`` failed checks, each started ``inter`` after the previous
        one ended; a check of an unreachable host fails only at its connect
        timeout (min(timeout connect, inter) with ``timeout check``), a
        refused one at once: fall x (inter + per-check timeout) + margin.
        """
        hc = self.plan.haproxy.get(at)
        port = self.arch.service(svc).access.ports[0]
        name = hc.frontends.get((self.vip_addr[vip], port)) if hc else None
        be = hc.backends.get(name) if name else None
        if be is None:
            return None
        srv = next((s for s in be.servers if self._owner(s.address) == dead), None)
        if srv is None:
            return None
        per = be.check_connect_timeout_ms(srv) if unreachable else 0
        return srv.fall * (srv.inter_ms + per) / 1000 + MARGIN_S

    def _drop_address(self, node: str, addr: str) -> None:
        ns = self.lab.node_ns(node)
        out = self.lab.exec(ns, ["ip", "-o", "addr", "show", "to", addr], check=False).stdout
        for line in out.splitlines():
            w = line.split()
            self.lab.exec(ns, ["ip", "addr", "del", w[3], "dev", w[1]], check=False)

    def _holder_crash(self, sc: Scenario, notes: list[str]) -> dict[str, Any]:
        return self._failover(sc, notes, kill=False)

    def _holder_kill(self, sc: Scenario, notes: list[str]) -> dict[str, Any]:
        return self._failover(sc, notes, kill=True)

    def _haproxy_death(self, sc: Scenario, notes: list[str]) -> dict[str, Any]:
        g = self.group_of_vip(sc.vip)
        addr = self.vip_addr[sc.vip]
        old = self.holder(sc.vip)
        inst = self.instance(old, sc.vip)
        kc = self.plan.keepalived[old]
        tracked = [(kc.scripts[s], w) for s, w in (inst.track_scripts.items() if inst else []) if s in kc.scripts]
        hap_scripts = [(s, w) for s, w in tracked if "haproxy" in s.script]
        rest = [n for n in g.members if n != old]
        expected = rest[0]
        if not hap_scripts:
            moves, bound, why = False, None, "no vrrp_script tracks haproxy: the VIP stays on a node without haproxy"
        else:
            s, w = hap_scripts[0]
            weight = s.weight if w is None else w
            nopreempt = any(self.instance(n, sc.vip) and self.instance(n, sc.vip).nopreempt for n in rest)
            if weight == 0:
                moves = True
                bound = s.interval * (s.fall + 1) + self.skew(g, expected) + MARGIN_S
                why = (f"script fails after fall={s.fall} x interval={s.interval:g} s (+1 interval of phase); "
                       "weight 0 puts the instance in FAULT, it announces priority 0 and the backup takes over "
                       "after its skew time")
            else:
                lowered = g.priorities[old] + weight
                moves = lowered < g.priorities[expected] and not nopreempt
                bound = s.interval * (s.fall + 1) + self.master_down(g, expected) + MARGIN_S if moves else None
                why = (f"weight {weight} lowers the holder to priority {lowered}"
                       + ("; the backups have nopreempt, so none takes over" if nopreempt else ""))
        svc, target = self._probe_target(sc)
        pr = ProbeRun(self.lab, target)
        try:
            pr.wait_ok(3, timeout=5)
            time.sleep(self.baseline)
            t0 = _now()
            self.lab.stop(self.daemons[(old, "haproxy")], signal.SIGKILL)
            self.say(f"  haproxy on {old} (holder) killed")
            wait = (bound or 8.0)
            t_move = self.watch.wait_for(addr, lambda h: bool(h) and old not in h, after=t0, timeout=wait + 3)
            time.sleep(max(0.0, t0 + wait + self.post - _now()))
            results = pr.stop()
        finally:
            pr.stop()
        after = self.watch.current(addr) or frozenset()
        m = {"old_holder": old, "new_holder": sorted(after)[0] if len(after) == 1 else sorted(after),
             "failover_s": round(t_move - t0, 3) if t_move else None, "polled": f"{svc} {target}",
             **_summary(results, t0)}
        checks = [_check("VIP moves away from the node without haproxy", moves, t_move is not None,
                         (t_move is not None) == moves)]
        if moves and bound is not None:
            late = [r for r in _requests(results, t0 + bound) if not r["ok"]]
            m["failed_after_window"] = len(late)
            checks += [
                _check("within track interval x (fall + 1) + skew + margin (s)", round(bound, 3), m["failover_s"],
                       t_move is not None and t_move - t0 <= bound),
                _check("new holder (highest remaining priority)", expected, m["new_holder"], sorted(after) == [expected]),
                _check("failed requests after the failover window", 0, len(late), not late),
            ]
        self.start_haproxy(old)
        self.settle(sc.vip)
        return {"prediction": {"vip_moves": moves, "failover_bound_s": round(bound, 3) if bound else None,
                               "new_holder": expected if moves else old, "reason": why},
                "measured": m, "checks": checks}

    def _servers(self, holder: str, sc: Scenario) -> tuple[str, cfgs.Backend, int]:
        a = self.arch.service(sc.service).access
        port = a.ports[0]
        hc = self.plan.haproxy[holder]
        name = hc.frontends.get((self.vip_addr[sc.vip], port))
        be = hc.backends.get(name) if name else None
        if be is None:
            raise LabError(f"{holder}'s haproxy.cfg has no proxy for {sc.service} on {self.vip_addr[sc.vip]}:{port}")
        return name, be, port

    def _owner(self, address: str) -> str | None:
        return next((n.name for n in self.arch.nodes for i in n.interfaces if str(i.address) == address), None)

    def _kill_backend(self, sc: Scenario, notes: list[str], *, writer: bool) -> dict[str, Any]:
        holder = self.holder(sc.vip)
        proxy, be, port = self._servers(holder, sc)
        if writer:
            victim = next((s for s in be.servers if not s.backup), None)
            backups = [s for s in be.servers if s.backup]
            if victim is None or not backups:
                raise LabError(f"{sc.service}: no active/backup servers in {proxy}")
            expected_node = self._owner(backups[0].address)
        else:
            mine = [s for s in be.servers if self._owner(s.address) == holder]
            victim = mine[0] if mine else be.servers[0]
            expected_node = None
        vnode = self._owner(victim.address)
        ports = sorted({victim.port, *( [victim.check_port] if victim.check_port else [])})
        detect_bound = victim.fall * victim.inter_ms / 1000 + MARGIN_S  # refused: each check fails at once
        sock = self.lab.node_dir(holder) / "haproxy.sock"
        target = f"{self.vip_addr[sc.vip]}:{port}"
        pr = ProbeRun(self.lab, target)
        try:
            pr.wait_ok(3, timeout=8)
            time.sleep(self.baseline)
            t0 = _now()
            self.backend_ctl(vnode, "down " + " ".join(map(str, ports)))
            self.say(f"  {sc.service} backend on {vnode} stopped (ports {', '.join(map(str, ports))})")
            t_down = None
            deadline = t0 + detect_bound + 3
            while _now() < deadline:
                st = haproxy_stat(sock, proxy, victim.name)
                if st and st.startswith("DOWN"):
                    t_down = _now()
                    break
                time.sleep(0.05)
            time.sleep(max(0.0, t0 + detect_bound + self.post - _now()))
            results = pr.stop()
        finally:
            pr.stop()
        late = _requests(results, t0 + detect_bound)
        late_failed = [r for r in late if not r["ok"]]
        served = sorted({r["node"] for r in late if r["ok"]})
        m = {"holder": holder, "proxy": proxy, "killed": f"{victim.name} ({vnode}) ports {ports}",
             "marked_down_s": round(t_down - t0, 3) if t_down else None, "polled": target,
             **_summary(results, t0), "failed_after_window": len(late_failed), "served_after_window_by": served}
        checks = [
            _check("HAProxy marks the server down within fall x inter + margin (s)", round(detect_bound, 3),
                   m["marked_down_s"], t_down is not None and t_down - t0 <= detect_bound),
            _check("failed requests after the detection window", 0, len(late_failed), not late_failed),
        ]
        if writer:
            checks.append(_check("traffic after the window goes to exactly one backup", [expected_node], served,
                                 served == [expected_node]))
        else:
            checks.append(_check("no request served by the dead backend after the window", False,
                                 vnode in served, vnode not in served))
        self.backend_ctl(vnode, "up " + " ".join(map(str, ports)))
        rise_wait = victim.inter_ms / 1000 * (victim.rise + 1) + MARGIN_S
        deadline = _now() + rise_wait + 3
        while _now() < deadline:
            st = haproxy_stat(sock, proxy, victim.name)
            if st and st.startswith("UP"):
                break
            time.sleep(0.1)
        if writer:
            notes.append("haproxy 'stick on dst' keeps the writer on the backup after the old active returns "
                         "(no flapping back): observed traffic was not re-measured after restore")
        pred: dict[str, Any] = {"marked_down_bound_s": round(detect_bound, 3), "failed_after_window": 0,
                                "check": f"inter {victim.inter_ms} ms, fall {victim.fall}"}
        if writer:
            pred["traffic_to"] = expected_node
        return {"prediction": pred, "measured": m, "checks": checks}

    def _backend_death(self, sc: Scenario, notes: list[str]) -> dict[str, Any]:
        return self._kill_backend(sc, notes, writer=False)

    def _single_writer(self, sc: Scenario, notes: list[str]) -> dict[str, Any]:
        return self._kill_backend(sc, notes, writer=True)

    def _partition(self, sc: Scenario, notes: list[str]) -> dict[str, Any]:
        g = self.group_of_vip(sc.vip)
        addr = self.vip_addr[sc.vip]
        holder = self.holder(sc.vip)
        sw_of = {n: next(sw for (_, _, sw, net) in self.plan.nodes[n].interfaces if net == g.network)
                 for n in g.priorities if n in self.plan.nodes}
        client_sw = next((sw for _, _, sw, net in self.plan.client_interfaces if net == g.network), None)
        cands = [sw for sw in sorted(set(sw_of.values())) if sw != client_sw]
        if not cands:
            raise LabError("every member shares the client's switch: nothing to partition")
        # Prefer a side without the holder whose members rank below it: the
        # client's side then keeps its holder after the heal.
        def rank(sw: str) -> tuple:
            members = [n for n, s in sw_of.items() if s == sw]
            return (holder in members, max(g.priorities[n] for n in members) > g.priorities[holder], sw)
        isolated = sorted(cands, key=rank)[0]
        cut = [l for l in self.plan.links if isolated in l]
        inside = sorted(n for n, s in sw_of.items() if s == isolated)
        outside = sorted(n for n in sw_of if n not in inside)
        best_inside = max(inside, key=lambda n: g.priorities[n])
        split_bound = self.master_down(g, best_inside) + MARGIN_S
        # What the failure analysis says of this very cut (its split-brain
        # finding lists the link sets that split the group).
        cut_ids = sorted(f"link:{g.network}:{a}~{b}" for a, b in cut)
        finding = next((f for f in self.dep.findings if f.kind == "split-brain" and g.service in f.services), None)
        listed = bool(finding) and any(sorted(sc_) == cut_ids for sc_ in (finding.details or {}).get("scenarios", []))
        if finding is not None:
            notes.append(f"analysis finding {finding.id}: {finding.title}; this cut ({', '.join(cut_ids)}) is "
                         + ("one of its scenarios" if listed else "not among its listed scenarios"))
        elif self.dep.findings:
            notes.append("the failure analysis reported no split brain for this group")
        else:
            notes.append("run without the failure analysis: the split-brain prediction comes from the strategy "
                         "(keepalived VRRP has no quorum)")
        masters_after = [n for n in (holder if holder in outside else max(outside, key=lambda n: g.priorities[n]), best_inside)]
        survivor = max(masters_after, key=lambda n: g.priorities[n])
        conv_bound = self.advert_int(g) * 2 + MARGIN_S
        svc, target = self._probe_target(sc)
        pr = ProbeRun(self.lab, target)
        try:
            pr.wait_ok(3, timeout=5)
            time.sleep(self.baseline)
            t0 = _now()
            for a, b in cut:
                self.lab.set_isl(a, b, False)
            self.say(f"  switch {isolated} ({', '.join(inside)}) cut off: links {', '.join(a + '-' + b for a, b in cut)}")
            t_split = self.watch.wait_for(addr, lambda h: len(h) >= 2, after=t0, timeout=split_bound + 5)
            time.sleep(1.0)
            during = self.watch.current(addr) or frozenset()
            max_holders = max((len(h) for _, h in self.watch.since(addr, t0)), default=0)
            t_heal = _now()
            for a, b in cut:
                self.lab.set_isl(a, b, True)
            self.say("  partition healed")
            t_conv = self.watch.wait_for(addr, lambda h: len(h) == 1, after=t_heal, timeout=conv_bound + 8)
            time.sleep(max(0.0, t_heal + conv_bound + self.post - _now()))
            results = pr.stop()
        finally:
            pr.stop()
        final = self.watch.current(addr) or frozenset()
        late = [r for r in _requests(results, t_heal + conv_bound) if not r["ok"]]
        m = {"isolated_switch": isolated, "isolated_members": inside, "cut_links": [f"{a}-{b}" for a, b in cut],
             "holder_before": holder, "split_brain": max_holders >= 2,
             "split_after_s": round(t_split - t0, 3) if t_split else None,
             "holders_during_partition": sorted(during), "convergence_s": round(t_conv - t_heal, 3) if t_conv else None,
             "holder_after_heal": sorted(final), "polled": f"{svc} {target}", **_summary(results, t0),
             "failed_after_heal_window": len(late)}
        checks = [
            _check("split brain: a holder on each side (VRRP has no quorum)", True, m["split_brain"], m["split_brain"]),
            _check("isolated side takes the VIP within 3 x advert_int + skew + margin (s)", round(split_bound, 3),
                   m["split_after_s"], t_split is not None and t_split - t0 <= split_bound),
            _check("one holder again within 2 x advert_int + margin after the heal (s)", round(conv_bound, 3),
                   m["convergence_s"], t_conv is not None and t_conv - t_heal <= conv_bound),
            _check("survivor (higher priority of the two masters)", [survivor], sorted(final), sorted(final) == [survivor]),
            _check("failed requests (client side) after the heal window", 0, len(late), not late),
        ]
        self.settle(sc.vip)
        return {"prediction": {"split_brain": True, "split_bound_s": round(split_bound, 3),
                               "convergence_bound_s": round(conv_bound, 3), "survivor": survivor,
                               "finding": finding.id if finding else None, "cut": cut_ids,
                               "reason": "keepalived VRRP has no quorum: each side without adverts elects a master"
                               + (f" (analysis finding {finding.id})" if finding else "")},
                "measured": m, "checks": checks}

    # -- whole drill ----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        t_start = _now()
        report: dict[str, Any] = {
            "model": self.arch.name, "quick": self.quick, "lab_prefix": self.lab.prefix,
            "analysis_findings": sorted(f.id for f in self.dep.findings if f.kind == "split-brain"),
            "scenarios": [],
        }
        self.setup()
        self.say("waiting for keepalived to elect a holder")
        t_up = _now()
        initial = {v: self.holder(v, timeout=30) for g in self.groups for v in g.vips}
        preferred = {v: g.master for g in self.groups for v in g.vips}
        report["startup"] = {"first_holder_s": round(_now() - t_up, 2), "initial_holders": initial,
                             "preferred_holders": preferred, "notes": []}
        for v, h in initial.items():
            if h != preferred[v]:
                report["startup"]["notes"].append(
                    f"{v}: the first holder after a cold start was {h}, not the preferred {preferred[v]}: every "
                    "member starts as BACKUP (nopreempt), and priorities a few points apart make the skew "
                    "times differ by milliseconds, less than the daemons' start-up spread")
        for v in initial:
            self.settle(v)
        report["startup"]["services"] = self.reachability()
        for sc in self.scenarios:
            self.say(f"scenario {sc.name}: {sc.title}")
            res = self.run_scenario(sc)
            report["scenarios"].append(res)
            verdict = "agreed" if res["agreed"] else "DISAGREED"
            self.say(f"  -> {verdict} ({res['duration_s']} s)" + (f": {res['error']}" if res.get("error") else ""))
        report["lab"] = self.describe()
        report["duration_s"] = round(_now() - t_start, 2)
        unreachable = [k for k, v in report["startup"]["services"].items() if v.startswith("failed")]
        report["summary"] = {"scenarios": len(report["scenarios"]),
                             "agreed": sum(1 for s in report["scenarios"] if s["agreed"]),
                             "disagreed": [s["name"] for s in report["scenarios"] if not s["agreed"]]
                             + [f"startup:{k}" for k in unreachable],
                             "services_reachable_at_start": len(report["startup"]["services"]) - len(unreachable),
                             "services_unreachable_at_start": unreachable}
        return report

    def describe(self) -> dict[str, Any]:
        p = self.plan
        return {
            "nodes": {n: {"interfaces": [f"{d} {a} on {sw}" for d, a, sw, _ in np_.interfaces],
                          "keepalived": bool(np_.keepalived), "haproxy": bool(np_.haproxy),
                          "sysctl": [f"{k}={v}" for k, v in np_.sysctls],
                          "backend_ports": sorted(np_.backend_ports)}
                      for n, np_ in p.nodes.items()},
            "switches": p.switches, "inter_switch_links": [f"{a}-{b}" for a, b in p.links],
            "split_horizon_links": [f"{a}-{b}" for a, b in sorted(p.split_horizon)],
            "client": "; ".join(f"{d} {a} on {sw}" for d, a, sw, _ in p.client_interfaces),
            "backend_services": p.backend_services, "services_without_backends": p.skipped_backend_services,
            "config_rewrites": sorted(self.rewrite_notes), "notes": p.notes,
            "daemons": {"keepalived": _version(["keepalived", "-v"]), "haproxy": _version(["haproxy", "-v"])},
        }


def _version(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=5)
        return (p.stdout or p.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def generated_files(arch: Architecture, *, analyse: bool = False,
                    lock: Path | None = None) -> tuple[Deployment, Mapping[str, bytes]]:
    """The Deployment and the generated configs the drill runs.

    With ``analyse`` the Deployment also carries the failure analysis'
    findings, which name the partitions that split a VRRP group; the
    configs are the same either way. ``lock`` is the placement lock file,
    read as ``hamodel build`` reads it, so the drill runs the very configs
    that build writes.
    """
    from hamodel.generators.configs import build_configs
    from hamodel.pipeline import resolve

    dep = resolve(arch, analyse=analyse, lock=lock)
    return dep, build_configs(dep)


def run_drill(arch: Architecture, *, dep: Deployment | None = None, files: Mapping[str, bytes] | None = None,
              quick: bool = False, scenarios: list[str] | None = None, progress: Progress | None = None,
              lab: Lab | None = None) -> dict[str, Any]:
    """Run the drills of ``arch`` on a fresh lab and tear it down, whatever happens.

    ``dep`` and ``files`` default to the pipeline's Deployment and the
    generated configs. SIGTERM and SIGHUP are turned into KeyboardInterrupt
    while the lab exists (SIGINT already is), so teardown runs on Ctrl-C
    and on ``kill``; an ``atexit`` hook covers an interpreter exit.
    """
    import atexit

    if dep is None or files is None:
        dep, files = generated_files(arch, analyse=True)
    drill = Drill(arch, dep, files, quick=quick, scenarios=scenarios, progress=progress, lab=lab)

    def interrupt(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt(f"signal {signum}")

    old = {}
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            old[sig] = signal.signal(sig, interrupt)
    atexit.register(drill.teardown)
    try:
        report = drill.run()
    finally:
        if in_main:  # a second Ctrl-C must not cut teardown short
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                old.setdefault(sig, signal.getsignal(sig))
                signal.signal(sig, signal.SIG_IGN)
        try:
            drill.teardown()
        finally:
            atexit.unregister(drill.teardown)
            if in_main:
                for sig, h in old.items():
                    signal.signal(sig, h)
    return report
