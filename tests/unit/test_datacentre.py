"""Real data centres in the model (issue 10): site boundaries, redundant
power and network attachment, trunks, witnesses, delegated quorum, Pacemaker
quorum details, external services, findings explained by their cause.

Cut sets here are reasoned by hand in the comments, then checked through
both the Z3 encoding and the plain-Python evaluator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hamodel import (
    Architecture,
    FailureDomain,
    Network,
    Node,
    PacemakerCluster,
    Power,
    Rack,
    Service,
    Site,
    Switch,
    Trunk,
    VirtualIP,
)
from hamodel.analysis.components import view
from hamodel.analysis.cutsets import Analyzer, brute_force_cut_sets
from hamodel.analysis.failures import analyse
from hamodel.analysis.placement import Unplaceable, place
from hamodel.analysis.semantics import Evaluation
from hamodel.analysis.tolerance import tolerant_place
from hamodel.cli import app
from hamodel.deployment import Placement
from hamodel.errors import ModelError
from hamodel.strategies import (
    ActivePassive,
    AppCluster,
    BehindVip,
    Coordinated,
    Elected,
    External,
    PacemakerVip,
    Vrrp,
    Witness,
)

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def findings(arch, placement=None, k=2):
    r = place(arch) if placement is None else None
    p = placement or r.placement
    return {f.id: f for f in analyse(arch, p, k=k, vrrp_groups=r.vrrp_groups if r else ())}


def cuts(arch, placement, s, k=2):
    """Cut sets of ``s`` from Z3, asserted equal to the evaluator's brute force."""
    v = view(arch, placement)
    z3_sets, complete = Analyzer(v).cut_sets(s, k)
    assert complete
    assert z3_sets == brute_force_cut_sets(v.components, k, lambda f: not Evaluation(v, f).up(s)), s
    return z3_sets


LAN = Network("lan", subnet="10.0.0.0/24", switches=[Switch("tor-a"), Switch("tor-b")])
VIP = VirtualIP("vip", "10.0.0.100", network=LAN)


def shop(*domains_of, extra_domains=()):
    """Two load balancers and three database nodes; ``domains_of(i)`` gives
    node i's domains."""
    nodes = [
        Node(
            f"n{i}",
            roles={"lb" if i < 2 else "db"},
            domains=domains_of[0](i),
            addresses={LAN: f"10.0.0.{10 + i}"},
            switch="tor-a" if i % 2 else "tor-b",
        )
        for i in range(5)
    ]
    return Architecture(
        "shop",
        domains=list(extra_domains),
        networks=[LAN],
        vips=[VIP],
        nodes=nodes,
        supervisor="systemd",
        services=[
            Service("haproxy", on="lb", strategy=Vrrp(VIP, track="haproxy")),
            Service(
                "db", on="db", replicas=3, strategy=AppCluster(access=BehindVip(VIP, port=3306, single_writer=True))
            ),
        ],
    )


# -- step 1: wrong before --------------------------------------------------------


def test_a_power_feed_holding_every_node_is_a_single_point_of_failure():
    pdu = Power("pdu-1")
    arch = shop(lambda i: [Rack(f"r{i % 2}"), pdu])
    f = findings(arch)
    # pdu-1 stops both load balancers: haproxy (and behind it db) is down.
    assert f["spof:haproxy"].severity == "high"
    assert f["spof:haproxy"].scenario == ("domain:pdu-1",)
    assert "power feed pdu-1" in f["spof:haproxy"].impact
    assert "power=[" in f["spof:haproxy"].mitigation
    assert not any(i.startswith("site-failure") for i in f)


