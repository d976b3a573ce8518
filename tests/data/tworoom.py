"""Two server rooms and a closet: a small company's own deployment (tried as a new user;
the expectations in tests/unit/test_tworoom.py were reasoned out by hand before hamodel ran)."""

from hamodel import Architecture, Network, Node, Power, Service, Switch, VirtualIP, Zone
from hamodel.strategies import AppCluster, BehindVip, Vrrp, Witness

rooms = {r: Zone(f"room-{r}") for r in "abc"}
feeds = {r: Power(f"feed-{r}") for r in "abc"}
sw = {r: Switch(f"sw-{r}") for r in "abc"}
lan = Network("lan", subnet="10.1.0.0/24", switches=list(sw.values()))  # mesh: a-b, a-c, b-c
vip = VirtualIP("vip", "10.1.0.100", network=lan)


def host(name, role, room, ip):
    return Node(
        name, roles={role}, domains=[rooms[room], feeds[room]], addresses={lan: f"10.1.0.{ip}"}, switch=sw[room]
    )


nodes = [
    host("lb-a", "lb", "a", 11),
    host("lb-b", "lb", "b", 12),
    host("app-a", "app", "a", 21),
    host("app-b", "app", "b", 22),
    host("db-a", "db", "a", 31),
    host("db-b", "db", "b", 32),
    host("wit-c", "witness", "c", 41),
]

architecture = Architecture(
    "two rooms",
    domains=[*rooms.values(), *feeds.values(), *sw.values()],
    networks=[lan],
    nodes=nodes,
    vips=[vip],
    services=[
        Service("haproxy", on="lb", ports=[{"port": 9300, "loopback": True}], strategy=Vrrp(vip, track="haproxy")),
        Service(
            "app",
            on="app",
            replicas=2,
            depends_on=["galera", "rabbitmq"],
            strategy=BehindVip(vip, port=8080, mode="http", check={"http_path": "/health"}),
        ),
        Service(
            "galera",
            process="mariadb",
            on="db",
            replicas=2,
            ports=[4567],
            strategy=AppCluster(
                recovery="bootstrap the highest seqno",
                access=BehindVip(vip, port=3306, single_writer=True, check={"port": 9200, "http_path": "/"}),
            ),
        ),
        Service("garbd", on="witness", ports=[4567], strategy=Witness("galera")),
        Service(
            "rabbitmq",
            on="app",
            replicas=2,
            ports=[5672],
            strategy=AppCluster(quorum=2, recovery="restart last-down first"),
        ),
    ],
)
