"""The placement's role index and the Sphinx extension's build state are kept outside the
objects they describe (issue 28: no writes into ``__dict__``)."""

from __future__ import annotations

import gc
import weakref

from test_configs import ROOT

from hamodel.analysis import placement
from hamodel.loader import load
from hamodel.ordering import natural_key


def test_candidates_follow_the_model_they_are_asked_about():
    arch = load(ROOT / "models" / "openstack_keepalived.py")
    svc = arch.service("galera")
    before = placement.candidates(arch, svc)
    assert before == sorted(before, key=natural_key) and before
    assert "_ha_placement_roles" not in vars(arch)  # nothing of the placement written into the model
    # Another model with the last candidate gone: its own answer, not the first model's.
    other = arch.model_copy(update={"nodes": [n for n in arch.nodes if n.name != before[-1]]})
    assert placement.candidates(other, svc) == before[:-1]
    assert placement.candidates(arch, svc) == before


def test_the_role_index_stays_bounded():
    arch = load(ROOT / "models" / "openstack_keepalived.py")
    svc = arch.service("galera")
    for _ in range(3 * placement._ROLE_INDEXES_KEPT):
        placement.candidates(arch.model_copy(update={"nodes": list(arch.nodes)}), svc)
        gc.collect()
    assert len(placement._ROLE_INDEXES) <= placement._ROLE_INDEXES_KEPT


def test_the_sphinx_build_state_is_per_application():
    from hamodel import sphinx

    class App:  # what the extension keys its state by: the application object
        pass

    a, b = App(), App()
    sphinx._build(a).explorer_pages.add("x/explorer")  # type: ignore[arg-type]
    assert sphinx._build(a).explorer_pages == {"x/explorer"}  # type: ignore[arg-type]
    assert sphinx._build(b).explorer_pages == set()  # type: ignore[arg-type]
    assert not vars(a)
    state = weakref.ref(sphinx._build(a))  # type: ignore[arg-type]
    del a
    gc.collect()
    assert state() is None  # gone with its application