def test_a_rack_holding_every_node_gates_check(tmp_path):
    model = tmp_path / "onerack.py"
    model.write_text(
        "from hamodel import Architecture, Network, Node, Rack, Service, Switch, VirtualIP\n"
        "from hamodel.strategies import Vrrp\n"
        "sw = Switch('sw')\nnet = Network('lan', subnet='10.0.0.0/24', switches=[sw])\n"
        "vip = VirtualIP('vip', '10.0.0.100', network=net)\nrack = Rack('rack-1')\n"
        "architecture = Architecture('one rack', supervisor='systemd', networks=[net], vips=[vip], nodes=[\n"
        "    Node(f'n{i}', roles={'lb'}, domains=[rack], addresses={net: f'10.0.0.{i}'}, switch=sw) for i in (1, 2)],\n"
        "    services=[Service('haproxy', on='lb', strategy=Vrrp(vip))])\n"
    )
    r = runner.invoke(app, ["check", str(model), "--json", "--lock", str(tmp_path / "l.json"), "--fail-on", "high"])
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert "spof:haproxy" in data["failing"]
    spof = next(x for x in data["findings"] if x["id"] == "spof:haproxy")
    # Both causes, each alone: the rack and the one switch.
    assert spof["details"]["cut_sets"][:2] == [["domain:rack-1"], ["switch:sw"]]


def test_only_a_declared_site_is_reported_as_the_site():
    for dc in (Site("dc"), FailureDomain("dc", kind="zone", site=True)):
        arch = shop(lambda i: [Rack(f"r{i % 2}", parent="dc"), Power(f"pdu-{i % 2}")], extra_domains=[dc])
        f = findings(arch)
        assert f["site-failure:dc"].severity == "low"
        assert not any(x.scenario == ("domain:dc",) for x in f.values() if x.kind != "site-failure")


def test_check_shows_the_placement_warnings(tmp_path):
    model = tmp_path / "even.py"
    model.write_text(
        "from hamodel import Architecture, Network, Node, PacemakerCluster, Service, Switch\n"
        "from hamodel.strategies import AppCluster\n"
        "sw = Switch('sw')\nnet = Network('lan', subnet='10.0.0.0/24', switches=[sw])\n"
        "architecture = Architecture('even', supervisor='systemd', networks=[net], nodes=[\n"
        "    Node(f'n{i}', roles={'db'}, addresses={net: f'10.0.0.{i}'}, switch=sw) for i in (1, 2, 3, 4)],\n"
        "    pacemaker=PacemakerCluster(on=['db']),\n"
        "    services=[Service('db', on='db', replicas=4, strategy=AppCluster())])\n"
    )
    lock = str(tmp_path / "l.json")
    r = runner.invoke(app, ["check", str(model), "--json", "--lock", lock])
    warnings = json.loads(r.stdout)["warnings"]
    assert any("db has 4 members" in w for w in warnings), warnings
    assert any("pacemaker cluster has 4 nodes" in w for w in warnings), warnings
    r = runner.invoke(app, ["check", str(model), "--lock", lock])
    assert "warning: db has 4 members" in r.output


def two_node_pacemaker(**pm):
    sw = Switch("sw")
    net = Network("lan", subnet="10.0.0.0/24", switches=[sw])
    vip = VirtualIP("vip", "10.0.0.100", network=net)
    nodes = [Node(f"n{i}", roles={"ctl"}, addresses={net: f"10.0.0.{i}"}, switch=sw) for i in (1, 2)]
    nodes.append(Node("q", roles={"quorum"}, addresses={net: "10.0.0.9"}, switch=sw))
    return Architecture(
        "pcmk",
        networks=[net],
        vips=[vip],
        nodes=nodes,
        supervisor="systemd",
        pacemaker=PacemakerCluster(on=["ctl"], **pm),
        services=[
            Service("vip", on="ctl", strategy=PacemakerVip(vip), supervisor="pacemaker"),
            Service("cinder", on="ctl", strategy=ActivePassive(manager="pacemaker")),
        ],
    )


def test_two_node_pacemaker_spof_says_quorum_and_grammar():
    arch = two_node_pacemaker()
    f = findings(arch)
    spof = f["spof:cinder"]
    assert "2-node Pacemaker cluster needs 2 votes" in spof.impact
    assert "qdevice" in spof.mitigation and "cluster manager" not in spof.mitigation
    assert f["pacemaker:two-node"].severity == "high"
    r = place(arch)
    assert any("tolerates no node failure" in w for w in r.warnings)
    assert not any("1 nodes" in w for w in r.warnings)


