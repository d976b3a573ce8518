"""The typed model: valid input builds, each class of invalid input is
rejected with an error naming the object and field."""

from __future__ import annotations

import json

import pytest

from hamodel import (
    Acknowledgement,
    Architecture,
    ModelError,
    Network,
    Node,
    PacemakerCluster,
    Rack,
    Reliability,
    Service,
    Switch,
    VirtualIP,
    Zone,
)
from hamodel.strategies import ActivePassive, AppCluster, BehindVip, Coordinated, External, PacemakerVip, Sharded, Vrrp


def small(**over):
    """A 3-controller architecture; keyword arguments replace fields."""
    mgmt = Network("mgmt", subnet="10.0.0.0/24")
    vip = VirtualIP("vip", "10.0.0.100", network=mgmt)
    nodes = [
        Node(f"n{i}", roles={"controller"}, domains=[Rack(f"r{i}")], addresses={mgmt: f"10.0.0.{i}"}) for i in (1, 2, 3)
    ]
    services = [
        Service("haproxy", on="controller", strategy=Vrrp(vip, track="haproxy")),
        Service("api", on="controller", strategy=BehindVip(vip, port=8080)),
    ]
    data = {"nodes": nodes, "networks": [mgmt], "vips": [vip], "services": services}
    data.update(over)
    return Architecture("small", **data)


def problems(excinfo) -> str:
    return str(excinfo.value)


def test_valid_small_architecture_builds_and_collects_domains():
    arch = small()
    assert [d.name for d in arch.domains] == ["r1", "r2", "r3"]
    assert arch.node("n1").interfaces[0].device == "eth0"
    assert arch.service("haproxy").holds_vips == ["vip"]
    assert arch.service("api").access.ports == [8080]


def test_positional_and_reference_by_object():
    net = Network("lan", subnet="2001:db8::/64")
    node = Node("a", roles=["db"], addresses={net: "2001:db8::1"})
    assert node.interfaces[0].network == "lan"
    assert str(node.interfaces[0].address) == "2001:db8::1"


def test_every_strategy_kind_is_expressible():
    vip_net = Network("m", subnet="10.1.0.0/24")
    vip = VirtualIP("v", "10.1.0.9", network=vip_net)
    nodes = [Node(f"c{i}", roles={"controller"}, addresses={vip_net: f"10.1.0.{i}"}) for i in (1, 2, 3)]
    arch = Architecture(
        "all",
        nodes=nodes,
        networks=[vip_net],
        vips=[vip],
        pacemaker=PacemakerCluster(on=["controller"]),
        services=[
            Service("haproxy", on="controller", strategy=PacemakerVip(vip)),
            Service(
                "db",
                on="controller",
                replicas=3,
                strategy=AppCluster(access=BehindVip(vip, port=3306, single_writer=True)),
            ),
            Service("cond", on="controller", strategy=Coordinated(via=["db"])),
            Service("vol", on="controller", strategy=ActivePassive(manager="pacemaker")),
            Service("lb", on="controller", strategy=Sharded()),
            Service("mon", on="controller", replicas=1, strategy=External(provides="monitoring")),
        ],
    )
    kinds = sorted(s.strategy.kind for s in arch.services)
    assert kinds == ["active_passive", "app_cluster", "coordinated", "external", "pacemaker_vip", "sharded"]
    assert arch.service("cond").dependencies == ["db"]
    assert arch.service("vol").mode == "A/P"


