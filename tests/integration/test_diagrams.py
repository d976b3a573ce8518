"""Diagrams: deterministic (same model, same bytes), self-contained (no path
of the build machine, icons embedded), valid graphviz output, rendered
without touching the current directory."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hamodel.generators.diagrams import VIEWS, diagram_findings, finding_stem, generate, render, render_dot

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def keepalived(resolved):
    return resolved("openstack_keepalived")


@pytest.fixture(scope="module")
def multirack(resolved):
    return resolved("multirack")


def test_two_runs_give_the_same_bytes(keepalived, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = generate(keepalived)
    second = generate(keepalived)
    assert first.keys() == second.keys()
    for path in first:
        assert first[path] == second[path], f"{path} differs between two runs"
    # Every view, plus one diagram per limitation with a failure scenario that leaves
    # something standing (not "monitoring required", not "manual recovery": every node down),
    # in SVG and PNG.
    limits = diagram_findings(keepalived)
    assert sorted(f.id for f in limits) == sorted(
        f.id
        for f in keepalived.findings
        if f.severity in ("medium", "high", "critical") and f.scenario and f.id != "manual-recovery"
    )
    assert len(limits) == 3
    expected = {f"{v}.{fmt}" for v in VIEWS for fmt in ("svg", "png")}
    expected |= {f"findings/{finding_stem(f)}.{fmt}" for f in limits for fmt in ("svg", "png")}
    assert set(first) == expected
    # Nothing was written into the current directory.
    assert list(tmp_path.iterdir()) == []


def test_same_bytes_in_a_fresh_process(keepalived, tmp_path: Path) -> None:
    """Graphviz ids come from model names, not from random or per-process
    state (another hash seed, another working directory). The fresh process
    gets this deployment's placement and allocations as JSON, so only the
    diagram code is compared."""
    import json
    import subprocess
    import sys

    state = {
        "placement": keepalived.placement.to_dict(),
        "groups": [
            {
                "service": g.service,
                "vips": list(g.vips),
                "network": g.network,
                "vrid": g.vrid,
                "priorities": dict(g.priorities),
                "master": g.master,
                "manager": g.manager,
            }
            for g in keepalived.vrrp_groups
        ],
        "findings": [f.to_dict() for f in keepalived.findings],
    }
    (tmp_path / "dep.json").write_text(json.dumps(state))
    here = render(keepalived, "physical", finding=diagram_findings(keepalived)[0], formats=["svg"])["svg"]
    code = f"""
import json, sys
from hamodel.deployment import Deployment, Finding, Placement, VrrpGroup
from hamodel.loader import load
from hamodel.generators.diagrams import diagram_findings, render
s = json.load(open("dep.json"))
findings = []
for f in s["findings"]:
    f.update(services=tuple(f["services"]), scenario=tuple(f["scenario"]))
    findings.append(Finding(**f))
dep = Deployment(load({str(REPO / "models" / "openstack_keepalived.py")!r}), Placement(s["placement"]),
                 tuple(VrrpGroup(**{{**g, "vips": tuple(g["vips"])}}) for g in s["groups"]), findings=tuple(findings))