def test_pacemaker_managed_services_are_supervised_by_pacemaker():
    """Pacemaker's monitor operation restarts a failed resource: a service it manages is
    not "unsupervised" even where the architecture's default supervisor is none
    (found trying a 2-node PostgreSQL pair: monitoring-required named both resources)."""
    arch = two_node_pacemaker(qdevice="q").replace(supervisor="none")
    f = findings(arch)
    assert "monitoring-required" not in f and "no-automatic-restart" not in f
    # a service Pacemaker does not manage is still reported
    arch = arch.replace(services=[*arch.services, Service("cron", on="ctl", strategy=ActivePassive())])
    assert findings(arch)["monitoring-required"].details["unsupervised"] == ["cron"]


def test_switch_spof_names_the_switch_and_single_cut_grammar():
    sw = Switch("core")
    net = Network("lan", subnet="10.0.0.0/24", switches=[sw])
    vip = VirtualIP("vip", "10.0.0.100", network=net)
    nodes = [
        Node(f"n{i}", roles={"x"}, domains=[Rack(f"r{i}")], addresses={net: f"10.0.0.{i}"}, switch=sw)
        for i in (1, 2, 3)
    ]
    arch = Architecture(
        "sw",
        nodes=nodes,
        networks=[net],
        vips=[vip],
        supervisor="systemd",
        services=[
            Service("haproxy", on="x", strategy=Vrrp(vip, track="haproxy")),
            Service(
                "db", on="x", replicas=3, strategy=AppCluster(access=BehindVip(vip, port=3306, single_writer=True))
            ),
        ],
    )
    spof = findings(arch)["spof:haproxy"]
    assert spof.impact.startswith("switch:core alone stops haproxy: every path")
    assert "each stop it" not in spof.impact
    assert "Bond" in spof.mitigation and "cluster manager" not in spof.mitigation
    with pytest.raises(Unplaceable) as exc:
        tolerant_place(arch, 1)
    text = "\n".join(exc.value.explanations)
    assert "tolerate-" not in text
    assert "switch:core" in text and "every node that may run haproxy" in text


# -- step 2: constructs, hand-reasoned -------------------------------------------


def solo(nodes, services, networks=(), **kw):
    return Architecture("t", nodes=nodes, networks=list(networks), services=services, supervisor="systemd", **kw)


def test_dual_corded_node_stops_only_when_both_feeds_fail():
    pa, pb = Power("pa", parent="room"), Power("pb")
    room = FailureDomain("room", kind="room")
    job = Service("job", on="x", strategy=Coordinated())
    dual = solo([Node("n1", roles={"x"}, power=[pa, pb])], [job], domains=[room])
    # The node, its process, or both feeds (a feed also fails with the room it is in).
    assert cuts(dual, Placement({"job": ["n1"]}), "job") == [
        ("node:n1",),
        ("proc:job@n1",),
        ("domain:pa", "domain:pb"),
        ("domain:pb", "domain:room"),
    ]
    single = solo([Node("n1", roles={"x"}, domains=[pa, pb])], [job], domains=[room])
    assert cuts(single, Placement({"job": ["n1"]}), "job") == [
        ("node:n1",),
        ("proc:job@n1",),
        ("domain:pa",),
        ("domain:pb",),
        ("domain:room",),
    ]


def test_power_must_name_a_feed_not_a_switch_nor_one_also_in_domains():
    with pytest.raises(ModelError, match=r"nodes\[n1\]\.power: 'pa' is also in domains"):
        solo(
            [Node("n1", roles={"x"}, domains=[Power("pa")], power=["pa", Power("pb")])],
            [Service("job", on="x", strategy=Coordinated())],
        )


def bonded(bond: bool):
    a, b = Switch("tor-a"), Switch("tor-b")
    net = Network("lan", subnet="10.0.0.0/24", switches=[a, b])
    vip = VirtualIP("vip", "10.0.0.100", network=net)
    nodes = [
        Node(f"n{i}", roles={"x"}, addresses={net: f"10.0.0.{i}"}, switch=[a, b] if bond else (a, b)[i - 1])
        for i in (1, 2)
    ]
    return solo(nodes, [Service("lb", on="x", strategy=Vrrp(vip))], networks=[net], vips=[vip])


