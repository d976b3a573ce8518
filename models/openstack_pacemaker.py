"""The Pacemaker alternative to the keepalived architecture.

Same controllers, network, VIP and OpenStack services (the keepalived
architecture, imported). Pacemaker with corosync quorum and fencing manages
the VIP, HAProxy, Galera, RabbitMQ, Redis and cinder-volume; everything else
runs under systemd on every controller, which restarts failed processes.
This file is the list of differences.
"""

from openstack_keepalived import architecture as keepalived
from openstack_keepalived import vip

from hamodel import PacemakerCluster
from hamodel.strategies import ActivePassive, PacemakerVip


def pacemaker_managed(service: str, **strategy_changes: object) -> dict[str, object]:
    """The service's own strategy, with Pacemaker as its manager."""
    strategy = keepalived.service(service).strategy
    return {"strategy": strategy.replace(manager="pacemaker", **strategy_changes)}


architecture = keepalived.replace_services(
    {
        "haproxy": {"strategy": PacemakerVip(vip), "supervisor": "pacemaker"},
        "galera": pacemaker_managed("galera", cold_start="automatic",
                                    recovery="the galera resource agent bootstraps from the most advanced node"),
        "rabbitmq": pacemaker_managed("rabbitmq", cold_start="automatic",
                                      recovery="the rabbitmq resource agent restarts the cluster in order"),
        "redis": pacemaker_managed("redis"),
        # Configured on every controller, started by Pacemaker on one of them.
        "cinder-volume": {"replicas": "all", "strategy": ActivePassive(manager="pacemaker")},
    },
    name="OpenStack, Pacemaker",
    description="Three collapsed controllers; Pacemaker (corosync quorum, fencing) manages VIP and A/P services.",
    pacemaker=PacemakerCluster(on=["controller"], fencing=True, wait_for_all=True),
    supervisor="systemd",
)
