"""Patroni on etcd, three racks whose switches form a chain sw1 - sw2 - sw3."""

from hamodel import Architecture, Network, Node, Rack, Service, Switch, VirtualIP
from hamodel.strategies import AppCluster, BehindVip, Elected, Vrrp

racks = [Rack(f"r{i}") for i in (1, 2, 3)]
sw = [Switch(f"sw{i}") for i in (1, 2, 3)]
lan = Network("lan", subnet="10.40.0.0/24", switches=sw, links=[("sw1", "sw2"), ("sw2", "sw3")])
db_vip = VirtualIP("db-vip", "10.40.0.100", network=lan)


def node(name, role, i, host):
    return Node(name, roles={role}, domains=[racks[i - 1]], addresses={lan: f"10.40.0.{host}"}, switch=sw[i - 1])


nodes = [
    node("lb-1", "lb", 1, 11),
    node("lb-2", "lb", 3, 13),
    node("e-1", "etcd", 1, 21),
    node("e-2", "etcd", 2, 22),
    node("e-3", "etcd", 3, 23),
    node("pg-1", "pg", 1, 31),
    node("pg-2", "pg", 3, 33),
    node("app-1", "app", 1, 41),
    node("app-2", "app", 3, 43),
]

architecture = Architecture(
    "Patroni on a switch chain",
    domains=racks,
    networks=[lan],
    nodes=nodes,
    vips=[db_vip],
    services=[
        Service("haproxy", on="lb", strategy=Vrrp(db_vip, track="haproxy")),
        Service("etcd", on="etcd", replicas=3, ports=[2379, 2380], strategy=AppCluster()),
        Service(
            "postgres",
            on="pg",
            replicas=2,
            ports=[5432],
            strategy=Elected(
                "etcd", access=BehindVip(db_vip, port=5432, check={"http_path": "/primary", "port": 8008})
            ),
        ),
        Service("app", on="app", replicas=2, depends_on=["postgres"], strategy=Elected("etcd")),
    ],
)
