"""A small bonded design for the switch-failure drill (tests/drill/test_drill_bonds.py).

Two load balancers (keepalived + HAProxy) and ``app-1`` are bonded to both
switches of an MLAG-style pair whose peer link is one trunk; ``app-2`` has a
single port, on ``sw-b``. The analysis predicts: ``sw-a`` failing stops
nothing and moves no VIP (every node keeps the network through ``sw-b``);
``sw-b`` failing leaves the VIP where it is and ``app`` degraded (``app-2``
unreachable: HAProxy marks it DOWN).
"""

from hamodel import Architecture, Network, Node, Service, Switch, Trunk, VirtualIP
from hamodel.strategies import BehindVip, Vrrp

sw_a, sw_b = Switch("sw-a"), Switch("sw-b")
peer = Trunk("peer", sw_a, sw_b)
lan = Network("lan", subnet="10.78.0.0/24", switches=[sw_a, sw_b], links=[peer])
vip = VirtualIP("vip", "10.78.0.100", network=lan)

architecture = Architecture(
    "Bonded pair",
    networks=[lan],
    vips=[vip],
    supervisor="systemd",
    nodes=[
        Node("lb-1", roles={"lb"}, addresses={lan: "10.78.0.11"}, switch=[sw_a, sw_b]),
        Node("lb-2", roles={"lb"}, addresses={lan: "10.78.0.12"}, switch=[sw_a, sw_b]),
        # Bonded the other way round: its first member (the active one at start) is on sw-b.
        Node("app-1", roles={"app"}, addresses={lan: "10.78.0.21"}, switch=[sw_b, sw_a]),
        Node("app-2", roles={"app"}, addresses={lan: "10.78.0.22"}, switch=sw_b),
    ],
    services=[
        Service("haproxy", on="lb", ports=[{"port": 9300, "loopback": True}], strategy=Vrrp(vip, track="haproxy")),
        Service("app", on="app", replicas=2, strategy=BehindVip(vip, port=8080)),
    ],
)
