"""redis-promoted-kill's premise: every survivor replicates the promoted instance, its link up.

A full Pacemaker drill reported "66650 of 66650 acknowledged writes lost" as agreeing
(asynchronous: any loss agrees). The scenario did not look at the replicas before the
power loss; now it records INFO replication and what each survivor holds, and checks both.
"""

from __future__ import annotations

from hamodel.drill.pacemaker.redis_failover import linked_to


def test_a_replica_of_the_promoted_node_with_its_link_up_is_linked():
    info = {"role": "slave", "master_host": "ctl-2", "master_link_status": "up"}
    assert linked_to(info, "ctl-2", "192.168.1.222")
    assert linked_to({**info, "master_host": "192.168.1.222"}, "ctl-2", "192.168.1.222")


def test_a_link_down_another_master_a_master_or_no_answer_is_not():
    info = {"role": "slave", "master_host": "ctl-2", "master_link_status": "up"}
    assert not linked_to({**info, "master_link_status": "down"}, "ctl-2", "192.168.1.222")
    assert not linked_to({**info, "master_host": "ctl-1"}, "ctl-2", "192.168.1.222")
    assert not linked_to({"role": "master"}, "ctl-2", "192.168.1.222")
    assert not linked_to({}, "ctl-2", "192.168.1.222")
