"""A larger OpenStack control plane: dedicated load-balancer, controller,
database and network nodes across three racks in one zone (the site),
dual-corded on two power feeds, a top-of-rack switch per rack (meshed), the
load balancers' public interfaces bonded to both edge switches, and two VIPs
(internal and public).

It exercises what the reference models do not: placement across racks,
rack-level anti-affinity, capacity, two networks, two VRRP groups and
reliability figures for availability estimates.
"""

from hamodel import Acknowledgement, Architecture, Network, Node, Power, Rack, Reliability, Resources, Service, Switch, VirtualIP, Zone
from hamodel.strategies import ActivePassive, AppCluster, BehindVip, Coordinated, Front, Sharded, Vrrp

zone = Zone("dc1", site=True)  # the data centre: its loss is the site failure
racks = [Rack(f"rack-{i}", parent="dc1") for i in (1, 2, 3)]
feeds = [Power("pdu-a"), Power("pdu-b")]
tors = [Switch(f"tor-{i}") for i in (1, 2, 3)]
edges = [Switch("edge-1"), Switch("edge-2")]

internal = Network("internal", subnet="10.10.0.0/24", switches=tors, reserved_vrids=[51, 52])
public = Network("public", subnet="203.0.113.0/26", switches=edges)
internal_vip = VirtualIP("internal-vip", "10.10.0.10", network=internal, dns_name="internal.cloud.example.org")
public_vip = VirtualIP("public-vip", "203.0.113.10", network=public, dns_name="cloud.example.org", exposure="public")

ROLES = {"lb": ("loadbalancer", 10), "ctl": ("controller", 20), "db": ("database", 30), "net": ("network", 40)}


def node(prefix: str, i: int) -> Node:
    role, base = ROLES[prefix]
    interfaces: list[dict] = [{"network": "internal", "address": f"10.10.0.{base + i}", "device": "eth0", "switch": f"tor-{i}"}]
    if role == "loadbalancer":  # bonded to both edge switches (MLAG pair)
        interfaces.append({"network": "public", "address": f"203.0.113.{base + i}", "device": "eth1",
                           "switch": f"edge-{1 + (i % 2)}", "bond": [f"edge-{2 - (i % 2)}"]})
    # Dual-corded: a node stops only when both feeds are down.
    return Node(f"{prefix}-{i}", roles={role}, domains=[racks[i - 1]], power=feeds,
                capacity=Resources(cpu=32, memory_gb=128), interfaces=interfaces)


nodes = [node(p, i) for p in ROLES for i in (1, 2, 3)]


def public_api(name: str, port: int, internal: bool = True, **kw) -> Service:
    """An API on the public VIP behind TLS and, unless internal=False, on the
    internal VIP in clear text: the other services reach it there instead of
    going out through the public VIP. Every API validates tokens with keystone,
    which it reaches on keystone's internal front."""
    kw = {"mode": "http", "tls": {"certificate": "/etc/pki/tls/cloud.pem"}, **kw}
    also = [Front(internal_vip)] if internal else []
    return Service(name, group="API", on="controller", depends_on=["galera", "rabbitmq", "keystone"],
                   requests=Resources(cpu=2, memory_gb=4),
                   strategy=BehindVip(public_vip, port=port, also_on=also, **kw))


