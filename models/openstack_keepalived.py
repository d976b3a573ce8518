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


# Runtime dependencies, from each project's installation guide (what its
# config file must point at): the database, the message bus, Keystone (token
# validation) and memcached (tokens, sessions). A start order that a guide
# gives ("start Ceilometer before Heat") is `starts_after`, not a dependency.
DB, BUS, AUTH = "galera", "rabbitmq", "keystone"


def api(name: str, *ports: int, group: str, needs: tuple[str, ...], http: bool = False, **lb) -> Service:
    """An OpenStack API on every controller, load balanced behind the VIP."""
    return Service(name, group=group, on="controller", depends_on=list(needs),
                   strategy=BehindVip(vip, ports=list(ports), mode="http" if http else "tcp",
                                      check={"inter_ms": CHECK_INTER_MS}, **lb))


def per_controller(name: str, group: str, via=(BUS,), mechanism: Mechanism = "rpc", **kw) -> Service:
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
            # Each node waits at boot for the peer that stopped last (10 x 30 s by default).
            strategy=AppCluster(cold_start="automatic-when-all-back",
                                recovery="rabbitmqctl force_boot on a survivor (the last node down is gone)")),
    # A replica set elects a primary by itself once a majority is back;
    # a forced reconfig is for a majority lost for good.
    Service("mongodb", group="Support", on="controller", replicas=3, ports=[27017],
            strategy=AppCluster(cold_start="automatic",
                                recovery="when a majority is lost for good: rs.reconfig with force "
                                         "on a survivor")),
    Service("memcached", group="Support", on="controller", ports=[11211],
            strategy=Coordinated(mechanism="client-list")),
    Service("redis", group="Support", on="controller", replicas=3, ports=[6379, 26379],
            strategy=AppCluster(cold_start="automatic", recovery="sentinel elects a master",
                                replication="asynchronous")),  # a write is acknowledged before a replica has it
]

openstack = [
    api("keystone", 5000, 35357, group="Keystone", needs=(DB, "memcached")),
    api("glance-api", 9292, group="Glance", needs=(DB, AUTH)),
    api("glance-registry", 9191, group="Glance", needs=(DB, AUTH)),
    api("nova-api", 8774, 8775, group="Nova", needs=(DB, BUS, AUTH)),
    api("nova-novncproxy", 6080, group="Nova", needs=(BUS,)),  # console tokens over RPC
    per_controller("nova-cert", "Nova"),
    per_controller("nova-scheduler", "Nova"),
    per_controller("nova-conductor", "Nova", depends_on=[DB]),  # nova's database proxy
    api("cinder-api", 8776, group="Cinder", needs=(DB, BUS, AUTH)),
    *(per_controller(n, "Cinder", depends_on=[DB]) for n in ("cinder-scheduler", "cinder-backup")),
    # Configured on every controller, running on one: nothing moves it.
    Service("cinder-volume", group="Cinder", on="controller", replicas=1,
            depends_on=[BUS, DB], strategy=ActivePassive(
                manager=None, reason="running it active/active was not supported (concurrent access to a volume)",
                see=["https://blueprints.launchpad.net/cinder/+spec/cinder-volume-active-active-support"])),
    api("neutron-server", 9696, group="Neutron", needs=(DB, BUS, AUTH)),
    per_controller("neutron-dhcp-agent", "Neutron", mechanism="agent-scheduling"),
    per_controller("neutron-l3-agent", "Neutron", mechanism="l3-ha"),
    # The metadata agent proxies instances' requests to nova's metadata API.
    per_controller("neutron-metadata-agent", "Neutron", mechanism="per-node", depends_on=["nova-api"]),
    *(per_controller(n, "Neutron", mechanism="per-node")
      for n in ("neutron-openvswitch-agent", "neutron-metering-agent")),
    Service("neutron-lbaas-agent", group="Neutron", on="controller", depends_on=[BUS],
            strategy=Sharded(shard="the tenant load balancers it hosts")),
    # Sessions in memcached; HAProxy keeps a client on one node (cookie).
    api("horizon", 80, group="Horizon", needs=(AUTH, "memcached"), http=True, sticky=True),
    api("ceilometer-api", 8777, group="Ceilometer", needs=("mongodb", AUTH)),  # the metering store
    per_controller("ceilometer-central", "Ceilometer", via=("redis", BUS), mechanism="tooz"),
    per_controller("ceilometer-alarm-evaluator", "Ceilometer", mechanism="per-node", depends_on=["mongodb"]),
    *(per_controller(n, "Ceilometer", mechanism="per-node")
      for n in ("ceilometer-alarm-notifier", "ceilometer-notification")),
    api("heat-api", 8004, group="Heat", needs=(BUS, AUTH)),  # RPC to heat-engine
    api("heat-api-cfn", 8000, group="Heat", needs=(BUS, AUTH)),
    api("heat-api-cloudwatch", 8003, group="Heat", needs=(BUS, AUTH)),
    # "Start Ceilometer before Heat" is a start order, not a runtime need.
    per_controller("heat-engine", "Heat", depends_on=[DB, AUTH], starts_after=["ceilometer-api"]),
    api("swift-proxy", 8080, group="Swift", needs=(AUTH, "memcached")),
    api("sahara-api", 8386, group="Sahara", needs=(DB, BUS, AUTH)),
    api("trove-api", 8779, group="Trove", needs=(DB, BUS, AUTH)),
]

architecture = Architecture(
    "OpenStack, keepalived",
    title="The keepalived architecture",  # the reference page's title
    description="Three collapsed controllers; keepalived VRRP moves one VIP between HAProxy instances.",
    # What the reference page says of its distribution (it names no exact release).
    distribution="RDO / Red Hat OpenStack Platform, services of the Mitaka timeframe (no exact release stated)",
    nodes=controllers, networks=[mgmt], vips=[vip],
    services=support + openstack,
)
