"""RabbitMQ and MongoDB watched through their own metrics (generators/monitoring/rabbitmq.py, mongodb.py)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from hamodel.generators.configs import build_configs
from hamodel.generators.monitoring import render, unmonitored
from test_configs import reference

from hamodel.validate import promtool_checks

promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus) not installed")


def _rules(files: dict[str, bytes], area: str) -> dict[str, dict]:
    return {r["alert"]: r for r in yaml.safe_load(files[f"monitoring/rules/{area}.yml"])["groups"][0]["rules"]}


@pytest.mark.parametrize("model", ["openstack_keepalived", "openstack_pacemaker", "multirack"])
def test_rabbitmq_is_scraped_on_every_member_and_watched_by_its_own_rules(model):
    dep = reference(model)
    files = render(dep)
    members = dep.placement.nodes_of("rabbitmq")
    prom = yaml.safe_load(files["monitoring/prometheus.yml"])
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "rabbitmq")
    assert [c["labels"] for c in job["static_configs"]] == [{"node": n, "service": "rabbitmq"} for n in members]
    assert all(c["targets"][0].endswith(":15692") for c in job["static_configs"])
    rules = _rules(files, "rabbitmq")
    assert set(rules) == {
        f"HamodelRabbitmq{k}Rabbitmq" for k in ("MemberDown", "QuorumLost", "Partitioned", "MemoryAlarm", "DiskAlarm")
    }
    q = next(f for f in dep.findings if f.id == "quorum-loss:rabbitmq")
    assert rules["HamodelRabbitmqQuorumLostRabbitmq"]["expr"] == (
        f'sum(up{{job="rabbitmq",service="rabbitmq"}}) < {q.details["quorum"]}'
    )
    assert rules["HamodelRabbitmqQuorumLostRabbitmq"]["labels"]["finding"] == q.id
    peers = "|".join(f"rabbit@{n}" for n in sorted(members))
    assert f'peer=~"{peers}"' in rules["HamodelRabbitmqPartitionedRabbitmq"]["expr"]
    # the node-up quorum rule gave way to the broker's own (as for Galera)
    nodes = _rules(files, "nodes")
    assert "HamodelQuorumLostRabbitmq" not in nodes and "HamodelQuorumLostMongodb" not in nodes
    assert "rabbitmq" not in unmonitored(dep)
    f = next((f for f in dep.findings if f.id == "no-metrics-source"), None)
    assert f is None or ("rabbitmq" not in f.services and "mongodb" not in f.services)


def test_mongodb_replica_set_rules_and_exporter_file():
    dep = reference("openstack_keepalived")
    files = build_configs(dep)
    rules = _rules(files, "mongodb")
    assert set(rules) == {"HamodelMongodbMemberDownMongodb", "HamodelMongodbNoPrimaryMongodb"}
    assert rules["HamodelMongodbNoPrimaryMongodb"]["labels"]["finding"] == "quorum-loss:mongodb"
    assert rules["HamodelMongodbNoPrimaryMongodb"]["expr"] == (
        '(max(mongodb_replset_master_count{job="mongodb",service="mongodb"}) or vector(0)) < 1'
    )
    assert (
        b'ARGS="-web.listen-address 192.168.1.221:9001 -mongodb.uri mongodb://localhost:27017"'
        in files["nodes/ctl-1/prometheus/mongodb-exporter"]
    )
    assert "mongodb" not in unmonitored(dep)


def test_manifest_enables_the_plugin_and_opens_the_ports():
    files = build_configs(reference("openstack_keepalived"))
    m = json.loads(files["manifest.json"])
    rmq = m["files"]["nodes/ctl-2/prometheus/rabbitmq-exporter"]
    assert rmq["dest"] == "/etc/rabbitmq/conf.d/60-hamodel-prometheus.conf"
    assert rmq["on_change"]["command"] == ["rabbitmq-plugins", "enable", "rabbitmq_prometheus"]
    assert {r["port"] for r in rmq["prerequisites"]["firewall"]} == {15692}
    assert "rabbitmq-server" in rmq["prerequisites"]["packages"]
    conf = files["nodes/ctl-2/prometheus/rabbitmq-exporter"].decode()
    assert "prometheus.tcp.ip = 192.168.1.222\n" in conf and "prometheus.tcp.port = 15692\n" in conf
    mongo = m["files"]["nodes/ctl-2/prometheus/mongodb-exporter"]
    assert mongo["dest"] == "/etc/default/prometheus-mongodb-exporter"
    assert {r["port"] for r in mongo["prerequisites"]["firewall"]} == {9001}
    assert "prometheus-mongodb-exporter" in mongo["prerequisites"]["packages"]
    # the playbook's handler runs the manifest's command; the inventory carries it and the packages
    assert "exporter_rabbitmq: enable rabbitmq_prometheus" in files["ansible/deploy.yml"].decode()
    inv = files["ansible/inventory.yml"].decode()
    assert "rabbitmq-plugins" in inv and "prometheus-mongodb-exporter" in inv


@promtool
@pytest.mark.parametrize(
    ("area", "old", "new"),
    [
        ("rabbitmq", b"} == 3) or on (node)", b"} == 2) or on (node)"),  # partition: a wrong dist state
        ("rabbitmq", b") - 1) and on (node)", b") - 2) and on (node)"),  # partition: off by one
        ("rabbitmq", b'service="rabbitmq"}) < 2', b'service="rabbitmq"}) < 1'),  # quorum off by one
        ("mongodb", b"or vector(0)) < 1", b"or vector(0)) < 0"),
    ],
)
def test_promtool_tests_catch_a_wrong_rule(area, old, new):
    """The generated tests are not vacuous: each changed threshold makes `promtool test rules` fail."""
    files = dict(render(reference("openstack_keepalived")))
    rel = f"monitoring/rules/{area}.yml"
    assert old in files[rel]
    assert not [r for r in promtool_checks(files) if not r.ok]
    files[rel] = files[rel].replace(old, new)
    assert [r for r in promtool_checks(files) if not r.ok]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("prometheus-mongodb-exporter") is None, reason="prometheus-mongodb-exporter missing")
def test_the_real_mongodb_exporter_reports_mongodb_up_and_has_the_replset_names(tmp_path):
    """Debian's exporter, started with the generated ARGS (the listen address and the mongod URI moved
    to free loopback ports: no mongod is packaged in Debian, none runs here): it reports
    ``mongodb_up 0``, but only after its dial timeout, longer than the 5 s scrape timeout of the
    generated config (so the member-down rule also reads ``up``); the replica-set metric the rules
    read is built from names its binary holds (namespace, subsystem, name)."""
    import socket
    import subprocess
    import time
    import urllib.request

    from hamodel.drill.prometheus import exporter_args

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    files = build_configs(reference("openstack_keepalived"))
    args = exporter_args(files["nodes/ctl-1/prometheus/mongodb-exporter"])
    listen, mongod = f"127.0.0.1:{free_port()}", f"mongodb://127.0.0.1:{free_port()}"
    args[args.index("-web.listen-address") + 1] = listen
    args[args.index("-mongodb.uri") + 1] = mongod
    p = subprocess.Popen(
        ["prometheus-mongodb-exporter", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(tuple(listen.rsplit(":", 1)), timeout=1).close()  # type: ignore[arg-type]
                break
            except OSError:
                assert time.monotonic() < deadline, "the exporter did not listen"
                time.sleep(0.2)
        t0 = time.monotonic()
        with urllib.request.urlopen(f"http://{listen}/metrics", timeout=40) as r:
            text = r.read().decode()
        took = time.monotonic() - t0
        assert "\nmongodb_up 0\n" in text
        prom = yaml.safe_load(files["monitoring/prometheus.yml"])
        assert took > int(prom["global"]["scrape_interval"].rstrip("s")), took
        print(f"mongodb exporter answered without mongod after {took:.1f} s")
    finally:
        p.kill()
        p.wait()
    binary = open(shutil.which("prometheus-mongodb-exporter") or "", "rb").read()
    for part in (b"replset", b"master_count", b"dcu/mongodb_exporter/collector"):
        assert part in binary


@promtool
@pytest.mark.parametrize("replicas", [2, 5])
def test_rabbitmq_and_mongodb_rules_of_other_cluster_sizes_pass_their_tests(replicas):
    """The partition rule's expected labels differ with two members (both count no peer); five
    members need three answering (the analysis' quorum)."""
    from hamodel.model import Architecture, Network, Node, Service
    from hamodel.pipeline import resolve
    from hamodel.strategies import AppCluster

    lan = Network("lan", subnet="10.0.0.0/24")
    arch = Architecture(
        "sizes",
        nodes=[Node(f"n{i}", roles={"x"}, addresses={lan: f"10.0.0.{i}"}) for i in range(1, replicas + 1)],
        networks=[lan],
        services=[
            Service(
                name,
                on="x",
                replicas=replicas,
                # two members: the model must say both are needed (the analysis refuses a majority of 2)
                strategy=AppCluster(
                    cold_start="automatic", recovery="restart", **({"quorum": 2} if replicas == 2 else {})
                ),
            )
            for name in ("rabbitmq", "mongodb")
        ],
    )
    files = render(resolve(arch))
    rules = _rules(files, "rabbitmq")
    assert rules["HamodelRabbitmqQuorumLostRabbitmq"]["expr"].endswith(f"< {replicas // 2 + 1}")
    assert set(_rules(files, "mongodb")) == {"HamodelMongodbMemberDownMongodb", "HamodelMongodbNoPrimaryMongodb"}
    failed = [r for r in promtool_checks(files) if not r.ok]
    assert not failed, [r.output for r in failed]
