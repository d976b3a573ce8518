"""The Pacemaker alternative to the keepalived architecture.

Same controllers, network, VIP and OpenStack services (the keepalived
architecture, imported). Pacemaker with corosync quorum and fencing manages
the VIP, HAProxy, Galera, RabbitMQ, Redis and cinder-volume; everything else
runs under systemd on every controller, which restarts failed processes.
This file is the list of differences.
"""

from openstack_keepalived import architecture as keepalived
from openstack_keepalived import mgmt, vip

from hamodel import FenceDevice, PacemakerCluster, SecretRef, VirtualIP
from hamodel.strategies import ActivePassive, PacemakerVip


def pacemaker_managed(service: str, **strategy_changes: object) -> dict[str, object]:
    """The service's own strategy, with Pacemaker as its manager."""
    strategy = keepalived.service(service).strategy
    return {"strategy": strategy.replace(manager="pacemaker", **strategy_changes)}


# Each controller's BMC (IPMI over LAN, on the out-of-band network, which the
# model does not carry) powers it off when the cluster fences it. The
# password is read at build time from the environment, never written here.
ipmi = FenceDevice(
    "ipmi", agent="fence_ipmilan",
    params={"username": "hacluster-fence", "password": SecretRef(env="HAMODEL_IPMI_PASSWORD"), "lanplus": 1},
    per_node={f"ctl-{i}": {"ip": f"10.0.100.22{i}"} for i in (1, 2, 3)},
)

# On the network of the internal VIP, beside it.
redis_vip = VirtualIP("redis-vip", "192.168.1.219", network=mgmt)

architecture = keepalived.replace_services(
    {
        "haproxy": {"strategy": PacemakerVip(vip), "supervisor": "pacemaker"},
        "galera": pacemaker_managed("galera", cold_start="automatic",
                                    recovery="the galera resource agent bootstraps from the most advanced node"),
        "rabbitmq": pacemaker_managed("rabbitmq", cold_start="automatic",
                                      recovery="the rabbitmq resource agent restarts the cluster in order"),
        # Clients reach the writable Redis at an address of its own, which Pacemaker starts only
        # where the clone is promoted (an IPaddr2 colocated with the Promoted role, started after
        # the promote), so it follows the primary on a failover. TripleO reaches the same primary
        # through HAProxy instead (a redis VIP beside HAProxy, a tcp-check for role:master).
        "redis": pacemaker_managed("redis", vips=[redis_vip]),
        # Configured on every controller, started by Pacemaker on one of them.
        "cinder-volume": {"replicas": "all", "strategy": ActivePassive(manager="pacemaker")},
    },
    name="OpenStack, Pacemaker",
    title="The Pacemaker architecture",
    description="Three collapsed controllers; Pacemaker (corosync quorum, fencing) manages VIP and A/P services.",
    pacemaker=PacemakerCluster(on=["controller"], fencing=True, wait_for_all=True, fence=[ipmi],
                               cluster_name="openstack"),
    supervisor="systemd",
    vips=[*keepalived.vips, redis_vip],
)
