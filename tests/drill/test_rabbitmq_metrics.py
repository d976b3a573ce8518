"""The generated RabbitMQ monitoring against real rabbitmq-server 3.10 brokers (Debian) in a lab.

Three brokers, one per network namespace, each with its own epmd, Erlang
node name ``rabbit@<node>`` (names resolved through an ``ERL_INETRC`` hosts
file of the lab), mnesia and log folders, and the generated conf.d snippet
unchanged (the plugin's listener on the node's model address); the lab adds
one conf.d file of its own: the AMQP listener and the peers to cluster with
at first boot (classic config). The plugin is enabled with the manifest's
command, on the running broker. Then:

- every metric the generated rules read, and every ``peer`` value the
  partition rule matches, is in the brokers' real ``/metrics``; the memory
  alarm's metric turns 1 when a watermark below the broker's use is set;
- a real Prometheus with the generated scrape job and rules fires the
  member-down alert when one broker stops, fires neither the quorum nor the
  partition alert then, and resolves it after the broker is back;
- it fires the partition alert when one member loses its routes to the
  others (Prometheus still reaches every broker), and resolves it once the
  routes are back and the distribution connections return.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
import yaml
from hamodel.generators.configs import build_configs
from hamodel.generators.monitoring import rabbitmq as rmq

from hamodel.drill.lab import Lab
from hamodel.drill.prometheus import firing, start_prometheus
from hamodel.model import Architecture, Network, Node, Service
from hamodel.pipeline import resolve
from hamodel.strategies import AppCluster

SBIN = "/usr/lib/rabbitmq/bin"  # the scripts themselves (/usr/sbin's wrappers switch to the rabbitmq user)
SERVER = f"{SBIN}/rabbitmq-server"
NODES = ("n1", "n2", "n3")
ADDRS = {n: f"10.70.0.{i}" for i, n in enumerate(NODES, 1)}


def _missing() -> str | None:
    import os

    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in (SERVER, "epmd", "prometheus", "curl", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    return None


pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.skipif(_missing() is not None, reason=str(_missing()))]


def _arch() -> Architecture:
    lan = Network("lan", subnet="10.70.0.0/24")
    return Architecture(
        "rabbit-lab",
        nodes=[Node(n, roles={"mq"}, addresses={lan: ADDRS[n]}) for n in NODES],
        networks=[lan],
        services=[
            Service(
                "rabbitmq",
                on="mq",
                replicas=3,
                ports=[5672, 25672],
                strategy=AppCluster(cold_start="automatic-when-all-back", recovery="rabbitmqctl force_boot"),
            )
        ],
    )


def _env(lab: Lab, node: str) -> dict[str, str]:
    d = lab.node_dir(node)
    return {
        "HOME": str(d / "home"),
        "ERL_INETRC": str(lab.root / "inetrc"),
        "RABBITMQ_NODENAME": rmq.erlang_node(node),
        "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),  # no /etc/rabbitmq/rabbitmq.conf
        "RABBITMQ_CONFIG_FILES": str(d / "conf.d"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
        "RABBITMQ_LOG_BASE": str(d / "log"),
        "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
    }


def _cli(lab: Lab, node: str, argv: list[str], timeout: float = 90, check: bool = True):
    """A RabbitMQ CLI command (rabbitmqctl, rabbitmq-plugins) for the node's broker, in its namespace."""
    env = [f"{k}={v}" for k, v in _env(lab, node).items()]
    return lab.exec(lab.node_ns(node), ["env", *env, f"{SBIN}/{argv[0]}", *argv[1:]], timeout=timeout, check=check)


def _started(lab: Lab, node: str) -> bool:
    return _cli(lab, node, ["rabbitmqctl", "-q", "await_startup", "--timeout", "20"], 40, check=False).returncode == 0


def _start(lab: Lab, node: str):
    return lab.start(
        f"rabbitmq@{node}", lab.node_ns(node), [SERVER], log=lab.node_dir(node) / "rabbitmq.out", env=_env(lab, node)
    )


