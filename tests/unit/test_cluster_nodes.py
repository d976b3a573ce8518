"""One list of Pacemaker cluster nodes (issue 28, names): the generated
corosync.conf, the analysis and the drill lab number the nodes alike, even
when the model lists them out of name order."""

from __future__ import annotations

from hamodel.generators.configs import build_configs

from hamodel.analysis.components import view
from hamodel.drill.pacemaker.cluster_plan import cluster_nodes, parse_corosync_nodes, plan
from hamodel.model import Architecture
from hamodel.pipeline import resolve


def _out_of_order(arch: Architecture) -> Architecture:
    data = arch.model_dump()
    data["nodes"] = list(reversed(data["nodes"]))
    return Architecture.model_validate(data)


def test_drill_lab_numbers_the_nodes_as_the_generated_corosync_conf(reference_arch):
    arch = _out_of_order(reference_arch("openstack_pacemaker"))
    in_model = [n.name for n in arch.nodes if n.name in set(arch.pacemaker_nodes())]
    assert in_model != sorted(in_model), "the model must list the cluster out of name order"
    dep = resolve(arch, analyse=False)
    files = build_configs(dep, {"HAMODEL_IPMI_PASSWORD": "x"})
    node = arch.pacemaker_nodes()[0]
    generated = {
        d["name"]: int(d["nodeid"])
        for d in parse_corosync_nodes(files[f"nodes/{node}/corosync/corosync.conf"].decode())
    }
    lab = plan(arch, dep, files)
    assert lab.source == "generated"
    # The lab's members carry the node ids corosync.conf gives them (they used to follow the model's order).
    assert {m.node: m.nodeid for m in lab.members} == generated
    assert cluster_nodes(arch) == list(arch.pacemaker_nodes()) == sorted(generated, key=generated.get)
    assert view(arch, dep.placement, dep.vrrp_groups).pcmk_nodes == arch.pacemaker_nodes()
