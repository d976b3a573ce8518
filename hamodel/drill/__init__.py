"""Failover drills: the generated configs on network-namespace hosts, real daemons, measured.

- :mod:`hamodel.drill.lab`: namespaces, bridges, veths, processes; teardown.
- :mod:`hamodel.drill.configs`: generated configs read and re-rooted into a lab.
- :mod:`hamodel.drill.plan`: what the lab holds, from the model and the generated files.
- :mod:`hamodel.drill.observe`: VIP holders, the client's probe, HAProxy and keepalived states.
- :mod:`hamodel.drill.kinds`: one module per scenario kind (predict, inject, measure,
  checks, restore), registered in :data:`hamodel.drill.kinds.KINDS`.
- :mod:`hamodel.drill.scenarios`: named, reusable drills; the default set.
- :mod:`hamodel.drill.results`: typed results (checks, probe summaries, scenarios).
- :mod:`hamodel.drill.runner`: the life cycle: lab up, settled, each scenario, teardown, signals.
- :mod:`hamodel.drill.report`: the report assembled, printed and written; the ``hamodel drill`` flow.
"""

from hamodel.drill.lab import Lab, LabError, cleanup_leftovers
from hamodel.drill.runner import run_drill
from hamodel.drill.scenarios import Scenario, default_scenarios

__all__ = ["Lab", "LabError", "Scenario", "cleanup_leftovers", "default_scenarios", "run_drill"]
