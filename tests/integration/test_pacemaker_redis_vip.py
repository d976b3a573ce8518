"""A VIP that follows the promoted Redis (issue 24): ``AppCluster(manager=
"pacemaker", vips=[...])`` on a Redis cluster gives a promotable clone of
``ocf:heartbeat:redis`` and an ``IPaddr2`` colocated with its Promoted role,
started after the promotion (Mandatory: stopped before a demotion).

Checked with the real tools: ``crm_verify`` and the pcs replay accept the
CIB; Pacemaker's own scheduler (``crm_simulate``) places the VIP on the
promoted node, starts it after the promote, and moves it with the promotion
when that node goes down. The agent sets promotion scores at run time (it
is not run here): a ``role=Promoted`` location preference per node stands
in for them in the simulated copy only. The same simulation with the
constraint as hamodel wrote it before (with the clone, no role) leaves the
VIP on a node that is not promoted: the check can fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hamodel.generators.configs import build_configs

from hamodel import Architecture, Network, Node, PacemakerCluster, Service, VirtualIP
from hamodel.errors import HamodelError
from hamodel.pipeline import resolve
from hamodel.strategies import AppCluster, BehindVip
from hamodel.validate import validate_files

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("crm_verify", "crm_simulate", "corosync", "pcs", "ip")),
        reason="needs root, ip netns, pacemaker-cli-utils, corosync and pcs",
    ),
]


def redis_arch(**strategy) -> Architecture:
    lan = Network("lan", subnet="10.0.0.0/24")
    rvip = VirtualIP("redis-vip", "10.0.0.50", network=lan)
    nodes = [Node(f"n{i}", roles={"ctl"}, addresses={lan: f"10.0.0.{10 + i}"}) for i in (1, 2, 3)]
    return Architecture(
        "redis-vip",
        networks=[lan],
        vips=[rvip],
        nodes=nodes,
        services=[
            Service(
                "redis",
                process="redis-server",
                on="ctl",
                replicas=3,
                ports=[6379],
                strategy=AppCluster(manager="pacemaker", vips=[rvip], **strategy),
            )
        ],
        pacemaker=PacemakerCluster(on="ctl", fencing=False),
    )


@pytest.fixture(scope="module")
def files():
    return build_configs(resolve(redis_arch(), analyse=False))


def test_the_vip_is_colocated_with_the_promoted_role_and_ordered_after_promote(files):
    cons = ET.fromstring(files["pacemaker/cib.xml"]).find("configuration/constraints")
    coloc = [c.attrib for c in cons.iter("rsc_colocation")]
    assert coloc == [
        {
            "id": "colocation_ip-redis-vip_redis-clone_INFINITY",
            "rsc": "ip-redis-vip",
            "with-rsc": "redis-clone",
            "rsc-role": "Started",
            "with-rsc-role": "Promoted",
            "score": "INFINITY",
        }
    ]
    orders = [
        (o.get("first"), o.get("first-action"), o.get("then"), o.get("then-action"), o.get("kind"))
        for o in cons.iter("rsc_order")
    ]
    assert orders == [("redis-clone", "promote", "ip-redis-vip", "start", "Mandatory")]
    clone = ET.fromstring(files["pacemaker/cib.xml"]).find(".//clone[@id='redis-clone']")
    meta = {nv.get("name"): nv.get("value") for nv in clone.find("meta_attributes")}
    assert meta["promotable"] == "true" and meta["promoted-max"] == "1" and meta["notify"] == "true"
    assert (
        'pcs -f "$CIB" constraint colocation add ip-redis-vip with Promoted redis-clone'
        in files["pacemaker/pcs-setup.sh"].decode()
    )


def test_crm_verify_corosync_and_pcs_replay_accept_it(files):
    results = validate_files(redis_arch(), files)
    assert results and all(r.ok for r in results), [(r.path, r.output) for r in results if not r.ok]


def _simulate(tmp: Path, cib: bytes, prefs: dict[str, int], *argv: str, state: str = "in.xml") -> str:
    text = cib.decode().replace(
        "</constraints>",
        "".join(
            f'<rsc_location id="test-pref-{n}" rsc="redis-clone" role="Promoted" node="{n}" score="{s}"/>'
            for n, s in prefs.items()
        )
        + "</constraints>",
    )
    (tmp / state).write_text(text)
    r = subprocess.run(
        ["crm_simulate", "-x", str(tmp / state), "-q", "1", "-S", *argv], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _placed(out: str) -> tuple[str | None, str | None]:
    """(promoted node, VIP node) in the revised status."""
    rev = out.split("Revised Cluster Status:")[1]
    prom = re.search(r"Promoted: \[ (\S+) \]", rev)
    vip = re.search(r"ip-redis-vip\s+\(ocf:heartbeat:IPaddr2\):\s+Started (\S+)", rev)
    return (prom.group(1) if prom else None), (vip.group(1) if vip else None)


@pytest.mark.parametrize("preferred", ["n1", "n2", "n3"])
def test_the_scheduler_puts_the_vip_on_the_promoted_node_after_the_promote(tmp_path, files, preferred):
    prefs = {n: (100 if n == preferred else 10) for n in ("n1", "n2", "n3")}
    out = _simulate(
        tmp_path,
        files["pacemaker/cib.xml"],
        prefs,
        "-u",
        "n1",
        "-u",
        "n2",
        "-u",
        "n3",
        "-G",
        str(tmp_path / "graph.xml"),
    )
    assert _placed(out) == (preferred, preferred), out
    graph = ET.parse(tmp_path / "graph.xml").getroot()
    start = next(
        s
        for s in graph.iter("synapse")
        if s.find("action_set")[0].get("operation_key", "").startswith("ip-redis-vip_start")
    )
    inputs = {t.get("operation_key") for t in start.find("inputs").iter() if t.get("operation_key")}
    assert "redis-clone_confirmed-post_notify_promoted_0" in inputs, inputs


def test_the_vip_follows_a_new_promotion_when_the_promoted_node_goes_down(tmp_path, files):
    prefs = {"n2": 100, "n3": 50, "n1": 10}
    _simulate(
        tmp_path,
        files["pacemaker/cib.xml"],
        prefs,
        "-u",
        "n1",
        "-u",
        "n2",
        "-u",
        "n3",
        "-O",
        str(tmp_path / "running.xml"),
    )
    r = subprocess.run(
        ["crm_simulate", "-x", str(tmp_path / "running.xml"), "-q", "1", "-S", "-d", "n2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    print(r.stdout.split("Transition Summary:")[1].split("Executing")[0])
    assert _placed(r.stdout) == ("n3", "n3"), r.stdout


def test_the_old_constraint_would_leave_the_vip_away_from_the_promoted_node(tmp_path, files):
    old = files["pacemaker/cib.xml"].replace(b' with-rsc-role="Promoted"', b"")
    misses = []
    for preferred in ("n1", "n2", "n3"):
        prefs = {n: (100 if n == preferred else 10) for n in ("n1", "n2", "n3")}
        prom, vip = _placed(_simulate(tmp_path, old, prefs, "-u", "n1", "-u", "n2", "-u", "n3"))
        misses += [preferred] if prom != vip else []
    assert misses, "without the role the VIP still always followed the promotion"


def test_vips_need_pacemaker_and_no_haproxy_front_on_them():
    with pytest.raises(HamodelError, match="manager='pacemaker'"):
        AppCluster(vips=["redis-vip"])
    arch = redis_arch()
    front = Service("cache-api", on="ctl", replicas=3, strategy=BehindVip("redis-vip", port=8080))
    with pytest.raises(HamodelError, match="promoted member of services\\[redis\\]"):
        Architecture(
            "x",
            networks=arch.networks,
            vips=arch.vips,
            nodes=arch.nodes,
            services=[*arch.services, front],
            pacemaker=arch.pacemaker,
        )


def test_import_reads_it_back_as_the_promoted_vip(tmp_path, files):
    """hamodel import of the generated CIB gives AppCluster(vips=...) again
    (it gave PacemakerVip before, a different CIB), and the rebuilt CIB has
    the same resources and constraints."""
    from test_adopt_roundtrip import _collect

    from hamodel.adopt import import_folder
    from hamodel.loader import load

    _collect(files, tmp_path / "collected")
    draft = import_folder(tmp_path / "collected", "redis-vip")
    assert "AppCluster(manager='pacemaker', vips=[redis_vip])" in draft.source, draft.source
    (tmp_path / "site.py").write_text(draft.source)
    rebuilt = build_configs(resolve(load(str(tmp_path / "site.py")), analyse=False))

    def shape(xml: bytes) -> list:
        conf = ET.fromstring(xml).find("configuration")
        return sorted(
            (el.tag, tuple(sorted(el.attrib.items())))
            for part in ("resources", "constraints")
            for el in conf.find(part).iter()
        )

    assert shape(rebuilt["pacemaker/cib.xml"]) == shape(files["pacemaker/cib.xml"])
