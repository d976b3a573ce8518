"""``holder-crash``: the VIP holder crashes (its links go down); the best backup takes over.

Prediction (keepalived 2.2.7, RFC 3768): the backup with the highest
priority takes over after its master-down interval ``3 x advert_int +
(256 - priority) / 256 x advert_int``; the client also waits until HAProxy
on the new holder has marked the crashed node's backend down (``fall x
(inter + check connect timeout)``, an unreachable host fails each check at
its timeout). The client window is the later of the two.

Which backup takes over is only predictable when its timer expires
clearly first: with ``nopreempt``, the first backup to become MASTER keeps
the VIP, and priorities one point apart make the timers differ by
advert_int / 256 (4 ms at 1 s), less than the scheduling spread of two
keepalived processes on a loaded machine. Every backup whose timer expires
within :data:`SCHED_MARGIN_S` of the earliest is a possible new holder
(:func:`contenders`); the bound is the latest of their timers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from hamodel.deployment import Deployment, VrrpGroup
from hamodel.drill.keepalived.common import MARGIN_S, advert_int, detect_bound, group_of_vip, instance, master_down
from hamodel.drill.margins import TIE_S as SCHED_MARGIN_S
from hamodel.drill.observe import ProbeRun, now
from hamodel.drill.results import Check, ProbeSummary, flat, optional, requests_in
from hamodel.drill.scenario import DrillContext, Scenario, ScenarioKind


def contenders(ctx: DrillContext, g: VrrpGroup, rest: list[str], timer: Callable[[str], float]) -> list[str]:
    """The backups of ``rest`` (in priority order) that may become the new holder.

    ``timer(node)``: when its takeover timer expires. With preemption the
    highest priority ends up holding the VIP whatever fired first; with
    ``nopreempt`` (every backup's instance) the first MASTER keeps it, so
    every backup whose timer expires within :data:`SCHED_MARGIN_S` of the
    earliest one may.
    """
    if not rest:
        return []
    insts = [instance(ctx, n, g.vips[0]) for n in rest]
    if not all(i is not None and i.nopreempt for i in insts):
        return [rest[0]]
    t = {n: timer(n) for n in rest}
    first = min(t.values())
    return [n for n in rest if t[n] - first < SCHED_MARGIN_S]


@dataclass
class FailoverPrediction:
    failover_bound_s: float
    new_holder: str | list[str]
    advert_int_s: float
    priority_new_holder: int
    backend_marked_down_bound_s: float | None
    client_window_s: float
    margin_s: float
    reason: str


@dataclass
class FailoverMeasurement:
    old_holder: str
    new_holder: str | list[str]
    failover_s: float | None
    polled: str
    summary: ProbeSummary = flat()
    failed_after_window: int = 0
    old_holder_keeps_vip: bool | None = optional()
    failed_after_window_note: str | None = optional()


class HolderCrash(ScenarioKind):
    kind = "holder-crash"
    title = "Crash of the VIP holder (its links go down)"
    #: The injection leaves the holder unreachable (links down), so HAProxy's
    #: checks of its backend fail at their connect timeout, not at once.
    unreachable = True
    reason = "the crashed holder sends no more adverts"

    @classmethod
    def offer(cls, dep: Deployment, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        return [Scenario(cls.kind, cls.kind, vip)]

    def predict(self) -> FailoverPrediction:
        ctx, sc = self.ctx, self.sc
        g = self.group = group_of_vip(ctx, sc.vip)
        self.old = ctx.holder(sc.vip)
        rest = [n for n in g.members if n != self.old]
        self.candidates = contenders(ctx, g, rest, lambda n: master_down(ctx, g, n))
        self.expected = self.candidates[0]
        self.bound = max(master_down(ctx, g, n) for n in self.candidates) + MARGIN_S
        # Nothing tells the backups: the first can take over no earlier than its master-down
        # interval after the last advert it heard, which came at most advert_int before t0.
        self.earliest = max(0.0, min(master_down(ctx, g, n) for n in self.candidates) - advert_int(ctx, g) - MARGIN_S)
        svc, _ = self.polled()
        # The new holder's HAProxy still sends some requests to the old
        # node's backend until its checks mark it down: the client's window
        # is the later of the VIP move and that detection.
        detects = [detect_bound(ctx, n, sc.vip, svc, self.old, unreachable=self.unreachable) for n in self.candidates]
        detect = max((d for d in detects if d is not None), default=None)
        self.window = max(self.bound, detect or 0.0)
        tie = ""
        if len(self.candidates) > 1:
            tie = (
                f"; {', '.join(self.candidates)} have master-down timers less than {SCHED_MARGIN_S * 1000:g} ms "
                "apart (priorities "
                + ", ".join(str(g.priorities[n]) for n in self.candidates)
                + ") and nopreempt: whichever fires first keeps the VIP"
            )
        return FailoverPrediction(
            failover_bound_s=round(self.bound, 3),
            new_holder=self.expected if len(self.candidates) == 1 else list(self.candidates),
            advert_int_s=advert_int(ctx, g),
            priority_new_holder=g.priorities[self.expected],
            backend_marked_down_bound_s=round(detect, 3) if detect else None,
            client_window_s=round(self.window, 3),
            margin_s=MARGIN_S,
            reason=self.reason + "; the highest-priority backup takes over after its master-down interval "
            "(3 x advert_int + skew)" + tie + "; clients also wait until HAProxy on the new holder has "
            "marked the old node's backend down (fall x (inter + check connect timeout))",
        )

    def inject(self) -> None:
        self.ctx.lab.crash_links(self.old)
        self.ctx.say(f"  links of {self.old} (holder) down")

    def measure(self, t0: float, probe: ProbeRun) -> FailoverMeasurement:
        ctx, old = self.ctx, self.old
        addr = ctx.vip_addr[self.sc.vip]
        t_move = ctx.watch.wait_for(addr, lambda h: bool(h - {old}), after=t0, timeout=self.bound + 5)
        self.moved_after = t_move - t0 if t_move is not None else None
        time.sleep(max(0.0, t0 + self.window + ctx.post - now()))
        results = probe.stop()
        self.after = ctx.watch.current(addr) or frozenset()
        new = sorted(self.after - {old})
        late = [r for r in requests_in(results, t0 + self.window) if not r["ok"]]
        return FailoverMeasurement(
            old_holder=old,
            new_holder=new[0] if len(new) == 1 else new,
            failover_s=round(t_move - t0, 3) if t_move else None,
            polled=" ".join(self.polled()),
            summary=ProbeSummary.of(results, t0),
            failed_after_window=len(late),
        )

    def checks(self, pred: FailoverPrediction, m: FailoverMeasurement) -> list[Check]:
        new = sorted(self.after - {self.old})
        return [
            Check(
                "VIP moves within 3 x advert_int + skew(new holder) + margin (s)",
                pred.failover_bound_s,
                m.failover_s,
                self.moved_after is not None and self.moved_after <= self.bound,
            ),
            # A faster move means something told the backups (a goodbye advert): not a crash.
            Check(
                "VIP moves no sooner than master-down - advert_int - margin (s): nothing told the backups",
                f">= {self.earliest:.2f}",
                m.failover_s,
                self.moved_after is not None and self.moved_after >= self.earliest,
            ),
            Check(
                "new holder (highest remaining priority, or a backup whose timer is within the scheduling "
                "margin of it)",
                pred.new_holder,
                m.new_holder,
                len(new) == 1 and new[0] in self.candidates,
            ),
        ] + self.client_checks(m)

    def client_checks(self, m: FailoverMeasurement) -> list[Check]:
        return [
            Check(
                "failed requests after the client window (VIP move and HAProxy marking the "
                "crashed node's backend down)",
                0,
                m.failed_after_window,
                not m.failed_after_window,
            )
        ]

    def restore(self) -> None:
        self.ctx.lab.set_node_links(self.old, True)
        time.sleep(0.5)
