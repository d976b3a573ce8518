"""The generated Galera runbook executed on a real three-member cluster after a graceful full stop."""

from __future__ import annotations

import pytest
from test_configs import ROOT

from hamodel.drill.galera.lab import available
from hamodel.loader import load
from hamodel.runbooks import Step

real = [
    pytest.mark.netns,
    pytest.mark.slow,
    pytest.mark.skipif(available() is not None, reason=f"Galera lab unavailable: {available()}"),
]


@pytest.fixture(scope="module")
def lab():
    from hamodel.drill.galera.facts import facts
    from hamodel.drill.galera.lab import open_lab

    arch = load(ROOT / "models" / "openstack_keepalived.py")
    gl = open_lab(arch)
    try:
        yield gl, facts(gl.dep, gl.plan.service)
    finally:
        gl.teardown()


@pytest.mark.netns
@pytest.mark.slow
@pytest.mark.skipif(available() is not None, reason="Galera lab unavailable")
def test_generated_runbook_recovers_a_graceful_full_stop(lab):
    from hamodel.drill.galera.kinds import run_alone
    from hamodel.drill.galera.runbook import GaleraRunbook
    from hamodel.drill.galera.scenarios import settle

    gl, an = lab
    settle(gl)
    r = run_alone(GaleraRunbook, gl, an)
    checks = {c["what"]: c for c in r["checks"]}
    assert all(c["agreed"] for c in r["checks"]), r
    assert r["predicted"]["runbook"] == "galera-graceful-full-stop"
    actions = [s["action"] for s in r["measured"]["steps"]]
    assert actions.index("bootstrap") > actions.index("choose-bootstrap") > actions.index("read-grastate")
    # the member bootstrapped is the last one stopped (safe_to_bootstrap: 1), as the runbook says
    chosen = next(s for s in r["measured"]["steps"] if s["action"] == "choose-bootstrap")
    assert chosen["node"] == r["measured"]["stop_order"][-1]
    assert checks["committed rows lost"]["measured"] == 0


@pytest.mark.netns
@pytest.mark.slow
@pytest.mark.skipif(available() is not None, reason="Galera lab unavailable")
def test_a_failing_runbook_step_fails_the_drill(lab):
    """A step the drill cannot carry out is an error, not a skipped line."""
    from dataclasses import replace

    from hamodel.drill.galera.lab import LabError
    from hamodel.drill.galera.runbook import execute, graceful_runbook

    gl, _ = lab
    rb = graceful_runbook(gl)
    broken = replace(rb, steps=(Step("verify-primary", "", "", gl.nodes[0]),), verify=())
    gl.stop(gl.nodes[0])
    try:
        with pytest.raises(LabError, match="not Primary"):
            execute(gl, broken, verify_timeout=3)
    finally:
        gl.start(gl.nodes[0])
        gl.wait_synced(gl.nodes, timeout=120)
