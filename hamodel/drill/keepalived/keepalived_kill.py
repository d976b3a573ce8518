"""``keepalived-kill``: SIGKILL of keepalived alone on the VIP holder (HAProxy, the node's links stay up).

Prediction (keepalived 2.2.7): a keepalived killed by SIGKILL sends no more
adverts and runs no notify script; the best backup takes over after its
master-down interval, like after a crash (:mod:`.holder_crash`), and the
killed one leaves its VIP configured, so two nodes hold the address until
it is removed. Its last VRRP state metric (MASTER, from the notify script)
stays in place: only the generated liveness script
(:mod:`hamodel.generators.monitoring.liveness`) says that keepalived is gone
and that the address is held twice; the monitoring lab asserts those alerts.
Full drills only (like ``holder-kill``, it leaves the VIP twice by design).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

from hamodel.deployment import Deployment
from hamodel.drill.keepalived.common import MARGIN_S, group_of_vip, master_down
from hamodel.drill.keepalived.holder_crash import contenders
from hamodel.drill.keepalived.holder_kill import _drop_address
from hamodel.drill.observe import ProbeRun, now
from hamodel.drill.results import Check, ProbeSummary, flat
from hamodel.drill.scenario import Scenario, ScenarioKind


@dataclass
class KeepalivedKillPrediction:
    takeover_bound_s: float
    new_holder: str | list[str]
    vip_held_twice: bool
    reason: str


@dataclass
class KeepalivedKillMeasurement:
    old_holder: str
    holders_after: list[str]
    takeover_s: float | None
    polled: str
    summary: ProbeSummary = flat()


class KeepalivedKill(ScenarioKind):
    kind = "keepalived-kill"
    title = "SIGKILL of keepalived alone on the VIP holder (HAProxy and links stay up)"

    @classmethod
    def offer(cls, dep: Deployment, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        g = next((g for g in dep.vrrp_groups if vip in g.vips), None)
        if quick or g is None or g.manager != "keepalived" or len(g.priorities) < 2:
            return []
        return [Scenario(cls.kind, cls.kind, vip)]

    def predict(self) -> KeepalivedKillPrediction:
        ctx, sc = self.ctx, self.sc
        g = self.group = group_of_vip(ctx, sc.vip)
        self.old = ctx.holder(sc.vip)
        # keepalived is killed whole: every group whose VIP it holds ends up held twice (monitoring.expected)
        self.held_groups = sorted({h.service for h in ctx.groups for v in h.vips if ctx.holder(v) == self.old})
        rest = [n for n in g.members if n != self.old]
        self.candidates = contenders(ctx, g, rest, lambda n: master_down(ctx, g, n))
        self.bound = max(master_down(ctx, g, n) for n in self.candidates) + MARGIN_S
        return KeepalivedKillPrediction(
            takeover_bound_s=round(self.bound, 3),
            new_holder=self.candidates[0] if len(self.candidates) == 1 else list(self.candidates),
            vip_held_twice=True,
            reason=(
                "the killed keepalived sends no more adverts: the best backup takes over after its master-down "
                "interval; killed by SIGKILL, it leaves the VIP configured on the old holder"
            ),
        )

    def inject(self) -> None:
        self.killed = True
        self.ctx.lab.stop(self.ctx.daemons[(self.old, "keepalived")], signal.SIGKILL)
        self.ctx.say(f"  keepalived on {self.old} (holder) killed (SIGKILL)")

    def measure(self, t0: float, probe: ProbeRun) -> KeepalivedKillMeasurement:
        ctx, old = self.ctx, self.old
        addr = ctx.vip_addr[self.sc.vip]
        t = ctx.watch.wait_for(addr, lambda h: old in h and len(h) >= 2, after=t0, timeout=self.bound + 3)
        self.took_over = t - t0 if t is not None else None
        time.sleep(max(0.0, t0 + self.bound + ctx.post - now()))
        results = probe.stop()
        self.after = ctx.watch.current(addr) or frozenset()
        return KeepalivedKillMeasurement(
            old_holder=old,
            holders_after=sorted(self.after),
            takeover_s=round(self.took_over, 3) if self.took_over is not None else None,
            polled=" ".join(self.polled()),
            summary=ProbeSummary.of(results, t0),
        )

    def checks(self, pred: KeepalivedKillPrediction, m: KeepalivedKillMeasurement) -> list[Check]:
        twice = self.old in self.after and any(n in self.candidates for n in self.after)
        return [
            Check(
                "a backup holds the VIP too, within master-down + margin (s)",
                pred.takeover_bound_s,
                m.takeover_s,
                self.took_over is not None and self.took_over <= self.bound,
            ),
            Check("the VIP is held by the old holder and a backup", True, m.holders_after, twice),
        ]

    def restore(self) -> None:
        if not getattr(self, "killed", False):
            return
        self.killed = False
        _drop_address(self.ctx, self.old, self.ctx.vip_addr[self.sc.vip])
        self.ctx.start_keepalived(self.old)
        time.sleep(0.5)
