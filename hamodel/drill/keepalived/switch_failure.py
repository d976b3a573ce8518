"""``switch-failure``: one switch fails (every port down), then comes back.

The prediction is the failure analysis' own, for the single failure
``switch:<name>`` (the analysis' single failures and split-brain findings,
read from the Deployment's results): which services stop or
run degraded, and whether a VRRP group splits. From the lab plan it derives
what the client must see: a node bonded to the failed switch and another one
keeps its networks (its bond fails over within ``miimon`` + margin), so a
VIP held by such a node stays where it is, held exactly once; a holder
attached only to the failed switch loses the network and the best backup
that keeps it takes over after its master-down interval; a server whose node
no longer reaches the holder through the surviving switches is marked DOWN
by the holder's HAProxy (within ``fall x (inter + check timeout)``), every
other stand-in server stays UP. The client polls every keepalived VIP meanwhile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hamodel.deployment import Deployment, VrrpGroup
from hamodel.drill.keepalived.common import MARGIN_S, detect_bound, master_down, owner, sock_of
from hamodel.drill.keepalived.holder_crash import contenders
from hamodel.drill.lab import BOND_MIIMON_MS, LabError, access_of
from hamodel.drill.observe import ProbeRun, haproxy_stats, now
from hamodel.drill.plan import switch_of
from hamodel.drill.results import Check, ProbeSummary, requests_in
from hamodel.drill.scenario import Scenario, ScenarioKind, probe_service


def switch_of_scenario(sc: Scenario) -> str:
    """The switch a ``switch-failure:<switch>[@vip]`` scenario fails."""
    return sc.name.split(":", 1)[1].split("@", 1)[0]


def _node_switches(dep: Deployment, node: str, network: str) -> list[str]:
    i = dep.architecture.node(node).interface_on(network)
    if i is None:
        return []
    return list(i.switches) or [switch_of(dep.architecture, network, None)]


@dataclass
class VipPrediction:
    vip: str
    holder_before: str
    moves: bool
    new_holder: str | list[str]
    move_bound_s: float | None
    split_brain: bool


@dataclass
class SwitchFailurePrediction:
    switch: str
    analysis_down: list[str]
    analysis_degraded: list[str]
    analysis_split: list[str]
    vips: list[VipPrediction]
    servers_down: list[str]
    servers_up: list[str]
    bonds_failing_over: list[str]
    client_window_s: float
    reason: str


@dataclass
class VipMeasurement:
    vip: str
    polled: str
    max_holders: int
    holders_after: list[str]
    moved_after_s: float | None
    summary: ProbeSummary
    failed_after_window: int


@dataclass
class SwitchFailureMeasurement:
    switch: str
    vips: list[VipMeasurement]
    server_states: dict[str, str]
    bonds_active_after: dict[str, str | None]
    services_down_measured: list[str]
    services_degraded_measured: list[str]
    notes: list[str] = field(default_factory=list)


class SwitchFailure(ScenarioKind):
    kind = "switch-failure"
    title = "A switch fails (every port down), then comes back"

    @classmethod
    def offer(cls, dep: Deployment, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        """One scenario per switch, on the first keepalived VIP whose network the switch carries.

        Offered for a switch that a bonded interface uses (the analysis
        predicts that nothing stops) and for a switch that is a single point
        of failure of some service (a finding's one-component cut set), unless
        the client, plugged in next to the VIP's preferred holder, hangs on it
        alone (it could not observe anything).
        """
        arch = dep.architecture
        groups = [g for g in dep.vrrp_groups if g.manager == "keepalived"]
        g = next((x for x in groups if vip in x.vips), None)
        if g is None:
            return []
        bonded = {s for n in arch.nodes for i in n.interfaces if len(i.switches) > 1 for s in i.switches}
        spof = {
            c[0].split(":", 1)[1]
            for f in dep.findings
            if f.kind == "single-point-of-failure"
            for c in (f.details or {}).get("cut_sets", [])
            if len(c) == 1 and str(c[0]).startswith("switch:")
        }
        client = _node_switches(dep, g.master, g.network)
        out = []
        for sw in arch.network(g.network).switches:
            first = next(x for x in groups if sw in arch.network(x.network).switches)
            if first is not g or vip != g.vips[0]:
                continue  # offered once, on the first VIP whose network it carries
            if client == [sw]:
                continue
            if sw in bonded or sw in spof:
                out.append(Scenario(f"{cls.kind}:{sw}", cls.kind, vip))
        return out

    # -- prediction -------------------------------------------------------------------

    def _reaches(self, a: list[str], b: list[str]) -> bool:
        """Whether a node on switches ``a`` reaches one on switches ``b`` with :attr:`sw` down."""
        alive = [s for s in self.ctx.plan.switches if s != self.sw]
        comp = {s: s for s in alive}

        def find(x: str) -> str:
            while comp[x] != x:
                x = comp[x]
            return x

        for x, y in self.ctx.plan.links:
            if x in comp and y in comp:
                comp[find(x)] = find(y)
        return bool({find(s) for s in a if s in comp} & {find(s) for s in b if s in comp})

    def predict(self) -> SwitchFailurePrediction:
        ctx = self.ctx
        self.sw = sw = switch_of_scenario(self.sc)
        if sw not in ctx.plan.switches:
            raise LabError(f"switch {sw} is not in the lab")
        dep, arch = ctx.dep, ctx.arch
        # The analysis' answers, computed before the Deployment (the drill derives none itself):
        # the single failure of the switch, and the split-brain findings whose cut sets it is.
        sf = next((s for s in dep.answers().single_failures if s.component == f"switch:{sw}"), None)
        if sf is None:
            raise LabError(f"the failure analysis has no single-failure scenario for switch:{sw}")
        split_services = sorted(
            {
                f.services[0]
                for f in dep.findings
                if f.kind == "split-brain" and any(tuple(c) == (f"switch:{sw}",) for c in f.details.get("cut_sets", ()))
            }
        )
        self.analysis_down = set(sf.down) | set(sf.partial)
        self.analysis_degraded = set(sf.degraded)

        self.vip_preds: list[VipPrediction] = []
        self.bounds: dict[str, float] = {}
        self.candidates: dict[str, list[str]] = {}
        self.holders_before: dict[str, str] = {}
        window = 0.0
        for g in ctx.groups:
            for v in g.vips:
                h = ctx.holder(v)
                self.holders_before[v] = h
                keeps = [n for n in g.members if self._keeps(n, g)]
                split = g.service in split_services
                if h in keeps:
                    self.vip_preds.append(VipPrediction(v, h, False, h, None, split))
                    self.candidates[v] = [h]
                    continue
                rest = [n for n in g.members if n in keeps]
                cands = contenders(ctx, g, rest, lambda n, g=g: master_down(ctx, g, n)) if rest else []
                bound = max((master_down(ctx, g, n) for n in cands), default=0.0) + MARGIN_S
                self.bounds[v], self.candidates[v] = bound, cands
                window = max(window, bound)
                self.vip_preds.append(
                    VipPrediction(v, h, True, cands[0] if len(cands) == 1 else cands, round(bound, 3), split)
                )
        # The bonds that lose their active member fail over within miimon (+ margin).
        self.bonds = [(n, dev) for n, np_ in ctx.plan.nodes.items() for dev, sws in np_.bonds.items() if sw in sws]
        self.bonds += [("client", dev) for dev, sws in ctx.plan.client_bonds.items() if sw in sws]
        if self.bonds:
            window = max(window, BOND_MIIMON_MS / 1000 + MARGIN_S)

        # Servers: which ones the holder after the failure can no longer reach.
        # "holder proxy/server" -> (holder, proxy, server, node, service)
        self.servers: dict[str, tuple[str, str, str, str, str]] = {}
        self.expect_down: set[str] = set()
        for p in self.vip_preds:
            new = p.new_holder if isinstance(p.new_holder, str) else (p.new_holder[0] if p.new_holder else None)
            if new is None or new not in ctx.plan.haproxy:
                continue
            for svc in ctx.plan.backend_services:
                a = access_of(arch, svc)
                if a.vip != p.vip:
                    continue
                for port in a.ports:
                    be = ctx.plan.haproxy[new].backend_for(ctx.vip_addr[p.vip], port)
                    if be is None:
                        continue
                    for srv in be.servers:
                        n = owner(ctx, srv.address)
                        if n is None or n not in ctx.plan.nodes or srv.port not in ctx.plan.nodes[n].backend_ports:
                            continue  # no stand-in: nothing to observe
                        key = f"{new} {be.name}/{srv.name}"
                        self.servers[key] = (new, be.name, srv.name, n, svc)
                        net = next(i.network for i in arch.node(n).interfaces if str(i.address) == srv.address)
                        if not self._reaches(_node_switches(dep, new, net), _node_switches(dep, n, net)):
                            self.expect_down.add(key)
                            d = detect_bound(ctx, new, p.vip, svc, n, unreachable=True)
                            if d is not None:
                                window = max(window, d)
        self.window = window + MARGIN_S
        lost = sorted({self.servers[k][3] for k in self.expect_down})
        return SwitchFailurePrediction(
            switch=sw,
            analysis_down=sorted(self.analysis_down),
            analysis_degraded=sorted(self.analysis_degraded),
            analysis_split=split_services,
            vips=self.vip_preds,
            servers_down=sorted(self.expect_down),
            servers_up=sorted(set(self.servers) - self.expect_down),
            bonds_failing_over=[f"{n}:{d}" for n, d in self.bonds],
            client_window_s=round(self.window, 3),
            reason=f"failure analysis, single failure switch:{sw}: "
            + (f"down {', '.join(sorted(self.analysis_down))}" if self.analysis_down else "no service down")
            + (f"; degraded {', '.join(sorted(self.analysis_degraded))}" if self.analysis_degraded else "")
            + (f"; split brain of {', '.join(split_services)}" if split_services else "; no VRRP group splits")
            + ("; bonded nodes keep their networks through the other switch" if self.bonds else "")
            + (f"; unreachable afterwards: {', '.join(lost)}" if lost else ""),
        )

    def _keeps(self, node: str, g: VrrpGroup) -> bool:
        """Whether ``node`` keeps ``g``'s network with the switch down (some other switch of it)."""
        return (
            any(s != self.sw for s in self.ctx.plan.switches_of(node, g.network))
            if node in self.ctx.plan.nodes
            else False
        )

    # -- injection and measurement -------------------------------------------------------

    def inject(self) -> None:
        ctx = self.ctx
        # The runner polls the scenario's VIP; the other keepalived VIPs are polled here.
        self.extra: dict[str, ProbeRun] = {}
        self.targets = {self.sc.vip: self.polled()[1]}
        for g in ctx.groups:
            for v in g.vips:
                svc = probe_service(ctx.dep, v, getattr(ctx, "real_services", ()))
                a = ctx.arch.service(svc).access if svc else None
                if v != self.sc.vip and a is not None and svc not in ctx.plan.skipped_backend_services:
                    self.targets[v] = f"{ctx.vip_addr[v]}:{a.ports[0]}"
                    self.extra[v] = ProbeRun(ctx.lab, self.targets[v])
        for p in self.extra.values():
            p.wait_ok(3, timeout=8)
        self.t_fail = now()
        self.failed = True
        ctx.lab.set_switch(self.sw, False)
        ctx.say(f"  switch {self.sw} down (every port)")

    def measure(self, t0: float, probe: ProbeRun) -> SwitchFailureMeasurement:
        ctx = self.ctx
        t0 = max(t0, getattr(self, "t_fail", t0))
        moved: dict[str, float | None] = {}
        for p in self.vip_preds:
            addr = ctx.vip_addr[p.vip]
            if p.moves:
                t = ctx.watch.wait_for(
                    addr, lambda h, old=p.holder_before: bool(h - {old}), after=t0, timeout=self.bounds[p.vip] + 5
                )
                moved[p.vip] = t - t0 if t is not None else None
        time.sleep(max(0.0, t0 + self.window + ctx.post - now()))
        runs = {self.sc.vip: probe, **self.extra}
        results = {v: r.stop() for v, r in runs.items()}
        self.after = {p.vip: ctx.watch.current(ctx.vip_addr[p.vip]) or frozenset() for p in self.vip_preds}
        vms = []
        for p in self.vip_preds:
            addr = ctx.vip_addr[p.vip]
            samples = ctx.watch.since(addr, t0)
            if not p.moves and p.vip not in moved:
                t = next((s for s, h in samples if h != frozenset({p.holder_before})), None)
                moved[p.vip] = t - t0 if t is not None else None
            res = results.get(p.vip)
            mv = moved.get(p.vip)
            vms.append(
                VipMeasurement(
                    vip=p.vip,
                    polled=self.targets.get(p.vip, "not polled"),
                    max_holders=max((len(h) for _, h in samples), default=0),
                    holders_after=sorted(self.after[p.vip]),
                    moved_after_s=round(mv, 3) if mv is not None else None,
                    summary=ProbeSummary.of(res or [], t0),
                    failed_after_window=len([r for r in requests_in(res or [], t0 + self.window) if not r["ok"]]),
                )
            )
        self.moved = moved
        states: dict[str, str] = {}
        stats_of: dict[str, dict | None] = {}
        for key, (h, proxy, server, _n, _s) in self.servers.items():
            if h not in stats_of:
                stats_of[h] = haproxy_stats(sock_of(ctx, h))
            st = (stats_of[h] or {}).get((proxy, server))
            states[key] = (st or "missing").split(" ")[0]
        bonds: dict[str, str | None] = {}
        self.bond_ok: dict[str, bool] = {}
        for n, d in self.bonds:
            active = ctx.lab.bond_active(ctx.lab.client_ns if n == "client" else ctx.lab.node_ns(n), d)
            on = next((p.switch for p in ctx.lab.ports if p.node == n and p.device == active), None)
            bonds[f"{n}:{d}"] = f"{active} on {on}" if active else None
            self.bond_ok[f"{n}:{d}"] = on is not None and on != self.sw
        # Per load-balanced service: down when every server is DOWN, degraded when some are.
        by_svc: dict[str, list[str]] = {}
        for key, (_h, _p, _srv, _n, svc) in self.servers.items():
            by_svc.setdefault(svc, []).append(states[key])
        down = sorted(s for s, sts in by_svc.items() if sts and all(x != "UP" for x in sts))
        degraded = sorted(s for s, sts in by_svc.items() if any(x != "UP" for x in sts) and s not in down)
        return SwitchFailureMeasurement(self.sw, vms, states, bonds, down, degraded)

    def checks(self, pred: SwitchFailurePrediction, measured: SwitchFailureMeasurement) -> list[Check]:
        m = measured
        out = []
        for p, vm in zip(self.vip_preds, m.vips):
            if p.split_brain:
                out.append(Check(f"{p.vip}: split brain (analysis)", True, vm.max_holders >= 2, vm.max_holders >= 2))
                continue
            out.append(
                Check(
                    f"{p.vip}: held exactly once throughout (most holders at once)",
                    1,
                    vm.max_holders,
                    vm.max_holders == 1,
                )
            )
            if p.moves:
                t = self.moved.get(p.vip)
                out.append(
                    Check(
                        f"{p.vip}: moves within 3 x advert_int + skew + margin (s)",
                        p.move_bound_s,
                        vm.moved_after_s,
                        t is not None and t <= self.bounds[p.vip],
                    )
                )
                out.append(
                    Check(
                        f"{p.vip}: new holder",
                        p.new_holder,
                        vm.holders_after,
                        len(vm.holders_after) == 1 and vm.holders_after[0] in self.candidates[p.vip],
                    )
                )
            else:
                out.append(
                    Check(
                        f"{p.vip}: stays on its holder (no move)",
                        [p.holder_before],
                        vm.holders_after,
                        vm.holders_after == [p.holder_before] and vm.moved_after_s is None,
                    )
                )
            if vm.polled != "not polled":
                out.append(
                    Check(
                        f"{p.vip}: failed requests after the client window ({vm.polled})",
                        0,
                        vm.failed_after_window,
                        vm.failed_after_window == 0,
                    )
                )
        for k, ok in self.bond_ok.items():
            out.append(
                Check(
                    f"bond {k}: active member off {self.sw}", f"a member not on {self.sw}", m.bonds_active_after[k], ok
                )
            )
        want = {k: "DOWN" if k in self.expect_down else "UP" for k in self.servers}
        out.append(
            Check(
                "HAProxy server states after the window (holder proxy/server)",
                want,
                m.server_states,
                all(m.server_states.get(k) == v for k, v in want.items()),
            )
        )
        # The analysis' service states, where the lab can see them (load-balanced stand-ins).
        seen = set(m.services_down_measured) | set(m.services_degraded_measured)
        lb = set(self.ctx.plan.backend_services)
        out.append(
            Check(
                "services losing servers are among those the analysis names (down or degraded)",
                sorted((self.analysis_down | self.analysis_degraded) & lb),
                sorted(seen),
                seen <= (self.analysis_down | self.analysis_degraded),
            )
        )
        out.append(
            Check(
                "services the analysis says are down have every server DOWN",
                sorted(self.analysis_down & lb),
                m.services_down_measured,
                (self.analysis_down & lb) <= set(m.services_down_measured),
            )
        )
        return out

    def restore(self) -> None:
        """The switch comes back (once)."""
        if getattr(self, "failed", False):
            self.failed = False
            self.ctx.lab.set_switch(self.sw, True)
            time.sleep(0.5)
        for p in getattr(self, "extra", {}).values():
            p.stop()
