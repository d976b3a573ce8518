"""Run drills: bring the generated configs up in a lab, break things, measure, compare.

:func:`run_drill` is the entry point (the CLI is a thin wrapper). The
runner owns the life cycle and nothing else:

1. plan (:mod:`hamodel.drill.plan`) and build the lab
   (:mod:`hamodel.drill.lab`): namespaces, switches, the generated configs
   re-rooted (:mod:`hamodel.drill.reroot`), stand-in backends, HAProxy,
   keepalived, and whatever a selected scenario kind starts itself;
2. wait until the lab is settled (:meth:`Drill.unsettled` lists what is
   not): every VIP with one stable holder, every keepalived member MASTER
   or BACKUP as it should be, every stand-in server UP in every HAProxy,
   every polled service answering through its VIP;
3. per scenario: verify the settled state (a scenario that starts from an
   unsettled lab fails as ``unsettled`` instead of measuring garbage), let
   its kind (:mod:`hamodel.drill.registry`) predict, start the client's probe
   (:mod:`hamodel.drill.observe`), inject at ``t0``, measure, restore, and
   wait for the lab to settle again;
4. assemble the report (:func:`hamodel.drill.report.assemble`) and tear the
   lab down whatever happens, SIGTERM and SIGHUP included.

Timing predictions live with the kinds; their margin comes from the one
margin policy, :mod:`hamodel.drill.margins`.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hamodel.deployment import HAPROXY_PIDFILE, Deployment
from hamodel.drill import reroot
from hamodel.drill.files import generated_files
from hamodel.drill.keepalived.common import instance, owner, sock_of
from hamodel.drill.keepalived.monitoring import LabMonitor
from hamodel.drill.keepalived.monitoring import available as monitoring_available
from hamodel.drill.lab import Lab, LabError, Process, access_of
from hamodel.drill.observe import SAMPLE_S, HolderWatch, ProbeRun, haproxy_stats, keepalived_state, now, probe_once
from hamodel.drill.plan import LabPlan, describe_lab, plan_lab, switch_counts
from hamodel.drill.registry import CLUSTER_LABS, KINDS, ScenarioKind
from hamodel.drill.report import assemble
from hamodel.drill.results import ScenarioResult, Startup, as_json
from hamodel.drill.scenarios import Scenario, default_scenarios, probe_service, select
from hamodel.model import Architecture

__all__ = ["Drill", "generated_files", "plan_lab", "run_drill"]

HERE = Path(__file__).resolve().parent
#: A VIP counts as settled once one node has held it alone for this long.
STABLE_S = 1.0
#: How long the lab may take to settle after a restore (the scenario fails otherwise).
SETTLE_TIMEOUT_S = 20.0
#: How long to wait for the settled state before an injection (the scenario is 'unsettled' otherwise).
VERIFY_TIMEOUT_S = 10.0

Progress = Callable[[str], None]


class Unsettled(LabError):
    """The lab is not in its steady state: a scenario must not inject."""


def member_unsettled(
    n: str,
    holder: str,
    vip: str,
    inst: reroot.VrrpInstance,
    state: str | None,
    priorities: Mapping[str, int],
    *,
    fault_ok: bool = False,
) -> str | None:
    """Why VRRP member ``n`` keeps the lab from its steady state while ``holder`` holds ``vip``
    (None: it does not). The holder must be MASTER and the others BACKUP (or FAULT when they
    were so at the first settle). A preempting BACKUP above the holder is not steady either:
    it ignores the lower adverts and takes the VIP when its master-down timer runs out (a full
    multirack drill injected holder-kill@public-vip into exactly that takeover)."""
    want = {"MASTER"} if n == holder else {"BACKUP", "FAULT"} if fault_ok else {"BACKUP"}
    if state not in want:
        return (
            f"keepalived on {n}: {inst.name} is {state or 'starting'}, not {' or '.join(sorted(want))} "
            f"({holder} holds {vip})"
        )
    if n != holder and state == "BACKUP" and not inst.nopreempt and priorities.get(n, 0) > priorities.get(holder, 0):
        return (
            f"keepalived on {n}: {inst.name} is BACKUP with priority {priorities[n]} above {holder}'s "
            f"{priorities.get(holder)} and preempts"
        )
    return None


class Drill:
    """One lab, several scenarios. Use :func:`run_drill`; call :meth:`teardown` always.

    Implements :class:`hamodel.drill.scenario.DrillContext`, the part of
    the drill a scenario kind may use.
    """

    def __init__(
        self,
        arch: Architecture,
        dep: Deployment,
        files: Mapping[str, bytes],
        *,
        quick: bool = False,
        scenarios: list[str] | None = None,
        progress: Progress | None = None,
        lab: Lab | None = None,
    ):
        self.arch, self.dep, self.files, self.quick = arch, dep, files, quick
        self._say: Progress = progress or (lambda s: None)
        self.lab = lab or Lab()
        self.groups = [g for g in dep.vrrp_groups if g.manager == "keepalived"]
        self.vip_addr: dict[str, str] = {v.name: str(v.address) for v in arch.vips}
        # Named scenarios come from the full set: a quick drill can still run one of the
        # full-only kinds (a real Galera cluster) when asked for it.
        all_sc = default_scenarios(dep, quick=quick and not scenarios, switches_by_vip=switch_counts(arch, self.groups))
        self.scenarios = select(all_sc, scenarios)
        # The kinds in play, in registry order, with their scenarios (for the lab hooks).
        self.kinds: dict[str, type[ScenarioKind]] = {
            k: c for k, c in KINDS.items() if any(s.kind == k for s in self.scenarios)
        }
        real: set[str] = set()
        for k, c in self.kinds.items():
            real |= c.real_services(dep, self._of_kind(k))
        # A service that a kind runs for real has no stand-in backends: the stand-in
        # scenarios of that service (single-writer:galera) give way to the real ones.
        stand_in = [s for s in self.scenarios if s.service in real and not self.kinds[s.kind].real_services(dep, [s])]
        replaced_notes = []
        if stand_in:
            if scenarios:
                raise ValueError(
                    f"{', '.join(s.name for s in stand_in)} drill(s) stand-in backends of a service that "
                    f"{', '.join(sorted(real))} scenarios run for real: not both in one drill"
                )
            self.scenarios = [s for s in self.scenarios if s not in stand_in]
            replaced_notes.append(
                f"{', '.join(s.name for s in stand_in)} left out: {', '.join(sorted(real))} runs "
                "for real in this drill (its own scenarios measure it)"
            )
            self.kinds = {k: c for k, c in self.kinds.items() if any(s.kind == k for s in self.scenarios)}
        backends = None
        if quick:
            backends = sorted(
                {s.service for s in self.scenarios if s.service}
                | {p for g in self.groups for v in g.vips if (p := probe_service(dep, v, real))}
            )
        self.real_services = frozenset(real)
        self.plan: LabPlan = plan_lab(arch, dep, files, backend_services=backends, real_services=self.real_services)
        self.plan.notes += replaced_notes
        self.daemons: dict[tuple[str, str], Process] = {}
        self.shared: dict[str, Any] = {}
        self.rewrite_notes: set[str] = set()
        self._watch: HolderWatch | None = None
        self.baseline = 0.6 if quick else 1.0
        self.post = 1.5 if quick else 2.5
        # keepalived instances in FAULT once the lab first settled (a member
        # whose track script cannot pass): FAULT is their steady state.
        self.faulty_at_start: set[tuple[str, str]] = set()
        # The generated monitoring on a real Prometheus (hamodel.drill.keepalived.monitoring), when installed.
        self.monitor: LabMonitor | None = None
        self.monitoring: dict[str, Any] = {"skipped": monitoring_available(files)}
        self._alerts: dict[str, Any] | None = None

    @property
    def watch(self) -> HolderWatch:
        """The VIP holder watch (started with the lab)."""
        if self._watch is None:
            raise LabError("the drill's holder watch is not running: the lab is not set up")
        return self._watch

    def say(self, msg: str) -> None:
        self._say(msg)

    def _of_kind(self, kind: str) -> list[Scenario]:
        return [s for s in self.scenarios if s.kind == kind]

    # -- lab life cycle ---------------------------------------------------------

    def setup(self) -> None:
        lab, plan = self.lab, self.plan
        lab.create()
        self.say(
            f"lab {lab.prefix}: {len(plan.nodes)} nodes, {len(plan.switches)} switches, "
            f"{len(plan.links)} inter-switch links"
        )
        for sw in plan.switches:
            lab.add_switch(sw)
        for a, b in plan.links:
            lab.link_switches(a, b, split_horizon=(a, b) in plan.split_horizon)
        for n, np_ in plan.nodes.items():
            ns = lab.add_host(n)
            for dev, addr, sw, _net in np_.interfaces:
                lab.plug(n, dev, sw, addr, bond=np_.bonds.get(dev))
            for k, v in np_.sysctls:
                lab.sysctl(ns, k, v)
        lab.add_host("client", client=True)
        for dev, addr, sw, _net in plan.client_interfaces:
            lab.plug("client", dev, sw, addr, ns=lab.client_ns, bond=plan.client_bonds.get(dev))
        if self.monitoring["skipped"] is None:
            self.monitor = LabMonitor(self)
            self.monitor.network()
        for n in plan.nodes:
            self._write_node_files(n)
        for n in plan.nodes:
            self.start_backend(n)
        for k, c in self.kinds.items():
            c.setup_lab(self, self._of_kind(k))
        for n in plan.nodes:
            self.start_haproxy(n)
        for n in plan.nodes:
            self.start_keepalived(n)
        if self.monitor is not None:
            self.monitor.start()
        self._watch = HolderWatch(lab, {self.vip_addr[v]: sorted(g.priorities) for g in self.groups for v in g.vips})
        self._watch.start()
        time.sleep(0.5)
        for (n, kind), p in self.daemons.items():
            if not p.alive():
                raise LabError(f"{kind} on {n} exited at start: {self._tail(p.log)}")

    def _write_node_files(self, n: str) -> None:
        np_ = self.plan.nodes[n]
        d = self.lab.node_dir(n)
        if np_.haproxy:
            text, notes = reroot.lab_haproxy(np_.haproxy, d)
            self.lab.write_file(d / "haproxy.cfg", text)  # 0600: may hold stats auth
            self.rewrite_notes.update(notes)
        if np_.keepalived:
            notify = self.monitor.notify(n) if self.monitor is not None else None
            text, scripts, notes = reroot.lab_keepalived(np_.keepalived, d, notify)
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
        deadline = now() + 5
        while now() < deadline and not (d / "backend.sock").exists():
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
        # As Debian's haproxy.service runs it: master-worker in the foreground (-Ws) with
        # -p /run/haproxy.pid (in this node's private /run), the file the shipped track
        # script reads; the generated haproxy.cfg has no pidfile of its own.
        p = self.lab.start(
            f"haproxy@{n}",
            self.lab.node_ns(n),
            ["haproxy", "-Ws", "-f", str(d / "haproxy.cfg"), "-p", HAPROXY_PIDFILE],
            log=d / "haproxy.log",
            env=env,
            private_run=self.run_dir(n),
        )
        self.daemons[(n, "haproxy")] = p

    def start_keepalived(self, n: str) -> None:
        if not self.plan.nodes[n].keepalived:
            return
        d = self.lab.node_dir(n)
        argv = [
            "keepalived",
            "-n",
            "-l",
            "-D",
            "-G",
            "-P",
            "-f",
            str(d / "keepalived.conf"),
            "-p",
            str(d / "keepalived.pid"),
            "-r",
            str(d / "vrrp.pid"),
        ]
        self.daemons[(n, "keepalived")] = self.lab.start(
            f"keepalived@{n}", self.lab.node_ns(n), argv, log=d / "keepalived.log", private_run=self.run_dir(n)
        )

    def alert_window(self, k: ScenarioKind, t0: float) -> None:
        """For a kind that ends its fault inside ``measure`` (a partition heals there): keep the fault
        until its predicted alerts fired, before it ends it. No-op without the lab's monitoring."""
        if self.monitor is not None:
            self._alerts = self.monitor.during(k, t0)

    def run_dir(self, n: str) -> Path:
        """The folder node ``n``'s haproxy and keepalived see as ``/run``."""
        return self.lab.node_dir(n) / "run"

    def teardown(self) -> None:
        for c in self.kinds.values():
            try:
                c.teardown_lab(self)
            except Exception:
                pass
        if self._watch is not None:
            self._watch.stop()
        self.lab.teardown()

    # -- the settled state ----------------------------------------------------------

    def holder(self, vip: str, timeout: float = 20.0, stable: float = STABLE_S) -> str:
        """The single holder of ``vip`` once it has been the only one for ``stable`` s."""
        addr = self.vip_addr[vip]
        deadline = now() + timeout
        while now() < deadline:
            h = self.watch.stable_holder(addr, stable)
            if h is not None:
                return h
            time.sleep(SAMPLE_S)
        raise LabError(
            f"no single holder of {vip} within {timeout:.0f} s (holders: "
            f"{sorted(self.watch.current(addr) or [])}); keepalived log: "
            f"{self._tail(next(iter(self.daemons.values())).log)}"
        )

    def _servers_with_backends(self, node: str) -> list[tuple[str, str]]:
        """``(proxy, server)`` of ``node``'s HAProxy that have a stand-in backend in the lab."""
        hc = self.plan.haproxy[node]
        out = []
        for sname in self.plan.backend_services:
            a = access_of(self.arch, sname)
            for port in a.ports:
                be = hc.backend_for(self.vip_addr[a.vip], port)
                if be is None:
                    continue
                for srv in be.servers:
                    n = owner(self, srv.address)
                    if n in self.plan.nodes and srv.port in self.plan.nodes[n].backend_ports:
                        out.append((be.name, srv.name))
        return sorted(set(out))

    def _probe_targets(self) -> dict[str, str]:
        """``ADDR:PORT -> description`` of each VIP's polled service (a stand-in: a service a
        kind runs for real speaks its own protocol; the kind's settled hook covers it)."""
        out = {}
        for g in self.groups:
            for v in g.vips:
                svc = probe_service(self.dep, v, self.real_services)
                if svc:
                    out[f"{self.vip_addr[v]}:{access_of(self.arch, svc).ports[0]}"] = f"{svc} through {v}"
        return out

    def unsettled(self, since: float | None = None) -> list[str]:
        """What keeps the lab from its steady state (empty: settled).

        Every daemon running; every VIP held by one node alone for
        :data:`STABLE_S` (after ``since``, when given); that node's
        keepalived MASTER and the other members' BACKUP (or FAULT when it
        was so at the first settle); every server with a stand-in backend
        UP in every HAProxy; each kind's own conditions; and, last (a
        subprocess), each VIP's polled service answering.
        """
        problems = [f"{what} on {n} is not running" for (n, what), p in self.daemons.items() if not p.alive()]
        for g in self.groups:
            for v in g.vips:
                addr = self.vip_addr[v]
                h = self.watch.stable_holder(addr, STABLE_S, since=since)
                if h is None:
                    problems.append(
                        f"{v}: not held by one node alone for {STABLE_S:g} s "
                        f"(holders now: {', '.join(sorted(self.watch.current(addr) or [])) or 'none'})"
                    )
                    continue
                for n in sorted(g.priorities):
                    p, inst = self.daemons.get((n, "keepalived")), instance(self, n, v)
                    if p is None or inst is None:
                        continue
                    problem = member_unsettled(
                        n,
                        h,
                        v,
                        inst,
                        keepalived_state(p.log, inst.name),
                        g.priorities,
                        fault_ok=(n, inst.name) in self.faulty_at_start,
                    )
                    if problem:
                        problems.append(problem)
        for n in sorted(self.plan.haproxy):
            if (n, "haproxy") not in self.daemons:
                continue
            stats = haproxy_stats(sock_of(self, n))
            if stats is None:
                problems.append(f"haproxy on {n} does not answer on its stats socket")
                continue
            for proxy, server in self._servers_with_backends(n):
                st = stats.get((proxy, server))
                if st not in ("UP", "no check"):
                    problems.append(f"haproxy on {n}: server {proxy}/{server} is {st or 'missing'}")
        for c in self.kinds.values():
            problems += c.settled(self)
        if not problems:
            targets = self._probe_targets()
            answers = probe_once(self.lab, list(targets))
            for t, what in targets.items():
                r = answers.get(t)
                if not r or not r["ok"]:
                    problems.append(f"{what} ({t}) does not answer: {r['err'] if r else 'no reply'}")
        return problems

    def wait_settled(self, timeout: float, *, since: float | None = None) -> list[str]:
        """Wait up to ``timeout`` s for :meth:`unsettled` to be empty; what is still unsettled then."""
        deadline = now() + timeout
        while True:
            problems = self.unsettled(since)
            if not problems or now() > deadline:
                return problems
            time.sleep(0.2)

    def reachability(self) -> dict[str, Any]:
        """One request through the VIP to every port of every service that has stand-in backends."""
        targets = {}
        for sname in self.plan.backend_services:
            a = access_of(self.arch, sname)
            for port in a.ports:
                targets[f"{self.vip_addr[a.vip]}:{port}"] = f"{sname}:{port}"
        answers = probe_once(self.lab, list(targets))
        res = {targets[t]: r["node"] if r["ok"] else f"failed: {r['err']}" for t, r in answers.items()}
        return dict(sorted(res.items()))

    # -- scenarios --------------------------------------------------------------------

    def run_scenario(self, sc: Scenario) -> ScenarioResult:
        """One scenario from a verified settled state to a settled state again."""
        t = now()
        res = ScenarioResult(sc.name, sc.kind, sc.title, sc.vip, sc.service)
        problems = self.wait_settled(VERIFY_TIMEOUT_S)
        if problems:
            res.error = "unsettled before the injection: " + "; ".join(problems)
            res.duration_s = round(now() - t, 2)
            return res
        k = KINDS[sc.kind](self, sc, res.notes)
        t_restore = None
        alerts: dict[str, Any] | None = None
        self._alerts = None
        try:
            pred = k.predict()
            _, target = k.polled()
            pr = ProbeRun(self.lab, target)
            try:
                if not pr.wait_ok(3, timeout=8):
                    raise Unsettled(f"unsettled before the injection: {target} does not answer")
                time.sleep(self.baseline)
                t0 = now()
                try:
                    k.inject()
                    m = k.measure(t0, pr)
                    # the fault stays until the predicted alerts fired (or their bound passed), unless
                    # the kind held it inside its measurement (alert_window)
                    alerts = self._alerts or (self.monitor.during(k, t0) if self.monitor is not None else None)
                finally:
                    t_restore = now()
                    k.restore()
            finally:
                pr.stop()
            res.prediction, res.measured, res.checks = pred, m, k.checks(pred, m)
            res.agreed = all(c.agreed for c in res.checks)
        except LabError as exc:
            res.error, res.agreed, res.checks = str(exc), False, []
        # A kind that runs a real cluster may need longer (a member rejoining by state transfer).
        settle_s = max([SETTLE_TIMEOUT_S] + [getattr(c, "settle_timeout_s", 0.0) for c in self.kinds.values()])
        problems = self.wait_settled(settle_s, since=t_restore)
        if problems and res.error is None:
            res.error, res.agreed = "did not settle after the restore: " + "; ".join(problems), False
        if self.monitor is not None and res.error is None and alerts is not None:
            alerts.update(self.monitor.after(alerts))
            res.measured = {**as_json(res.measured), "alerts": alerts}
            res.checks = [*res.checks, *LabMonitor.checks(alerts)]
            res.agreed = all(c.agreed for c in res.checks)
        res.duration_s = round(now() - t, 2)
        return res

    # -- whole drill ----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        t_start = now()
        self.setup()
        self.say("waiting for keepalived to elect a holder")
        t_up = now()
        initial = {v: self.holder(v, timeout=30) for g in self.groups for v in g.vips}
        preferred = {v: g.master for g in self.groups for v in g.vips}
        startup = Startup(first_holder_s=round(now() - t_up, 2), initial_holders=initial, preferred_holders=preferred)
        for v, h in initial.items():
            if h != preferred[v]:
                startup.notes.append(
                    f"{v}: the first holder after a cold start was {h}, not the preferred {preferred[v]}: every "
                    "member starts as BACKUP (nopreempt), and priorities a few points apart make the skew "
                    "times differ by milliseconds, less than the daemons' start-up spread"
                )
        self.faulty_at_start = {
            (n, i.name)
            for g in self.groups
            for v in g.vips
            for n in g.priorities
            if (p := self.daemons.get((n, "keepalived")))
            and (i := instance(self, n, v))
            and n != initial[v]
            and keepalived_state(p.log, i.name) == "FAULT"
        }
        problems = self.wait_settled(30)
        if problems:
            raise LabError("the lab did not settle after start: " + "; ".join(problems))
        startup.services = self.reachability()
        if self.monitor is not None:
            up_s = self.monitor.wait_up()
            window = self.monitor.longest_bound()
            self.say(f"monitoring: every target up after {up_s} s; healthy window {window:.0f} s")
            self.monitoring = {"targets_up_s": up_s, "healthy": self.monitor.healthy(window)}
            if self.monitoring["healthy"]["fired"]:
                startup.notes.append(f"alerts in the healthy lab: {', '.join(self.monitoring['healthy']['fired'])}")
        results = []
        for sc in self.scenarios:
            self.say(f"scenario {sc.name}: {sc.title}")
            res = self.run_scenario(sc)
            results.append(res)
            verdict = "agreed" if res.agreed else "DISAGREED"
            self.say(f"  -> {verdict} ({res.duration_s} s)" + (f": {res.error}" if res.error else ""))
        return assemble(
            model=self.arch.name,
            quick=self.quick,
            lab_prefix=self.lab.prefix,
            analysis_findings=sorted(f.id for f in self.dep.findings if f.kind == "split-brain"),
            startup=startup,
            scenarios=results,
            lab={
                **describe_lab(self.plan, self.rewrite_notes),
                "monitoring": {**self.monitoring, "rewrites": self.monitor.rewrites if self.monitor else []},
            },
            duration_s=round(now() - t_start, 2),
        )


