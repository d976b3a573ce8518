"""Hypothesis strategies for models, shared by the tests.

- :func:`small_models` -- 2 to 4 nodes, every strategy kind, hard, local
  and soft dependencies, with a placement: the failure-analysis oracle's
  family;
- :func:`dc_models` -- data-centre constructs (dual-corded power, bonds
  with and without a ``bond_mode`` (NIC and cable components),
  trunks, witnesses, delegated quorum, Pacemaker two_node / qdevice /
  fencing, ``Service.clients`` as a network, a switch or external) with a
  placement;
- :func:`architectures` -- either of the two: an ``(Architecture,
  Placement)`` pair for a property that must hold of any placed model;
- :func:`lb_models` -- load-balancer tier models (as model data, a dict)
  exercising the HAProxy / keepalived settings, for the config validators.
"""

from __future__ import annotations

from hypothesis import strategies as st

from hamodel import Architecture, Local, Network, Node, PacemakerCluster, Rack, Service, Soft, Switch, VirtualIP
from hamodel.deployment import Placement
from hamodel.strategies import ActivePassive, AppCluster, BehindVip, Coordinated, PacemakerVip, Sharded, Vrrp

STRATS = ["vrrp", "pcmk_vip", "behind", "cluster", "cluster_access", "coord", "ap", "ap_pcmk", "sharded"]


@st.composite
def small_models(draw):
    n_nodes = draw(st.integers(2, 4))
    n_racks = draw(st.integers(1, n_nodes))
    n_sw = draw(st.integers(1, 3))
    switches = [Switch(f"sw{i}") for i in range(n_sw)]
    links = "mesh" if draw(st.booleans()) or n_sw < 3 else [("sw0", "sw1"), ("sw1", "sw2")]
    net = Network("lan", subnet="10.0.0.0/24", switches=switches, links=links)
    vip = VirtualIP("vip", "10.0.0.100", network=net)
    nodes = [
        Node(
            f"n{i}",
            roles={"r"},
            domains=[Rack(f"rack{draw(st.integers(0, n_racks - 1))}")],
            addresses={net: f"10.0.0.{10 + i}"},
            switch=switches[draw(st.integers(0, n_sw - 1))],
        )
        for i in range(n_nodes)
    ]
    names = [n.name for n in nodes]
    n_svc = draw(st.integers(1, 4))
    kinds = [draw(st.sampled_from(STRATS)) for _ in range(n_svc)]
    services, placement = [], {}
    has_holder = False
    ap_addr = VirtualIP("apvip", "10.0.0.101", network=net)
    ap_vip = False
    for i, kind in enumerate(kinds):
        name = f"s{i}"
        deps = []
        for j in range(i):  # hard (1 in 4), local or soft (1 in 16 each) dependencies
            kind_of = draw(st.sampled_from(["none"] * 10 + ["hard"] * 4 + ["local", "soft"]))
            if kind_of != "none":
                deps.append({"hard": f"s{j}", "local": Local(f"s{j}"), "soft": Soft(f"s{j}")}[kind_of])
        inst = sorted(draw(st.sets(st.sampled_from(names), min_size=1, max_size=n_nodes)))
        kw = {}
        if kind in ("vrrp", "pcmk_vip") and not has_holder:
            has_holder = True
            strat = Vrrp(vip, track=name) if kind == "vrrp" else PacemakerVip(vip)
        elif kind in ("vrrp", "pcmk_vip", "behind"):
            strat = BehindVip(vip, port=1000 + i)
        elif kind == "cluster":
            strat = AppCluster()
        elif kind == "cluster_access":
            strat = AppCluster(access=BehindVip(vip, port=1000 + i))
        elif kind == "coord":
            strat = Coordinated()
        elif kind == "ap":
            strat = ActivePassive()
            kw["replicas"] = 1
            inst = inst[:1]
        elif kind == "ap_pcmk":
            # Its own address follows it (once per model: a VIP has one holder).
            own = not ap_vip and draw(st.booleans())
            strat = ActivePassive(manager="pacemaker", vips=[ap_addr] if own else [])
            ap_vip = ap_vip or own
        else:
            strat = Sharded()
        services.append(Service(name, on="r", depends_on=deps, strategy=strat, **kw))
        placement[name] = inst
    pcmk = (
        PacemakerCluster(on=["r"], fencing=draw(st.booleans()))
        if draw(st.booleans()) or any(k in ("pcmk_vip", "ap_pcmk") for k in kinds)
        else None
    )
    arch = Architecture(
        "random",
        nodes=nodes,
        networks=[net],
        vips=[vip, *([ap_addr] if ap_vip else [])],
        services=services,
        pacemaker=pcmk,
    )
    return arch, Placement(placement)


