"""A real Redis primary killed under write load: the lost writes against the predicted RPO."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hamodel.pipeline import resolve

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("redis-server") or not shutil.which("ip"),
        reason="needs root, ip and redis-server",
    ),
]


@pytest.fixture(scope="module")
def dep(reference_arch):
    arch = reference_arch("openstack_keepalived")
    redis = arch.service("redis").strategy
    arch = arch.replace_service("redis", strategy=redis.replace(replication="asynchronous"))
    return resolve(arch, lock=ROOT / "models" / "openstack_keepalived.lock.json")


def test_async_rpo_is_not_zero(dep):
    row = dep.recovery.get("redis", "node")
    assert row.rpo_s is None and "lost" in row.rpo


def test_primary_kill_counts_lost_writes(dep):
    from hamodel.drill.keepalived.redis_loss import run_primary_kill
    from hamodel.drill.lab import list_namespaces

    res = run_primary_kill(dep, "redis")
    assert res.acknowledged > 1000 and 0 <= res.lost <= res.acknowledged and res.agreed
    # A replication blip the primary does not notice, then the kill: the blip's writes are on the dead
    # primary only (Redis acknowledges before any replica has them).
    blip = run_primary_kill(dep, "redis", replica_cut_s=1.0)
    assert blip.lost > 0 and blip.agreed, blip
    # torn down (other drills on this machine have namespaces of their own prefix)
    assert not [ns for ns in list_namespaces() if ns.startswith(f"hml-{os.getpid()}-")]


def test_synchronous_prediction_disagrees_with_a_loss(dep):
    """The verdict is not a constant: a model claiming synchronous replication fails when writes are lost."""
    from hamodel.drill.keepalived.redis_loss import run_primary_kill

    arch = dep.architecture
    sync = arch.replace_service("redis", strategy=arch.service("redis").strategy.replace(replication="synchronous"))
    res = run_primary_kill(
        resolve(sync, lock=ROOT / "models" / "openstack_keepalived.lock.json"), "redis", replica_cut_s=1.0
    )
    assert res.lost > 0 and res.predicted_rpo_s == 0 and not res.agreed