def test_bonded_interface_loses_the_network_only_when_both_switches_fail():
    p = Placement({"lb": ["n1", "n2"]})
    with_bond, without = bonded(True), bonded(False)
    assert with_bond.node("n1").interfaces[0].switches == ["tor-a", "tor-b"]
    # Bonded: both switches (each node keeps the other one) -- plus two nodes / processes.
    assert [c for c in cuts(with_bond, p, "lb") if not c[0].startswith(("node", "proc"))] == [
        ("switch:tor-a", "switch:tor-b")
    ]
    assert Analyzer(view(with_bond, p)).split_brain("lb", 2) == []  # no partition separates them
    # One switch each: cutting the link partitions the VRRP pair.
    assert Analyzer(view(without, p)).split_brain("lb", 1) == [("link:lan:tor-a~tor-b",)]


def two_networks(trunk: bool):
    a, b = Switch("sw-a"), Switch("sw-b")
    links = [Trunk("isl-1", a, b)] if trunk else "mesh"
    lan = Network("lan", subnet="10.0.0.0/24", switches=[a, b], links=links)
    stor = Network("stor", subnet="10.1.0.0/24", switches=[a, b], links=links)
    nodes = [
        Node(f"n{i}", roles={"x"}, addresses={lan: f"10.0.0.{i}", stor: f"10.1.0.{i}"}, switch=(a, b)[i - 1])
        for i in (1, 2)
    ]
    # quorum=1: each side alone is quorate, so a partition means split brain.
    return solo(nodes, [Service("c", on="x", strategy=AppCluster(quorum=1))], networks=[lan, stor])


def test_a_trunk_is_one_component_cutting_every_network_it_carries():
    p = Placement({"c": ["n1", "n2"]})
    sep = Analyzer(view(two_networks(False), p)).split_brain("c", 2)
    assert ("link:lan:sw-a~sw-b", "link:stor:sw-a~sw-b") in sep  # two links must go
    shared = view(two_networks(True), p)
    assert "trunk:isl-1" in shared.components and not any(c.startswith("link:") for c in shared.components)
    assert Analyzer(shared).split_brain("c", 2)[0] == ("trunk:isl-1",)
    assert Evaluation(shared, {"trunk:isl-1"}).split_brain("c")


def galera(witness: bool):
    nodes = [Node(f"n{i}", roles={"db" if i < 3 else "arb"}) for i in (1, 2, 3)]
    services = [Service("galera", on="db", replicas=2, strategy=AppCluster())]
    if witness:
        services.append(Service("garbd", on="arb", strategy=Witness("galera")))
    return solo(nodes, services)


def test_a_witness_votes_and_serves_nothing():
    p = Placement({"galera": ["n1", "n2"], "garbd": ["n3"]})
    two = cuts(galera(False), Placement({"galera": ["n1", "n2"]}), "galera", 1)
    assert two == [("node:n1",), ("node:n2",), ("proc:galera@n1",), ("proc:galera@n2",)]
    arch = galera(True)
    got = cuts(arch, p, "galera")
    # Quorum 2 of 3 votes: no single failure; any two of the three voters.
    assert all(len(c) == 2 for c in got) and len(got) == 12
    assert ("node:n1", "node:n3") in got and ("proc:galera@n2", "proc:garbd@n3") in got
    f = findings(arch, p)
    assert "spof:garbd" not in f and not any(x.startswith("cut-sets:garbd") for x in f)
    assert f["quorum-loss:galera"].details["witnesses"] == ["garbd"]


def patroni(placement_pg=("n1", "n3")):
    a, b = Switch("sw-a"), Switch("sw-b")
    net = Network("lan", subnet="10.0.0.0/24", switches=[a, b])
    nodes = [Node(f"n{i}", roles={"db"}, addresses={net: f"10.0.0.{i}"}, switch=a if i == 1 else b) for i in (1, 2, 3)]
    arch = solo(
        nodes,
        [
            Service("etcd", on="db", replicas=3, strategy=AppCluster()),
            Service("postgres", on="db", replicas=2, strategy=Elected(by="etcd")),
        ],
        networks=[net],
    )
    return arch, Placement({"etcd": ["n1", "n2", "n3"], "postgres": list(placement_pg)})


