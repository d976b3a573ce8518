"""``holder-kill``: SIGKILL of every process on the VIP holder (its links stay up).

Predicted like :mod:`~hamodel.drill.keepalived.holder_crash` (the killed
keepalived sends no more adverts), except that HAProxy's checks of the
holder's backend are refused at once (the host still answers), and that
keepalived 2.2.7 killed by SIGKILL leaves the VIP configured on the old
holder: two nodes hold it until it is cleaned up. Full drills only.
"""

from __future__ import annotations

import time

from hamodel.deployment import Deployment
from hamodel.drill.keepalived.holder_crash import FailoverMeasurement, HolderCrash
from hamodel.drill.observe import ProbeRun
from hamodel.drill.results import Check
from hamodel.drill.scenario import Scenario


class HolderKill(HolderCrash):
    kind = "holder-kill"
    title = "SIGKILL of every process on the VIP holder (links stay up)"
    unreachable = False
    reason = "the old holder's keepalived is killed and its VIP stays configured"

    @classmethod
    def offer(cls, dep: Deployment, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        # Full mode only: it leaves the VIP on the old holder by design (see the note).
        return [] if quick else [Scenario(cls.kind, cls.kind, vip)]

    def inject(self) -> None:
        self.killed = True
        pids = self.ctx.lab.kill_all_in(self.ctx.lab.node_ns(self.old))
        self.ctx.say(f"  SIGKILL of {len(pids)} processes on {self.old} (holder)")

    def measure(self, t0: float, probe: ProbeRun) -> FailoverMeasurement:
        m = super().measure(t0, probe)
        m.old_holder_keeps_vip = self.old in self.after
        m.failed_after_window_note = "not asserted: depends on which MAC the client's ARP entry holds"
        self.notes.append(
            "SIGKILL leaves keepalived no chance to remove the VIP: two nodes hold it until the old "
            "one is cleaned up; a client whose ARP entry is refreshed to the old node fails. "
            "This is why a node crash is drilled as links going down."
        )
        return m

    def client_checks(self, m: FailoverMeasurement) -> list[Check]:
        stale = bool(m.old_holder_keeps_vip)
        return [Check("old holder keeps the VIP configured (keepalived 2.2.7 after SIGKILL)", True, stale, stale)]

    def restore(self) -> None:
        if not getattr(self, "killed", False):
            return
        self.killed = False
        ctx, old = self.ctx, self.old
        _drop_address(ctx, old, ctx.vip_addr[self.sc.vip])
        ctx.start_backend(old)
        # What a kind runs for real on the node (a Galera member) comes back too, as after a reboot;
        # before haproxy, so that its first checks find it.
        for c in getattr(ctx, "kinds", {}).values():
            hook = getattr(c, "node_restarted", None)
            if hook is not None:
                hook(ctx, old)
        ctx.start_haproxy(old)
        ctx.start_keepalived(old)
        time.sleep(0.5)


def _drop_address(ctx, node: str, addr: str) -> None:
    """Remove ``addr`` from ``node``'s interfaces (what a rebooted host would not have)."""
    ns = ctx.lab.node_ns(node)
    out = ctx.lab.exec(ns, ["ip", "-o", "addr", "show", "to", addr], check=False).stdout
    for line in out.splitlines():
        w = line.split()
        ctx.lab.exec(ns, ["ip", "addr", "del", w[3], "dev", w[1]], check=False)
