"""Monitoring generated from the Deployment: promtool accepts it, every alert is tested, labels carry findings."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from hamodel.generators.configs import build_configs
from hamodel.generators.monitoring import alerts, render, unmonitored
from test_configs import MODELS, reference, small_arch

from hamodel.model import Architecture, Network, Node, Service
from hamodel.pipeline import resolve
from hamodel.strategies import ActivePassive
from hamodel.validate import promtool_checks

promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus) not installed")


@promtool
@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_promtool_accepts_config_rules_and_tests(model):
    files = build_configs(reference(model))
    results = promtool_checks(files)
    assert [r.command.split()[1] for r in results] == ["check", "check", "test"]
    for r in results:
        assert r.ok, f"{r.command}:\n{r.output}"


@promtool
def test_promtool_test_fails_on_a_wrong_rule(tmp_path):
    """The generated tests are not vacuous: a rule whose threshold is off makes them fail."""
    files = dict(render(resolve(small_arch())))
    rule = "monitoring/rules/vrrp.yml"
    files[rule] = files[rule].replace(b") < 1", b") < 0")
    failed = [r for r in promtool_checks(files) if not r.ok]
    assert [r.rel if hasattr(r, "rel") else r.path for r in failed] == ["monitoring/tests"]


def test_every_alert_has_finding_service_severity_runbook_and_two_tests():
    dep = reference("openstack_keepalived")
    files = render(dep)
    ids = {f.id for f in dep.findings}
    names = set()
    for rel, data in files.items():
        if not rel.startswith("monitoring/rules/"):
            continue
        for rule in yaml.safe_load(data)["groups"][0]["rules"]:
            names.add(rule["alert"])
            assert rule["labels"]["finding"] in ids, rule
            assert rule["labels"]["service"] and rule["labels"]["severity"] in (
                "info",
                "low",
                "medium",
                "high",
                "critical",
            )
            assert rule["annotations"]["runbook_url"]
            test = yaml.safe_load(files[rel.replace("rules/", "tests/").replace(".yml", ".test.yml")])
            mine = [t for t in test["tests"] if t["alert_rule_test"][0]["alertname"] == rule["alert"]]
            assert any(t["alert_rule_test"][0]["exp_alerts"] for t in mine)
            assert any(not t["alert_rule_test"][0]["exp_alerts"] for t in mine)
    # the failure modes the issue lists, for this model
    for name in (
        "HamodelVrrpNoMasterHaproxy",
        "HamodelVrrpSplitBrainHaproxy",
        "HamodelGaleraNoPrimaryGalera",
        "HamodelGaleraNonPrimaryGalera",
        "HamodelGaleraClusterSizeLowGalera",
        "HamodelNodeDown",
        "HamodelRedundancyDegradedGalera",
        "HamodelFrontDownKeystone",
        "HamodelRedisNoMasterRedis",
        "HamodelRedisTwoMastersRedis",
    ):
        assert name in names
    # the Galera full-stop alert links the Galera full-stop runbook
    rules = yaml.safe_load(files["monitoring/rules/galera.yml"])["groups"][0]["rules"]
    no_primary = next(r for r in rules if r["alert"] == "HamodelGaleraNoPrimaryGalera")
    assert no_primary["labels"]["finding"] == "manual-recovery"
    assert no_primary["annotations"]["runbook_url"] == "runbooks.html#galera-graceful-full-stop"


def test_deterministic():
    assert render(reference("multirack")) == render(reference("multirack"))


def test_no_target_no_monitoring_files():
    """A model without VIPs or clusters and with nothing placed builds no empty monitoring files."""
    lan = Network("lan", subnet="10.0.0.0/24")
    arch = Architecture(
        "empty", nodes=[Node("n1", roles={"x"}, addresses={lan: "10.0.0.1"})], networks=[lan], services=[]
    )
    files = build_configs(resolve(arch, analyse=False))
    assert not [p for p in files if p.startswith("monitoring/") or "/prometheus/" in p]


def test_service_without_metrics_source_is_listed():
    lan = Network("lan", subnet="10.0.0.0/24")
    arch = Architecture(
        "ap",
        nodes=[Node(f"n{i}", roles={"x"}, addresses={lan: f"10.0.0.{i}"}) for i in (1, 2)],
        networks=[lan],
        services=[Service("worker", on="x", replicas=1, strategy=ActivePassive())],
    )
    dep = resolve(arch)
    assert unmonitored(dep) == ["worker"]
    # the analysis says so, from the same table (hamodel.metrics)
    f = next(f for f in dep.findings if f.id == "no-metrics-source")
    assert f.services == ("worker",) and "worker" in f.impact
    # its node's up is still watched, labelled with the finding that names the single point of failure
    node_alerts = [a for a in alerts(dep) if a.name == "HamodelNodeDown"]
    assert node_alerts and all(a.finding is not None for a in node_alerts)


def test_keepalived_state_script_writes_textfile_metrics(tmp_path):
    files = build_configs(resolve(small_arch(), analyse=False))
    script = tmp_path / "keepalived-state"
    script.write_bytes(files["nodes/n1/keepalived/keepalived-state"])
    env = {"HAMODEL_TEXTFILE_DIR": str(tmp_path / "tf"), "PATH": "/usr/bin:/bin"}
    subprocess.run(["sh", str(script), "VI_haproxy", "haproxy", "51", "MASTER"], env=env, check=True)
    text = (tmp_path / "tf" / "hamodel-keepalived-VI_haproxy.prom").read_text()
    assert 'hamodel_keepalived_master{vrrp_instance="VI_haproxy",vrrp_group="haproxy",vrid="51"} 1' in text
    subprocess.run(["sh", str(script), "VI_haproxy", "haproxy", "51", "FAULT"], env=env, check=True)
    assert "} 0\n" in (tmp_path / "tf" / "hamodel-keepalived-VI_haproxy.prom").read_text()
    bad = subprocess.run(["sh", str(script), "x;rm", "haproxy", "51", "MASTER"], env=env, capture_output=True)
    assert bad.returncode == 2
    if shutil.which("promtool"):
        p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True)
        assert p.returncode == 0, p.stdout + p.stderr
    conf = files["nodes/n1/keepalived/keepalived.conf"].decode()
    assert 'notify_master "/usr/local/lib/hamodel/keepalived-state' in conf


def test_manifest_lists_exporters_ports_and_central_files():
    import json

    files = build_configs(reference("openstack_keepalived"))
    m = json.loads(files["manifest.json"])
    assert set(m["central"]) == {p for p in files if p.startswith("monitoring/")}
    node = m["files"]["nodes/ctl-1/prometheus/node-exporter"]
    assert node["dest"] == "/etc/default/prometheus-node-exporter"
    assert "prometheus-node-exporter" in node["prerequisites"]["packages"]
    assert {r["port"] for r in node["prerequisites"]["firewall"]} == {9100, 8405}
    mysqld = m["files"]["nodes/ctl-1/prometheus/mysqld-exporter"]
    assert {f["path"] for f in mysqld["prerequisites"]["files"]} == {"/etc/prometheus/hamodel-mysqld-exporter.cnf"}


def test_docs_runbooks_page_and_limitations_say_what_mitigates_them():
    import docutils.core
    import docutils.utils
    from hamodel.generators.docs import generate

    from hamodel.runbooks import runbooks

    dep = reference("openstack_keepalived")
    files = generate(dep, slug="k")
    page = files["k/runbooks.rst"].decode()
    ids = [r.id for r in runbooks(dep)]
    assert "galera-graceful-full-stop" in ids and "haproxy-split-brain-after-heal" in ids
    assert all(f'<span id="{i}"></span>' in page for i in ids)
    # this model's nodes and Debian's paths, in order: read grastate, bootstrap, start the others
    g = page[page.index("galera\\: every member stopped gracefully") :]
    assert (
        g.index("cat /var/lib/mysql/grastate.dat") < g.index("galera_new_cluster") < g.index("systemctl start mariadb")
    )
    assert "On ``ctl-3``" in g
    index = files["k/index.rst"].decode()
    assert '"galera\\: every member stopped gracefully" (``runbooks.html#galera-graceful-full-stop``)' in index
    assert index.count(":Mitigated by:") >= 5
    out = docutils.core.publish_doctree(
        page.replace(":doc:`index`", "index"),
        settings_overrides={"report_level": docutils.utils.Reporter.WARNING_LEVEL, "halt_level": 2},
    )
    assert out.children


@pytest.mark.parametrize("model", MODELS)
def test_every_alert_a_runbook_names_is_generated(model):
    """A runbook's "recognise it" names only alerts the rules define (no metrics source: the node-level ones)."""
    from hamodel.runbooks import runbooks

    dep = reference(model)
    names = {a.name for a in alerts(dep)}
    for r in runbooks(dep):
        assert set(r.recognise) <= names, (r.id, set(r.recognise) - names)


