"""Failover drills: the generated configs on network-namespace hosts, real daemons, measured.

- :mod:`hamodel.drill.lab`: namespaces, bridges, veths, processes; teardown.
- :mod:`hamodel.drill.configs`: generated configs read and re-rooted into a lab.
- :mod:`hamodel.drill.scenarios`: named, reusable drills; the default set.
- :mod:`hamodel.drill.runner`: measurement, predictions, the JSON report.
"""

from hamodel.drill.lab import Lab, LabError, cleanup_leftovers
from hamodel.drill.runner import run_drill
from hamodel.drill.scenarios import Scenario, default_scenarios

__all__ = ["Lab", "LabError", "Scenario", "cleanup_leftovers", "default_scenarios", "run_drill"]
