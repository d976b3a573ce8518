"""One-way flow (issue 28): model -> analysis -> results -> Deployment ->
generators -> files. Everything the generators (the configs, the model
document, the failure explorer, the diagrams and the Sphinx extension's
extras) print is computed before the Deployment is built; with every entry
into the analysis made to raise, the generators still produce the same
bytes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import z3

import hamodel.analysis.components as components
import hamodel.analysis.cutsets as cutsets
import hamodel.analysis.failures as failures
import hamodel.analysis.importance as importance
import hamodel.analysis.placement as placement
import hamodel.analysis.probability as probability

MODELS = ["kubeadm", "multirack", "openstack_keepalived", "openstack_pacemaker", "webplatform"]
ENV = {"HAMODEL_IPMI_PASSWORD": "x"}


class SolverStarted(AssertionError):
    pass


def _refuse(what: str):
    def refuse(*_a, **_kw):
        raise SolverStarted(f"a generator started the analysis: {what}")

    return refuse


@pytest.fixture
def no_analysis(monkeypatch):
    """Every way into the analysis raises: Z3 itself, the cut-set engine, the
    analysis object, the component view, the BDDs, importance and placement."""
    for cls in (z3.Solver, z3.Optimize):
        monkeypatch.setattr(cls, "__init__", _refuse(f"z3.{cls.__name__}()"))
        monkeypatch.setattr(cls, "check", _refuse(f"z3.{cls.__name__}.check"))
    monkeypatch.setattr(z3, "SolverFor", _refuse("z3.SolverFor"))
    monkeypatch.setattr(cutsets.Analyzer, "__init__", _refuse("Analyzer()"))
    monkeypatch.setattr(cutsets.Analyzer, "cut_sets", _refuse("Analyzer.cut_sets"))
    monkeypatch.setattr(failures.Analysis, "__init__", _refuse("Analysis()"))
    for name in ("importance", "availability", "single_failures", "cut_sets", "results"):
        monkeypatch.setattr(failures.Analysis, name, _refuse(f"Analysis.{name}"), raising=False)
    monkeypatch.setattr(probability.Diagrams, "__init__", _refuse("Diagrams()"))
    monkeypatch.setattr(importance, "importance", _refuse("importance()"))
    monkeypatch.setattr(components, "view", _refuse("components.view()"))
    monkeypatch.setattr(failures, "view", _refuse("failures.view()"))
    monkeypatch.setattr(placement, "place", _refuse("place()"))


@pytest.fixture
def multirack(resolved):
    """The multirack deployment, resolved before ``no_analysis`` patches the
    solver away (list it first among a test's fixtures): resolving is the
    analysis's job, and the session cache may not hold it yet."""
    return resolved("multirack")


def _extras_app(tmp_path: Path) -> SimpleNamespace:
    """The parts of a Sphinx app hamodel.sphinx's extras read (a project with no drill pages)."""
    src = tmp_path / "docs"
    src.mkdir(exist_ok=True)
    return SimpleNamespace(
        config=SimpleNamespace(hamodel_configs=True, hamodel_root=None, hamodel_k=2), confdir=str(src), srcdir=str(src)
    )


def _everything(dep, app: SimpleNamespace, model: str) -> dict[str, bytes]:
    from hamodel.generators.configs import build_configs
    from hamodel.generators.docs import generate as docs
    from hamodel.generators.explorer import generate as explorer

    from hamodel.sphinx import _compute_extras

    out: dict[str, bytes] = {f"configs/{p}": bytes(b) for p, b in build_configs(dep, ENV).items()}
    extras = _compute_extras(app, Path("models") / f"{model}.py", dep, with_diagrams=False)
    assert extras.config_error is None, extras.config_error
    out.update(docs(dep, slug=model, extras=extras))
    out.update(explorer(dep, slug=model, k=2))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_generators_never_start_the_analysis(model, resolved, tmp_path, monkeypatch, request):
    dep = resolved(model)
    app = _extras_app(tmp_path)
    free = _everything(dep, app, model)  # with the analysis at hand: the reference bytes
    assert any(p.endswith("index.rst") for p in free) and any(p.endswith("explorer.json") for p in free)
    request.getfixturevalue("no_analysis")
    assert _everything(dep, app, model) == free


def test_the_guard_catches_a_generator_that_asks_the_analysis(multirack, no_analysis):
    """The fixture is not vacuous: asking the analysis after the Deployment raises."""
    from hamodel.analysis.failures import Analysis

    dep = multirack
    with pytest.raises(SolverStarted):
        Analysis(dep.architecture, dep.placement, dep.vrrp_groups).importance()
    with pytest.raises(SolverStarted):
        z3.SolverFor("QF_FD")


def test_a_deployment_without_results_is_refused_not_analysed(multirack, no_analysis):
    """A Deployment resolved without ``answers``: the explorer fails with a
    clear error and the document leaves out what the results would show (as
    it leaves out an availability it was not given), instead of starting the
    analysis behind the caller's back."""
    import dataclasses

    from hamodel.generators.docs import generate as docs
    from hamodel.generators.explorer import generate as explorer

    dep = dataclasses.replace(multirack, results=None)
    with pytest.raises(ValueError, match="answers=True"):
        explorer(dep, slug="multirack", k=2)
    index = docs(dep, slug="multirack")["multirack/index.rst"].decode()
    assert "multirack" in index
