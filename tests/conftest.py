"""Setup shared by the tests.

- ``reference_arch`` / ``resolved``: the reference models of ``models/``, loaded
  (``Architecture``) and resolved (``Deployment``: placed, allocated,
  analysed) once per test session (per xdist worker), by file stem:
  ``resolved("openstack_keepalived")``. Models are frozen, so sharing them
  is safe; a test that needs a variant derives a new object.
- The hypothesis model strategies live in :mod:`model_strategies` (this
  folder is on ``sys.path`` because it holds this conftest); the seeded
  synthetic generator is :mod:`hamodel.testing`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hamodel.deployment import Deployment
from hamodel.loader import load
from hamodel.model import Architecture
from hamodel.pipeline import resolve

# The reference Pacemaker model reads its fence devices' IPMI password from
# the environment at build time, as a deployment does; tests (and the CLI
# they start) build it with this stand-in unless one is set.
os.environ.setdefault("HAMODEL_IPMI_PASSWORD", "test-ipmi-Pass1")

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
#: The stems of every reference model (``models/*.py``).
REFERENCE_MODELS: tuple[str, ...] = tuple(sorted(p.stem for p in MODELS.glob("*.py")))


@pytest.fixture(scope="session")
def reference_arch() -> Callable[[str], Architecture]:
    """``reference_arch(name)``: ``models/<name>.py`` loaded, once per session."""
    cache: dict[str, Architecture] = {}

    def get(name: str) -> Architecture:
        if name not in cache:
            cache[name] = load(MODELS / f"{name}.py")
        return cache[name]

    return get


@pytest.fixture(scope="session")
def resolved(reference_arch: Callable[[str], Architecture]) -> Callable[[str], Deployment]:
    """``resolved(name)``: the reference model resolved with the defaults
    (its lock file, ``k=2``, analysis on, with the answers the documents
    print: ``Deployment.results``), once per session."""
    cache: dict[str, Deployment] = {}

    def get(name: str) -> Deployment:
        if name not in cache:
            cache[name] = resolve(reference_arch(name), lock=MODELS / f"{name}.lock.json", answers=True)
        return cache[name]

    return get


def _missing(tools: tuple[str, ...], root: bool) -> list[str]:
    import shutil

    out = [t for t in tools if shutil.which(t) is None]
    if root and os.geteuid() != 0:
        out.insert(0, "root")
    return out


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires(*tools, root=False): skip, naming what is missing, unless every tool is on PATH "
        "(and the tests run as root when root=True)",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.requires("haproxy", "keepalived", root=True)``: the test
    is skipped with the missing tools' names (``requires haproxy, root``)
    where a daemon or tool is absent, instead of failing or hiding a reason."""
    for mark in item.iter_markers("requires"):
        missing = _missing(tuple(mark.args), bool(mark.kwargs.get("root", False)))
        if missing:
            pytest.skip("requires " + ", ".join(missing))
