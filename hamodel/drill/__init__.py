"""Failover drills: the generated configs on network-namespace hosts, real daemons, measured.

Shared by every lab:

- :mod:`hamodel.drill.lab`: namespaces, bridges, veths, processes; teardown.
- :mod:`hamodel.drill.reroot`: generated configs read and re-rooted into a lab.
- :mod:`hamodel.drill.files`: the generated files a drill runs, computed once.
- :mod:`hamodel.drill.plan`: what the keepalived lab holds, from the model and the generated files.
- :mod:`hamodel.drill.observe`: VIP holders, the client's probe, HAProxy and keepalived states.
- :mod:`hamodel.drill.scenario`: the scenario protocol (``ScenarioKind``; ``ClusterLab``).
- :mod:`hamodel.drill.registry`: every scenario kind and cluster lab, registered in one place.
- :mod:`hamodel.drill.scenarios`: named, reusable drills; the default set; selection by name.
- :mod:`hamodel.drill.margins`: the one margin policy (where a bound's slack comes from, and why).
- :mod:`hamodel.drill.results`: typed results (checks, probe summaries, scenarios).
- :mod:`hamodel.drill.runner`: the keepalived lab's life cycle: lab up, settled, each scenario,
  teardown, signals; hands cluster-managed deployments to their cluster lab.
- :mod:`hamodel.drill.report`: the report assembled and formatted.
- :mod:`hamodel.drill.command`: ``hamodel drill``, the one entry point.

One sub-package per lab, holding its scenarios: :mod:`hamodel.drill.keepalived`
(VRRP, HAProxy, stand-in backends, Redis), :mod:`hamodel.drill.galera` (a real
Galera cluster behind the keepalived lab's HAProxy), :mod:`hamodel.drill.pacemaker`
(a real corosync/Pacemaker cluster).
"""

from hamodel.drill.lab import Lab, LabError, cleanup_leftovers
from hamodel.drill.runner import run_drill
from hamodel.drill.scenarios import Scenario, default_scenarios

__all__ = ["Lab", "LabError", "Scenario", "cleanup_leftovers", "default_scenarios", "run_drill"]
