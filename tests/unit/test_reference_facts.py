"""The reference model says what the OpenStack projects' own documentation
says (issue 31): runtime dependencies, start orders as start orders, the
recovery of each quorum cluster, and mitigations that fit the strategy."""

from __future__ import annotations

from pathlib import Path

import pytest

from hamodel.loader import load
from hamodel.model import Architecture, Node, Service
from hamodel.pipeline import resolve
from hamodel.strategies import ActivePassive, Coordinated

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def arch():
    return load(ROOT / "models" / "openstack_keepalived.py")


@pytest.fixture(scope="module")
def dep(arch):
    return resolve(arch, analyse=True)


def _finding(dep, fid):
    return next(f for f in dep.findings if f.id == fid)


@pytest.mark.parametrize(
    ("service", "needs"),
    [
        ("nova-conductor", {"galera", "rabbitmq"}),  # nova's database proxy: database and bus
        ("nova-scheduler", {"rabbitmq"}),
        ("swift-proxy", {"keystone", "memcached"}),  # no database, no bus
        ("horizon", {"keystone", "memcached"}),  # sessions in memcached
        ("keystone", {"galera", "memcached"}),
        ("ceilometer-api", {"mongodb", "keystone"}),  # the metering store, not galera
        ("heat-engine", {"galera", "rabbitmq", "keystone"}),
    ],
)
def test_runtime_dependencies_follow_the_projects_documentation(arch, service, needs):
    assert set(arch.service(service).dependencies) == needs


def test_a_start_order_is_not_a_runtime_dependency(arch, dep):
    heat = arch.service("heat-engine")
    assert heat.starts_after == ["ceilometer-api"] and "ceilometer-api" not in heat.dependencies
    # The analysis ignores it: losing MongoDB (ceilometer-api's store) does not take heat-engine down.
    assert "heat-engine" not in _finding(dep, "quorum-loss:mongodb").services


def test_galera_quorum_loss_names_its_real_users(dep):
    services = _finding(dep, "quorum-loss:galera").services
    assert "nova-conductor" in services
    # nova-scheduler and the agents talk to the bus only.
    assert "nova-scheduler" not in services and "neutron-l3-agent" not in services


def test_starts_after_names_a_service():
    with pytest.raises(ValueError, match=r"services\[b\]\.starts_after.*unknown service 'nope'"):
        Architecture(
            "x",
            nodes=[Node("n1", roles={"r"})],
            services=[
                Service("a", on="r", strategy=Coordinated()),
                Service("b", on="r", strategy=Coordinated(), starts_after=["nope"]),
            ],
        )
    with pytest.raises(ValueError, match="starts_after"):
        Service("a", on="r", strategy=Coordinated(), starts_after=["a"])


def test_recovery_cases_of_each_quorum_cluster(dep):
    f = _finding(dep, "manual-recovery")
    # A MongoDB replica set elects by itself once a majority is back: not a manual recovery.
    assert f.services == ("galera", "rabbitmq")
    assert "mongodb" not in f.impact
    rabbit = f.details["cases"]["rabbitmq"]
    assert rabbit["crash, every member back"] == "automatic"
    assert "stopped last" in rabbit["graceful stop of every member"]
    assert "force_boot" in f.details["procedures"]["rabbitmq"]


def test_cinder_volume_mitigation_fits_an_active_passive_service(dep):
    f = _finding(dep, "spof:cinder-volume")
    m = f.mitigation
    # The reference page's procedure and its link; no advice that does not apply to one instance.
    assert "start it on a surviving node" in m and "same host name" in m
    assert "because running it active/active was not supported" in m  # its link: in the document (test_docs)
    for wrong in ("active/active.", "Run more instances", "Spread instances", "Bond the"):
        assert wrong not in m, wrong
    assert "ActivePassive(manager='pacemaker')" in m


def test_active_passive_links_are_urls():
    with pytest.raises(ValueError, match="see"):
        ActivePassive(see=["not a link"])
