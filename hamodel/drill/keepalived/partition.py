"""``partition``: the VIP's segment is partitioned (inter-switch links cut), then healed.

keepalived's VRRP has no quorum: the isolated side, hearing no adverts,
elects its own master after its master-down interval (split brain, which
the failure analysis reports as a ``split-brain`` finding listing the cuts
that cause it). After the heal the two masters see each other's adverts
and the higher priority survives within two advert intervals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hamodel.deployment import Deployment
from hamodel.drill.keepalived.common import MARGIN_S, advert_int, group_of_vip, master_down
from hamodel.drill.lab import LabError
from hamodel.drill.observe import ProbeRun, now
from hamodel.drill.results import Check, ProbeSummary, flat, requests_in
from hamodel.drill.scenario import Scenario, ScenarioKind


@dataclass
class PartitionPrediction:
    split_brain: bool
    split_bound_s: float
    convergence_bound_s: float
    survivor: str
    finding: str | None
    cut: list[str]
    reason: str


@dataclass
class PartitionMeasurement:
    isolated_switch: str
    isolated_members: list[str]
    cut_links: list[str]
    holder_before: str
    split_brain: bool
    split_after_s: float | None
    holders_during_partition: list[str]
    convergence_s: float | None
    holder_after_heal: list[str]
    polled: str
    summary: ProbeSummary = flat()
    failed_after_heal_window: int = 0


class Partition(ScenarioKind):
    kind = "partition"
    title = "The segment is partitioned (inter-switch links cut), then healed"

    @classmethod
    def offer(cls, dep: Deployment, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        return [Scenario(cls.kind, cls.kind, vip)] if switches > 1 else []

    def predict(self) -> PartitionPrediction:
        ctx, sc = self.ctx, self.sc
        g = self.group = group_of_vip(ctx, sc.vip)
        holder = self.holder = ctx.holder(sc.vip)
        sw_of = {
            n: next(sw for (_, _, sw, net) in ctx.plan.nodes[n].interfaces if net == g.network)
            for n in g.priorities
            if n in ctx.plan.nodes
        }
        client_sw = next((sw for _, _, sw, net in ctx.plan.client_interfaces if net == g.network), None)
        cands = [sw for sw in sorted(set(sw_of.values())) if sw != client_sw]
        if not cands:
            raise LabError("every member shares the client's switch: nothing to partition")

        # Prefer a side without the holder whose members rank below it: the
        # client's side then keeps its holder after the heal.
        def rank(sw: str) -> tuple:
            members = [n for n, s in sw_of.items() if s == sw]
            return (holder in members, max(g.priorities[n] for n in members) > g.priorities[holder], sw)

        self.isolated = sorted(cands, key=rank)[0]
        self.cut = [l for l in ctx.plan.links if self.isolated in l]
        self.inside = sorted(n for n, s in sw_of.items() if s == self.isolated)
        outside = sorted(n for n in sw_of if n not in self.inside)
        best_inside = max(self.inside, key=lambda n: g.priorities[n])
        self.split_bound = master_down(ctx, g, best_inside) + MARGIN_S
        # What the failure analysis says of this very cut (its split-brain
        # finding lists the link sets that split the group).
        cut_ids = sorted(f"link:{g.network}:{a}~{b}" for a, b in self.cut)
        finding = next((f for f in ctx.dep.findings if f.kind == "split-brain" and g.service in f.services), None)
        listed = bool(finding) and any(sorted(sc_) == cut_ids for sc_ in (finding.details or {}).get("scenarios", []))
        if finding is not None:
            self.notes.append(
                f"analysis finding {finding.id}: {finding.title}; this cut ({', '.join(cut_ids)}) is "
                + ("one of its scenarios" if listed else "not among its listed scenarios")
            )
        elif ctx.dep.findings:
            self.notes.append("the failure analysis reported no split brain for this group")
        else:
            self.notes.append(
                "run without the failure analysis: the split-brain prediction comes from the strategy "
                "(keepalived VRRP has no quorum)"
            )
        masters_after = [holder if holder in outside else max(outside, key=lambda n: g.priorities[n]), best_inside]
        self.survivor = max(masters_after, key=lambda n: g.priorities[n])
        self.conv_bound = advert_int(ctx, g) * 2 + MARGIN_S
        return PartitionPrediction(
            split_brain=True,
            split_bound_s=round(self.split_bound, 3),
            convergence_bound_s=round(self.conv_bound, 3),
            survivor=self.survivor,
            finding=finding.id if finding else None,
            cut=cut_ids,
            reason="keepalived VRRP has no quorum: each side without adverts elects a master"
            + (f" (analysis finding {finding.id})" if finding else ""),
        )

    def inject(self) -> None:
        self.cut_done = True
        for a, b in self.cut:
            self.ctx.lab.set_isl(a, b, False)
        self.ctx.say(
            f"  switch {self.isolated} ({', '.join(self.inside)}) cut off: links "
            f"{', '.join(a + '-' + b for a, b in self.cut)}"
        )

    def measure(self, t0: float, probe: ProbeRun) -> PartitionMeasurement:
        ctx = self.ctx
        addr = ctx.vip_addr[self.sc.vip]
        t_split = ctx.watch.wait_for(addr, lambda h: len(h) >= 2, after=t0, timeout=self.split_bound + 5)
        time.sleep(1.0)
        during = ctx.watch.current(addr) or frozenset()
        max_holders = max((len(h) for _, h in ctx.watch.since(addr, t0)), default=0)
        # The lab's monitoring (when it runs) must see the two masters before the heal.
        window = getattr(ctx, "alert_window", None)
        if window is not None:
            window(self, t0)
        # The heal is part of the measurement: convergence is timed from it.
        t_heal = now()
        self.restore()
        ctx.say("  partition healed")
        t_conv = ctx.watch.wait_for(addr, lambda h: len(h) == 1, after=t_heal, timeout=self.conv_bound + 8)
        time.sleep(max(0.0, t_heal + self.conv_bound + ctx.post - now()))
        results = probe.stop()
        self.final = ctx.watch.current(addr) or frozenset()
        self.split_after = t_split - t0 if t_split is not None else None
        self.conv_after = t_conv - t_heal if t_conv is not None else None
        late = [r for r in requests_in(results, t_heal + self.conv_bound) if not r["ok"]]
        return PartitionMeasurement(
            isolated_switch=self.isolated,
            isolated_members=self.inside,
            cut_links=[f"{a}-{b}" for a, b in self.cut],
            holder_before=self.holder,
            split_brain=max_holders >= 2,
            split_after_s=round(t_split - t0, 3) if t_split else None,
            holders_during_partition=sorted(during),
            convergence_s=round(t_conv - t_heal, 3) if t_conv else None,
            holder_after_heal=sorted(self.final),
            polled=" ".join(self.polled()),
            summary=ProbeSummary.of(results, t0),
            failed_after_heal_window=len(late),
        )

    def checks(self, pred: PartitionPrediction, m: PartitionMeasurement) -> list[Check]:
        final = sorted(self.final)
        return [
            Check("split brain: a holder on each side (VRRP has no quorum)", True, m.split_brain, m.split_brain),
            Check(
                "isolated side takes the VIP within 3 x advert_int + skew + margin (s)",
                round(self.split_bound, 3),
                m.split_after_s,
                self.split_after is not None and self.split_after <= self.split_bound,
            ),
            Check(
                "one holder again within 2 x advert_int + margin after the heal (s)",
                round(self.conv_bound, 3),
                m.convergence_s,
                self.conv_after is not None and self.conv_after <= self.conv_bound,
            ),
            Check("survivor (higher priority of the two masters)", [self.survivor], final, final == [self.survivor]),
            Check(
                "failed requests (client side) after the heal window",
                0,
                m.failed_after_heal_window,
                not m.failed_after_heal_window,
            ),
        ]

    def restore(self) -> None:
        """Heal: bring the cut links back (once)."""
        if getattr(self, "cut_done", False):
            self.cut_done = False
            for a, b in self.cut:
                self.ctx.lab.set_isl(a, b, True)
