"""Galera on a real three-member MariaDB Galera cluster, against the analysis (issue 13).

The first tests need nothing but the model: the cold-start semantics of the
analysis (which full restart needs an operator) and the lab plan taken from
the model. The others (netns + slow) bring up the real cluster once and run
the Galera scenarios of :mod:`hamodel.drill.galera.scenarios` on it; they
need root and ``mariadb-server galera-4 rsync mariadb-client`` (``.ci/install``).

By hand: ``hamodel drill models/openstack_keepalived.py --scenario galera-member-down`` (any Galera scenario).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hamodel.analysis.failures import cold_start
from hamodel.drill.galera.lab import GALERA_ROOT, available, plan
from hamodel.drill.lab import list_namespaces
from hamodel.loader import load
from hamodel.model.strategies import AppCluster
from hamodel.pipeline import resolve

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "openstack_keepalived.py"


@pytest.fixture(scope="module")
def arch():
    return load(MODEL)


@pytest.fixture(scope="module")
def dep(arch):
    return resolve(arch, analyse=True)


def _outcome(arch, dep, service: str, k: int, stop: str) -> str:
    return next(
        c.outcome for c in cold_start(arch, dep.placement, k, dep.vrrp_groups, stop=stop) if c.service == service
    )


def test_cold_start_says_which_restart_needs_an_operator(arch, dep):
    # Galera (pc.recovery, its default): a crash of all with every member back re-forms by
    # itself; a graceful stop of all, or a crash with a member missing, needs the operator.
    assert arch.service("galera").strategy.cold_start == "automatic-after-crash"
    assert _outcome(arch, dep, "galera", 0, "crash") == "automatic"
    assert _outcome(arch, dep, "galera", 0, "graceful") == "manual"
    assert _outcome(arch, dep, "galera", 1, "crash") == "manual"
    # RabbitMQ: every member back re-forms by itself whatever the stop (nodes wait for the one that
    # stopped last); a member missing needs the operator (force_boot).
    assert arch.service("rabbitmq").strategy.cold_start == "automatic-when-all-back"
    assert {_outcome(arch, dep, "rabbitmq", 0, s) for s in ("crash", "graceful")} == {"automatic"}
    assert _outcome(arch, dep, "rabbitmq", 1, "graceful") == "manual"
    # A MongoDB replica set elects a primary once a majority is back: one member missing is
    # automatic, two missing (a majority lost for good) is blocked until the forced reconfig.
    assert arch.service("mongodb").strategy.cold_start == "automatic"
    assert {_outcome(arch, dep, "mongodb", k, s) for k in (0, 1) for s in ("crash", "graceful")} == {"automatic"}
    assert _outcome(arch, dep, "mongodb", 2, "crash") == "blocked"


def test_manual_recovery_finding_states_the_cases(dep):
    f = next(f for f in dep.findings if f.id == "manual-recovery")
    assert f.services == ("galera", "rabbitmq")  # a MongoDB replica set elects by itself
    assert f.details["cases"]["galera"] == {
        "crash, every member back": "automatic",
        "crash, a member missing": "manual",
        "graceful stop of every member": "manual",
    }
    rabbit = f.details["cases"]["rabbitmq"]
    assert rabbit["crash, every member back"] == "automatic" and rabbit["crash, a member missing"] == "manual"
    assert rabbit["graceful stop of every member"].startswith("automatic once the member stopped last is back")
    assert "galera: re-forms by itself after a crash or power loss of every member" in f.impact
    assert (
        "after a graceful stop of every member, or a crash after which a member does not return, galera "
        "bootstrap from the node with the highest seqno"
    ) in f.impact
    assert "mongodb" not in f.impact and "rabbitmq: re-forms by itself once every member is back" in f.impact


def test_cold_start_value_is_validated():
    with pytest.raises(ValueError, match="cold_start"):
        AppCluster(cold_start="sometimes")


def test_plan_comes_from_the_model(arch, dep):
    from hamodel.generators.configs import build_configs

    p = plan(arch, dep, build_configs(dep))
    placed = list(dep.placement.nodes_of("galera"))
    assert [m.node for m in p.members] == placed
    addrs = {n.name: str(n.interface_on("mgmt").address) for n in arch.nodes if n.name in placed}
    assert [m.address for m in p.members] == [addrs[n] for n in placed]
    assert p.cluster_address == "gcomm://" + ",".join(f"{addrs[n]}:4567" for n in placed)
    assert (p.vip, p.port, p.check_port) == ("192.168.1.220", 3306, 9200)
    # The generated single-writer listener: one active server, the others backup, checked on 9200.
    assert p.lb_node == "ctl-1" and [s.backup for s in p.backend.servers] == [False, True, True]
    assert {s.check_port for s in p.backend.servers} == {9200}


# -- the real cluster ------------------------------------------------------------------

real = [
    pytest.mark.netns,
    pytest.mark.slow,
    pytest.mark.skipif(available() is not None, reason=f"Galera lab unavailable: {available()}"),
]


@pytest.fixture(scope="module")
def lab(arch):
    from hamodel.drill.galera.facts import facts
    from hamodel.drill.galera.lab import open_lab

    gl = open_lab(arch)
    try:
        yield gl, facts(gl.dep, gl.plan.service)
    finally:
        gl.teardown()
        # Teardown leaves nothing: no namespace, no member folder, no mariadbd of this lab.
        assert not [ns for ns in list_namespaces() if ns.startswith(gl.lab.prefix)]
        assert not gl.root.exists()


def _run(lab, name: str) -> dict:
    from hamodel.drill.galera.kinds import run_alone
    from hamodel.drill.galera.scenarios import GALERA_KINDS, settle

    gl, an = lab
    settle(gl)
    return run_alone(next(k for k in GALERA_KINDS if k.function == name), gl, an)


def _checks(r: dict) -> dict[str, dict]:
    return {c["what"]: c for c in r["checks"]}


class TestRealGalera:
    """In order, on one cluster: each scenario starts from a verified settled state."""

    pytestmark = real

    def test_cluster_formed_from_the_model(self, lab):
        gl, _ = lab
        assert gl.plan.members and all(gl.status(n)["wsrep_cluster_size"] == "3" for n in gl.nodes)
        assert all(gl.health(n) == 200 for n in gl.nodes)
        # Each member has its own folder, socket and config, owned by mysql.
        assert len({gl.sock(n) for n in gl.nodes}) == 3 and all(gl.sock(n).exists() for n in gl.nodes)
        assert gl.root.parent == GALERA_ROOT

    def test_one_member_down(self, lab):
        r = _run(lab, "member-down")
        c, m = _checks(r), r["measured"]
        assert r["predicted"]["primary"] is True and m["primary"] is True and m["size"] == 2
        assert m["lost"] == {} and m["committed"] >= 10
        assert m["new_writer"] in lab[0].nodes and m["new_writer"] != m["victim"]
        assert m["haproxy_down_s"] is not None  # the bound itself is a drill verdict, not a unit assertion
        assert c["committed rows lost"]["agreed"]

    def test_partition_isolating_one_member(self, lab):
        r = _run(lab, "partition")
        c, m = _checks(r), r["measured"]
        assert r["predicted"]["minority_primary"] is False and r["predicted"]["majority_primary"] is True
        assert m["non_primary_after_s"] is not None
        assert "ERROR 1047" in m["minority_write"] and m["minority_health"] == 503
        assert m["majority_primary"] and m["majority_size"] == 2 and m["haproxy_minority"].startswith("DOWN")
        assert m["committed_by"][m["minority"]] == 0 and m["lost"] == {}
        assert all(x["agreed"] for x in c.values())

    def test_quorum_loss_two_members_down(self, lab):
        r = _run(lab, "quorum-loss")
        m = r["measured"]
        # The two killed members are a cut set the analysis reports (quorum-loss:galera).
        assert r["predicted"]["primary"] is False and len(r["predicted"]["cut_set"]) == 2
        assert m["non_primary_after_s"] is not None
        assert "ERROR 1047" in m["survivor_write"] and m["survivor_health"] == 503
        assert m["write_through_vip"] == "refused"
        assert m["lost"] == {} and all(x["agreed"] for x in r["checks"])

    def test_full_restart_after_a_crash_of_all(self, lab):
        r = _run(lab, "restart-crash")
        m = r["measured"]
        assert r["predicted"]["cold_start"] == "automatic" and m["formed_by_itself"] is True
        assert m["lost"] == {} and all(x["agreed"] for x in r["checks"])

    def test_full_restart_after_a_graceful_stop_of_all(self, lab):
        r = _run(lab, "restart-graceful")
        m = r["measured"]
        assert r["predicted"]["cold_start"] == "manual" and m["formed_by_itself"] is False
        assert m["grastate"][m["stop_order"][-1]]["safe_to_bootstrap"] == "1"
        assert m["bootstrapped"] == m["stop_order"][-1] and m["recovery_s"] is not None
        assert m["lost"] == {} and all(x["agreed"] for x in r["checks"])

    @pytest.mark.skipif(
        not os.environ.get("HAMODEL_GALERA_LONG"),
        reason="45 s more; set HAMODEL_GALERA_LONG=1 (or run hamodel drill --scenario galera-restart-crash-missing)",
    )
    def test_full_restart_after_a_crash_with_a_member_missing(self, lab):
        r = _run(lab, "restart-crash-missing")
        m = r["measured"]
        assert r["predicted"]["cold_start"] == "manual" and m["formed_by_itself"] is False
        assert m["bootstrapped"] != m["missing"] and m["lost"] == {} and all(x["agreed"] for x in r["checks"])


# -- through hamodel drill ----------------------------------------------------------------


@pytest.mark.netns
@pytest.mark.slow
@pytest.mark.skipif(available() is not None, reason=f"Galera lab unavailable: {available()}")
def test_hamodel_drill_runs_a_real_galera_scenario(tmp_path):
    """``hamodel drill MODEL --scenario galera-member-down``: the real cluster in the
    drill's own lab, behind the keepalived VIP and the generated haproxy.cfg; same
    runner, report and docs page as the keepalived scenarios; nothing left behind."""
    import json
    import subprocess
    import sys

    page = tmp_path / "drills.rst"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hamodel.cli",
            "drill",
            str(MODEL),
            "--quick",
            "--scenario",
            "galera-member-down",
            "--json",
            "--rst-out",
            str(page),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = json.loads(r.stdout)
    (sc,) = report["scenarios"]
    assert sc["kind"] == "galera-member-down" and sc["agreed"] and "error" not in sc, sc
    checks = {c["what"]: c for c in sc["checks"]}
    assert checks["committed rows lost"]["measured"] == 0 and checks["survivors Primary and Synced"]["measured"]
    assert checks["writes move to a backup member"]["measured"] != sc["measured"]["victim"]
    assert sc["prediction"]["predicted"]["primary"] is True and sc["prediction"]["quorum"] == 2
    # the VIP's other service kept answering through the scenario
    assert sc["measured"]["requests"] > 10 and sc["measured"]["failed_requests"] == 0
    # galera ran for real: no stand-in backends for it
    assert "galera" not in report["lab"]["backend_services"]
    assert any("galera runs for real: MariaDB" in n for n in report["lab"]["notes"])
    text = page.read_text()
    assert "real three-member MariaDB Galera cluster" in text and "``galera-member-down``" in text
    # nothing left: no member folder, no namespace of this lab
    prefix = report["lab_prefix"]
    assert not (GALERA_ROOT / prefix.rstrip("-")).exists()
    assert not [ns for ns in list_namespaces() if ns.startswith(prefix)]


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_drill_cleanup_removes_galera_leftovers():
    """A Galera member folder of a drill that died (its pid gone) goes with ``hamodel drill --cleanup``."""
    import subprocess
    import sys

    from hamodel.drill.lab import EXTRA_ROOTS

    assert GALERA_ROOT in EXTRA_ROOTS
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = GALERA_ROOT / f"hml-{dead.pid}"
    (left / "ctl-1" / "data").mkdir(parents=True)
    (left / "ctl-1" / "my.cnf").write_text("[mysqld]\n")
    try:
        r = subprocess.run(
            [sys.executable, "-m", "hamodel.cli", "drill", "--cleanup"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0 and "cleanup: removed" in r.stdout, r.stdout + r.stderr
        assert not left.exists()
    finally:
        import shutil

        shutil.rmtree(left, ignore_errors=True)
