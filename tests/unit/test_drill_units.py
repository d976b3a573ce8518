"""Drill pieces that need no root: config reading and re-rooting, scenarios, the docs page."""

from __future__ import annotations

import shutil
from pathlib import Path

import docutils.core
import pytest
from hamodel.generators.drill_report import render_rst, rst_text

from hamodel.drill import reroot
from hamodel.drill.galera.monitoring import available as prometheus_available
from hamodel.drill.lab import Lab
from hamodel.drill.plan import plan_lab
from hamodel.drill.registry import KINDS
from hamodel.drill.results import Check, ProbeSummary, ScenarioResult, as_json
from hamodel.drill.runner import generated_files
from hamodel.drill.scenario import Scenario, ScenarioKind
from hamodel.drill.scenarios import default_scenarios, select
from hamodel.loader import load

ROOT = Path(__file__).resolve().parents[2]
GALERA_NAMES = [
    "galera-member-down",
    "galera-partition",
    "galera-quorum-loss",
    "galera-restart-crash",
    "galera-restart-graceful",
    "galera-restart-crash-missing",
    "galera-runbook",
]
# the generated alerts on a real Prometheus: offered where Debian's prometheus and exporters are installed
if prometheus_available() is None:
    GALERA_NAMES.append("galera-alerts")


def galera_available() -> bool:
    from hamodel.drill.galera.lab import available

    return available() is None


@pytest.fixture(scope="module")
def keepalived_model():
    arch = load(ROOT / "models/openstack_keepalived.py")
    dep, files = generated_files(arch)
    return arch, dep, files


def test_generated_haproxy_is_read(keepalived_model):
    _, _, files = keepalived_model
    hc = reroot.parse_haproxy(files["nodes/ctl-1/haproxy/haproxy.cfg"].decode())
    galera = hc.backend_for("192.168.1.220", 3306)
    assert [s.backup for s in galera.servers] == [False, True, True]
    assert {s.check_port for s in galera.servers} == {9200}
    assert galera.httpchk == "/"
    assert galera.timeout_connect_ms == 5000 and galera.redispatch
    assert hc.backend_for("192.168.1.220", 5000).servers[0].fall == 3


def test_the_http_check_path_is_read_in_both_forms():
    """The generator writes ``http-check send meth GET uri PATH`` (the path is not on ``option httpchk``)."""
    new = reroot.parse_haproxy(
        "listen web\n    bind 10.0.0.1:80\n    option httpchk\n"
        "    http-check send meth GET uri /healthz\n    server a 10.0.0.2:80 check\n"
    )
    old = reroot.parse_haproxy(
        "listen web\n    bind 10.0.0.1:80\n    option httpchk GET /status\n    server a 10.0.0.2:80 check\n"
    )
    assert new.backend_for("10.0.0.1", 80).httpchk == "/healthz"
    assert old.backend_for("10.0.0.1", 80).httpchk == "/status"


def test_generated_keepalived_is_read(keepalived_model):
    _, dep, files = keepalived_model
    kc = reroot.parse_keepalived(files["nodes/ctl-2/keepalived/keepalived.conf"].decode())
    (inst,) = kc.instances.values()
    g = dep.vrrp_groups[0]
    assert inst.priority == g.priorities["ctl-2"] and inst.vrid == g.vrid
    assert inst.addresses == ["192.168.1.220"] and inst.nopreempt
    (script,) = [kc.scripts[s] for s in inst.track_scripts]
    assert "haproxy" in script.script and script.weight == 0


