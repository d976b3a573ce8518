"""``redis-primary-kill``: an asynchronously replicating primary dies under write load.

Offered (full drills, or named with ``--scenario``) for a service whose
strategy says ``replication="asynchronous"`` and that has a replica, when
Debian's ``redis-server`` is installed: real Redis processes run on the
service's nodes (:class:`hamodel.drill.redis_loss.RedisReplicas`), the
client writes numbered keys, the primary is killed mid-load and a replica
promoted; the acknowledged keys missing on it are the lost writes, compared
with the predicted RPO (asynchronous: a loss agrees; a model that claims
synchronous replication disagrees with any loss).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from hamodel.deployment import Deployment
from hamodel.drill.keepalived.redis_loss import RedisReplicas, verdict
from hamodel.drill.lab import LabError
from hamodel.drill.observe import ProbeRun
from hamodel.drill.results import Check, ProbeSummary, flat
from hamodel.drill.scenario import DrillContext, RealServiceKind, Scenario

_KEY = "redis-primary-kill"


def async_service(dep: Deployment) -> str | None:
    """The first (by name) asynchronously replicating service with a replica and a port, or None."""
    for s in sorted(dep.architecture.services, key=lambda s: s.name):
        if (
            getattr(s.strategy, "replication", None) == "asynchronous"
            and s.ports
            and len(dep.placement.nodes_of(s.name)) >= 2
        ):
            return s.name
    return None


@dataclass
class RedisLossPrediction:
    rpo: str
    rpo_s: float | None
    reason: str


@dataclass
class RedisLossMeasurement:
    primary: str
    promoted: str
    acknowledged: int
    lost: int
    writer_error: str | None
    polled: str
    summary: ProbeSummary = flat()


class RedisPrimaryKill(RealServiceKind):
    kind = "redis-primary-kill"
    title = "Redis: the primary dies under write load (asynchronous replication)"

    @classmethod
    def offer(cls, dep: Deployment, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        svc = async_service(dep)
        first_vip = next(
            (v for g in sorted(dep.vrrp_groups, key=lambda g: g.service) if g.manager == "keepalived" for v in g.vips),
            None,
        )
        if quick or svc is None or vip != first_vip or shutil.which("redis-server") is None:
            return []
        return [Scenario(cls.kind, cls.kind, vip, svc)]

    @classmethod
    def setup_lab(cls, ctx: DrillContext, scenarios: list[Scenario]) -> None:
        if _KEY in ctx.shared or not scenarios:
            return
        name = scenarios[0].service
        assert name is not None
        svc = ctx.arch.service(name)
        members = list(ctx.dep.placement.nodes_of(name))
        net = next(iter(ctx.arch.node(members[0]).interfaces)).network
        addr = {n: str(i.address) for n in members if (i := ctx.arch.node(n).interface_on(net)) is not None}
        rr = RedisReplicas(ctx.lab, name, svc.ports[0].port, addr, members[0])
        ctx.shared[_KEY] = rr  # before the start: teardown stops a half-started set too (lab processes)
        rr.start()
        ctx.plan.notes.append(
            f"{name} runs for real: redis-server on {', '.join(addr)} "
            f"(primary {members[0]}, asynchronous replication, no persistence)"
        )

    @classmethod
    def settled(cls, ctx: DrillContext) -> list[str]:
        rr = ctx.shared.get(_KEY)
        if rr is None:
            return []
        # The real Redis runs for the whole drill: a scenario that killed its node's
        # processes (holder-kill) leaves it dead; bring it back as it was.
        restarted = rr.heal()
        if restarted:
            ctx.say(f"  redis-server restarted on {', '.join(restarted)} (killed by the previous scenario)")
        return rr.unsettled()

    def polled(self) -> tuple[str, str]:
        """A stand-in service behind the VIP the client polls meanwhile (Redis has no HAProxy front)."""
        found = self.stand_in_polled(self.sc.vip)
        if found is None:
            raise LabError(f"no stand-in service behind {self.sc.vip} to poll during {self.sc.name}")
        return found

    def predict(self) -> RedisLossPrediction:
        row = self.ctx.dep.recovery.get(self.sc.service, "node") if self.ctx.dep.recovery and self.sc.service else None
        self.rr: RedisReplicas = self.ctx.shared[_KEY]
        self.rpo_s = row.rpo_s if row else None
        return RedisLossPrediction(
            row.rpo if row else "unknown",
            self.rpo_s,
            "Redis acknowledges a write before any replica has it: the writes the "
            "promoted replica had not received are lost",
        )

    def inject(self) -> None:
        self.old = self.rr.primary
        self.ctx.say(f"  write load on {self.old}, then SIGKILL of its redis-server")
        self.promoted, self.wrote, self.present = self.rr.kill_primary_under_load()

    def measure(self, t0: float, probe: ProbeRun) -> RedisLossMeasurement:
        results = probe.stop()
        self.lost, self.agreed = verdict(self.wrote["acknowledged"], self.present, self.rpo_s)
        return RedisLossMeasurement(
            self.old,
            self.promoted,
            self.wrote["acknowledged"],
            self.lost,
            self.wrote["error"],
            " ".join(self.polled()),
            ProbeSummary.of(results, t0),
        )

    def checks(self, pred: RedisLossPrediction, m: RedisLossMeasurement) -> list[Check]:
        expected = "0" if pred.rpo_s == 0 else ">= 0 (asynchronous)" if pred.rpo_s is None else f"<= {pred.rpo_s}"
        return [
            Check("writes acknowledged", "> 0", m.acknowledged, m.acknowledged > 0),
            Check("acknowledged writes lost", expected, m.lost, self.agreed),
        ]

    def restore(self) -> None:
        if getattr(self, "promoted", None):
            self.rr.restore(self.old, self.promoted)
