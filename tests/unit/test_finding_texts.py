"""Finding texts that misled (issue 23, part 3): each test failed before its fix."""

from __future__ import annotations

from pathlib import Path

from hamodel import Architecture, Network, Node, Power, Resources, Service, Switch
from hamodel.analysis.components import view
from hamodel.analysis.failures import Analysis
from hamodel.deployment import Placement
from hamodel.loader import load
from hamodel.model import FailureDomain
from hamodel.pipeline import resolve
from hamodel.strategies import AppCluster, Coordinated, Elected

DATA = Path(__file__).resolve().parents[1] / "data"


def _findings(arch, placement, k=2):
    return {f.id: f for f in Analysis(arch, placement).findings(k=k)}


def test_two_node_fence_race_is_the_cause_not_a_switch_holding_every_instance():
    """pm-1 and pm-2 each behind their own switch: sw-1 cuts pm-1 off, pm-1
    wins the fence race (its fencing waits 10 s) and fences pm-2. The old
    text said every path to the instances goes through sw-1: pm-2's does not."""
    dep = resolve(load(DATA / "pacemaker_two_node.py"), lock=None)
    f = next(f for f in dep.findings if f.id == "spof:cinder-volume")
    assert "every path to its instances" not in f.impact, f.impact
    assert "pm-1 wins the 2-node fence race" in f.impact and "fences pm-2" in f.impact, f.impact
    assert "quorum device" in f.mitigation


def sentinel_model():
    """Redis on r1 (behind s1) and r2 (behind s2), Sentinel on r1, r2, m3
    (m3 behind s2), one link: cutting it leaves r1 writing alone while the
    s2 side (2 of 3 Sentinels) promotes r2."""
    lan = Network("lan", subnet="10.0.0.0/24", switches=[Switch("s1"), Switch("s2")], links=[("s1", "s2")])
    nodes = [
        Node("r1", roles={"db"}, addresses={lan: "10.0.0.1"}, switch="s1", capacity=Resources(cpu=8, memory_gb=12)),
        Node("r2", roles={"db"}, addresses={lan: "10.0.0.2"}, switch="s2", capacity=Resources(cpu=8, memory_gb=12)),
        Node("m3", roles={"db"}, addresses={lan: "10.0.0.3"}, switch="s2", capacity=Resources(cpu=8, memory_gb=12)),
    ]
    arch = Architecture(
        "sentinel",
        nodes=nodes,
        networks=[lan],
        services=[
            Service("sentinel", on="db", strategy=AppCluster()),
            Service(
                "redis",
                on="db",
                requests=Resources(cpu=1, memory_gb=10),
                strategy=Elected(by="sentinel", steps_down=False),
            ),
        ],
    )
    return arch, Placement({"sentinel": ["m3", "r1", "r2"], "redis": ["m3", "r1", "r2"]})


def test_sentinel_split_brain_says_acknowledged_writes_are_lost():
    arch, placement = sentinel_model()
    f = _findings(arch, placement)["split-brain:redis"]
    assert "acknowledged" in f.impact and "lost" in f.impact, f.impact
    assert "served twice" not in f.impact


def test_a_lost_redis_replica_adds_no_memory_to_the_others():
    """Each Redis instance holds the whole data set (10 GB on 12 GB nodes):
    after a node loss the survivors hold what they held. The old check
    spread the lost replica's memory over them (x1.5: 15 GB > 12 GB)."""
    arch, placement = sentinel_model()
    problems = Analysis(arch, placement).capacity()
    assert not [p for p in problems if p["memory_gb"] > 12], problems


def test_dual_corded_nodes_are_not_told_to_dual_cord():
    """Both feeds of three dual-corded nodes hang on one UPS: losing the
    UPS stops every member. The mitigation must not be "dual-cord the
    nodes" (they are): feed them from sources that do not share the UPS."""
    ups = FailureDomain("ups", kind="power")
    feeds = [Power("pdu-a", parent="ups"), Power("pdu-b", parent="ups")]
    lan = Network("lan", subnet="10.0.0.0/24")
    nodes = [Node(f"n{i}", roles={"db"}, power=feeds, addresses={lan: f"10.0.0.{i}"}) for i in (1, 2, 3)]
    arch = Architecture(
        "ups",
        nodes=nodes,
        domains=[ups, *feeds],
        networks=[lan],
        services=[
            Service("db", on="db", strategy=AppCluster()),
            Service("app", on="db", depends_on=["db"], strategy=Coordinated()),
        ],
    )
    fs = _findings(arch, Placement({"db": ["n1", "n2", "n3"], "app": ["n1", "n2", "n3"]}), k=1)
    texts = [f.mitigation for f in fs.values() if "domain:ups" in f.scenario]
    assert texts, sorted(fs)
    for t in texts:
        assert "Dual-cord the nodes" not in t and "already dual-corded" in t, t
    v = view(arch, Placement({"db": ["n1", "n2", "n3"], "app": ["n1", "n2", "n3"]}))
    assert v.nodes_killed_by({"domain:ups"}) == {"n1", "n2", "n3"}