def test_lab_rewrites_paths_and_track_script(keepalived_model, tmp_path):
    _, _, files = keepalived_model
    text, notes = reroot.lab_haproxy(files["nodes/ctl-1/haproxy/haproxy.cfg"].decode(), tmp_path)
    assert "/run/haproxy" not in text and "user haproxy" not in text and "chroot" not in text
    assert f"stats socket {tmp_path}/haproxy.sock" in text
    assert (
        reroot.parse_haproxy(text).backends.keys()
        == reroot.parse_haproxy(files["nodes/ctl-1/haproxy/haproxy.cfg"].decode()).backends.keys()
    )
    assert notes
    ktext, scripts, knotes = reroot.lab_keepalived(files["nodes/ctl-1/keepalived/keepalived.conf"].decode(), tmp_path)
    # The shipped track script runs unchanged (each lab node has a /run of its own).
    assert scripts == {}
    assert any("runs as shipped" in n for n in knotes)
    # Everything else is kept as generated.
    assert (
        reroot.parse_keepalived(ktext).instances
        == reroot.parse_keepalived(files["nodes/ctl-1/keepalived/keepalived.conf"].decode()).instances
    )


def _script_blocks(text: str) -> list[str]:
    """The vrrp_script blocks of a keepalived.conf, verbatim."""
    out, cur = [], None
    for line in text.splitlines(keepends=True):
        if line.startswith("vrrp_script "):
            cur = [line]
        elif cur is not None:
            cur.append(line)
            if line.startswith("}"):
                out.append("".join(cur))
                cur = None
    return out


def test_lab_keeps_the_shipped_track_script_byte_for_byte(keepalived_model, tmp_path):
    """Issue 11: what the drill measures is what ships: every vrrp_script block
    (the pid-file track script included) is the generated one, byte for byte,
    and the generated haproxy.cfg has no pidfile (the unit's -p names it, as the drill's does)."""
    _, _, files = keepalived_model
    for node in ("ctl-1", "ctl-2", "ctl-3"):
        gen = files[f"nodes/{node}/keepalived/keepalived.conf"].decode()
        lab, _, _ = reroot.lab_keepalived(gen, tmp_path)
        assert _script_blocks(gen) and _script_blocks(lab) == _script_blocks(gen)
        assert 'script "/usr/bin/pgrep -F /run/haproxy.pid -x haproxy"' in lab
        hgen = files[f"nodes/{node}/haproxy/haproxy.cfg"].decode()
        htext, _ = reroot.lab_haproxy(hgen, tmp_path)
        assert "pidfile" not in hgen and "pidfile" not in htext


def test_a_script_for_a_process_the_lab_does_not_run_always_succeeds(tmp_path):
    conf = (
        'vrrp_script chk_x {\n    script "/usr/bin/pgrep -x memcached"\n    interval 2\n}\n'
        "vrrp_instance v {\n    track_script {\n        chk_x\n    }\n}\n"
    )
    text, scripts, notes = reroot.lab_keepalived(conf, tmp_path)
    assert scripts == {str(tmp_path / "track-chk_x.sh"): "#!/bin/sh\nexit 0\n"}
    assert f'script "{tmp_path / "track-chk_x.sh"}"' in text and any("always succeeds" in n for n in notes)


def test_tls_is_dropped_with_a_note(tmp_path):
    text, notes = reroot.lab_haproxy(
        "global\n    daemon\nlisten x\n    bind 10.0.0.1:443 ssl crt /etc/ssl/x.pem\n    server a 10.0.0.2:80 check\n",
        tmp_path,
    )
    assert "bind 10.0.0.1:443" in text and "crt" not in text and "daemon" not in text
    assert any("TLS" in n for n in notes)


