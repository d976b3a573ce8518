"""The physical and logical diagrams draw what the model says about the data
centre (issue 10): a bonded interface is an edge to every switch of the
bond, marked as a bond; a dual-corded node has a cord from each of its
feeds; a trunk is one edge however many networks it carries; a witness is
drawn as a vote-only member. Checked on the rendered SVG (graphviz's edge
classes and titles), not only on the source text."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hamodel.generators.diagrams import _id, render, render_dot

from hamodel import Architecture, Network, Node, Power, Rack, Service, Switch, Trunk, VirtualIP, Zone
from hamodel.deployment import Finding
from hamodel.pipeline import resolve
from hamodel.strategies import AppCluster, BehindVip, Vrrp, Witness

SVG = "{http://www.w3.org/2000/svg}"

DC = Zone("dc", site=True)
RACKS = [Rack(f"r{i}", parent="dc") for i in (1, 2, 3)]
FEEDS = [Power("pdu-a"), Power("pdu-b")]
TOR_A, TOR_B = Switch("tor-a"), Switch("tor-b")


def platform(trunk: bool = True) -> Architecture:
    """Two load balancers and two database nodes, dual-corded and bonded to
    both switches; a small arbiter node on one feed and one switch runs the
    Galera arbitrator. With ``trunk`` one physical link carries both
    networks; without, each network meshes its own link."""
    links = [Trunk("peer", TOR_A, TOR_B)] if trunk else "mesh"
    lan = Network("lan", subnet="10.0.0.0/24", switches=[TOR_A, TOR_B], links=links)
    pub = Network("pub", subnet="192.0.2.0/26", switches=[TOR_A, TOR_B], links=links)
    vip = VirtualIP("vip", "10.0.0.100", network=lan)

    def server(name: str, role: str, rack: int, host: int) -> Node:
        addresses = {lan: f"10.0.0.{host}"}
        if role == "lb":
            addresses[pub] = f"192.0.2.{host}"
        return Node(name, roles={role}, domains=[RACKS[rack]], power=FEEDS, addresses=addresses, switch=[TOR_A, TOR_B])

    nodes = [
        server("lb-1", "lb", 0, 11),
        server("lb-2", "lb", 1, 12),
        server("db-1", "db", 0, 21),
        server("db-2", "db", 1, 22),
        # Single-corded (a feed in domains stops it alone), one port.
        Node("arb-1", roles={"arbiter"}, domains=[RACKS[2], "pdu-a"], addresses={lan: "10.0.0.31"}, switch=TOR_A),
    ]
    return Architecture(
        "dc",
        domains=[DC, *RACKS, *FEEDS, TOR_A, TOR_B],
        networks=[lan, pub],
        nodes=nodes,
        vips=[vip],
        supervisor="systemd",
        services=[
            Service("haproxy", on="lb", strategy=Vrrp(vip, track="haproxy")),
            Service(
                "galera",
                process="mariadb",
                on="db",
                replicas=2,
                ports=[4567],
                strategy=AppCluster(access=BehindVip(vip, port=3306, single_writer=True)),
            ),
            Service("garbd", on="arbiter", strategy=Witness("galera")),
        ],
    )


@pytest.fixture(scope="module")
def dep():
    return resolve(platform())


def edges(svg: bytes) -> list[tuple[str, str, set[str], str]]:
    """Every edge of a rendered SVG: (tail id, head id, its classes, its text)."""
    out = []
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        classes = set(g.get("class", "").split())
        if "edge" not in classes:
            continue
        title = g.find(f"{SVG}title").text
        tail, head = re.split(r"->|--", title)
        text = " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
        tips = " ".join(a.get("{http://www.w3.org/1999/xlink}title", "") for a in g.iter(f"{SVG}a"))
        out.append((tail.split(":")[0], head.split(":")[0], classes - {"edge"}, f"{text} {tips}"))
    return out


def between(es, a: str, b: str) -> list[tuple[str, str, set[str], str]]:
    return [e for e in es if {e[0], e[1]} == {a, b}]


def physical(dep, finding: Finding | None = None):
    return edges(render(dep, "physical", finding=finding, formats=["svg"])["svg"])


def test_a_bonded_interface_is_an_edge_to_every_switch_of_the_bond(dep) -> None:
    es = physical(dep)
    for n in ("lb-1", "lb-2", "db-1", "db-2"):
        for sw in ("tor-a", "tor-b"):
            found = between(es, _id("node", n), _id("switch", sw))
            # One edge per (node, switch), however many interfaces share it.
            assert len(found) == 1, (n, sw, found)
            assert "bond" in found[0][2], found
    # The load balancers' two interfaces are both bonded to tor-a.
    assert "eth0, eth1 bond to tor-a" in between(es, _id("node", "lb-1"), _id("switch", "tor-a"))[0][3]
    # The arbiter is on tor-a only, through an ordinary port.
    assert [e[2] for e in between(es, _id("node", "arb-1"), _id("switch", "tor-a"))] == [{"port"}]
    assert between(es, _id("node", "arb-1"), _id("switch", "tor-b")) == []
    dot = render_dot(dep, "physical")
    assert "eth0 10.0.0.21 bond tor-a + tor-b" in dot


def test_a_dual_corded_node_has_a_cord_from_each_feed(dep) -> None:
    es = physical(dep)
    for n in ("lb-1", "lb-2", "db-1", "db-2"):
        for feed in ("pdu-a", "pdu-b"):
            found = between(es, _id("power", feed), _id("node", n))
            assert [e[2] for e in found] == [{"power", "dual-corded"}], (n, feed, found)
    # The arbiter's feed is in its domains: one cord, not dual-corded.
    assert [e[2] for e in between(es, _id("power", "pdu-a"), _id("node", "arb-1"))] == [{"power"}]
    assert between(es, _id("power", "pdu-b"), _id("node", "arb-1")) == []
    assert "dual-corded: pdu-a + pdu-b" in render_dot(dep, "physical")


def test_a_trunk_is_one_edge_carrying_both_networks(dep) -> None:
    es = physical(dep)
    found = between(es, _id("switch", "tor-a"), _id("switch", "tor-b"))
    assert len(found) == 1 and found[0][2] == {"trunk"}
    assert "trunk peer: lan, pub" in found[0][3]
    # Without the trunk each network has its own link, failing alone.
    meshed = physical(resolve(platform(trunk=False)))
    links = between(meshed, _id("switch", "tor-a"), _id("switch", "tor-b"))
    assert sorted(e[3].split("link ")[1].split(":")[0] for e in links) == ["lan", "pub"]
    assert all(e[2] == {"link"} for e in links)


def test_a_witness_is_drawn_as_a_vote_only_member(dep) -> None:
    dot = render_dot(dep, "physical")
    # In its node's table, apart from the services: italic, its own colour.
    assert re.search(r"<I>garbd \(witness: votes in galera\)</I>", dot)
    assert "<I>galera" not in dot
    # The overview: the witness cluster votes in the application cluster.
    over = edges(render(dep, "overview", formats=["svg"])["svg"])
    votes = [e for e in over if "witness-vote" in e[2]]
    assert [(e[0], e[1]) for e in votes] == [(_id("strategy", "witness"), _id("strategy", "app_cluster"))]
    assert "votes in galera" in votes[0][3]
    assert "witness, votes in galera" in render_dot(dep, "logical")


def _scenario(*failed: str) -> Finding:
    return Finding(
        id="test", kind="test", severity="high", title="test", services=(), scenario=failed, impact="", mitigation=""
    )


def test_one_feed_down_stops_only_the_single_corded_node(dep) -> None:
    dot = render_dot(dep, "physical", _scenario("domain:pdu-a"))
    failed = set(re.findall(r"<B>([a-z0-9-]+)</B> <FONT COLOR=\"#C0392B\">\(failed\)", dot))
    assert failed == {"arb-1"}
    es = physical(dep, _scenario("domain:pdu-a"))
    # pdu-a's cords are drawn failed (dashed red), pdu-b's are not.
    assert "power pdu-a (failed)" in dot and "power pdu-b (failed)" not in dot
    both = render_dot(dep, "physical", _scenario("domain:pdu-a", "domain:pdu-b"))
    failed = set(re.findall(r"<B>([a-z0-9-]+)</B> <FONT COLOR=\"#C0392B\">\(failed\)", both))
    assert failed == {"lb-1", "lb-2", "db-1", "db-2", "arb-1"}
    assert len(es) == len(physical(dep))


def test_a_cut_trunk_and_a_failed_switch_are_marked(dep) -> None:
    es = physical(dep, _scenario("trunk:peer", "switch:tor-a"))
    trunk = between(es, _id("switch", "tor-a"), _id("switch", "tor-b"))
    assert "(cut)" in trunk[0][3]
    dot = render_dot(dep, "physical", _scenario("trunk:peer", "switch:tor-a"))
    assert "style=dashed" in next(line for line in dot.splitlines() if "class=trunk" in line)
    # Bond edges to the failed switch are dashed, those to tor-b are not.
    to_a = [line for line in dot.splitlines() if "class=bond" in line and _id("switch", "tor-a") in line]
    to_b = [line for line in dot.splitlines() if "class=bond" in line and _id("switch", "tor-b") in line]
    assert len(to_a) == len(to_b) == 4
    assert all("style=dashed" in line for line in to_a) and not any("style=dashed" in line for line in to_b)


def test_how_an_elected_leader_behaves_when_cut_off_is_written() -> None:
    from hamodel.loader import load
    from hamodel.strategies import Elected

    arch = load(__import__("pathlib").Path(__file__).resolve().parents[2] / "models" / "webplatform.py")
    dep = resolve(arch)
    over = render_dot(dep, "overview")
    assert "leader lock in etcd<" in over  # Patroni steps down: nothing more to say
    assert "leader lock in sentinel, old master keeps writing" in over
    redis = arch.service("redis").model_copy(
        update={"strategy": Elected(by="sentinel", steps_down=False, min_replicas=1)}
    )
    from hamodel.generators.diagrams import _how

    assert _how(redis) == "leader lock in sentinel, old master keeps writing, min 1 replica"