@pytest.mark.parametrize(
    "build, expected",
    [
        (
            lambda: small(services=[Service("x", on="controller", strategy=ActivePassive(), pin=["ctl-4"])]),
            "services[x].pin: unknown node 'ctl-4'",
        ),
        (
            lambda: small(services=[Service("x", on="storage", strategy=Coordinated())]),
            "services[x].on: no node has role 'storage'",
        ),
        (
            lambda: small(services=[Service("x", on="controller", depends_on=["nope"], strategy=Coordinated())]),
            "services[x].depends_on: unknown service 'nope'",
        ),
        (
            lambda: small(services=[Service("h", on="controller", strategy=Vrrp("ghost"))]),
            "services[h].strategy.vips: unknown virtual IP 'ghost'",
        ),
        (
            lambda: small(
                services=[
                    Service("a", on="controller", strategy=BehindVip("vip", port=80)),
                    Service("b", on="controller", strategy=BehindVip("vip", port=80)),
                ]
            ),
            "services[b].strategy.ports: 10.0.0.100:80 is already claimed by services[a]",
        ),
        (
            lambda: small(
                services=[
                    Service("a", on="controller", strategy=Coordinated()),
                    Service("a", on="controller", strategy=Coordinated()),
                ]
            ),
            "services[a]: name used 2 times",
        ),
        (
            lambda: small(vips=[VirtualIP("vip", "10.0.0.1", network="mgmt")]),
            "vips[vip].address: 10.0.0.1 is also the address of nodes[n1]",
        ),
        (
            lambda: small(vips=[VirtualIP("vip", "10.9.0.1", network="mgmt")]),
            "vips[vip].address: 10.9.0.1 is not in mgmt's subnet 10.0.0.0/24",
        ),
        (
            lambda: small(
                services=[
                    Service("a", on="controller", depends_on=["b"], strategy=Coordinated()),
                    Service("b", on="controller", depends_on=["a"], strategy=Coordinated()),
                ]
            ),
            "dependency cycle",
        ),
        (
            lambda: small(services=[Service("a", on="controller", strategy=ActivePassive(manager="pacemaker"))]),
            "services[a].strategy: managed by Pacemaker, but the architecture has no pacemaker cluster",
        ),
        (
            lambda: small(
                services=[
                    Service("a", on="controller", ports=[9000]),
                ]
                if False
                else [
                    Service("a", on="controller", ports=[9000], strategy=Coordinated()),
                    Service("b", on="controller", ports=[9000], strategy=Coordinated()),
                ]
            ),
            "services[b].ports: port 9000 on role 'controller' is already claimed by services[a]",
        ),
        (
            lambda: small(services=[Service("a", on="controller", anti_affinity="zone", strategy=Coordinated())]),
            "services[a].anti_affinity: no failure domain of kind 'zone'",
        ),
    ],
)
def test_cross_reference_errors_name_object_and_field(build, expected):
    with pytest.raises(ModelError) as exc:
        build()
    assert expected in problems(exc)


def test_address_outside_subnet_names_node_interface():
    mgmt = Network("mgmt", subnet="10.0.0.0/24")
    with pytest.raises(ModelError) as exc:
        Architecture("x", networks=[mgmt], nodes=[Node("n1", roles=["c"], addresses={mgmt: "10.0.1.5"})])
    assert "nodes[n1].interfaces[eth0].address: 10.0.1.5 is not in mgmt's subnet 10.0.0.0/24" in str(exc.value)


def test_duplicate_node_address():
    mgmt = Network("mgmt", subnet="10.0.0.0/24")
    with pytest.raises(ModelError) as exc:
        Architecture(
            "x", networks=[mgmt], nodes=[Node(f"n{i}", roles=["c"], addresses={mgmt: "10.0.0.5"}) for i in (1, 2)]
        )
    assert "nodes[n2].interfaces[eth0].address: 10.0.0.5 is already used by nodes[n1]" in str(exc.value)


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda: Node("bad name", roles=["c"]), "Node[bad name].name: invalid name 'bad name'"),
        (lambda: Service("x\n  bind *:22", on="c", strategy=Coordinated()), "invalid name 'x\\n  bind *:22'"),
        (lambda: Network("n", subnet="10.0.0.1/24"), "Network[n].subnet"),
        (lambda: Service("s", on="c", strategy=BehindVip("v", port=70000)), "ports[0]"),
        (
            lambda: Service("s", on="c", strategy=BehindVip("v", port=80, sticky=True)),
            "sticky: cookie stickiness needs mode='http'",
        ),
        (
            lambda: Service("s", on="c", strategy=BehindVip("v", port=80, tls={"certificate": "/etc/my cert.pem"})),
            "invalid path",
        ),
        (
            lambda: Service("s", on="c", replicas=2, strategy=ActivePassive()),
            "unmanaged active/passive service runs exactly one instance",
        ),
        (lambda: Service("s", on="c", strategy=Vrrp("v", vrid=0)), "vrid"),
        (lambda: Reliability(mtbf_hours=10), "give availability, or both mtbf_hours and mttr_hours"),
        (lambda: Service("s", on="c", strategy={"kind": "magic"}), "strategy"),
        (
            lambda: Service("s", on="c", strategy=Coordinated(), colour="blue"),
            "Service[s].colour: Extra inputs are not permitted",
        ),
    ],
)
def test_field_errors_name_object_and_field(build, expected):
    with pytest.raises(ModelError) as exc:
        build()
    assert expected in str(exc.value)