@st.composite
def dc_models(draw):
    from hamodel import FailureDomain, Power, Trunk
    from hamodel.strategies import Elected, Witness

    n_nodes = draw(st.integers(2, 4))
    room = FailureDomain("room", kind="room")
    feeds = [Power("pa", parent="room" if draw(st.booleans()) else None), Power("pb")]
    sws = [Switch(f"sw{i}") for i in range(draw(st.integers(2, 3)))]
    shared = draw(st.booleans())
    trunk = [Trunk("t01", "sw0", "sw1")] + ([("sw1", "sw2")] if len(sws) == 3 else [])
    lan = Network("lan", subnet="10.0.0.0/24", switches=sws, links=trunk if shared else "mesh")
    stor = Network(
        "stor", subnet="10.1.0.0/24", switches=sws[:2], links=[Trunk("t01", "sw0", "sw1")] if shared else "mesh"
    )
    two_nets = draw(st.booleans())
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    nodes = []
    for i in range(n_nodes):
        power = draw(st.sampled_from(["dual", "a", "b"]))
        bond = draw(st.booleans())
        home = draw(st.integers(0, len(sws) - 1))
        switch = [sws[home], sws[(home + 1) % len(sws)]] if bond else sws[home]
        addresses = {lan: f"10.0.0.{10 + i}"}
        if two_nets and home < 2 and (not bond or home + 1 < 2):  # stor spans sw0 and sw1 only
            addresses[stor] = f"10.1.0.{10 + i}"
        kw = {"power": feeds} if power == "dual" else {"domains": [feeds[0] if power == "a" else feeds[1]]}
        # Now and then the bond says how it is built: its members' NICs and cables count.
        mode = draw(st.sampled_from([None, None, None, "active-backup", "mlag"] if bond else [None] * 5 + ["802.3ad"]))
        if mode is not None:
            kw["bond_mode"] = mode
        nodes.append(Node(f"n{i}", roles={"r"}, addresses=addresses, switch=switch, **kw))
    names = [n.name for n in nodes]

    def some(min_size=1):
        return sorted(draw(st.sets(st.sampled_from(names), min_size=min_size, max_size=n_nodes)))

    services, placement = [], {}
    members = some()
    # Where clients come in (Service.clients): a network (stor only if a node is on it), a switch, external.
    on_stor = any("stor" in {i.network for i in n.interfaces} for n in nodes)
    coord_clients = draw(st.sampled_from([None, None, "lan", "stor" if on_stor else "lan", sws[-1].name]))
    services.append(Service("coord", on="r", strategy=AppCluster(), clients=coord_clients))
    placement["coord"] = members
    if draw(st.booleans()):
        services.append(Service("wit", on="r", strategy=Witness("coord")))
        placement["wit"] = [draw(st.sampled_from(names))]
    leaders = some()
    # Patroni-like (steps down) or Sentinel-like, with min-replicas-to-write.
    services.append(
        Service(
            "leader",
            on="r",
            strategy=Elected(
                by="coord", steps_down=draw(st.booleans()), min_replicas=draw(st.integers(0, min(2, len(leaders) - 1)))
            ),
        )
    )
    placement["leader"] = leaders
    kind = draw(st.sampled_from(["vrrp", "pcmk"]))
    services.append(Service("lb", on="r", strategy=Vrrp(vip) if kind == "vrrp" else PacemakerVip(vip)))
    placement["lb"] = some()
    services.append(Service("ap", on="r", strategy=ActivePassive(manager="pacemaker")))
    placement["ap"] = some()
    web_clients = draw(st.sampled_from([{}, {}, {"clients": "lan"}, {"clients": "external", "uplink": "sw0"}]))
    services.append(
        Service(
            "web",
            on="r",
            depends_on=["leader"] if draw(st.booleans()) else [],
            strategy=BehindVip(vip, port=80),
            **web_clients,
        )
    )
    placement["web"] = some()
    qd = draw(st.sampled_from(["none", "two_node", "qdevice"]))
    pcmk_on = ["r"]
    if qd == "qdevice":
        nodes.append(Node("q", roles={"arb"}, addresses={lan: "10.0.0.99"}, switch=sws[-1], domains=[feeds[1]]))
    elif qd == "two_node" and n_nodes != 2:
        qd = "none"
    pcmk = PacemakerCluster(
        on=pcmk_on, fencing=draw(st.booleans()), two_node=qd == "two_node", qdevice="q" if qd == "qdevice" else None
    )
    arch = Architecture(
        "dc",
        domains=[room],
        nodes=nodes,
        networks=[lan, stor] if two_nets else [lan],
        vips=[vip],
        services=services,
        pacemaker=pcmk,
    )
    return arch, Placement(placement)


