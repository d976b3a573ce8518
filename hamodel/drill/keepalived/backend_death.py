"""``backend-death``: one backend of a load-balanced service dies; HAProxy must mark it down.

The stand-in backend of the polled service on the holder (its listeners,
and the check port) stops answering: each check is refused at once, so
HAProxy marks the server down within ``fall x inter`` + margin, and no
request fails after that window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hamodel.deployment import Deployment
from hamodel.drill import reroot
from hamodel.drill.keepalived.common import MARGIN_S, frontend, owner, sock_of
from hamodel.drill.lab import access_of, required
from hamodel.drill.observe import ProbeRun, haproxy_stat, now
from hamodel.drill.results import Check, ProbeSummary, flat, optional, requests_in
from hamodel.drill.scenario import Scenario, ScenarioKind, probe_service


@dataclass
class BackendDeathPrediction:
    marked_down_bound_s: float
    failed_after_window: int
    check: str
    traffic_to: str | None = optional()


@dataclass
class BackendDeathMeasurement:
    holder: str
    proxy: str
    killed: str
    marked_down_s: float | None
    polled: str
    summary: ProbeSummary = flat()
    failed_after_window: int = 0
    served_after_window_by: list[str] | None = None


class BackendDeath(ScenarioKind):
    kind = "backend-death"
    title = "One backend of a load-balanced service dies; HAProxy must mark it down"
    writer = False

    @classmethod
    def offer(cls, dep: Deployment, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        svc = probe_service(dep, vip)
        # One scenario per service: on its first VIP (an also_on front polls the same backends).
        if (
            svc is None
            or access_of(dep.architecture, svc).single_writer
            or str(access_of(dep.architecture, svc).vip) != vip
        ):
            return []
        return [Scenario(f"{cls.kind}:{svc}", cls.kind, vip, svc)]

    def victim(self, be: reroot.Backend) -> tuple[reroot.Server, str | None]:
        """The server to kill, and the node that must serve afterwards (None: any other)."""
        mine = [s for s in be.servers if owner(self.ctx, s.address) == self.holder]
        return (mine[0] if mine else be.servers[0]), None

    def predict(self) -> BackendDeathPrediction:
        ctx, sc = self.ctx, self.sc
        self.holder = ctx.holder(sc.vip)
        self.proxy, be, _ = frontend(ctx, self.holder, sc.vip, required(sc.service, f"the service of {sc.name}"))
        v, self.expected_node = self.victim(be)
        self.server, self.vnode = v, required(owner(ctx, v.address), f"the node of backend {v.address}")
        self.ports = sorted({v.port, *([v.check_port] if v.check_port else [])})
        self.detect_bound = v.fall * v.inter_ms / 1000 + MARGIN_S  # refused: each check fails at once
        return BackendDeathPrediction(
            marked_down_bound_s=round(self.detect_bound, 3),
            failed_after_window=0,
            check=f"inter {v.inter_ms} ms, fall {v.fall}",
            traffic_to=self.expected_node if self.writer else None,
        )

    def inject(self) -> None:
        self.down = True
        self.ctx.backend_ctl(self.vnode, "down " + " ".join(map(str, self.ports)))
        self.ctx.say(f"  {self.sc.service} backend on {self.vnode} stopped (ports {', '.join(map(str, self.ports))})")

    def measure(self, t0: float, probe: ProbeRun) -> BackendDeathMeasurement:
        ctx, v = self.ctx, self.server
        sock = sock_of(ctx, self.holder)
        t_down = None
        deadline = t0 + self.detect_bound + 3
        while now() < deadline:
            st = haproxy_stat(sock, self.proxy, v.name)
            if st and st.startswith("DOWN"):
                t_down = now()
                break
            time.sleep(0.05)
        self.down_after = t_down - t0 if t_down is not None else None
        time.sleep(max(0.0, t0 + self.detect_bound + ctx.post - now()))
        results = probe.stop()
        late = requests_in(results, t0 + self.detect_bound)
        self.served = sorted({r["node"] for r in late if r["ok"]})
        return BackendDeathMeasurement(
            holder=self.holder,
            proxy=self.proxy,
            killed=f"{v.name} ({self.vnode}) ports {self.ports}",
            marked_down_s=round(t_down - t0, 3) if t_down else None,
            polled=self.polled()[1],
            summary=ProbeSummary.of(results, t0),
            failed_after_window=len([r for r in late if not r["ok"]]),
            served_after_window_by=self.served,
        )

    def checks(self, pred: BackendDeathPrediction, m: BackendDeathMeasurement) -> list[Check]:
        return [
            Check(
                "HAProxy marks the server down within fall x inter + margin (s)",
                round(self.detect_bound, 3),
                m.marked_down_s,
                self.down_after is not None and self.down_after <= self.detect_bound,
            ),
            Check("failed requests after the detection window", 0, m.failed_after_window, not m.failed_after_window),
            self.traffic_check(m),
        ]

    def traffic_check(self, m: BackendDeathMeasurement) -> Check:
        dead = self.vnode in self.served
        return Check("no request served by the dead backend after the window", False, dead, not dead)

    def restore(self) -> None:
        if not getattr(self, "down", False):
            return
        self.down = False
        ctx, v = self.ctx, self.server
        ctx.backend_ctl(self.vnode, "up " + " ".join(map(str, self.ports)))
        rise_wait = v.inter_ms / 1000 * (v.rise + 1) + MARGIN_S
        deadline = now() + rise_wait + 3
        while now() < deadline:
            st = haproxy_stat(sock_of(ctx, self.holder), self.proxy, v.name)
            if st and st.startswith("UP"):
                break
            time.sleep(0.1)
