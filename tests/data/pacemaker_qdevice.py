"""A 2-node Pacemaker cluster with a quorum device: ``corosync-qnetd`` on a third
machine outside the cluster (drilled by tests/drill/test_pacemaker_quorum_drill.py).

Three switches in a full mesh, one machine on each: a partition that isolates
one cluster node leaves the other with the qnetd machine (2 of 3 votes).
"""

from hamodel import Architecture, FenceDevice, Network, Node, PacemakerCluster, SecretRef, Service, Switch, VirtualIP
from hamodel.strategies import ActivePassive, PacemakerVip

sw1, sw2, sw3 = Switch("sw-1"), Switch("sw-2"), Switch("sw-3")
lan = Network("lan", subnet="10.78.0.0/24", switches=[sw1, sw2, sw3])
vip = VirtualIP("vip", "10.78.0.100", network=lan)

architecture = Architecture(
    "Pacemaker pair with a quorum device",
    networks=[lan],
    vips=[vip],
    supervisor="systemd",
    nodes=[
        Node("qd-1", roles={"ctl"}, addresses={lan: "10.78.0.1"}, switch=sw1),
        Node("qd-2", roles={"ctl"}, addresses={lan: "10.78.0.2"}, switch=sw2),
        Node("arbiter", roles={"quorum"}, addresses={lan: "10.78.0.9"}, switch=sw3),
    ],
    services=[
        Service("haproxy", on="ctl", ports=[9300], strategy=PacemakerVip(vip), supervisor="pacemaker"),
        Service("cinder-volume", on="ctl", replicas="all", strategy=ActivePassive(manager="pacemaker")),
    ],
    pacemaker=PacemakerCluster(
        on=["ctl"],
        qdevice="arbiter",
        fencing=True,
        cluster_name="qpair",
        fence=[
            FenceDevice(
                "bmc",
                agent="fence_ipmilan",
                params={"username": "fence", "lanplus": 1, "password": SecretRef(env="HAMODEL_IPMI_PASSWORD")},
                per_node={"qd-1": {"ip": "10.9.0.1"}, "qd-2": {"ip": "10.9.0.2"}},
            )
        ],
    ),
)
