"""The Pacemaker architecture as configuration (issue 12): corosync.conf per
node, the CIB and its pcs script, checked with the real tools.

- ``crm_verify --xml-file`` (no error, no warning) on every generated CIB;
- ``corosync -t -c`` per node inside a network namespace holding the
  node's address (corosync refuses a node list without a local address);
- the pcs script replayed with ``pcs -f`` onto ``cibadmin --empty`` gives
  the CIB's configuration;
- bad fence configuration is refused naming the object and field, and the
  fence password never reaches a non-secret file, the manifest or the docs.

No mocks: root, ``ip netns``, pacemaker-cli-utils, corosync and pcs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from hamodel.generators.configs import ConfigError, build_configs
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_configs import reference

from hamodel import (
    Architecture,
    FenceDevice,
    ModelError,
    Network,
    Node,
    PacemakerCluster,
    SecretRef,
    Service,
    VirtualIP,
)
from hamodel.analysis.placement import Unplaceable
from hamodel.errors import HamodelError
from hamodel.pipeline import resolve
from hamodel.strategies import ActivePassive, AppCluster, BehindVip, Coordinated, PacemakerVip
from hamodel.validate import cib_check, corosync_check, pcs_replay_check, validate_files

TOOLS = ("crm_verify", "corosync", "cibadmin", "pcs", "ip")
pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in TOOLS),
        reason="needs root, ip netns, pacemaker-cli-utils, corosync and pcs",
    ),
]

PASSWORD = "Fence-pw.4711"
ENV = {"T_FENCE_PW": PASSWORD}


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@pytest.fixture(autouse=True)
def no_leftover_namespaces():
    # Only this process's: another xdist worker may be inside a check right now.
    mine = (f"hmv-{os.getpid()}-", f"hmc-{os.getpid()}-")
    before = _namespaces()
    yield
    assert {n for n in _namespaces() - before if n.startswith(mine)} == set()


def _assert_valid(results) -> None:
    assert results, "nothing was validated"
    bad = [f"{r.path}: {r.command} -> {r.returncode}\n{r.output}" for r in results if not r.ok]
    assert not bad, "\n".join(bad)


def cluster(
    n: int = 3,
    *,
    qdevice: bool = False,
    two_node: bool = False,
    fencing: bool = True,
    fence: list | None = None,
    services: list | None = None,
    **pm,
) -> Architecture:
    """n cluster nodes on one LAN, a Pacemaker VIP held by HAProxy, a Galera
    cluster and an A/P service; optionally a qnetd node."""
    lan = Network("lan", subnet="10.0.0.0/24")
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    nodes = [Node(f"n{i}", roles={"ctl"}, addresses={lan: f"10.0.0.{10 + i}"}) for i in range(1, n + 1)]
    if qdevice:
        nodes.append(Node("qnetd", roles={"arbiter"}, addresses={lan: "10.0.0.99"}))
    if fence is None and fencing:
        fence = [
            FenceDevice(
                "bmc",
                agent="fence_ipmilan",
                params={"username": "admin", "password": SecretRef(env="T_FENCE_PW"), "lanplus": 1},
                per_node={f"n{i}": {"ip": f"10.9.0.{i}"} for i in range(1, n + 1)},
            )
        ]
    if services is None:
        services = [
            Service("haproxy", on="ctl", ports=[9300], strategy=PacemakerVip(vip), supervisor="pacemaker"),
            Service(
                "galera",
                process="mariadb",
                on="ctl",
                ports=[4567],
                strategy=AppCluster(manager="pacemaker", access=BehindVip(vip, port=3306, single_writer=True)),
            ),
            Service(
                "worker", on="ctl", replicas="all", depends_on=["galera"], strategy=ActivePassive(manager="pacemaker")
            ),
        ]
    return Architecture(
        "pcmk-test",
        networks=[lan],
        vips=[vip],
        nodes=nodes,
        services=services,
        pacemaker=PacemakerCluster(
            on=["ctl"],
            fencing=fencing,
            fence=fence or [],
            two_node=two_node,
            qdevice="qnetd" if qdevice else None,
            **pm,
        ),
    )


def build(arch: Architecture, env=ENV):
    return build_configs(resolve(arch, analyse=False), env=env)


def cib_of(files) -> ET.Element:
    return ET.fromstring(files["pacemaker/cib.xml"])


def params(prim: ET.Element) -> dict[str, str]:
    return {
        nv.get("name"): nv.get("value")
        for nv in prim.iter("nvpair")
        if nv.get("id", "").startswith(f"{prim.get('id')}-instance_attributes")
    }


# -- the reference Pacemaker model -------------------------------------------------------


@pytest.fixture(scope="module")
def ref_files():
    return build_configs(reference("openstack_pacemaker"), env={"HAMODEL_IPMI_PASSWORD": PASSWORD})


def test_reference_layout(ref_files):
    paths = [p for p in ref_files if "corosync" in p or p.startswith("pacemaker/")]
    assert sorted(paths) == [
        "nodes/ctl-1/corosync/corosync.conf",
        "nodes/ctl-2/corosync/corosync.conf",
        "nodes/ctl-3/corosync/corosync.conf",
        "pacemaker/cib.xml",
        "pacemaker/pcs-setup.sh",
    ]
    # the fence password makes both cluster files secret (mode 0600), corosync.conf is not
    assert ref_files.secret >= {"pacemaker/cib.xml", "pacemaker/pcs-setup.sh"}
    assert not any("corosync" in p for p in ref_files.secret)
    manifest = json.loads(ref_files["manifest.json"])
    cib = manifest["files"]["pacemaker/cib.xml"]
    assert cib["node"] == "ctl-1" and cib["mode"] == "0600" and cib["kind"] == "pacemaker-cib"
    coro = manifest["files"]["nodes/ctl-2/corosync/corosync.conf"]
    assert coro["dest"] == "/etc/corosync/corosync.conf" and coro["validate"]["command"] == "corosync -t -c %s"
    # knet's key is the deployment's secret: not generated, listed as what the file needs on the node
    assert [f["path"] for f in coro["prerequisites"]["files"]] == ["/etc/corosync/authkey"]
    assert "keyfile: /etc/corosync/authkey" in ref_files["nodes/ctl-2/corosync/corosync.conf"].decode()
    # A patch of hamodel's sections (test_cib_push.py), never cib-push --config (it erases node state).
    from hamodel.generators.pacemaker.push import CIB_PUSH

    assert cib["on_change"]["command"] == ["python3", "-c", CIB_PUSH, "/etc/hamodel/pacemaker/cib.xml"]
    assert "pacemaker/cib.xml" in ref_files["ansible/inventory.yml"].decode()


def test_reference_cib_holds_the_model(ref_files):
    root = cib_of(ref_files)
    props = {nv.get("name"): nv.get("value") for nv in root.find("configuration/crm_config").iter("nvpair")}
    assert props == {"stonith-enabled": "true", "no-quorum-policy": "stop"}
    prims = {p.get("id"): p for p in root.iter("primitive")}
    vip = prims["ip-controller-vip"]
    assert (vip.get("class"), vip.get("type")) == ("ocf", "IPaddr2")
    assert params(vip) == {"ip": "192.168.1.220", "cidr_netmask": "24", "nic": "eth0"}
    clones = {c.get("id"): c for c in root.iter("clone")}
    assert clones["haproxy-clone"].find("primitive").get("type") == "haproxy"
    galera = clones["galera-clone"]
    meta = {nv.get("name"): nv.get("value") for nv in galera.find("meta_attributes")}
    assert meta["promotable"] == "true" and meta["promoted-max"] == "3"
    assert params(galera.find("primitive")) == {
        "wsrep_cluster_address": "gcomm://ctl-1,ctl-2,ctl-3",
        "enable_creation": "true",
    }
    promote = galera.find(".//op[@name='promote']")
    assert promote.get("on-fail") == "block"  # no automatic retry of a failed bootstrap
    for clone, params_ in (("redis-clone", {"wait_last_known_master": "true"}), ("rabbitmq-clone", {})):
        c = clones[clone]
        assert {nv.get("name"): nv.get("value") for nv in c.find("meta_attributes")}["notify"] == "true"
        assert params(c.find("primitive")) == params_
    assert clones["rabbitmq-clone"].find("primitive").get("type") == "rabbitmq-cluster"
    assert clones["redis-clone"].find("primitive").get("type") == "redis"
    # cinder-volume: one instance, not cloned
    assert "cinder-volume" in prims and not any(
        c.find("primitive").get("id") == "cinder-volume" for c in clones.values()
    )
    cons = root.find("configuration/constraints")
    coloc = {(c.get("rsc"), c.get("with-rsc")) for c in cons.iter("rsc_colocation")}
    assert ("ip-controller-vip", "haproxy-clone") in coloc
    orders = {(o.get("first"), o.get("first-action"), o.get("then")) for o in cons.iter("rsc_order")}
    assert {
        ("galera-clone", "promote", "cinder-volume"),
        ("rabbitmq-clone", "start", "cinder-volume"),
        ("ip-controller-vip", "start", "haproxy-clone"),
    } <= orders
    fences = {i: p for i, p in prims.items() if p.get("class") == "stonith"}
    assert sorted(fences) == ["fence-ipmi-ctl-1", "fence-ipmi-ctl-2", "fence-ipmi-ctl-3"]
    assert params(fences["fence-ipmi-ctl-2"]) == {
        "ip": "10.0.100.222",
        "username": "hacluster-fence",
        "lanplus": "1",
        "password": PASSWORD,
        "pcmk_host_list": "ctl-2",
    }
    avoid = {(c.get("rsc"), c.get("node"), c.get("score")) for c in cons.iter("rsc_location")}
    assert ("fence-ipmi-ctl-2", "ctl-2", "-INFINITY") in avoid


def test_reference_passes_crm_verify_and_corosync(ref_files):
    dep = reference("openstack_pacemaker")
    results = validate_files(dep.architecture, ref_files, replay=False)
    pcmk = [r for r in results if "corosync" in r.path or r.path.startswith("pacemaker/")]
    assert sorted(r.path for r in pcmk) == [
        "nodes/ctl-1/corosync/corosync.conf",
        "nodes/ctl-2/corosync/corosync.conf",
        "nodes/ctl-3/corosync/corosync.conf",
        "pacemaker/cib.xml",
    ]
    _assert_valid(pcmk)
    conf = ref_files["nodes/ctl-1/corosync/corosync.conf"].decode()
    assert "ring0_addr: 192.168.1.221" in conf and "two_node" not in conf and "wait_for_all: 1" in conf


def test_reference_pcs_script_replays_to_the_cib(ref_files):
    r = pcs_replay_check(ref_files["pacemaker/cib.xml"], ref_files["pacemaker/pcs-setup.sh"])
    assert r.ok, r.output


def test_the_checks_can_fail(ref_files):
    """Each check rejects what it should: the validators are not vacuous."""
    conf = ref_files["nodes/ctl-1/corosync/corosync.conf"]
    # corosync -t where no node-list address is local
    r = corosync_check(conf, [("eth0", "192.168.1.99/24")])
    assert not r.ok and "local host" in r.output
    # a CIB whose constraint names a resource that does not exist
    cib = ref_files["pacemaker/cib.xml"].replace(b'with-rsc="haproxy-clone"', b'with-rsc="nothing-clone"')
    r = cib_check(cib)
    assert not r.ok
    # a node listed without state: crm_verify only warns (exit 78 in 2.1.5); a warning fails here too
    warn = ref_files["pacemaker/cib.xml"].replace(b"<nodes/>", b'<nodes><node id="1" uname="ctl-1"/></nodes>')
    r = cib_check(warn)
    assert not r.ok and "warning" in r.output.lower()
    # the password never shows in a check's output, even when crm_verify echoes the document
    broken = ref_files["pacemaker/cib.xml"].replace(b"</resources>", b"</resourcez>")
    r = cib_check(broken)
    assert not r.ok and PASSWORD not in r.output


@pytest.mark.slow
def test_pcs_replay_notices_a_difference(ref_files):
    cib = ref_files["pacemaker/cib.xml"].replace(b'name="promoted-max" value="3"', b'name="promoted-max" value="2"')
    r = pcs_replay_check(cib, ref_files["pacemaker/pcs-setup.sh"])
    assert not r.ok and "promoted-max" in r.output and PASSWORD not in r.output


def test_secrets_stay_in_the_secret_files(ref_files):
    for path, data in ref_files.items():
        if path not in ref_files.secret:
            assert PASSWORD.encode() not in data, path
    manifest = json.loads(ref_files["manifest.json"])
    assert "sha256_redacted" in manifest["files"]["pacemaker/cib.xml"]
    assert "sha256" not in manifest["files"]["pacemaker/cib.xml"]
    redacted = build_configs(reference("openstack_pacemaker"), env={}, redact=True)
    assert b'name="password" value="REDACTED"' in redacted["pacemaker/cib.xml"]
    assert PASSWORD.encode() not in b"".join(redacted.values())


def test_no_pacemaker_no_pacemaker_files():
    files = build_configs(reference("openstack_keepalived"))
    assert not any("corosync" in p or p.startswith("pacemaker/") for p in files)


def test_missing_password_is_named():
    with pytest.raises(ConfigError) as exc:
        build_configs(reference("openstack_pacemaker"), env={})
    assert "pacemaker.fence[ipmi].params[password]" in str(exc.value)
    assert "HAMODEL_IPMI_PASSWORD" in str(exc.value)


# -- variants: two_node, qdevice, rings -------------------------------------------------


def _no_galera() -> list[Service]:
    """Two nodes cannot hold a majority-quorum Galera: the VIP, HAProxy and an A/P service."""
    lan = Network("lan", subnet="10.0.0.0/24")
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    return [
        Service("haproxy", on="ctl", ports=[9300], strategy=PacemakerVip(vip), supervisor="pacemaker"),
        Service("worker", on="ctl", depends_on=["haproxy"], strategy=ActivePassive(manager="pacemaker")),
    ]


def test_two_node_variant():
    arch = cluster(
        2,
        two_node=True,
        services=_no_galera(),
        fence=[
            FenceDevice(
                "bmc",
                agent="fence_ipmilan",
                delay_base_s=10,
                params={"username": "admin", "password": SecretRef(env="T_FENCE_PW")},
                per_node={"n1": {"ip": "10.9.0.1"}, "n2": {"ip": "10.9.0.2"}},
            )
        ],
    )
    files = build(arch)
    conf = files["nodes/n1/corosync/corosync.conf"].decode()
    assert "two_node: 1" in conf and "wait_for_all: 1" in conf and "device {" not in conf
    fence = {p.get("id"): params(p) for p in cib_of(files).iter("primitive") if p.get("class") == "stonith"}
    assert fence["fence-bmc-n1"]["pcmk_delay_base"] == "10s"
    _assert_valid(validate_files(arch, files, replay=False))


def test_qdevice_variant():
    arch = cluster(2, qdevice=True, token_ms=5000, cluster_name="edge", services=_no_galera())
    files = build(arch)
    assert not any(p.startswith("nodes/qnetd/") for p in files)  # qnetd is outside the cluster
    conf = files["nodes/n2/corosync/corosync.conf"].decode()
    assert "model: net" in conf and "host: 10.0.0.99" in conf and "two_node" not in conf
    assert "token: 5000" in conf and "cluster_name: edge" in conf
    _assert_valid(validate_files(arch, files, replay=False))


def test_two_rings_on_two_networks():
    lan = Network("lan", subnet="10.0.0.0/24")
    ring = Network("ring", subnet="10.1.0.0/24")
    nodes = [Node(f"n{i}", roles={"ctl"}, addresses={lan: f"10.0.0.1{i}", ring: f"10.1.0.1{i}"}) for i in (1, 2, 3)]
    arch = Architecture(
        "rings",
        networks=[lan, ring],
        nodes=nodes,
        services=[Service("api", on="ctl", strategy=Coordinated(), supervisor="pacemaker")],
        pacemaker=PacemakerCluster(on="ctl", fencing=False, rings=["ring", "lan"]),
    )
    files = build(arch)
    conf = files["nodes/n3/corosync/corosync.conf"].decode()
    assert "ring0_addr: 10.1.0.13" in conf and "ring1_addr: 10.0.0.13" in conf and "linknumber: 1" in conf
    props = {nv.get("name"): nv.get("value") for nv in cib_of(files).iter("nvpair")}
    assert props["stonith-enabled"] == "false"
    _assert_valid(validate_files(arch, files, replay=False))


def _three_networks(**pm) -> Architecture:
    """Cluster nodes on a LAN, a storage network and a public network (a public VIP on it)."""
    pub = Network("pub", subnet="192.0.2.0/24")
    lan = Network("lan", subnet="10.0.0.0/24")
    sto = Network("storage", subnet="10.1.0.0/24")
    pvip = VirtualIP("pvip", "192.0.2.100", network=pub, exposure="public")
    nodes = [
        Node(f"n{i}", roles={"ctl"}, addresses={pub: f"192.0.2.1{i}", lan: f"10.0.0.1{i}", sto: f"10.1.0.1{i}"})
        for i in (1, 2, 3)
    ]
    return Architecture(
        "links",
        networks=[pub, lan, sto],
        vips=[pvip],
        nodes=nodes,
        services=[Service("haproxy", on="ctl", ports=[9300], strategy=PacemakerVip(pvip), supervisor="pacemaker")],
        pacemaker=PacemakerCluster(on="ctl", fencing=False, **pm),
    )


def test_two_knet_links_by_default_on_two_cluster_networks():
    """No rings in the model, nodes on two private networks and a public one:
    knet links 0 and 1 on the private ones (model order), none on the public
    network; corosync -t accepts the file on every node. udpu takes one link."""
    arch = _three_networks()
    files = build(arch)
    for i in (1, 2, 3):
        conf = files[f"nodes/n{i}/corosync/corosync.conf"].decode()
        assert [x.strip() for x in conf.splitlines() if "_addr:" in x][2 * (i - 1) : 2 * i] == [
            f"ring0_addr: 10.0.0.1{i}",
            f"ring1_addr: 10.1.0.1{i}",
        ], conf
        assert "linknumber: 1" in conf and "192.0.2." not in conf.split("nodelist")[1]
    _assert_valid(validate_files(arch, files, replay=False))
    one = build(_three_networks(transport="udpu"))["nodes/n1/corosync/corosync.conf"].decode()
    assert "ring0_addr: 10.0.0.11" in one and "ring1_addr" not in one and "linknumber: 1" not in one


# -- bad fence configuration: named errors -------------------------------------------------


def test_fencing_without_a_device_is_refused_at_build():
    arch = cluster(3, fence=[])
    with pytest.raises(ConfigError) as exc:
        build(arch)
    assert str(exc.value).startswith("pacemaker.fence: fencing=True but no fence device")


@pytest.mark.parametrize(
    "change, where",
    [
        (
            lambda: [FenceDevice("bmc", agent="fence_ipmilan", per_node={"n1": {}, "n2": {}, "n9": {}})],
            "pacemaker.fence[bmc].per_node",
        ),
        (lambda: [FenceDevice("bmc", agent="fence_ipmilan", per_node={"n1": {}, "n2": {}})], "pacemaker.fence"),
        (
            lambda: [FenceDevice("pdu", agent="fence_apc", targets=["n1", "n2", "n3"], host_map={"n1": 1, "n2": 2})],
            "pacemaker.fence[pdu].host_map",
        ),
    ],
)
def test_bad_fence_devices_are_named(change, where):
    with pytest.raises(ModelError) as exc:
        cluster(3, fence=change())
    assert any(w == where for w, _ in exc.value.problems), exc.value.problems


def test_fence_device_field_errors_are_named():
    with pytest.raises(ModelError) as exc:
        FenceDevice("bmc", agent="fence_ipmilan", params={"pcmk_host_list": "n1"})
    assert "FenceDevice[bmc]" in str(exc.value) and "pcmk_host_list" in str(exc.value)
    with pytest.raises(ModelError) as exc:
        FenceDevice("bmc", agent="fence_ipmilan", params={"ip": "10.0.0.1 ; reboot"})
    assert "FenceDevice[bmc].params" in str(exc.value)
    with pytest.raises(ModelError) as exc:
        cluster(3, fencing=False, fence=[FenceDevice("bmc", agent="fence_ipmilan")])
    assert "pacemaker.fence" in str(exc.value) and "fencing=False" in str(exc.value)


def test_a_secret_outside_the_alphabet_is_refused_without_showing_it():
    with pytest.raises(ConfigError) as exc:
        build(cluster(3), env={"T_FENCE_PW": "pa ss'word"})
    assert "pacemaker.fence[bmc].params[password]" in str(exc.value) and "pa ss" not in str(exc.value)


# -- any generated Pacemaker model: both tools accept, or a named refusal ---------------------


@st.composite
def pacemaker_models(draw):
    n = draw(st.integers(2, 4))
    mode = draw(st.sampled_from(["plain", "two_node", "qdevice"]))
    if mode == "two_node":
        n = 2
    lan = Network("lan", subnet="10.0.0.0/24")
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    nodes = [Node(f"c{i}", roles={"ctl"}, addresses={lan: f"10.0.0.{10 + i}"}) for i in range(1, n + 1)]
    if mode == "qdevice":
        nodes.append(Node("q", roles={"arb"}, addresses={lan: "10.0.0.99"}))
    kinds = draw(
        st.lists(
            st.sampled_from(["vip", "galera", "rabbitmq", "redis", "other_cluster", "ap", "supervised"]),
            min_size=1,
            max_size=5,
            unique=True,
        )
    )
    services = []
    for i, k in enumerate(kinds):
        deps = [s.name for s in services if draw(st.booleans())]
        if k == "vip":
            services.append(Service("lb", on="ctl", strategy=PacemakerVip(vip), depends_on=deps))
        elif k in ("galera", "rabbitmq", "redis", "other_cluster"):
            process = {"galera": "mariadb", "other_cluster": "etcd"}.get(k, k)
            services.append(
                Service(
                    k.replace("_", "-"),
                    process=process,
                    on="ctl",
                    ports=[2000 + i],
                    replicas=draw(st.sampled_from(["all", 1, 2])),
                    # quorum 1: two nodes hold it too (the analysis' concern, not the CIB's)
                    strategy=AppCluster(manager="pacemaker", quorum=1),
                    depends_on=deps,
                )
            )
        elif k == "ap":
            services.append(Service("ap", on="ctl", strategy=ActivePassive(manager="pacemaker"), depends_on=deps))
        else:
            services.append(Service("agent", on="ctl", strategy=Coordinated(), supervisor="pacemaker", depends_on=deps))
    fencing = draw(st.booleans())
    fence = []
    if fencing and draw(st.integers(0, 4)):  # now and then fencing=True with no device: refused at build
        if draw(st.booleans()):
            fence = [
                FenceDevice(
                    "bmc",
                    agent="fence_ipmilan",
                    delay_base_s=draw(st.sampled_from([0, 5])),
                    params={"username": "admin", "password": SecretRef(env="T_FENCE_PW")},
                    per_node={f"c{i}": {"ip": f"10.9.0.{i}"} for i in range(1, n + 1)},
                )
            ]
        else:
            fence = [
                FenceDevice(
                    "pdu",
                    agent="fence_apc",
                    params={"ip": "10.9.0.200", "username": "apc", "password": SecretRef(env="T_FENCE_PW")},
                    host_map={f"c{i}": i for i in range(1, n + 1)} if draw(st.booleans()) else {},
                )
            ]
    pm = PacemakerCluster(
        on="ctl",
        fencing=fencing,
        fence=fence,
        two_node=mode == "two_node",
        qdevice="q" if mode == "qdevice" else None,
        wait_for_all=draw(st.booleans()),
        transport=draw(st.sampled_from(["knet", "udpu", "udp"])),
        token_ms=draw(st.sampled_from([1000, 3000, 10000])),
        quorum=draw(st.sampled_from(["majority", 1, 2])) if mode == "plain" else "majority",
    )
    return Architecture("random-pcmk", networks=[lan], vips=[vip], nodes=nodes, services=services, pacemaker=pm)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_pacemaker_models_are_accepted_or_refused_by_name(data):
    try:
        arch = data.draw(pacemaker_models())
        files = build(arch)
    except Unplaceable as exc:
        event("refused: unplaceable")
        assert any(s.name in str(exc) for s in arch.services), str(exc)  # names the service
        return
    except HamodelError as exc:
        # refused: the message names the model object and field
        text = str(exc)
        event(f"refused: {text.split(':')[0]}")
        assert (
            text.startswith(("pacemaker", "services[", "vrrp_groups[", "nodes[", "random-pcmk", "Architecture"))
            or "pacemaker." in text
        ), text
        return
    event("accepted by crm_verify and corosync -t")
    results = validate_files(arch, files, replay=False)
    _assert_valid(results)
    assert sum(r.path.endswith("corosync.conf") for r in results) == len([n for n in arch.nodes if "ctl" in n.roles])
    assert any(r.path == "pacemaker/cib.xml" for r in results)
    for path, data_ in files.items():
        if path not in files.secret:
            assert PASSWORD.encode() not in data_, path


# -- ids unique by construction (issue 30) ----------------------------------------------


def _ids_arch(second: str) -> Architecture:
    """Nodes ``1``, ``n-1``, ``n3``; service ``w`` kept off ``n-1``, service ``second`` off ``1``."""
    lan = Network("lan", subnet="10.0.0.0/24")
    nodes = [
        Node("1", roles={"r1"}, addresses={lan: "10.0.0.11"}),
        Node("n-1", roles={"r2"}, addresses={lan: "10.0.0.12"}),
        Node("n3", roles={"r1", "r2"}, addresses={lan: "10.0.0.13"}),
    ]
    return Architecture(
        "ids",
        networks=[lan],
        nodes=nodes,
        services=[
            Service("w", on="r1", replicas="all", strategy=ActivePassive(manager="pacemaker")),
            Service(second, on="r2", replicas="all", strategy=ActivePassive(manager="pacemaker")),
        ],
        pacemaker=PacemakerCluster(on=["r1", "r2"], fencing=False),
    )


def test_names_with_dashes_give_distinct_constraint_ids():
    """``w`` avoiding ``n-1`` and ``w-n`` avoiding ``1`` were both
    ``location-w-n-1--INFINITY``: build exited 0 and crm_verify refused the CIB
    (failed before the ids were built part by part)."""
    files = build(_ids_arch("w-n"))
    locs = {(c.get("rsc"), c.get("node")): c.get("id") for c in cib_of(files).iter("rsc_location")}
    assert locs[("w", "n-1")] != locs[("w-n", "1")]
    ids = [el.get("id") for el in cib_of(files).iter() if el.get("id")]
    assert len(ids) == len(set(ids))
    _assert_valid([cib_check(files["pacemaker/cib.xml"])])
    _assert_valid([pcs_replay_check(files["pacemaker/cib.xml"], files["pacemaker/pcs-setup.sh"])])


def test_an_id_clash_anywhere_in_the_cib_is_refused_before_writing():
    """An op id pcs derives from resource ``w`` (``w-monitor-interval-10s``) is
    also a service's resource id: refused by name, no CIB written."""
    with pytest.raises(ConfigError) as exc:
        build(_ids_arch("w-monitor-interval-10s"))
    assert "id w-monitor-interval-10s to 2 elements (op, primitive)" in str(exc.value)