def run_drill(
    arch: Architecture,
    *,
    dep: Deployment | None = None,
    files: Mapping[str, bytes] | None = None,
    quick: bool = False,
    scenarios: list[str] | None = None,
    progress: Progress | None = None,
    lab: Lab | None = None,
    model_file: str | None = None,
) -> dict[str, Any]:
    """Run the drills of ``arch`` on a fresh lab and tear it down, whatever happens.

    ``dep`` and ``files`` default to the pipeline's Deployment and the
    generated configs. SIGTERM and SIGHUP are turned into KeyboardInterrupt
    while the lab exists (SIGINT already is), so teardown runs on Ctrl-C
    and on ``kill``; an ``atexit`` hook covers an interpreter exit.
    A deployment whose VIPs a cluster manager holds (Pacemaker) runs on
    that cluster's own lab (:data:`hamodel.drill.registry.CLUSTER_LABS`).
    """
    import atexit

    if dep is None or files is None:
        dep, files = generated_files(arch, analyse=True)
    for cluster_lab in CLUSTER_LABS.values():
        if cluster_lab.applies(dep):
            return cluster_lab.run(
                arch, dep, files, quick=quick, scenarios=scenarios, progress=progress, model_file=model_file
            )
    drill = Drill(arch, dep, files, quick=quick, scenarios=scenarios, progress=progress, lab=lab)

    from hamodel.interrupts import SafeInterrupt

    guard = SafeInterrupt((signal.SIGTERM, signal.SIGHUP))
    old: dict = {}
    in_main = guard.install()
    atexit.register(drill.teardown)
    try:
        report = drill.run()
    finally:
        guard.uninstall()
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