def test_plan_and_default_scenarios(keepalived_model):
    arch, dep, files = keepalived_model
    plan = plan_lab(arch, dep, files)
    assert plan.switches == ["sw-1", "sw-2", "sw-3"] and len(plan.links) == 3
    assert plan.split_horizon == set(plan.links)  # a full mesh: no L2 loop without STP
    assert plan.nodes["ctl-1"].backend_ports[9200] == "192.168.1.221"
    assert 5000 in plan.nodes["ctl-3"].backend_ports and plan.client_interfaces == [
        ("eth0", "192.168.1.254/24", "sw-1", "mgmt")
    ]
    quick = plan_lab(arch, dep, files, backend_services=["keystone"])
    assert quick.backend_services == ["keystone"] and "galera" in quick.skipped_backend_services
    names = [s.name for s in default_scenarios(dep, switches_by_vip={"controller-vip": 3})]
    # The real Galera scenarios come in full drills on a machine that has MariaDB and Galera.
    galera = GALERA_NAMES if galera_available() else []
    # The real Redis scenario too, where redis-server is installed (the reference's Redis replicates asynchronously).
    redis = ["redis-primary-kill"] if shutil.which("redis-server") else []
    assert (
        names
        == [
            "holder-crash",
            "holder-kill",
            "keepalived-kill",
            "haproxy-death",
            "backend-death:keystone",
            "single-writer:galera",
            "partition",
        ]
        + redis
        + galera
    )
    quick_names = [s.name for s in default_scenarios(dep, quick=True)]
    assert (
        "holder-kill" not in quick_names
        and "keepalived-kill" not in quick_names
        and not [n for n in quick_names if n.startswith("galera-")]
    )
    assert [s.name for s in select(default_scenarios(dep), ["partition", "single-writer"])] == [
        "single-writer:galera",
        "partition",
    ]
    with pytest.raises(ValueError, match="unknown scenario"):
        select(default_scenarios(dep), ["nope"])


def test_multirack_plan_has_backend_hosts_and_two_client_legs():
    arch = load(ROOT / "models/multirack.py")
    dep, files = generated_files(arch)
    plan = plan_lab(arch, dep, files)
    assert {d for d, _, _, _ in plan.client_interfaces} == {"eth0", "eth1"}
    assert {net for _, _, _, net in plan.client_interfaces} == {"internal", "public"}
    # galera's servers live on database nodes that run neither daemon.
    db = [n for n in plan.nodes.values() if n.name.startswith("db-")]
    assert db and all(3306 in n.backend_ports and not n.haproxy and not n.keepalived for n in db)
    # the tor mesh gets split horizon, the single edge link does not.
    assert ("edge-1", "edge-2") in plan.links and ("edge-1", "edge-2") not in plan.split_horizon
    assert ("tor-1", "tor-2") in plan.split_horizon


def test_lab_names_carry_the_prefix():
    lab = Lab(prefix="hml-999999-x-")
    assert lab.node_ns("ctl-1").startswith("hml-999999-x-") and lab.client_ns.startswith("hml-999999-x-")
    assert str(lab.root).endswith("hml-999999-x")
    with pytest.raises(ValueError):
        Lab(prefix="other-")


REPORT = {
    "model": "M",
    "quick": True,
    "duration_s": 12.5,
    "lab_prefix": "hml-1-",
    "startup": {"first_holder_s": 4.0, "initial_holders": {"v": "a"}, "preferred_holders": {"v": "a"}, "notes": []},
    "summary": {"scenarios": 1, "agreed": 1, "disagreed": []},
    "scenarios": [
        {
            "name": "holder-crash",
            "kind": "holder-crash",
            "title": "Crash of *the* holder",
            "vip": "v",
            "service": None,
            "notes": ["a `note` with | bars"],
            "agreed": True,
            "duration_s": 9.0,
            "prediction": {"failover_bound_s": 4.1, "reason": "no adverts"},
            "measured": {"failover_s": 3.4, "failed_requests": 2, "requests": 50, "new_holder": "b"},
            "checks": [{"what": "VIP moves within 3 x advert_int", "expected": 4.1, "measured": 3.4, "agreed": True}],
        }
    ],
    "lab": {
        "nodes": {
            "a": {
                "interfaces": ["eth0 10.0.0.1/24 on s"],
                "keepalived": True,
                "haproxy": True,
                "sysctl": [],
                "backend_ports": [80],
            }
        },
        "switches": ["s"],
        "inter_switch_links": [],
        "split_horizon_links": [],
        "client": "10.0.0.254/24 on s",
        "backend_services": ["x"],
        "services_without_backends": ["y"],
        "config_rewrites": ["r"],
        "notes": [],
        "daemons": {"keepalived": "Keepalived v2.2.7", "haproxy": "HAProxy 2.6"},
    },
}


