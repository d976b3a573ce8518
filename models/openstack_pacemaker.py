"""The Pacemaker alternative to the keepalived architecture.

Same controllers, network, VIP and OpenStack services (imported, not
copied). Pacemaker with corosync quorum and fencing manages the VIP,
HAProxy, Galera, RabbitMQ, Redis and cinder-volume; everything else runs
under systemd on every controller, which restarts failed processes.
"""

from openstack_keepalived import controllers, mgmt, openstack, support, vip

from hamodel import Architecture, PacemakerCluster, Service
from hamodel.strategies import ActivePassive, AppCluster, PacemakerVip

pacemaker_managed = {
    "haproxy": lambda s: s.model_copy(update={"strategy": PacemakerVip(vip), "supervisor": "pacemaker"}),
    "galera": lambda s: s.model_copy(update={"strategy": s.strategy.model_copy(
        update={"manager": "pacemaker", "cold_start": "automatic",
                "recovery": "the galera resource agent bootstraps from the most advanced node"})}),
    "rabbitmq": lambda s: s.model_copy(update={"strategy": s.strategy.model_copy(
        update={"manager": "pacemaker", "cold_start": "automatic",
                "recovery": "the rabbitmq resource agent restarts the cluster in order"})}),
    "redis": lambda s: s.model_copy(update={"strategy": s.strategy.model_copy(update={"manager": "pacemaker"})}),
    # Configured on every controller, started by Pacemaker on one of them.
    "cinder-volume": lambda s: Service("cinder-volume", group="Cinder", on="controller", replicas="all",
                                       depends_on=s.depends_on, strategy=ActivePassive(manager="pacemaker")),
}


def _manage(service: Service) -> Service:
    change = pacemaker_managed.get(service.name)
    return Service.model_validate(change(service).model_dump()) if change else service


architecture = Architecture(
    "OpenStack, Pacemaker",
    description="Three collapsed controllers; Pacemaker (corosync quorum, fencing) manages VIP and A/P services.",
    nodes=controllers, networks=[mgmt], vips=[vip],
    services=[_manage(s) for s in support + openstack],
    pacemaker=PacemakerCluster(on=["controller"], fencing=True, wait_for_all=True),
    supervisor="systemd",
)