def _scrape(lab: Lab, node: str) -> str | None:
    r = lab.exec(
        lab.node_ns(node),
        ["curl", "-sf", "--max-time", "5", f"http://{ADDRS[node]}:{rmq.PORT}/metrics"],
        check=False,
    )
    return r.stdout if r.returncode == 0 else None


def _wait(what: str, check, timeout: float, step: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"([a-z_][a-z0-9_]*)\{", expr)) - {"up"}


def test_generated_rabbitmq_rules_read_real_metrics_and_fire_on_a_stopped_member(tmp_path: Path):
    dep = resolve(_arch())
    files = build_configs(dep)
    rules = yaml.safe_load(files["monitoring/rules/rabbitmq.yml"])["groups"][0]["rules"]
    lab = Lab()
    measured: dict[str, float] = {}
    try:
        lab.create()
        lab.add_switch("sw")
        lab.write_file(
            lab.root / "inetrc",
            "".join(f'{{host, {{{ADDRS[n].replace(".", ",")}}}, ["{n}"]}}.\n' for n in NODES)
            + "{lookup, [file, native]}.\n",
            mode=0o644,
        )
        for n in NODES:
            lab.add_host(n)
            lab.plug(n, "eth0", "sw", f"{ADDRS[n]}/24")
            d = lab.node_dir(n)
            lab.write_file(d / "home" / ".erlang.cookie", "HAMODELLABCOOKIE", mode=0o400)
            lab.write_file(d / "rabbitmq-env.conf", "")
            lab.write_file(d / "enabled_plugins", "[].\n")
            # the generated snippet, unchanged, and the lab's own listener and peers
            lab.write_file(
                d / "conf.d" / "60-hamodel-prometheus.conf", files[f"nodes/{n}/prometheus/rabbitmq-exporter"]
            )
            lab.write_file(
                d / "conf.d" / "10-lab.conf",
                f"listeners.tcp.default = {ADDRS[n]}:5672\n"
                "cluster_formation.peer_discovery_backend = classic_config\n"
                + "".join(
                    f"cluster_formation.classic_config.nodes.{i} = {rmq.erlang_node(p)}\n"
                    for i, p in enumerate(NODES, 1)
                ),
            )
            lab.start(f"epmd@{n}", lab.node_ns(n), ["epmd"], log=d / "epmd.out")
        t0 = time.monotonic()
        procs = {n: _start(lab, n) for n in NODES}
        for n in NODES:
            _wait(f"{n} broker started", lambda n=n: procs[n].alive() and _started(lab, n), 180, 2)
        measured["brokers_started_s"] = time.monotonic() - t0
        # the manifest's on_change, on the running broker
        cmd = json.loads(files["manifest.json"])["files"]["nodes/n1/prometheus/rabbitmq-exporter"]["on_change"]
        assert cmd["command"][0] == "rabbitmq-plugins"
        for n in NODES:
            _cli(lab, n, cmd["command"])
        text = {n: _wait(f"{n} /metrics", lambda n=n: _scrape(lab, n), 60) for n in NODES}
        # the rules' metric names and label values exist in the real output
        for r in rules:
            for name in _metric_names(r["expr"]):
                assert all(re.search(rf"^{name}[{{ ]", text[n], re.M) for n in NODES), (r["alert"], name)
        for n in NODES:
            assert f'rabbitmq_identity_info{{rabbitmq_node="{rmq.erlang_node(n)}"' in text[n]
            for p in NODES:
                if p != n:  # an established distribution connection to each other member
                    assert re.search(
                        rf'^erlang_vm_dist_node_state{{peer="{re.escape(rmq.erlang_node(p))}"}} {rmq.DIST_UP}$',
                        text[n],
                        re.M,
                    ), (n, p)
            assert re.search(r"^rabbitmq_alarms_memory_used_watermark 0$", text[n], re.M)
            assert re.search(r"^rabbitmq_alarms_free_disk_space_watermark 0$", text[n], re.M)

        # the memory alarm's metric is 1 while the alarm is set (a watermark below what the broker uses)
        _cli(lab, "n2", ["rabbitmqctl", "set_vm_memory_high_watermark", "absolute", "1MB"])
        alarm = re.compile(r"^rabbitmq_alarms_memory_used_watermark 1$", re.M)
        _wait("memory alarm metric", lambda: alarm.search(_scrape(lab, "n2") or ""), 30)
        _cli(lab, "n2", ["rabbitmqctl", "set_vm_memory_high_watermark", "0.4"])
        _wait(
            "memory alarm clears",
            lambda: not alarm.search(_scrape(lab, "n2") or "rabbitmq_alarms_memory_used_watermark 1"),
            30,
        )

        # a real Prometheus with the generated job and rules
        lab.add_host("client", client=True)
        lab.plug("client", "eth0", "sw", "10.70.0.100/24", ns=lab.client_ns)
        start_prometheus(lab, lab.client_ns, files, ("rabbitmq",), lab.root / "prometheus", {rmq.JOB: NODES})
        member_down = "HamodelRabbitmqMemberDownRabbitmq"
        others = {r["alert"] for r in rules} - {member_down}
        quiet_until = time.monotonic() + 45  # healthy: nothing fires (the rules' for: is 30 s)
        while time.monotonic() < quiet_until:
            now = firing(lab, lab.client_ns)
            assert not now, now
            time.sleep(3)
        lab.stop(procs["n3"], wait=60)
        stopped = time.monotonic()
        fired = _wait("member-down fires", lambda: member_down in (firing(lab, lab.client_ns) or set()), 90, 1)
        measured["member_down_fired_after_s"] = time.monotonic() - stopped
        assert fired
        assert not (firing(lab, lab.client_ns) or set()) & others  # two of three: quorum kept, no partition
        procs["n3"] = _start(lab, "n3")
        back = time.monotonic()
        _wait(
            "member-down resolves",
            lambda: (f := firing(lab, lab.client_ns)) is not None and member_down not in f,
            150,
            1,
        )
        measured["member_down_resolved_after_restart_s"] = time.monotonic() - back
        _wait("n3 started again", lambda: _started(lab, "n3"), 120, 2)

        # A partition that Prometheus still sees across: n1 loses its routes to the other members
        # only (blackhole routes in its namespace); every broker keeps running
        # (cluster_partition_handling = ignore, the default) and answering the scrapes.
        partitioned = "HamodelRabbitmqPartitionedRabbitmq"
        _wait("nothing fires before the cut", lambda: firing(lab, lab.client_ns) == set(), 90, 2)
        for p in ("n2", "n3"):
            lab.exec(lab.node_ns("n1"), ["ip", "route", "add", "blackhole", f"{ADDRS[p]}/32"])
        cut = time.monotonic()
        _wait("partition fires", lambda: partitioned in (firing(lab, lab.client_ns) or set()), 200, 1)
        measured["partitioned_fired_after_s"] = time.monotonic() - cut
        now = firing(lab, lab.client_ns) or set()
        assert member_down not in now and "HamodelRabbitmqQuorumLostRabbitmq" not in now, now
        status = _cli(lab, "n2", ["rabbitmqctl", "cluster_status", "--formatter", "json"], 60).stdout
        measured["partitions_listed_by_n2"] = float(len(json.loads(status).get("partitions") or {}))
        for p in ("n2", "n3"):
            lab.exec(lab.node_ns("n1"), ["ip", "route", "del", "blackhole", f"{ADDRS[p]}/32"])
        healed = time.monotonic()
        _wait(
            "partition alert resolves",
            lambda: (f := firing(lab, lab.client_ns)) is not None and partitioned not in f,
            200,
            1,
        )
        measured["partitioned_resolved_after_heal_s"] = time.monotonic() - healed
        # what RabbitMQ itself says after the heal (3.10 exports no partition metric: the runbook's check)
        for n in NODES:
            status = json.loads(_cli(lab, n, ["rabbitmqctl", "cluster_status", "--formatter", "json"], 60).stdout)
            measured[f"partitions_listed_by_{n}_after_heal"] = float(len(status.get("partitions") or {}))
        print("measured:", {k: round(v, 1) for k, v in measured.items()})
    finally:
        lab.teardown()