def test_docs_page_is_clean_restructuredtext():
    text = render_rst(REPORT)
    assert text.startswith(".. This page") and "M\\: measured failover\n====" in text  # names its model
    assert "3.40" in text and "VIP moved in 3.40 s" in text and r"\`note\`" in text
    docutils.core.publish_doctree(text, settings_overrides={"halt_level": 2, "report_level": 2})
    assert render_rst(REPORT, orphan=True).startswith(":orphan:")
    assert render_rst(REPORT) == render_rst(REPORT)


PACEMAKER_REPORT = {
    "kind": "pacemaker",
    "model": "OpenStack, Pacemaker",
    "source": "s",
    "nodes": ["a", "b", "c"],
    "quick": False,
    "daemons": {"corosync": "Corosync 3", "pacemaker": "Pacemaker 2"},
    "summary": {"agreed": 0, "scenarios": 0},
    "duration_s": 1.0,
    "timings": {"quorum_s": 1.0, "dc_s": 1.0, "resources_s": 1.0},
    "timeouts": {"token_ms": 3000, "consensus_ms": 3600},
    "analysis": {},
    "scenarios": [],
    "notes": [],
    "substitutions": [],
}


@pytest.mark.parametrize("stem", ["openstack_keepalived", "openstack_pacemaker"])
def test_drill_page_is_titled_like_its_architecture(stem):
    """Issue 31: the drill page reads like the reference's titles and names its
    architecture ("The keepalived architecture: measured failover"), from
    Architecture.title as ``hamodel drill`` records it in the report."""
    arch = load(ROOT / "models" / f"{stem}.py")
    base = REPORT if stem == "openstack_keepalived" else PACEMAKER_REPORT
    report = {**base, "model": arch.name, "title": arch.title or arch.name}
    text = render_rst(report)
    want = f"{arch.title}: measured failover"
    assert want in {"The keepalived architecture: measured failover", "The Pacemaker architecture: measured failover"}
    assert _title_line(text) == rst_text(want)
    assert "Measured failover" not in _title_line(text)
    if stem == "openstack_keepalived":  # (the Pacemaker stub has no scenario rows to make a table of)
        docutils.core.publish_doctree(text, settings_overrides={"halt_level": 2, "report_level": 2})
    # A report written before the title was recorded still renders, under the model's name.
    old = {k: v for k, v in report.items() if k != "title"}
    assert _title_line(render_rst(old)) == rst_text(f"{arch.name}: measured failover")


def _title_line(page: str) -> str:
    """The line above the page title's ``===`` underline."""
    return page.split("\n===", 1)[0].rsplit("\n", 1)[1]


def test_rst_text_escapes_markup():
    assert rst_text("a*b_`c`|") == r"a\*b\_\`c\`\|"
    assert rst_text(["x", 1.0, None, True]) == "x, 1.00, n/a, yes"


def test_committed_docs_page_is_clean():
    page = ROOT / "docs" / "drills.rst"
    if not page.exists():
        pytest.skip("docs/drills.rst not committed")
    docutils.core.publish_doctree(page.read_text(), settings_overrides={"halt_level": 2, "report_level": 2})


# -- the registry of scenario kinds ---------------------------------------------------


def test_every_kind_is_registered_under_its_own_name_and_implements_the_interface():
    assert (
        list(KINDS)
        == [
            "holder-crash",
            "holder-kill",
            "keepalived-kill",
            "haproxy-death",
            "backend-death",
            "single-writer",
            "partition",
            "switch-failure",
            "redis-primary-kill",
        ]
        + GALERA_NAMES
    )
    for name, cls in KINDS.items():
        assert cls.kind == name and issubclass(cls, ScenarioKind) and cls.title
        assert not getattr(cls, "__abstractmethods__", None), f"{name} leaves {cls.__abstractmethods__} abstract"