def test_elected_leader_needs_the_coordinators_quorum_and_never_splits():
    arch, p = patroni()
    assert arch.service("postgres").dependencies == ["etcd"]
    got = cuts(arch, p, "postgres")
    # Only switch sw-b alone: it carries two of etcd's three members.
    assert [c for c in got if len(c) == 1] == [("switch:sw-b",)]
    # The link cut isolates n1 (etcd minority); postgres on n3 still reaches etcd's majority.
    assert not any(c == ("link:lan:sw-a~sw-b",) for c in got)
    # The link plus the member on the majority side: n1's postgres cannot reach etcd's quorum.
    assert ("proc:postgres@n3", "link:lan:sw-a~sw-b") in [tuple(sorted(c, key=lambda x: x[0] != "p")) for c in got]
    assert ("proc:postgres@n1", "proc:postgres@n3") in got and ("proc:etcd@n2", "proc:etcd@n3") in got
    v = view(arch, p)
    assert not Evaluation(v, {"link:lan:sw-a~sw-b"}).split_brain("postgres")
    assert "split-brain:postgres" not in findings(arch, p)


def test_elected_and_witness_targets_must_keep_a_quorum():
    with pytest.raises(ModelError, match=r"services\[pg\]\.strategy\.by: services\[web\] keeps no quorum"):
        solo(
            [Node("n1", roles={"x"})],
            [Service("web", on="x", strategy=Coordinated()), Service("pg", on="x", strategy=Elected(by="web"))],
        )
    with pytest.raises(ModelError, match=r"services\[w\]\.strategy\.of: unknown service 'nope'"):
        solo([Node("n1", roles={"x"})], [Service("w", on="x", strategy=Witness("nope"))])


def pcmk_pair(**pm):
    a, b = Switch("sw-a"), Switch("sw-b")
    net = Network("lan", subnet="10.0.0.0/24", switches=[a, b])
    vip = VirtualIP("vip", "10.0.0.100", network=net)
    nodes = [
        Node("n1", roles={"ctl"}, addresses={net: "10.0.0.1"}, switch=a),
        Node("n2", roles={"ctl"}, addresses={net: "10.0.0.2"}, switch=b),
        Node("q", roles={"arb"}, addresses={net: "10.0.0.9"}, switch=a),
    ]
    arch = solo(
        nodes,
        [
            Service("vip", on="ctl", strategy=PacemakerVip(vip)),
            Service("cinder", on="ctl", strategy=ActivePassive(manager="pacemaker")),
        ],
        networks=[net],
        vips=[vip],
        pacemaker=PacemakerCluster(on=["ctl"], **pm),
    )
    return arch, Placement(
        {
            "vip": ["n1", "n2"],
            "cinder": ["n1", "n2"],
        }
    )


LINK = "link:lan:sw-a~sw-b"


@pytest.mark.parametrize(
    "pm, node_spof, split",
    [
        ({}, True, []),  # majority of 2 = 2: either node stops it
        ({"two_node": True}, False, []),  # one node alone; n1 wins the fence race
        ({"two_node": True, "fencing": False}, False, [(LINK,)]),  # both keep running after a partition
        ({"qdevice": "q"}, False, []),  # n1 + q or n2 + q: 2 of 3 votes
    ],
)
def test_pacemaker_two_node_qdevice_and_fencing(pm, node_spof, split):
    arch, p = pcmk_pair(**pm)
    got = cuts(arch, p, "cinder")
    assert (("node:n1",) in got) is node_spof and (("node:n2",) in got) is node_spof
    assert (LINK,) not in got or pm == {}
    assert Analyzer(view(arch, p)).split_brain("vip", 1) == split
    f = findings(arch, p)
    if pm.get("qdevice"):
        assert ("node:n1", "node:q") in got and "pacemaker:two-node" not in f
    else:
        assert f["pacemaker:two-node"].severity == ("low" if pm.get("fencing", True) and pm.get("two_node") else "high")