sys.stdout.buffer.write(render(dep, "physical", finding=diagram_findings(dep)[0], formats=["svg"])["svg"])
"""
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        cwd=tmp_path,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    ).stdout
    assert other == here


@pytest.mark.parametrize("view", VIEWS)
def test_svg_is_self_contained(keepalived, view: str) -> None:
    svg = render(keepalived, view)["svg"].decode()
    ET.fromstring(svg)  # well-formed XML
    assert "site-packages" not in svg
    refs = re.findall(r'(?:xlink:)?href="([^"]*)"', svg)
    if view != "logical":  # the logical view is tables only
        assert refs, "expected embedded icons"
    assert all(r.startswith(("data:image/png;base64,", "#")) for r in refs), [r[:80] for r in refs]
    assert not re.search(r'"/(?:usr|root|home|tmp|opt)/', svg)


def test_png_is_a_png(keepalived) -> None:
    png = render(keepalived, "logical", formats=["png"])["png"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_physical_view_content(multirack) -> None:
    dot = render_dot(multirack, "physical")
    # Failure domains as nested clusters, nodes inside them, switches.
    assert 'subgraph "cluster_zone dc1"' in dot and 'subgraph "cluster_rack rack-1"' in dot
    assert "node__ctl_2d1" in dot and "switch__tor_2d1" in dot
    # VIP holders marked: the master with a star, backups, priorities.
    for g in multirack.vrrp_groups:
        assert f"MASTER (priority {g.priorities[g.master]})" in dot
    assert "backup (priority" in dot
    # Dual-corded nodes: named in the label, and a cord from each feed.
    assert "dual-corded: pdu-a + pdu-b" in dot
    assert dot.count('class="power dual-corded"') == 2 * len(multirack.architecture.nodes)


def test_logical_view_content(keepalived) -> None:
    dot = render_dot(keepalived, "logical")
    # A table per group; a row says how the service survives, its VIP port
    # and what it needs beyond its coordination channel.
    assert "<B>Support</B>" in dot and "<B>Nova</B>" in dot
    assert "clustered, quorum majority" in dot and ":3306" in dot
    assert "VRRP, VRID 1, master ctl-1" in dot
    assert "rpc via rabbitmq" in dot and "needs galera, keystone, rabbitmq" in dot
    assert "active/passive, no fail-over, on ctl-1" in dot
    # Groups others depend on are shaded and sit in one column.
    # (heat-engine only starts after ceilometer-api: Ceilometer is not depended on; the metadata agent needs nova-api)
    assert re.search(r'rank=same; "group__Keystone"; "group__Nova"; "group__Support"', dot)
    assert "group__Neutron:e -> group__Nova:w" in dot and "group__Nova -> group__Support" in dot


def test_finding_diagram_highlights_the_scenario(keepalived) -> None:
    spof = next(f for f in keepalived.findings if f.id == "spof:cinder-volume")
    failed_node = spof.scenario[0].split(":", 1)[1]
    dot = render_dot(keepalived, "physical", spof)
    assert f"{failed_node}</B> <FONT COLOR=" in dot and "(failed)" in dot
    split = next(f for f in keepalived.findings if f.id.startswith("split-brain:"))
    dot = render_dot(keepalived, "physical", split)
    assert dot.count("label=cut") == len(split.scenario)


def _roles(dot: str) -> dict[str, str]:
    """node -> its VRRP role row in a physical diagram."""
    out = {}
    for m in re.finditer(r"<B>(ctl-\d)</B>.*?controller-vip: ([A-Za-z ()]+?) \(priority", dot):
        out[m.group(1)] = m.group(2).strip()
    return out


def test_finding_diagrams_draw_the_state_after_the_failure(keepalived) -> None:
    """Issue 31: the VIP is drawn where it went (new master, both masters in a split brain),
    failed nodes greyed, only lost instances shaded, cropped to the nodes involved."""
    spof = next(f for f in keepalived.findings if f.id == "spof:cinder-volume")
    dot = render_dot(keepalived, "physical", spof)
    roles = _roles(dot)
    assert roles == {"ctl-1": "down", "ctl-2": "MASTER"}, roles  # ctl-3 plays no part: not drawn
    assert "\u2605 controller-vip: MASTER" in dot and "ctl-3" not in dot and "sw-3" not in dot
    split = next(f for f in keepalived.findings if f.id.startswith("split-brain:"))
    roles = _roles(render_dot(keepalived, "physical", split))
    assert sorted(r for r in roles.values() if r.startswith("MASTER")) == ["MASTER (one of two)"] * 2, roles
    lbaas = next(f for f in keepalived.findings if f.id.startswith("partial-outage:neutron-lbaas-agent"))
    dot = render_dot(keepalived, "physical", lbaas)
    failed = lbaas.scenario[0].split(":", 1)[1]
    shaded = re.findall(r'<TD ALIGN="LEFT" BGCOLOR="#F5B7B1"><FONT POINT-SIZE="10">neutron-lbaas-agent', dot)
    assert len(shaded) == 1 and f"{failed}</B>" in dot
    # Node boxes do not list every service.
    assert "other services" in dot and "nova-conductor" not in dot


def test_ids_are_injective() -> None:
    from hamodel.generators.diagrams import _id

    assert len({_id("node", "a.b"), _id("node", "a_b"), _id("node", "a-b"), _id("node_a", "b")}) == 4


def test_dot_failure_is_reported(keepalived, monkeypatch) -> None:
    import hamodel.generators.diagrams as d

    monkeypatch.setattr(d, "render_dot", lambda *a, **k: "digraph { this is not dot")
    with pytest.raises(RuntimeError, match="graphviz dot"):
        d.render(keepalived, "physical")
