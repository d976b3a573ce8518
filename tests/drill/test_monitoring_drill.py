"""The generated alerts on a real Prometheus against real exporters and a real Galera cluster."""

from __future__ import annotations

import pytest
from test_configs import ROOT

from hamodel.drill.galera.lab import available as galera_available
from hamodel.drill.galera.monitoring import available as prometheus_available
from hamodel.loader import load


@pytest.mark.netns
@pytest.mark.slow
@pytest.mark.skipif(
    galera_available() is not None or prometheus_available() is not None,
    reason=f"lab unavailable: {galera_available() or prometheus_available()}",
)
def test_alerts_fire_as_predicted_and_resolve():
    from hamodel.generators.configs import build_configs

    from hamodel.drill.galera.lab import open_lab
    from hamodel.drill.galera.monitoring import drill

    arch = load(ROOT / "models" / "openstack_keepalived.py")
    gl = open_lab(arch)
    try:
        # 120 s: the healthy window, longer than every rule's for: but GaleraNotSynced's (120 s)
        r = drill(gl, build_configs(gl.dep), healthy_s=120)
    finally:
        gl.teardown()
    print(r)
    assert r["measured"]["healthy"]["watched_s"] >= 120  # watched to its end, not left at the first poll
    bad = [c for c in r["checks"] if not c["agreed"]]
    assert not bad, (bad, r["measured"])