def test_a_new_kind_plugs_in_with_one_registry_entry(keepalived_model, monkeypatch):
    _, dep, files = keepalived_model

    class MemberDown(ScenarioKind):
        kind = "member-down"
        title = "One cluster member dies"

        @classmethod
        def offer(cls, dep, vip, *, quick, switches):
            return [Scenario(f"{cls.kind}:galera", cls.kind, vip, "galera")]

        @classmethod
        def real_services(cls, dep, scenarios):
            return {"galera"}

        def predict(self): ...
        def inject(self): ...
        def measure(self, t0, probe): ...
        def checks(self, pred, measured):
            return []

    before = [s.name for s in default_scenarios(dep)]
    assert "member-down:galera" not in before
    monkeypatch.setitem(KINDS, MemberDown.kind, MemberDown)
    names = [s.name for s in default_scenarios(dep)]
    assert names == before + ["member-down:galera"]
    (sc,) = select(default_scenarios(dep), ["member-down"])
    assert sc.title == "One cluster member dies: galera"
    # A service the kind runs for real gets no stand-in backend, but its hosts stay in the lab.
    plan = plan_lab(dep.architecture, dep, files, real_services=frozenset({"galera"}))
    assert "galera" not in plan.backend_services + plan.skipped_backend_services
    assert 3306 not in plan.nodes["ctl-1"].backend_ports and 5000 in plan.nodes["ctl-1"].backend_ports


def test_results_keep_the_report_shape():
    ok = [{"t": 1.0, "ok": True, "ms": 1.0}, {"t": 2.0, "ok": True, "ms": 1.0}]
    assert as_json(ProbeSummary.of(ok, 0.5)) == {"requests": 2, "failed_requests": 0}
    mixed = [
        {"t": 1.0, "ok": False, "ms": 300.0},
        {"t": 1.5, "ok": False, "ms": 300.0},
        {"t": 2.0, "ok": True, "ms": 4.0},
    ]
    assert as_json(ProbeSummary.of(mixed, 0.5)) == {
        "requests": 3,
        "failed_requests": 2,
        "first_failure_s": 0.5,
        "last_failure_s": 1.0,
        "service_restored_s": 1.504,
    }
    assert Check("x", 1, 2, 0).agreed is False
    failed = as_json(
        ScenarioResult("partition", "partition", "t", "v", None, error="unsettled before the injection: x")
    )
    assert set(failed) == {
        "name",
        "kind",
        "title",
        "vip",
        "service",
        "notes",
        "checks",
        "agreed",
        "error",
        "duration_s",
    }
    measured = as_json(
        ScenarioResult(
            "p",
            "partition",
            "t",
            "v",
            None,
            prediction={"a": 1},
            measured={"b": 2},
            checks=[Check("c", 1, 1, True)],
            agreed=True,
        )
    )
    assert "error" not in measured and measured["checks"] == [
        {"what": "c", "expected": 1, "measured": 1, "agreed": True}
    ]


def _ctx(arch, dep, files):
    from types import SimpleNamespace

    from hamodel.drill.plan import plan_lab

    return SimpleNamespace(
        arch=arch, plan=plan_lab(arch, dep, files), vip_addr={v.name: str(v.address) for v in arch.vips}
    )


def test_backups_with_close_timers_are_all_possible_new_holders(keepalived_model):
    """Priorities 102/101/100 with nopreempt: the two backups' master-down timers are
    advert_int/256 = 4 ms apart, less than two keepalived processes' scheduling spread,
    and whichever fires first keeps the VIP. Once seen under load: ctl-3 took the VIP,
    not ctl-2. The prediction names both; with priorities 10 apart it names one."""
    from dataclasses import replace

    from hamodel.drill.keepalived.common import master_down
    from hamodel.drill.keepalived.holder_crash import SCHED_MARGIN_S, contenders

    arch, dep, files = keepalived_model
    ctx = _ctx(arch, dep, files)
    (g,) = [x for x in dep.vrrp_groups if x.manager == "keepalived"]
    rest = list(g.members[1:])
    close = replace(g, priorities={"ctl-1": 102, "ctl-2": 101, "ctl-3": 100})
    assert contenders(ctx, close, rest, lambda n: master_down(ctx, close, n)) == ["ctl-2", "ctl-3"]
    spread = replace(g, priorities={"ctl-1": 150, "ctl-2": 140, "ctl-3": 130})
    assert master_down(ctx, spread, "ctl-3") - master_down(ctx, spread, "ctl-2") > SCHED_MARGIN_S
    assert contenders(ctx, spread, rest, lambda n: master_down(ctx, spread, n)) == ["ctl-2"]