def test_pacemaker_resources_each_have_a_stopped_and_a_failed_alert():
    """Every primitive of the generated CIB that hamodel puts there for a service (its clone's
    instances carry the primitive's id; each VIP's IPaddr2) is watched through ha_cluster_exporter;
    the cluster's quorum and unclean nodes too; a model without Pacemaker gets none of it."""
    import xml.etree.ElementTree as ET

    dep = reference("openstack_pacemaker")
    files = build_configs(dep)
    cib = ET.fromstring(files["pacemaker/cib.xml"])
    primitives = {
        p.get("id")
        for p in cib.iter("primitive")
        if p.get("class") != "stonith"  # fence devices: not services
    }
    rules = yaml.safe_load(files["monitoring/rules/pacemaker.yml"])["groups"][0]["rules"]
    watched = {r["labels"]["resource"] for r in rules if "resource" in r["labels"]}
    assert watched == primitives
    for rid in primitives:
        mine = [r["alert"] for r in rules if r["labels"].get("resource") == rid]
        kinds = sorted(
            k for k in ("ResourceFailed", "ResourceStopped") for a in mine if a.startswith(f"HamodelPacemaker{k}")
        )
        assert kinds == ["ResourceFailed", "ResourceStopped"], (rid, mine)
    assert {r["alert"] for r in rules if "resource" not in r["labels"]} == {
        "HamodelPacemakerNoQuorumOpenstack",
        "HamodelPacemakerNodeUncleanOpenstack",
    }
    prom = yaml.safe_load(files["monitoring/prometheus.yml"])
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "pacemaker")
    assert job["honor_labels"] is True  # the exporter's node label names the node a resource runs on
    assert [c["targets"] for c in job["static_configs"]] == [
        ["192.168.1.221:9664"],
        ["192.168.1.222:9664"],
        ["192.168.1.223:9664"],
    ]
    assert b'ARGS="--web.listen-address=192.168.1.221:9664"' in files["nodes/ctl-1/prometheus/pacemaker-exporter"]
    # cinder-volume (A/P under Pacemaker) had no metrics source; now Pacemaker reports it.
    f = next(f for f in dep.findings if f.id == "no-metrics-source")
    assert "cinder-volume" not in f.services and "cinder-volume" not in unmonitored(dep)
    keepalived = build_configs(reference("openstack_keepalived"))
    assert "monitoring/rules/pacemaker.yml" not in keepalived
    assert not any("pacemaker-exporter" in rel for rel in keepalived)