architecture = Architecture(
    "OpenStack, multi-rack",
    description="Dedicated node roles across three racks with ToR switches, two power feeds and two VIPs.",
    domains=[zone, *racks, *feeds, *tors, *edges],
    networks=[internal, public],
    nodes=nodes,
    vips=[internal_vip, public_vip],
    reliability={
        "node": Reliability(mtbf_hours=8760, mttr_hours=8),
        "process": Reliability(mtbf_hours=2000, mttr_hours=0.5),
        "link": Reliability(availability=0.9999),
        "switch": Reliability(mtbf_hours=50_000, mttr_hours=4),
        "rack": Reliability(mtbf_hours=100_000, mttr_hours=6),
        "power": Reliability(mtbf_hours=20_000, mttr_hours=2),
        "zone": Reliability(availability=0.99999),
    },
    supervisor="systemd",
    acknowledgements=[
        Acknowledgement("spof:cinder-volume", "Volumes live on the Ceph cluster; the runbook restarts "
                        "cinder-volume on another controller within 15 minutes, which the volume SLA allows."),
    ],
    services=[
        # Statistics without a password: on 127.0.0.1 only.
        Service("haproxy", group="Support", on="loadbalancer", ports=[{"port": 9300, "loopback": True}],
                strategy=Vrrp(internal_vip, track="haproxy")),
        Service("haproxy-public", process="haproxy", group="Support", on="loadbalancer",
                colocate=["haproxy"], strategy=Vrrp(public_vip, track="haproxy", preempt=True)),
        Service("galera", process="mariadb", group="Support", on="database", replicas=3, anti_affinity="rack",
                ports=[4567], requests=Resources(cpu=8, memory_gb=32),
                # Galera's pc.recovery: after a crash of every member it re-forms by itself once all
                # are back (the drill measures it); a graceful stop of all needs the bootstrap.
                strategy=AppCluster(recovery="galera bootstrap from the node with the highest seqno",
                                    cold_start="automatic-after-crash", replication="synchronous",
                                    access=BehindVip(internal_vip, port=3306, single_writer=True,
                                                     check={"port": 9200, "http_path": "/"}))),
        Service("rabbitmq", group="Support", on="controller", replicas=3, anti_affinity="rack",
                ports=[5672], requests=Resources(cpu=4, memory_gb=8),
                strategy=AppCluster(recovery="rabbitmq cluster restart, last node down started first")),
        Service("memcached", group="Support", on="controller", ports=[11211], strategy=Coordinated(mechanism="client-list")),
        Service("keystone", group="API", on="controller", depends_on=["galera"],
                requests=Resources(cpu=2, memory_gb=4),
                strategy=BehindVip(public_vip, port=5000, mode="http", check={"http_path": "/v3"},
                                   tls={"certificate": "/etc/pki/tls/cloud.pem"}, also_on=[Front(internal_vip)])),
        public_api("nova-api", 8774, check={"http_path": "/"}),
        public_api("neutron-server", 9696, check={"http_path": "/"}),
        # Image uploads: long server timeout; GET / answers 300 (version list), /versions 200.
        public_api("glance-api", 9292, check={"http_path": "/versions"}, timeout_server_s=3600, tcp_keepalive=True),
        # TLS ends at HAProxy; the horizon backends (Apache) serve plain HTTP on 80. Port 80 of
        # the public VIP redirects to HTTPS. Users only: no internal front.
        public_api("horizon", 443, internal=False, backend_port=80, sticky=True,
                   tls={"certificate": "/etc/pki/tls/horizon.pem", "redirect_from": 80}),
        Service("nova-conductor", group="Nova", on="controller", strategy=Coordinated(via=["rabbitmq", "galera"])),
        Service("nova-scheduler", group="Nova", on="controller", replicas=2, anti_affinity="rack",
                strategy=Coordinated(via=["rabbitmq"])),
        Service("neutron-l3-agent", group="Neutron", on="network", strategy=Coordinated(via=["rabbitmq"], mechanism="l3-ha")),
        Service("neutron-dhcp-agent", group="Neutron", on="network", strategy=Coordinated(via=["rabbitmq"], mechanism="agent-scheduling")),
        Service("neutron-lbaas-agent", group="Neutron", on="network", depends_on=["rabbitmq"],
                strategy=Sharded(shard="the tenant load balancers it hosts")),
        Service("cinder-volume", group="Cinder", on="controller", replicas=1, pin=["ctl-2"],
                depends_on=["rabbitmq", "galera"], strategy=ActivePassive()),
    ],
)
