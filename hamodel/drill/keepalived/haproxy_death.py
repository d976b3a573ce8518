"""``haproxy-death``: HAProxy dies on the VIP holder; the track script must move the VIP.

Prediction from the generated ``vrrp_script`` that tracks haproxy: with
weight 0 the script's failure (``fall`` x ``interval``, plus one interval
of phase) puts the instance in FAULT, it announces priority 0 and the best
backup takes over after its skew time; with a weight, the holder's lowered
priority must fall below the backup's, which must not be ``nopreempt``.
Without such a script the VIP stays on a node without haproxy.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

from hamodel.deployment import Deployment
from hamodel.drill.keepalived.common import MARGIN_S, group_of_vip, instance, master_down, skew
from hamodel.drill.keepalived.holder_crash import contenders
from hamodel.drill.observe import ProbeRun, now
from hamodel.drill.results import Check, ProbeSummary, flat, optional, requests_in
from hamodel.drill.scenario import Scenario, ScenarioKind


@dataclass
class HaproxyDeathPrediction:
    vip_moves: bool
    failover_bound_s: float | None
    new_holder: str | list[str]
    reason: str


@dataclass
class HaproxyDeathMeasurement:
    old_holder: str
    new_holder: str | list[str]
    failover_s: float | None
    polled: str
    summary: ProbeSummary = flat()
    failed_after_window: int | None = optional()


class HaproxyDeath(ScenarioKind):
    kind = "haproxy-death"
    title = "HAProxy dies on the VIP holder; the track script must move the VIP"

    @classmethod
    def offer(cls, dep: Deployment, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        # Offered even when nothing tracks haproxy: the prediction is then "the VIP stays".
        return [Scenario(cls.kind, cls.kind, vip)]

    def predict(self) -> HaproxyDeathPrediction:
        ctx, sc = self.ctx, self.sc
        g = group_of_vip(ctx, sc.vip)
        old = self.old = ctx.holder(sc.vip)
        inst = instance(ctx, old, sc.vip)
        kc = ctx.plan.keepalived[old]
        tracked = [(kc.scripts[s], w) for s, w in (inst.track_scripts.items() if inst else []) if s in kc.scripts]
        hap_scripts = [(s, w) for s, w in tracked if "haproxy" in s.script]
        rest = [n for n in g.members if n != old]
        expected = self.expected = rest[0]
        self.candidates = [expected]
        if not hap_scripts:
            moves, bound, why = False, None, "no vrrp_script tracks haproxy: the VIP stays on a node without haproxy"
        else:
            s, w = hap_scripts[0]
            weight = s.weight if w is None else w
            nopreempt = any(getattr(instance(ctx, n, sc.vip), "nopreempt", False) for n in rest)
            if weight == 0:
                moves = True
                # Backups whose skew times are too close to tell apart may each take over (holder_crash).
                self.candidates = contenders(ctx, g, rest, lambda n: skew(ctx, g, n))
                bound = s.interval * (s.fall + 1) + max(skew(ctx, g, n) for n in self.candidates) + MARGIN_S
                why = (
                    f"script fails after fall={s.fall} x interval={s.interval:g} s (+1 interval of phase); "
                    "weight 0 puts the instance in FAULT, it announces priority 0 and the backup takes over "
                    "after its skew time"
                )
            else:
                lowered = g.priorities[old] + weight
                moves = lowered < g.priorities[expected] and not nopreempt
                bound = s.interval * (s.fall + 1) + master_down(ctx, g, expected) + MARGIN_S if moves else None
                why = f"weight {weight} lowers the holder to priority {lowered}" + (
                    "; the backups have nopreempt, so none takes over" if nopreempt else ""
                )
        self.moves, self.bound = moves, bound
        if len(self.candidates) > 1:
            why += f"; {', '.join(self.candidates)} have skew times too close to tell apart: either may take over"
        return HaproxyDeathPrediction(
            vip_moves=moves,
            failover_bound_s=round(bound, 3) if bound else None,
            new_holder=(expected if len(self.candidates) == 1 else list(self.candidates)) if moves else old,
            reason=why,
        )

    def inject(self) -> None:
        self.killed = True
        self.ctx.lab.stop(self.ctx.daemons[(self.old, "haproxy")], signal.SIGKILL)
        self.ctx.say(f"  haproxy on {self.old} (holder) killed")

    def measure(self, t0: float, probe: ProbeRun) -> HaproxyDeathMeasurement:
        ctx, old = self.ctx, self.old
        addr = ctx.vip_addr[self.sc.vip]
        wait = self.bound or 8.0
        t_move = ctx.watch.wait_for(addr, lambda h: bool(h) and old not in h, after=t0, timeout=wait + 3)
        self.moved_after = t_move - t0 if t_move is not None else None
        time.sleep(max(0.0, t0 + wait + ctx.post - now()))
        results = probe.stop()
        after = self.after = ctx.watch.current(addr) or frozenset()
        m = HaproxyDeathMeasurement(
            old_holder=old,
            new_holder=sorted(after)[0] if len(after) == 1 else sorted(after),
            failover_s=round(t_move - t0, 3) if t_move else None,
            polled=" ".join(self.polled()),
            summary=ProbeSummary.of(results, t0),
        )
        if self.moves and self.bound is not None:
            m.failed_after_window = len([r for r in requests_in(results, t0 + self.bound) if not r["ok"]])
        return m

    def checks(self, pred: HaproxyDeathPrediction, m: HaproxyDeathMeasurement) -> list[Check]:
        moved = self.moved_after is not None
        out = [Check("VIP moves away from the node without haproxy", self.moves, moved, moved == self.moves)]
        if self.moves and self.bound is not None:
            out += [
                Check(
                    "within track interval x (fall + 1) + skew + margin (s)",
                    round(self.bound, 3),
                    m.failover_s,
                    self.moved_after is not None and self.moved_after <= self.bound,
                ),
                Check(
                    "new holder (highest remaining priority, or a backup whose timer is within the scheduling "
                    "margin of it)",
                    pred.new_holder,
                    m.new_holder,
                    len(self.after) == 1 and next(iter(self.after)) in self.candidates,
                ),
                Check("failed requests after the failover window", 0, m.failed_after_window, not m.failed_after_window),
            ]
        return out

    def restore(self) -> None:
        if getattr(self, "killed", False):
            self.killed = False
            self.ctx.start_haproxy(self.old)
