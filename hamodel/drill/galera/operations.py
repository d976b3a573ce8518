"""Galera kinds that prove the generated operations material on the drill's real cluster.

- ``galera-runbook``: every member stopped gracefully, then the generated
  runbook executed step by step (:mod:`hamodel.drill.galera.runbook`);
- ``galera-alerts``: a real Prometheus with the generated scrape config and
  rules against real node and mysqld exporters: no alert while healthy,
  the predicted alerts fire within ``for`` + scrapes and resolve after
  recovery, including the runbook's recovery (:mod:`hamodel.drill.galera.monitoring`).

Both share the drill's Galera cluster with the kinds of
:mod:`hamodel.drill.galera.kinds` (registered beside them in
:data:`hamodel.drill.registry.KINDS`).
"""

from __future__ import annotations

from typing import Any

from hamodel.drill.galera.kinds import GaleraKind, GaleraMeasurement, GaleraPrediction
from hamodel.drill.galera.monitoring import available as prometheus_available
from hamodel.drill.galera.monitoring import drill as monitoring_drill
from hamodel.drill.galera.runbook import GaleraRunbook
from hamodel.drill.results import Check
from hamodel.drill.scenario import Scenario

#: The healthy window of ``galera-alerts`` (the issue's "no alert for 2 minutes").
HEALTHY_S = 120.0


class GaleraProcedure(GaleraKind):
    """A kind whose procedure (:meth:`run`: the alerts) reads its prediction from
    the generated material on the running cluster while it runs: ``predict`` names the
    reason, ``inject`` runs the procedure, ``observe`` and ``checks`` report it."""

    def predict(self) -> GaleraPrediction:
        self.attach()
        self.pred = self.prediction({})
        return self.pred

    def run(self) -> dict[str, Any]:
        raise NotImplementedError

    def inject(self) -> None:
        self.result = self.run()

    def observe(self) -> dict[str, Any]:
        self.pred.predicted = self.result["predicted"]
        return self.result["measured"]

    def checks(self, pred: GaleraPrediction, measured: GaleraMeasurement) -> list[Check]:
        return [Check(c["what"], c["expected"], c["measured"], c["agreed"]) for c in self.result["checks"]]


class GaleraAlerts(GaleraProcedure):
    kind = "galera-alerts"
    title = "Galera: the generated alerts on a real Prometheus (healthy, member down, full stop + runbook)"
    function = "alerts"
    reason = (
        "a member down keeps the quorum (no cut set of size 1): its member-down and cluster-size alerts "
        "fire, no-Primary does not; a graceful full stop is the manual-recovery case: no-Primary fires "
        "and resolves once the runbook ran"
    )

    @classmethod
    def offer(cls, dep, vip: str, *, quick: bool, switches: int) -> list[Scenario]:
        if prometheus_available() is not None:
            return []
        return super().offer(dep, vip, quick=quick, switches=switches)

    def run(self) -> dict[str, Any]:
        return monitoring_drill(self.gl, self.ctx.files, healthy_s=HEALTHY_S)  # type: ignore[attr-defined]


KINDS = (GaleraRunbook, GaleraAlerts)