def test_generated_priorities_make_the_next_holder_certain(keepalived_model):
    """The allocation spaces priorities 10 apart, so the drill predicts one successor
    (with steps of 1, 102/101/100, it had to accept either backup)."""
    from hamodel.drill.keepalived.common import master_down
    from hamodel.drill.keepalived.holder_crash import contenders

    arch, dep, files = keepalived_model
    ctx = _ctx(arch, dep, files)
    (g,) = [x for x in dep.vrrp_groups if x.manager == "keepalived"]
    assert [g.priorities[n] for n in g.members] == [120, 110, 100]
    assert contenders(ctx, g, list(g.members[1:]), lambda n: master_down(ctx, g, n)) == [g.members[1]]


def test_galera_scenarios_on_the_docs_page():
    """The "Measured failover" page shows a Galera scenario's prediction (from the
    analysis) against its measurement: headline, predicted figures, checks; nested
    measurements (rows lost per member) as text, not Python reprs."""
    import copy

    from hamodel.drill.galera.kinds import GaleraMeasurement, GaleraPrediction

    pred = GaleraPrediction(
        "two of three keep the quorum",
        "galera",
        ["a", "b", "c"],
        2,
        predicted={"primary": True, "haproxy_down_within_s": 5.0},
    )
    measured = GaleraMeasurement(
        details={
            "victim": "a",
            "haproxy_down_s": 2.84,
            "first_write_on_backup_s": 5.9,
            "new_writer": "b",
            "committed": 11,
            "lost": {"c": [3, 4]},
        },
        summary=ProbeSummary(40, 0),
        polled="keystone 10.0.0.9:5000",
    )
    res = ScenarioResult(
        "galera-member-down",
        "galera-member-down",
        "Galera: the writer dies",
        "v",
        "galera",
        prediction=pred,
        measured=measured,
        agreed=False,
        checks=[Check("committed rows lost", 0, 2, False)],
    )
    report = copy.deepcopy(REPORT)
    report["scenarios"].append(as_json(res))
    text = render_rst(report)
    assert "real three-member MariaDB Galera cluster" in text
    assert (
        "writer a down: HAProxy marked it DOWN in 2.84 s, writes on b after 5.90 s; 11 rows committed, 2 lost"
    ) in text
    assert "Predicted from the analysis:\n\n- haproxy down within \\(s\\): 5.00\n- primary: yes\n" in text
    assert "- lost: c: 3, 4\n" in text and "{" not in text.split("Galera\\: the writer dies")[1]
    docutils.core.publish_doctree(text, settings_overrides={"halt_level": 2, "report_level": 2})
    assert "MariaDB Galera" not in render_rst(REPORT)  # only when a Galera scenario ran


def test_real_galera_replaces_the_stand_in_writer_scenario(keepalived_model):
    """A full drill on a machine with MariaDB runs Galera for real: its stand-in
    scenario (single-writer:galera) is left out with a note, galera gets no stand-in
    backends, and asking for both in one drill is a usage error. A quick drill runs a
    Galera scenario when it is named."""
    from hamodel.drill.runner import Drill

    if not galera_available():
        pytest.skip("no MariaDB/Galera here: the Galera kinds are not offered")
    arch, dep, files = keepalived_model
    full = Drill(arch, dep, files)
    names = [s.name for s in full.scenarios]
    assert "single-writer:galera" not in names and names[-len(GALERA_NAMES) :] == GALERA_NAMES
    assert "galera" not in full.plan.backend_services and "galera" not in full.plan.skipped_backend_services
    assert any(n.startswith("single-writer:galera left out") for n in full.plan.notes)
    with pytest.raises(ValueError, match="not both"):
        Drill(arch, dep, files, scenarios=["single-writer:galera", "galera-member-down"])
    quick = Drill(arch, dep, files, quick=True, scenarios=["galera-member-down"])
    assert [s.name for s in quick.scenarios] == ["galera-member-down"]


