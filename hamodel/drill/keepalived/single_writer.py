"""``single-writer``: the active writer of an active/backup service dies; traffic must move to one backup.

Like :mod:`~hamodel.drill.keepalived.backend_death`, but the victim is the
active (non-``backup``) server and, after the detection window, every
request must go to exactly one backup: the first one in the generated
proxy (HAProxy uses the first usable backup unless ``allbackups``).
"""

from __future__ import annotations

from hamodel.deployment import Deployment
from hamodel.drill import reroot
from hamodel.drill.keepalived.backend_death import BackendDeath, BackendDeathMeasurement
from hamodel.drill.keepalived.common import owner
from hamodel.drill.lab import LabError
from hamodel.drill.results import Check
from hamodel.drill.scenario import Scenario


class SingleWriter(BackendDeath):
    kind = "single-writer"
    title = "The active writer of an active/backup service dies; traffic must move to one backup"
    writer = True

    @classmethod
    def offer(cls, dep: Deployment, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        return [
            Scenario(f"{cls.kind}:{s.name}", cls.kind, vip, s.name)
            for s in dep.architecture.services
            if s.access is not None
            and s.access.vip == vip
            and s.access.single_writer
            and len(dep.placement.nodes_of(s.name)) > 1
        ]

    def victim(self, be: reroot.Backend) -> tuple[reroot.Server, str | None]:
        active = next((s for s in be.servers if not s.backup), None)
        backups = [s for s in be.servers if s.backup]
        if active is None or not backups:
            raise LabError(f"{self.sc.service}: no active/backup servers in {self.proxy}")
        return active, owner(self.ctx, backups[0].address)

    def traffic_check(self, m: BackendDeathMeasurement) -> Check:
        return Check(
            "traffic after the window goes to exactly one backup",
            [self.expected_node],
            self.served,
            self.served == [self.expected_node],
        )

    def restore(self) -> None:
        was_down = getattr(self, "down", False)
        super().restore()
        if was_down:
            self.notes.append(
                "haproxy 'stick on dst' keeps the writer on the backup after the old active returns "
                "(no flapping back): observed traffic was not re-measured after restore"
            )
