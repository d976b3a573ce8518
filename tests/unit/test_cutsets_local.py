"""Slice-local bit numbering of the fault-tree cut sets (issue 30, scale).

:class:`hamodel.analysis.cutsets.Analyzer` gives each service's tree its own
:class:`~hamodel.analysis.faulttree.CutSets`, numbering only that tree's
components; the reference path (``local = False``) is one CutSets over the
model's global component numbering. Both must give the same sets in the same
order (the order findings, JSON and documents print) for every service and
bounded k, on the reference models and on random synthetic models.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hamodel.analysis.components import view
from hamodel.analysis.cutsets import Analyzer
from hamodel.analysis.failures import _analysed
from hamodel.analysis.faulttree import Builder, coherent
from hamodel.analysis.placement import place
from hamodel.loader import load
from hamodel.testing import synthetic

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted(p.name for p in (ROOT / "models").glob("*.py"))


def _both(arch, ks=(1, 2, 3)) -> int:
    r = place(arch)
    v = view(arch, r.placement, r.vrrp_groups)
    local, ref = Analyzer(v), Analyzer(v)
    ref.local = False
    trees = Builder(v)
    compared = 0
    for s in _analysed(arch):
        if not coherent(trees.up(s)):
            continue
        for k in ks:
            got, want = local.cut_sets(s, k), ref.cut_sets(s, k)
            assert got == want, (arch.name, s, k)  # same sets, same order
            compared += len(want[0])
    return compared


@pytest.mark.parametrize("name", MODELS)
def test_reference_models_local_equals_global(name):
    assert _both(load(ROOT / "models" / name)) > 0


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_synthetic_models_local_equals_global(seed):
    assert _both(synthetic(10, 100, 300, seed=seed), ks=(1, 2)) > 0


def test_local_numbering_is_in_global_order():
    """The numbering that keeps the order: a tree's components sorted as
    ``v.components``; reversed, the printed order of the sets changes (so
    the comparisons above can fail)."""
    arch = synthetic(10, 100, 300, seed=1)
    r = place(arch)
    v = view(arch, r.placement, r.vrrp_groups)
    an = Analyzer(v)
    s = next(s for s in _analysed(arch) if len(an.cut_sets(s, 2)[0]) > 2)
    f = Builder(v).up(s)
    order = an._local_order(f)
    pos = {c: i for i, c in enumerate(v.components)}
    assert [pos[c] for c in order] == sorted(pos[c] for c in order)
    from hamodel.analysis.faulttree import CutSets

    fwd, rev = CutSets(2, order), CutSets(2, order[::-1])
    assert fwd.as_names(fwd.family(f)) == an.cut_sets(s, 2)[0]
    assert rev.as_names(rev.family(f)) != an.cut_sets(s, 2)[0]