def test_every_cluster_that_can_lose_quorum_has_a_quorum_alert_from_its_voters():
    """etcd, Sentinel, Redis have no quorum metric of their own here: their quorum is watched through
    their voting nodes' up (Galera's wsrep rules, RabbitMQ's and MongoDB's own rules replace it there:
    test_monitoring_clusters.py)."""
    for model, expected in (
        ("openstack_keepalived", {"redis": "ctl-1|ctl-2|ctl-3"}),
        ("webplatform", {"etcd": "db-1|db-2|mgmt-1", "sentinel": "db-1|db-2|mgmt-1"}),
    ):
        dep = reference(model)
        rules = yaml.safe_load(render(dep)["monitoring/rules/nodes.yml"])["groups"][0]["rules"]
        quorum = {r["labels"]["service"]: r for r in rules if r["alert"].startswith("HamodelQuorumLost")}
        assert sorted(quorum) == sorted(expected), (model, sorted(quorum))
        for svc, voters in expected.items():
            f = next(f for f in dep.findings if f.id == f"quorum-loss:{svc}")
            assert quorum[svc]["expr"] == f'sum(up{{job="node",node=~"{voters}"}}) < {f.details["quorum"]}'
            assert quorum[svc]["labels"]["finding"] == f.id


@pytest.mark.parametrize("model", MODELS)
def test_libyaml_writes_the_same_bytes_as_the_python_emitter(model):
    """The monitoring files are dumped with libyaml when PyYAML has it (scale: issue 30); the
    bytes must be those of the pure-Python emitter."""
    import hamodel.generators.monitoring as mon

    if not hasattr(yaml, "CSafeDumper"):
        pytest.skip("PyYAML without libyaml")
    dep = reference(model)
    fast = render(dep)
    slow_dump = mon._dump
    try:
        mon._dump = lambda data, header: slow_dump(data, header, yaml.SafeDumper)
        slow = render(dep)
    finally:
        mon._dump = slow_dump
    assert fast == slow and fast
