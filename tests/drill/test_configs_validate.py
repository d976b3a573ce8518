"""Generated configs against the real daemons: ``haproxy -c`` and
``keepalived -t`` (inside a network namespace with the node's interfaces).

No mocks: these tests need root, ``ip netns``, haproxy and keepalived.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hamodel.generators.configs import ConfigError, build_configs
from hypothesis import HealthCheck, event, given, settings
from model_strategies import lb_models
from test_configs import MODELS, reference, small_arch

from hamodel import Architecture
from hamodel.errors import HamodelError
from hamodel.model.base import SecretRef
from hamodel.pipeline import resolve
from hamodel.validate import available, haproxy_check, keepalived_check, namespace, node_interfaces, validate_files

pytestmark = [pytest.mark.netns, pytest.mark.skipif(not available(), reason="needs root, haproxy, keepalived, ip")]


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@pytest.fixture(autouse=True)
def no_leftover_namespaces():
    before = _namespaces()
    yield
    assert {n for n in _namespaces() - before if n.startswith("hmv-")} == set()


def _assert_valid(results) -> None:
    assert results, "nothing was validated"
    bad = [f"{r.path}: {r.command} -> {r.returncode}\n{r.output}" for r in results if not r.ok]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("model", MODELS)
def test_every_reference_config_passes_the_real_validators(model):
    dep = reference(model)
    files = build_configs(dep)
    # The pcs script replay (slow) is tested in test_pacemaker_config.py.
    results = validate_files(dep.architecture, files, replay=False)
    _assert_valid(results)
    expected = sum(k.endswith(("haproxy.cfg", "keepalived.conf", "corosync.conf", "pacemaker/cib.xml")) for k in files)
    # promtool check config, check rules and test rules on the monitoring/ tree (issue 25)
    expected += 3 if any(k.startswith("monitoring/") for k in files) and shutil.which("promtool") else 0
    assert len(results) == expected


def test_validators_are_not_vacuous():
    """A config the daemons reject is reported as rejected."""
    files = build_configs(resolve(small_arch(), analyse=False))
    conf = files["nodes/n1/keepalived/keepalived.conf"]
    arch = small_arch()
    assert keepalived_check(conf, node_interfaces(arch, "n1")).ok
    missing_iface = keepalived_check(conf, [("eth7", "10.0.0.11/24")])
    assert missing_iface.returncode == 5
    assert not keepalived_check(conf.replace(b"advert_int", b"advert_intx"), node_interfaces(arch, "n1")).ok
    cfg = files["nodes/n1/haproxy/haproxy.cfg"]
    assert haproxy_check(cfg).ok
    assert not haproxy_check(cfg.replace(b"balance roundrobin", b"balance nosuchalgo")).ok
    assert not haproxy_check(cfg + b"\nlisten x\n    bind 10.0.0.100:8080\n    option nosuchoption\n").ok


def test_namespace_is_removed_on_failure():
    with pytest.raises(RuntimeError):
        with namespace([("eth0", "10.9.9.1/24")]) as ns:
            assert ns in _namespaces()
            raise RuntimeError("boom")
    assert ns not in _namespaces()


def test_secret_bearing_and_ipv6_configs_validate(tmp_path):
    secret = tmp_path / "stats"
    secret.write_text("admin:Pw-1234\n")
    for arch in (
        small_arch(
            vrrp={
                "auth": {"env": "V_AUTH"},
                "notify": "/usr/local/bin/vrrp-notify",
                "garp_master_refresh_s": 10,
                "preempt": True,
            },
            stats_auth=SecretRef(file=str(secret)),
        ),
        small_arch(ipv6=True, access={"mode": "http", "sticky": True, "check": {"http_path": "/healthz"}}),
        small_arch(ipv6=True, vrrp={"unicast": False}, access={"single_writer": True, "check": {"port": 9200}}),
    ):
        files = build_configs(resolve(arch, analyse=False), env={"V_AUTH": "Vr9p"})
        _assert_valid(validate_files(arch, files))


# -- hypothesis: small models pass both validators or are rejected clearly ------------


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lb_models())
def test_generated_models_validate_or_are_rejected_clearly(data):
    try:
        arch = Architecture(**data)
        dep = resolve(arch, analyse=False)
    except HamodelError as exc:  # the model or its placement was rejected
        assert str(exc).strip()
        event(f"rejected by the model or placement: {type(exc).__name__}")
        return
    try:
        files = build_configs(dep, env={"HYP_VRRP": "hyp0"})
    except ConfigError as exc:
        assert re.search(r"(services|nodes|vips|vrrp_groups)\[[^\]]+\]", str(exc)), str(exc)
        event(f"rejected by the config generator: {type(exc).__name__}: {str(exc).split(': ')[1][:60]}")
        return
    _assert_valid(validate_files(arch, files))
    event("generated and accepted by haproxy -c and keepalived -t")


def test_cli_build_validate(tmp_path):
    from test_configs import ROOT
    from typer.testing import CliRunner

    from hamodel.cli import app

    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["build", str(ROOT / "models/multirack.py"), "-o", str(out), "--validate"])
    assert r.exit_code == 0, r.output
    assert (out / "nodes/lb-1/keepalived/keepalived.conf").is_file()
