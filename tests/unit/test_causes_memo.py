"""The finding texts of hamodel.analysis.causes read the nodes of a role and
the domains of a kind from a memo on the view (issue 30, scale: they were a
walk over every node or domain per finding). The memo gives the old answers:
compared with the direct walks on the reference models and synthetic models."""

from __future__ import annotations

from pathlib import Path

import pytest

from hamodel.analysis import causes
from hamodel.analysis.components import component_kind, view
from hamodel.analysis.placement import place
from hamodel.analysis.results import Placement
from hamodel.loader import load
from hamodel.model.strategies import ActivePassive
from hamodel.testing import synthetic

ROOT = Path(__file__).resolve().parents[2]
MODELS = [load(ROOT / "models" / p.name) for p in sorted((ROOT / "models").glob("*.py"))]


def _old_others(v, s: str) -> list[str]:
    return sorted(n.name for n in v.arch.nodes_with_roles(list(v.services[s].on)) if n.name not in v.instances[s])


def _old_domains(v, kind: str) -> list[str]:
    return sorted(
        {
            d.split(":", 1)[1]
            for d in v.node_domain_ids()
            if component_kind(d) == "domain" and v.arch.domain(d.split(":", 1)[1]).kind == kind
        }
    )


@pytest.mark.parametrize("arch", [*MODELS, synthetic(10, 100, 300, seed=1), synthetic(10, 100, 300, seed=2)])
def test_memo_answers_as_the_walks(arch):
    r = place(arch)
    v = view(arch, r.placement, r.vrrp_groups)
    passive = 0
    for s, svc in v.services.items():
        if isinstance(svc.strategy, ActivePassive) and s in v.instances:
            text = causes._unmanaged_takeover(v, s)
            others = _old_others(v, s)
            assert (f" ({', '.join(others)})" if others else "") in text
            assert (f" ({', '.join(others)})" in text) == bool(others)
            passive += 1
    kinds = {d.kind for d in arch.domains}
    for kind in kinds | {"nothing-of-this-kind"}:
        assert causes._domains_of_kind(v, kind) == _old_domains(v, kind)
        causes._domains_of_kind(v, kind).append("x")  # a copy: the memo stays as it was
        assert causes._domains_of_kind(v, kind) == _old_domains(v, kind)
    assert kinds or passive or not arch.domains


@pytest.mark.parametrize("arch", [*MODELS, synthetic(10, 100, 300, seed=1)])
def test_services_on_index_answers_as_the_walk(arch):
    """Placement.services_on reads a node -> services index (built once); the walk over
    every service gives the same tuples, in the same order, for every node."""
    p = place(arch).placement
    for n in [x.name for x in arch.nodes] + ["no-such-node"]:
        assert p.services_on(n) == tuple(s for s, ns in p.instances.items() if n in ns)
    twice = Placement({"b": ["n1", "n1"], "a": ["n2", "n1"]})
    assert twice.services_on("n1") == ("a", "b") and twice.services_on("n3") == ()