def _lb_arch(**memcached):
    """Three controllers holding a VIP (keepalived + HAProxy), an API behind
    it on 11211, and memcached on the same nodes."""
    from hamodel import VirtualIP
    from hamodel.strategies import BehindVip, Vrrp

    lan = Network("lan", subnet="10.0.0.0/24")
    pub = Network("pub", subnet="192.0.2.0/24")
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    pvip = VirtualIP("pvip", "192.0.2.100", network=pub, exposure="public")
    nodes = [Node(f"c{i}", roles={"ctl"}, addresses={lan: f"10.0.0.{i}", pub: f"192.0.2.{i}"}) for i in (1, 2, 3)]
    return Architecture(
        "clash",
        nodes=nodes,
        networks=[lan, pub],
        vips=[vip, pvip],
        services=[
            Service("haproxy", on="ctl", strategy=Vrrp(vip, track="haproxy")),
            Service("haproxy-public", process="haproxy", on="ctl", colocate=["haproxy"], strategy=Vrrp(pvip)),
            Service("cache-api", on="ctl", strategy=BehindVip(vip, port=11211, backend_port=11311)),
            Service(
                "bastion",
                on="ctl",
                strategy=BehindVip(pvip, port=22),
                **({"protocol": "ssh"} if memcached.pop("ssh", False) else {}),
            ),
            Service("memcached", on="ctl", ports=[11211], strategy=Coordinated(), **memcached),
        ],
    )


def test_a_wildcard_bind_on_a_front_port_is_a_critical_finding_naming_both():
    placement = Placement(
        {s: ["c1", "c2", "c3"] for s in ("haproxy", "haproxy-public", "cache-api", "bastion", "memcached")}
    )
    clash = _findings(_lb_arch(listen="any"), placement)
    f = clash["port-clash:memcached:11211"]
    assert f.severity.value == "critical" and set(f.services) == {"memcached", "cache-api"}
    assert "c1, c2, c3" in f.impact and "10.0.0.100" not in f.impact and "vip:11211" in f.impact
    # Bound to the node's own address (the default), no clash.
    assert not [i for i in _findings(_lb_arch(), placement) if i.startswith("port-clash")]


def test_an_encrypted_protocol_is_not_cleartext_on_a_public_vip():
    placement = Placement(
        {s: ["c1", "c2", "c3"] for s in ("haproxy", "haproxy-public", "cache-api", "bastion", "memcached")}
    )
    assert "cleartext-public:bastion" in _findings(_lb_arch(), placement)
    assert "cleartext-public:bastion" not in _findings(_lb_arch(ssh=True), placement)


def test_a_backend_port_is_claimed_on_the_backend_nodes():
    """``backend_port`` is where the instances listen: another service on
    that port on the same role is refused (the claim used to take the
    front's port + offset and missed it)."""
    import pytest

    from hamodel import VirtualIP
    from hamodel.errors import ModelError
    from hamodel.strategies import BehindVip, Vrrp

    lan = Network("lan", subnet="10.0.0.0/24")
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    nodes = [Node(f"c{i}", roles={"ctl"}, addresses={lan: f"10.0.0.{i}"}) for i in (1, 2, 3)]
    with pytest.raises(ModelError, match=r"services\[metrics\]\.ports: port 8080 on role 'ctl' is already claimed"):
        Architecture(
            "claim",
            nodes=nodes,
            networks=[lan],
            vips=[vip],
            services=[
                Service("haproxy", on="ctl", strategy=Vrrp(vip, track="haproxy")),
                Service("api", on="ctl", strategy=BehindVip(vip, port=443, backend_port=8080)),
                Service("metrics", on="ctl", ports=[8080], strategy=Coordinated()),
            ],
        )


