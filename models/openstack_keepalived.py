"""OpenStack on three collapsed controllers, made highly available with
keepalived and HAProxy (the RDO / RHEL OSP "keepalived architecture").

One row per service of the reference table; the strategy says how each one
survives failures. The limitations of this design are not written here:
``hamodel check`` derives them.
"""

from hamodel import Architecture, Network, Node, Rack, Service, Switch, VirtualIP
from hamodel.strategies import ActivePassive, AppCluster, BehindVip, Coordinated, Mechanism, Sharded, Vrrp

# Each controller sits in its own rack behind its own top-of-rack switch; the
# three switches are meshed, so one cut link partitions nothing, two can.
switches = [Switch(f"sw-{i}") for i in (1, 2, 3)]
mgmt = Network("mgmt", subnet="192.168.1.0/24", switches=switches)
vip = VirtualIP("controller-vip", "192.168.1.220", network=mgmt, dns_name="openstack.example.com")

controllers = [
    Node(f"ctl-{i}", roles={"controller"}, domains=[Rack(f"r{i}")],
         addresses={mgmt: f"192.168.1.22{i}"}, switch=switches[i - 1])
    for i in (1, 2, 3)
]


# HAProxy runs on the controllers it balances: when one dies, keepalived moves
# the VIP after 3 x advert_int = 3 s, so HAProxy must have marked that node's
# backends DOWN by then: fall 3 x inter 500 ms + 500 ms connect = 2 s
# (`hamodel check` reports detection-order otherwise).
CHECK_INTER_MS = 500


def api(name: str, *ports: int, group: str, http: bool = False, **lb) -> Service:
    """An OpenStack API on every controller, load balanced behind the VIP."""
    return Service(name, group=group, on="controller", depends_on=["galera", "rabbitmq", "keystone"] if name != "keystone" else ["galera"],
                   strategy=BehindVip(vip, ports=list(ports), mode="http" if http else "tcp",
                                      check={"inter_ms": CHECK_INTER_MS}, **lb))


def per_controller(name: str, group: str, via=("rabbitmq",), mechanism: Mechanism = "rpc", **kw) -> Service:
    """One instance per controller, coordinating over the message bus."""
    return Service(name, group=group, on="controller",
                   strategy=Coordinated(via=list(via), mechanism=mechanism), **kw)


support = [
    # Statistics without a password: on 127.0.0.1 only (the stats socket serves the drills).
    Service("haproxy", group="Support", on="controller", ports=[{"port": 9300, "loopback": True}],
            strategy=Vrrp(vip, track="haproxy")),
    Service("galera", process="mariadb", group="Support", on="controller", replicas=3, ports=[4567],
            strategy=AppCluster(quorum="majority", recovery="galera bootstrap from the node with the highest seqno",
                                cold_start="automatic-after-crash",  # pc.recovery: measured by the Galera drill
                                replication="synchronous",  # certification: a committed write is on every member
                                access=BehindVip(vip, port=3306, single_writer=True,
                                                 check={"port": 9200, "http_path": "/", "inter_ms": CHECK_INTER_MS},
                                                 timeout_client_s=90 * 60, timeout_server_s=90 * 60))),
    Service("rabbitmq", group="Support", on="controller", replicas=3, ports=[5672, 25672],
            strategy=AppCluster(recovery="rabbitmq cluster restart, last node down started first")),
    Service("mongodb", group="Support", on="controller", replicas=3, ports=[27017],
            strategy=AppCluster(recovery="mongodb replica set recovery (rs.reconfig with force)")),
    Service("memcached", group="Support", on="controller", ports=[11211],
            strategy=Coordinated(mechanism="client-list")),
    Service("redis", group="Support", on="controller", replicas=3, ports=[6379, 26379],
            strategy=AppCluster(cold_start="automatic", recovery="sentinel elects a master",
                                replication="asynchronous")),  # a write is acknowledged before a replica has it
]

openstack = [
    api("keystone", 5000, 35357, group="Keystone"),
    api("glance-api", 9292, group="Glance"),
    api("glance-registry", 9191, group="Glance"),
    api("nova-api", 8774, 8775, group="Nova"),
    api("nova-novncproxy", 6080, group="Nova"),
    *(per_controller(n, "Nova") for n in ("nova-cert", "nova-scheduler", "nova-conductor")),
    api("cinder-api", 8776, group="Cinder"),
    *(per_controller(n, "Cinder") for n in ("cinder-scheduler", "cinder-backup")),
    # Configured on every controller, running on one: nothing moves it.
    Service("cinder-volume", group="Cinder", on="controller", replicas=1,
            depends_on=["rabbitmq", "galera"], strategy=ActivePassive(manager=None)),
    api("neutron-server", 9696, group="Neutron"),
    per_controller("neutron-dhcp-agent", "Neutron", mechanism="agent-scheduling"),
    per_controller("neutron-l3-agent", "Neutron", mechanism="l3-ha"),
    *(per_controller(n, "Neutron", mechanism="per-node")
      for n in ("neutron-metadata-agent", "neutron-openvswitch-agent", "neutron-metering-agent")),
    Service("neutron-lbaas-agent", group="Neutron", on="controller", depends_on=["rabbitmq"],
            strategy=Sharded(shard="the tenant load balancers it hosts")),
    api("horizon", 80, group="Horizon", http=True, sticky=True),
    api("ceilometer-api", 8777, group="Ceilometer"),
    per_controller("ceilometer-central", "Ceilometer", via=("redis", "rabbitmq"), mechanism="tooz"),
    *(per_controller(n, "Ceilometer", mechanism="per-node")
      for n in ("ceilometer-alarm-notifier", "ceilometer-alarm-evaluator", "ceilometer-notification")),
    api("heat-api", 8004, group="Heat"),
    api("heat-api-cfn", 8000, group="Heat"),
    api("heat-api-cloudwatch", 8003, group="Heat"),
    per_controller("heat-engine", "Heat", depends_on=["ceilometer-api"]),
    api("swift-proxy", 8080, group="Swift"),
    api("sahara-api", 8386, group="Sahara"),
    api("trove-api", 8779, group="Trove"),
]

architecture = Architecture(
    "OpenStack, keepalived",
    description="Three collapsed controllers; keepalived VRRP moves one VIP between HAProxy instances.",
    nodes=controllers, networks=[mgmt], vips=[vip],
    services=support + openstack,
)
