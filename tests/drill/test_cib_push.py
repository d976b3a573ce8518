"""The CIB push never touches node state (issue 24), on a real
corosync/Pacemaker cluster in namespaces (the drill's lab, three nodes).

A node put in standby and a node attribute survive a push of a changed
configuration with the manifest's ``on_change`` (crm_diff + cibadmin
--patch of hamodel's sections); the change itself is applied and
``crm_verify -L`` is clean. The old way (``cibadmin --replace --scope
configuration``, what ``pcs cluster cib-push --config`` does) is run last
on the same cluster: it erases the standby, so the check can fail.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hamodel.generators.manifest import KINDS

from hamodel.drill.pacemaker.cluster_plan import available
from hamodel.drill.pacemaker.lab import open_lab
from hamodel.loader import load

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "openstack_pacemaker.py"
LOCK = ROOT / "tests" / "golden" / "openstack_pacemaker.lock.json"

pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.skipif(available() is not None, reason=str(available()))]


def _standby(pl, node: str) -> str | None:
    r = pl.tool(pl.nodes[0], ["crm_attribute", "--node", node, "--name", "standby", "--query", "--quiet"])
    return r.stdout.strip() if r.returncode == 0 else None


def _attr(pl, node: str, name: str) -> str | None:
    r = pl.tool(pl.nodes[0], ["crm_attribute", "--node", node, "--name", name, "--query", "--quiet"])
    return r.stdout.strip() if r.returncode == 0 else None


def test_a_push_keeps_standby_and_node_attributes() -> None:
    pl = open_lab(load(MODEL), lock=LOCK)
    try:
        admin, resting = pl.nodes[0], pl.nodes[1]
        for argv in (
            ["crm_attribute", "--node", resting, "--name", "standby", "--update", "on"],
            ["crm_attribute", "--node", admin, "--name", "hamodel-test-rack", "--update", "r7"],
        ):
            r = pl.tool(admin, argv)
            assert r.returncode == 0, r.stderr
        assert _standby(pl, resting) == "on"

        # A deploy that changes a resource default and a property: the lab's configuration, changed.
        conf = ET.fromstring(pl.configuration)
        conf.find("rsc_defaults/meta_attributes/nvpair[@name='resource-stickiness']").set("value", "7")
        new = pl.ndir(admin) / "lib-pacemaker" / "new.xml"
        pl.lab.write_file(new, ET.tostring(conf, encoding="unicode"), mode=0o600)
        push = [a.replace("{dest}", "/var/lib/pacemaker/new.xml") for a in KINDS["pacemaker-cib"].on_change]
        r = pl.tool(admin, push, timeout=60)
        assert r.returncode == 0, r.stderr + r.stdout
        live = ET.fromstring(pl.tool(admin, ["cibadmin", "--query"]).stdout)
        assert live.find(".//rsc_defaults//nvpair[@name='resource-stickiness']").get("value") == "7"
        assert _standby(pl, resting) == "on"
        assert _attr(pl, admin, "hamodel-test-rack") == "r7"
        assert live.find(".//crm_config//nvpair[@name='dc-version']") is not None  # the cluster's own
        pl.wait(lambda: not pl.unsettled([n for n in pl.nodes if n != resting]), 120, "resources settled")
        v = pl.tool(admin, ["crm_verify", "-L"], timeout=60)
        assert v.returncode == 0 and not v.stderr.strip(), v.stderr + v.stdout
        # A second push of the same file changes nothing (an empty diff).
        epoch = live.get("epoch")
        assert pl.tool(admin, push, timeout=60).returncode == 0
        assert ET.fromstring(pl.tool(admin, ["cibadmin", "--query"]).stdout).get("epoch") == epoch

        # The old way erases the standby: what the check above guards against.
        pl.push_configuration()
        assert _standby(pl, resting) is None
    finally:
        pl.teardown()