def test_switch_failure_has_a_headline_on_the_docs_page():
    """The summary table shows a switch failure's figures (its row was empty)."""
    from hamodel.generators.drill_report import _headline_text

    sc = {
        "kind": "switch-failure",
        "measured": {
            "switch": "tor-a",
            "services_down_measured": [],
            "vips": [
                {
                    "vip": "public-vip",
                    "max_holders": 1,
                    "moved_after_s": None,
                    "summary": {"requests": 40, "failed_requests": 1},
                },
                {
                    "vip": "internal-vip",
                    "max_holders": 1,
                    "moved_after_s": 1.2,
                    "summary": {"requests": 30, "failed_requests": 2},
                },
            ],
        },
    }
    text = _headline_text(sc)
    assert "1 of 2 VIPs moved" in text and "3 of 70 requests failed" in text and "no service down" in text


def test_a_kill_during_a_cluster_lab_unwinds_like_ctrl_c():
    """The Galera and Pacemaker labs share one guard: SIGTERM inside it raises
    KeyboardInterrupt (so their teardown runs), and the previous handler is back after."""
    import os
    import signal
    import time

    from hamodel.drill.lab import interrupted_by_kill

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with interrupted_by_kill():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_polled_service_is_a_stand_in_on_any_front():
    """multirack's internal VIP fronts galera (single writer) and, through also_on, the APIs.
    With galera run for real (a galera-* scenario in the drill) the client must poll a stand-in:
    before, holder-crash polled the real MariaDB with the stand-ins' protocol and the drill
    failed as 'unsettled: 10.10.0.10:3306 does not answer'."""
    from hamodel.drill.scenario import probe_service
    from hamodel.pipeline import resolve

    dep = resolve(load(str(Path(__file__).resolve().parents[2] / "models" / "multirack.py")), k=1)
    assert probe_service(dep, "internal-vip") == "keystone"  # a plain front beats the single writer
    assert probe_service(dep, "internal-vip", {"keystone", "nova-api", "neutron-server", "glance-api"}) == "galera"
    assert probe_service(dep, "internal-vip", {"galera"}) == "keystone"
    assert probe_service(dep, "public-vip") == "keystone"


def test_a_preempting_backup_above_the_holder_is_not_settled():
    """multirack's public group preempts: after a restore, lb-1 (120) sat BACKUP for its master-down
    interval while lb-2 (110) held the VIP; the drill called that settled and its next scenario
    killed lb-2 just as lb-1 took over by itself (failover 7 ms, 'agreed' on nothing)."""
    from hamodel.drill.runner import member_unsettled

    prios = {"lb-1": 120, "lb-2": 110, "lb-3": 100}
    pre, nopre = reroot.VrrpInstance(name="haproxy-public"), reroot.VrrpInstance(name="haproxy", nopreempt=True)
    why = member_unsettled("lb-1", "lb-2", "public-vip", pre, "BACKUP", prios)
    assert why and "preempts" in why and "120" in why
    assert member_unsettled("lb-1", "lb-2", "public-vip", nopre, "BACKUP", prios) is None  # keeps lb-2
    assert member_unsettled("lb-3", "lb-2", "public-vip", pre, "BACKUP", prios) is None  # below the holder
    assert member_unsettled("lb-2", "lb-2", "public-vip", pre, "MASTER", prios) is None
    assert "not MASTER" in member_unsettled("lb-2", "lb-2", "public-vip", pre, "BACKUP", prios)
    assert member_unsettled("lb-1", "lb-2", "public-vip", pre, "FAULT", prios, fault_ok=True) is None