def test_reads_outlast_writes_of_an_elected_service():
    """Redis with Sentinel: losing two Sentinels (m3, r1 processes) leaves no
    quorum to elect a writer, but the replicas still answer reads. Read and
    write cut sets differ, and check says so."""
    from hamodel.analysis.cutsets import Analyzer

    arch, placement = sentinel_model()
    v = view(arch, placement)
    an = Analyzer(v)
    writes = {frozenset(c) for c in an.cut_sets("redis", 2)[0]}
    reads = {frozenset(c) for c in an.read_cut_sets("redis", 2)[0]}
    two_sentinels = frozenset({"proc:sentinel@m3", "proc:sentinel@r1"})
    assert two_sentinels in writes and not any(c <= two_sentinels for c in reads)
    assert frozenset({"node:m3", "node:r1", "node:r2"}) not in reads  # k=2 only
    f = _findings(arch, placement)["reads-outlast-writes:redis"]
    assert f.details["read_cut_sets"] and f.details["write_cut_sets"]
    assert set(f.scenario) not in [set(c) for c in f.details["read_cut_sets"]]


def test_an_even_cluster_warning_counts_witness_votes_as_votes():
    """Three Galera members and a garbd: the warning said "galera has 4
    members"; it has 4 votes, 3 of them members."""
    from hamodel.analysis.placement import place
    from hamodel.strategies import Witness

    lan = Network("lan", subnet="10.0.0.0/24")
    nodes = [Node(f"db{i}", roles={"db"}, addresses={lan: f"10.0.0.{i}"}) for i in (1, 2, 3)]
    nodes.append(Node("arb", roles={"arb"}, addresses={lan: "10.0.0.9"}))
    arch = Architecture(
        "garbd",
        nodes=nodes,
        networks=[lan],
        services=[
            Service("galera", on="db", strategy=AppCluster()),
            Service("garbd", on="arb", strategy=Witness("galera")),
        ],
    )
    warnings = " ".join(place(arch).warnings)
    assert "galera has 4 votes (3 members and 1 witness vote)" in warnings, warnings
    assert "4 members" not in warnings


def test_what_to_fix_first_ranks_required_services_first():
    """A component that only a required=False batch service needs, with more
    downtime, no longer outranks one that a required service needs."""
    from hamodel.analysis.importance import Importance, what_to_fix

    def row(service, component, reduction):
        return Importance(service, component, 0.01, 0.1, 0.5, 2.0, 1.5, reduction)

    imp = {"batch": [row("batch", "node:b", 1e-3)], "api": [row("api", "node:a", 1e-5)]}
    assert [f.component for f in what_to_fix(imp)] == ["node:b", "node:a"]  # by downtime alone
    ranked = what_to_fix(imp, optional={"batch"})
    assert [f.component for f in ranked] == ["node:a", "node:b"]
    assert ranked[1].hours_per_year > ranked[0].hours_per_year  # the figures stay what they are


def test_a_core_switch_that_partitions_a_cluster_is_named_a_partition_not_stopped_members():
    """Three racks, one ToR each, every ToR on one core switch; a Galera
    member per rack. The core switch stops no member: it splits the three
    into three groups of one. The old text said it "stops more of its
    members than its quorum can lose" and advised bonding the members to a
    second switch (which does not help while every switch hangs on core)."""
    core, tors = Switch("core"), [Switch(f"tor{i}") for i in (1, 2, 3)]
    lan = Network("lan", subnet="10.9.0.0/24", switches=[core, *tors], links=[(t.name, "core") for t in tors])
    nodes = [Node(f"db{i}", roles={"db"}, addresses={lan: f"10.9.0.{i}"}, switch=f"tor{i}") for i in (1, 2, 3)]
    arch = Architecture(
        "split", nodes=nodes, networks=[lan], services=[Service("galera", on="db", replicas=3, strategy=AppCluster())]
    )
    f = _findings(arch, Placement({"galera": ["db1", "db2", "db3"]}))["quorum-loss:galera"]
    assert "switch core splits its 3 running votes" in f.impact and "(db1 | db2 | db3)" in f.impact, f.impact
    assert "stops more of its members" not in f.impact, f.impact
    assert "second path between the members' switches" in f.mitigation, f.mitigation
    # A ToR stops its one member: that stays a stop, not a split (2 of 3 remain together).
    assert "switch:tor1" not in f.scenario


