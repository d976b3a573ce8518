"""The Pacemaker lab: a real corosync + Pacemaker cluster (:mod:`~hamodel.drill.pacemaker.lab`,
planned by :mod:`~hamodel.drill.pacemaker.cluster_plan`, fenced by the lab's agent
:mod:`~hamodel.drill.pacemaker.fence`), its scenarios
(:mod:`~hamodel.drill.pacemaker.scenarios`; two_node and quorum-device clusters:
:mod:`~hamodel.drill.pacemaker.quorum`) and the cluster lab registered in
:mod:`hamodel.drill.registry` (:mod:`~hamodel.drill.pacemaker.cluster`).
"""
