"""A 2-node Pacemaker cluster with corosync's ``two_node`` and fencing (drilled by
tests/drill/test_pacemaker_quorum_drill.py).

Each node has a switch of its own (one inter-switch link between them) and a
fence device of its own; the device that fences ``pm-1`` waits
``delay_base_s`` (``pcmk_delay_base``) before it acts, so in a partition
``pm-1`` fences ``pm-2`` first and survives: the node the analysis assumes
wins the fence race (the first cluster node by name).
"""

from hamodel import Architecture, FenceDevice, Network, Node, PacemakerCluster, SecretRef, Service, Switch, VirtualIP
from hamodel.strategies import ActivePassive, PacemakerVip

sw1, sw2 = Switch("sw-1"), Switch("sw-2")
lan = Network("lan", subnet="10.77.0.0/24", switches=[sw1, sw2])
vip = VirtualIP("vip", "10.77.0.100", network=lan)


def bmc(node: str, ip: str, delay: int = 0) -> FenceDevice:
    return FenceDevice(
        f"bmc-{node}",
        agent="fence_ipmilan",
        targets=[node],
        delay_base_s=delay,
        params={"ip": ip, "username": "fence", "password": SecretRef(env="HAMODEL_IPMI_PASSWORD"), "lanplus": 1},
    )


architecture = Architecture(
    "Pacemaker two_node pair",
    networks=[lan],
    vips=[vip],
    supervisor="systemd",
    nodes=[
        Node("pm-1", roles={"ctl"}, addresses={lan: "10.77.0.1"}, switch=sw1),
        Node("pm-2", roles={"ctl"}, addresses={lan: "10.77.0.2"}, switch=sw2),
    ],
    services=[
        Service("haproxy", on="ctl", ports=[9300], strategy=PacemakerVip(vip), supervisor="pacemaker"),
        Service("cinder-volume", on="ctl", replicas="all", strategy=ActivePassive(manager="pacemaker")),
    ],
    pacemaker=PacemakerCluster(
        on=["ctl"],
        two_node=True,
        fencing=True,
        cluster_name="pair",
        fence=[bmc("pm-1", "10.9.0.1", delay=10), bmc("pm-2", "10.9.0.2")],
    ),
)