def test_two_sites_cannot_spread_three_votes_so_the_fix_is_a_vote_in_a_third_site():
    """Galera 2+1 over two sites: losing site A (two members) stops it. The old
    mitigation said "spread members over zones" and "no failure domain may hold
    more than 1 vote": with two zones and three votes that cannot be done."""
    from hamodel import Trunk, VirtualIP, Zone

    sa, sb = Zone("site-a", site=True), Zone("site-b", site=True)
    swa, swb = Switch("sw-a"), Switch("sw-b")
    lan = Network("lan", subnet="10.7.0.0/24", switches=[swa, swb], links=[Trunk("wan", swa, swb)])
    nodes = [
        Node(n, roles={"db"}, domains=[z], addresses={lan: f"10.7.0.{h}"}, switch=sw)
        for n, z, sw, h in (("a1", sa, swa, 11), ("a2", sa, swa, 12), ("b1", sb, swb, 21))
    ]
    arch = Architecture(
        "two sites",
        domains=[sa, sb],
        nodes=nodes,
        networks=[lan],
        vips=[VirtualIP("vip", "10.7.0.10", network=lan)],
        services=[Service("galera", on="db", replicas=3, strategy=AppCluster())],
    )
    f = _findings(arch, Placement({"galera": ["a1", "a2", "b1"]}))["quorum-loss:galera"]
    assert "With 2 zones (site-a, site-b), 3 votes cannot be placed" in f.mitigation, f.mitigation
    assert "Witness('galera')" in f.mitigation and "garbd" in f.mitigation
    assert "Spread members over zones" not in f.mitigation and "No failure domain may hold" not in f.mitigation


def test_a_link_that_stops_each_instance_for_its_own_reason_names_each():
    """Found by a helper trying clients=<network> as a new user: lb1, lb2 and app1 behind sw-a,
    app2 and db1..db3 behind sw-b, one link. Cutting it leaves app1 without db and app2 without
    the VIP holders; the old text said the link was "the only path between its instances and VIP
    holders", false for app1 (on the load balancers' switch)."""
    from hamodel.model import VirtualIP
    from hamodel.strategies import BehindVip, Vrrp

    lan = Network("lan", subnet="10.10.0.0/24", switches=[Switch("sw-a"), Switch("sw-b")], links=[("sw-a", "sw-b")])
    vip = VirtualIP("vip", "10.10.0.100", network=lan)
    nodes = [Node(f"lb{i}", roles={"lb"}, addresses={lan: f"10.10.0.1{i}"}, switch="sw-a") for i in (1, 2)]
    nodes += [
        Node("app1", roles={"app"}, addresses={lan: "10.10.0.21"}, switch="sw-a"),
        Node("app2", roles={"app"}, addresses={lan: "10.10.0.22"}, switch="sw-b"),
    ]
    nodes += [Node(f"db{i}", roles={"db"}, addresses={lan: f"10.10.0.3{i}"}, switch="sw-b") for i in (1, 2, 3)]
    arch = Architecture(
        "shop",
        nodes=nodes,
        networks=[lan],
        vips=[vip],
        services=[
            Service("haproxy", on="lb", strategy=Vrrp(vip, track="haproxy")),
            Service(
                "web",
                on="app",
                replicas=2,
                depends_on=["db"],
                strategy=BehindVip(vip, port=8080, mode="http", check={"http_path": "/healthz"}),
            ),
            Service("db", on="db", replicas=3, strategy=AppCluster()),
        ],
    )
    f = resolve(arch, lock=None).findings
    spof = next(x for x in f if x.id == "spof:web")
    assert "the only path between" not in spof.impact, spof.impact
    assert "app1 cannot reach db" in spof.impact and "app2 is cut off from the VIP holders (lb1, lb2)" in spof.impact


def test_split_brain_mitigation_counts_the_failures_that_split_the_switches():
    """Switches in a chain sw1 - sw2 - sw3: one link or sw2 alone splits the VRRP
    pair. The mitigation said "so that no two failures split the switches" (a
    single one does here) and the impact "the address (or data) is served twice"
    for a VRRP group, which holds an address."""
    dep = resolve(load(DATA / "vrrp_switch_chain.py"), lock=None)
    f = next(f for f in dep.findings if f.id == "split-brain:haproxy")
    assert f.scenario == ("link:lan:sw1~sw2",), f.scenario
    assert "no single failure splits the switches" in f.mitigation, f.mitigation
    assert "the address is held twice" in f.impact and "(or data)" not in f.impact, f.impact


def test_split_brain_mitigation_names_two_failures_when_two_are_needed():
    """The reference model's switches are meshed: a partition takes two links."""
    dep = resolve(load(Path(__file__).resolve().parents[2] / "models" / "openstack_keepalived.py"), lock=None)
    f = next(f for f in dep.findings if f.id.startswith("split-brain:"))
    assert len(f.scenario) == 2, f.scenario
    assert "no two failures split the switches" in f.mitigation, f.mitigation
