"""Loading model files and the CLI on the reference models."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hamodel import Architecture, LoadError
from hamodel.loader import load

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted((ROOT / "models").glob("*.py"))


def write(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


def hamodel(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hamodel.cli", *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_reference_models_load(path):
    arch = load(path)
    assert isinstance(arch, Architecture)
    assert arch.services and arch.nodes


def test_keepalived_model_covers_every_row_of_the_reference_table():
    arch = load(ROOT / "models/openstack_keepalived.py")
    names = {s.name for s in arch.services}
    # The processes of the reference table (openstack-services.md), nova-compute excepted (out of scope).
    expected = {
        "galera",
        "rabbitmq",
        "haproxy",
        "mongodb",
        "memcached",
        "redis",
        "keystone",
        "glance-api",
        "glance-registry",
        "nova-api",
        "nova-novncproxy",
        "nova-cert",
        "nova-scheduler",
        "nova-conductor",
        "cinder-api",
        "cinder-scheduler",
        "cinder-backup",
        "cinder-volume",
        "neutron-server",
        "neutron-dhcp-agent",
        "neutron-l3-agent",
        "neutron-metadata-agent",
        "neutron-openvswitch-agent",
        "neutron-metering-agent",
        "neutron-lbaas-agent",
        "horizon",
        "ceilometer-api",
        "ceilometer-central",
        "ceilometer-alarm-notifier",
        "ceilometer-alarm-evaluator",
        "ceilometer-notification",
        "heat-api",
        "heat-api-cfn",
        "heat-api-cloudwatch",
        "heat-engine",
        "swift-proxy",
        "sahara-api",
        "trove-api",
    }
    assert expected <= names
    ports = {p for s in arch.services if s.access for p in s.access.ports}
    assert {
        3306,
        5000,
        35357,
        9292,
        9191,
        8774,
        8775,
        6080,
        8776,
        9696,
        80,
        8777,
        8004,
        8000,
        8003,
        8080,
        8386,
        8779,
    } <= ports
    assert arch.service("cinder-volume").strategy.kind == "active_passive"
    assert arch.service("neutron-lbaas-agent").strategy.kind == "sharded"
    assert arch.service("horizon").access.sticky
    assert arch.service("galera").access.single_writer and arch.service("galera").access.check.port == 9200


def test_pacemaker_model_shares_the_keepalived_one():
    k = load(ROOT / "models/openstack_keepalived.py")
    p = load(ROOT / "models/openstack_pacemaker.py")
    assert [n.name for n in p.nodes] == [n.name for n in k.nodes]
    assert p.service("cinder-volume").strategy.manager == "pacemaker"
    assert p.service("haproxy").strategy.kind == "pacemaker_vip"
    assert p.pacemaker is not None and p.pacemaker.fencing
    assert p.service("keystone") == k.service("keystone")


def test_function_and_attribute_forms(tmp_path):
    body = """
        from hamodel import Architecture, Node
        def architecture():
            return Architecture("fn", nodes=[Node("a", roles=["x"])])
        other = Architecture("attr", nodes=[Node("b", roles=["x"])])
    """
    p = write(tmp_path, "m.py", body)
    assert load(p).name == "fn"
    assert load(f"{p}:other").name == "attr"
    with pytest.raises(LoadError, match="no attribute 'missing'"):
        load(f"{p}:missing")


def test_single_unnamed_architecture_is_found(tmp_path):
    p = write(
        tmp_path,
        "m.py",
        """
        from hamodel import Architecture, Node
        arch = Architecture("only", nodes=[Node("a", roles=["x"])])
    """,
    )
    assert load(p).name == "only"
    q = write(tmp_path, "n.py", "x = 1\n")
    with pytest.raises(LoadError, match="define a module-level 'architecture'"):
        load(q)


def test_errors_point_at_file_and_line(tmp_path):
    p = write(
        tmp_path,
        "bad.py",
        """
        from hamodel import Architecture, Node, Service
        from hamodel.strategies import ActivePassive

        nodes = [Node("ctl-1", roles=["controller"])]
        architecture = Architecture("bad", nodes=nodes, services=[
            Service("cinder-volume", on="controller", pin=["ctl-4"], strategy=ActivePassive())])
    """,
    )
    with pytest.raises(LoadError) as exc:
        load(p)
    assert exc.value.filename == str(p) and exc.value.lineno == 6
    assert "services[cinder-volume].pin: unknown node 'ctl-4'" in str(exc.value)

    q = write(tmp_path, "boom.py", "import os\n\nraise RuntimeError('nope')\n")
    with pytest.raises(LoadError, match=r"boom.py:3: RuntimeError: nope"):
        load(q)
    r = write(tmp_path, "syn.py", "x = (\n")
    with pytest.raises(LoadError, match="SyntaxError"):
        load(r)


def test_sibling_imports_are_reloaded(tmp_path):
    write(tmp_path, "base.py", 'NAME = "one"\n')
    p = write(
        tmp_path,
        "top.py",
        """
        from base import NAME
        from hamodel import Architecture, Node
        architecture = Architecture(NAME, nodes=[Node("a", roles=["x"])])
    """,
    )
    assert load(p).name == "one"
    write(tmp_path, "base.py", 'NAME = "two"\n')
    assert load(p).name == "two"


def test_cli_check_summary_and_errors(tmp_path):
    r = hamodel("check", "models/openstack_keepalived.py")
    assert "OpenStack, keepalived" in r.stdout
    bad = write(tmp_path, "bad.py", "from hamodel import Node\nNode('bad name')\n")
    r = hamodel("check", str(bad))
    assert r.returncode == 2
    assert "bad.py:2" in r.stderr and "Node[bad name].name: invalid name" in r.stderr
    r = hamodel("check", "openstack_keepalived:architecture", cwd=ROOT / "models")
    assert "OpenStack, keepalived" in r.stdout


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_cli_export_round_trips(path, tmp_path):
    first = hamodel("export", str(path), "--format", "json")
    assert first.returncode == 0, first.stderr
    exported = tmp_path / "m.json"
    exported.write_text(first.stdout)
    second = hamodel("export", str(exported), "--format", "json")
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert json.loads(first.stdout)["name"] == load(path).name


def test_cli_schema_is_valid_json_schema():
    r = hamodel("schema")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    assert schema["title"] == "Architecture"
    assert "services" in schema["properties"]


def test_cli_export_unknown_format():
    r = hamodel("export", "models/openstack_keepalived.py", "--format", "yaml")
    assert r.returncode == 2