def test_nested_domains_and_switches():
    z = Zone("z1")
    sws = [Switch("s1"), Switch("s2")]
    net = Network("m", subnet="10.0.0.0/24", switches=sws)
    nodes = [
        Node(
            f"n{i}",
            roles=["c"],
            domains=[Rack(f"r{i}", parent="z1")],
            addresses={net: f"10.0.0.{i}"},
            switch=sws[i - 1],
        )
        for i in (1, 2)
    ]
    arch = Architecture("x", domains=[z], networks=[net], nodes=nodes)
    assert arch.node_domains("n1") == ["r1", "z1"]
    assert net.switch_links() == [("s1", "s2")]
    with pytest.raises(ModelError) as exc:
        Architecture("x", domains=[z], networks=[net], nodes=[Node("n1", roles=["c"], addresses={net: "10.0.0.1"})])
    assert "nodes[n1].interfaces[eth0].switch: network 'm' has several switches" in str(exc.value)


def test_domain_cycle_and_unknown_parent():
    with pytest.raises(ModelError) as exc:
        Architecture(
            "x", domains=[Rack("a", parent="b"), Rack("b", parent="a")], nodes=[Node("n", roles=["c"], domains=["a"])]
        )
    assert "failure domains nest in a cycle" in str(exc.value)
    with pytest.raises(ModelError) as exc:
        Architecture("x", nodes=[Node("n", roles=["c"], domains=[Rack("a", parent="nowhere")])])
    assert "domains[a].parent: unknown failure domain 'nowhere'" in str(exc.value)


def test_json_round_trip_is_byte_identical():
    arch = small(acknowledgements=[Acknowledgement("split-brain:haproxy", "accepted: single switch")])
    text = arch.to_json()
    again = Architecture.from_json(text)
    assert again == arch
    assert again.to_json() == text
    assert json.loads(text)["acknowledgements"][0]["finding"] == "split-brain:haproxy"


def test_json_errors_name_the_object():
    data = json.loads(small().to_json())
    data["services"][1]["strategy"]["ports"] = [0]
    with pytest.raises(ModelError) as exc:
        Architecture.from_json(json.dumps(data))
    assert "services[api].strategy.ports[0]" in str(exc.value)
    with pytest.raises(ModelError) as exc:
        Architecture.from_json("{not json")
    assert "invalid JSON at line 1" in str(exc.value)


def test_models_are_immutable():
    arch = small()
    with pytest.raises(Exception):
        arch.name = "other"  # type: ignore[misc]


def test_json_schema_describes_strategies():
    schema = Architecture.model_json_schema()
    text = json.dumps(schema)
    for kind in (
        "vrrp",
        "behind_vip",
        "app_cluster",
        "coordinated",
        "active_passive",
        "sharded",
        "external",
        "pacemaker_vip",
    ):
        assert f'"{kind}"' in text


def test_acknowledgement_ids_follow_service_names():
    ack = Acknowledgement("spof:Cinder-Volume", "accepted until the A/A driver lands")
    assert ack.finding == "spof:Cinder-Volume"
    with pytest.raises(ModelError) as exc:
        Acknowledgement("spof:x\nbind", "reason")
    assert "Acknowledgement.finding" in str(exc.value)
