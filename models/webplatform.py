"""An ordinary web platform (not OpenStack): two load balancers with a public
and an internal VIP, a stateless web application with an HTTP health check,
PostgreSQL run by Patroni with its leader lock in a 3-member etcd, Redis
with Sentinel, and the content-management tables in a two-node MariaDB
Galera cluster whose third vote is the Galera arbitrator (garbd).

The data centre is described as it is built: servers dual-corded on two
power feeds and bonded to an MLAG pair of switches whose peer link is one
trunk carrying both VLANs. A small management node in the third rack is the
tie-breaking third member of etcd and of Sentinel, and runs garbd for
Galera (a vote, no data, no HAProxy backend), so that two database nodes
are enough.
"""

from hamodel import Acknowledgement, Architecture, Network, Node, Power, Rack, Reliability, Resources, Service, Switch, Trunk, VirtualIP, Zone
from hamodel.strategies import AppCluster, BehindVip, Elected, External, Vrrp, Witness

site = Zone("dc", site=True)  # the data centre: its loss is the site failure
racks = {i: Rack(f"rack-{i}", parent="dc") for i in (1, 2, 3)}
feeds = [Power("pdu-a"), Power("pdu-b")]
tor_a, tor_b = Switch("tor-a"), Switch("tor-b")
peer = Trunk("mlag-peer", tor_a, tor_b)  # one physical link, both VLANs

internal = Network("internal", subnet="10.20.0.0/24", switches=[tor_a, tor_b], links=[peer])
public = Network("public", subnet="198.51.100.0/26", switches=[tor_a, tor_b], links=[peer])
internal_vip = VirtualIP("internal-vip", "10.20.0.10", network=internal, dns_name="db.web.example.org")
public_vip = VirtualIP("public-vip", "198.51.100.10", network=public, dns_name="www.example.org", exposure="public")


def server(name: str, role: str, rack: int, host: int, lb: bool = False) -> Node:
    addresses = {internal: f"10.20.0.{host}"}
    if lb:
        addresses[public] = f"198.51.100.{host}"
    # The database servers are the big ones: after one fails, the other runs
    # both writers (Patroni's and Galera's) alone.
    big = role == "database"
    return Node(name, roles={role}, domains=[racks[rack]], power=feeds, addresses=addresses, switch=[tor_a, tor_b],
                capacity=Resources(cpu=32, memory_gb=128) if big else Resources(cpu=16, memory_gb=64))


nodes = [
    server("lb-1", "loadbalancer", 1, 11, lb=True), server("lb-2", "loadbalancer", 2, 12, lb=True),
    server("web-1", "app", 1, 21), server("web-2", "app", 2, 22), server("web-3", "app", 3, 23),
    server("db-1", "database", 1, 31), server("db-2", "database", 2, 32),
    server("mgmt-1", "management", 3, 41),
]

architecture = Architecture(
    "Web platform",
    description="Two load balancers, a stateless web tier, Patroni/etcd PostgreSQL and Redis with Sentinel.",
    domains=[site, *racks.values(), *feeds],
    networks=[internal, public],
    nodes=nodes,
    vips=[internal_vip, public_vip],
    supervisor="systemd",
    acknowledgements=[
        Acknowledgement("manual-recovery", "Galera re-forms by itself after a power loss of both database nodes "
                        "(pc.recovery); after a planned shutdown of both, the runbook bootstraps the member with "
                        "the highest seqno (galera_new_cluster), drilled with every maintenance window."),
    ],
    reliability={
        "node": Reliability(mtbf_hours=8760, mttr_hours=8),
        "process": Reliability(mtbf_hours=2000, mttr_hours=0.5),
        "switch": Reliability(mtbf_hours=50_000, mttr_hours=4),
        "trunk": Reliability(availability=0.9999),
        "rack": Reliability(mtbf_hours=100_000, mttr_hours=6),
        "power": Reliability(mtbf_hours=20_000, mttr_hours=2),
        "zone": Reliability(availability=0.99999),
    },
    services=[
        Service("haproxy", group="Edge", on="loadbalancer", ports=[{"port": 9300, "loopback": True}],
                strategy=Vrrp(internal_vip, track="haproxy")),
        Service("haproxy-public", process="haproxy", group="Edge", on="loadbalancer", colocate=["haproxy"],
                strategy=Vrrp(public_vip, track="haproxy")),
        Service("web", group="App", on="app", depends_on=["postgres", "redis", "galera"],
                requests=Resources(cpu=4, memory_gb=8),
                # HTTPS on the public VIP (port 80 redirects to it); the app serves plain HTTP on 8080.
                strategy=BehindVip(public_vip, port=443, mode="http", check={"http_path": "/healthz"},
                                   backend_port=8080,
                                   tls={"certificate": "/etc/pki/tls/www.pem", "redirect_from": 80})),
        Service("etcd", group="Data", on=["database", "management"], replicas=3, ports=[2379, 2380],
                strategy=AppCluster(cold_start="automatic", recovery="etcd members rejoin from their data directory")),
        # Patroni: the leader holds a lock in etcd; HAProxy sends writes to the
        # member whose REST API answers 200 on /primary.
        Service("postgres", group="Data", on="database", replicas=2, ports=[8008],
                requests=Resources(cpu=8, memory_gb=32),
                strategy=Elected(by="etcd", access=BehindVip(internal_vip, port=5432, single_writer=True,
                                                             check={"port": 8008, "http_path": "/primary"}))),
        Service("sentinel", process="redis-sentinel", group="Data", on=["database", "management"], replicas=3,
                ports=[26379], strategy=AppCluster(cold_start="automatic", recovery="sentinels rediscover the master")),
        # Redis under Sentinel: a master cut off from the Sentinel majority
        # does not step down, it keeps writing while the majority promotes
        # the replica (split brain). Here no switch or trunk failure can cut
        # the database nodes apart (both bonded to both switches): the
        # analysis finds no split brain. min-replicas-to-write 1
        # (min_replicas=1) would stop a cut-off master, but with one replica
        # it makes each Redis node a single point of failure for writes.
        Service("redis", group="Data", on="database", replicas=2, ports=[6379],
                strategy=Elected(by="sentinel", steps_down=False)),
        # The CMS tables: Galera on the two database nodes. garbd on mgmt-1 is
        # the third vote: one database node lost leaves 2 of 3 votes, where a
        # plain two-node Galera would stop (1 of 2 is no majority).
        Service("galera", process="mariadb", group="Data", on="database", replicas=2, ports=[4567],
                requests=Resources(cpu=4, memory_gb=16),
                strategy=AppCluster(recovery="galera_new_cluster on the member with the highest seqno",
                                    cold_start="automatic-after-crash",
                                    access=BehindVip(internal_vip, port=3306, single_writer=True,
                                                     check={"port": 9200, "http_path": "/"}))),
        Service("garbd", group="Data", on="management", ports=[4567], strategy=Witness("galera")),
        Service("monitoring", group="Operations", strategy=External(provides=["monitoring"])),
    ],
)
