"""The failure explorer's data (generators/explorer): its formulas, evaluated
as the page evaluates them, agree with the plain-Python semantics
(hamodel.analysis.semantics, the independent evaluator) on every single
failure, every cut set the analysis found and random larger combinations."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hamodel.generators.explorer import data_json, evaluate_table, explorer_data, generate

from hamodel.analysis.semantics import Evaluation

REPO = Path(__file__).resolve().parents[2]
MODELS = ["openstack_keepalived", "openstack_pacemaker", "multirack", "webplatform"]


def page_states(data: dict, failed: set[str]) -> tuple[dict[str, str], set[str]]:
    """What the page shows (the same decision as hamodel-explorer.js): state per service, split brains."""
    val = evaluate_table(data["gates"], data["components"], failed)
    states, split = {}, set()
    for s in data["services"]:
        if val[s["up"]]:
            states[s["name"]] = "degraded" if any(not val[i] for _, i in s["members"]) else "up"
        else:
            states[s["name"]] = "partial" if s["partial"] is not None and val[s["partial"]] else "down"
        if s["split"] is not None and val[s["split"]]:
            split.add(s["name"])
    return states, split


def truth(dep, failed: set[str]) -> tuple[dict[str, str], set[str]]:
    e = Evaluation(dep.results.view, failed)
    v = dep.results.view
    return {s: e.state(s) for s in sorted(v.services)}, {s: e.split_brain(s) for s in v.services}


@pytest.fixture(scope="module", params=MODELS)
def model(request, resolved):
    dep = resolved(request.param)
    return dep, explorer_data(dep, slug=request.param, k=2)


def failure_sets(dep, data: dict, n: int = 60) -> list[set[str]]:
    comps = data["components"]
    rnd = random.Random(29)
    sets = [set()] + [{c} for c in comps]
    sets += [set(c) for cs in data["cut_sets"].values() for c in cs]
    sets += [set(rnd.sample(comps, rnd.randint(2, min(6, len(comps))))) for _ in range(n)]
    return sets


@pytest.mark.slow
def test_states_agree_with_the_semantics(model) -> None:
    dep, data = model
    for failed in failure_sets(dep, data):
        states, split = page_states(data, failed)
        want, want_split = truth(dep, failed)
        assert states == want, sorted(failed)
        shown = {s["name"] for s in data["services"] if s["split"] is not None}
        assert split == {s for s in shown if want_split[s]}, sorted(failed)


def test_every_cut_set_takes_its_service_down(model) -> None:
    _, data = model
    for service, sets in data["cut_sets"].items():
        for cs in sets:
            states, _ = page_states(data, set(cs))
            assert states[service] == "down" or states[service] == "partial", (service, cs)


def test_deterministic_and_inert(resolved) -> None:
    dep = resolved("webplatform")
    first = generate(dep, slug="webplatform")
    assert first == generate(dep, slug="webplatform")
    data = json.loads(first["webplatform/explorer.json"])
    assert data_json(data) == first["webplatform/explorer.json"]
    page = first["webplatform/explorer.rst"].decode()
    inline = page.split('id="hamodel-explorer-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in inline and ">" not in inline and "&" not in inline
    assert json.loads(inline) == data