def test_pacemaker_details_are_validated():
    with pytest.raises(ModelError, match=r"pacemaker\.qdevice: 'n1' is a cluster node"):
        pcmk_pair(qdevice="n1")
    with pytest.raises(ModelError, match=r"pacemaker\.two_node: two_node is for clusters without a quorum device"):
        pcmk_pair(qdevice="q", two_node=True)


def test_external_service_needs_no_placement():
    arch = solo(
        [Node("n1", roles={"x"}), Node("n2", roles={"x"})],
        [
            Service("job", on="x", replicas=1, strategy=Coordinated()),  # a choice: the solver runs
            Service("monitoring", strategy=External(provides=["monitoring"])),
        ],
    )
    r = place(arch)
    assert r.placement.nodes_of("monitoring") == ()
    assert "monitoring" not in {s for n in ("n1", "n2") for s in r.placement.services_on(n)}
    with pytest.raises(ModelError, match=r"services\[job\]\.on|on: give the roles"):
        solo([Node("n1", roles={"x"})], [Service("job", strategy=Coordinated())])


def test_a_service_that_tolerates_downtime_is_reported_low():
    nodes = [Node("n1", roles={"x"})]
    p = Placement({"batch": ["n1"]})
    for required, severity in ((True, "high"), (False, "low")):
        arch = solo(nodes, [Service("batch", on="x", required=required, strategy=ActivePassive())])
        assert findings(arch, p)["spof:batch"].severity == severity


def test_webplatform_reference_model():
    from hamodel.analysis.failures import availability
    from hamodel.loader import load

    arch = load(ROOT / "models" / "webplatform.py")
    r = place(arch)
    assert r.placement.nodes_of("monitoring") == ()
    f = {x.id: x for x in analyse(arch, r.placement, vrrp_groups=r.vrrp_groups)}
    # Dual-corded, bonded, tie-breaker in rack 3: nothing single stops a service; no split brain.
    # (Galera's manual bootstrap after a planned stop of both members is acknowledged.)
    assert not [i for i, x in f.items() if x.severity in ("critical", "high", "medium") and not x.acknowledged], sorted(
        f
    )
    assert f["site-failure:dc"].severity == "low"
    assert not any(i.startswith("split-brain") for i in f)
    av = availability(arch, r.placement, r.vrrp_groups)
    v = view(arch, r.placement, r.vrrp_groups)
    from hamodel.analysis.availability import component_reliability

    assert component_reliability(v, "trunk:mlag-peer").availability == 0.9999
    assert all(a.exact for a in av.values())


def test_the_fence_race_winner_follows_the_fencing_delay():
    """The node whose fencing device waits (pcmk_delay_base) survives a partition: it is
    fenced last. Measured on real corosync/Pacemaker (tests/drill/test_pacemaker_quorum_drill.py):
    with the delay on pm-2's device, pm-2 won; the analysis named pm-1 (first by name)."""
    from hamodel import FenceDevice

    def arch(delay_on: str | None):
        fence = [
            FenceDevice(f"bmc-{n}", agent="fence_ipmilan", targets=[n], delay_base_s=10 if n == delay_on else 0)
            for n in ("n1", "n2")
        ]
        return two_node_pacemaker(two_node=True, fencing=True, fence=fence)

    for winner in ("n1", "n2"):
        a = arch(winner)
        v = view(a, place(a).placement)
        assert v.pcmk_winner == winner and v.fence_race_decided()
        race = findings(a)["pacemaker:two-node"]
        assert race.details["winner"] == winner and f"{winner} wins" in race.impact
        # the switch down: both nodes up, neither reaches the other: only the winner is quorate
        loser = "n2" if winner == "n1" else "n1"
        e = Evaluation(v, {"switch:sw"})
        assert e.pcmk_quorate(winner) and not e.pcmk_quorate(loser)
    tie = arch(None)
    assert view(tie, place(tie).placement).pcmk_winner == "n1"
    assert "timing decides" in findings(tie)["pacemaker:two-node"].impact