def architectures():
    """A placed model from either family: ``(Architecture, Placement)``."""
    return st.one_of(small_models(), dc_models())


PORTS = [80, 443, 3306, 5000, 8080, 9292]


@st.composite
def lb_models(draw):
    n = draw(st.integers(1, 4))
    ipv6 = draw(st.booleans())
    if ipv6:
        lan, vip_addr, addrs = (
            Network("lan", subnet="fd00:20::/64"),
            "fd00:20::100",
            [f"fd00:20::{i + 10}" for i in range(1, n + 1)],
        )
    else:
        lan, vip_addr, addrs = (
            Network("lan", subnet="10.20.0.0/24"),
            "10.20.0.100",
            [f"10.20.0.{i + 10}" for i in range(1, n + 1)],
        )
    vip = VirtualIP("vip", vip_addr, network=lan)
    devices = draw(st.sampled_from(["eth0", "ens3", "bond0.100"]))
    nodes = [
        Node(f"lb{i}", roles={"lb"}, interfaces=[{"network": "lan", "address": a, "device": devices}])
        for i, a in enumerate(addrs, 1)
    ]
    vrrp = Vrrp(
        vip,
        track="haproxy",
        preempt=draw(st.booleans()),
        unicast=draw(st.booleans()),
        advert_int=draw(st.integers(1, 5)),
        garp_master_refresh_s=draw(st.none() | st.integers(1, 60)),
        notify=draw(st.none() | st.just("/usr/local/bin/vrrp-notify")),
        # VRRPv3 (IPv6) has no auth: that refusal is tested in test_configs.py
        auth=None if ipv6 else draw(st.none() | st.just({"env": "HYP_VRRP"})),
    )
    services = [Service("haproxy", on="lb", ports=[9300], strategy=vrrp)]
    ports = draw(st.lists(st.sampled_from(PORTS), min_size=0, max_size=3, unique=True))
    for i, port in enumerate(ports):
        mode = draw(st.sampled_from(["tcp", "http"]))
        services.append(
            {
                "name": f"api{i}",
                "on": "lb",
                "replicas": draw(st.integers(1, n)),
                "strategy": {
                    "kind": "behind_vip",
                    "vip": "vip",
                    "ports": [port],
                    "mode": mode,
                    "balance": draw(st.sampled_from(["roundrobin", "leastconn", "source", "first"])),
                    "sticky": mode == "http" and draw(st.booleans()),
                    "single_writer": mode == "tcp" and draw(st.booleans()),
                    "check": {
                        "inter_ms": draw(st.sampled_from([500, 1000, 2000])),
                        "rise": draw(st.integers(1, 3)),
                        "fall": draw(st.integers(1, 3)),
                        "http_path": draw(st.none() | st.just("/health")),
                        "port": draw(st.none() | st.just(9200)),
                    },
                    "timeout_client_s": draw(st.none() | st.integers(1, 7200)),
                    "timeout_server_s": draw(st.none() | st.integers(1, 7200)),
                    "tcp_keepalive": draw(st.booleans()),
                    "tls": {"certificate": "/etc/ssl/private/api.pem"} if port == 443 else None,
                    "accept_single_backend": draw(st.booleans()),
                    "backend_port_offset": draw(st.sampled_from([0, 10000])),
                },
            }
        )
    return {"name": "hypothesis", "nodes": nodes, "networks": [lan], "vips": [vip], "services": services}
